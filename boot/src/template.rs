//! `./qemu.sh --new DIR`: a Cargo project for a program of your own, whose `cargo run` builds
//! it for wasm32-wasip1 and runs it on this Cella checkout. The project's files are in
//! `boot/template/`; only the checkout's absolute path is baked in (into `.cargo/cella-run`),
//! so the project works from anywhere it is moved to.

use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use crate::project::USERLAND_TARGET;

/// The package's manifest; `@NAME@` is the package name.
const CARGO_TOML: &str = include_str!("../template/Cargo.toml.in");
/// `.cargo/config.toml`: the target and the runner.
const CONFIG_TOML: &str = include_str!("../template/config.toml");
/// `.cargo/cella-run`, the runner script; `@CHECKOUT@` is the checkout, quoted for sh.
const CELLA_RUN: &str = include_str!("../template/cella-run.in");
/// `src/main.rs`, the example program.
const MAIN_RS: &str = include_str!("../template/main.rs");
/// `.gitignore`, as `cargo new` writes it.
const GITIGNORE: &str = "/target\n";
/// The runner script's permissions: executable by all, as cargo starts it directly.
const EXECUTABLE: u32 = 0o755;

/// Names cargo reserves for its own build directories.
const CARGO_DIRECTORY_NAMES: &[&str] = &["build", "deps", "examples", "incremental"];
/// Names of Rust's built-in libraries, which a package cannot take.
const BUILT_IN_LIBRARIES: &[&str] = &["alloc", "core", "proc_macro", "proc-macro", "std", "test"];
/// Rust's keywords, in every edition, reserved ones included.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Creates the project at `dir` for the checkout at `checkout` (both as the user gave them)
/// and makes sure the project's toolchain has the wasm32-wasip1 target. Returns what to tell
/// the user, or one sentence saying what went wrong and what to do.
pub fn create(dir: &Path, checkout: &Path) -> Result<String, String> {
    let shown = dir.display();
    let name = package_name(dir)?;
    check_destination(dir)?;
    let checkout = fs::canonicalize(checkout)
        .map_err(|e| format!("cannot find the Cella checkout {}: {e}", checkout.display()))?;
    for (path, text) in files(&name, &checkout) {
        write(&dir.join(path), &text)?;
    }
    let runner = dir.join(".cargo/cella-run");
    fs::set_permissions(&runner, fs::Permissions::from_mode(EXECUTABLE))
        .map_err(|e| format!("cannot make {} executable: {e}", runner.display()))?;
    let data = dir.join("data");
    fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    init_git(dir);
    ensure_target(dir)?;
    Ok(format!(
        "created `{name}` in {shown}: `cargo run -- NAME` there builds it and runs it on Cella"
    ))
}

/// The project's files, relative to its directory, with their contents.
fn files(name: &str, checkout: &Path) -> [(&'static str, Vec<u8>); 5] {
    let cella_run = CELLA_RUN
        .as_bytes()
        .split(|&b| b == b'\n')
        .map(|line| match line.strip_prefix(b"checkout=@CHECKOUT@") {
            Some(rest) => [
                b"checkout=".as_slice(),
                &sh_quote(checkout.as_os_str()),
                rest,
            ]
            .concat(),
            None => line.to_vec(),
        })
        .collect::<Vec<_>>()
        .join(&b'\n');
    [
        (
            "Cargo.toml",
            CARGO_TOML.replace("@NAME@", name).into_bytes(),
        ),
        ("src/main.rs", MAIN_RS.as_bytes().to_vec()),
        (".cargo/config.toml", CONFIG_TOML.as_bytes().to_vec()),
        (".cargo/cella-run", cella_run),
        (".gitignore", GITIGNORE.as_bytes().to_vec()),
    ]
}

/// `text` as one sh word: single quotes, each `'` inside written `'\''`.
fn sh_quote(text: &OsStr) -> Vec<u8> {
    let mut quoted = vec![b'\''];
    for &byte in text.as_bytes() {
        if byte == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    quoted
}

/// The package name `cargo new` would give a project at `dir`: the last component of its
/// absolute path, if cargo accepts it.
fn package_name(dir: &Path) -> Result<String, String> {
    let absolute =
        std::path::absolute(dir).map_err(|e| format!("cannot locate {}: {e}", dir.display()))?;
    let Some(Component::Normal(last)) = absolute.components().next_back() else {
        return Err(format!(
            "{} does not end in a name for the program: give a path such as ./qemu.sh --new ~/hello",
            dir.display()
        ));
    };
    let Some(name) = last.to_str() else {
        return Err(format!(
            "`{}` is not valid Unicode, so it cannot name a package: name the directory with letters, digits, `-` and `_`",
            last.to_string_lossy()
        ));
    };
    check_package_name(name)?;
    Ok(name.to_string())
}

/// Cargo's rules for a package name (ASCII only here): letters, digits, `-` and `_`, not
/// starting with a digit, and not a Rust keyword, built-in library or cargo directory name.
fn check_package_name(name: &str) -> Result<(), String> {
    let problem = if name.is_empty() {
        "it is empty".to_string()
    } else if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        format!("it holds `{bad}`")
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        "it starts with a digit".to_string()
    } else if name.starts_with('-') {
        "it starts with `-`".to_string()
    } else if KEYWORDS.contains(&name) {
        "it is a Rust keyword".to_string()
    } else if BUILT_IN_LIBRARIES.contains(&name) {
        "it is the name of a built-in Rust library".to_string()
    } else if CARGO_DIRECTORY_NAMES.contains(&name) {
        "cargo uses it for its build directories".to_string()
    } else {
        return Ok(());
    };
    Err(format!(
        "`{name}` cannot name a package ({problem}): name the directory with letters, digits, `-` and `_`, starting with a letter"
    ))
}

/// A project goes into a new directory or an empty one, never over files.
fn check_destination(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    match fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "{shown} already exists and is not empty: give a new directory, or an empty one"
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotADirectory => Err(format!(
            "{shown} already exists and is not a directory: give a new directory"
        )),
        Err(e) => Err(format!("cannot use {shown}: {e}")),
    }
}

fn write(path: &Path, text: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `git init`, as `cargo new` does, when git is installed and `dir` is not already inside a
/// git work tree. Without git the project is simply not a repository.
fn init_git(dir: &Path) {
    let inside = Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(dir)
        .output();
    if inside.is_ok_and(|out| !out.status.success()) {
        let _ = Command::new("git")
            .args(["init", "--quiet"])
            .current_dir(dir)
            .status();
    }
}

/// Makes sure the toolchain that builds in `dir` (rustup's default, or the one an override
/// or `rust-toolchain.toml` picks there) has the wasm32-wasip1 target: rustup adds it when
/// missing (it does not by itself), or the error says what to run.
fn ensure_target(dir: &Path) -> Result<(), String> {
    let rustc = |args: &[&str]| {
        Command::new("rustc")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let installed = rustc(&["--print", "sysroot"]).is_some_and(|sysroot| {
        PathBuf::from(sysroot)
            .join("lib/rustlib")
            .join(USERLAND_TARGET)
            .join("lib")
            .is_dir()
    });
    if installed {
        return Ok(());
    }
    eprintln!("cella: adding the Rust target {USERLAND_TARGET} to the project's toolchain");
    let added = Command::new("rustup")
        .args(["target", "add", USERLAND_TARGET])
        .current_dir(dir)
        .status()
        .is_ok_and(|status| status.success());
    if added {
        Ok(())
    } else {
        Err(format!(
            "{} is made, but its Rust toolchain lacks the {USERLAND_TARGET} target: run `rustup target add {USERLAND_TARGET}` there before `cargo run`",
            dir.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_follow_cargo_new() {
        for good in ["hello", "my-prog", "my_prog2", "_private", "Upper"] {
            assert_eq!(check_package_name(good), Ok(()), "{good}");
        }
        let reason = |name: &str| check_package_name(name).unwrap_err();
        assert!(reason("2fast").contains("starts with a digit"));
        assert!(reason("-x").contains("starts with `-`"));
        assert!(reason("a.b").contains("holds `.`"));
        assert!(reason("hé").contains("holds `é`"));
        assert!(reason("fn").contains("keyword"));
        assert!(reason("std").contains("built-in"));
        assert!(reason("test").contains("built-in"));
        assert!(reason("deps").contains("build directories"));
        assert!(reason("").contains("cannot name a package"));
    }

    #[test]
    fn the_name_is_the_last_component_of_the_directory() {
        assert_eq!(
            package_name(Path::new("/home/ada/hello-wasi")).as_deref(),
            Ok("hello-wasi")
        );
        assert_eq!(
            package_name(Path::new("/home/ada/./tool/")).as_deref(),
            Ok("tool")
        );
        assert!(package_name(Path::new("/")).is_err());
        assert!(package_name(Path::new("/home/..")).is_err());
    }

    #[test]
    fn the_runner_script_bakes_in_the_checkout_quoted_for_sh() {
        assert_eq!(sh_quote(OsStr::new("/a b/it's")), b"'/a b/it'\\''s'");
        let files = files("hello", Path::new("/opt/it's cella"));
        let script = &files
            .iter()
            .find(|(path, _)| *path == ".cargo/cella-run")
            .unwrap()
            .1;
        let script = String::from_utf8_lossy(script);
        assert!(
            script.contains("\ncheckout='/opt/it'\\''s cella'\n"),
            "{script}"
        );
        assert!(!script.contains("@CHECKOUT@"), "{script}");
        let manifest = &files
            .iter()
            .find(|(path, _)| *path == "Cargo.toml")
            .unwrap()
            .1;
        assert!(String::from_utf8_lossy(manifest).contains("name = \"hello\"\n"));
    }

    #[test]
    fn the_project_builds_for_the_userland_target_through_the_runner_script() {
        let target = format!("target = \"{USERLAND_TARGET}\"");
        assert!(CONFIG_TOML.contains(&target), "{CONFIG_TOML}");
        let runner = format!("[target.{USERLAND_TARGET}]\nrunner = [\".cargo/cella-run\"");
        assert!(CONFIG_TOML.contains(&runner), "{CONFIG_TOML}");
    }
}
