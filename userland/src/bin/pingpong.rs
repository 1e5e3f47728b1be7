//! Measures process switching: `pingpong ROUNDS SELF` starts a copy of itself (`SELF` is its
//! own path) as an echo between two pipes, then sends one byte through it and waits for it
//! to come back, ROUNDS times. Each round trip blocks this process and wakes the echo and
//! back: two context switches and four I/O calls. Prints the rounds, the switches the kernel counted,
//! and nanoseconds per round trip and per switch — which under QEMU's `-icount shift=0`
//! (`./qemu.sh --icount`) are guest instructions. Both sides read and write with plain
//! preview1 calls, as a C program's `read` and `write` would, so that the figure is the
//! switch's and not std's buffered stdio's; `--std` makes them go through std's `Read` and
//! `Write` (stdin's buffer, stdout's line buffer) instead. Only runs on Cella.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use cella_process::{Command, Stdio, pipe, system_info, wait};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let std_io = args.first().is_some_and(|arg| arg == "--std");
    if std_io {
        args.remove(0);
    }
    let mut args = args.into_iter();
    let rounds = args.next().unwrap_or_default();
    if rounds == "--echo" {
        if std_io { echo_std() } else { echo() }
    }
    let rounds: u64 = rounds.parse().unwrap_or(1000);
    let cat = args.next().unwrap_or_else(|| String::from("/bin/pingpong"));
    let (to_cat, mut into_cat) = pipe().expect("pipe");
    let (mut from_cat, cat_out) = pipe().expect("pipe");
    let mut command = Command::new(&cat);
    if std_io {
        command.arg("--std");
    }
    let pid = command
        .arg("--echo")
        .inherit_preopens()
        .stdin(Stdio::Fd(to_cat.as_raw_fd()))
        .stdout(Stdio::Fd(cat_out.as_raw_fd()))
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!("pingpong: cannot start {cat}: {e}");
            std::process::exit(1)
        });
    drop((to_cat, cat_out));
    // One round first, so that cat has started and reached its read.
    let mut byte = [0u8; 1];
    let (to, from) = (into_cat.as_raw_fd(), from_cat.as_raw_fd());
    let mut round = || {
        if std_io {
            into_cat.write_all(b"x").expect("write");
            from_cat.read_exact(&mut byte).expect("read");
        } else {
            assert_eq!(write_byte(to, b'x'), 1, "write");
            assert_eq!(read_byte(from, &mut byte), 1, "read");
        }
    };
    round();
    let before = system_info().expect("system_info");
    let started = Instant::now();
    for _ in 0..rounds {
        round();
    }
    let elapsed = started.elapsed().as_nanos() as u64;
    let switches = system_info().expect("system_info").context_switches - before.context_switches;
    drop(into_cat);
    let _ = wait(Some(pid), false);
    println!("rounds: {rounds}");
    println!("switches: {switches}");
    println!("ns per round trip: {}", elapsed / rounds.max(1));
    println!("ns per switch: {}", elapsed / switches.max(1));
}

/// Writes `byte` to `fd` with one `fd_write`: the bytes written (0 on an error).
fn write_byte(fd: RawFd, byte: u8) -> usize {
    let bytes = [byte];
    let iov = [wasi::Ciovec {
        buf: bytes.as_ptr(),
        buf_len: 1,
    }];
    // SAFETY: `iov` points at `bytes`, which live through the call.
    unsafe { wasi::fd_write(fd as u32, &iov) }.unwrap_or(0)
}

/// Reads at most one byte from `fd` into `byte` with one `fd_read`: the bytes read (0 at
/// end of file or on an error).
fn read_byte(fd: RawFd, byte: &mut [u8; 1]) -> usize {
    let iov = [wasi::Iovec {
        buf: byte.as_mut_ptr(),
        buf_len: 1,
    }];
    // SAFETY: `iov` points at `byte`, which lives through the call.
    unsafe { wasi::fd_read(fd as u32, &iov) }.unwrap_or(0)
}

/// The child: copies each byte from stdin to stdout at once, until end of file.
fn echo() -> ! {
    let mut byte = [0u8; 1];
    while read_byte(0, &mut byte) == 1 {
        if write_byte(1, byte[0]) != 1 {
            break;
        }
    }
    std::process::exit(0)
}

/// The child through std's stdin and stdout.
fn echo_std() -> ! {
    let mut byte = [0u8; 1];
    let mut stdout = std::io::stdout();
    while let Ok(1) = std::io::stdin().read(&mut byte) {
        if stdout
            .write_all(&byte)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    std::process::exit(0)
}
