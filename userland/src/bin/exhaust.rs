//! Test program: exhausts one resource the kernel holds for programs, the way a runaway or
//! hostile program would, and reports how far it got and what stopped it, then exits 0 (or,
//! with `--hold` before the mode, keeps what it took and sleeps until killed). The tests
//! check that the error is an errno, that the kernel lives on, and that the machine
//! recovers.
//!
//! `exhaust [--hold] MODE [ARG]`, where DIR is a directory (relative to the first preopen, as
//! std resolves it) and each mode prints one line `MODE: COUNT UNIT, then ERROR`:
//! - `files DIR`: empty files with 200-byte names;
//! - `data DIR`: one file, 1 MiB at a time;
//! - `symlinks DIR`: symlinks with 4000-byte targets;
//! - `sparse DIR`: files of 1 MiB that are all hole (after a refused 1 TiB one);
//! - `deep DIR`: directories each inside the last, made through the last one's fd, so the
//!   tree is far deeper than any path can name;
//! - `fds DIR`: DIR opened again and again;
//! - `pipes`: pipes, each filled with 64 KiB;
//! - `memory`: linear memory grown 1 MiB at a time;
//! - `recurse`: a function calling itself until the stack runs out (this one ends in a trap);
//! - `spawn PROGRAM`: copies of `PROGRAM sleep 600` started until refused, then killed;
//! - `argv PROGRAM`: PROGRAM started with an argv of 1, 16 and 32 MiB, then with a 2 MiB
//!   environment;
//! - `sleep SECONDS`.
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cella_process::Command;

const MIB: usize = 1024 * 1024;
/// A wasm page.
const PAGE: usize = 64 * 1024;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let hold = args.first().is_some_and(|a| a == "--hold");
    if hold {
        args.remove(0);
    }
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or(".");
    let mut held: Vec<Box<dyn std::any::Any>> = Vec::new();
    let (mode, count, unit, error) = match arg(0) {
        "files" => count_until("files", "files", |i| {
            File::create(Path::new(arg(1)).join(format!("{}{i}", "f".repeat(200)))).map(|_| ())
        }),
        "data" => {
            let mut file = File::create(Path::new(arg(1)).join("data")).unwrap_or_else(fail);
            let block = vec![0x5au8; MIB];
            count_until("data", "MiB", |_| file.write_all(&block))
        }
        "symlinks" => {
            let target = "t/".repeat(2000);
            count_until("symlinks", "symlinks", |i| {
                cella_userland::symlink(&target, &Path::new(arg(1)).join(format!("s{i}")))
            })
        }
        "sparse" => count_until("sparse", "files", |i| {
            let file = File::create(Path::new(arg(1)).join(format!("sparse{i}")))?;
            // A hole as large as any host would take, then a 1 MiB one: holes count.
            if file.set_len(1 << 40).is_ok() {
                return Err(io::Error::other("a 1 TiB hole was allowed"));
            }
            file.set_len(MIB as u64)
        }),
        "deep" => deep(arg(1)),
        "fds" => count_until("fds", "fds", |_| {
            File::open(arg(1)).map(|file| held.push(Box::new(file)))
        }),
        "pipes" => count_until("pipes", "pipes", |_| {
            let (reader, mut writer) = cella_process::pipe()?;
            writer.write_all(&[7u8; PAGE])?;
            held.push(Box::new((reader, writer)));
            Ok(())
        }),
        "memory" => count_until("memory", "MiB", |_| {
            match core::arch::wasm32::memory_grow(0, MIB / PAGE) {
                usize::MAX => Err(io::Error::other("memory.grow failed")),
                _ => Ok(()),
            }
        }),
        "recurse" => {
            println!("recurse: {}", recurse(0));
            return;
        }
        "spawn" => spawn_storm(arg(1)),
        "argv" => huge_argv(arg(1)),
        "sleep" => {
            std::thread::sleep(Duration::from_secs(arg(1).parse().unwrap_or(600)));
            return;
        }
        other => {
            eprintln!("exhaust: unknown mode `{other}`");
            std::process::exit(2);
        }
    };
    println!("{mode}: {count} {unit}, then {error}");
    let _ = io::stdout().flush();
    if hold {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    drop(held);
}

/// Runs `step` with 0, 1, 2, ... until it fails; the count that succeeded and the error.
fn count_until(
    mode: &'static str,
    unit: &'static str,
    mut step: impl FnMut(usize) -> io::Result<()>,
) -> (&'static str, usize, &'static str, String) {
    let mut count = 0;
    loop {
        if let Err(error) = step(count) {
            return (mode, count, unit, cella_userland::describe(&error));
        }
        count += 1;
    }
}

fn fail<T>(error: io::Error) -> T {
    eprintln!("exhaust: {}", cella_userland::describe(&error));
    std::process::exit(1);
}

/// Directories inside directories through each one's fd: `path_create_directory` then
/// `path_open` of "d" in the last, whose fd is closed once the next is open.
fn deep(dir: &str) -> (&'static str, usize, &'static str, String) {
    let (mut fd, relative) = cella_userland::resolve(Path::new(dir)).unwrap_or_else(fail);
    let mut depth = 0;
    let mut first = true;
    let error = loop {
        let name = if first { relative.as_str() } else { "." };
        let path = if name.is_empty() || name == "." {
            String::from("d")
        } else {
            format!("{name}/d")
        };
        first = false;
        // SAFETY: preview1 calls with a valid string; `fd` is a directory fd of ours.
        let made = unsafe { wasi::path_create_directory(fd, &path) };
        if let Err(errno) = made {
            break errno.message().to_string();
        }
        // SAFETY: as above.
        let opened = unsafe {
            wasi::path_open(
                fd,
                0,
                &path,
                wasi::OFLAGS_DIRECTORY,
                wasi::RIGHTS_PATH_CREATE_DIRECTORY | wasi::RIGHTS_PATH_OPEN,
                wasi::RIGHTS_PATH_CREATE_DIRECTORY | wasi::RIGHTS_PATH_OPEN,
                0,
            )
        };
        match opened {
            Ok(next) => {
                if depth > 0 {
                    // SAFETY: `fd` is the previous level's fd, opened here and unused from now.
                    let _ = unsafe { wasi::fd_close(fd) };
                }
                fd = next;
                depth += 1;
            }
            Err(errno) => break errno.message().to_string(),
        }
    };
    ("deep", depth, "levels", error)
}

/// Deepest level `recurse` reached (a side effect the optimiser must keep).
static DEPTH: AtomicU64 = AtomicU64::new(0);

/// Calls itself until wasmi's call stack runs out: a trap. Only integers in locals, so
/// nothing lands on the program's own stack in linear memory.
#[inline(never)]
#[allow(unconditional_recursion, reason = "running out of stack is the point")]
fn recurse(depth: u64) -> u64 {
    DEPTH.store(depth, Ordering::Relaxed);
    let below = recurse(depth + 1);
    below ^ DEPTH.load(Ordering::Relaxed).wrapping_mul(depth)
}

/// Starts `program sleep 600` until the kernel refuses, then kills and reaps them all.
fn spawn_storm(program: &str) -> (&'static str, usize, &'static str, String) {
    let mut children = Vec::new();
    let (mode, count, unit, error) = count_until("spawn", "processes", |_| {
        let pid = Command::new(program)
            .args(["sleep", "600"])
            .inherit_preopens()
            .spawn()?;
        children.push(pid);
        Ok(())
    });
    for pid in &children {
        let _ = cella_process::kill(*pid as i32, cella_process::SIGKILL);
        let _ = cella_process::wait(Some(*pid), false);
    }
    (mode, count, unit, error)
}

/// Starts `program sleep 0` with ever larger arguments: each is refused or runs.
fn huge_argv(program: &str) -> (&'static str, usize, &'static str, String) {
    let mut results = Vec::new();
    for mib in [1, 16, 32] {
        let big = "a".repeat(mib * MIB);
        let started = Command::new(program).args(["sleep", "0", &big]).spawn();
        results.push(match started {
            Ok(pid) => {
                let _ = cella_process::wait(Some(pid), false);
                format!("{mib} MiB ran")
            }
            Err(error) => format!("{mib} MiB {}", cella_userland::describe(&error)),
        });
    }
    let big = "e".repeat(2 * MIB);
    results.push(
        match Command::new(program)
            .args(["sleep", "0"])
            .env("BIG", &big)
            .spawn()
        {
            Ok(pid) => {
                let _ = cella_process::wait(Some(pid), false);
                String::from("env 2 MiB ran")
            }
            Err(error) => format!("env 2 MiB {}", cella_userland::describe(&error)),
        },
    );
    ("argv", results.len(), "tries", results.join("; "))
}
