//! `ln [-fs] TARGET LINK` or `ln [-fs] TARGET... DIRECTORY`: makes LINK (or DIRECTORY/NAME) a
//! hard link to TARGET, or with `-s` a symbolic link holding TARGET. `-f` first removes an
//! existing LINK. Failures are reported and make the status 1.
use std::fs;
use std::path::Path;

use cella_userland::{Tool, describe, destination, symlink};

const TOOL: Tool = Tool {
    name: "ln",
    usage: "ln [-fs] TARGET... LINK_OR_DIRECTORY",
    usage_status: 1,
};

fn main() {
    let (options, mut operands) = TOOL.parse(std::env::args().skip(1), "fs", "");
    let symbolic = options.iter().any(|(o, _)| *o == 's');
    let force = options.iter().any(|(o, _)| *o == 'f');
    if operands.len() < 2 {
        TOOL.usage_error(if operands.is_empty() {
            "missing file operand"
        } else {
            "missing link operand"
        });
    }
    let dest = operands.pop().unwrap_or_default();
    if operands.len() > 1 {
        match fs::metadata(&dest) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => TOOL.fail(&format!("target '{dest}': Not a directory")),
            Err(e) => TOOL.fail(&format!("target '{dest}': {}", describe(&e))),
        }
    }
    let mut status = 0;
    for target in &operands {
        let link = destination(target, &dest);
        if force && fs::symlink_metadata(&link).is_ok_and(|m| !m.is_dir()) {
            let _ = fs::remove_file(&link);
        }
        let result = if symbolic {
            symlink(target, &link).map_err(|e| {
                format!(
                    "failed to create symbolic link '{}': {}",
                    link.display(),
                    describe(&e)
                )
            })
        } else if let Err(e) = fs::symlink_metadata(target) {
            Err(format!("failed to access '{target}': {}", describe(&e)))
        } else {
            fs::hard_link(Path::new(target), &link).map_err(|e| {
                format!(
                    "failed to create hard link '{}': {}",
                    link.display(),
                    describe(&e)
                )
            })
        };
        if let Err(message) = result {
            TOOL.warn(&message);
            status = 1;
        }
    }
    std::process::exit(status);
}
