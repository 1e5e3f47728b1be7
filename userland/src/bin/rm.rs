//! `rm [-fr] FILE...`: removes each FILE; `-r` (or `-R`) removes directories and what they
//! hold, `-f` ignores missing files and a missing operand. A symbolic link is removed, never
//! followed. As in GNU, `.` and `..` are refused, and any failure makes the status 1.
use std::fs;

use cella_userland::{Tool, args, describe, enter_working_directory};

const TOOL: Tool = Tool {
    name: "rm",
    usage: "rm [-fr] FILE...",
    usage_status: 1,
};

pub fn main() {
    enter_working_directory();
    let (options, operands) = TOOL.parse(args(), "frR", "");
    let force = options.iter().any(|(o, _)| *o == 'f');
    let recursive = options.iter().any(|(o, _)| *o != 'f');
    if operands.is_empty() && !force {
        TOOL.usage_error("missing operand");
    }
    let mut status = 0;
    for name in &operands {
        if matches!(
            name.trim_end_matches('/').rsplit('/').next(),
            Some("." | "..")
        ) {
            TOOL.warn(&format!(
                "refusing to remove '.' or '..' directory: skipping '{name}'"
            ));
            status = 1;
            continue;
        }
        // std's removals refuse a trailing slash that GNU accepts.
        let name = if name.len() > 1 {
            name.trim_end_matches('/')
        } else {
            name
        };
        let result = match fs::symlink_metadata(name) {
            Err(e) if force && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => Err(e),
            Ok(meta) if meta.is_dir() && !recursive => Err(std::io::Error::other("Is a directory")),
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(name),
            Ok(_) => fs::remove_file(name),
        };
        if let Err(e) = result {
            TOOL.warn(&format!("cannot remove '{name}': {}", describe(&e)));
            status = 1;
        }
    }
    std::process::exit(status);
}
