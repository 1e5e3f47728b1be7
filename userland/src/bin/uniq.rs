//! `uniq [-cdu] [INPUT [OUTPUT]]`: prints INPUT (`-` or none: stdin) with each run of equal
//! adjacent lines reduced to one, to OUTPUT if given. `-c` prefixes each with its count
//! (`%7d `, as GNU), `-d` prints only repeated lines, `-u` only lines that are not repeated.
use std::fs::File;
use std::io::{self, BufWriter, Write};

use cella_userland::{Tool, args, describe, enter_working_directory, lines, read_input};

const TOOL: Tool = Tool {
    name: "uniq",
    usage: "uniq [-cdu] [INPUT [OUTPUT]]",
    usage_status: 1,
};

pub fn main() {
    enter_working_directory();
    let (options, operands) = TOOL.parse(args(), "cdu", "");
    let has = |letter: char| options.iter().any(|(o, _)| *o == letter);
    let (counts, repeated, single) = (has('c'), has('d'), has('u'));
    if let Some(extra) = operands.get(2) {
        TOOL.usage_error(&format!("extra operand '{extra}'"));
    }
    let input = operands.first().map_or("-", String::as_str);
    let data = read_input(input).unwrap_or_else(|e| {
        TOOL.warn(&format!("{input}: {}", describe(&e)));
        std::process::exit(1);
    });
    let out: Box<dyn Write> = match operands.get(1) {
        Some(name) if name != "-" => Box::new(File::create(name).unwrap_or_else(|e| {
            TOOL.warn(&format!("{name}: {}", describe(&e)));
            std::process::exit(1);
        })),
        _ => Box::new(io::stdout().lock()),
    };
    let mut out = BufWriter::new(out);
    let all = lines(&data);
    let mut result = Ok(());
    let mut start = 0;
    while start < all.len() && result.is_ok() {
        let run = all[start..]
            .iter()
            .take_while(|&&line| line == all[start])
            .count();
        if !(repeated && run == 1 || single && run > 1) {
            if counts {
                result = write!(out, "{run:7} ");
            }
            result = result
                .and_then(|()| out.write_all(all[start]))
                .and_then(|()| out.write_all(b"\n"));
        }
        start += run;
    }
    if let Err(e) = result.and_then(|()| out.flush()) {
        TOOL.warn(&format!("write error: {}", describe(&e)));
        std::process::exit(1);
    }
}
