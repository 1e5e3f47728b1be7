//! `kill [-s SIGNAL | -SIGNAL] PID...`, `kill -l [SIGNAL]...`, `kill -L`: sends SIGNAL
//! (default TERM) to each PID, like GNU kill. A SIGNAL is a name with or without `SIG`
//! (`KILL`, `sigterm`) or a number; 0 only checks that the process exists. A PID below -1
//! names process group -PID (`kill -- -12`, `kill -9 -12`; `--` is needed when no signal
//! comes first). `-l` lists the signal names, or converts each SIGNAL between name and number
//! (an exit status above 128 names its signal); `-L` lists numbers and names together.
//! Failures are reported (`kill: (12) - No such process`) and make the exit status 1.
//!
//! Preview1 programs cannot catch signals, so each signal has its default action: `CONT`
//! continues a stopped process, `STOP`, `TSTP`, `TTIN` and `TTOU` stop it, every other
//! signal ends it. The names and numbers are Linux's, so that scripts read the same. Uses
//! `cella_process`.
use std::io::Write;

use cella_userland::{Output, Tool, args, describe};

const TOOL: Tool = Tool {
    name: "kill",
    usage: "kill [-s SIGNAL | -SIGNAL] PID... | kill -l [SIGNAL]... | kill -L",
    usage_status: 1,
};
/// Shells report death by signal N as exit status 128 + N.
const SIGNAL_STATUS_BASE: u32 = 128;

/// The name of signal `number` (1 to 31).
fn name(number: u32) -> Option<&'static str> {
    cella_process::signal_name(number)
}

/// The number `text` names: `9`, `KILL`, `SIGKILL`, `sigkill`; 0 is accepted (and `EXIT`,
/// bash's name for it, is not needed).
fn number(text: &str) -> Option<u32> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().filter(|&n| n == 0 || name(n).is_some());
    }
    cella_process::signal_number(text)
}

fn invalid_signal(text: &str) -> ! {
    TOOL.fail(&format!("'{text}': invalid signal"))
}

/// `kill -l [SIGNAL]...`.
fn list(operands: &[String], mut out: Output) -> ! {
    if operands.is_empty() {
        for (signal, _) in cella_process::SIGNAL_NAMES {
            let _ = writeln!(out, "{signal}");
        }
        out.exit(0);
    }
    let mut status = 0;
    for operand in operands {
        let converted = match operand.parse::<u32>() {
            // An exit status of a signalled process names the signal, as in GNU.
            Ok(n) => name(if n > SIGNAL_STATUS_BASE {
                n - SIGNAL_STATUS_BASE
            } else {
                n
            })
            .map(str::to_string),
            Err(_) => number(operand).map(|n| n.to_string()),
        };
        match converted {
            Some(text) => {
                let _ = writeln!(out, "{text}");
            }
            None => {
                out.flush_now();
                TOOL.warn(&format!("'{operand}': invalid signal"));
                status = 1;
            }
        }
    }
    out.exit(status)
}

fn main() {
    let mut args = args().into_iter().peekable();
    let mut signal = None;
    // Options come first; once a signal is given, what follows are PIDs, negative or not.
    while signal.is_none() {
        let Some(arg) = args.next_if(|a| a.len() > 1 && a.starts_with('-')) else {
            break;
        };
        match arg.as_str() {
            "--" => break,
            "-l" => list(&args.collect::<Vec<_>>(), TOOL.output()),
            "-L" => {
                let mut out = TOOL.output();
                for (name, n) in cella_process::SIGNAL_NAMES {
                    let _ = writeln!(out, "{n:>2} {name}");
                }
                out.exit(0);
            }
            "-s" | "-n" => {
                let value = args.next().unwrap_or_else(|| {
                    TOOL.usage_error(&format!("option requires an argument -- '{}'", &arg[1..]))
                });
                signal = Some(number(&value).unwrap_or_else(|| invalid_signal(&value)));
            }
            _ if arg.starts_with("--") => {
                TOOL.usage_error(&format!("unrecognized option '{arg}'"));
            }
            _ => {
                let text = &arg[1..];
                signal = Some(number(text).unwrap_or_else(|| invalid_signal(text)));
            }
        }
    }
    let signal = signal.unwrap_or(cella_process::SIGTERM);
    let pids: Vec<String> = args.collect();
    if pids.is_empty() {
        TOOL.usage_error("no process ID specified");
    }
    let mut status = 0;
    for text in &pids {
        let Ok(pid) = text.parse::<i32>() else {
            TOOL.warn(&format!("failed to parse argument: '{text}'"));
            status = 1;
            continue;
        };
        if let Err(e) = cella_process::kill(pid, signal) {
            // ESRCH reads `No such process`, as in procps and bash.
            TOOL.warn(&format!("({pid}) - {}", describe(&e)));
            status = 1;
        }
    }
    std::process::exit(status);
}
