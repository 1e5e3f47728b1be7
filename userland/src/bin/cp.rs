//! `cp [-r] SOURCE DEST` or `cp [-r] SOURCE... DIRECTORY`: copies SOURCE to DEST, or each
//! SOURCE into DIRECTORY. Without `-r` (or `-R`) directories are skipped with GNU's message;
//! with it they are copied recursively, symbolic links inside as links. Failures are reported
//! and make the status 1.
use std::fs;
use std::path::Path;

use cella_userland::{Tool, args, copy_tree, describe, enter_working_directory, is_within, stat};

const TOOL: Tool = Tool {
    name: "cp",
    usage: "cp [-r] SOURCE... DEST",
    usage_status: 1,
};

pub fn main() {
    enter_working_directory();
    let (options, operands) = TOOL.parse(args(), "rR", "");
    let recursive = !options.is_empty();
    TOOL.require_source_and_destination(&operands);
    TOOL.each_into_destination(operands, |source, target| {
        let same = |a: &Path, b: &Path| match (stat(a, true), stat(b, true)) {
            (Ok(a), Ok(b)) => (a.dev, a.ino) == (b.dev, b.ino),
            _ => false,
        };
        match fs::metadata(source) {
            Err(e) => Err(format!("cannot stat '{source}': {}", describe(&e))),
            Ok(meta) if meta.is_dir() && !recursive => {
                Err(format!("-r not specified; omitting directory '{source}'"))
            }
            Ok(meta) if meta.is_dir() && is_within(target, Path::new(source)) => Err(format!(
                "cannot copy a directory, '{source}', into itself, '{}'",
                target.display()
            )),
            Ok(_) if same(Path::new(source), target) => Err(format!(
                "'{source}' and '{}' are the same file",
                target.display()
            )),
            Ok(meta) if meta.is_dir() || recursive => {
                copy_tree(Path::new(source), target).map_err(|e| {
                    format!(
                        "cannot copy '{source}' to '{}': {}",
                        target.display(),
                        describe(&e)
                    )
                })
            }
            Ok(_) => fs::copy(source, target).map(drop).map_err(|e| {
                format!(
                    "cannot create regular file '{}': {}",
                    target.display(),
                    describe(&e)
                )
            }),
        }
    })
}
