//! `du [-achks] [PATH...]`: prints how much each PATH (`.` if none) and every directory
//! under it take, in KiB (`-k`, the default) or in human-readable units (`-h`: `1.5K`,
//! `12M`, rounded up as GNU does), every file too with `-a`, only each PATH's total with
//! `-s`, and a grand total with `-c`. A file takes its size rounded up to whole KiB (Cella's
//! file system has no blocks; directories and symbolic links take none), counted once
//! however many names it has. Symbolic links are not followed. A PATH that cannot be read is
//! reported and makes the exit status 1.
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use cella_userland::{
    Output, Tool, args, children, describe, enter_working_directory, human_size, stat,
};

const TOOL: Tool = Tool {
    name: "du",
    usage: "du [-achks] [PATH...]",
    usage_status: 1,
};
const KIB: u64 = 1024;

struct Du {
    all: bool,
    summarize: bool,
    human: bool,
    /// (device, inode) of every file counted, so a hard link counts once.
    seen: BTreeSet<(u64, u64)>,
    failed: bool,
}

impl Du {
    fn show(&self, bytes: u64, path: &str, out: &mut Output) {
        let size = if self.human {
            human_size(bytes)
        } else {
            bytes.div_ceil(KIB).to_string()
        };
        out.put(format!("{size}\t{path}\n").as_bytes());
    }

    /// Bytes `path` takes (whole KiB per file), printing as the options say.
    fn walk(&mut self, path: &str, top: bool, out: &mut Output) -> u64 {
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) => {
                TOOL.warn(&format!("cannot access '{path}': {}", describe(&e)));
                self.failed = true;
                return 0;
            }
        };
        if !meta.is_dir() {
            let mut bytes = 0;
            if meta.is_file() {
                let first = match stat(Path::new(path), false) {
                    Ok(s) => self.seen.insert((s.dev, s.ino)),
                    Err(_) => true,
                };
                if first {
                    bytes = meta.len().div_ceil(KIB) * KIB;
                }
            }
            if top || (self.all && !self.summarize) {
                self.show(bytes, path, out);
            }
            return bytes;
        }
        let children = children(path).unwrap_or_else(|e| {
            TOOL.warn(&format!("cannot read directory '{path}': {}", describe(&e)));
            self.failed = true;
            Vec::new()
        });
        let mut total = 0;
        for (_, child) in children {
            total += self.walk(&child, false, out);
        }
        if top || !self.summarize {
            self.show(total, path, out);
        }
        total
    }
}

pub fn main() {
    enter_working_directory();
    let (options, mut operands) = TOOL.parse(args(), "achks", "");
    let has = |letter: char| options.iter().any(|(o, _)| *o == letter);
    // The last of -h and -k wins, as in GNU.
    let human = options
        .iter()
        .rev()
        .find(|(o, _)| *o == 'h' || *o == 'k')
        .is_some_and(|(o, _)| *o == 'h');
    let mut du = Du {
        all: has('a'),
        summarize: has('s'),
        human,
        seen: BTreeSet::new(),
        failed: false,
    };
    if du.all && du.summarize {
        TOOL.usage_error("cannot both summarize and show all entries");
    }
    if operands.is_empty() {
        operands.push(".".into());
    }
    let mut out = TOOL.output();
    let mut total = 0;
    for path in &operands {
        total += du.walk(path, true, &mut out);
    }
    if has('c') {
        du.show(total, "total", &mut out);
    }
    out.exit(i32::from(du.failed));
}
