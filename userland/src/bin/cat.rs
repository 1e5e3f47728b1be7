//! `cat [-n] [FILE]...`: copies each FILE (`-` or none: stdin) to stdout byte for byte,
//! binary data included. `-n` numbers the lines as GNU does (`%6d\t`, counting on across
//! files). A file that cannot be read is reported and makes the exit status 1.
use std::io::{self, Read, Write};

use cella_userland::{Tool, describe, open};

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

/// Copies `input` to `out`, numbering lines if `numbering` is given. Read errors come back
/// as `Err(Ok(e))`, write errors as `Err(Err(e))`, so the caller can word them apart.
fn copy(
    input: &mut dyn Read,
    out: &mut dyn Write,
    numbering: &mut Option<Numbering>,
) -> Result<(), Result<io::Error, io::Error>> {
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Ok(e)),
        };
        let chunk = &buf[..n];
        let Some(numbering) = numbering else {
            out.write_all(chunk).map_err(Err)?;
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
        out.write_all(&numbered).map_err(Err)?;
    }
}

fn main() {
    let (options, mut operands) = TOOL.parse(std::env::args().skip(1), "n", "");
    let mut numbering = options.iter().any(|(o, _)| *o == 'n').then_some(Numbering {
        line: 1,
        at_start: true,
    });
    if operands.is_empty() {
        operands.push("-".into());
    }
    let mut stdout = io::stdout().lock();
    let mut status = 0;
    for name in &operands {
        let result = if name == "-" {
            copy(&mut io::stdin().lock(), &mut stdout, &mut numbering)
        } else {
            match open(name) {
                Ok(mut file) => copy(&mut file, &mut stdout, &mut numbering),
                Err(e) => Err(Ok(e)),
            }
        };
        match result {
            Ok(()) => {}
            Err(Ok(e)) => {
                TOOL.warn(&format!("{name}: {}", describe(&e)));
                status = 1;
            }
            Err(Err(e)) => {
                TOOL.warn(&format!("write error: {}", describe(&e)));
                std::process::exit(1);
            }
        }
    }
    if let Err(e) = stdout.flush() {
        TOOL.warn(&format!("write error: {}", describe(&e)));
        status = 1;
    }
    std::process::exit(status);
}
