//! Start, wait for and signal other programs on Cella: safe Rust for `cella_process`,
//! Cella's own import module.
//!
//! A Cella program is an ordinary `wasm32-wasip1` program. Pure preview1 has no processes, so
//! a program that manages others — a shell, an init, a test driver, a supervisor — uses this
//! crate: [`Command`] builds and starts a child, [`wait`] collects how it ended, [`pipe`]
//! connects children, [`kill`] ends them, [`processes`] lists every process and
//! [`system_info`] gives machine-wide figures and [`fs_info`] a file system's size and use. A program that imports `cella_process` runs
//! only on Cella (wasmtime refuses the unknown import).
//!
//! ```no_run
//! use std::io::Read;
//! use cella_process::{Command, Status, Stdio, pipe, wait};
//!
//! // Run `/bin/echo hello` with its stdout into a pipe, read it, and wait for the child.
//! let (mut reader, writer) = pipe()?;
//! let pid = Command::new("/bin/echo").arg("hello").stdout(Stdio::from(&writer)).spawn()?;
//! drop(writer); // Our copy of the write end: the read below ends when the child's closes.
//! let mut output = String::new();
//! reader.read_to_string(&mut output)?;
//! assert_eq!(output, "hello\n");
//! assert_eq!(wait(Some(pid), false)?, Some((pid, Status::Exited(0))));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Every function returns `io::Error` from the WASI errno the kernel returned
//! (`io::Error::from_raw_os_error`), so `ESRCH`, `ECHILD`, `EAGAIN` and the like read as
//! usual. The ABI underneath — each function's name and parameters, the records passed in
//! memory and the constants — is defined once in the `cella-process-abi` crate, which the
//! kernel shares; its records and constants are re-exported here.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::wasi::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cella_process_abi::{
    CONSOLE_COOKED, CONSOLE_RAW, Group, PreopenEntry, ProcessRecord, Record, SpawnRequest,
    WaitResult,
};
pub use cella_process_abi::{
    FsInfo, MAX_PREOPENS, MAX_SIGNAL, MAX_STRINGS_BYTES, ProcessState, SIGCONT, SIGINT, SIGKILL,
    SIGNAL_NAMES, SIGSTOP, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU, Status, SystemInfo, is_stop_signal,
    signal_name, signal_number,
};

/// A process id. Init is 1.
pub type Pid = u32;

/// The `extern` declarations of the module's functions, generated from the ABI's list.
mod sys {
    macro_rules! imports {
        (module = $module:literal;
         $( $(#[$doc:meta])* $variant:ident $name:ident ( $($param:ident : $ty:ident),* ); )*) => {
            #[link(wasm_import_module = $module)]
            unsafe extern "C" {
                $( pub fn $name($($param: $ty),*) -> u32; )*
            }
        };
    }
    cella_process_abi::cella_process_functions!(imports);
}

/// The guest address of `bytes`, which the kernel only reads (wasm32 addresses are 32 bits).
fn addr(bytes: &[u8]) -> u32 {
    bytes.as_ptr() as usize as u32
}

/// `len` bytes starting at an address aligned to `align`, as the ABI wants its records.
struct Aligned {
    bytes: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize, align: usize) -> Aligned {
        let bytes = vec![0; len + align];
        let start = bytes.as_ptr().align_offset(align).min(align);
        Aligned { bytes, start, len }
    }

    /// A zeroed buffer for `count` records of type `R`.
    fn records<R: Record>(count: usize) -> Aligned {
        Aligned::new(count * R::SIZE, R::ALIGN)
    }

    /// `record`, encoded.
    fn encoded<R: Record>(record: &R) -> Aligned {
        let mut buffer = Aligned::records::<R>(1);
        record.encode(buffer.as_mut());
        buffer
    }

    fn as_ref(&self) -> &[u8] {
        &self.bytes[self.start..self.start + self.len]
    }

    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + self.len]
    }

    /// The buffer's guest address, for the kernel to read or write.
    fn addr(&mut self) -> u32 {
        self.as_mut().as_mut_ptr() as usize as u32
    }

    /// The `n`th record of type `R` in the buffer.
    fn record<R: Record>(&self, n: usize) -> R {
        R::decode(&self.as_ref()[n * R::SIZE..])
    }
}

/// The result of a call: `Ok` for errno 0.
fn check(errno: u32) -> io::Result<()> {
    match errno {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno as i32)),
    }
}

/// Where a child's standard stream comes from.
///
/// ```no_run
/// use std::fs::File;
/// use cella_process::{Command, Stdio};
///
/// // The child's stdout goes to a file of ours; stdin and stderr are ours too.
/// let log = File::create("/tmp/job.log")?;
/// let pid = Command::new("/bin/job.wasm").stdout(Stdio::from(&log)).spawn()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    /// The caller's stream of the same number.
    Inherit,
    /// This fd of the caller (a file, a pipe end, the console). The child gets its own
    /// reference to what the fd refers to: the caller may close its fd once `spawn` returns.
    Fd(RawFd),
}

impl<T: AsRawFd> From<&T> for Stdio {
    fn from(fd: &T) -> Stdio {
        Stdio::Fd(fd.as_raw_fd())
    }
}

/// Builds and starts a child process, like `std::process::Command`.
///
/// The program is a `.wasm` module the caller can open through its own preopens; by
/// default the child gets the caller's environment and stdio, no preopens, the caller's
/// process group and limits.
///
/// ```no_run
/// use cella_process::{Command, wait};
///
/// let pid = Command::new("/bin/ls.wasm")
///     .arg("-l")
///     .env("LANG", "C")
///     .inherit_preopens() // Let it see the directories we see.
///     .spawn()?;
/// let (_, status) = wait(Some(pid), false)?.expect("a child that has ended");
/// println!("ls ended with {status:?} (shell status {})", status.code());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Command {
    program: PathBuf,
    args: Vec<Vec<u8>>,
    env: Option<Vec<Vec<u8>>>,
    stdio: [Stdio; 3],
    preopens: Vec<(RawFd, Vec<u8>)>,
    inherit_preopens: bool,
    current_dir: Option<PathBuf>,
    group: Group,
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
            current_dir: None,
            group: Group::Caller,
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

    /// Hands the caller's directory `fd` to the child as a preopen named `name`, with the
    /// caller's rights on it. Preopens reach the child as fds 3, 4, ... in the order they
    /// were added (at most [`MAX_PREOPENS`]).
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use std::os::fd::AsRawFd;
    /// use cella_process::Command;
    ///
    /// // The child sees our /data/job as its /work, and nothing else.
    /// let dir = File::open("/data/job")?;
    /// let pid = Command::new("/bin/build.wasm").preopen(dir.as_raw_fd(), "/work").spawn()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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

    /// Starts the child in the directory `dir` (a path the caller can open): the child gets
    /// it as its last preopen, named [`CURRENT_DIR`] (`.`), in place of any `.` it would
    /// inherit, as `wasmtime run --dir .` grants the directory it runs in. wasi-libc, and so
    /// Rust's std, resolve a relative path through that preopen (`./file`, `sub/file`; `..`
    /// above `dir` is `ENOTCAPABLE`), but an absolute path through it too when no other
    /// preopen has a longer matching name: a program that knows its directory by name
    /// ([`prefer_root_preopen`] with `PWD`) keeps absolute paths. Spawning fails as
    /// `File::open(dir)` does when `dir` cannot be opened.
    ///
    /// ```no_run
    /// use cella_process::Command;
    ///
    /// // `make` reads ./Makefile in /src/project.
    /// let pid = Command::new("/bin/make.wasm")
    ///     .inherit_preopens()
    ///     .current_dir("/src/project")
    ///     .env("PWD", "/src/project")
    ///     .spawn()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.current_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Puts the child in a new process group of its own (its pgid is its pid), as a shell
    /// does for each job, so that `kill(-pid, ...)` reaches the whole job.
    pub fn new_process_group(&mut self) -> &mut Command {
        self.group = Group::New;
        self
    }

    /// Puts the child in the existing process group `pgid` (`EPERM` at spawn if there is
    /// none).
    pub fn process_group(&mut self, pgid: Pid) -> &mut Command {
        self.group = Group::from_word(pgid);
        self
    }

    /// Caps what the child holds — its linear memory, its code in the interpreter, the
    /// pipes it makes and the connections it accepts — at `bytes` (0: the caller's own
    /// limit). A child never gets more than its parent: a larger value is the parent's.
    ///
    /// ```no_run
    /// use cella_process::{Command, Status, wait};
    ///
    /// // Untrusted code: 16 MiB, ten million instructions, 16 open files.
    /// let pid = Command::new("/plugins/filter.wasm")
    ///     .memory_limit(16 << 20)
    ///     .fuel_limit(10_000_000)
    ///     .max_fds(16)
    ///     .spawn()?;
    /// if let Some((_, Status::FuelExhausted)) = wait(Some(pid), false)? {
    ///     eprintln!("filter ran too long");
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
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

    /// Starts the child and returns its pid; the child runs alongside the caller until
    /// [`wait`] collects it. Errors: the program cannot be opened (as `File::open`),
    /// `ENOEXEC` when it is not a valid WASI module, `EAGAIN` at the process limit, `ENOMEM`
    /// when memory is short, `EBADF` for a bad stdio or preopen fd, `E2BIG` for argv or an
    /// environment over [`MAX_STRINGS_BYTES`].
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
        // Held open until the spawn has copied it into the child.
        let current_dir = match &self.current_dir {
            Some(dir) => {
                let dir = File::open(dir)?;
                preopens.retain(|(_, name)| !names_current_dir(name));
                preopens.push((dir.as_raw_fd(), CURRENT_DIR.as_bytes().to_vec()));
                Some(dir)
            }
            None => None,
        };
        let mut table = Aligned::records::<PreopenEntry>(preopens.len());
        for ((fd, name), slot) in preopens
            .iter()
            .zip(table.as_mut().chunks_exact_mut(PreopenEntry::SIZE))
        {
            let entry = PreopenEntry {
                fd: *fd as u32,
                name: addr(name),
                name_len: name.len() as u32,
            };
            entry.encode(slot);
        }
        let fd = |stdio: Stdio, own: RawFd| match stdio {
            Stdio::Inherit => own as u32,
            Stdio::Fd(fd) => fd as u32,
        };
        let mut request = Aligned::encoded(&SpawnRequest {
            program_fd: file.as_raw_fd() as u32,
            argv: addr(&argv),
            argv_len: argv.len() as u32,
            env: addr(&env),
            env_len: env.len() as u32,
            stdio: [
                fd(self.stdio[0], 0),
                fd(self.stdio[1], 1),
                fd(self.stdio[2], 2),
            ],
            preopens: table.addr(),
            preopens_len: preopens.len() as u32,
            group: self.group,
            max_fds: self.max_fds,
            memory_limit: self.memory_limit,
            fuel_limit: self.fuel_limit,
        });
        let mut pid = Aligned::new(4, 4);
        // SAFETY: the request and every buffer it points to (argv, env, the preopen table
        // and its names) live until the call returns; `pid` has room for the u32 written.
        check(unsafe { sys::spawn(request.addr(), pid.addr()) })?;
        drop(current_dir);
        Ok(u32::from_le_bytes(
            pid.as_ref().try_into().unwrap_or([0; 4]),
        ))
    }

    /// Starts the child and waits for it to end.
    ///
    /// ```no_run
    /// use cella_process::Command;
    ///
    /// let status = Command::new("/bin/true.wasm").status()?;
    /// assert!(status.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn status(&self) -> io::Result<Status> {
        let pid = self.spawn()?;
        loop {
            if let Some((_, status)) = wait(Some(pid), false)? {
                return Ok(status);
            }
        }
    }
}

/// The name of the preopen that grants a child its working directory (see
/// [`Command::current_dir`]); wasi-libc reads `./` and an empty name the same way.
pub const CURRENT_DIR: &str = ".";

/// Whether a preopen's name is the working directory's (`.` or `./`).
fn names_current_dir(name: &[u8]) -> bool {
    matches!(name, b"." | b"./")
}

/// Gives a program started with [`Command::current_dir`] absolute paths back, keeping
/// relative ones in its directory, when it knows that directory's name from `PWD` (Cella's
/// shell exports it). wasi-libc reads a preopen named `.` like one named `/`, the later one
/// winning for every path, so in a child with both an absolute path would resolve under the
/// working directory. When `PWD` is absolute and the caller has a preopen named `/` before one
/// named `.`, this registers `/` with wasi-libc again (the newest registration wins) and
/// makes `PWD` the current directory (`std::env::set_current_dir`): `file` is then
/// `$PWD/file`, `..` works up to `/`, and `/etc/motd` is itself. Without a `.` preopen it
/// only changes to `PWD`. Returns whether `PWD` is now the current directory.
///
/// ```no_run
/// // First thing in main: relative and absolute paths both as the shell user means them.
/// cella_process::enter_pwd();
/// let notes = std::fs::read_to_string("notes.txt");
/// let motd = std::fs::read_to_string("/etc/motd");
/// ```
pub fn enter_pwd() -> bool {
    let Some(pwd) = std::env::var_os("PWD").filter(|pwd| pwd.as_bytes().starts_with(b"/")) else {
        return false;
    };
    let preopens = own_preopens();
    let root = preopens.iter().rposition(|(_, name)| name == b"/");
    let current = preopens
        .iter()
        .rposition(|(_, name)| names_current_dir(name));
    if let (Some(root), Some(current)) = (root, current)
        && current > root
    {
        let root_fd = preopens[root].0;
        // SAFETY: the prefix is a NUL-terminated string that lives across the call; wasi-libc
        // copies it into its own table.
        if unsafe { __wasilibc_register_preopened_fd(root_fd, c"/".as_ptr()) } != 0 {
            return false;
        }
    }
    std::env::set_current_dir(&pwd).is_ok()
}

unsafe extern "C" {
    /// wasi-libc's (`wasi/libc.h`): registers `fd` as a preopen named `prefix`, after the
    /// ones found at startup.
    fn __wasilibc_register_preopened_fd(fd: i32, prefix: *const std::ffi::c_char) -> i32;
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

/// Waits for a child to end and reaps it: `pid` names one child, `None` any child. Returns
/// the child's pid and how it ended; with `nohang`, `Ok(None)` at once when no child has
/// ended yet. `ECHILD` when there is no such child of the caller.
///
/// ```no_run
/// use cella_process::{Command, wait};
///
/// for n in 1..=3 {
///     Command::new("/bin/worker.wasm").arg(n.to_string()).spawn()?;
/// }
/// // Reap them in the order they end.
/// while let Ok(Some((pid, status))) = wait(None, false) {
///     println!("{pid} ended: {status:?}");
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait(pid: Option<Pid>, nohang: bool) -> io::Result<Option<(Pid, Status)>> {
    wait_options(pid, nohang, 0)
}

/// [`wait`] that also reports a child that has stopped (POSIX's `WUNTRACED`), as
/// [`Status::Stopped`] with the signal that stopped it, once per stop and without reaping
/// it: what a shell waits with for its foreground job, so that Ctrl-Z gives it the console
/// back.
///
/// ```no_run
/// use cella_process::{Command, SIGCONT, Status, kill, wait_untraced};
///
/// let pid = Command::new("/bin/spin.wasm").arg("job").arg("60").spawn()?;
/// if let Some((_, Status::Stopped(_))) = wait_untraced(Some(pid), false)? {
///     kill(pid as i32, SIGCONT)?; // Someone stopped it: let it go on.
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_untraced(pid: Option<Pid>, nohang: bool) -> io::Result<Option<(Pid, Status)>> {
    wait_options(pid, nohang, cella_process_abi::WAIT_UNTRACED)
}

fn wait_options(pid: Option<Pid>, nohang: bool, options: u32) -> io::Result<Option<(Pid, Status)>> {
    let mut result = Aligned::records::<WaitResult>(1);
    let pid = pid.map_or(cella_process_abi::ANY_CHILD, |pid| pid as i32);
    let options = if nohang {
        options | cella_process_abi::WAIT_NOHANG
    } else {
        options
    };
    // SAFETY: `result` has the size and alignment of the WaitResult the kernel writes.
    check(unsafe { sys::wait(pid, options, result.addr()) })?;
    let result: WaitResult = result.record(0);
    Ok((result.pid != 0).then_some((result.pid, result.status)))
}

/// Sends `signal` to process `pid`, or to every process of group `-pid` when `pid` is below
/// -1 (0: the caller's own group). Signal 0 only checks that the target exists; preview1
/// programs cannot handle signals, so each has its default action: [`SIGCONT`] continues a
/// stopped target, [`SIGSTOP`], [`SIGTSTP`], [`SIGTTIN`] and [`SIGTTOU`] stop it (it is not
/// scheduled until continued), every other signal (up to [`MAX_SIGNAL`]) ends it, stopped or
/// not. `ESRCH`: no such process; `EPERM`: init; `EINVAL`: another signal, or pid -1.
///
/// ```no_run
/// use cella_process::{Command, SIGTERM, Status, kill, wait};
///
/// let pid = Command::new("/bin/server.wasm").spawn()?;
/// kill(pid as i32, SIGTERM)?;
/// assert_eq!(wait(Some(pid), false)?, Some((pid, Status::Signaled(SIGTERM))));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn kill(pid: i32, signal: u32) -> io::Result<()> {
    // SAFETY: no pointers.
    check(unsafe { sys::kill(pid, signal) })
}

/// A new pipe: (read end, write end). Reads block while it is empty and return end of file
/// once every write end is closed — the caller's included, so drop yours after handing it
/// to a child; writing with no read end left fails with `EPIPE`.
///
/// ```no_run
/// use cella_process::{Command, Stdio, pipe};
///
/// // `producer | consumer`.
/// let (reader, writer) = pipe()?;
/// Command::new("/bin/producer.wasm").stdout(Stdio::from(&writer)).spawn()?;
/// Command::new("/bin/consumer.wasm").stdin(Stdio::from(&reader)).spawn()?;
/// drop((reader, writer));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn pipe() -> io::Result<(File, File)> {
    let mut fds = Aligned::new(8, 4);
    // SAFETY: `fds` has room for the two u32s the kernel writes.
    check(unsafe { sys::pipe(fds.addr()) })?;
    let fd = |n: usize| {
        let bytes = fds.as_ref().get(n * 4..n * 4 + 4).unwrap_or(&[0; 4]);
        u32::from_le_bytes(bytes.try_into().unwrap_or([0; 4])) as RawFd
    };
    // SAFETY: the kernel just opened both fds for this process; nothing else owns them.
    Ok(unsafe { (File::from_raw_fd(fd(0)), File::from_raw_fd(fd(1))) })
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
    pub state: ProcessState,
    /// Bytes the process holds, charged against its memory limit: linear memory, its code in
    /// the interpreter, the pipes it made and the connections it accepted.
    pub memory: u64,
    /// CPU time used, in nanoseconds.
    pub cpu_ns: u64,
    /// Its `argv[0]` (at most 31 bytes of it).
    pub name: String,
}

impl From<ProcessRecord> for ProcessInfo {
    fn from(record: ProcessRecord) -> ProcessInfo {
        ProcessInfo {
            pid: record.pid,
            ppid: record.ppid,
            pgid: record.pgid,
            state: record.state,
            memory: record.memory,
            cpu_ns: record.cpu_ns,
            name: String::from_utf8_lossy(record.name()).into_owned(),
        }
    }
}

/// Every process on the system, zombies included, in pid order.
///
/// ```no_run
/// for p in cella_process::processes()? {
///     println!("{:>5} {} {:>8} B {}", p.pid, p.state.letter(), p.memory, p.name);
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn processes() -> io::Result<Vec<ProcessInfo>> {
    /// Records room is made for at first; more once the kernel says there are more.
    const FIRST_GUESS: usize = 64;
    let mut capacity = FIRST_GUESS;
    loop {
        let mut buffer = Aligned::records::<ProcessRecord>(capacity);
        let mut count = Aligned::new(4, 4);
        let len = buffer.as_ref().len() as u32;
        // SAFETY: `buffer` has room for `len` bytes of records; `count` for a u32.
        check(unsafe { sys::processes(buffer.addr(), len, count.addr()) })?;
        let count = u32::from_le_bytes(count.as_ref().try_into().unwrap_or([0; 4])) as usize;
        // More processes than fitted: ask again with room for all of them.
        if count > capacity {
            capacity = count;
            continue;
        }
        return Ok((0..count)
            .map(|n| buffer.record::<ProcessRecord>(n).into())
            .collect());
    }
}

/// The caller's pid.
pub fn pid() -> Pid {
    let mut pid = Aligned::new(4, 4);
    // SAFETY: `pid` has room for the u32 written.
    let _ = unsafe { sys::self_pid(pid.addr()) };
    u32::from_le_bytes(pid.as_ref().try_into().unwrap_or([0; 4]))
}

/// Switches the console between raw input (`true`: every byte as typed, no echo, no
/// Ctrl-C or Ctrl-D handling — for a line editor) and cooked input (`false`: echo, erase
/// with backspace, lines delivered on Enter, Ctrl-C interrupts the foreground group, Ctrl-D
/// is end of file). `ENOTTY` when stdin is not the console.
///
/// ```no_run
/// cella_process::set_console_raw(true)?;
/// // ... read keys one by one ...
/// cella_process::set_console_raw(false)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_console_raw(raw: bool) -> io::Result<()> {
    let mode = if raw { CONSOLE_RAW } else { CONSOLE_COOKED };
    // SAFETY: no pointers.
    check(unsafe { sys::console_mode(mode) })
}

/// Makes `pgid` the console's foreground process group: the one Ctrl-C interrupts.
///
/// ```no_run
/// use cella_process::{Command, set_foreground, wait};
///
/// // Run a job in its own group and let Ctrl-C reach it, not us.
/// let pid = Command::new("/bin/job.wasm").new_process_group().spawn()?;
/// set_foreground(pid)?;
/// wait(Some(pid), false)?;
/// set_foreground(cella_process::pid())?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_foreground(pgid: Pid) -> io::Result<()> {
    // SAFETY: no pointers.
    check(unsafe { sys::set_foreground(pgid) })
}

/// Machine-wide figures: memory, uptime, processes, context switches.
///
/// ```no_run
/// let info = cella_process::system_info()?;
/// println!("{} of {} bytes free", info.free_memory, info.total_memory);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn system_info() -> io::Result<SystemInfo> {
    let mut info = Aligned::records::<SystemInfo>(1);
    // SAFETY: `info` has the size and alignment of the SystemInfo the kernel writes.
    check(unsafe { sys::system_info(info.addr()) })?;
    Ok(info.record(0))
}

/// The size and use of the file system that holds the open directory `dir` (as
/// `fstatvfs`): `ENOTDIR` if it is not a directory.
///
/// ```no_run
/// let root = std::fs::File::open("/")?;
/// let fs = cella_process::fs_info(&root)?;
/// println!("{} of {} bytes used", fs.used, fs.size);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn fs_info(dir: &File) -> io::Result<FsInfo> {
    let mut info = Aligned::records::<FsInfo>(1);
    // SAFETY: `info` has the size and alignment of the FsInfo the kernel writes.
    check(unsafe { sys::fs_info(dir.as_raw_fd() as u32, info.addr()) })?;
    Ok(info.record(0))
}
