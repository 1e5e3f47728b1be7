//! `env [-i] [-u NAME]... [NAME=VALUE]... [COMMAND [ARG]...]`: starts from the environment,
//! or from an empty one (`-i` or `-`), removes NAMEs (`-u`) and sets NAME=VALUEs; then runs
//! COMMAND with it (looked up in `PATH`, default `/bin`, as the shell does; the caller's
//! stdio and preopens) and exits with its status, or without a command prints it, one
//! `NAME=VALUE` a line. As GNU: 127 when COMMAND is not found, 126 when it cannot run, 125
//! for a bad option. Running a command needs Cella's process control, so `env` runs only on
//! Cella.
use std::ffi::OsString;
use std::os::wasi::ffi::OsStrExt;
use std::path::PathBuf;

use cella_process::{Command, wait};
use cella_userland::{Tool, describe};

const TOOL: Tool = Tool {
    name: "env",
    usage: "env [-i] [-u NAME]... [NAME=VALUE]... [COMMAND [ARG]...]",
    usage_status: 125,
};
/// GNU's status when the command was found but could not run.
const CANNOT_RUN: i32 = 126;
/// GNU's status when the command was not found.
const NOT_FOUND: i32 = 127;

fn main() {
    cella_userland::enter_working_directory();
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
    while let Some(arg) = args.next_if(|a| a.split_once('=').is_some_and(|(n, _)| !n.is_empty())) {
        let (name, value) = arg.split_once('=').unwrap_or_default();
        match vars.iter_mut().find(|(n, _)| *n == *name) {
            Some(slot) => slot.1 = value.into(),
            None => vars.push((name.into(), value.into())),
        }
    }
    if let Some(command) = args.next() {
        run(&command, args.collect(), &vars);
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

/// Runs `command` with `args` and exactly the environment `vars`, and exits with its status.
fn run(command: &str, args: Vec<String>, vars: &[(OsString, OsString)]) -> ! {
    let path = find(command, vars).unwrap_or_else(|| {
        TOOL.warn(&format!("'{command}': No such file or directory"));
        std::process::exit(NOT_FOUND)
    });
    let mut child = Command::new(&path);
    child
        .arg0(command)
        .args(&args)
        .inherit_preopens()
        .env_clear();
    for (name, value) in vars {
        child.env(name, value);
    }
    let pid = child.spawn().unwrap_or_else(|e| {
        TOOL.warn(&format!("'{command}': {}", describe(&e)));
        std::process::exit(CANNOT_RUN)
    });
    match wait(Some(pid), false) {
        Ok(Some((_, status))) => std::process::exit(status.code()),
        Ok(None) => std::process::exit(CANNOT_RUN),
        Err(e) => {
            TOOL.warn(&format!("'{command}': {}", describe(&e)));
            std::process::exit(CANNOT_RUN)
        }
    }
}

/// Where `command` is: itself when it names a path, else the first `DIR/command` (or
/// `DIR/command.wasm`) of `PATH` in the new environment (default `/bin`) that exists.
fn find(command: &str, vars: &[(OsString, OsString)]) -> Option<PathBuf> {
    if command.contains('/') {
        return Some(PathBuf::from(command));
    }
    let path = vars
        .iter()
        .find(|(name, _)| name == "PATH")
        .map_or_else(|| OsString::from("/bin"), |(_, value)| value.clone());
    path.to_string_lossy()
        .split(':')
        .filter(|dir| !dir.is_empty())
        .flat_map(|dir| {
            [
                PathBuf::from(dir).join(command),
                PathBuf::from(dir).join(format!("{command}.wasm")),
            ]
        })
        .find(|candidate| candidate.is_file())
}
