//! `sh [FILE [ARG]...]`, `sh -c COMMAND [NAME [ARG]...]`: Cella's shell.
//!
//! With neither, it reads commands from stdin: interactively when stdin is the console (a
//! prompt, line editing with history in raw console mode, job control), else line by line
//! without a prompt. It exits with the status of the last command. The language (POSIX's
//! Shell Command Language: quoting, expansions, pipelines, lists, compound commands,
//! functions, redirections and here-documents) is parsed and expanded by `shell-core`;
//! running it is in `sh/run.rs`, the builtins in `sh/builtins.rs` and `sh/test.rs`. Errors
//! are worded as dash words them (`sh: 3: foo: not found`). This program uses
//! `cella_process`, so it runs only on Cella.

#[path = "sh/run.rs"]
mod run;

use std::collections::VecDeque;
use std::io::{self, IsTerminal, Write};

use cella_userland::{describe, read_stdin_unbuffered};
use run::Shell;
use shell_core::editor::{Editor, Outcome};
use shell_core::syntax::{ParseError, Script, parse};

/// The prompt for the rest of a command that continues on the next line.
const CONTINUATION_PROMPT: &str = "> ";
/// `$?` after Ctrl-C at the prompt, as if the line had been interrupted by SIGINT.
const INTERRUPTED: i32 = 130;
/// `$?` and exit status for a syntax error.
const SYNTAX_ERROR: i32 = 2;
/// The exit status when the script file cannot be read (dash's).
const NO_SCRIPT: i32 = 127;

/// What reading one line gave.
enum Input {
    Line(String),
    /// Ctrl-C at the prompt.
    Interrupt,
    Eof,
}

/// Where commands come from.
enum Source {
    /// Stdin that is not the console, read a byte at a time so that the commands run get
    /// the rest of it.
    Stdin,
    /// The console, edited in raw mode (plain cooked lines if raw mode is refused).
    Console {
        editor: Editor,
        /// Bytes typed ahead of the line just ended.
        pending: VecDeque<u8>,
        raw: bool,
    },
}

/// One line from stdin without std's buffering; `None` at end of input.
fn read_plain_line() -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8];
    loop {
        match read_stdin_unbuffered(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => return Some(String::from_utf8_lossy(&line).into_owned()),
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    (!line.is_empty()).then(|| String::from_utf8_lossy(&line).into_owned())
}

fn show(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

impl Source {
    fn next(&mut self, prompt: &str) -> Input {
        match self {
            Source::Stdin => read_plain_line().map_or(Input::Eof, Input::Line),
            Source::Console {
                editor,
                pending,
                raw,
            } => {
                if *raw && cella_process::set_console_raw(true).is_err() {
                    *raw = false;
                }
                if !*raw {
                    show(prompt.as_bytes());
                    return read_plain_line().map_or(Input::Eof, Input::Line);
                }
                // The console stays raw while the shell runs its own commands: only a job
                // given the console gets cooked input (see `Shell::give_console`).
                edit(editor, pending, prompt)
            }
        }
    }
}

/// Edits one line on the raw console.
fn edit(editor: &mut Editor, pending: &mut VecDeque<u8>, prompt: &str) -> Input {
    let mut out = Vec::new();
    editor.begin(prompt, &mut out);
    let mut buf = [0u8; 64];
    loop {
        let Some(byte) = pending.pop_front() else {
            show(&out);
            out.clear();
            match read_stdin_unbuffered(&mut buf) {
                Ok(0) => return Input::Eof,
                Ok(n) => pending.extend(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Input::Eof,
            }
            continue;
        };
        if let Some(outcome) = editor.feed(byte, &mut out) {
            show(&out);
            return match outcome {
                Outcome::Line(line) => Input::Line(line),
                Outcome::Interrupt => Input::Interrupt,
                Outcome::Eof => {
                    show(b"exit\n");
                    Input::Eof
                }
            };
        }
    }
}

/// Reads, parses and runs commands until end of input or `exit`; returns the exit status.
/// Lines are gathered until they parse (a construct may span many), then run.
fn run(shell: &mut Shell, mut source: Source) -> i32 {
    let mut text = String::new();
    // Lines read before `text`: the line base of what it holds.
    let mut lines_before = shell.line_base;
    let mut lines_in_text = 0;
    loop {
        let continuing = !text.is_empty();
        let prompt = if continuing {
            shell.var_or("PS2", CONTINUATION_PROMPT)
        } else {
            if shell.interactive {
                shell.notify();
            } else {
                shell.reap();
            }
            format!("cella:{}$ ", shell.pwd())
        };
        match source.next(&prompt) {
            Input::Eof => {
                if continuing {
                    shell.line_base = lines_before;
                    report_syntax_error(shell, &ParseError::Incomplete, lines_in_text);
                    if shell.interactive {
                        text.clear();
                        lines_before += lines_in_text;
                        lines_in_text = 0;
                        shell.status = SYNTAX_ERROR;
                        continue;
                    }
                    return SYNTAX_ERROR;
                }
                return shell.status;
            }
            Input::Interrupt => {
                text.clear();
                lines_before += lines_in_text;
                lines_in_text = 0;
                shell.status = INTERRUPTED;
                shell.interrupted();
                continue;
            }
            Input::Line(line) => {
                text.push_str(&line);
                text.push('\n');
                lines_in_text += 1;
            }
        }
        shell.line_base = lines_before;
        match parse(&text) {
            Err(ParseError::Incomplete) => continue,
            Err(e) => {
                report_syntax_error(shell, &e, lines_in_text);
                shell.status = SYNTAX_ERROR;
                if !shell.interactive {
                    return SYNTAX_ERROR;
                }
            }
            Ok(program) => shell.run(&program),
        }
        text.clear();
        lines_before += lines_in_text;
        lines_in_text = 0;
        if let Some(status) = shell.exit_requested {
            return status;
        }
    }
}

/// Reports a syntax error as dash does (`sh: 2: Syntax error: "fi" unexpected`).
fn report_syntax_error(shell: &Shell, error: &ParseError, lines_in_text: usize) {
    // The end of input is on the line after the last one read.
    let line = shell.line_base + error.line().unwrap_or(lines_in_text + 1);
    eprintln!("{}: {line}: {error}", shell.name());
}

/// Runs a script (`-c COMMAND` or a file) command by command; returns the exit status. A
/// syntax error ends it with status 2 after the commands before it have run, as in dash.
fn run_script(shell: &mut Shell, text: &str) -> i32 {
    let mut script = Script::new(text);
    loop {
        shell.reap();
        match script.next_command() {
            Ok(None) => return shell.status,
            Ok(Some(program)) => shell.run(&program),
            Err(e) => {
                report_syntax_error(shell, &e, script.end_line() - 1);
                return SYNTAX_ERROR;
            }
        }
        if let Some(status) = shell.exit_requested {
            return status;
        }
    }
}

/// Runs the EXIT trap and leaves with the shell's exit status.
fn finish(shell: &mut Shell, status: i32) -> ! {
    shell.exit_requested = Some(status);
    shell.exit_trap();
    let status = shell.exit_requested.unwrap_or(status);
    if shell.interactive {
        let _ = cella_process::set_console_raw(false);
    }
    let _ = io::stdout().flush();
    std::process::exit(status);
}

fn main() {
    // A shell started in a directory (a `.` preopen) keeps absolute paths too.
    cella_userland::enter_working_directory();
    let mut args: Vec<String> = std::env::args().collect();
    let arg0 = args.first().cloned().unwrap_or_else(|| "sh".into());
    // A subshell started by another shell: `sh --subshell=STATUS,PID,LINE -c ...`.
    let subshell = match args.get(1) {
        Some(option) if option.starts_with(run::SUBSHELL_OPTION) => {
            let spec = option[run::SUBSHELL_OPTION.len()..].to_string();
            args.remove(1);
            Some(spec)
        }
        _ => None,
    };
    match args.get(1).map(String::as_str) {
        Some("-c") => {
            let Some(command) = args.get(2) else {
                eprintln!("sh: -c requires an argument");
                std::process::exit(SYNTAX_ERROR);
            };
            let name = args.get(3).cloned().unwrap_or(arg0);
            let mut shell = Shell::new(name, args.iter().skip(4).cloned().collect(), false);
            if let Some(spec) = &subshell {
                shell.become_subshell(spec);
            }
            let status = run_script(&mut shell, command);
            finish(&mut shell, status)
        }
        Some(file) => {
            let mut shell = Shell::new(file.into(), args[2..].to_vec(), false);
            match std::fs::read_to_string(file) {
                Ok(script) => {
                    let status = run_script(&mut shell, &script);
                    finish(&mut shell, status)
                }
                Err(e) => {
                    eprintln!("sh: 0: cannot open {file}: {}", describe(&e));
                    std::process::exit(NO_SCRIPT);
                }
            }
        }
        None => {
            let interactive = io::stdin().is_terminal();
            let mut shell = Shell::new(arg0, Vec::new(), interactive);
            let source = if interactive {
                Source::Console {
                    editor: Editor::new(),
                    pending: VecDeque::new(),
                    raw: true,
                }
            } else {
                Source::Stdin
            };
            let status = run(&mut shell, source);
            finish(&mut shell, status)
        }
    }
}
