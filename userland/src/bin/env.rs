//! `env [-i] [-u NAME]... [NAME=VALUE]...`: prints the environment, one `NAME=VALUE` a line,
//! after starting empty (`-i` or `-`), removing NAMEs (`-u`) and setting NAME=VALUEs. GNU env
//! would then run a command; Cella has no processes, so a command is refused with status 125
//! (GNU's 126 is outside preview1's exit statuses, 0 to 125). A bad option is 125, as GNU.
use std::ffi::OsString;
use std::os::wasi::ffi::OsStrExt;

use cella_userland::Tool;

const TOOL: Tool = Tool {
    name: "env",
    usage: "env [-i] [-u NAME]... [NAME=VALUE]...",
    usage_status: 125,
};
/// GNU env's own failure status: its 126 ("cannot run") is not a valid preview1 exit status.
const CANNOT_RUN: i32 = 125;

fn main() {
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let mut args = cella_userland::args().into_iter().peekable();
    // Options come first: GNU env stops at the first operand, which may start a command line.
    while let Some(arg) = args.next_if(|a| a.starts_with('-')) {
        if arg == "--" {
            break;
        }
        if arg == "-" {
            vars.clear();
            continue;
        }
        if arg.starts_with("--") {
            TOOL.usage_error(&format!("unrecognized option '{arg}'"));
        }
        for (at, letter) in arg.char_indices().skip(1) {
            match letter {
                'i' => vars.clear(),
                'u' => {
                    let rest = &arg[at + 1..];
                    let name = if rest.is_empty() {
                        args.next().unwrap_or_else(|| {
                            TOOL.usage_error("option requires an argument -- 'u'")
                        })
                    } else {
                        rest.to_string()
                    };
                    vars.retain(|(n, _)| *n != *name);
                    break;
                }
                other => TOOL.usage_error(&format!("invalid option -- '{other}'")),
            }
        }
    }
    for arg in args {
        let Some((name, value)) = arg.split_once('=').filter(|(name, _)| !name.is_empty()) else {
            TOOL.warn(&format!("cannot run '{arg}': Cella has no processes"));
            std::process::exit(CANNOT_RUN);
        };
        match vars.iter_mut().find(|(n, _)| *n == *name) {
            Some(slot) => slot.1 = value.into(),
            None => vars.push((name.into(), value.into())),
        }
    }
    let mut out = TOOL.output();
    for (name, value) in &vars {
        out.put(name.as_bytes());
        out.put(b"=");
        out.put(value.as_bytes());
        out.put(b"\n");
    }
    out.exit(0);
}
