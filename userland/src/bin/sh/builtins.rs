//! The builtins: the commands the shell runs itself because they change the shell (`cd`,
//! `exit`, `export`, `unset`), report on it (`pwd`, `jobs`), act on its jobs (`wait`, `fg`,
//! `bg`, `kill` with `%JOB`; job control itself is in `jobs.rs`), or are too trivial to
//! spawn (`true`, `false`, `:`). They write into an [`Output`] that the caller sends where
//! the command's streams go.

use std::io;

use cella_process::Pid;
use cella_userland::describe;
use shell_core::expand::Env;
use shell_core::path::logical as normalise;
use shell_core::syntax::is_name;

use super::{NOT_FOUND, Shell, Variable, job_state};

/// `$?` for a bad use of a builtin.
const USAGE: i32 = 2;

/// The builtins: commands the shell runs itself because they change it or report on it.
const BUILTINS: &[&str] = &[
    "cd", "pwd", "exit", "export", "unset", "wait", "jobs", "fg", "bg", "kill", "true", "false",
    ":",
];

pub(super) fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// A builtin's output, written where its streams go once it is done.
#[derive(Default)]
pub(super) struct Output {
    pub(super) out: Vec<u8>,
    pub(super) err: Vec<u8>,
}

impl Output {
    pub(super) fn line(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.push(b'\n');
    }

    pub(super) fn error(&mut self, text: &str) {
        self.err.extend_from_slice(b"sh: ");
        self.err.extend_from_slice(text.as_bytes());
        self.err.push(b'\n');
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
                            output.error(&format!("exit: {arg}: numeric argument required"));
                            USAGE
                        }
                    },
                };
                if !in_pipeline {
                    self.exit_requested = Some(status);
                }
                status
            }
            "export" => {
                if args.is_empty() {
                    for (name, var) in self.vars.iter().filter(|(_, v)| v.exported) {
                        output.line(&format!(
                            "export {name}='{}'",
                            var.value.replace('\'', "'\\''")
                        ));
                    }
                }
                let mut status = 0;
                for arg in args {
                    let (name, value) = match arg.split_once('=') {
                        Some((name, value)) => (name, Some(value.to_string())),
                        None => (arg.as_str(), None),
                    };
                    if !is_name(name) {
                        output.error(&format!("export: '{arg}': not a valid identifier"));
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
            "unset" => {
                for arg in args {
                    self.vars.remove(arg);
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
            other => unreachable!("{other} is not a builtin"),
        }
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
        if let Err(e) = result {
            output.error(&format!("cd: {target}: {}", describe(&e)));
            return 1;
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
