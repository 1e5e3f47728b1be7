//! Isolation under exhaustion: a program that uses up one resource the kernel holds for it
//! (`userland/exhaust.wasm`) gets an errno or ends alone, the kernel lives on, the `--dir`
//! trees are written back in full, and in shell mode the machine recovers.

mod common;

use std::fs;

use common::{Run, Scratch, cella, cella_with, program};

/// `exhaust MODE ARGS` in program mode on a fresh `--dir` (guest `.`), with `options`
/// before the program; returns the run and the scratch tree (`tree/` is the `--dir`).
fn exhaust(name: &str, options: &[&str], args: &[&str]) -> (Run, Scratch) {
    let scratch = Scratch::new(name);
    fs::create_dir_all(scratch.path("tree")).unwrap();
    fs::copy(program("exhaust"), scratch.path("tree/exhaust.wasm")).unwrap();
    let dir = scratch.arg("tree", ".");
    let exhaust = program("exhaust");
    let mut argv: Vec<&str> = vec!["--dir", &dir];
    argv.extend_from_slice(options);
    argv.push(&exhaust);
    argv.extend_from_slice(args);
    (cella(&argv), scratch)
}

/// The count the program reported in `MODE: COUNT UNIT, then ERROR`, checking the error.
fn count(run: &Run, mode: &str, error: &str) -> u64 {
    let stdout = run.stdout();
    let line = stdout
        .lines()
        .find(|line| line.starts_with(&format!("{mode}: ")))
        .unwrap_or_else(|| panic!("no `{mode}:` line: {run:?}"));
    assert!(line.ends_with(error), "{line}");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The kernel ran the program to its end and wrote the trees back (nothing about a
/// kernel failure or a missing write-back on stderr).
fn assert_survived(run: &Run) {
    assert_eq!(run.status, 0, "{run:?}");
    assert!(!run.stderr.contains("kernel"), "{}", run.stderr);
    assert!(!run.stderr.contains("not write"), "{}", run.stderr);
}

#[test]
fn files_fill_the_file_system_and_every_one_is_written_back() {
    let (run, scratch) = exhaust("files", &["--fs-size", "4M"], &["files", "."]);
    assert_survived(&run);
    let made = count(&run, "files", "No space left on device");
    // 4 MiB of inodes and 200-byte names: a few thousand, and not a name more.
    assert!((3000..6000).contains(&made), "{made}");
    let on_host = fs::read_dir(scratch.path("tree")).unwrap().count() as u64;
    assert_eq!(on_host, made + 1, "every file and exhaust.wasm");
}

#[test]
fn data_fills_the_file_system_and_is_written_back() {
    let (run, scratch) = exhaust("data", &["--fs-size", "16M"], &["data", "."]);
    assert_survived(&run);
    let mib = count(&run, "data", "No space left on device");
    assert!((12..16).contains(&mib), "{mib} MiB in a 16 MiB file system");
    let size = fs::metadata(scratch.path("tree/data")).unwrap().len();
    assert!(size >= mib << 20 && size < 16 << 20, "{size}");
}

#[test]
fn long_symlinks_count_against_the_file_system() {
    let (run, scratch) = exhaust("symlinks", &["--fs-size", "4M"], &["symlinks", "."]);
    assert_survived(&run);
    let made = count(&run, "symlinks", "No space left on device");
    // Each holds its 4000-byte target: about a thousand fit in 4 MiB.
    assert!((800..1100).contains(&made), "{made}");
    let target = fs::read_link(scratch.path(&format!("tree/s{}", made - 1))).unwrap();
    assert_eq!(target.as_os_str().len(), 4000);
}

#[test]
fn holes_count_so_sparse_files_cannot_outgrow_the_write_back() {
    let (run, scratch) = exhaust("sparse", &["--fs-size", "16M"], &["sparse", "."]);
    assert_survived(&run);
    let made = count(&run, "sparse", "No space left on device");
    // 1 MiB each, holes included, in 16 MiB; the program's own module takes some.
    assert!((13..16).contains(&made), "{made}");
    for i in 0..made {
        let size = fs::metadata(scratch.path(&format!("tree/sparse{i}")))
            .unwrap()
            .len();
        assert_eq!(size, 1 << 20, "sparse{i}");
    }
}

#[test]
fn a_tree_as_deep_as_paths_allow_is_written_back() {
    let (run, scratch) = exhaust("deep", &[], &["deep", "."]);
    assert_survived(&run);
    let depth = count(&run, "deep", "Filename too long.");
    assert_eq!(depth, 2047, "d, d/d, ... up to a path of 4095 bytes");
    // The deepest host path is longer than PATH_MAX: count with find, which walks by fd.
    let levels = std::process::Command::new("find")
        .arg(scratch.path("tree"))
        .args(["-type", "d"])
        .output()
        .unwrap();
    assert_eq!(levels.stdout.iter().filter(|b| **b == b'\n').count(), 2048);
}

#[test]
fn fds_and_pipes_end_at_the_open_files_limit() {
    let (run, _scratch) = exhaust("fds", &[], &["fds", "."]);
    assert_survived(&run);
    // 1024 fds: stdio, the preopen, and the program's own.
    assert_eq!(count(&run, "fds", "No file descriptors available"), 1020);
    let (run, _scratch) = exhaust("pipes", &[], &["pipes"]);
    assert_survived(&run);
    assert_eq!(count(&run, "pipes", "No file descriptors available"), 510);
}

#[test]
fn memory_growth_stops_short_of_the_kernels_reserve() {
    let (run, _scratch) = exhaust("memory", &["-m", "256M"], &["memory"]);
    assert_survived(&run);
    let mib = count(&run, "memory", "memory.grow failed");
    // 256 MiB less the kernel, its 16 MiB reserve and the program's own start.
    assert!((200..240).contains(&mib), "{mib} MiB");
}

#[test]
fn recursion_ends_the_program_alone_with_a_trap() {
    let (run, _scratch) = exhaust("recurse", &[], &["recurse"]);
    assert_eq!(run.status, 134, "{run:?}");
    assert!(
        run.stderr.contains("wasm trap: call stack exhausted"),
        "{}",
        run.stderr
    );
}

#[test]
fn spawn_storms_and_huge_argv_are_refused_with_an_errno() {
    let (run, _scratch) = exhaust("spawn", &[], &["spawn", "exhaust.wasm"]);
    assert_survived(&run);
    // 128 processes at most: the storm's maker and 127 children.
    assert_eq!(
        count(&run, "spawn", "Resource temporarily unavailable"),
        127
    );
    let (run, _scratch) = exhaust("argv", &[], &["argv", "exhaust.wasm"]);
    assert_survived(&run);
    let stdout = run.stdout();
    assert!(
        stdout.contains("1 MiB Argument list too long; 16 MiB Argument list too long")
            && stdout.contains("env 2 MiB Argument list too long"),
        "{stdout}"
    );
}

/// A shell session on a small machine: one program fills `/tmp`, and the shell can still
/// remove it all and carry on; one program holds all the memory it may, and `ps` and
/// `kill` still run, as does a second program, which gets what is left.
#[test]
fn the_shell_recovers_after_a_program_exhausts_the_file_system_or_memory() {
    let scratch = Scratch::new("shell");
    fs::create_dir_all(scratch.path("x")).unwrap();
    fs::copy(program("exhaust"), scratch.path("x/exhaust.wasm")).unwrap();
    let script = "/x/exhaust.wasm files /tmp\n\
                  echo made > /tmp/after-full\n\
                  echo status $?\n\
                  rm -r /tmp\n\
                  mkdir /tmp\n\
                  echo fresh > /tmp/f\n\
                  cat /tmp/f\n\
                  /x/exhaust.wasm --hold memory &\n\
                  sleep 2\n\
                  ps\n\
                  /x/exhaust.wasm memory\n\
                  kill %1\n\
                  wait\n\
                  ls /bin | wc -l\n";
    let run = cella_with(
        &[
            "-m",
            "256M",
            "--fs-size",
            "8M",
            "--dir",
            &scratch.arg("x", "/x"),
        ],
        script.as_bytes(),
        &[],
    );
    assert_eq!(run.status, 0, "{run:?}");
    let stdout = run.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("files: ") && lines[0].ends_with("No space left on device"));
    assert!(
        run.stderr.contains("No space left on device"),
        "{}",
        run.stderr
    );
    assert_eq!(lines[1], "status 1", "the full /tmp refuses the shell too");
    assert_eq!(lines[2], "fresh", "rm freed it: {stdout}");
    // The holder keeps a quarter of the machine (its limit); the second gets the rest
    // above the reserves, and `ps` and `kill` ran meanwhile.
    let held: u64 = lines[3]
        .strip_prefix("memory: ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!((50..64).contains(&held), "{held} MiB held: {stdout}");
    assert!(stdout.contains("PID  PPID"), "{stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("exhaust") && l.contains('M')),
        "{stdout}"
    );
    let second = lines
        .iter()
        .filter(|l| l.starts_with("memory: "))
        .nth(1)
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(second.ends_with("memory.grow failed"), "{second}");
    let programs: u64 = lines.last().unwrap().trim().parse().unwrap();
    assert!(programs > 20, "ls ran after it all: {stdout}");
}

/// Several processes each holding every pipe it may, all full: the later ones are refused
/// with `ENOMEM` before the machine's floor (or stop at their fd limit), and the shell lists
/// and ends them all.
#[test]
fn many_processes_holding_full_pipes_leave_the_shell_running() {
    let scratch = Scratch::new("held-pipes");
    fs::create_dir_all(scratch.path("x")).unwrap();
    fs::copy(program("exhaust"), scratch.path("x/exhaust.wasm")).unwrap();
    let mut script = String::new();
    for _ in 0..6 {
        script.push_str("/x/exhaust.wasm --hold pipes &\nsleep 2\n");
    }
    script.push_str("ps\nkill %1 %2 %3 %4 %5 %6\nwait\nls /bin | wc -l\n");
    let run = cella_with(
        &["-m", "256M", "--dir", &scratch.arg("x", "/x")],
        script.as_bytes(),
        &[],
    );
    assert_eq!(run.status, 0, "{run:?}");
    let stdout = run.stdout();
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("pipes: "))
        .collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(
        lines.iter().any(|l| l.ends_with("Out of memory")),
        "the machine's floor stops the later ones: {stdout}"
    );
    let held: u64 = lines
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    // 64 KiB each: together no more than the RAM less the reserves.
    assert!(held * 64 < 200 * 1024, "{held} pipes: {stdout}");
    assert_eq!(
        stdout.matches("exhaust").count(),
        6,
        "ps lists them: {stdout}"
    );
    let programs: u64 = stdout.lines().last().unwrap().trim().parse().unwrap();
    assert!(programs > 20, "ls ran after it all: {stdout}");
}
