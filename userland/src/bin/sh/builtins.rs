//! The builtins: commands that change the shell itself (`cd`, `exit`, `export`, `unset`,
//! `set`, `shift`, `.`, `eval`, `trap`, `read`, `break`/`continue`/`return`), report on it
//! (`pwd`, `jobs`) or act on its jobs (`wait`, `fg`, `bg`, `kill` with `%JOB`; job control
//! itself is in `jobs.rs`), plus `test`/`[`, `true`, `false` and `:`. They write into an
//! [`Output`] that the caller sends where the command's streams go.

use std::io;

use cella_process::Pid;
use cella_userland::describe;
use shell_core::expand::Env;
use shell_core::path::logical as normalise;
use shell_core::syntax::{ParseError, is_name, parse};

use super::{Jump, NOT_FOUND, SHELL_ERROR, Shell, Variable, job_state};

/// `$?` for a bad use of a builtin.
const USAGE: i32 = 2;

/// The builtins: commands the shell runs itself because they change it or report on it.
const BUILTINS: &[&str] = &[
    "cd", "pwd", "exit", "export", "unset", "wait", "jobs", "fg", "bg", "kill", "true", "false",
    ":", ".", "source", "break", "continue", "return", "shift", "read", "set", "trap", "test", "[",
    "eval",
];

/// POSIX's special builtins: assignments before them stay after them.
const SPECIAL: &[&str] = &[
    ":", ".", "break", "continue", "eval", "exit", "export", "return", "set", "shift", "trap",
    "unset",
];

/// The conditions `trap` knows: the shell's exit and Ctrl-C (on Cella a program cannot
/// catch other signals).
const TRAP_CONDITIONS: &[(&str, &str)] = &[("EXIT", "0"), ("INT", "2")];

pub(super) fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

pub(super) fn is_special(name: &str) -> bool {
    SPECIAL.contains(&name)
}

/// A builtin's output, written where its streams go once it is done.
pub(super) struct Output {
    pub(super) out: Vec<u8>,
    pub(super) err: Vec<u8>,
    /// What error messages start with (`sh: 3: `).
    prefix: String,
}

impl Output {
    pub(super) fn new(prefix: String) -> Output {
        Output {
            out: Vec::new(),
            err: Vec::new(),
            prefix,
        }
    }

    pub(super) fn line(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.push(b'\n');
    }

    pub(super) fn error(&mut self, text: &str) {
        self.err.extend_from_slice(self.prefix.as_bytes());
        self.err.extend_from_slice(text.as_bytes());
        self.err.push(b'\n');
    }
}

/// A loop count or status argument: a non-negative number.
fn count(arg: Option<&String>) -> Option<Option<usize>> {
    match arg {
        None => Some(None),
        Some(arg) => arg.parse().ok().map(Some),
    }
}

impl Shell {
    /// Runs builtin `fields[0]`; `exit` in a pipeline of several commands only sets `$?`.
    pub(super) fn builtin(
        &mut self,
        fields: &[String],
        in_pipeline: bool,
        output: &mut Output,
    ) -> i32 {
        let args = &fields[1..];
        match fields[0].as_str() {
            "true" | ":" => 0,
            "false" => 1,
            "pwd" => {
                output.line(&self.pwd());
                0
            }
            "cd" => self.cd(args, output),
            "exit" => {
                let status = match args.first() {
                    None => self.status,
                    Some(arg) => match arg.parse::<i64>() {
                        Ok(n) => (n & 0xff) as i32,
                        Err(_) => {
                            output.error(&format!("exit: Illegal number: {arg}"));
                            USAGE
                        }
                    },
                };
                if !in_pipeline {
                    self.exit_requested = Some(status);
                }
                status
            }
            "export" => self.export(args, output),
            "unset" => {
                let functions = args.first().is_some_and(|a| a == "-f");
                let names = args.iter().skip(usize::from(
                    args.first().is_some_and(|a| a == "-f" || a == "-v"),
                ));
                for name in names {
                    if functions {
                        self.functions.remove(name);
                    } else {
                        self.vars.remove(name);
                    }
                }
                0
            }
            "jobs" => {
                self.reap();
                let count = self.jobs.len();
                for (i, job) in self.jobs.iter().enumerate() {
                    let mark = match count - i {
                        1 => '+',
                        2 => '-',
                        _ => ' ',
                    };
                    let suffix = if job.done() || job.stopped() {
                        ""
                    } else {
                        " &"
                    };
                    output.line(&format!(
                        "[{}]{mark}  {}  {}{suffix}",
                        job.id,
                        job_state(job),
                        job.text
                    ));
                }
                self.jobs.retain(|job| !job.done());
                0
            }
            "wait" => self.wait_builtin(args, output),
            "fg" => self.fg(args, output),
            "bg" => self.bg(args, output),
            "kill" => self.kill(args, output),
            name @ ("break" | "continue") => {
                let Some(n) = count(args.first()).filter(|n| *n != Some(0)) else {
                    output.error(&format!("{name}: Illegal number: {}", args[0]));
                    return USAGE;
                };
                if self.loops > 0 {
                    let n = n.unwrap_or(1).min(self.loops);
                    self.jump = Some(if name == "break" {
                        Jump::Break(n)
                    } else {
                        Jump::Continue(n)
                    });
                }
                0
            }
            "return" => {
                let Some(n) = count(args.first()) else {
                    output.error(&format!("return: Illegal number: {}", args[0]));
                    return USAGE;
                };
                let status = n.map_or(self.status, |n| (n & 0xff) as i32);
                if self.functions_running > 0 {
                    self.jump = Some(Jump::Return);
                } else {
                    // As dash: `return` outside a function ends the shell.
                    self.exit_requested = Some(status);
                }
                status
            }
            "shift" => {
                let Some(n) = count(args.first()) else {
                    output.error(&format!("shift: Illegal number: {}", args[0]));
                    return USAGE;
                };
                let n = n.unwrap_or(1);
                if n > self.positional.len() {
                    output.error("shift: can't shift that many");
                    if !self.interactive {
                        self.exit_requested = Some(SHELL_ERROR);
                    }
                    return SHELL_ERROR;
                }
                self.positional.drain(..n);
                0
            }
            "set" => self.set(args, output),
            "." | "source" => self.dot(args, output),
            "eval" => {
                let text = args.join(" ");
                self.run_nested(&text, output)
            }
            "trap" => self.trap(args, output),
            "read" => self.read(args, output),
            "test" => super::test::test(args, output),
            "[" => match args.split_last() {
                Some((last, rest)) if last == "]" => super::test::test(rest, output),
                _ => {
                    output.error("[: missing ]");
                    USAGE
                }
            },
            other => unreachable!("{other} is not a builtin"),
        }
    }

    /// Parses and runs `text` in this shell (`eval`, `.`); its status.
    fn run_nested(&mut self, text: &str, output: &mut Output) -> i32 {
        match parse(text) {
            // An empty text succeeds; otherwise `$?` stays the one before until a command runs.
            Ok(program) if program.is_empty() => 0,
            Ok(program) => {
                self.run_list(&program);
                self.status
            }
            Err(e) => {
                let e = match e {
                    ParseError::Incomplete => e.to_string(),
                    other => other.to_string(),
                };
                output.error(&e);
                if !self.interactive {
                    self.exit_requested = Some(SHELL_ERROR);
                }
                SHELL_ERROR
            }
        }
    }

    /// `. FILE [ARGS]`: runs FILE (found through `PATH`, then in the current directory if it
    /// has no `/`) in this shell.
    fn dot(&mut self, args: &[String], output: &mut Output) -> i32 {
        let Some(file) = args.first() else {
            output.error(".: filename argument required");
            return USAGE;
        };
        let path = if file.contains('/') {
            Some(std::path::PathBuf::from(file))
        } else {
            self.find(file)
                .or_else(|| Some(std::path::PathBuf::from(file)))
        };
        let text = match path.map(std::fs::read_to_string) {
            Some(Ok(text)) => text,
            Some(Err(e)) => {
                output.error(&format!(".: cannot open {file}: {}", describe(&e)));
                if !self.interactive {
                    self.exit_requested = Some(SHELL_ERROR);
                }
                return SHELL_ERROR;
            }
            None => return NOT_FOUND,
        };
        let saved =
            (args.len() > 1).then(|| std::mem::replace(&mut self.positional, args[1..].to_vec()));
        let saved_base = std::mem::replace(&mut self.line_base, 0);
        self.functions_running += 1;
        let status = self.run_nested(&text, output);
        self.functions_running -= 1;
        self.line_base = saved_base;
        if let Some(saved) = saved {
            self.positional = saved;
        }
        if self.jump == Some(Jump::Return) {
            self.jump = None;
            return self.status;
        }
        status
    }

    /// `set [-eux] [+eux] [-o NAME] [--] [ARG...]`; alone, lists the variables.
    fn set(&mut self, args: &[String], output: &mut Output) -> i32 {
        if args.is_empty() {
            for (name, var) in &self.vars {
                output.line(&format!("{name}={}", super::quote(&var.value)));
            }
            return 0;
        }
        let mut i = 0;
        while let Some(arg) = args.get(i) {
            let on = arg.starts_with('-');
            if arg == "--" || arg == "-" {
                i += 1;
                self.positional = args[i..].to_vec();
                return 0;
            }
            if !(on || arg.starts_with('+')) || arg.len() < 2 {
                break;
            }
            i += 1;
            for letter in arg[1..].chars() {
                let name = if letter == 'o' {
                    let Some(name) = args.get(i) else {
                        output.error("set: -o: option requires an argument");
                        return USAGE;
                    };
                    i += 1;
                    name.as_str()
                } else {
                    match letter {
                        'e' => "errexit",
                        'u' => "nounset",
                        'x' => "xtrace",
                        _ => {
                            output.error(&format!("set: Illegal option {}{letter}", &arg[..1]));
                            return USAGE;
                        }
                    }
                };
                match name {
                    "errexit" => self.options.errexit = on,
                    "nounset" => self.options.nounset = on,
                    "xtrace" => self.options.xtrace = on,
                    _ => {
                        output.error(&format!("set: Illegal option -o {name}"));
                        return USAGE;
                    }
                }
            }
        }
        if i < args.len() {
            self.positional = args[i..].to_vec();
        }
        0
    }

    /// `trap [ACTION CONDITION...]`, `trap - CONDITION...`; alone, lists the traps.
    fn trap(&mut self, args: &[String], output: &mut Output) -> i32 {
        let Some(action) = args.first() else {
            for (condition, action) in &self.traps {
                output.line(&format!("trap -- {} {condition}", super::quote(action)));
            }
            return 0;
        };
        // `trap 2` (a number alone) resets, as `trap - 2`.
        let (action, conditions) =
            if TRAP_CONDITIONS.iter().any(|(_, n)| n == action) && args.len() == 1 {
                ("-", args)
            } else {
                (action.as_str(), &args[1..])
            };
        let mut status = 0;
        for condition in conditions {
            let name = condition.trim_start_matches("SIG");
            let Some(&(name, _)) = TRAP_CONDITIONS
                .iter()
                .find(|(known, number)| known.eq_ignore_ascii_case(name) || number == &name)
            else {
                output.error(&format!("trap: {condition}: bad trap"));
                status = 1;
                continue;
            };
            if action == "-" {
                self.traps.remove(name);
            } else {
                self.traps.insert(name.to_string(), action.to_string());
            }
        }
        status
    }

    /// `read [-r] [NAME...]`: one line of stdin, split at `IFS` into the NAMEs (the last
    /// takes the rest; `REPLY` without names). Status 1 at end of input.
    fn read(&mut self, args: &[String], output: &mut Output) -> i32 {
        let raw = args.first().is_some_and(|a| a == "-r");
        let names: Vec<String> = args[usize::from(raw)..].to_vec();
        let names = if names.is_empty() {
            vec!["REPLY".to_string()]
        } else {
            names
        };
        if let Some(bad) = names.iter().find(|n| !is_name(n)) {
            output.error(&format!("read: {bad}: bad variable name"));
            return USAGE;
        }
        let input = self.streams[0].clone();
        // Characters of the line, each marked with whether a backslash protected it.
        let mut line: Vec<(char, bool)> = Vec::new();
        let mut bytes = Vec::new();
        let mut ended = false;
        let mut escaped = false;
        while let Some(byte) = input.read_byte() {
            if byte == b'\n' && !escaped {
                ended = true;
                break;
            }
            if byte == b'\\' && !raw && !escaped {
                escaped = true;
                continue;
            }
            if escaped && byte == b'\n' {
                escaped = false;
                continue;
            }
            bytes.push((byte, escaped));
            escaped = false;
        }
        let text: Vec<u8> = bytes.iter().map(|(b, _)| *b).collect();
        let text = String::from_utf8_lossy(&text).into_owned();
        // Escapes are only ever ASCII, so marks line up with chars of ASCII bytes.
        let marks: Vec<bool> = bytes
            .iter()
            .filter(|(b, _)| (b & 0xc0) != 0x80)
            .map(|(_, e)| *e)
            .collect();
        for (c, &mark) in text
            .chars()
            .zip(marks.iter().chain(std::iter::repeat(&false)))
        {
            line.push((c, mark));
        }
        let ifs = self.var("IFS").unwrap_or_else(|| " \t\n".into());
        let is_sep = |&(c, escaped): &(char, bool)| !escaped && ifs.contains(c);
        let is_white = |p: &(char, bool)| is_sep(p) && " \t\n".contains(p.0);
        let mut rest: &[(char, bool)] = &line;
        for (i, name) in names.iter().enumerate() {
            while rest.first().is_some_and(is_white) {
                rest = &rest[1..];
            }
            let value: String = if i + 1 == names.len() {
                let mut end = rest.len();
                while end > 0 && is_white(&rest[end - 1]) {
                    end -= 1;
                }
                let value = rest[..end].iter().map(|&(c, _)| c).collect();
                rest = &[];
                value
            } else {
                let end = rest.iter().position(is_sep).unwrap_or(rest.len());
                let value = rest[..end].iter().map(|&(c, _)| c).collect();
                rest = &rest[end..];
                // One non-white separator (with white space around it) ends this field.
                while rest.first().is_some_and(is_white) {
                    rest = &rest[1..];
                }
                if rest.first().is_some_and(|p| is_sep(p) && !is_white(p)) {
                    rest = &rest[1..];
                }
                value
            };
            self.set_var(name, value);
        }
        i32::from(!ended)
    }

    fn export(&mut self, args: &[String], output: &mut Output) -> i32 {
        if args.is_empty() || args[0] == "-p" {
            for (name, var) in self.vars.iter().filter(|(_, v)| v.exported) {
                output.line(&format!("export {name}={}", super::quote(&var.value)));
            }
            return 0;
        }
        let mut status = 0;
        for arg in args {
            let (name, value) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (arg.as_str(), None),
            };
            if !is_name(name) {
                output.error(&format!("export: {arg}: bad variable name"));
                status = 1;
                continue;
            }
            let var = self.vars.entry(name.to_string()).or_insert(Variable {
                value: String::new(),
                exported: true,
            });
            var.exported = true;
            if let Some(value) = value {
                var.value = value;
            }
        }
        status
    }

    fn cd(&mut self, args: &[String], output: &mut Output) -> i32 {
        let (target, show) = match args.first().map(String::as_str) {
            None => (
                self.var("HOME")
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "/".into()),
                false,
            ),
            Some("-") => match self.var("OLDPWD") {
                Some(old) => (old, true),
                None => {
                    output.error("cd: OLDPWD not set");
                    return 1;
                }
            },
            Some(dir) => (dir.to_string(), false),
        };
        let old = self.pwd();
        let new = normalise(&old, &target);
        let result = std::fs::metadata(&new).and_then(|meta| {
            if meta.is_dir() {
                std::env::set_current_dir(&new)
            } else {
                /// preview1's `ENOTDIR`.
                const ENOTDIR: i32 = 54;
                Err(io::Error::from_raw_os_error(ENOTDIR))
            }
        });
        if result.is_err() {
            // dash words it without the reason, and fails with 2.
            output.error(&format!("cd: can't cd to {target}"));
            return USAGE;
        }
        if show {
            output.line(&new);
        }
        for (name, value) in [("OLDPWD", old), ("PWD", new)] {
            self.set_var(name, value);
            if let Some(var) = self.vars.get_mut(name) {
                var.exported = true;
            }
        }
        0
    }

    /// `wait`: every job (status 0), or the jobs and pids given (the last one's status).
    fn wait_builtin(&mut self, args: &[String], output: &mut Output) -> i32 {
        if args.is_empty() {
            while let Some(index) = self.unstopped_job() {
                self.foreground(index);
            }
            return 0;
        }
        let mut status = 0;
        for arg in args {
            let index = if arg.starts_with('%') {
                self.job_index("wait", Some(arg), output)
            } else {
                match arg.parse::<Pid>() {
                    Ok(pid) => {
                        let index = self
                            .jobs
                            .iter()
                            .position(|job| job.processes.iter().any(|(p, _)| *p == pid));
                        if index.is_none() {
                            // A child that is not a job (already reported, say).
                            status = match cella_process::wait(Some(pid), false) {
                                Ok(Some((_, s))) => s.code(),
                                _ => {
                                    output.error(&format!(
                                        "wait: pid {pid} is not a child of this shell"
                                    ));
                                    NOT_FOUND
                                }
                            };
                            continue;
                        }
                        index
                    }
                    Err(_) => {
                        output.error(&format!("wait: '{arg}': not a pid or valid job spec"));
                        status = USAGE;
                        continue;
                    }
                }
            };
            status = match index {
                Some(index) => self.wait_job(index),
                None => NOT_FOUND,
            };
        }
        status
    }

    /// `kill [-SIGNAL] PID|%JOB...`: a builtin so that it knows the jobs; a job is signalled
    /// process by process, since without job control it shares the shell's process group.
    fn kill(&mut self, args: &[String], output: &mut Output) -> i32 {
        let mut signal = cella_process::SIGTERM;
        let mut targets = args;
        if let Some(name) = args.first().and_then(|a| a.strip_prefix('-')) {
            let name = name.trim_start_matches("SIG");
            match name
                .parse::<u32>()
                .ok()
                .or_else(|| cella_process::signal_number(name))
            {
                Some(number) => signal = number,
                None => {
                    output.error(&format!("kill: {name}: invalid signal specification"));
                    return 1;
                }
            }
            targets = &args[1..];
        }
        if targets.is_empty() {
            output.error("kill: usage: kill [-SIGNAL] PID|%JOB...");
            return USAGE;
        }
        let mut status = 0;
        for target in targets {
            let pids: Vec<Pid> = if target.starts_with('%') {
                match self.job_index("kill", Some(target), output) {
                    Some(index) => self.jobs[index]
                        .processes
                        .iter()
                        .filter(|(_, s)| !s.is_some_and(cella_process::Status::ended))
                        .map(|(pid, _)| *pid)
                        .collect(),
                    None => {
                        status = 1;
                        continue;
                    }
                }
            } else {
                match target.parse::<Pid>() {
                    Ok(pid) => vec![pid],
                    Err(_) => {
                        output.error(&format!(
                            "kill: {target}: arguments must be process or job IDs"
                        ));
                        status = 1;
                        continue;
                    }
                }
            };
            for &pid in &pids {
                if let Err(e) = cella_process::kill(pid as i32, signal) {
                    output.error(&format!("kill: ({pid}) - {}", describe(&e)));
                    status = 1;
                }
            }
            if signal == cella_process::SIGCONT {
                self.mark_continued(&pids);
            }
        }
        status
    }

    /// The index of job `spec` (`%N`, or the newest when `None`), reporting a bad one as an
    /// error of `builtin`.
    pub(super) fn job_index(
        &self,
        builtin: &str,
        spec: Option<&str>,
        output: &mut Output,
    ) -> Option<usize> {
        let found = match spec {
            None => self.jobs.len().checked_sub(1),
            Some(spec) => spec
                .trim_start_matches('%')
                .parse::<usize>()
                .ok()
                .and_then(|id| self.jobs.iter().position(|job| job.id == id)),
        };
        if found.is_none() {
            output.error(&format!(
                "{builtin}: {}: no such job",
                spec.unwrap_or("current")
            ));
        }
        found
    }
}
