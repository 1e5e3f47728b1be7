//! Test program: `spawnloop N PROGRAM [ARGS...]` spawns PROGRAM (e.g. `/bin/true`) N times
//! one after the other with `cella_process`, with the caller's stdio and preopens, waits for
//! each and checks it exited with status 0. After two warm-up runs, it prints the kernel heap
//! in use before, after the first measured cycle and after the last (`heap before:`, `heap after 1:`,
//! `heap after:` in bytes: a leak per process shows as growth between the last two),
//! then `spawns: N` and `per spawn: X us` (wall time of spawn + run + wait, averaged).
//! Any failure is reported and makes the exit status 1.
use std::time::Instant;

use cella_process::{Command, system_info, wait};
use cella_userland::describe;

fn fail(message: &str) -> ! {
    eprintln!("spawnloop: {message}");
    std::process::exit(1)
}

fn heap() -> u64 {
    system_info()
        .unwrap_or_else(|e| fail(&format!("system_info: {}", describe(&e))))
        .kernel_heap_used
}

fn main() {
    // PROGRAM may be relative to the shell's directory.
    cella_userland::enter_working_directory();
    let args = cella_userland::args();
    let (Some(count), Some(program)) = (args.first(), args.get(1)) else {
        eprintln!("usage: spawnloop N PROGRAM [ARGS...]");
        std::process::exit(2);
    };
    let Ok(count) = count.parse::<u32>() else {
        fail(&format!("bad N '{count}'"));
    };
    let mut command = Command::new(program);
    command.args(&args[2..]).inherit_preopens();
    let run = |i: u32| {
        let pid = command.spawn().unwrap_or_else(|e| {
            fail(&format!(
                "spawn {i} of {count}: {program}: {}",
                describe(&e)
            ))
        });
        match wait(Some(pid), false) {
            Ok(Some((_, status))) if status.success() => {}
            Ok(Some((_, status))) => fail(&format!("run {i}: {program} ended with {status:?}")),
            Ok(None) => fail(&format!("wait {i}: no status for pid {pid}")),
            Err(e) => fail(&format!("wait {i}: pid {pid}: {}", describe(&e))),
        }
    };
    // Two runs first: the kernel's first spawns size structures that stay (the process
    // table's and scheduler's own storage), which are not a leak.
    run(0);
    run(0);
    // Measured before printing anything: the first output allocates the console's buffers.
    let before = heap();
    let start = Instant::now();
    let (mut after_first, mut after_last) = (before, before);
    for i in 1..=count {
        run(i);
        // Both read on the same code path: wasmi compiles a function on its first call,
        // and the compiled code of this process's own new paths is kernel heap too.
        if i == 1 || i == count {
            let now = heap();
            if i == 1 {
                after_first = now;
            }
            after_last = now;
        }
    }
    let elapsed = start.elapsed();
    println!("heap before: {before}");
    println!("heap after 1: {after_first}");
    println!("heap after: {after_last}");
    println!("spawns: {count}");
    let per_spawn = elapsed.as_micros() / u128::from(count.max(1));
    println!("per spawn: {per_spawn} us");
}
