//! The `cella-process` crate as a user outside this repository meets it: a throwaway Cargo
//! project in a temporary directory depends on it by path, builds for wasm32-wasip1 with
//! nothing fetched (`--offline`), and its program runs on Cella, where it spawns a child of
//! its own, reads the child's output through a pipe, waits for its exit status and kills a
//! second child. And the crate's documentation examples compile, as a libtest binary that
//! runs on Cella itself.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{Scratch, cella, root};

/// The child: prints its pid and arguments, exits with 40 + their number; with the single
/// argument `block` it reads its stdin to the end instead (until it is killed).
const CHILD: &str = r#"
use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["block"] {
        let mut input = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut input);
        return;
    }
    println!("child {} got {}", cella_process::pid(), args.join(" "));
    std::process::exit(40 + args.len() as i32);
}
"#;

/// The parent: runs the child with `TOKEN two` and its stdout into a pipe, then a blocked
/// child it kills; prints what it saw, one fact a line.
const PARENT: &str = r#"
use std::io::Read;
use cella_process::{Command, SIGTERM, Stdio, kill, pipe, processes, wait};

fn main() -> std::io::Result<()> {
    let token = std::env::args().nth(1).expect("a token");
    let (mut reader, writer) = pipe()?;
    let child = Command::new("/app/child.wasm")
        .arg(&token)
        .arg("two")
        .stdout(Stdio::from(&writer))
        .spawn()?;
    drop(writer);
    let listed = processes()?.iter().any(|p| p.pid == child && p.name == "child.wasm");
    let mut output = String::new();
    reader.read_to_string(&mut output)?;
    println!("parent {} spawned {child}", cella_process::pid());
    println!("listed {listed}");
    print!("read {output}");
    let (pid, status) = wait(Some(child), false)?.expect("the child ended");
    println!("waited {pid} {status:?} code {}", status.code());

    let (input, _keep_open) = pipe()?;
    let blocked = Command::new("/app/child.wasm").arg("block").stdin(Stdio::from(&input)).spawn()?;
    let still_running = wait(Some(blocked), true)?.is_none();
    kill(blocked as i32, SIGTERM)?;
    let (_, status) = wait(Some(blocked), false)?.expect("the killed child ended");
    println!("killed running {still_running} then {status:?}");
    // ECHILD (12 in WASI): no child is left.
    println!("none left {:?}", wait(None, true).map_err(|e| e.raw_os_error()));
    Ok(())
}
"#;

/// `cargo ARGS` in `dir`, with none of the outer `cargo test`'s `CARGO_*` variables (but
/// `CARGO_HOME`), so that the inner build is the user's own.
fn cargo(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new("cargo");
    command
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO") && key != "CARGO_HOME" && !env.iter().any(|(k, _)| *k == key) {
            command.env_remove(&*key);
        }
    }
    command.output().expect("cannot start cargo")
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A token that differs from run to run, so no output can be right by accident.
fn token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("tok{}x{nanos}", std::process::id())
}

/// The value after `prefix` on the line that starts with it.
fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line `{prefix}...` in:\n{stdout}"))
}

#[test]
fn a_project_outside_the_repository_spawns_pipes_waits_and_kills() {
    let scratch = Scratch::new("sdk");
    let project = scratch.path("demo");
    fs::create_dir_all(project.join("src/bin")).unwrap();
    let sdk = root().join("userland/process");
    fs::write(
        project.join("Cargo.toml"),
        format!(
            "[package]\nname = \"sdk-demo\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\ncella-process = {{ path = {:?} }}\n",
            sdk.display().to_string()
        ),
    )
    .unwrap();
    fs::write(project.join("src/bin/child.rs"), CHILD).unwrap();
    fs::write(project.join("src/bin/parent.rs"), PARENT).unwrap();
    let build = cargo(
        &project,
        &[
            "build",
            "--offline",
            "--release",
            "--target",
            "wasm32-wasip1",
        ],
        &[],
    );
    assert_success("building the outside project", &build);
    let wasm = project.join("target/wasm32-wasip1/release");
    fs::create_dir_all(scratch.path("app")).unwrap();
    fs::copy(wasm.join("child.wasm"), scratch.path("app/child.wasm")).unwrap();

    let token = token();
    let parent = wasm.join("parent.wasm").display().to_string();
    let run = cella(&["--dir", &scratch.arg("app", "/app"), &parent, &token]);
    let stdout = run.stdout();
    assert_eq!(run.status, 0, "{stdout}\n{}", run.stderr);
    let spawned = line(&stdout, "parent 1 spawned ");
    assert_ne!(spawned, "1", "the child has a pid of its own");
    assert_eq!(line(&stdout, "listed "), "true", "in the process list");
    assert_eq!(
        line(&stdout, "read "),
        format!("child {spawned} got {token} two"),
        "its stdout, through the pipe"
    );
    assert_eq!(
        line(&stdout, "waited "),
        format!("{spawned} Exited(42) code 42"),
        "its exit status: 40 + two arguments"
    );
    assert_eq!(
        line(&stdout, "killed "),
        "running true then Signaled(15)",
        "a blocked child, until SIGTERM"
    );
    assert_eq!(line(&stdout, "none left "), "Err(Some(12))");
}

#[test]
fn the_crates_documentation_examples_compile() {
    let scratch = Scratch::new("sdk-doc");
    let manifest = root().join("userland/process/Cargo.toml");
    let target_dir = scratch.path("target").display().to_string();
    // The doctests are a wasm32-wasip1 libtest binary, run on Cella like any program.
    common::setup();
    let runner = env!("CARGO_BIN_EXE_cella");
    let root = root().display().to_string();
    let doc = cargo(
        &scratch.path(""),
        &[
            "test",
            "--offline",
            "--doc",
            "--manifest-path",
            &manifest.display().to_string(),
            "--target",
            "wasm32-wasip1",
            "--target-dir",
            &target_dir,
        ],
        &[
            ("CARGO_TARGET_WASM32_WASIP1_RUNNER", runner),
            ("CELLA_ROOT", &root),
        ],
    );
    assert_success("the doctests", &doc);
    let stdout = String::from_utf8_lossy(&doc.stdout);
    let compiled = stdout
        .lines()
        .filter(|l| l.ends_with("- compile ... ok"))
        .count();
    // Every public function and type of the crate shows itself in an example.
    assert!(compiled >= 12, "only {compiled} examples:\n{stdout}");
    assert!(stdout.contains("test result: ok"), "{stdout}");
}
