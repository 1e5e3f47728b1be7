//! Test program: `smithrun [OPTIONS] MODULES SCRATCH` runs every `.wasm` module in the
//! directory MODULES (random modules from `boot/smith`) as a child process, a few at a time,
//! and counts how each ended. It is the inside half of the "no program can take the machine
//! down" test: whatever a module does, the kernel must end it cleanly and get all its memory
//! back, so the run ends with a summary instead of a kernel failure.
//!
//! Each child gets a memory and a fuel limit, SCRATCH (a preopened directory) as its preopen
//! `.` so that its path calls have a tree to act on, stdin at end of file and stdout and
//! stderr into one pipe that this program drains and discards. A child still running after
//! the wall-clock deadline (a module may sleep in `poll_oneoff` for hours, or block on a
//! read of its own pipe) is killed.
//!
//! Options: `-j N` children at once (default 4), `--fuel N` (default 50 000 000),
//! `--memory BYTES` (default 32 MiB), `--deadline-ms MS` (default 10 000), `-v`: a line per
//! module, `start NAME PID MS ms` (MS: what the spawn took) and `end NAME OUTCOME MS ms`
//! (MS since the spawn), so that after a kernel failure the modules that were running can
//! be found. Output, after those lines:
//!
//! ```text
//! smithrun: N modules in S s (M/s): exited E (status 0: Z), trapped T, fuel F, killed K, signaled G, refused R (ENOEXEC n, ...); output O bytes
//! counts: modules=N exited=E trapped=T fuel=F killed=K signaled=G refused=R
//! heap before: B      (kernel heap in use before the first spawn)
//! heap warm: W        (after the first modules: the kernel has sized its own tables)
//! heap after: A       (after the last child was reaped)
//! free before: FB
//! free after: FA
//! ```
//!
//! Exit status 0 when every module was accounted for, 1 on an error of its own.
use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use cella_process::{Command, Pid, SIGKILL, Status, Stdio, kill, pipe, system_info, wait};
use cella_userland::describe;

/// How long the loop sleeps in `poll_oneoff` when no child output arrives: the latency of
/// noticing that a child ended or passed its deadline.
const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// Modules to run before the `heap warm` figure: enough for every path of this program and
/// the kernel's process table to have reached their working size.
const WARM_UP_MODULES: usize = 100;

fn fail(message: &str) -> ! {
    eprintln!("smithrun: {message}");
    std::process::exit(1)
}

struct Options {
    jobs: usize,
    fuel: u64,
    memory: u64,
    deadline: Duration,
    verbose: bool,
    modules: String,
    scratch: String,
}

fn options() -> Options {
    let usage = || -> ! {
        eprintln!(
            "usage: smithrun [-j N] [--fuel N] [--memory BYTES] [--deadline-ms MS] [-v] MODULES SCRATCH"
        );
        std::process::exit(2)
    };
    let mut options = Options {
        jobs: 4,
        fuel: 50_000_000,
        memory: 32 << 20,
        deadline: Duration::from_secs(10),
        verbose: false,
        modules: String::new(),
        scratch: String::new(),
    };
    let mut operands = Vec::new();
    let mut args = cella_userland::args().into_iter();
    while let Some(arg) = args.next() {
        let mut number = || -> u64 {
            args.next()
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match arg.as_str() {
            "-j" => options.jobs = number().max(1) as usize,
            "--fuel" => options.fuel = number(),
            "--memory" => options.memory = number(),
            "--deadline-ms" => options.deadline = Duration::from_millis(number()),
            "-v" => options.verbose = true,
            _ if arg.starts_with('-') => usage(),
            _ => operands.push(arg),
        }
    }
    let [modules, scratch] = <[String; 2]>::try_from(operands).unwrap_or_else(|_| usage());
    options.modules = modules;
    options.scratch = scratch;
    options
}

/// How the modules ended.
#[derive(Default)]
struct Counts {
    exited: u64,
    exited_zero: u64,
    trapped: u64,
    fuel: u64,
    /// Killed here at the deadline.
    killed: u64,
    /// Ended by a signal nobody here sent (there should be none).
    signaled: u64,
    /// Spawns refused, by errno name.
    refused: BTreeMap<String, u64>,
}

impl Counts {
    fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }

    fn total(&self) -> u64 {
        self.exited + self.trapped + self.fuel + self.killed + self.signaled + self.refused_total()
    }
}

/// A child that has not been reaped.
struct Child {
    pid: Pid,
    name: String,
    started: Instant,
    killed: bool,
}

/// The names `spawn` documents for its errnos; others by number.
fn errno_name(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(1) => "E2BIG".into(),
        Some(6) => "EAGAIN".into(),
        Some(8) => "EBADF".into(),
        Some(44) => "ENOENT".into(),
        Some(45) => "ENOEXEC".into(),
        Some(48) => "ENOMEM".into(),
        Some(errno) => format!("errno{errno}"),
        None => describe(error),
    }
}

/// Refusals that go away once running children end.
fn is_transient(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(6 | 48))
}

fn set_nonblocking(fd: wasi::Fd) {
    // SAFETY: both calls only take an fd number and return an errno.
    let result = unsafe {
        wasi::fd_fdstat_get(fd).and_then(|stat| {
            wasi::fd_fdstat_set_flags(fd, stat.fs_flags | wasi::FDFLAGS_NONBLOCK)
        })
    };
    if let Err(errno) = result {
        fail(&format!("making the output pipe non-blocking: {errno}"));
    }
}

/// Sleeps until `fd` is readable or `timeout` passes.
fn wait_readable(fd: wasi::Fd, timeout: Duration) {
    let subscriptions = [
        wasi::Subscription {
            userdata: 0,
            u: wasi::SubscriptionU {
                tag: wasi::EVENTTYPE_FD_READ.raw(),
                u: wasi::SubscriptionUU {
                    fd_read: wasi::SubscriptionFdReadwrite {
                        file_descriptor: fd,
                    },
                },
            },
        },
        wasi::Subscription {
            userdata: 1,
            u: wasi::SubscriptionU {
                tag: wasi::EVENTTYPE_CLOCK.raw(),
                u: wasi::SubscriptionUU {
                    clock: wasi::SubscriptionClock {
                        id: wasi::CLOCKID_MONOTONIC,
                        timeout: timeout.as_nanos() as u64,
                        precision: 0,
                        flags: 0,
                    },
                },
            },
        },
    ];
    // SAFETY: `events` has room for as many events as there are subscriptions.
    let mut events: [wasi::Event; 2] = unsafe { std::mem::zeroed() };
    // SAFETY: both arrays are valid for two elements.
    if let Err(errno) =
        unsafe { wasi::poll_oneoff(subscriptions.as_ptr(), events.as_mut_ptr(), 2) }
    {
        fail(&format!("poll_oneoff: {errno}"));
    }
}

/// The module files of `dir`, by seed (numeric names first, in order).
fn module_names(dir: &str) -> Vec<String> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| fail(&format!("{dir}: {}", describe(&e))));
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".wasm"))
        .collect();
    let seed = |name: &String| name.trim_end_matches(".wasm").parse::<u64>().ok();
    names.sort_by_key(|name| (seed(name).is_none(), seed(name), name.clone()));
    names
}

fn main() {
    let options = options();
    let names = module_names(&options.modules);
    let (scratch_fd, relative) = cella_userland::resolve(std::path::Path::new(&options.scratch))
        .unwrap_or_else(|e| fail(&format!("{}: {}", options.scratch, describe(&e))));
    if relative != "." {
        fail(&format!("{}: not a preopened directory", options.scratch));
    }
    // Children read end of file: the write end is closed at once.
    let (stdin, stdin_writer) = pipe().unwrap_or_else(|e| fail(&format!("pipe: {e}")));
    drop(stdin_writer);
    let (mut output, output_writer) = pipe().unwrap_or_else(|e| fail(&format!("pipe: {e}")));
    set_nonblocking(output.as_raw_fd() as wasi::Fd);

    let command = |name: &str| {
        let mut command = Command::new(format!("{}/{name}", options.modules));
        command
            .env_clear()
            .stdin(Stdio::Fd(stdin.as_raw_fd()))
            .stdout(Stdio::Fd(output_writer.as_raw_fd()))
            .stderr(Stdio::Fd(output_writer.as_raw_fd()))
            .preopen(scratch_fd as i32, ".")
            .memory_limit(options.memory)
            .fuel_limit(options.fuel);
        command
    };
    let info = || system_info().unwrap_or_else(|e| fail(&format!("system_info: {e}")));
    let before = info();
    let mut warm = None;

    let started = Instant::now();
    let mut queue: VecDeque<String> = names.iter().cloned().collect();
    let mut running: Vec<Child> = Vec::new();
    let mut counts = Counts::default();
    let mut done = 0usize;
    let mut sink = vec![0u8; 64 * 1024];
    let mut drained = 0u64;
    loop {
        while running.len() < options.jobs {
            let Some(name) = queue.pop_front() else {
                break;
            };
            let spawning = Instant::now();
            let spawned = command(&name).spawn();
            let spawn_ms = spawning.elapsed().as_millis();
            match spawned {
                Ok(pid) => {
                    if options.verbose {
                        println!("start {name} {pid} {spawn_ms} ms");
                    }
                    running.push(Child {
                        pid,
                        name,
                        started: Instant::now(),
                        killed: false,
                    });
                }
                // Memory or the process table is short while others run: try again later.
                Err(error) if is_transient(&error) && !running.is_empty() => {
                    queue.push_front(name);
                    break;
                }
                Err(error) => {
                    let errno = errno_name(&error);
                    if options.verbose {
                        println!("end {name} refused {errno} {spawn_ms} ms");
                    }
                    *counts.refused.entry(errno).or_default() += 1;
                    done += 1;
                }
            }
        }
        if running.is_empty() && queue.is_empty() {
            break;
        }
        wait_readable(output.as_raw_fd() as wasi::Fd, POLL_INTERVAL);
        loop {
            match output.read(&mut sink) {
                Ok(0) => break,
                Ok(n) => drained += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => fail(&format!("reading the children's output: {e}")),
            }
        }
        // `wait` says ECHILD once there is no child at all, so ask only while one runs.
        while !running.is_empty() {
            let Some((pid, status)) =
                wait(None, true).unwrap_or_else(|e| fail(&format!("wait: {e}")))
            else {
                break;
            };
            let Some(at) = running.iter().position(|child| child.pid == pid) else {
                fail(&format!("wait: pid {pid} is not a child started here"));
            };
            let child = running.swap_remove(at);
            let outcome = match status {
                Status::Exited(code) => {
                    counts.exited += 1;
                    if code == 0 {
                        counts.exited_zero += 1;
                    }
                    format!("exited {code}")
                }
                Status::Trapped => {
                    counts.trapped += 1;
                    String::from("trapped")
                }
                Status::FuelExhausted => {
                    counts.fuel += 1;
                    String::from("fuel")
                }
                Status::Signaled(SIGKILL) if child.killed => {
                    counts.killed += 1;
                    String::from("killed")
                }
                // A plain `wait` reports no stop; counted as a signal should one come.
                Status::Signaled(signal) | Status::Stopped(signal) => {
                    counts.signaled += 1;
                    format!("signaled {signal}")
                }
            };
            if options.verbose {
                let ms = child.started.elapsed().as_millis();
                println!("end {} {outcome} {ms} ms", child.name);
            }
            done += 1;
        }
        if warm.is_none() && done >= WARM_UP_MODULES.min(names.len()) && running.is_empty() {
            warm = Some(info());
        }
        let now = Instant::now();
        for child in running.iter_mut() {
            if !child.killed && now.duration_since(child.started) > options.deadline {
                if let Err(e) = kill(child.pid as i32, SIGKILL) {
                    fail(&format!("kill {} ({}): {e}", child.pid, child.name));
                }
                child.killed = true;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = info();
    let warm = warm.unwrap_or(after);

    let refused: Vec<String> = counts
        .refused
        .iter()
        .map(|(errno, n)| format!("{errno} {n}"))
        .collect();
    let refused = if refused.is_empty() {
        String::new()
    } else {
        format!(" ({})", refused.join(", "))
    };
    println!(
        "smithrun: {} modules in {elapsed:.1} s ({:.1}/s): exited {} (status 0: {}), trapped {}, \
         fuel {}, killed {}, signaled {}, refused {}{refused}; output {drained} bytes",
        names.len(),
        names.len() as f64 / elapsed.max(1e-9),
        counts.exited,
        counts.exited_zero,
        counts.trapped,
        counts.fuel,
        counts.killed,
        counts.signaled,
        counts.refused_total(),
    );
    println!(
        "counts: modules={} exited={} trapped={} fuel={} killed={} signaled={} refused={}",
        names.len(),
        counts.exited,
        counts.trapped,
        counts.fuel,
        counts.killed,
        counts.signaled,
        counts.refused_total()
    );
    println!("heap before: {}", before.kernel_heap_used);
    println!("heap warm: {}", warm.kernel_heap_used);
    println!("heap after: {}", after.kernel_heap_used);
    println!("free before: {}", before.free_memory);
    println!("free after: {}", after.free_memory);
    if counts.total() != names.len() as u64 {
        fail(&format!(
            "{} modules but {} outcomes",
            names.len(),
            counts.total()
        ));
    }
    // Kept open until here: children still get the same stdin and output fds.
    drop((stdin, output_writer));
}
