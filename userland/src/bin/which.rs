//! `which [-a] NAME...`: prints the file the shell would run for each NAME, searching
//! `PATH` (`/bin` when unset) as Cella's `sh` does: the first `DIR/NAME` or `DIR/NAME.wasm`
//! that is a file; all of them with `-a`. A NAME with a `/` is printed if it is a file.
//! Exits 1 if some NAME was not found (nothing is printed for it), 2 on a bad option.
use std::path::{Path, PathBuf};

use cella_userland::{Tool, args, enter_working_directory};

const TOOL: Tool = Tool {
    name: "which",
    usage: "which [-a] NAME...",
    usage_status: 2,
};

/// The search path when `PATH` is unset, as in the shell.
const DEFAULT_PATH: &str = "/bin";

fn is_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// The files NAME names, in the order the shell tries them.
fn candidates(name: &str, path: &str) -> Vec<PathBuf> {
    if name.contains('/') {
        return vec![PathBuf::from(name)];
    }
    path.split(':')
        .flat_map(|dir| {
            let dir = if dir.is_empty() { "." } else { dir };
            [
                Path::new(dir).join(name),
                Path::new(dir).join(format!("{name}.wasm")),
            ]
        })
        .collect()
}

pub fn main() {
    enter_working_directory();
    let (options, operands) = TOOL.parse(args(), "a", "");
    let all = !options.is_empty();
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into());
    let mut out = TOOL.output();
    let mut status = i32::from(operands.is_empty());
    for name in &operands {
        let mut found = candidates(name, &path).into_iter().filter(|c| is_file(c));
        let shown: Vec<PathBuf> = if all {
            found.collect()
        } else {
            found.next().into_iter().collect()
        };
        if shown.is_empty() {
            status = 1;
        }
        for path in shown {
            out.put(path.to_string_lossy().as_bytes());
            out.put(b"\n");
        }
    }
    out.exit(status);
}
