//! Helpers shared by the integration tests: building once, and running the `cella` runner
//! (what `./qemu.sh` runs) with a timeout, capturing its status and output. Every process a
//! test starts is a [`Reaped`], so none outlives its test, even a failing one.
#![allow(dead_code, reason = "each test file uses a different subset")]

pub mod http;
pub mod terminal;
pub mod wasm;

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::ops::{Deref, DerefMut};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The runner's own `--timeout` for a test run.
const RUN_TIMEOUT_SECS: u64 = 120;
/// Backstop in case the runner itself hangs: this much beyond its own `--timeout`.
const HARNESS_MARGIN: Duration = Duration::from_secs(60);

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("boot/ has a parent")
        .to_path_buf()
}

pub fn program(name: &str) -> String {
    root()
        .join("userland")
        .join(format!("{name}.wasm"))
        .display()
        .to_string()
}

/// Builds the kernel, both images and every userland program once for all tests.
pub fn setup() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let status = Command::new(env!("CARGO_BIN_EXE_cella"))
            .arg("--setup")
            .env("CELLA_ROOT", root())
            .status()
            .expect("cannot start the runner");
        assert!(status.success(), "cella --setup failed: {status}");
    });
}

#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// A process a test started — a runner, QEMU, `script` — killed and reaped when dropped, so
/// a test that fails halfway leaves nothing running (QEMU ends with its runner). It also gets
/// the parent-death signal, so that it ends even when the test binary is killed and no drop
/// runs.
pub struct Reaped(Child);

/// The status of a child that found the test binary gone before it could exec: nobody reads
/// it.
const ORPHANED: libc::c_int = 1;
/// How often [`Reaped::wait_timeout`] checks on the process.
const WAIT_POLL: Duration = Duration::from_millis(20);

impl Reaped {
    /// Starts `command`. The calling thread must outlive the process: the kernel sends the
    /// parent-death signal when the thread that forked it ends.
    pub fn spawn(command: &mut Command) -> io::Result<Reaped> {
        let test = libc::pid_t::try_from(std::process::id()).unwrap_or(libc::pid_t::MAX);
        let pre_exec = move || {
            // SAFETY: between fork and exec only async-signal-safe calls may be made: prctl,
            // getppid and _exit are bare system calls. The signal is passed as the unsigned
            // long prctl reads (it is variadic).
            unsafe {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The test binary died before the prctl: nobody will send the signal.
                if libc::getppid() != test {
                    libc::_exit(ORPHANED);
                }
            }
            Ok(())
        };
        // SAFETY: `pre_exec` makes only async-signal-safe calls (see above).
        unsafe { command.pre_exec(pre_exec) };
        command.spawn().map(Reaped)
    }

    /// Waits up to `limit` for the process to end; `None` if it is still running then.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().expect("wait for a child process") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(WAIT_POLL);
        }
    }
}

impl Deref for Reaped {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        // Both are no-ops for a process already waited for (std remembers its status).
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A runner started by [`start`], its output collected meanwhile; [`Running::finish`] waits
/// for it. Dropped unfinished (a failing test), it kills the runner, and so QEMU.
pub struct Running {
    runner: Reaped,
    /// The command line, for the timeout message.
    args: String,
    /// Backstop in case the runner itself hangs.
    harness_timeout: Duration,
    started: Instant,
    writer: JoinHandle<()>,
    stdout: JoinHandle<io::Result<Vec<u8>>>,
    stderr: JoinHandle<io::Result<String>>,
}

/// Starts `cella ARGS` with `stdin` as its standard input, in the background.
pub fn start<S: AsRef<OsStr> + std::fmt::Debug>(
    args: &[S],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Running {
    start_within(RUN_TIMEOUT_SECS, args, stdin, env)
}

/// [`start`] with the runner's `--timeout` at `timeout_secs`.
pub fn start_within<S: AsRef<OsStr> + std::fmt::Debug>(
    timeout_secs: u64,
    args: &[S],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Running {
    setup();
    let timeout = timeout_secs.to_string();
    let mut runner = Reaped::spawn(
        Command::new(env!("CARGO_BIN_EXE_cella"))
            .args(["--timeout", &timeout])
            .args(args)
            .env("CELLA_ROOT", root())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .expect("cannot start the runner");
    let started = Instant::now();
    let mut input = runner.stdin.take().expect("stdin piped");
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        // The guest may end without reading everything: ignore a broken pipe.
        let _ = input.write_all(&stdin);
    });
    let mut out = runner.stdout.take().expect("stdout piped");
    let mut err = runner.stderr.take().expect("stderr piped");
    let stdout = thread::spawn(move || {
        let mut bytes = Vec::new();
        out.read_to_end(&mut bytes).map(|_| bytes)
    });
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        err.read_to_string(&mut text).map(|_| text)
    });
    Running {
        runner,
        args: format!("{args:?}"),
        harness_timeout: HARNESS_MARGIN + Duration::from_secs(timeout_secs),
        started,
        writer,
        stdout,
        stderr,
    }
}

impl Running {
    /// Waits for the runner to end and returns its status and output.
    pub fn finish(mut self) -> Run {
        let Some(status) = self.runner.wait_timeout(self.harness_timeout) else {
            // Dropping `self` kills the runner.
            panic!(
                "the runner did not finish within {:?}: {}",
                self.harness_timeout, self.args
            );
        };
        let elapsed = self.started.elapsed();
        self.writer.join().expect("stdin writer");
        Run {
            status: status.code().unwrap_or(-1),
            stdout: self
                .stdout
                .join()
                .expect("stdout reader")
                .expect("read stdout"),
            stderr: self
                .stderr
                .join()
                .expect("stderr reader")
                .expect("read stderr"),
            elapsed,
        }
    }
}

/// Runs `cella ARGS` with `stdin` as its standard input.
pub fn cella_with<S: AsRef<OsStr> + std::fmt::Debug>(
    args: &[S],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Run {
    start(args, stdin, env).finish()
}

/// [`cella_with`] for a run that needs longer than the usual `--timeout`: `timeout_secs`.
pub fn cella_within<S: AsRef<OsStr> + std::fmt::Debug>(
    timeout_secs: u64,
    args: &[S],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Run {
    start_within(timeout_secs, args, stdin, env).finish()
}

/// A loopback port free right now (for `--tcplisten`): the system picks one, and it is
/// released at once.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}

pub fn cella(args: &[&str]) -> Run {
    cella_with(args, b"", &[])
}

pub fn assert_ok(run: &Run) {
    assert_eq!(run.status, 0, "{run:?}");
}

/// A scratch host directory, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("cella-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create scratch dir");
        Scratch(path)
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.0.join(relative)
    }

    /// `HOST::GUEST` for `--dir`, HOST being `relative` inside the scratch directory.
    pub fn arg(&self, relative: &str, guest: &str) -> String {
        format!("{}::{guest}", self.path(relative).display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
