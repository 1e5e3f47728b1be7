//! Integration tests of `./qemu.sh --new DIR`: the project it makes builds with `cargo run`
//! and runs on this checkout's Cella, from anywhere the project is moved to, with the
//! program's stdout, stderr and exit status; and it refuses what `cargo new` refuses.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::{Reaped, Scratch, root, setup};

/// Backstop for one `./qemu.sh` or `cargo` run: the first one may build the release runner.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// What a command gave back.
#[derive(Debug)]
struct Output {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Runs `program ARGS` in `dir` with `stdin`, in the environment a user's shell would give
/// it: none of the variables through which the outer `cargo test` passes its toolchain,
/// target directory, flags and package to its children.
fn run<S: AsRef<OsStr>>(
    program: impl AsRef<OsStr>,
    args: &[S],
    dir: &Path,
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Output {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        let build = text.starts_with("CARGO") || text.starts_with("RUST");
        // The user's own installation stays: where rustup and cargo keep their files.
        if build && text != "CARGO_HOME" && text != "RUSTUP_HOME" {
            command.env_remove(&name);
        }
    }
    command.envs(env.iter().copied());
    let mut child = Reaped::spawn(&mut command).expect("start a command");
    let mut input = child.stdin.take().expect("stdin piped");
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let stdout = thread::spawn(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).map(|_| text)
    });
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        err.read_to_string(&mut text).map(|_| text)
    });
    let status = child
        .wait_timeout(COMMAND_TIMEOUT)
        .unwrap_or_else(|| panic!("{command:?} did not finish within {COMMAND_TIMEOUT:?}"));
    writer.join().expect("stdin writer");
    Output {
        status: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader").expect("read stdout"),
        stderr: stderr.join().expect("stderr reader").expect("read stderr"),
    }
}

/// `./qemu.sh --new DIR`, run in `cwd`.
fn new(cwd: &Path, dir: &str) -> Output {
    run(root().join("qemu.sh"), &["--new", dir], cwd, b"", &[])
}

/// `cargo run --quiet -- ARGS` in `dir` with `stdin`.
fn cargo_run(dir: &Path, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["run", "--quiet", "--"];
    all.extend_from_slice(args);
    run("cargo", &all, dir, stdin, env)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A program that shows its arguments on stdout, its stdin upper-cased on stderr, and exits
/// with the status its first argument names.
const ECHO_PROGRAM: &str = r#"use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("argv[0]={} args={:?}", args[0], &args[1..]);
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    eprint!("stdin: {}", input.to_uppercase());
    std::process::exit(args[1].parse().unwrap());
}
"#;

#[test]
fn an_edited_project_runs_with_cargo_run_after_it_is_moved() {
    setup();
    let made = Scratch::new("new-made");
    let moved = Scratch::new("new-moved");
    let created = new(&made.path(""), "prog");
    assert_eq!(created.status, 0, "{created:?}");
    let project = made.path("prog");
    assert!(read(&project.join("Cargo.toml")).contains("name = \"prog\"\n"));
    assert!(read(&project.join(".cargo/config.toml")).contains("target = \"wasm32-wasip1\""));
    assert_eq!(read(&project.join(".gitignore")), "/target\n");
    assert!(project.join("src/main.rs").is_file() && project.join("data").is_dir());
    let runner = fs::metadata(project.join(".cargo/cella-run")).expect("the runner script");
    assert_eq!(runner.permissions().mode() & 0o111, 0o111, "not executable");

    fs::write(project.join("src/main.rs"), ECHO_PROGRAM).unwrap();
    // Moved, and the old place gone: nothing may point back at it.
    let project = moved.path("elsewhere");
    fs::rename(made.path("prog"), &project).unwrap();
    drop(made);
    fs::create_dir_all(project.join("src/sub")).unwrap();
    let out = cargo_run(
        &project.join("src/sub"),
        &["7", "two words", "--verbose"],
        b"piped in\nand more\n",
        &[],
    );
    assert_eq!(out.status, 7, "{out:?}");
    assert_eq!(
        out.stdout,
        "argv[0]=prog.wasm args=[\"7\", \"two words\", \"--verbose\"]\n"
    );
    assert_eq!(out.stderr, "stdin: PIPED IN\nAND MORE\n");
}

#[test]
fn the_template_greets_counts_stdin_and_signs_the_guest_book() {
    setup();
    let scratch = Scratch::new("new-template");
    let created = new(&scratch.path(""), "guests");
    assert_eq!(created.status, 0, "{created:?}");
    let project = scratch.path("guests");

    let out = cargo_run(&project, &["Ada"], b"one\ntwo\nthree\n", &[]);
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (
            0,
            "Hello, Ada!\nstdin: 3 lines\nAda is guest number 1 in data/guests.txt\n",
            ""
        ),
        "{out:?}"
    );
    // The guest book came back to the host, and the next run adds to it.
    assert_eq!(read(&project.join("data/guests.txt")), "Ada\n");
    let out = cargo_run(&project.join("src"), &["Bob"], b"", &[]);
    assert_eq!(
        out.stdout, "Hello, Bob!\nstdin: 0 lines\nBob is guest number 2 in data/guests.txt\n",
        "{out:?}"
    );
    assert_eq!(read(&project.join("data/guests.txt")), "Ada\nBob\n");

    // The README's way to use another runner: the variable replaces the project's list, so
    // no data/ and the given environment.
    let qemu = format!("{} --env GREETING=Howdy", root().join("qemu.sh").display());
    let out = cargo_run(
        &project,
        &["Cy"],
        b"x\n",
        &[("CARGO_TARGET_WASM32_WASIP1_RUNNER", &qemu)],
    );
    assert_eq!(
        out.stdout,
        "Howdy, Cy!\nstdin: 1 lines\nno data/ directory: make one in the project to keep a guest book\n",
        "{out:?}"
    );

    // The template stays warning-free.
    let clippy = run(
        "cargo",
        &["clippy", "--quiet", "--", "-D", "warnings"],
        &project,
        b"",
        &[],
    );
    assert_eq!(clippy.status, 0, "{clippy:?}");
}

#[test]
fn new_refuses_a_non_empty_directory_and_a_bad_package_name() {
    let scratch = Scratch::new("new-refused");
    let taken = scratch.path("taken");
    fs::create_dir_all(&taken).unwrap();
    fs::write(taken.join("notes.txt"), "mine\n").unwrap();
    let out = new(&scratch.path(""), "taken");
    assert_eq!(out.status, 2, "{out:?}");
    assert!(out.stderr.contains("not empty"), "{out:?}");
    let left: Vec<_> = fs::read_dir(&taken)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["notes.txt"]);
    assert_eq!(read(&taken.join("notes.txt")), "mine\n");

    for bad in ["1st", "fn", "my.prog"] {
        let out = new(&scratch.path(""), bad);
        assert_eq!(out.status, 2, "{bad}: {out:?}");
        assert!(
            out.stderr.contains("cannot name a package"),
            "{bad}: {out:?}"
        );
        assert!(!scratch.path(bad).exists(), "{bad} was created");
    }

    // An empty directory is fine, as for `cargo init`.
    fs::create_dir_all(scratch.path("empty")).unwrap();
    let out = new(&scratch.path("empty"), ".");
    assert_eq!(out.status, 0, "{out:?}");
    assert!(read(&scratch.path("empty/Cargo.toml")).contains("name = \"empty\"\n"));
}
