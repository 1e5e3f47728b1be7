//! The shell's state and how it runs parsed commands: variables, functions and options,
//! word expansion against them, redirections, compound commands, pipelines of spawned
//! processes (one process group per job when job control is on), and the table of
//! background jobs. The builtins are in `builtins.rs`.
//!
//! Cella has no `fork`, so what POSIX runs in a subshell environment — `( )`, a compound
//! command or function in a pipeline of several commands or in the background — runs in a
//! child `sh` started with [`Shell::subshell_script`]: the parent's variables (exported or
//! not), functions and options as shell text before the command's own text, and its `$?`,
//! `$$`, line number, `$0` and positional parameters as arguments. `$(...)` runs in the
//! shell itself on a copy of its state, its output collected in a scratch file
//! ([`Shell::output_in_process`]), and in a child shell when that cannot be.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use builtins::{Output, is_builtin, is_special};
use cella_process::{Command as Process, Pid, SIGINT, SIGKILL, SIGTERM, Status, Stdio};
use cella_userland::{describe, read_stdin_unbuffered};
use shell_core::expand::{self, Env, ExpandError};
use shell_core::glob::{self, Dirs};
use shell_core::path::logical as normalise;
use shell_core::syntax::{
    AndOr, Command, Compound, Connector, Pipeline, Program, Redirect, RedirectOp, Simple, parse,
};

#[path = "builtins.rs"]
mod builtins;
#[path = "jobs.rs"]
mod jobs;
#[path = "test.rs"]
mod test;

/// `$?` for a command that was not found.
const NOT_FOUND: i32 = 127;
/// `$?` for a command that was found but could not be started.
const CANNOT_EXECUTE: i32 = 126;
/// `$?` after an expansion or redirection error, and the status a non-interactive shell
/// exits with after one, as dash does.
pub const SHELL_ERROR: i32 = 2;
/// preview1's `ENOEXEC`: what spawning a file that is not a WASI module fails with.
const ENOEXEC: i32 = 45;
/// How much of a file decides whether it is a script (text: no NUL byte).
const SCRIPT_SNIFF: usize = 256;
/// The search path when `PATH` is unset.
const DEFAULT_PATH: &str = "/bin";
/// The option by which a shell starts another as a subshell: `--subshell=STATUS,PID,LINE`
/// before `-c SCRIPT NAME ARGS...` (see [`Shell::subshell_script`]).
pub const SUBSHELL_OPTION: &str = "--subshell=";
/// The most bytes a here-document may have: it is written into a pipe before its reader
/// starts, so it must fit in one (wasi-abi's `PIPE_CAPACITY`).
const HERE_DOC_MAX: usize = 64 * 1024;

/// A shell variable.
struct Variable {
    value: String,
    exported: bool,
}

/// A function defined with `name() compound`.
struct Function {
    body: Rc<Command>,
    /// Its definition's text, for child shells.
    text: String,
    /// The script line its text starts on, less one (line numbers in it count from there).
    line_base: usize,
}

/// `set -e`, `-u`, `-x`.
#[derive(Clone, Copy, Default)]
pub struct Options {
    pub errexit: bool,
    pub nounset: bool,
    pub xtrace: bool,
}

impl Options {
    /// `$-`: the letters of the options that are on.
    fn letters(&self) -> String {
        [(self.errexit, 'e'), (self.nounset, 'u'), (self.xtrace, 'x')]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| *c)
            .collect()
    }
}

/// A pending change of control flow, set by `break`, `continue` and `return`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Jump {
    /// Leave this many enclosing loops.
    Break(usize),
    /// Leave this many minus one loops and start the next iteration of the last.
    Continue(usize),
    /// Leave the function or `.` script.
    Return,
}

/// A pipeline started in the background (`&`).
struct Job {
    /// Its number, `%N`.
    id: usize,
    /// Its processes and how each ended, once it has.
    processes: Vec<(Pid, Option<Status>)>,
    /// Its source text.
    text: String,
}

impl Job {
    fn done(&self) -> bool {
        self.processes
            .iter()
            .all(|(_, status)| status.is_some_and(Status::ended))
    }

    /// How its last process ended, if it has.
    fn status(&self) -> Option<Status> {
        self.processes.last().and_then(|(_, status)| *status)
    }
}

/// Where one of a command's standard streams goes.
#[derive(Clone)]
enum Target {
    /// The shell's own stream of this number.
    Shell(RawFd),
    /// A file or pipe end the shell opened for it.
    File(Rc<File>),
}

impl Target {
    fn stdio(&self, fd: RawFd) -> Stdio {
        match self {
            Target::Shell(own) if *own == fd => Stdio::Inherit,
            Target::Shell(own) => Stdio::Fd(*own),
            Target::File(file) => Stdio::Fd(file.as_raw_fd()),
        }
    }

    /// Writes a builtin's output here.
    fn write(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        // A builtin whose output cannot be written has nobody left to tell.
        let _ = match self {
            Target::Shell(2) => io::stderr().write_all(bytes),
            Target::Shell(_) => {
                let mut out = io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            Target::File(file) => (&**file).write_all(bytes),
        };
    }

    /// Reads one byte (for `read`, which must not take more than its line); `None` at end
    /// of input or on an error.
    fn read_byte(&self) -> Option<u8> {
        let mut byte = [0u8];
        loop {
            let result = match self {
                Target::Shell(0) => read_stdin_unbuffered(&mut byte),
                Target::Shell(_) => return None,
                Target::File(file) => (&**file).read(&mut byte),
            };
            match result {
                Ok(0) => return None,
                Ok(_) => return Some(byte[0]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }
}

/// The three standard streams of a command being set up.
type Streams = [Target; 3];

fn shell_streams() -> Streams {
    [Target::Shell(0), Target::Shell(1), Target::Shell(2)]
}

/// The shell: its variables, functions, parameters, options, status and jobs.
pub struct Shell {
    vars: BTreeMap<String, Variable>,
    functions: HashMap<String, Rc<Function>>,
    /// `$?`.
    pub status: i32,
    /// `$0`.
    arg0: String,
    /// `$1`...
    positional: Vec<String>,
    /// `$$`: this shell's pid, or for a subshell its parent's.
    pid: Pid,
    /// `$!`.
    last_background: Option<Pid>,
    pub options: Options,
    /// The commands `trap` set, by condition (`EXIT`, `INT`); an empty one ignores it.
    traps: BTreeMap<String, String>,
    jobs: Vec<Job>,
    /// Children reaped while looking for ended background jobs that belong to no job (a
    /// stage of the pipeline being started), kept for whoever waits for them.
    reaped: Vec<(Pid, Status)>,
    /// Whether job control is on: each job gets its own process group and the console's
    /// foreground, and jobs are reported.
    pub interactive: bool,
    /// The shell's own process group, given the console back after each job.
    own_group: Pid,
    /// Set by `exit` (and errors that end a non-interactive shell): the status to exit with.
    pub exit_requested: Option<i32>,
    /// The text of the command running in the foreground, for the job it becomes if stopped.
    foreground_text: String,
    jump: Option<Jump>,
    /// How many loops enclose the command running (for `break` and `continue`).
    loops: usize,
    /// How many functions and `.` scripts are running (for `return`).
    functions_running: usize,
    /// How many conditions (of `if`, `while`, `&&`, `!`...) enclose the command running:
    /// `set -e` ignores failures there.
    conditions: usize,
    /// The streams commands get unless redirected (changed by a compound's redirections).
    streams: Streams,
    /// Added to a command's line in the text being run to give `$LINENO`-style numbers.
    pub line_base: usize,
    /// The line of the command running, for error messages.
    line: usize,
    /// The status of the last command substitution, `$?` of a command without a name.
    substitution_status: Option<i32>,
    /// How many scratch files command substitutions have used (for unique names).
    scratch_files: usize,
}

impl Env for Shell {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "?" => Some(self.status.to_string()),
            "$" => Some(self.pid.to_string()),
            "!" => self.last_background.map(|pid| pid.to_string()),
            "0" => Some(self.arg0.clone()),
            "-" => Some(self.options.letters()),
            _ => self.vars.get(name).map(|v| v.value.clone()),
        }
    }

    fn positional(&self) -> &[String] {
        &self.positional
    }

    fn assign(&mut self, name: &str, value: String) -> Result<(), ExpandError> {
        self.set_var(name, value);
        Ok(())
    }

    fn substitute(&mut self, program: &Program, text: &str) -> Result<String, ExpandError> {
        if let Some(output) = self.output_in_process(program) {
            return Ok(output);
        }
        Ok(self.command_output(text))
    }

    fn nounset(&self) -> bool {
        self.options.nounset
    }
}

/// The real file system, for pathname expansion (relative to the current directory).
struct FileSystem;

impl Dirs for FileSystem {
    fn list(&self, dir: &str) -> Option<Vec<String>> {
        let entries = std::fs::read_dir(dir).ok()?;
        Some(
            entries
                .filter_map(|entry| entry.ok())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect(),
        )
    }
}

/// Whether the file at `path` looks like a shell script rather than a binary.
fn is_script(path: &Path) -> bool {
    let mut head = Vec::new();
    File::open(path)
        .and_then(|file| file.take(SCRIPT_SNIFF as u64).read_to_end(&mut head))
        .is_ok_and(|_| !head.contains(&0))
}

/// The message for a foreground job that ended this way, if it needs one.
fn death_message(status: Status) -> Option<String> {
    match status {
        Status::Signaled(SIGKILL) | Status::FuelExhausted => Some("Killed".into()),
        Status::Signaled(SIGTERM) => Some("Terminated".into()),
        Status::Signaled(SIGINT) => None,
        Status::Signaled(signal) => Some(format!("Signal {signal}")),
        Status::Exited(_) | Status::Trapped | Status::Stopped(_) => None,
    }
}

/// How `jobs` words a job's state.
fn job_state(job: &Job) -> String {
    if job.stopped() {
        return "Stopped".into();
    }
    match job.status() {
        None => "Running".into(),
        Some(Status::Exited(0)) => "Done".into(),
        Some(Status::Exited(code)) => format!("Exit {}", code & 0xff),
        Some(other) => death_message(other).unwrap_or_else(|| "Interrupt".into()),
    }
}

/// `value` in single quotes, as shell text that gives it back.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// Whether `program` has a command ending in `&` anywhere in it.
fn starts_background_jobs(program: &Program) -> bool {
    fn in_command(command: &Command) -> bool {
        match command {
            Command::Simple(_) => false,
            Command::Function { .. } => false,
            Command::Compound { body, .. } => match body {
                Compound::Group(p) => starts_background_jobs(p),
                Compound::Subshell { .. } => false,
                Compound::If {
                    branches,
                    otherwise,
                } => {
                    branches
                        .iter()
                        .any(|(c, b)| starts_background_jobs(c) || starts_background_jobs(b))
                        || otherwise.as_ref().is_some_and(starts_background_jobs)
                }
                Compound::Loop {
                    condition, body, ..
                } => starts_background_jobs(condition) || starts_background_jobs(body),
                Compound::For { body, .. } => starts_background_jobs(body),
                Compound::Case { arms, .. } => {
                    arms.iter().any(|arm| starts_background_jobs(&arm.body))
                }
            },
        }
    }
    program.iter().any(|and_or| {
        and_or.background
            || std::iter::once(&and_or.first)
                .chain(and_or.rest.iter().map(|(_, p)| p))
                .flat_map(|p| &p.commands)
                .any(in_command)
    })
}

/// The state a builtin in a pipeline must leave as it found it.
struct Snapshot {
    vars: Vec<(String, String, bool)>,
    positional: Vec<String>,
    options: Options,
}

/// What running a simple command did.
enum Ran {
    /// It started this process.
    Spawned(Pid),
    /// It finished in the shell with this status (a builtin, an error, assignments only).
    Status(i32),
}

impl Shell {
    /// A shell with the process's environment as exported variables, `PWD` set to the
    /// directory it starts in (from `PWD` if that names a directory, else `/`).
    pub fn new(arg0: String, positional: Vec<String>, interactive: bool) -> Shell {
        let mut vars: BTreeMap<String, Variable> = std::env::vars()
            .map(|(name, value)| {
                (
                    name,
                    Variable {
                        value,
                        exported: true,
                    },
                )
            })
            .collect();
        let pwd = vars
            .get("PWD")
            .map(|v| v.value.clone())
            .filter(|pwd| pwd.starts_with('/') && std::env::set_current_dir(pwd).is_ok())
            .map_or_else(|| "/".to_string(), |pwd| normalise("/", &pwd));
        if pwd == "/" {
            let _ = std::env::set_current_dir("/");
        }
        vars.insert(
            "PWD".into(),
            Variable {
                value: pwd,
                exported: true,
            },
        );
        let pid = cella_process::pid();
        let own_group = if interactive {
            cella_process::processes()
                .ok()
                .and_then(|all| all.into_iter().find(|p| p.pid == pid))
                .map_or(pid, |p| p.pgid)
        } else {
            pid
        };
        if interactive {
            // Raw before taking the foreground: see `take_console`.
            let _ = cella_process::set_console_raw(true);
            let _ = cella_process::set_foreground(own_group);
        }
        Shell {
            vars,
            functions: HashMap::new(),
            status: 0,
            arg0,
            positional,
            pid,
            last_background: None,
            options: Options::default(),
            traps: BTreeMap::new(),
            jobs: Vec::new(),
            reaped: Vec::new(),
            interactive,
            own_group,
            exit_requested: None,
            foreground_text: String::new(),
            jump: None,
            loops: 0,
            functions_running: 0,
            conditions: 0,
            streams: shell_streams(),
            line_base: 0,
            line: 0,
            substitution_status: None,
            scratch_files: 0,
        }
    }

    /// Makes this shell the subshell its parent described with `--subshell=STATUS,PID,LINE`.
    pub fn become_subshell(&mut self, spec: &str) {
        let mut parts = spec.split(',');
        if let Some(status) = parts.next().and_then(|s| s.parse().ok()) {
            self.status = status;
        }
        if let Some(pid) = parts.next().and_then(|s| s.parse().ok()) {
            self.pid = pid;
        }
        if let Some(line) = parts.next().and_then(|s| s.parse::<i64>().ok()) {
            // The script's first lines are the parent's state, not the user's text.
            self.line_base = usize::try_from(line).unwrap_or(0);
        }
    }

    /// A variable's value, or `default` when it is unset.
    pub fn var_or(&self, name: &str, default: &str) -> String {
        self.var(name).unwrap_or_else(|| default.into())
    }

    /// `$0`, which error messages start with.
    pub fn name(&self) -> &str {
        &self.arg0
    }

    /// The current directory, as `PWD` says.
    pub fn pwd(&self) -> String {
        self.var("PWD").unwrap_or_else(|| "/".into())
    }

    fn set_var(&mut self, name: &str, value: String) {
        match self.vars.get_mut(name) {
            Some(var) => var.value = value,
            None => {
                self.vars.insert(
                    name.to_string(),
                    Variable {
                        value,
                        exported: false,
                    },
                );
            }
        }
    }

    /// The prefix of an error message, as dash words it: `sh: 3: `.
    pub fn error_prefix(&self) -> String {
        format!("{}: {}: ", self.arg0, self.line)
    }

    /// Reports an error of the shell itself on stderr.
    fn error(&self, message: &str) {
        let _ = io::stdout().flush();
        self.streams[2].write(format!("{}{message}\n", self.error_prefix()).as_bytes());
    }

    /// An expansion or redirection error: reported, `$?` 2, and the end of a
    /// non-interactive shell.
    fn fatal(&mut self, message: &str) -> i32 {
        self.error(message);
        if !self.interactive {
            self.exit_requested = Some(SHELL_ERROR);
        }
        SHELL_ERROR
    }

    /// Whether the running list must stop: `exit`, or a pending `break`/`continue`/`return`.
    fn stopping(&self) -> bool {
        self.exit_requested.is_some() || self.jump.is_some()
    }

    /// Runs a parsed program (a chunk of script whose first line is `line_base + 1`).
    pub fn run(&mut self, program: &Program) {
        self.run_list(program);
    }

    /// Runs a list of and-or chains; `$?` is the last one's status.
    fn run_list(&mut self, program: &Program) {
        for and_or in program {
            if self.stopping() {
                return;
            }
            if and_or.background {
                self.status = self.background(and_or);
                continue;
            }
            self.foreground_text.clone_from(&and_or.text);
            let (status, checked) = self.and_or(and_or);
            self.status = status;
            if status != 0
                && checked
                && self.options.errexit
                && self.conditions == 0
                && self.exit_requested.is_none()
            {
                self.exit_requested = Some(status);
            }
        }
    }

    /// Runs a list as a condition (`set -e` does not apply) and returns its status.
    fn condition(&mut self, program: &Program) -> i32 {
        self.conditions += 1;
        self.run_list(program);
        self.conditions -= 1;
        self.status
    }

    /// Runs an and-or chain; the status, and whether `set -e` applies to it (its last
    /// pipeline ran and was not negated).
    fn and_or(&mut self, and_or: &AndOr) -> (i32, bool) {
        let last_index = and_or.rest.len();
        let mut checked = false;
        let mut run_one = |shell: &mut Shell, pipeline: &Pipeline, index: usize| {
            let last = index == last_index;
            if !last {
                shell.conditions += 1;
            }
            let status = shell.pipeline(pipeline, None);
            if !last {
                shell.conditions -= 1;
            }
            checked = last && !pipeline.negated;
            status
        };
        let mut status = run_one(self, &and_or.first, 0);
        for (i, (connector, pipeline)) in and_or.rest.iter().enumerate() {
            if self.stopping() {
                break;
            }
            let run = match connector {
                Connector::And => status == 0,
                Connector::Or => status != 0,
            };
            if run {
                self.status = status;
                status = run_one(self, pipeline, i + 1);
            }
        }
        (status, checked)
    }

    /// Starts `and_or` as a background job: a lone simple command directly, anything else
    /// through a child shell, since it must go on without this shell.
    fn background(&mut self, and_or: &AndOr) -> i32 {
        let simple = and_or.rest.is_empty()
            && and_or.first.commands.iter().all(|c| {
                matches!(c, Command::Simple(s) if !s.words.is_empty()
                    && s.words[0].plain().is_none_or(|name| !self.functions.contains_key(name)))
            });
        if simple {
            return self.pipeline(&and_or.first, Some(&and_or.text));
        }
        let streams = self.streams.clone();
        match self.spawn_shell(&and_or.text, &streams, self.job_group(None)) {
            Ok(pid) => {
                self.add_job(vec![pid], &and_or.text);
                self.last_background = Some(pid);
                0
            }
            Err(e) => {
                self.error(&format!("sh: {}", describe(&e)));
                CANNOT_EXECUTE
            }
        }
    }

    /// Runs a pipeline, in the foreground (`job` is `None`) or as a background job with this
    /// text. Returns its status: the last stage's, inverted by `!`.
    fn pipeline(&mut self, pipeline: &Pipeline, job: Option<&str>) -> i32 {
        if pipeline.negated {
            self.conditions += 1;
        }
        let status = if pipeline.commands.len() == 1 && job.is_none() {
            self.command(&pipeline.commands[0])
        } else {
            self.stages(pipeline, job)
        };
        if pipeline.negated {
            self.conditions -= 1;
            i32::from(status == 0)
        } else {
            status
        }
    }

    /// Runs one command of the shell's own (not a stage of a longer pipeline).
    fn command(&mut self, command: &Command) -> i32 {
        match command {
            Command::Simple(simple) => {
                let mut pending = Vec::new();
                let streams = self.streams.clone();
                match self.simple(simple, streams, false, None, &mut pending, None) {
                    Ran::Status(status) => status,
                    Ran::Spawned(pid) => self.wait_in_foreground(pid),
                }
            }
            Command::Compound { body, redirects } => self.compound(body, redirects),
            Command::Function { name, body, text } => {
                self.functions.insert(
                    name.clone(),
                    Rc::new(Function {
                        body: body.clone(),
                        text: text.clone(),
                        line_base: self.line_base,
                    }),
                );
                0
            }
        }
    }

    /// Runs the stages of a pipeline of several commands, or of a background job.
    fn stages(&mut self, pipeline: &Pipeline, job: Option<&str>) -> i32 {
        let count = pipeline.commands.len();
        let mut input: Option<File> = None;
        let mut group: Option<Pid> = None;
        let mut spawned: Vec<Pid> = Vec::new();
        // The last stage's status when it is not a spawned process.
        let mut last_status = None;
        // Builtin output for files and pipes, written once every stage has started so that a
        // full pipe cannot block the shell before its reader exists.
        let mut pending: Vec<(Target, Vec<u8>)> = Vec::new();
        for (i, command) in pipeline.commands.iter().enumerate() {
            let last = i + 1 == count;
            let (next_input, output) = if last {
                (None, None)
            } else {
                match cella_process::pipe() {
                    Ok((read, write)) => (Some(read), Some(write)),
                    Err(e) => {
                        self.error(&format!("pipe: {}", describe(&e)));
                        last_status = Some(1);
                        break;
                    }
                }
            };
            let streams: Streams = [
                input
                    .take()
                    .map_or(self.streams[0].clone(), |f| Target::File(Rc::new(f))),
                output.map_or(self.streams[1].clone(), |f| Target::File(Rc::new(f))),
                self.streams[2].clone(),
            ];
            input = next_input;
            let text = &pipeline.texts[i];
            let outcome = match command {
                Command::Simple(simple) => {
                    self.simple(simple, streams, count > 1, group, &mut pending, Some(text))
                }
                _ => match self.spawn_shell(text, &streams, self.job_group(group)) {
                    Ok(pid) => Ran::Spawned(pid),
                    Err(e) => {
                        self.error(&format!("sh: {}", describe(&e)));
                        Ran::Status(CANNOT_EXECUTE)
                    }
                },
            };
            match outcome {
                Ran::Spawned(pid) => {
                    if group.is_none() {
                        group = Some(pid);
                        if job.is_none() {
                            self.give_console(pid);
                        }
                    }
                    spawned.push(pid);
                    if last {
                        last_status = None;
                    }
                }
                Ran::Status(status) => {
                    if last {
                        last_status = Some(status);
                    }
                }
            }
        }
        for (target, bytes) in pending {
            target.write(&bytes);
        }
        if let Some(text) = job {
            if let Some(&pid) = spawned.last() {
                self.add_job(spawned, text);
                self.last_background = Some(pid);
            }
            last_status.unwrap_or(0)
        } else {
            let statuses = self.wait_all(&spawned);
            if group.is_some() {
                self.take_console();
            }
            let text = self.foreground_text.clone();
            if let Some(stopped) = self.keep_if_stopped(None, &spawned, &statuses, &text) {
                return stopped;
            }
            match last_status {
                Some(status) => status,
                None => statuses.last().map_or(0, |&status| self.report(status)),
            }
        }
    }

    /// Runs a compound command in this shell (a subshell in a child shell) with its
    /// redirections applied around it.
    fn compound(&mut self, body: &Compound, redirects: &[Redirect]) -> i32 {
        let mut streams = self.streams.clone();
        for redirect in redirects {
            if let Err(message) = self.redirect(&mut streams, redirect) {
                self.error(&message);
                return SHELL_ERROR;
            }
        }
        let saved = std::mem::replace(&mut self.streams, streams);
        let status = self.compound_body(body);
        self.streams = saved;
        status
    }

    fn compound_body(&mut self, body: &Compound) -> i32 {
        match body {
            Compound::Group(program) => {
                self.run_list(program);
                self.status
            }
            Compound::Subshell { text, .. } => {
                let streams = self.streams.clone();
                match self.spawn_shell(text, &streams, self.job_group(None)) {
                    Ok(pid) => self.wait_in_foreground(pid),
                    Err(e) => {
                        self.error(&format!("sh: {}", describe(&e)));
                        CANNOT_EXECUTE
                    }
                }
            }
            Compound::If {
                branches,
                otherwise,
            } => {
                for (condition, then) in branches {
                    let status = self.condition(condition);
                    if self.stopping() {
                        return self.status;
                    }
                    if status == 0 {
                        self.run_list(then);
                        return self.status;
                    }
                }
                match otherwise {
                    Some(program) => {
                        self.run_list(program);
                        self.status
                    }
                    None => 0,
                }
            }
            Compound::Loop {
                until,
                condition,
                body,
            } => {
                let mut status = 0;
                self.loops += 1;
                loop {
                    let tested = self.condition(condition);
                    if self.loop_ends() || (tested == 0) == *until {
                        break;
                    }
                    self.run_list(body);
                    status = self.status;
                    if self.loop_ends() {
                        break;
                    }
                }
                self.loops -= 1;
                status
            }
            Compound::For { name, words, body } => {
                let values = match words {
                    Some(words) => match expand::all_fields(words, self, &FileSystem) {
                        Ok(values) => values,
                        Err(e) => return self.fatal(&e.0),
                    },
                    None => self.positional.clone(),
                };
                let mut status = 0;
                self.loops += 1;
                for value in values {
                    self.set_var(name, value);
                    self.run_list(body);
                    status = self.status;
                    if self.loop_ends() {
                        break;
                    }
                }
                self.loops -= 1;
                status
            }
            Compound::Case { word, arms } => {
                let subject = match expand::string(word, self) {
                    Ok(subject) => subject,
                    Err(e) => return self.fatal(&e.0),
                };
                let subject: Vec<char> = subject.chars().collect();
                for arm in arms {
                    for pattern in &arm.patterns {
                        let pattern = match expand::pattern(pattern, self) {
                            Ok(pattern) => pattern,
                            Err(e) => return self.fatal(&e.0),
                        };
                        if glob::matches_text(&pattern, &subject) {
                            self.status = 0;
                            self.run_list(&arm.body);
                            return self.status;
                        }
                    }
                }
                0
            }
        }
    }

    /// After a loop's body (or condition): whether the loop ends, consuming a `break` or
    /// `continue` aimed at it.
    fn loop_ends(&mut self) -> bool {
        match self.jump {
            Some(Jump::Break(n)) => {
                self.jump = (n > 1).then(|| Jump::Break(n - 1));
                true
            }
            Some(Jump::Continue(n)) if n > 1 => {
                self.jump = Some(Jump::Continue(n - 1));
                true
            }
            Some(Jump::Continue(_)) => {
                self.jump = None;
                false
            }
            Some(Jump::Return) => true,
            None => self.exit_requested.is_some(),
        }
    }

    /// Calls function `function` with `args` as its positional parameters.
    fn call(&mut self, function: &Function, args: Vec<String>) -> i32 {
        let saved = std::mem::replace(&mut self.positional, args);
        let (saved_base, saved_loops) = (self.line_base, self.loops);
        self.line_base = function.line_base;
        self.loops = 0;
        self.functions_running += 1;
        let status = match &*function.body {
            Command::Compound { body, redirects } => self.compound(body, redirects),
            other => self.command(other),
        };
        self.functions_running -= 1;
        self.line_base = saved_base;
        self.loops = saved_loops;
        self.positional = saved;
        if self.jump == Some(Jump::Return) {
            self.jump = None;
            return self.status;
        }
        status
    }

    /// The text a child shell runs to be a subshell running `text`: this shell's variables
    /// that the environment does not carry, its functions and options, then `text`.
    fn subshell_script(&self, text: &str) -> String {
        let mut script = String::new();
        for (name, var) in &self.vars {
            if !var.exported {
                script.push_str(&format!("{name}={}\n", quote(&var.value)));
            }
        }
        for function in self.functions.values() {
            script.push_str(&function.text);
            script.push('\n');
        }
        let letters = self.options.letters();
        if !letters.is_empty() {
            script.push_str(&format!("set -{letters}\n"));
        }
        script.push_str(text);
        script
    }

    /// Starts a child shell running `text` as a subshell of this one, with `streams`, in
    /// process group `group` as [`Shell::spawn`] takes it.
    fn spawn_shell(
        &self,
        text: &str,
        streams: &Streams,
        group: Option<Option<Pid>>,
    ) -> io::Result<Pid> {
        let script = self.subshell_script(text);
        let prefix_lines = script.len() - text.len();
        let prefix_lines = script[..prefix_lines].matches('\n').count();
        let line = self.line as i64 - 1 - prefix_lines as i64;
        let shell = self
            .find("sh")
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let option = format!("{SUBSHELL_OPTION}{},{},{line}", self.status, self.pid);
        let mut argv: Vec<&str> = vec!["sh", &option, "-c", &script, &self.arg0];
        argv.extend(self.positional.iter().map(String::as_str));
        self.spawn(&shell, &argv, streams, &[], group)
    }

    /// `$(...)` run in this shell on a copy of its state, its stdout a scratch file read
    /// back at the end: a child shell costs far more (loading `sh.wasm` is some 40 M guest
    /// instructions). `None` when it cannot be: a job started in the background would
    /// belong to this shell, or there is no writable scratch directory (`TMPDIR`, `/tmp`).
    fn output_in_process(&mut self, program: &Program) -> Option<String> {
        if starts_background_jobs(program) {
            return None;
        }
        let dir = self
            .var("TMPDIR")
            .filter(|dir| !dir.is_empty())
            .unwrap_or_else(|| "/tmp".into());
        self.scratch_files += 1;
        let path = format!("{dir}/.sh-{}-{}", cella_process::pid(), self.scratch_files);
        File::create(&path).ok()?;
        // Append mode, as for redirections: programs' copies of the handle keep their own
        // offsets.
        let file = match OpenOptions::new().read(true).append(true).open(&path) {
            Ok(file) => Rc::new(file),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                return None;
            }
        };
        let snapshot = self.snapshot();
        let functions = self.functions.clone();
        let traps = self.traps.clone();
        let saved_streams = self.streams.clone();
        let saved = (
            self.exit_requested.take(),
            self.jump.take(),
            std::mem::take(&mut self.loops),
            std::mem::take(&mut self.functions_running),
            std::mem::take(&mut self.conditions),
            self.status,
            self.line_base,
            self.line,
        );
        self.streams[1] = Target::File(file.clone());
        self.run_list(program);
        if self.traps.get("EXIT") != traps.get("EXIT") {
            self.exit_trap();
        }
        let status = self.exit_requested.take().unwrap_or(self.status);
        self.streams = saved_streams;
        (
            self.exit_requested,
            self.jump,
            self.loops,
            self.functions_running,
            self.conditions,
            self.status,
            self.line_base,
            self.line,
        ) = saved;
        self.restore_snapshot(snapshot);
        self.functions = functions;
        self.traps = traps;
        let mut output = Vec::new();
        let _ = (&*file)
            .seek(SeekFrom::Start(0))
            .and_then(|_| (&*file).read_to_end(&mut output));
        drop(file);
        let _ = std::fs::remove_file(&path);
        self.substitution_status = Some(status);
        Some(String::from_utf8_lossy(&output).into_owned())
    }

    /// `$(text)`: runs `text` in a child shell and returns what it wrote to stdout.
    fn command_output(&mut self, text: &str) -> String {
        let (read, write) = match cella_process::pipe() {
            Ok(pair) => pair,
            Err(e) => {
                self.error(&format!("pipe: {}", describe(&e)));
                return String::new();
            }
        };
        let streams = [
            self.streams[0].clone(),
            Target::File(Rc::new(write)),
            self.streams[2].clone(),
        ];
        let spawned = self.spawn_shell(text, &streams, None);
        // The child has its copy: this end must close for the reader to see the end.
        drop(streams);
        let mut output = Vec::new();
        match spawned {
            Ok(pid) => {
                let _ = (&read).read_to_end(&mut output);
                let status = self.wait_for(pid);
                self.substitution_status = Some(status.code());
            }
            Err(e) => {
                self.error(&format!("sh: {}", describe(&e)));
                self.substitution_status = Some(CANNOT_EXECUTE);
            }
        }
        String::from_utf8_lossy(&output).into_owned()
    }

    /// Hands the console to the job in process group `group` (with job control): first the
    /// foreground, then cooked input, so that Ctrl-C now interrupts the job.
    fn give_console(&self, group: Pid) {
        if self.interactive {
            let _ = cella_process::set_foreground(group);
            let _ = cella_process::set_console_raw(false);
        }
    }

    /// Takes the console back after a job: raw input first, so that a Ctrl-C typed late is a
    /// byte for the line editor and never a SIGINT to the shell, then the foreground.
    fn take_console(&self) {
        if self.interactive {
            let _ = cella_process::set_console_raw(true);
            let _ = cella_process::set_foreground(self.own_group);
        }
    }

    /// `$?` for a foreground job's last process, printing how it died if it was killed.
    fn report(&mut self, status: Status) -> i32 {
        if let Some(message) = death_message(status) {
            eprintln!("{message}");
        } else if status == Status::Signaled(SIGINT) && self.interactive {
            // The console echoed ^C; the prompt goes on the next line.
            eprintln!();
            self.interrupted();
        }
        status.code()
    }

    /// Runs the `INT` trap, if one is set: Ctrl-C interrupted a foreground job or the line.
    pub fn interrupted(&mut self) {
        if let Some(action) = self.traps.get("INT").cloned() {
            self.run_text(&action);
        }
    }

    /// Runs the `EXIT` trap, once, if one is set.
    pub fn exit_trap(&mut self) {
        if let Some(action) = self.traps.remove("EXIT") {
            let status = self.exit_requested.take().unwrap_or(self.status);
            self.status = status;
            self.run_text(&action);
            // `exit` in the trap sets the status; otherwise it is the one before.
            self.exit_requested.get_or_insert(status);
        }
    }

    /// Parses and runs `text` (a trap action, `eval`'s arguments); `$?` is its status.
    fn run_text(&mut self, text: &str) -> i32 {
        match parse(text) {
            // `$?` stays what it was until a command of `text` runs (`trap 'echo $?' EXIT`).
            Ok(program) => {
                self.run_list(&program);
                self.status
            }
            Err(e) => {
                let message = e.to_string();
                self.fatal(&message)
            }
        }
    }

    /// Expands and runs one simple command with `streams` set up by the pipeline (`text`
    /// is its source when it is a stage of one, for a function run in a child shell).
    fn simple(
        &mut self,
        command: &Simple,
        mut streams: Streams,
        in_pipeline: bool,
        group: Option<Pid>,
        pending: &mut Vec<(Target, Vec<u8>)>,
        text: Option<&str>,
    ) -> Ran {
        self.line = self.line_base + command.line;
        self.substitution_status = None;
        let fields = match expand::all_fields(&command.words, self, &FileSystem) {
            Ok(fields) => fields,
            Err(e) => return Ran::Status(self.fatal(&e.0)),
        };
        let mut assignments = Vec::new();
        for (name, value) in &command.assignments {
            match expand::string(value, self) {
                Ok(value) => assignments.push((name.clone(), value)),
                Err(e) => return Ran::Status(self.fatal(&e.0)),
            }
        }
        if self.options.xtrace {
            let mut trace: Vec<String> = assignments
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            trace.extend(fields.iter().cloned());
            self.streams[2].write(format!("+ {}\n", trace.join(" ")).as_bytes());
        }
        for redirect in &command.redirects {
            if let Err(message) = self.redirect(&mut streams, redirect) {
                // As in dash, the command fails but the shell goes on.
                self.error(&message);
                return Ran::Status(SHELL_ERROR);
            }
        }
        let Some(name) = fields.first() else {
            // In a pipeline of several commands it is a subshell's: nothing to keep.
            if !in_pipeline {
                for (name, value) in assignments {
                    self.set_var(&name, value);
                }
            }
            return Ran::Status(self.substitution_status.unwrap_or(0));
        };
        if let Some(function) = self.functions.get(name).cloned() {
            if in_pipeline {
                let text = text.unwrap_or(name);
                return match self.spawn_shell(text, &streams, self.job_group(group)) {
                    Ok(pid) => Ran::Spawned(pid),
                    Err(e) => {
                        self.error(&format!("sh: {}", describe(&e)));
                        Ran::Status(CANNOT_EXECUTE)
                    }
                };
            }
            let saved = self.assign_for_command(&assignments);
            let saved_streams = std::mem::replace(&mut self.streams, streams);
            let status = self.call(&function, fields[1..].to_vec());
            self.streams = saved_streams;
            self.restore(saved);
            return Ran::Status(status);
        }
        if is_builtin(name) {
            let saved = if is_special(name) {
                for (name, value) in &assignments {
                    self.set_var(name, value.clone());
                }
                Vec::new()
            } else {
                self.assign_for_command(&assignments)
            };
            let mut output = Output::new(self.error_prefix());
            let saved_streams = std::mem::replace(&mut self.streams, streams.clone());
            // In a pipeline of several commands a builtin runs in a subshell environment
            // (`echo x | read v` leaves `v` alone), which a snapshot of the state gives.
            let snapshot = in_pipeline.then(|| self.snapshot());
            let status = self.builtin(&fields, in_pipeline, &mut output);
            if let Some(snapshot) = snapshot {
                self.restore_snapshot(snapshot);
            }
            self.streams = saved_streams;
            self.restore(saved);
            for (fd, bytes) in [(1, output.out), (2, output.err)] {
                match &streams[fd] {
                    Target::Shell(_) => streams[fd].write(&bytes),
                    file if in_pipeline => pending.push((file.clone(), bytes)),
                    file => file.write(&bytes),
                }
            }
            return Ran::Status(status);
        }
        let path = match self.find(name) {
            Some(path) => path,
            None => {
                self.error(&format!("{name}: not found"));
                return Ran::Status(NOT_FOUND);
            }
        };
        let argv: Vec<&str> = fields.iter().map(String::as_str).collect();
        let group = self.job_group(group);
        let mut result = self.spawn(&path, &argv, &streams, &assignments, group);
        // A text file that is not a module is a script, run by a new shell as POSIX says.
        if result
            .as_ref()
            .is_err_and(|e| e.raw_os_error() == Some(ENOEXEC))
            && is_script(&path)
            && let Some(shell) = self.find("sh")
        {
            let path = path.to_string_lossy();
            let argv: Vec<&str> = ["sh", &path]
                .into_iter()
                .chain(argv[1..].iter().copied())
                .collect();
            result = self.spawn(&shell, &argv, &streams, &assignments, group);
        }
        match result {
            Ok(pid) => Ran::Spawned(pid),
            Err(e) if e.kind() == io::ErrorKind::NotFound && name.contains('/') => {
                self.error(&format!("{name}: not found"));
                Ran::Status(NOT_FOUND)
            }
            Err(e) => {
                self.error(&format!("{name}: cannot execute: {}", describe(&e)));
                Ran::Status(CANNOT_EXECUTE)
            }
        }
    }

    /// What a builtin in a pipeline may change: variables, positional parameters, options.
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            vars: self
                .vars
                .iter()
                .map(|(name, var)| (name.clone(), var.value.clone(), var.exported))
                .collect(),
            positional: self.positional.clone(),
            options: self.options,
        }
    }

    fn restore_snapshot(&mut self, snapshot: Snapshot) {
        self.vars = snapshot
            .vars
            .into_iter()
            .map(|(name, value, exported)| (name, Variable { value, exported }))
            .collect();
        self.positional = snapshot.positional;
        self.options = snapshot.options;
        let pwd = self.pwd();
        let _ = std::env::set_current_dir(pwd);
    }

    /// Sets `assignments` for one command, returning the previous values to restore.
    fn assign_for_command(
        &mut self,
        assignments: &[(String, String)],
    ) -> Vec<(String, Option<String>)> {
        let mut saved = Vec::new();
        for (name, value) in assignments {
            saved.push((name.clone(), self.vars.get(name).map(|v| v.value.clone())));
            self.set_var(name, value.clone());
        }
        saved
    }

    fn restore(&mut self, saved: Vec<(String, Option<String>)>) {
        for (name, value) in saved.into_iter().rev() {
            match value {
                Some(value) => self.set_var(&name, value),
                None => {
                    self.vars.remove(&name);
                }
            }
        }
    }

    /// The process group a job's process goes in: with job control, `group` or else a new
    /// one; without, the shell's.
    fn job_group(&self, group: Option<Pid>) -> Option<Option<Pid>> {
        Some(group).filter(|_| self.interactive)
    }

    /// Starts `program` with `argv`, the exported variables plus `assignments`, and
    /// `streams`; `group`: `None` to stay in the shell's process group, `Some(None)` for a
    /// new one, `Some(Some(g))` to join `g`.
    fn spawn(
        &self,
        program: &Path,
        argv: &[&str],
        streams: &Streams,
        assignments: &[(String, String)],
        group: Option<Option<Pid>>,
    ) -> io::Result<Pid> {
        let mut child = Process::new(program);
        child
            .arg0(argv[0])
            .args(&argv[1..])
            .env_clear()
            .inherit_preopens()
            .stdin(streams[0].stdio(0))
            .stdout(streams[1].stdio(1))
            .stderr(streams[2].stdio(2));
        for (var_name, var) in &self.vars {
            if var.exported {
                child.env(var_name, &var.value);
            }
        }
        for (var_name, value) in assignments {
            child.env(var_name, value);
        }
        // The working directory, granted as `.` (a deleted one: the child starts in `/`).
        let pwd = self.pwd();
        if pwd != "/" && Path::new(&pwd).is_dir() {
            child.current_dir(&pwd);
        }
        match group {
            Some(Some(pgid)) => {
                child.process_group(pgid);
            }
            Some(None) => {
                child.new_process_group();
            }
            None => {}
        }
        let _ = io::stdout().flush();
        child.spawn()
    }

    /// Applies one redirection to `streams`; the error is the message after `sh: LINE: `.
    fn redirect(&mut self, streams: &mut Streams, redirect: &Redirect) -> Result<(), String> {
        let Some(slot) = usize::try_from(redirect.fd)
            .ok()
            .filter(|&fd| fd < streams.len())
        else {
            return Err(format!("{}: Bad file descriptor", redirect.fd));
        };
        if let Some(body) = &redirect.body {
            let body = body.borrow().clone();
            let text = expand::string(&body, self).map_err(|e| e.0)?;
            if text.len() > HERE_DOC_MAX {
                return Err(format!(
                    "here-document of {} bytes: at most {HERE_DOC_MAX} are supported",
                    text.len()
                ));
            }
            let (read, write) =
                cella_process::pipe().map_err(|e| format!("pipe: {}", describe(&e)))?;
            (&write)
                .write_all(text.as_bytes())
                .map_err(|e| format!("here-document: {}", describe(&e)))?;
            streams[slot] = Target::File(Rc::new(read));
            return Ok(());
        }
        let target = expand::string(&redirect.target, self).map_err(|e| e.0)?;
        let mut options = OpenOptions::new();
        match redirect.op {
            RedirectOp::Read => options.read(true),
            RedirectOp::Write => {
                // Truncated here, then written in append mode: a child gets a copy of the
                // shell's handle whose offset moves on its own (wasi-abi's `duplicate`), so
                // the commands of `{ a; b; } > f` would otherwise each write from 0.
                File::create(&target)
                    .map_err(|e| format!("cannot create {target}: {}", describe(&e)))?;
                options.append(true)
            }
            RedirectOp::Append => options.append(true).create(true),
            RedirectOp::ReadWrite => options.read(true).write(true).create(true),
            RedirectOp::HereDoc => unreachable!("a here-document has a body"),
            RedirectOp::Dup if target == "-" => {
                // Closing is approximated by the null device: Cella spawns with three streams.
                let null = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open("/dev/null")
                    .map_err(|e| format!("/dev/null: {}", describe(&e)))?;
                streams[slot] = Target::File(Rc::new(null));
                return Ok(());
            }
            RedirectOp::Dup => {
                let from = target
                    .parse::<usize>()
                    .ok()
                    .filter(|&fd| fd < streams.len())
                    .ok_or_else(|| format!("{target}: Bad file descriptor"))?;
                streams[slot] = streams[from].clone();
                return Ok(());
            }
        };
        let file = options.open(&target).map_err(|e| {
            let verb = if redirect.op == RedirectOp::Read {
                "open"
            } else {
                "create"
            };
            format!("cannot {verb} {target}: {}", describe(&e))
        })?;
        streams[slot] = Target::File(Rc::new(file));
        Ok(())
    }

    /// The program `name` runs: `name` itself if it has a `/`, else the first `DIR/name` or
    /// `DIR/name.wasm` that is a file, for DIR in `PATH`.
    fn find(&self, name: &str) -> Option<PathBuf> {
        if name.contains('/') {
            return Some(PathBuf::from(name));
        }
        let path = self.var("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
        path.split(':').find_map(|dir| {
            let dir = Path::new(if dir.is_empty() { "." } else { dir });
            [dir.join(name), dir.join(format!("{name}.wasm"))]
                .into_iter()
                .find(|candidate| std::fs::metadata(candidate).is_ok_and(|m| m.is_file()))
        })
    }

    /// Waits for `pid`, a foreground command of its own, with the console given to it:
    /// `$?` as [`Shell::report`] gives it, or, when Ctrl-Z stopped it, that of the stopped
    /// job it becomes.
    fn wait_in_foreground(&mut self, pid: Pid) -> i32 {
        self.give_console(pid);
        let status = self.wait_for(pid);
        self.take_console();
        let text = self.foreground_text.clone();
        if let Some(stopped) = self.keep_if_stopped(None, &[pid], &[status], &text) {
            return stopped;
        }
        self.report(status)
    }

    /// Waits for each of `pids` in turn.
    fn wait_all(&mut self, pids: &[Pid]) -> Vec<Status> {
        pids.iter().map(|&pid| self.wait_for(pid)).collect()
    }

    /// Waits for one child; a child that cannot be waited for counts as not found.
    fn wait_for(&mut self, pid: Pid) -> Status {
        if let Some(at) = self.reaped.iter().position(|(p, _)| *p == pid) {
            return self.reaped.remove(at).1;
        }
        loop {
            // With job control a stop (Ctrl-Z) ends the wait too.
            let waited = if self.interactive {
                cella_process::wait_untraced(Some(pid), false)
            } else {
                cella_process::wait(Some(pid), false)
            };
            match waited {
                Ok(Some((_, status))) => return status,
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Status::Exited(NOT_FOUND as u32),
            }
        }
    }

    /// Waits for job `index` with the console given to it (so that Ctrl-C reaches it, not
    /// the shell), removes it and returns its status.
    fn foreground(&mut self, index: usize) -> i32 {
        let job = self.jobs.remove(index);
        if let Some(&(group, _)) = job.processes.first() {
            self.give_console(group);
        }
        let pids: Vec<Pid> = job.processes.iter().map(|(pid, _)| *pid).collect();
        let statuses: Vec<Status> = job
            .processes
            .iter()
            .map(|&(pid, status)| status.unwrap_or_else(|| self.wait_for(pid)))
            .collect();
        self.take_console();
        if let Some(stopped) = self.keep_if_stopped(Some(job.id), &pids, &statuses, &job.text) {
            return stopped;
        }
        self.report(statuses.last().copied().unwrap_or(Status::Exited(0)))
    }

    fn add_job(&mut self, pids: Vec<Pid>, text: &str) {
        let id = self.jobs.iter().map(|job| job.id).max().unwrap_or(0) + 1;
        if self.interactive {
            eprintln!("[{id}] {}", pids.last().copied().unwrap_or(0));
        }
        self.jobs.push(Job {
            id,
            processes: pids.into_iter().map(|pid| (pid, None)).collect(),
            text: text.to_string(),
        });
    }

    /// Collects the status of every background process that has ended, without blocking.
    pub fn reap(&mut self) {
        loop {
            let waited = if self.interactive {
                cella_process::wait_untraced(None, true)
            } else {
                cella_process::wait(None, true)
            };
            let Ok(Some((pid, status))) = waited else {
                break;
            };
            if !self.record_status(pid, status) {
                self.reaped.push((pid, status));
            }
        }
        if self.interactive {
            self.refresh_stopped();
        }
    }

    /// Reports (on stderr) and forgets the background jobs that have ended.
    pub fn notify(&mut self) {
        self.reap();
        let count = self.jobs.len();
        for (i, job) in self.jobs.iter().enumerate() {
            if job.done() {
                let mark = if i + 1 == count { '+' } else { ' ' };
                eprintln!("[{}]{mark}  {}  {}", job.id, job_state(job), job.text);
            }
        }
        self.jobs.retain(|job| !job.done());
    }
}
