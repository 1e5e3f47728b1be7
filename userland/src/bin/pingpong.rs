//! Measures process switching: `pingpong ROUNDS SELF` starts a copy of itself (`SELF` is its
//! own path) as an echo between two pipes, then sends one byte through it and waits for it
//! to come back, ROUNDS times. Each round trip blocks this process and wakes the echo and
//! back: two context switches and four I/O calls. Prints the rounds, the switches the kernel counted,
//! and nanoseconds per round trip and per switch — which under QEMU's `-icount shift=0`
//! (`./qemu.sh --icount`) are guest instructions. Only runs on Cella.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

use cella_process::{Command, Stdio, pipe, system_info, wait};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds = args.next().unwrap_or_default();
    if rounds == "--echo" {
        echo();
    }
    let rounds: u64 = rounds.parse().unwrap_or(1000);
    let cat = args.next().unwrap_or_else(|| String::from("/bin/pingpong"));
    let (to_cat, mut into_cat) = pipe().expect("pipe");
    let (mut from_cat, cat_out) = pipe().expect("pipe");
    let pid = Command::new(&cat)
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
    into_cat.write_all(b"x").expect("write");
    from_cat.read_exact(&mut byte).expect("read");
    let before = system_info().expect("system_info");
    let started = Instant::now();
    for _ in 0..rounds {
        into_cat.write_all(b"x").expect("write");
        from_cat.read_exact(&mut byte).expect("read");
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

/// The child: copies each byte from stdin to stdout at once, until end of file.
fn echo() -> ! {
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
