//! `httpd` on Cella, fetched from the host through `--tcplisten`: status codes and bodies,
//! keep-alive, static files from a `--dir` tree, malformed and early-ending clients,
//! hundreds of concurrent connections and a slow reader (backpressure) — and in shell mode,
//! `httpd` in the background while the shell goes on and then reads its access log.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Child;
use std::thread;
use std::time::Duration;

use common::http::{connect, get, read_response, shell_serving, start_runner};
use common::{Scratch, free_port, program};

/// Connections the server holds open at once in the concurrency check.
const CONCURRENT: usize = 300;

/// Waits until httpd answers `/hello`.
fn wait_ready(port: u16, runner: &mut Child) {
    common::http::wait_ready(port, runner, "/hello", b"Hello, world!\n");
}

/// A site of a few files: an index, a text file and a 2 MiB binary.
fn site(scratch: &Scratch) -> Vec<u8> {
    let www = scratch.path("www");
    std::fs::create_dir_all(www.join("docs")).unwrap();
    std::fs::write(www.join("index.html"), "<h1>Cella</h1>\n").unwrap();
    std::fs::write(www.join("docs/note.txt"), "plain text\n").unwrap();
    let big: Vec<u8> = (0..2 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::fs::write(www.join("big.bin"), &big).unwrap();
    big
}

#[test]
fn httpd_serves_the_host_over_tcplisten() {
    let scratch = Scratch::new("httpd");
    let big = site(&scratch);
    let port = free_port();
    let args = vec![
        "--tcplisten".to_string(),
        format!("127.0.0.1:{port}"),
        "--dir".to_string(),
        scratch.arg("www", "/www"),
        program("httpd"),
        "--quiet".to_string(),
    ];
    let mut runner = start_runner(&args, &scratch);
    wait_ready(port, &mut runner);

    // Status, headers and body.
    let hello = get(port, "/hello");
    assert_eq!(hello.status, 200);
    assert!(
        hello.head.contains("content-type: text/plain"),
        "{}",
        hello.head
    );
    assert_eq!(hello.body, b"Hello, world!\n");
    let index = get(port, "/");
    assert_eq!(
        (index.status, &index.body[..]),
        (200, &b"<h1>Cella</h1>\n"[..])
    );
    assert!(
        index.head.contains("content-type: text/html"),
        "{}",
        index.head
    );
    assert_eq!(get(port, "/docs/note.txt").body, b"plain text\n");
    assert_eq!(get(port, "/missing").status, 404);
    assert_eq!(get(port, "/docs/../../etc/passwd").status, 403);
    assert_eq!(get(port, "/%2e%2e/secret").status, 403);

    // Keep-alive: several requests on one connection, HEAD among them, then a POST (405).
    let mut stream = connect(port);
    for _ in 0..3 {
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nHost: c\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut stream, false).body, b"Hello, world!\n");
    }
    stream
        .write_all(b"HEAD /index.html HTTP/1.1\r\nHost: c\r\n\r\n")
        .unwrap();
    let head = read_response(&mut stream, true);
    assert!(head.head.contains("content-length: 15"), "{}", head.head);
    stream
        .write_all(b"POST /hello HTTP/1.1\r\nHost: c\r\nContent-Length: 3\r\n\r\nabc")
        .unwrap();
    assert_eq!(read_response(&mut stream, false).status, 405);
    // Pipelined: two requests in one write, answered in order.
    stream
        .write_all(
            b"GET /docs/note.txt HTTP/1.1\r\nHost: c\r\n\r\nGET /hello HTTP/1.1\r\nHost: c\r\n\r\n",
        )
        .unwrap();
    assert_eq!(read_response(&mut stream, false).body, b"plain text\n");
    assert_eq!(read_response(&mut stream, false).body, b"Hello, world!\n");

    // A malformed request is 400, and the server closes the connection.
    let mut bad = connect(port);
    bad.write_all(b"garbage\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut bad, false).status, 400);
    let mut rest = Vec::new();
    bad.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    // An unsupported version is 505; an oversized head is 431.
    let mut old = connect(port);
    old.write_all(b"GET /hello HTTP/2.0\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut old, false).status, 505);
    let mut huge = connect(port);
    let header = format!(
        "GET /hello HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "x".repeat(16 * 1024)
    );
    let _ = huge.write_all(header.as_bytes());
    assert_eq!(read_response(&mut huge, false).status, 431);

    // Clients that go away early: half a request, then a reset in the middle of a big
    // answer. The server carries on.
    let mut half = connect(port);
    half.write_all(b"GET /hel").unwrap();
    drop(half);
    let mut reset = connect(port);
    reset
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: c\r\n\r\n")
        .unwrap();
    let mut some = [0u8; 1000];
    reset.read_exact(&mut some).unwrap();
    socket_reset(reset);
    assert_eq!(get(port, "/hello").status, 200);

    // A slow reader gets the whole 2 MiB, byte for byte (the server waits for room).
    let mut slow = connect(port);
    slow.write_all(b"GET /big.bin HTTP/1.1\r\nHost: c\r\n\r\n")
        .unwrap();
    thread::sleep(Duration::from_secs(2));
    let response = read_response(&mut slow, false);
    assert!(response.body == big, "the big file came back altered");

    // Hundreds of connections open at once, each served in turn and then all at the same
    // time. They are opened one after the other: QEMU's user networking accepts host
    // connections with a listen backlog of 1, so a burst of simultaneous connects loses
    // some to the host kernel's full accept queue before any reaches the guest.
    let mut streams: Vec<TcpStream> = (0..CONCURRENT)
        .map(|_| {
            let mut stream = connect(port);
            stream
                .write_all(b"GET /hello HTTP/1.1\r\nHost: c\r\n\r\n")
                .unwrap();
            assert_eq!(read_response(&mut stream, false).status, 200);
            stream
        })
        .collect();
    let clients: Vec<_> = streams
        .drain(..)
        .enumerate()
        .map(|(client, mut stream)| {
            thread::spawn(move || {
                for _ in 0..3 {
                    stream
                        .write_all(b"GET /hello HTTP/1.1\r\nHost: c\r\n\r\n")
                        .unwrap();
                    let response = read_response(&mut stream, false);
                    assert_eq!(response.body, b"Hello, world!\n", "client {client}");
                }
                stream.shutdown(Shutdown::Both).unwrap();
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a concurrent client failed");
    }
    assert_eq!(get(port, "/hello").status, 200);

    assert!(runner.try_wait().unwrap().is_none(), "httpd ended");
    runner.kill().unwrap();
    runner.wait().unwrap();
    let stderr = std::fs::read_to_string(scratch.path("stderr")).unwrap();
    assert!(!stderr.contains("panic"), "{stderr}");
}

/// Closes `stream` with a reset (SO_LINGER 0) rather than a FIN.
fn socket_reset(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        onoff: i32,
        linger: i32,
    }
    let linger = Linger {
        onoff: 1,
        linger: 0,
    };
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    unsafe extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const Linger, len: u32) -> i32;
    }
    // SAFETY: `linger` is a valid `struct linger` for the duration of the call.
    let result = unsafe {
        setsockopt(
            stream.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &linger,
            size_of::<Linger>() as u32,
        )
    };
    assert_eq!(result, 0);
    drop(stream);
}

#[test]
fn httpd_serves_in_the_background_of_the_shell() {
    let scratch = Scratch::new("httpd-shell");
    site(&scratch);
    let (mut runner, mut stdin, port) = shell_serving(
        &scratch,
        "www",
        "/www",
        b"httpd --root /www > /tmp/access.log &\necho started\n",
    );
    wait_ready(port, &mut runner);
    assert_eq!(get(port, "/docs/note.txt").body, b"plain text\n");
    assert_eq!(get(port, "/nothing").status, 404);
    // The shell is still there, with httpd as a job, and reads the log.
    stdin
        .write_all(b"cat /tmp/access.log\nkill %1\nwait\necho done\nexit\n")
        .unwrap();
    drop(stdin);
    let status = runner
        .wait_timeout(Duration::from_secs(60))
        .expect("the shell did not exit");
    let stdout = std::fs::read_to_string(scratch.path("stdout")).unwrap();
    assert!(status.success(), "{stdout}");
    for line in [
        "started",
        "GET /hello 200 14",
        "GET /docs/note.txt 200 11",
        "GET /nothing 404",
        "done",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
}

/// More connections than a 64 MiB machine has room for: each accepted one is charged its
/// buffers (48 KiB) to httpd — `ps` shows it holding them, within its 16 MiB limit — the
/// kernel refuses further accepts with `ENOMEM` at the machine's floor (the connections'
/// own buffers take the rest), they wait in the kernel's queue, and once the connections
/// go, httpd serves again.
#[test]
fn connections_past_a_servers_memory_limit_wait_and_are_served_later() {
    let scratch = Scratch::new("httpd-many");
    let port = free_port();
    let args = vec![
        "-m".to_string(),
        "64M".to_string(),
        "--tcplisten".to_string(),
        format!("127.0.0.1:{port}"),
    ];
    let mut runner = start_runner(&args, &scratch);
    let mut stdin = runner.stdin.take().unwrap();
    stdin.write_all(b"httpd --quiet &\n").unwrap();
    wait_ready(port, &mut runner);
    let idle: Vec<TcpStream> = (0..320).map(|_| connect(port)).collect();
    thread::sleep(Duration::from_secs(3));
    stdin.write_all(b"ps\n").unwrap();
    thread::sleep(Duration::from_secs(2));
    drop(idle);
    assert_eq!(get(port, "/hello").body, b"Hello, world!\n");
    stdin.write_all(b"kill %1\nwait\nexit\n").unwrap();
    drop(stdin);
    let status = runner
        .wait_timeout(Duration::from_secs(60))
        .expect("the shell did not exit");
    let stdout = std::fs::read_to_string(scratch.path("stdout")).unwrap();
    assert!(status.success(), "{stdout}");
    let held = stdout
        .lines()
        .find(|line| line.ends_with(" httpd"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|mem| mem.strip_suffix('M'))
        .and_then(|mem| mem.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no httpd line with its memory in:\n{stdout}"));
    // Idle, httpd holds 1.5 MiB; the accepted connections show on top of that.
    assert!(
        held > 2.5 && held <= 16.0,
        "httpd holds {held} MiB (limit 16 MiB): {stdout}"
    );
}
