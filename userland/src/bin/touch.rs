//! `touch [-c] FILE...`: sets each FILE's access and modification times to now, creating it
//! empty if it does not exist (unless `-c`). Failures are reported and make the status 1.
use std::fs::OpenOptions;
use std::path::Path;

use cella_userland::{Tool, args, describe, enter_working_directory, touch_now};

const TOOL: Tool = Tool {
    name: "touch",
    usage: "touch [-c] FILE...",
    usage_status: 1,
};

pub fn main() {
    enter_working_directory();
    let (options, operands) = TOOL.parse(args(), "c", "");
    let no_create = !options.is_empty();
    if operands.is_empty() {
        TOOL.usage_error("missing file operand");
    }
    let mut status = 0;
    for name in &operands {
        let exists = std::fs::symlink_metadata(name).is_ok();
        if !exists && no_create {
            continue;
        }
        let result = if exists {
            Ok(())
        } else {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(name)
                .map(drop)
        };
        if let Err(e) = result.and_then(|()| touch_now(Path::new(name))) {
            TOOL.warn(&format!("cannot touch '{name}': {}", describe(&e)));
            status = 1;
        }
    }
    std::process::exit(status);
}
