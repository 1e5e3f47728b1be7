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
        11,
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
