//! `wc [-clw] [FILE]...`: counts lines, words and bytes of each FILE (`-` or none: stdin),
//! printed in that order whatever the order of the options (default: all three), with a
//! `total` line for several files. Columns are as wide as GNU makes them: wide enough for
//! the total size of the regular files, at least 7 when stdin is among them, unpadded for a
//! single count of a single input.
use std::io::{self, Read};

use cella_userland::{Tool, args, describe, enter_working_directory, open};

const TOOL: Tool = Tool {
    name: "wc",
    usage: "wc [-clw] [FILE]...",
    usage_status: 1,
};
/// GNU's column width when an input's size is unknown beforehand (a pipe or terminal).
const UNKNOWN_SIZE_WIDTH: usize = 7;

#[derive(Default, Clone, Copy)]
struct Counts {
    lines: u64,
    words: u64,
    bytes: u64,
}

/// Counts `input`; with `scan` false only the bytes are counted (as GNU `wc -c` does, it
/// does not look at them: a byte count costs no more than the reads).
fn count(input: &mut dyn Read, scan: bool) -> io::Result<Counts> {
    let mut counts = Counts::default();
    let mut in_word = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(counts),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        counts.bytes += n as u64;
        if !scan {
            continue;
        }
        for &byte in &buf[..n] {
            if byte == b'\n' {
                counts.lines += 1;
            }
            let space = matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
            if !space && !in_word {
                counts.words += 1;
            }
            in_word = !space;
        }
    }
}

fn main() {
    enter_working_directory();
    let (options, mut operands) = TOOL.parse(args(), "clw", "");
    let mut show = [false; 3];
    for (letter, _) in &options {
        show["lwc".find(*letter).unwrap_or(0)] = true;
    }
    if show == [false; 3] {
        show = [true; 3];
    }
    // GNU names stdin only when it was given as `-`.
    let implicit_stdin = operands.is_empty();
    if implicit_stdin {
        operands.push("-".into());
    }
    let shown = show.iter().filter(|&&s| s).count();
    let scan = show[0] || show[1];
    // GNU sizes the columns from what stat says before reading anything.
    let mut width = 1;
    if !(operands.len() == 1 && shown == 1) {
        let mut regular_total: u64 = 0;
        let mut minimum = 1;
        for name in &operands {
            match std::fs::metadata(name) {
                _ if name == "-" => minimum = UNKNOWN_SIZE_WIDTH,
                Ok(meta) if meta.is_file() => regular_total += meta.len(),
                Ok(_) => minimum = UNKNOWN_SIZE_WIDTH,
                Err(_) => {}
            }
        }
        width = regular_total.to_string().len().max(minimum);
    }
    let mut out = TOOL.output();
    let mut print = |counts: Counts, name: Option<&str>| {
        let values = [counts.lines, counts.words, counts.bytes];
        let columns: Vec<String> = (0..3)
            .filter(|&i| show[i])
            .map(|i| format!("{:>width$}", values[i]))
            .collect();
        match name {
            Some(name) => out.put(format!("{} {name}\n", columns.join(" ")).as_bytes()),
            None => out.put(format!("{}\n", columns.join(" ")).as_bytes()),
        }
    };
    let mut total = Counts::default();
    let mut status = 0;
    for name in &operands {
        let result = if name == "-" {
            count(&mut io::stdin().lock(), scan)
        } else {
            open(name).and_then(|mut f| count(&mut f, scan))
        };
        match result {
            Ok(counts) => {
                total.lines += counts.lines;
                total.words += counts.words;
                total.bytes += counts.bytes;
                print(counts, (!implicit_stdin).then_some(name.as_str()));
            }
            Err(e) => {
                TOOL.warn(&format!("{name}: {}", describe(&e)));
                status = 1;
                // GNU still prints a line of zeros for a directory.
                if std::fs::metadata(name).is_ok_and(|m| m.is_dir()) {
                    print(Counts::default(), Some(name));
                }
            }
        }
    }
    if operands.len() > 1 {
        print(total, Some("total"));
    }
    out.exit(status);
}
