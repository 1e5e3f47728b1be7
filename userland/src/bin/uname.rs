//! `uname [-asnrvmpio]`: prints what system this is, as GNU `uname` does: the kernel's name
//! (`-s`, the default), the node name (`-n`), the release and version (`-r`, `-v`), the
//! machine (`-m`), the processor and hardware platform (`-p`, `-i`: `unknown`, left out of
//! `-a`) and the operating system (`-o`), in that order whatever the order of the options.
use cella_userland::{Tool, args};

const TOOL: Tool = Tool {
    name: "uname",
    usage: "uname [-asnrvmpio]",
    usage_status: 1,
};

/// Cella has no host name: the node is the system.
const NODE: &str = "cella";
/// The system's release: the programs of `/bin` are built with the system they come with.
const RELEASE: &str = env!("CARGO_PKG_VERSION");
/// The only machine Cella runs on.
const MACHINE: &str = "x86_64";

pub fn main() {
    let (options, operands) = TOOL.parse(args(), "asnrvmpio", "");
    if let Some(extra) = operands.first() {
        TOOL.usage_error(&format!("extra operand '{extra}'"));
    }
    let all = options.iter().any(|(o, _)| *o == 'a');
    let wanted = |letter: char| all || options.iter().any(|(o, _)| *o == letter);
    let fields = [
        ('s', "Cella"),
        ('n', NODE),
        ('r', RELEASE),
        ('v', RELEASE),
        ('m', MACHINE),
        ('p', "unknown"),
        ('i', "unknown"),
        ('o', "Cella"),
    ];
    let mut shown: Vec<&str> = fields
        .iter()
        .filter(|(letter, value)| {
            let asked = options.iter().any(|(o, _)| o == letter);
            asked || (all && *value != "unknown")
        })
        .map(|(_, value)| *value)
        .collect();
    if shown.is_empty() && !wanted('s') {
        shown.push("Cella");
    }
    let mut out = TOOL.output();
    out.put(shown.join(" ").as_bytes());
    out.put(b"\n");
    out.exit(0);
}
