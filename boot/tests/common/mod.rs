//! Helpers shared by the integration tests: building once, and running the `cella` runner
//! (what `./qemu.sh` runs) with a timeout, capturing its status and output.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
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

/// Runs `cella ARGS` with `stdin` as its standard input.
pub fn cella_with<S: AsRef<OsStr> + std::fmt::Debug>(
    args: &[S],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Run {
    cella_within(RUN_TIMEOUT_SECS, args, stdin, env)
}

/// [`cella_with`] for a run that needs longer than the usual `--timeout`: `timeout_secs`.
pub fn cella_within<S: AsRef<OsStr> + std::fmt::Debug>(
    timeout_secs: u64,
    args: &[S],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Run {
    setup();
    let harness_timeout = HARNESS_MARGIN + Duration::from_secs(timeout_secs);
    let timeout = timeout_secs.to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cella"))
        .args(["--timeout", &timeout])
        .args(args)
        .env("CELLA_ROOT", root())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the runner");
    let started = Instant::now();
    let mut input = child.stdin.take().expect("stdin piped");
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        // The guest may end without reading everything: ignore a broken pipe.
        let _ = input.write_all(&stdin);
    });
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let reader = thread::spawn(move || {
        let mut bytes = Vec::new();
        out.read_to_end(&mut bytes).map(|_| bytes)
    });
    let err_reader = thread::spawn(move || {
        let mut text = String::new();
        err.read_to_string(&mut text).map(|_| text)
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > harness_timeout {
            let _ = child.kill();
            panic!("the runner did not finish within {harness_timeout:?}: {args:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    writer.join().expect("stdin writer");
    Run {
        status: status.code().unwrap_or(-1),
        stdout: reader.join().expect("stdout reader").expect("read stdout"),
        stderr: err_reader
            .join()
            .expect("stderr reader")
            .expect("read stderr"),
        elapsed,
    }
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
