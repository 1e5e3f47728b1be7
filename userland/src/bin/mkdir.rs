//! `mkdir [-p] DIRECTORY...`: creates each DIRECTORY; `-p` also creates missing parents and
//! accepts directories that already exist. Failures are reported and make the status 1.
use std::fs;

use cella_userland::{Tool, describe};

const TOOL: Tool = Tool {
    name: "mkdir",
    usage: "mkdir [-p] DIRECTORY...",
    usage_status: 1,
};

fn main() {
    let (options, operands) = TOOL.parse(std::env::args().skip(1), "p", "");
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
