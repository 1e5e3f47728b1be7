//! A minimal HTTP/1.1 client for the server tests (`httpd`, the Go server): connecting,
//! reading one response by its `Content-Length`, waiting for a server that boots with its
//! guest, and starting the runner with the output in files.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{Reaped, Scratch, free_port, root, setup};

/// How long the host keeps trying to reach a server (the guest boots meanwhile).
pub const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// A read that takes longer than this means the server is stuck.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one attempt of [`wait_ready`] waits for an answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause between two attempts of [`wait_ready`].
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// The runner's `--timeout` for a server run: long past any test.
const SERVER_RUN_SECS: &str = "300";

pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// One response: status code, head (lowercased header lines) and body.
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// Reads one response from `stream`; `head_only` for a HEAD request (no body follows).
pub fn read_response(stream: &mut TcpStream, head_only: bool) -> Response {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read a response head");
        assert!(n == 1, "connection closed in a response head: {data:?}");
        data.push(byte[0]);
    }
    let head = String::from_utf8(data).unwrap().to_lowercase();
    let status = head[9..12].parse().expect("a status code");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |value| value.trim().parse().unwrap());
    let mut body = vec![0u8; if head_only { 0 } else { length }];
    stream.read_exact(&mut body).expect("read a response body");
    Response { status, head, body }
}

/// `GET path` on a connection of its own.
pub fn get(port: u16, path: &str) -> Response {
    let mut stream = connect(port);
    write!(stream, "GET {path} HTTP/1.1\r\nHost: cella\r\n\r\n").unwrap();
    read_response(&mut stream, false)
}

/// Waits until `GET path` answers with a body ending in `body` (QEMU accepts connections
/// before the guest listens, so an answer is what counts); fails when the runner ends first
/// or after [`READY_TIMEOUT`].
pub fn wait_ready(port: u16, runner: &mut Child, path: &str, body: &[u8]) {
    let started = Instant::now();
    loop {
        let answer = TcpStream::connect(("127.0.0.1", port)).and_then(|mut stream| {
            stream.set_read_timeout(Some(ATTEMPT_TIMEOUT))?;
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: cella\r\nConnection: close\r\n\r\n"
            )?;
            let mut buf = Vec::new();
            stream.read_to_end(&mut buf).or_else(|e| {
                (e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut)
                    .then_some(0)
                    .ok_or(e)
            })?;
            Ok(buf)
        });
        if answer.is_ok_and(|buf| buf.ends_with(body)) {
            return;
        }
        if let Some(status) = runner.try_wait().unwrap() {
            panic!("the runner ended ({status}) before the server answered {path}");
        }
        assert!(
            started.elapsed() < READY_TIMEOUT,
            "the server never answered {path}"
        );
        thread::sleep(RETRY_PAUSE);
    }
}

/// Starts the runner with `args` (stdin piped, output captured into the files `stdout` and
/// `stderr` of `scratch`); it is killed, and QEMU with it, when the test ends, however it
/// ends.
pub fn start_runner(args: &[String], scratch: &Scratch) -> Reaped {
    setup();
    Reaped::spawn(
        Command::new(env!("CARGO_BIN_EXE_cella"))
            .args(["--timeout", SERVER_RUN_SECS])
            .args(args)
            .env("CELLA_ROOT", root())
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(scratch.path("stdout")).unwrap())
            .stderr(std::fs::File::create(scratch.path("stderr")).unwrap()),
    )
    .expect("start the runner")
}

/// Shell mode with a listener on a free port of 127.0.0.1 and `scratch`'s directory `dir`
/// preopened at `guest`, and `command` typed at the prompt (a server started in the
/// background, then something that echoes): the runner, its stdin for more commands, and
/// the port.
pub fn shell_serving(
    scratch: &Scratch,
    dir: &str,
    guest: &str,
    command: &[u8],
) -> (Reaped, ChildStdin, u16) {
    let port = free_port();
    let args = vec![
        "--tcplisten".to_string(),
        format!("127.0.0.1:{port}"),
        "--dir".to_string(),
        scratch.arg(dir, guest),
    ];
    let mut runner = start_runner(&args, scratch);
    let mut stdin = runner.stdin.take().unwrap();
    stdin.write_all(command).unwrap();
    (runner, stdin, port)
}
