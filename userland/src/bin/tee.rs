//! `tee [-ai] [FILE]...`: copies stdin to stdout and to each FILE, created or truncated
//! (appended to with `-a`), as POSIX and GNU `tee` do. A FILE that cannot be opened or
//! written is reported and makes the exit status 1; the others still get everything.
//! `-i` (ignore interrupts) is accepted: preview1 has no signals.
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};

use cella_userland::{Tool, args, describe, enter_working_directory};

const TOOL: Tool = Tool {
    name: "tee",
    usage: "tee [-ai] [FILE]...",
    usage_status: 1,
};
const BUFFER: usize = 64 * 1024;

pub fn main() {
    enter_working_directory();
    let (options, operands) = TOOL.parse(args(), "ai", "");
    let append = options.iter().any(|(o, _)| *o == 'a');
    let mut status = 0;
    let mut files: Vec<(String, File)> = Vec::new();
    for name in operands {
        let opened = OpenOptions::new()
            .write(true)
            .create(true)
            .append(append)
            .truncate(!append)
            .open(&name);
        match opened {
            Ok(file) => files.push((name, file)),
            Err(e) => {
                TOOL.warn(&format!("{name}: {}", describe(&e)));
                status = 1;
            }
        }
    }
    let mut out = TOOL.output();
    let mut buf = vec![0u8; BUFFER];
    let mut stdin = io::stdin().lock();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                TOOL.warn(&format!("read error: {}", describe(&e)));
                status = 1;
                break;
            }
        };
        out.put(&buf[..n]);
        out.flush_now();
        files.retain_mut(|(name, file)| match file.write_all(&buf[..n]) {
            Ok(()) => true,
            Err(e) => {
                TOOL.warn(&format!("{name}: {}", describe(&e)));
                status = 1;
                false
            }
        });
    }
    out.exit(status);
}
