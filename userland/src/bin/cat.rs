//! `cat [-n] [FILE]...`: copies each FILE (`-` or none: stdin) to stdout byte for byte,
//! binary data included. `-n` numbers the lines as GNU does (`%6d\t`, counting on across
//! files). A file that cannot be read is reported and makes the exit status 1. Each chunk
//! read is written out at once, so `cat` echoes a terminal line by line.
use std::io::{self, Read};

use cella_userland::{Output, Tool, args, describe, enter_working_directory, open};

const TOOL: Tool = Tool {
    name: "cat",
    usage: "cat [-n] [FILE]...",
    usage_status: 1,
};
const BUFFER: usize = 64 * 1024;

/// Where `-n` numbering stands: the next line's number, and whether a line starts next.
struct Numbering {
    line: u64,
    at_start: bool,
}

/// Copies `input` to `out`, numbering lines if `numbering` is given; returns read errors
/// (`out` handles write errors itself).
fn copy(
    input: &mut dyn Read,
    out: &mut Output,
    numbering: &mut Option<Numbering>,
) -> io::Result<()> {
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        let Some(numbering) = numbering else {
            out.put(chunk);
            out.flush_now();
            continue;
        };
        let mut numbered = Vec::with_capacity(chunk.len() + 64);
        for &byte in chunk {
            if numbering.at_start {
                numbered.extend_from_slice(format!("{:6}\t", numbering.line).as_bytes());
                numbering.line += 1;
            }
            numbered.push(byte);
            numbering.at_start = byte == b'\n';
        }
        out.put(&numbered);
        out.flush_now();
    }
}

fn main() {
    enter_working_directory();
    let (options, mut operands) = TOOL.parse(args(), "n", "");
    let mut numbering = options.iter().any(|(o, _)| *o == 'n').then_some(Numbering {
        line: 1,
        at_start: true,
    });
    if operands.is_empty() {
        operands.push("-".into());
    }
    let mut stdout = TOOL.output();
    let mut status = 0;
    for name in &operands {
        let result = if name == "-" {
            copy(&mut io::stdin().lock(), &mut stdout, &mut numbering)
        } else {
            match open(name) {
                Ok(mut file) => copy(&mut file, &mut stdout, &mut numbering),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result {
            TOOL.warn(&format!("{name}: {}", describe(&e)));
            status = 1;
        }
    }
    stdout.exit(status);
}
