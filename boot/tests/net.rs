//! Preview1 sockets end to end: with `--tcplisten`, the host forwards a loopback port to the
//! guest, where `echoserver` — a plain std program taking its listener with
//! `TcpListener::from_raw_fd(3)`, making it blocking and serving with blocking calls —
//! echoes each connection; the host connects, sends and reads the bytes back.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{free_port, program, setup, start};

/// Connections the guest serves before it exits.
const CONNECTIONS: &str = "2";
/// How long the host keeps trying to reach the echo (the guest boots meanwhile).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(90);

/// Connects and checks that the echo answers. Before the guest listens, QEMU accepts the
/// connection and then closes it (or resets it): only then is it tried again. A connection
/// QEMU keeps open reaches the guest, maybe once it has booted, and `echoserver` counts it;
/// so it is given the whole timeout to answer, never dropped for a new attempt.
fn connect_to_echo(port: u16) -> TcpStream {
    let started = Instant::now();
    loop {
        let attempt = TcpStream::connect(("127.0.0.1", port)).and_then(|mut stream| {
            let left = CONNECT_TIMEOUT.saturating_sub(started.elapsed());
            stream.set_read_timeout(Some(left.max(Duration::from_secs(1))))?;
            stream.write_all(b"ping")?;
            let mut answer = [0u8; 4];
            stream.read_exact(&mut answer)?;
            Ok((stream, answer))
        });
        match attempt {
            Ok((stream, answer)) => {
                assert_eq!(&answer, b"ping");
                stream.set_read_timeout(Some(CONNECT_TIMEOUT)).unwrap();
                return stream;
            }
            Err(error) if started.elapsed() > CONNECT_TIMEOUT => {
                panic!("no echo on port {port} within {CONNECT_TIMEOUT:?}: {error}")
            }
            Err(_) => thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[test]
fn a_std_program_echoes_tcp_on_a_forwarded_port_bios() {
    echo_end_to_end(&[]);
}

#[test]
fn a_std_program_echoes_tcp_on_a_forwarded_port_uefi() {
    echo_end_to_end(&["--uefi"]);
}

/// Boots `echoserver` with `--tcplisten` (and `options`) and talks to it.
fn echo_end_to_end(options: &[&str]) {
    setup();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args: Vec<String> = options.iter().map(|o| o.to_string()).collect();
    args.extend([
        "--tcplisten".into(),
        listen,
        program("echoserver"),
        CONNECTIONS.into(),
    ]);
    // Started from this thread, so that a failed check below kills it (and QEMU) at once.
    let guest = start(&args, b"", &[]);

    let mut stream = connect_to_echo(port);
    // Many small round trips, then a payload larger than the socket buffers.
    for round in 0..20u8 {
        let message = [round; 100];
        stream.write_all(&message).unwrap();
        let mut answer = [0u8; 100];
        stream.read_exact(&mut answer).unwrap();
        assert_eq!(answer, message);
    }
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        let big = big.clone();
        thread::spawn(move || stream.write_all(&big))
    };
    let mut echoed = vec![0u8; big.len()];
    stream.read_exact(&mut echoed).unwrap();
    writer.join().unwrap().unwrap();
    assert!(echoed == big, "the large payload came back altered");
    // A clean close from the host: the guest closes its side too.
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    // A second connection on the same port works once the first has ended.
    drop(connect_to_echo(port));

    let run = guest.finish();
    assert_eq!(run.status, 0, "{}", run.stderr);
    // The guest saw every byte of the first connection (4 + 20 × 100 + 200 000) and the
    // second's ping, in order.
    let first = run.stderr.find("connection 0: 202004 bytes");
    let second = run.stderr.find("connection 1: 4 bytes");
    assert!(first.is_some() && first < second, "{}", run.stderr);
}

/// A `--tcplisten` address the host cannot listen on stops the run before the boot, with a
/// sentence saying what to do.
#[test]
fn a_port_in_use_is_a_clear_error() {
    setup();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let run = common::cella(&["--tcplisten", &listen, &program("hello")]);
    assert_eq!(run.status, 125, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("cannot listen on {listen} for --tcplisten"))
            && run.stderr.contains("choose another port"),
        "{}",
        run.stderr
    );
}
