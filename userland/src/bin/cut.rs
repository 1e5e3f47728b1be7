//! `cut -b LIST | -c LIST | -f LIST [-d DELIM] [-s] [--complement] [FILE]...`: prints the
//! selected bytes (`-b`; `-c` is the same here, as in GNU), or fields separated by DELIM
//! (a TAB unless `-d`), of each line of each FILE (`-` or none: stdin), as POSIX and GNU
//! `cut` do. LIST is comma-separated `N`, `N-M`, `N-` and `-M`, numbered from 1, selected
//! in input order. With `-f`, a line without DELIM is printed whole, or left out with `-s`.
//! `--complement` selects what LIST does not. `-n` is accepted and ignored.
use cella_userland::{Tool, args, describe, enter_working_directory, read_input};

const TOOL: Tool = Tool {
    name: "cut",
    usage: "cut -b LIST | -c LIST | -f LIST [-d DELIM] [-s] [--complement] [FILE]...",
    usage_status: 1,
};

/// The selected positions as inclusive ranges, from 1.
struct List {
    ranges: Vec<(usize, usize)>,
    complement: bool,
}

impl List {
    fn parse(text: &str, what: &str) -> List {
        let mut ranges = Vec::new();
        for item in text.split([',', ' ']) {
            let number = |s: &str, default: usize| {
                if s.is_empty() {
                    return default;
                }
                match s.parse::<usize>() {
                    Ok(0) => TOOL.usage_error(if what == "fields" {
                        "fields are numbered from 1"
                    } else {
                        "byte/character positions are numbered from 1"
                    }),
                    Ok(n) => n,
                    Err(_) if s.bytes().all(|b| b.is_ascii_digit()) => usize::MAX,
                    Err(_) => TOOL.usage_error(&format!("invalid {what} value '{item}'")),
                }
            };
            let range = match item.split_once('-') {
                Some(("", "")) => TOOL.usage_error("invalid range with no endpoint: -"),
                Some((low, high)) => (number(low, 1), number(high, usize::MAX)),
                None => {
                    let n = number(item, 0);
                    if item.is_empty() {
                        TOOL.usage_error(&format!("invalid {what} value ''"));
                    }
                    (n, n)
                }
            };
            if range.0 > range.1 {
                TOOL.usage_error("invalid decreasing range");
            }
            ranges.push(range);
        }
        List {
            ranges,
            complement: false,
        }
    }

    /// Whether position `n` (from 1) is selected.
    fn has(&self, n: usize) -> bool {
        self.ranges
            .iter()
            .any(|&(low, high)| (low..=high).contains(&n))
            != self.complement
    }
}

/// What to cut.
enum Mode {
    Bytes(List),
    Fields {
        list: List,
        delimiter: u8,
        only_delimited: bool,
    },
}

fn cut_line(line: &[u8], mode: &Mode, out: &mut Vec<u8>) {
    match mode {
        Mode::Bytes(list) => {
            out.extend(
                line.iter()
                    .enumerate()
                    .filter(|&(i, _)| list.has(i + 1))
                    .map(|(_, &b)| b),
            );
            out.push(b'\n');
        }
        Mode::Fields {
            list,
            delimiter,
            only_delimited,
        } => {
            if !line.contains(delimiter) {
                if !only_delimited {
                    out.extend_from_slice(line);
                    out.push(b'\n');
                }
                return;
            }
            let mut first = true;
            for (i, field) in line.split(|b| b == delimiter).enumerate() {
                if list.has(i + 1) {
                    if !first {
                        out.push(*delimiter);
                    }
                    out.extend_from_slice(field);
                    first = false;
                }
            }
            out.push(b'\n');
        }
    }
}

pub fn main() {
    enter_working_directory();
    let mut complement = false;
    let args: Vec<String> = args()
        .into_iter()
        .filter(|arg| {
            let is = arg == "--complement";
            complement |= is;
            !is
        })
        .collect();
    let (options, mut operands) = TOOL.parse(args, "sn", "bcfd");
    let mut list: Option<(char, String)> = None;
    let mut delimiter = None;
    let mut only_delimited = false;
    for (option, value) in options {
        match option {
            'b' | 'c' | 'f' => {
                if list.is_some() {
                    TOOL.usage_error("only one list may be specified");
                }
                list = Some((option, value));
            }
            'd' => {
                let &[byte] = value.as_bytes() else {
                    TOOL.usage_error("the delimiter must be a single character");
                };
                delimiter = Some(byte);
            }
            's' => only_delimited = true,
            _ => {}
        }
    }
    let Some((kind, text)) = list else {
        TOOL.usage_error("you must specify a list of bytes, characters, or fields");
    };
    let mode = if kind == 'f' {
        let mut list = List::parse(&text, "field");
        list.complement = complement;
        Mode::Fields {
            list,
            delimiter: delimiter.unwrap_or(b'\t'),
            only_delimited,
        }
    } else {
        if delimiter.is_some() {
            TOOL.usage_error("an input delimiter may be specified only when operating on fields");
        }
        if only_delimited {
            TOOL.usage_error(
                "suppressing non-delimited lines makes sense only when operating on fields",
            );
        }
        let mut list = List::parse(&text, "byte/character position");
        list.complement = complement;
        Mode::Bytes(list)
    };
    if operands.is_empty() {
        operands.push("-".into());
    }
    let mut out = TOOL.output();
    let mut status = 0;
    let mut cut = Vec::new();
    for name in &operands {
        let bytes = match read_input(name) {
            Ok(bytes) => bytes,
            Err(e) => {
                TOOL.warn(&format!("{name}: {}", describe(&e)));
                status = 1;
                continue;
            }
        };
        for line in cella_userland::lines(&bytes) {
            cut.clear();
            cut_line(line, &mode, &mut cut);
            out.put(&cut);
        }
    }
    out.exit(status);
}
