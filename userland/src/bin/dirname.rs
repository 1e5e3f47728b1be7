//! `dirname NAME...`: prints each NAME without its last component (and the slashes around
//! it), `.` if NAME has no slash, as POSIX and GNU `dirname` do (`/usr/bin/` gives `/usr`,
//! `//` gives `/`).
use cella_userland::{Tool, args};

const TOOL: Tool = Tool {
    name: "dirname",
    usage: "dirname [-z] NAME...",
    usage_status: 1,
};

/// The directory part of `name`.
fn directory(name: &str) -> &str {
    let trimmed = name.trim_end_matches('/');
    if trimmed.is_empty() {
        return if name.is_empty() { "." } else { "/" };
    }
    match trimmed.rfind('/') {
        None => ".",
        Some(at) => {
            let parent = trimmed[..at].trim_end_matches('/');
            if parent.is_empty() { "/" } else { parent }
        }
    }
}

pub fn main() {
    let (options, operands) = TOOL.parse(args(), "z", "");
    if operands.is_empty() {
        TOOL.usage_error("missing operand");
    }
    let terminator = if options.is_empty() { b'\n' } else { 0 };
    let mut out = TOOL.output();
    for name in &operands {
        out.put(directory(name).as_bytes());
        out.put(&[terminator]);
    }
    out.exit(0);
}
