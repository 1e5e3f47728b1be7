//! `head [-n [-]N | -c [-]N] [FILE]...`: prints the first N lines (default 10) or, with
//! `-c`, bytes of each FILE (`-` or none: stdin); a negative N prints all but the last N.
//! `-N` (first) is `-n N`. Several files get GNU's `==> NAME <==` headers.
use std::io::{self, Read, Write};

use cella_userland::{
    Tool, after_lines, args, describe, enter_working_directory, expand_obsolete_count, file_header,
    lines, open,
};

const TOOL: Tool = Tool {
    name: "head",
    usage: "head [-n [-]N | -c [-]N] [FILE]...",
    usage_status: 1,
};
const DEFAULT_LINES: usize = 10;

/// All but the last `count` lines or bytes of `data`.
fn select(data: &[u8], by_bytes: bool, count: usize) -> &[u8] {
    let keep = if by_bytes {
        data.len().saturating_sub(count)
    } else {
        after_lines(data, lines(data).len().saturating_sub(count))
    };
    &data[..keep]
}

/// Copies the first `count` lines or bytes of `input` to `out`, reading no further than
/// needed: `head` of an endless stdin ends.
fn copy_head(
    input: &mut dyn Read,
    out: &mut dyn Write,
    by_bytes: bool,
    mut count: usize,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    while count > 0 {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        let keep = if by_bytes {
            count.min(n)
        } else {
            after_lines(chunk, count)
        };
        count -= if by_bytes {
            keep
        } else {
            chunk[..keep].iter().filter(|&&b| b == b'\n').count()
        };
        out.write_all(&chunk[..keep])?;
    }
    Ok(())
}

fn main() {
    enter_working_directory();
    let mut args = args();
    expand_obsolete_count(&mut args);
    let (options, mut operands) = TOOL.parse(args, "", "nc");
    let (mut by_bytes, mut count, mut all_but) = (false, DEFAULT_LINES, false);
    for (letter, value) in options {
        by_bytes = letter == 'c';
        let digits = value.strip_prefix('-');
        all_but = digits.is_some();
        count = match digits.unwrap_or(&value).parse() {
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
        let opened: io::Result<Box<dyn Read>> = if name == "-" {
            Ok(Box::new(io::stdin().lock()))
        } else {
            open(name).map(|f| Box::new(f) as Box<dyn Read>)
        };
        let mut input = match opened {
            Ok(input) => input,
            Err(e) => {
                TOOL.warn(&format!(
                    "cannot open '{name}' for reading: {}",
                    describe(&e)
                ));
                status = 1;
                continue;
            }
        };
        if headers {
            stdout.put(file_header(name, first).as_bytes());
        }
        first = false;
        let result = if all_but {
            let mut data = Vec::new();
            match input.read_to_end(&mut data) {
                Ok(_) => stdout.write_all(select(&data, by_bytes, count)),
                Err(e) => Err(e),
            }
        } else {
            copy_head(&mut input, &mut stdout, by_bytes, count)
        };
        if let Err(e) = result {
            TOOL.warn(&format!("error reading '{name}': {}", describe(&e)));
            status = 1;
        }
    }
    stdout.exit(status);
}
