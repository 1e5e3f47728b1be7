//! `ln [-fs] TARGET LINK` or `ln [-fs] TARGET... DIRECTORY`: makes LINK (or DIRECTORY/NAME) a
//! hard link to TARGET, or with `-s` a symbolic link holding TARGET. `-f` first removes an
//! existing LINK. Failures are reported and make the status 1.
use std::fs;
use std::path::Path;

use cella_userland::{Tool, args, describe, enter_working_directory, symlink};

const TOOL: Tool = Tool {
    name: "ln",
    usage: "ln [-fs] TARGET... LINK_OR_DIRECTORY",
    usage_status: 1,
};

pub fn main() {
    enter_working_directory();
    let (options, operands) = TOOL.parse(args(), "fs", "");
    let symbolic = options.iter().any(|(o, _)| *o == 's');
    let force = options.iter().any(|(o, _)| *o == 'f');
    if operands.len() < 2 {
        TOOL.usage_error(if operands.is_empty() {
            "missing file operand"
        } else {
            "missing link operand"
        });
    }
    TOOL.each_into_destination(operands, |target, link| {
        if force && fs::symlink_metadata(link).is_ok_and(|m| !m.is_dir()) {
            let _ = fs::remove_file(link);
        }
        if symbolic {
            symlink(target, link).map_err(|e| {
                format!(
                    "failed to create symbolic link '{}': {}",
                    link.display(),
                    describe(&e)
                )
            })
        } else if let Err(e) = fs::symlink_metadata(target) {
            Err(format!("failed to access '{target}': {}", describe(&e)))
        } else {
            fs::hard_link(Path::new(target), link).map_err(|e| {
                format!(
                    "failed to create hard link '{}': {}",
                    link.display(),
                    describe(&e)
                )
            })
        }
    })
}
