//! `yes [STRING]...`: prints the STRINGs joined by spaces (default `y`) a line at a time,
//! forever. It ends when writing fails, as GNU yes with `SIGPIPE` ignored:
//! `yes: write error: Broken pipe` and status 1 once the reader of its pipe has gone.
//! Options are refused, so that `yes -n` is not silently taken as text.
use cella_userland::{Tool, args};

const TOOL: Tool = Tool {
    name: "yes",
    usage: "yes [STRING]...",
    usage_status: 1,
};
/// Lines are written in blocks of about this many bytes, one host call each.
const BLOCK: usize = 8 * 1024;

pub fn main() {
    let (_, operands) = TOOL.parse(args(), "", "");
    let mut line = if operands.is_empty() {
        "y".to_string()
    } else {
        operands.join(" ")
    };
    line.push('\n');
    let block = line.repeat((BLOCK / line.len()).max(1));
    let mut out = TOOL.output();
    loop {
        out.put(block.as_bytes());
    }
}
