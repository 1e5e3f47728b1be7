//! Generated programs: random WASI modules from wasm-smith (`boot/smith`), importing and
//! calling preview1 functions with whatever arguments their code computes, run by the
//! thousand inside one boot by `userland/smithrun.wasm`. Whatever they do — trap, loop until
//! their fuel runs out, sleep, write garbage through random pointers, grow memory and tables —
//! must end them, never the kernel, and give their memory back.
//!
//! The test fails on a kernel failure (the runner's 71 for a panic or CPU exception, 125
//! when the guest stops without an exit), on a hang (124 from `--timeout`: one module
//! stalled the scheduler), on a module whose end `smithrun` never saw, and on kernel heap
//! that stays in use after every child was reaped. Seeds are fixed, so a failure names
//! modules that `target/release/smith DIR 1 SEED` writes again.

mod common;

use std::collections::BTreeMap;
use std::fs;

use common::{Scratch, cella_within, program};

/// Modules per run and the first seed.
const COUNT: u64 = 2000;
const SEED: u64 = 0;
/// The runner's `--timeout` for the whole run.
const TIMEOUT_SECS: u64 = 400;
/// Kernel heap that may stay in use after the last child, over the figure after the
/// warm-up: the lazily compiled code of `smithrun`'s own rarer paths, nothing per process
/// (a leak of even 100 bytes per module would be 100 KB here).
const HEAP_SLACK: u64 = 64 * 1024;

#[test]
fn generated_modules_cannot_take_the_kernel_down() {
    let scratch = Scratch::new("smith");
    fs::create_dir_all(scratch.path("m")).unwrap();
    fs::create_dir_all(scratch.path("s")).unwrap();
    cella_smith::write_modules(&scratch.path("m"), COUNT, SEED).expect("write the modules");
    let run = cella_within(
        TIMEOUT_SECS,
        &[
            "-m",
            "1G",
            "--dir",
            &scratch.arg("m", "/m"),
            "--dir",
            &scratch.arg("s", "/s"),
            &program("smithrun"),
            "-v",
            "/m",
            "/s",
        ],
        b"",
        &[],
    );
    let stdout = run.stdout();
    // Which modules started and how each ended, from `smithrun -v`.
    let mut started = Vec::new();
    let mut ended = BTreeMap::new();
    for line in stdout.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["start", name, ..] => started.push(name.to_string()),
            ["end", name, outcome @ ..] => {
                let previous = ended.insert(name.to_string(), outcome.join(" "));
                assert!(previous.is_none(), "{name} ended twice");
            }
            _ => {}
        }
    }
    let running: Vec<&String> = started.iter().filter(|m| !ended.contains_key(*m)).collect();
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("start ") && !l.starts_with("end "))
        .collect();
    assert_eq!(
        run.status,
        0,
        "the run failed; modules running at the end (seeds of boot/smith): {running:?}\n\
         {summary:#?}\nstderr (last part): {}",
        tail(&run.stderr, 4000)
    );
    assert_eq!(ended.len() as u64, COUNT, "{summary:#?}");
    let value = |key: &str| -> u64 {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {summary:#?}"))
    };
    let count = |what: &str| {
        let prefix = format!("{what}=");
        stdout
            .lines()
            .find(|line| line.starts_with("counts: "))
            .and_then(|line| {
                line.split(' ')
                    .find_map(|w| w.strip_prefix(prefix.as_str()))
            })
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {what} count in {summary:#?}"))
    };
    assert_eq!(count("modules"), COUNT, "{summary:#?}");
    // Nobody but smithrun sends signals here.
    assert_eq!(count("signaled"), 0, "{summary:#?}");
    // The modules really do different things: some run to an exit, most trap.
    assert!(count("exited") > 0 && count("trapped") > 0, "{summary:#?}");
    let (warm, after) = (value("heap warm:"), value("heap after:"));
    assert!(
        after <= warm + HEAP_SLACK,
        "kernel heap grew by {} bytes over {COUNT} modules: {summary:#?}",
        after.saturating_sub(warm)
    );
}

/// The last `max` bytes of `text` (at a character boundary).
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
