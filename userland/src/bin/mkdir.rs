//! `mkdir [-p] DIRECTORY...`: creates each DIRECTORY; `-p` also creates missing parents and
//! accepts directories that already exist. Failures are reported and make the status 1.
use std::fs;

use cella_userland::{Tool, args, describe, enter_working_directory};

const TOOL: Tool = Tool {
    name: "mkdir",
    usage: "mkdir [-p] DIRECTORY...",
    usage_status: 1,
};

pub fn main() {
    enter_working_directory();
    let (options, operands) = TOOL.parse(args(), "p", "");
    let parents = !options.is_empty();
    if operands.is_empty() {
        TOOL.usage_error("missing operand");
    }
    let mut status = 0;
    for dir in &operands {
        let result = if parents {
            fs::create_dir_all(dir)
        } else {
            fs::create_dir(dir)
        };
        if let Err(e) = result {
            TOOL.warn(&format!(
                "cannot create directory '{dir}': {}",
                describe(&e)
            ));
            status = 1;
        }
    }
    std::process::exit(status);
}
