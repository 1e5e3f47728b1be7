//! `tail [-n [+]N | -c [+]N] [FILE]...`: prints the last N lines (default 10) or, with `-c`,
//! bytes of each FILE (`-` or none: stdin); `+N` prints from line or byte N on. `-N` (first) is `-n N`. Several
//! files get GNU's `==> NAME <==` headers.

use cella_userland::{
    Tool, after_lines, args, describe, enter_working_directory, expand_obsolete_count, file_header,
    lines, read_input,
};

const TOOL: Tool = Tool {
    name: "tail",
    usage: "tail [-n [+]N | -c [+]N] [FILE]...",
    usage_status: 1,
};
const DEFAULT_LINES: usize = 10;

/// The part of `data` to print: the last `count` lines or bytes, or from number `count`
/// (counting from 1) on if `from_start`.
fn select(data: &[u8], by_bytes: bool, count: usize, from_start: bool) -> &[u8] {
    let start = if by_bytes {
        if from_start {
            count.saturating_sub(1).min(data.len())
        } else {
            data.len().saturating_sub(count)
        }
    } else {
        let skip = if from_start {
            count.saturating_sub(1)
        } else {
            lines(data).len().saturating_sub(count)
        };
        after_lines(data, skip)
    };
    &data[start..]
}

fn main() {
    enter_working_directory();
    let mut args = args();
    expand_obsolete_count(&mut args);
    let (options, mut operands) = TOOL.parse(args, "", "nc");
    let (mut by_bytes, mut count, mut from_start) = (false, DEFAULT_LINES, false);
    for (letter, value) in options {
        by_bytes = letter == 'c';
        let digits = value.strip_prefix('+');
        from_start = digits.is_some();
        count = match digits
            .unwrap_or(value.strip_prefix('-').unwrap_or(&value))
            .parse()
        {
            Ok(count) => count,
            Err(_) => TOOL.invalid_count(by_bytes, &value),
        };
    }
    if operands.is_empty() {
        operands.push("-".into());
    }
    let headers = operands.len() > 1;
    let mut stdout = TOOL.output();
    let mut status = 0;
    let mut first = true;
    for name in &operands {
        let data = match read_input(name) {
            Ok(data) => data,
            Err(e) => {
                TOOL.warn(&format!(
                    "cannot open '{name}' for reading: {}",
                    describe(&e)
                ));
                status = 1;
                continue;
            }
        };
        let mut out = Vec::new();
        if headers {
            out.extend_from_slice(file_header(name, first).as_bytes());
        }
        first = false;
        out.extend_from_slice(select(&data, by_bytes, count, from_start));
        stdout.put(&out);
    }
    stdout.exit(status);
}
