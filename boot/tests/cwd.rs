//! A working directory per process: the shell grants its directory to every command as a
//! `.` preopen, so programs that know nothing of Cella (a plain Rust std program and a C
//! wasi-libc one) resolve relative paths against it, while Cella's own tools keep absolute
//! paths too. Also the runner's `--dir HOST::.`, which grants the same.

mod common;

use std::fs;

use common::{Run, Scratch, assert_ok, cella, cella_with, program};

/// The test programs `readfiles` (Rust std) and `creadfiles` (C, wasi-libc) in a host
/// directory the shell sees as `/t`.
fn test_programs(scratch: &Scratch) -> String {
    common::setup();
    fs::create_dir(scratch.path("t")).unwrap();
    for name in ["readfiles", "creadfiles"] {
        fs::copy(
            program(name),
            scratch.path("t").join(format!("{name}.wasm")),
        )
        .unwrap_or_else(|e| panic!("{name}.wasm (C programs need boot/setup.sh --with-c): {e}"));
    }
    scratch.arg("t", "/t")
}

fn session(scratch: &Scratch, script: &str) -> Run {
    let dir = test_programs(scratch);
    cella_with(&["--dir", &dir], script.as_bytes(), &[])
}

#[test]
fn programs_started_in_a_directory_read_relative_paths_there() {
    let scratch = Scratch::new("cwd");
    let run = session(
        &scratch,
        concat!(
            "mkdir -p /tmp/x/sub; echo in-x > /tmp/x/file; echo in-tmp > /tmp/file\n",
            "echo in-sub > /tmp/x/sub/f; echo in-root > /file\n",
            "cd /tmp/x\n",
            "/t/readfiles.wasm file ./file sub/f ../file\n",
            "/t/creadfiles.wasm file ./file sub/f ../file\n",
            // Spawn inherits it: a command started by `env` and by a child shell.
            "env /t/readfiles.wasm file\n",
            "sh -c '/t/creadfiles.wasm sub/f'\n",
            // Cella's tools know the directory by name too: relative, `..` and absolute.
            "cat file ../file /file sub/f\n",
            "cd sub; /t/creadfiles.wasm f; cat ../file ../../file; cd ..\n",
            "ln -s sub/f /tmp/x/link; cat link /tmp/x/link\n",
            "cd ..; /t/readfiles.wasm file x/file\n",
            // A directory gone since `cd`: the program starts in `/`.
            "mkdir /tmp/gone; cd /tmp/gone; rm -r /tmp/gone; /t/readfiles.wasm file; cd /\n",
            "/t/creadfiles.wasm file\n",
        ),
    );
    let stdout = run.stdout();
    assert_eq!(
        stdout,
        concat!(
            "cwd /\n",
            "file: in-x\n",
            "./file: in-x\n",
            "sub/f: in-sub\n",
            // `..` above the granted directory, as wasmtime's `--dir .`: ENOTCAPABLE.
            "../file: error uncategorized error\n",
            "cwd /\n",
            "file: in-x\n",
            "./file: in-x\n",
            "sub/f: in-sub\n",
            "../file: error Capabilities insufficient\n",
            "cwd /\n",
            "file: in-x\n",
            "cwd /\n",
            "sub/f: in-sub\n",
            "in-x\n",
            "in-tmp\n",
            "in-root\n",
            "in-sub\n",
            "cwd /\n",
            "f: in-sub\n",
            "in-x\n",
            "in-tmp\n",
            "in-sub\n",
            "in-sub\n",
            "cwd /\n",
            "file: in-tmp\n",
            "x/file: in-x\n",
            "cwd /\n",
            "file: in-root\n",
            "cwd /\n",
            "file: in-root\n",
        ),
        "stderr:\n{}",
        run.stderr
    );
    assert_eq!(run.status, 0, "stderr:\n{}", run.stderr);
}

#[test]
fn an_absolute_path_goes_through_the_working_directory_for_a_program_that_does_not_know_it() {
    // The documented limit: wasi-libc reads `.` like `/`, and the later preopen wins, so a
    // program unaware of PWD sees `/tmp/file` as `./tmp/file`, as under
    // `wasmtime run --dir / --dir .`.
    let scratch = Scratch::new("cwd-abs");
    let run = session(
        &scratch,
        concat!(
            "mkdir -p /tmp/y/tmp; echo real > /tmp/file; echo shadow > /tmp/y/tmp/file\n",
            "cd /tmp/y; /t/readfiles.wasm /tmp/file; /t/creadfiles.wasm /tmp/file; cat /tmp/file\n",
        ),
    );
    assert_eq!(
        run.stdout(),
        "cwd /\n/tmp/file: shadow\ncwd /\n/tmp/file: shadow\nreal\n",
        "stderr:\n{}",
        run.stderr
    );
}

#[test]
fn the_runner_grants_a_directory_as_dot() {
    let scratch = Scratch::new("cwd-runner");
    fs::create_dir_all(scratch.path("tree/sub")).unwrap();
    fs::write(scratch.path("tree/sub/f"), "from-host\n").unwrap();
    fs::write(scratch.path("outside"), "secret\n").unwrap();
    let dot = scratch.arg("tree", ".");
    let run = cella(&["--dir", &dot, &program("creadfiles"), "sub/f", "../outside"]);
    assert_ok(&run);
    assert_eq!(
        run.stdout(),
        "cwd /\nsub/f: from-host\n../outside: error Capabilities insufficient\n"
    );
}
