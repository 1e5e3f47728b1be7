//! Processes on Cella: spawning, pipes, waiting, signals, limits and preemption, checked
//! from inside by `userland/proctest.wasm` (one `ok`/`FAIL` line per check) and from outside
//! through the runner.

mod common;

use std::fs;

use common::{Scratch, cella, program};

/// A scratch tree holding the programs `proctest` starts and a file that is not wasm.
fn programs(name: &str) -> Scratch {
    let scratch = Scratch::new(name);
    let dir = scratch.path("u");
    fs::create_dir_all(&dir).unwrap();
    for name in [
        "hello",
        "printargs",
        "printenv",
        "exit",
        "trap",
        "napms",
        "bench",
        "alloc",
        "oom",
        "true",
        "spawnloop",
    ] {
        fs::copy(program(name), dir.join(format!("{name}.wasm"))).unwrap();
    }
    fs::write(dir.join("not-wasm.txt"), "plain text\n").unwrap();
    scratch
}

#[test]
fn process_control_works_from_inside() {
    let scratch = programs("proctest");
    let run = cella(&["--dir", &scratch.arg("u", "/u"), &program("proctest")]);
    let stdout = run.stdout();
    assert!(!stdout.contains("FAIL"), "{stdout}\n{}", run.stderr);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        13,
        "{stdout}"
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    // Each child's trap or limit is reported on its own stderr, which it shares with ours.
    assert!(run.stderr.contains("trap: wasm trap"), "{}", run.stderr);
    assert!(
        run.stderr.contains("bench: fuel limit exhausted"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_thousand_spawns_leave_the_kernel_heap_as_it_was() {
    let scratch = programs("spawnloop");
    let run = cella(&[
        "--dir",
        &scratch.arg("u", "/u"),
        &program("spawnloop"),
        "1000",
        "/u/true.wasm",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let stdout = run.stdout();
    let value = |key: &str| -> u64 {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|v| v.trim().split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
    };
    assert_eq!(value("spawns:"), 1000);
    // From the first cycle on, the kernel heap does not grow: every process's memory, fds
    // and wasmi state go back (before that, the caller's own code is still being compiled).
    assert_eq!(value("heap after:"), value("heap after 1:"), "{stdout}");
    let before = value("heap before:");
    assert!(value("heap after:") < before + 4096, "{stdout}");
}
