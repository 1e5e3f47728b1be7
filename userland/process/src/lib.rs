//! Safe Rust wrappers for `cella_process`, Cella's process-control import module.
//!
//! Pure WASI preview1 programs never need this: it exists for the programs that manage other
//! programs (init, the shell, `ps`, `kill`). The ABI is documented in the README
//! ("Process control"); each function here is one import of the module, with its memory
//! layout built and checked here so that callers never touch raw pointers.
//!
//! Every function returns `io::Error` from the WASI errno the kernel returned
//! (`io::Error::from_raw_os_error`), so `ESRCH`, `ECHILD`, `EAGAIN` and the like read as usual.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::wasi::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A process id. Init is 1.
pub type Pid = u32;

/// `SIGINT`: what Ctrl-C sends to the foreground process group.
pub const SIGINT: u32 = 2;
/// `SIGKILL`.
pub const SIGKILL: u32 = 9;
/// `SIGTERM`: `kill`'s default signal.
pub const SIGTERM: u32 = 15;

mod sys {
    #[link(wasm_import_module = "cella_process")]
    unsafe extern "C" {
        pub fn spawn(request: *const u8, pid_out: *mut u32) -> u32;
        pub fn wait(pid: i32, options: u32, result: *mut u32) -> u32;
        pub fn kill(pid: i32, signal: u32) -> u32;
        pub fn pipe(fds_out: *mut u32) -> u32;
        pub fn processes(buf: *mut u8, buf_len: u32, count_out: *mut u32) -> u32;
        pub fn console_mode(mode: u32) -> u32;
        pub fn set_foreground(pgid: u32) -> u32;
        pub fn self_pid(pid_out: *mut u32) -> u32;
        pub fn system_info(info_out: *mut u64) -> u32;
    }
}

fn check(errno: u32) -> io::Result<()> {
    match errno {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno as i32)),
    }
}

/// How a process ended, as [`wait`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It returned from `_start` (status 0) or called `proc_exit(code)`.
    Exited(u32),
    /// It was killed by this signal (Ctrl-C, `kill`).
    Signaled(u32),
    /// It trapped (the kernel has written the reason to its stderr).
    Trapped,
    /// It used up the fuel limit it was spawned with.
    FuelExhausted,
}

impl Status {
    /// The status a shell shows in `$?`: the exit code modulo 256, 128 + signal for a signal,
    /// 134 for a trap (as wasmtime exits on one), 137 for an exhausted fuel limit (killed).
    pub fn code(self) -> i32 {
        match self {
            Status::Exited(code) => (code & 0xff) as i32,
            Status::Signaled(signal) => 128 + signal as i32,
            Status::Trapped => 134,
            Status::FuelExhausted => 128 + SIGKILL as i32,
        }
    }

    /// Whether it exited with status 0.
    pub fn success(self) -> bool {
        self == Status::Exited(0)
    }

    fn decode(kind: u32, value: u32) -> Status {
        match kind {
            0 => Status::Exited(value),
            1 => Status::Signaled(value),
            3 => Status::FuelExhausted,
            _ => Status::Trapped,
        }
    }
}

/// Where a child's standard stream comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    /// The caller's stream of the same number.
    Inherit,
    /// This fd of the caller (a file, a pipe end, the console).
    Fd(RawFd),
}

/// Builds and starts a child process, like `std::process::Command`.
#[derive(Clone, Debug)]
pub struct Command {
    program: PathBuf,
    args: Vec<Vec<u8>>,
    env: Option<Vec<Vec<u8>>>,
    stdio: [Stdio; 3],
    preopens: Vec<(RawFd, Vec<u8>)>,
    inherit_preopens: bool,
    new_group: bool,
    group: u32,
    memory_limit: u64,
    fuel_limit: u64,
    max_fds: u32,
}

impl Command {
    /// A command running the module at `program` (opened by the caller when spawning, through
    /// its own preopens), with `argv[0]` the file name of `program`, the caller's environment
    /// and stdio, no preopens, in the caller's process group.
    pub fn new(program: impl AsRef<Path>) -> Command {
        let program = program.as_ref().to_path_buf();
        let arg0 = program
            .file_name()
            .unwrap_or(program.as_os_str())
            .as_bytes()
            .to_vec();
        Command {
            program,
            args: vec![arg0],
            env: None,
            stdio: [Stdio::Inherit; 3],
            preopens: Vec::new(),
            inherit_preopens: false,
            new_group: false,
            group: 0,
            memory_limit: 0,
            fuel_limit: 0,
            max_fds: 0,
        }
    }

    /// Replaces `argv[0]`.
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.args[0] = arg0.as_ref().as_bytes().to_vec();
        self
    }

    /// Appends an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().as_bytes().to_vec());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// Starts from an empty environment instead of the caller's.
    pub fn env_clear(&mut self) -> &mut Command {
        self.env = Some(Vec::new());
        self
    }

    /// Sets one variable (replacing an earlier one of the same name).
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        let env = self
            .env
            .get_or_insert_with(|| std::env::vars_os().map(|(k, v)| entry(&k, &v)).collect());
        let key = key.as_ref().as_bytes();
        env.retain(|e| !(e.starts_with(key) && e.get(key.len()) == Some(&b'=')));
        env.push(entry(OsStr::from_bytes(key), value.as_ref()));
        self
    }

    /// Sets the child's stdin.
    pub fn stdin(&mut self, stdio: Stdio) -> &mut Command {
        self.stdio[0] = stdio;
        self
    }

    /// Sets the child's stdout.
    pub fn stdout(&mut self, stdio: Stdio) -> &mut Command {
        self.stdio[1] = stdio;
        self
    }

    /// Sets the child's stderr.
    pub fn stderr(&mut self, stdio: Stdio) -> &mut Command {
        self.stdio[2] = stdio;
        self
    }

    /// Hands the caller's directory `fd` to the child as a preopen named `name`. Preopens
    /// reach the child as fds 3, 4, ... in the order they were added.
    pub fn preopen(&mut self, fd: RawFd, name: impl AsRef<OsStr>) -> &mut Command {
        self.preopens.push((fd, name.as_ref().as_bytes().to_vec()));
        self
    }

    /// Hands every preopen of the caller to the child under the same name, and every
    /// listening socket (`--tcplisten`) at the same place among them, before those added
    /// with [`Command::preopen`].
    pub fn inherit_preopens(&mut self) -> &mut Command {
        self.inherit_preopens = true;
        self
    }

    /// Puts the child in a new process group of its own (its pgid is its pid), as a shell
    /// does for each job.
    pub fn new_process_group(&mut self) -> &mut Command {
        self.new_group = true;
        self.group = 0;
        self
    }

    /// Puts the child in the existing process group `pgid`.
    pub fn process_group(&mut self, pgid: Pid) -> &mut Command {
        self.new_group = false;
        self.group = pgid;
        self
    }

    /// Caps what the child holds — its linear memory, its code in the interpreter, the
    /// pipes it makes and the connections it accepts — at `bytes` (0: the caller's own
    /// limit). A child never gets more than its parent: a larger value is the parent's.
    pub fn memory_limit(&mut self, bytes: u64) -> &mut Command {
        self.memory_limit = bytes;
        self
    }

    /// Ends the child with [`Status::FuelExhausted`] once it has used `fuel` units (about one
    /// per wasm instruction; 0: the caller's own limit, if it has one). Never above the
    /// caller's limit.
    pub fn fuel_limit(&mut self, fuel: u64) -> &mut Command {
        self.fuel_limit = fuel;
        self
    }

    /// Lets the child have at most `count` fds open (0: the caller's own limit, at most
    /// 1024). Never above the caller's limit.
    pub fn max_fds(&mut self, count: u32) -> &mut Command {
        self.max_fds = count;
        self
    }

    /// Starts the child and returns its pid. Errors: the program cannot be opened (as
    /// `File::open`), `ENOEXEC` when it is not a valid WASI module, `EAGAIN` at the process
    /// limit, `ENOMEM` when memory is short, `EBADF` for a bad stdio or preopen fd.
    pub fn spawn(&self) -> io::Result<Pid> {
        let file = File::open(&self.program)?;
        let argv = nul_joined(&self.args);
        let env = match &self.env {
            Some(env) => nul_joined(env),
            None => nul_joined(
                &std::env::vars_os()
                    .map(|(k, v)| entry(&k, &v))
                    .collect::<Vec<_>>(),
            ),
        };
        let mut preopens = Vec::new();
        if self.inherit_preopens {
            preopens.extend(own_preopens());
        }
        preopens.extend(self.preopens.iter().cloned());
        let mut table = Vec::with_capacity(preopens.len() * 3);
        for (fd, name) in &preopens {
            table.extend([*fd as u32, name.as_ptr() as u32, name.len() as u32]);
        }
        let fd = |stdio: Stdio, own: RawFd| match stdio {
            Stdio::Inherit => own as u32,
            Stdio::Fd(fd) => fd as u32,
        };
        let pgid = if self.new_group { u32::MAX } else { self.group };
        /// The ABI's request layout: 64 bytes, 8-aligned.
        #[repr(C, align(8))]
        struct Request([u8; 64]);
        let mut request = Request([0u8; 64]);
        let words: [u32; 12] = [
            file.as_raw_fd() as u32,
            argv.as_ptr() as u32,
            argv.len() as u32,
            env.as_ptr() as u32,
            env.len() as u32,
            fd(self.stdio[0], 0),
            fd(self.stdio[1], 1),
            fd(self.stdio[2], 2),
            table.as_ptr() as u32,
            preopens.len() as u32,
            pgid,
            self.max_fds,
        ];
        for (slot, word) in request.0.chunks_exact_mut(4).zip(words) {
            slot.copy_from_slice(&word.to_le_bytes());
        }
        request.0[48..56].copy_from_slice(&self.memory_limit.to_le_bytes());
        request.0[56..64].copy_from_slice(&self.fuel_limit.to_le_bytes());
        let mut pid = 0u32;
        // SAFETY: `request` is the 64-byte layout the ABI defines and every pointer in it
        // refers to a buffer that lives until the call returns; `pid` is a valid u32.
        check(unsafe { sys::spawn(request.0.as_ptr(), &mut pid) })?;
        Ok(pid)
    }
}

fn entry(key: &OsStr, value: &OsStr) -> Vec<u8> {
    let mut entry = key.as_bytes().to_vec();
    entry.push(b'=');
    entry.extend_from_slice(value.as_bytes());
    entry
}

fn nul_joined(strings: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for string in strings {
        out.extend_from_slice(string);
        out.push(0);
    }
    out
}

/// The caller's preopened directories and listening sockets, in fd order: fds from 3 up
/// (until the first closed one) whose prestat is a directory, with its name, or which are
/// sockets, with an empty name (the kernel hands a socket on as it is).
fn own_preopens() -> Vec<(RawFd, Vec<u8>)> {
    /// preview1's `filetype` of a stream socket.
    const SOCKET_STREAM: u8 = 6;
    let mut found = Vec::new();
    for fd in 3..1024u32 {
        /// preview1's `fdstat`: the file type comes first.
        #[repr(C, align(8))]
        struct Fdstat([u8; 24]);
        let mut stat = Fdstat([0; 24]);
        // SAFETY: `stat` has the size and alignment of preview1's `fdstat`.
        if unsafe { preview1::fd_fdstat_get(fd as i32, stat.0.as_mut_ptr() as i32) } != 0 {
            break;
        }
        if stat.0[0] == SOCKET_STREAM {
            found.push((fd as RawFd, Vec::new()));
            continue;
        }
        #[repr(C)]
        struct Prestat {
            tag: u8,
            name_len: u32,
        }
        let mut prestat = Prestat {
            tag: 0,
            name_len: 0,
        };
        // SAFETY: `prestat` has the layout of preview1's `prestat` (tag, then a u32 length).
        let errno = unsafe { preview1::fd_prestat_get(fd as i32, &mut prestat as *mut _ as i32) };
        if errno != 0 || prestat.tag != 0 {
            continue;
        }
        let mut name = vec![0u8; prestat.name_len as usize];
        // SAFETY: `name` has room for the `name_len` bytes the kernel writes.
        let errno = unsafe {
            preview1::fd_prestat_dir_name(fd as i32, name.as_mut_ptr() as i32, name.len() as i32)
        };
        if errno == 0 {
            found.push((fd as RawFd, name));
        }
    }
    found
}

mod preview1 {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        pub fn fd_fdstat_get(fd: i32, stat: i32) -> i32;
        pub fn fd_prestat_get(fd: i32, prestat: i32) -> i32;
        pub fn fd_prestat_dir_name(fd: i32, path: i32, len: i32) -> i32;
    }
}

/// Waits for a child to end: `pid` names one child, `None` any child. With `nohang`, returns
/// `Ok(None)` at once when no child has ended yet. `ECHILD` when there is no such child.
pub fn wait(pid: Option<Pid>, nohang: bool) -> io::Result<Option<(Pid, Status)>> {
    let mut result = [0u32; 3];
    let pid = pid.map_or(-1, |pid| pid as i32);
    // SAFETY: `result` holds the three u32s the kernel writes.
    check(unsafe { sys::wait(pid, u32::from(nohang), result.as_mut_ptr()) })?;
    Ok((result[0] != 0).then(|| (result[0], Status::decode(result[1], result[2]))))
}

/// Sends `signal` to process `pid`, or to every process of group `-pid` when `pid` is below
/// -1. Signal 0 only checks that the target exists. Every other signal ends the target, since
/// preview1 programs cannot handle signals. `ESRCH`: no such process; `EPERM`: init.
pub fn kill(pid: i32, signal: u32) -> io::Result<()> {
    // SAFETY: no pointers.
    check(unsafe { sys::kill(pid, signal) })
}

/// A new pipe: (read end, write end). Reads block while it is empty and return end of file
/// once every write end is closed; writing with no read end left fails with `EPIPE`.
pub fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0u32; 2];
    // SAFETY: `fds` holds the two u32s the kernel writes.
    check(unsafe { sys::pipe(fds.as_mut_ptr()) })?;
    // SAFETY: the kernel just opened both fds for this process; nothing else owns them.
    Ok(unsafe {
        (
            File::from_raw_fd(fds[0] as RawFd),
            File::from_raw_fd(fds[1] as RawFd),
        )
    })
}

/// What a process is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Running or ready to run.
    Running,
    /// Blocked: reading, sleeping or waiting for a child.
    Sleeping,
    /// Ended, not yet waited for by its parent.
    Zombie,
}

impl State {
    /// The letter `ps` shows: R, S or Z.
    pub fn letter(self) -> char {
        match self {
            State::Running => 'R',
            State::Sleeping => 'S',
            State::Zombie => 'Z',
        }
    }
}

/// One process as [`processes`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Its pid.
    pub pid: Pid,
    /// Its parent's pid (0 for init).
    pub ppid: Pid,
    /// Its process group.
    pub pgid: Pid,
    /// What it is doing.
    pub state: State,
    /// Bytes the process holds, charged against its memory limit: linear memory, its code in
    /// the interpreter, the pipes it made and the connections it accepted.
    pub memory: u64,
    /// CPU time used, in nanoseconds.
    pub cpu_ns: u64,
    /// Its `argv[0]` (at most 31 bytes of it).
    pub name: String,
}

const RECORD: usize = 64;

/// Every process on the system, in pid order.
pub fn processes() -> io::Result<Vec<ProcessInfo>> {
    let mut capacity = 64;
    loop {
        // u64s: the records are 8-aligned.
        let mut words = vec![0u64; capacity * RECORD / 8];
        let mut count = 0u32;
        let len = (words.len() * 8) as u32;
        // SAFETY: `words` has room for `len` bytes; `count` is a valid u32.
        check(unsafe { sys::processes(words.as_mut_ptr().cast(), len, &mut count) })?;
        let buf: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let count = count as usize;
        if count > capacity {
            capacity = count;
            continue;
        }
        return Ok(buf
            .chunks_exact(RECORD)
            .take(count)
            .map(decode_process)
            .collect());
    }
}

fn decode_process(record: &[u8]) -> ProcessInfo {
    let u32_at = |at: usize| u32::from_le_bytes(record[at..at + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |at: usize| u64::from_le_bytes(record[at..at + 8].try_into().unwrap_or([0; 8]));
    let name = &record[32..64];
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    ProcessInfo {
        pid: u32_at(0),
        ppid: u32_at(4),
        pgid: u32_at(8),
        state: match u32_at(12) {
            0 => State::Running,
            1 => State::Sleeping,
            _ => State::Zombie,
        },
        memory: u64_at(16),
        cpu_ns: u64_at(24),
        name: String::from_utf8_lossy(name).into_owned(),
    }
}

/// The caller's pid.
pub fn pid() -> Pid {
    let mut pid = 0u32;
    // SAFETY: `pid` is a valid u32.
    let _ = unsafe { sys::self_pid(&mut pid) };
    pid
}

/// Switches the console between raw input (`true`: every byte as typed, no echo, no
/// Ctrl-C or Ctrl-D handling — for a line editor) and cooked input (`false`: echo, erase
/// with backspace, lines delivered on Enter, Ctrl-C interrupts the foreground group, Ctrl-D
/// is end of file). `ENOTTY` when stdin is not the console.
pub fn set_console_raw(raw: bool) -> io::Result<()> {
    // SAFETY: no pointers.
    check(unsafe { sys::console_mode(u32::from(raw)) })
}

/// Makes `pgid` the console's foreground process group: the one Ctrl-C interrupts.
pub fn set_foreground(pgid: Pid) -> io::Result<()> {
    // SAFETY: no pointers.
    check(unsafe { sys::set_foreground(pgid) })
}

/// Machine-wide figures, for tests and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemInfo {
    /// Bytes of the kernel heap in use.
    pub kernel_heap_used: u64,
    /// Bytes of memory free for programs and files.
    pub free_memory: u64,
    /// Bytes of memory in all.
    pub total_memory: u64,
    /// Nanoseconds since boot.
    pub uptime_ns: u64,
    /// Processes that exist (zombies included).
    pub processes: u64,
    /// Times the scheduler switched from one process to another.
    pub context_switches: u64,
}

/// Machine-wide figures.
pub fn system_info() -> io::Result<SystemInfo> {
    let mut words = [0u64; 6];
    // SAFETY: `words` holds the six u64s the kernel writes.
    check(unsafe { sys::system_info(words.as_mut_ptr()) })?;
    Ok(SystemInfo {
        kernel_heap_used: words[0],
        free_memory: words[1],
        total_memory: words[2],
        uptime_ns: words[3],
        processes: words[4],
        context_switches: words[5],
    })
}
