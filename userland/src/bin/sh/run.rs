//! The shell's state and how it runs parsed commands: variables, word expansion against
//! them, redirections, pipelines of spawned processes (one process group per job when job
//! control is on), and the table of background jobs. The builtins are in `builtins.rs`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use builtins::{Output, is_builtin};
use cella_process::{Command, Pid, SIGINT, SIGKILL, SIGTERM, Status, Stdio};
use cella_userland::describe;
use shell_core::expand::{self, Env};
use shell_core::glob::Dirs;
use shell_core::path::logical as normalise;
use shell_core::syntax::{AndOr, Connector, Pipeline, Program, Redirect, RedirectOp, Simple, Word};

#[path = "builtins.rs"]
mod builtins;
#[path = "jobs.rs"]
mod jobs;

/// `$?` for a command that was not found.
const NOT_FOUND: i32 = 127;
/// `$?` for a command that was found but could not be started.
const CANNOT_EXECUTE: i32 = 126;
/// preview1's `ENOEXEC`: what spawning a file that is not a WASI module fails with.
const ENOEXEC: i32 = 45;
/// How much of a file decides whether it is a script (text: no NUL byte).
const SCRIPT_SNIFF: usize = 256;
/// The search path when `PATH` is unset.
const DEFAULT_PATH: &str = "/bin";

/// A shell variable.
struct Variable {
    value: String,
    exported: bool,
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
}

/// The three standard streams of a command being set up.
type Streams = [Target; 3];

/// The shell: its variables, parameters, status and jobs.
pub struct Shell {
    vars: BTreeMap<String, Variable>,
    /// `$?`.
    pub status: i32,
    /// `$0`.
    arg0: String,
    /// `$1`...
    positional: Vec<String>,
    /// `$!`.
    last_background: Option<Pid>,
    jobs: Vec<Job>,
    /// Children reaped while looking for ended background jobs that belong to no job (a
    /// stage of the pipeline being started), kept for whoever waits for them.
    reaped: Vec<(Pid, Status)>,
    /// Whether job control is on: each job gets its own process group and the console's
    /// foreground, and jobs are reported.
    pub interactive: bool,
    /// The shell's own process group, given the console back after each job.
    own_group: Pid,
    /// Set by `exit`: the status to exit with.
    pub exit_requested: Option<i32>,
    /// The text of the command running in the foreground, for the job it becomes if stopped.
    foreground_text: String,
}

impl Env for Shell {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "?" => Some(self.status.to_string()),
            "$" => Some(cella_process::pid().to_string()),
            "!" => self.last_background.map(|pid| pid.to_string()),
            "0" => Some(self.arg0.clone()),
            _ => self.vars.get(name).map(|v| v.value.clone()),
        }
    }

    fn positional(&self) -> &[String] {
        &self.positional
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
    use std::io::Read;
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
            status: 0,
            arg0,
            positional,
            last_background: None,
            jobs: Vec::new(),
            reaped: Vec::new(),
            interactive,
            own_group,
            exit_requested: None,
            foreground_text: String::new(),
        }
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

    /// Runs a parsed program, stopping early after `exit`.
    pub fn run(&mut self, program: &Program) {
        for and_or in program {
            if self.exit_requested.is_some() {
                return;
            }
            self.status = if and_or.background {
                self.background(and_or)
            } else {
                self.foreground_text.clone_from(&and_or.text);
                self.and_or(and_or)
            };
        }
    }

    fn and_or(&mut self, and_or: &AndOr) -> i32 {
        let mut status = self.pipeline(&and_or.first, None);
        for (connector, pipeline) in &and_or.rest {
            if self.exit_requested.is_some() {
                break;
            }
            let run = match connector {
                Connector::And => status == 0,
                Connector::Or => status != 0,
            };
            if run {
                self.status = status;
                status = self.pipeline(pipeline, None);
            }
        }
        status
    }

    /// Starts `and_or` as a background job: a lone pipeline directly, a chain of them
    /// through `sh -c`, since the chain must go on without this shell.
    fn background(&mut self, and_or: &AndOr) -> i32 {
        if and_or.rest.is_empty() {
            return self.pipeline(&and_or.first, Some(&and_or.text));
        }
        let via_shell = Pipeline {
            negated: false,
            commands: vec![Simple {
                words: ["sh", "-c", &and_or.text]
                    .into_iter()
                    .map(Word::literal)
                    .collect(),
                ..Simple::default()
            }],
        };
        self.pipeline(&via_shell, Some(&and_or.text))
    }

    /// Runs a pipeline, in the foreground (`job` is `None`) or as a background job with this
    /// text. Returns its status: the last stage's, inverted by `!`.
    fn pipeline(&mut self, pipeline: &Pipeline, job: Option<&str>) -> i32 {
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
                        eprintln!("sh: pipe: {}", describe(&e));
                        last_status = Some(1);
                        break;
                    }
                }
            };
            let streams: Streams = [
                input
                    .take()
                    .map_or(Target::Shell(0), |f| Target::File(Rc::new(f))),
                output.map_or(Target::Shell(1), |f| Target::File(Rc::new(f))),
                Target::Shell(2),
            ];
            input = next_input;
            let outcome = self.simple(command, streams, count > 1, group, &mut pending);
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
        let status = if let Some(text) = job {
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
        };
        if pipeline.negated {
            i32::from(status == 0)
        } else {
            status
        }
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
    fn report(&self, status: Status) -> i32 {
        if let Some(message) = death_message(status) {
            eprintln!("{message}");
        } else if status == Status::Signaled(SIGINT) && self.interactive {
            // The console echoed ^C; the prompt goes on the next line.
            eprintln!();
        }
        status.code()
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

    /// Expands and runs one simple command with `streams` set up by the pipeline.
    fn simple(
        &mut self,
        command: &Simple,
        mut streams: Streams,
        in_pipeline: bool,
        group: Option<Pid>,
        pending: &mut Vec<(Target, Vec<u8>)>,
    ) -> Ran {
        let fields = expand::all_fields(&command.words, self, &FileSystem);
        let assignments: Vec<(String, String)> = command
            .assignments
            .iter()
            .map(|(name, value)| (name.clone(), expand::string(value, self)))
            .collect();
        for redirect in &command.redirects {
            if let Err(message) = self.redirect(&mut streams, redirect) {
                eprintln!("sh: {message}");
                return Ran::Status(1);
            }
        }
        let Some(name) = fields.first() else {
            for (name, value) in assignments {
                self.set_var(&name, value);
            }
            return Ran::Status(0);
        };
        if is_builtin(name) {
            let mut output = Output::default();
            let status = self.builtin(&fields, in_pipeline, &mut output);
            for (fd, bytes) in [(1, output.out), (2, output.err)] {
                match &streams[fd] {
                    Target::Shell(_) => streams[fd].write(&bytes),
                    file => pending.push((file.clone(), bytes)),
                }
            }
            return Ran::Status(status);
        }
        let path = match self.find(name) {
            Some(path) => path,
            None => {
                eprintln!("sh: {name}: command not found");
                return Ran::Status(NOT_FOUND);
            }
        };
        let spawn = |program: &Path, argv: &[&str]| {
            let mut child = Command::new(program);
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
            for (var_name, value) in &assignments {
                child.env(var_name, value);
            }
            // The working directory, granted as `.` (a deleted one: the child starts in `/`).
            let pwd = self.pwd();
            if pwd != "/" && Path::new(&pwd).is_dir() {
                child.current_dir(&pwd);
            }
            if self.interactive {
                match group {
                    Some(pgid) => child.process_group(pgid),
                    None => child.new_process_group(),
                };
            }
            let _ = io::stdout().flush();
            child.spawn()
        };
        let argv: Vec<&str> = fields.iter().map(String::as_str).collect();
        let mut result = spawn(&path, &argv);
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
            result = spawn(&shell, &argv);
        }
        match result {
            Ok(pid) => Ran::Spawned(pid),
            Err(e) if e.kind() == io::ErrorKind::NotFound && name.contains('/') => {
                eprintln!("sh: {name}: {}", describe(&e));
                Ran::Status(NOT_FOUND)
            }
            Err(e) => {
                eprintln!("sh: {name}: cannot execute: {}", describe(&e));
                Ran::Status(CANNOT_EXECUTE)
            }
        }
    }

    /// Applies one redirection to `streams`; the error is the message after `sh: `.
    fn redirect(&self, streams: &mut Streams, redirect: &Redirect) -> Result<(), String> {
        let target = expand::string(&redirect.target, self);
        let Some(slot) = usize::try_from(redirect.fd)
            .ok()
            .filter(|&fd| fd < streams.len())
        else {
            return Err(format!("{}: Bad file descriptor", redirect.fd));
        };
        let mut options = OpenOptions::new();
        match redirect.op {
            RedirectOp::Read => options.read(true),
            RedirectOp::Write => options.write(true).create(true).truncate(true),
            RedirectOp::Append => options.append(true).create(true),
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
        let file = options
            .open(&target)
            .map_err(|e| format!("{target}: {}", describe(&e)))?;
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

/// What running a simple command did.
enum Ran {
    /// It started this process.
    Spawned(Pid),
    /// It finished in the shell with this status (a builtin, an error, assignments only).
    Status(i32),
}
