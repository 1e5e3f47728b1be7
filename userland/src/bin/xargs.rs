//! `xargs [-0rt] [-n MAX] [-I REPLACE] [COMMAND [ARG]...]`: runs COMMAND (`echo` if none)
//! with ARGs and then the arguments read from stdin, as POSIX and GNU `xargs` do: as many
//! a run as fit (at most MAX with `-n`), once even for empty input unless `-r`. Input
//! arguments are separated by blanks and newlines, with `'...'`, `"..."` and `\` quoting,
//! or by NULs with `-0`. `-I REPLACE` runs COMMAND once per input line, REPLACE in the ARGs
//! standing for the line. `-t` prints each command on stderr before running it.
//!
//! COMMAND is found in `PATH` as the shell finds it and started through `cella_process`,
//! with this program's environment and directories, and `/dev/null` as its stdin. Exit
//! status: 0; 123 if a run exited 1-125; 124 if one exited 255 (which stops xargs); 125 if
//! one was killed or trapped; 126 if COMMAND cannot be run; 127 if it is not found.
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use cella_process::{Command, MAX_STRINGS_BYTES, Status, Stdio};
use cella_userland::{Tool, describe, enter_working_directory};

const TOOL: Tool = Tool {
    name: "xargs",
    usage: "xargs [-0rt] [-n MAX] [-I REPLACE] [COMMAND [ARG]...]",
    usage_status: 1,
};

/// The search path when `PATH` is unset, as in the shell.
const DEFAULT_PATH: &str = "/bin";
/// The most bytes of arguments (NULs included) one run gets: GNU's default, well within
/// what a spawn takes.
const MAX_COMMAND_BYTES: usize = 128 * 1024;
const _: () = assert!(MAX_COMMAND_BYTES < MAX_STRINGS_BYTES as usize);

/// A run exited 1 to 125.
const SOME_FAILED: i32 = 123;
/// A run exited 255: xargs stops.
const STOPPED: i32 = 124;
/// A run was killed by a signal or trapped.
const KILLED: i32 = 125;
/// COMMAND exists but cannot be run.
const CANNOT_RUN: i32 = 126;
/// COMMAND was not found.
const NOT_FOUND: i32 = 127;

/// The input's arguments, split the default way (blanks, quotes, backslashes).
fn split_default(input: &[u8]) -> Vec<String> {
    let mut args = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut in_word = false;
    let mut quote: Option<u8> = None;
    let mut bytes = input.iter().copied();
    while let Some(byte) = bytes.next() {
        match (quote, byte) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), b'\n') => TOOL.fail("unmatched quote; by default quotes are special to xargs unless you use the -0 option"),
            (Some(_), b) => current.push(b),
            (None, b'\'' | b'"') => {
                quote = Some(byte);
                in_word = true;
            }
            (None, b'\\') => {
                if let Some(next) = bytes.next() {
                    current.push(next);
                }
                in_word = true;
            }
            (None, b' ' | b'\t' | b'\n') => {
                if in_word {
                    args.push(String::from_utf8_lossy(&current).into_owned());
                    current.clear();
                    in_word = false;
                }
            }
            (None, b) => {
                current.push(b);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        TOOL.fail(
            "unmatched quote; by default quotes are special to xargs unless you use the -0 option",
        );
    }
    if in_word {
        args.push(String::from_utf8_lossy(&current).into_owned());
    }
    args
}

/// The program `name` runs, as the shell finds it: `name` itself if it has a `/`, else the
/// first `DIR/name` or `DIR/name.wasm` that is a file, for DIR in `PATH`.
fn find(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into());
    path.split(':').find_map(|dir| {
        let dir = Path::new(if dir.is_empty() { "." } else { dir });
        [dir.join(name), dir.join(format!("{name}.wasm"))]
            .into_iter()
            .find(|candidate| std::fs::metadata(candidate).is_ok_and(|m| m.is_file()))
    })
}

struct Runner {
    program: PathBuf,
    trace: bool,
    stdin: Option<std::fs::File>,
    status: i32,
}

impl Runner {
    /// Runs `argv` (the command's name first); exits at once if xargs must stop.
    fn run(&mut self, argv: &[String]) {
        if self.trace {
            let _ = writeln!(io::stderr(), "{}", argv.join(" "));
        }
        let mut command = Command::new(&self.program);
        command.arg0(&argv[0]).args(&argv[1..]).inherit_preopens();
        if let Some(null) = &self.stdin {
            command.stdin(Stdio::from(null));
        }
        let status = command.status().unwrap_or_else(|e| {
            TOOL.warn(&format!("{}: {}", argv[0], describe(&e)));
            let code = if e.kind() == io::ErrorKind::NotFound {
                NOT_FOUND
            } else {
                CANNOT_RUN
            };
            std::process::exit(code)
        });
        match status {
            Status::Exited(0) => {}
            Status::Exited(255) => {
                TOOL.warn(&format!("{}: exited with status 255; aborting", argv[0]));
                std::process::exit(STOPPED)
            }
            Status::Exited(_) => self.status = SOME_FAILED,
            // `status` waits for the end, so a stop is never reported; it would read as one.
            Status::Signaled(signal) | Status::Stopped(signal) => {
                TOOL.warn(&format!("{}: terminated by signal {signal}", argv[0]));
                std::process::exit(KILLED)
            }
            Status::Trapped | Status::FuelExhausted => {
                TOOL.warn(&format!("{}: terminated by a trap", argv[0]));
                std::process::exit(KILLED)
            }
        }
    }
}

pub fn main() {
    enter_working_directory();
    let mut args = cella_userland::args().into_iter();
    let mut null = false;
    let mut no_empty = false;
    let mut trace = false;
    let mut max_args: Option<usize> = None;
    let mut replace: Option<String> = None;
    let mut command: Vec<String> = Vec::new();
    // Options come before COMMAND only: everything from COMMAND on is its own.
    while let Some(arg) = args.next() {
        if arg == "--" {
            command.extend(args.by_ref());
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            command.push(arg);
            command.extend(args.by_ref());
            break;
        }
        for (at, letter) in arg.char_indices().skip(1) {
            match letter {
                '0' => null = true,
                'r' => no_empty = true,
                't' => trace = true,
                'n' | 'I' => {
                    let rest = &arg[at + 1..];
                    let value = if rest.is_empty() {
                        args.next().unwrap_or_else(|| {
                            TOOL.usage_error(&format!("option requires an argument -- '{letter}'"))
                        })
                    } else {
                        rest.to_string()
                    };
                    if letter == 'I' {
                        replace = Some(value);
                    } else {
                        match value.parse::<usize>() {
                            Ok(n) if n > 0 => max_args = Some(n),
                            _ => TOOL.fail(&format!("invalid number \"{value}\" for -n option")),
                        }
                    }
                    break;
                }
                _ => TOOL.usage_error(&format!("invalid option -- '{letter}'")),
            }
        }
    }
    if command.is_empty() {
        command.push("echo".into());
    }
    let mut input = Vec::new();
    if let Err(e) = io::stdin().lock().read_to_end(&mut input) {
        TOOL.fail(&format!("read error: {}", describe(&e)));
    }
    let items: Vec<String> = if null {
        let mut items: Vec<String> = input
            .split(|&b| b == 0)
            .map(|item| String::from_utf8_lossy(item).into_owned())
            .collect();
        if input.is_empty() || input.ends_with(&[0]) {
            items.pop();
        }
        items
    } else if replace.is_some() {
        // Each line is one argument, without its leading blanks.
        cella_userland::lines(&input)
            .into_iter()
            .map(|line| String::from_utf8_lossy(line).trim_start().to_string())
            .filter(|line| !line.is_empty())
            .collect()
    } else {
        split_default(&input)
    };
    let Some(program) = find(&command[0]) else {
        TOOL.warn(&format!("{}: No such file or directory", command[0]));
        std::process::exit(NOT_FOUND);
    };
    let mut runner = Runner {
        program,
        trace,
        stdin: std::fs::File::open("/dev/null").ok(),
        status: 0,
    };
    if let Some(replace) = &replace {
        for item in &items {
            let argv: Vec<String> = command
                .iter()
                .map(|arg| arg.replace(replace.as_str(), item))
                .collect();
            runner.run(&argv);
        }
        std::process::exit(runner.status);
    }
    if items.is_empty() {
        if !no_empty {
            runner.run(&command);
        }
        std::process::exit(runner.status);
    }
    let base_bytes: usize = command.iter().map(|arg| arg.len() + 1).sum();
    let mut batch: Vec<String> = command.clone();
    let mut bytes = base_bytes;
    for item in items {
        let full = max_args.is_some_and(|max| batch.len() - command.len() >= max)
            || (batch.len() > command.len() && bytes + item.len() + 1 > MAX_COMMAND_BYTES);
        if full {
            runner.run(&batch);
            batch.truncate(command.len());
            bytes = base_bytes;
        }
        bytes += item.len() + 1;
        batch.push(item);
    }
    runner.run(&batch);
    std::process::exit(runner.status);
}
