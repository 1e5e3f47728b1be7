//! `mv [-f] SOURCE DEST` or `mv [-f] SOURCE... DIRECTORY`: renames SOURCE to DEST, or moves
//! each SOURCE into DIRECTORY. Between preopened directories, where a rename is impossible,
//! it copies and then removes, as GNU mv does across file systems. `-f` is accepted (mv
//! never prompts here). Failures are reported and make the status 1.
use std::fs;
use std::io;
use std::path::Path;

use cella_userland::{Tool, args, copy_tree, describe, enter_working_directory, is_within};

const TOOL: Tool = Tool {
    name: "mv",
    usage: "mv [-f] SOURCE... DEST",
    usage_status: 1,
};
/// preview1's `EXDEV`: the rename would cross preopened directories.
const EXDEV: i32 = 75;

fn move_one(source: &str, target: &Path) -> io::Result<()> {
    match fs::rename(source, target) {
        Err(e) if e.raw_os_error() == Some(EXDEV) => {
            copy_tree(Path::new(source), target)?;
            if fs::symlink_metadata(source)?.is_dir() {
                fs::remove_dir_all(source)
            } else {
                fs::remove_file(source)
            }
        }
        other => other,
    }
}

pub fn main() {
    enter_working_directory();
    let (_, operands) = TOOL.parse(args(), "f", "");
    TOOL.require_source_and_destination(&operands);
    TOOL.each_into_destination(operands, |source, target| {
        match fs::symlink_metadata(source) {
            Err(e) => Err(format!("cannot stat '{source}': {}", describe(&e))),
            Ok(meta) if meta.is_dir() && is_within(target, Path::new(source)) => Err(format!(
                "cannot move '{source}' to a subdirectory of itself, '{}'",
                target.display()
            )),
            Ok(_) => move_one(source, target).map_err(|e| {
                format!(
                    "cannot move '{source}' to '{}': {}",
                    target.display(),
                    describe(&e)
                )
            }),
        }
    })
}
