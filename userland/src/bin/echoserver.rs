//! `echoserver [CONNECTIONS]`: a TCP echo server written as for Linux, with nothing but std:
//! it takes the listening socket it was given as fd 3 (`--tcplisten`) with
//! `TcpListener::from_raw_fd`, makes it blocking (hosts hand it over non-blocking, as wasmi
//! and wasmtime do) and serves one connection after another with blocking calls, sending
//! back what arrives until the client ends its side. After CONNECTIONS connections
//! (default: no limit) it exits 0. Each connection is reported on stderr.
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::fd::FromRawFd;

/// Where `--tcplisten` puts the first listening socket: right after stdio.
const LISTENER_FD: i32 = 3;

fn serve(mut stream: impl Read + Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn main() {
    let limit: Option<u64> = std::env::args().nth(1).map(|count| {
        count.parse().unwrap_or_else(|_| {
            eprintln!("echoserver: {count}: not a number of connections");
            std::process::exit(2)
        })
    });
    // SAFETY: fd 3 is the listening socket the runtime handed over; nothing else owns it.
    let listener = unsafe { TcpListener::from_raw_fd(LISTENER_FD) };
    if let Err(error) = listener.set_nonblocking(false) {
        eprintln!("echoserver: fd {LISTENER_FD} is no listening socket: {error}");
        std::process::exit(1);
    }
    let mut served = 0;
    for stream in listener.incoming() {
        match stream.and_then(serve) {
            Ok(bytes) => eprintln!("echoserver: connection {served}: {bytes} bytes"),
            Err(error) => eprintln!("echoserver: connection {served}: {error}"),
        }
        served += 1;
        if limit == Some(served) {
            break;
        }
    }
}
