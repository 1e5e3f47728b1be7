//! Measures what a preview1 call costs when it does not block: `syscalls [CALLS]` makes
//! CALLS calls (100 000 by default) of each of `clock_time_get`, `args_sizes_get`, a 1-byte
//! `fd_write` into a pipe with room and a 1-byte `fd_read` from a pipe holding data, and
//! prints the nanoseconds per iteration of each loop, and per call alone (less the same loop
//! without the call) — which under QEMU's `-icount shift=0` (`./qemu.sh --icount`) are
//! guest instructions: for the call alone, from the program's call to its return. Only runs
//! on Cella (the pipe comes from `cella_process`).

use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::time::Instant;

use cella_process::pipe;
use wasi::wasi_snapshot_preview1 as p1;

/// preview1's monotonic clock id.
const CLOCK_MONOTONIC: i32 = 1;
/// Writes between two drains of the pipe: well below its capacity, so no write waits.
const PIPE_BATCH: u64 = 4096;

fn main() {
    let calls: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
        .max(1);
    let (reader, writer) = pipe().unwrap_or_else(|e| {
        eprintln!("syscalls: cannot make a pipe: {e}");
        std::process::exit(1)
    });
    let (read_fd, write_fd) = (reader.as_raw_fd(), writer.as_raw_fd());
    // Results and buffers live outside the loops; the calls go straight to the imports, as
    // a C program's would, without the `wasi` crate's wrappers around them.
    let mut out = [0u64; 2];
    let out = out.as_mut_ptr() as i32;
    let byte = [b'x'; 1];
    let iov = [byte.as_ptr() as u32, 1];
    let iov = iov.as_ptr() as i32;

    // The same loop with the call replaced by a value the optimiser cannot see through: what
    // each loop costs besides its call.
    let looping = measure(|| {
        for _ in 0..calls {
            let errno = black_box(black_box(out).wrapping_sub(out));
            assert_eq!(errno, 0, "loop");
        }
    }) / calls;
    println!("loop without a call: {looping} ns per iteration");
    let report = |name: &str, ns: u64| {
        let per_call = ns / calls;
        println!(
            "{name}: {per_call} ns per iteration, {} for the call alone",
            per_call.saturating_sub(looping)
        );
    };
    report(
        "clock_time_get",
        measure(|| {
            for _ in 0..calls {
                // SAFETY: `out` has room for the timestamp.
                let errno = unsafe { p1::clock_time_get(CLOCK_MONOTONIC, 1, black_box(out)) };
                assert_eq!(errno, 0, "clock_time_get");
            }
        }),
    );
    report(
        "args_sizes_get",
        measure(|| {
            for _ in 0..calls {
                // SAFETY: `out` has room for both sizes.
                let errno = unsafe { p1::args_sizes_get(black_box(out), out + 4) };
                assert_eq!(errno, 0, "args_sizes_get");
            }
        }),
    );
    // Writes and reads alternate in batches: every write finds room, every read finds data.
    let mut write_ns = 0;
    let mut read_ns = 0;
    let mut done = 0;
    while done < calls {
        let batch = PIPE_BATCH.min(calls - done);
        write_ns += measure(|| {
            for _ in 0..batch {
                // SAFETY: `iov` is one iovec of `byte`; `out` has room for the count.
                let errno = unsafe { p1::fd_write(write_fd, black_box(iov), 1, out) };
                assert_eq!(errno, 0, "fd_write to the pipe");
            }
        });
        read_ns += measure(|| {
            for _ in 0..batch {
                // SAFETY: as above (`byte` is overwritten with the same byte).
                let errno = unsafe { p1::fd_read(read_fd, black_box(iov), 1, out) };
                assert_eq!(errno, 0, "fd_read from the pipe");
            }
        });
        done += batch;
    }
    report("fd_write (1 byte into a pipe)", write_ns);
    report("fd_read (1 byte from a pipe)", read_ns);
}

/// Nanoseconds `f` took.
fn measure(f: impl FnOnce()) -> u64 {
    let started = Instant::now();
    f();
    started.elapsed().as_nanos() as u64
}
