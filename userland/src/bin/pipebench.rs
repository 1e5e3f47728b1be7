//! Measures pipe throughput as a shell pipeline does it: `pipebench MIB CAT WC FILE` writes a
//! MIB-mebibyte file at FILE, runs `CAT FILE | WC -c` (the coreutils, paths given) through a
//! pipe, checks the count and prints the MB/s. Only runs on Cella.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::time::Instant;

use cella_process::{Command, Status, Stdio, pipe, wait};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mib, cat, wc, file] = args.as_slice() else {
        eprintln!("usage: pipebench MIB CAT WC FILE");
        std::process::exit(2);
    };
    let bytes = mib.parse::<usize>().expect("MIB") << 20;
    std::fs::write(file, vec![b'x'; bytes]).expect("write the file");
    let (pipe_in, pipe_out) = pipe().expect("pipe");
    let (mut result, wc_out) = pipe().expect("pipe");
    let started = Instant::now();
    let producer = Command::new(cat)
        .arg(file)
        .inherit_preopens()
        .stdout(Stdio::Fd(pipe_out.as_raw_fd()))
        .spawn()
        .expect("spawn cat");
    let consumer = Command::new(wc)
        .arg("-c")
        .inherit_preopens()
        .stdin(Stdio::Fd(pipe_in.as_raw_fd()))
        .stdout(Stdio::Fd(wc_out.as_raw_fd()))
        .spawn()
        .expect("spawn wc");
    drop((pipe_in, pipe_out, wc_out));
    let mut count = String::new();
    result.read_to_string(&mut count).expect("read wc's output");
    for pid in [producer, consumer] {
        let (_, status) = wait(Some(pid), false).expect("wait").expect("status");
        assert_eq!(status, Status::Exited(0), "pid {pid}");
    }
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(count.trim(), bytes.to_string(), "wc -c counted");
    let _ = std::fs::remove_file(file);
    println!("bytes: {bytes}");
    println!("seconds: {seconds:.3}");
    println!("MB/s: {:.1}", bytes as f64 / 1e6 / seconds);
}
