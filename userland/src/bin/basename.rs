//! `basename NAME [SUFFIX]`, `basename -a [-s SUFFIX] NAME...`: prints NAME without its
//! directories and trailing slashes, and without SUFFIX if NAME ends in it (and is more
//! than it), as POSIX and GNU `basename` do. `-a` takes several NAMEs; `-s` implies it.
use cella_userland::{Tool, args};

const TOOL: Tool = Tool {
    name: "basename",
    usage: "basename NAME [SUFFIX] | basename -a [-s SUFFIX] NAME...",
    usage_status: 1,
};

/// The last component of `name`, without `suffix`.
fn base(name: &str, suffix: &str) -> String {
    let trimmed = name.trim_end_matches('/');
    if trimmed.is_empty() {
        // `/` or `//`: the root itself; the empty string stays empty.
        return if name.is_empty() { "" } else { "/" }.to_string();
    }
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    match last.strip_suffix(suffix) {
        Some(stem) if !stem.is_empty() && !suffix.is_empty() => stem.to_string(),
        _ => last.to_string(),
    }
}

pub fn main() {
    let (options, operands) = TOOL.parse(args(), "az", "s");
    let mut multiple = false;
    let mut suffix = String::new();
    let mut terminator = b'\n';
    for (option, value) in options {
        match option {
            'a' => multiple = true,
            'z' => terminator = 0,
            _ => {
                multiple = true;
                suffix = value;
            }
        }
    }
    let names: &[String] = match (&operands[..], multiple) {
        ([], _) => TOOL.usage_error("missing operand"),
        (all, true) => all,
        ([name], false) => std::slice::from_ref(name),
        ([name, given], false) => {
            suffix = given.clone();
            std::slice::from_ref(name)
        }
        ([_, _, extra, ..], false) => TOOL.usage_error(&format!("extra operand '{extra}'")),
    };
    let mut out = TOOL.output();
    for name in names {
        out.put(base(name, &suffix).as_bytes());
        out.put(&[terminator]);
    }
    out.exit(0);
}
