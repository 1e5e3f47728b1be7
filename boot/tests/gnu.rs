//! The coreutils that scripts need (`test`/`[`, `expr`, `basename`, `dirname`, `tr`, `cut`,
//! `tee`, `printf`, `date`, `find`, `which`) against GNU's on the host: each case runs
//! `userland/src/bin/NAME.rs`, built for wasm32-wasip1, under wasmtime and the host's GNU
//! tool with the same arguments, stdin, environment and working directory (a scratch tree,
//! preopened as `.` for wasmtime), and their stdout and exit status must be equal; so must
//! be whether they wrote to stderr, and Cella's messages start with `NAME: `. Only `find`'s
//! lines are compared sorted (Cella's visits names in order, GNU's in directory order).
//!
//! Needs `wasmtime` on the PATH (`boot/setup.sh --with-wasmtime`). The modules are compiled
//! once (`wasmtime compile`), and the cases run a few at a time.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use common::{Scratch, root};

/// One comparison: the tool (`[` is `test` run as `[`), its arguments and its stdin.
type Case = (&'static str, &'static [&'static str], &'static str);

/// The programs under test.
const TOOLS: &[&str] = &[
    "test", "expr", "basename", "dirname", "tr", "cut", "tee", "printf", "date", "find", "which",
];

/// `PATH` for every run, so that `which` searches the scratch tree (relative directories
/// resolve against it on both sides).
const SEARCH_PATH: &str = "bin:nothing:sbin";

const CASES: &[Case] = &[
    // test and [: POSIX's rules by count, the general grammar, integers, files.
    ("test", &[], ""),
    ("test", &["a"], ""),
    ("test", &[""], ""),
    ("test", &["-z", ""], ""),
    ("test", &["-n", ""], ""),
    ("test", &["!", "a"], ""),
    ("test", &["-n"], ""),
    ("test", &["!", "-z"], ""),
    ("test", &["a", "=", "a"], ""),
    ("test", &["a", "!=", "a"], ""),
    ("test", &["!", "=", "x"], ""),
    ("test", &["(", "a", ")"], ""),
    ("test", &["a", "-a", ""], ""),
    ("test", &["", "-o", "b"], ""),
    ("test", &["1", "-eq", "01"], ""),
    ("test", &[" 12 ", "-eq", "12"], ""),
    ("test", &["-5", "-lt", "3"], ""),
    ("test", &["99999999999999999999999", "-gt", "9999"], ""),
    ("test", &["-3", "-ge", "-3"], ""),
    ("test", &["1", "-eq", "a"], ""),
    ("test", &["1", "-eq", ""], ""),
    ("test", &["a", "b"], ""),
    ("test", &["a", "b", "c"], ""),
    ("test", &["x", "-o", "y", "z"], ""),
    ("test", &["a", "-a"], ""),
    ("test", &["-f", "a.txt"], ""),
    ("test", &["-f", "sub"], ""),
    ("test", &["-d", "sub"], ""),
    ("test", &["-e", "nope"], ""),
    ("test", &["-s", "a.txt"], ""),
    ("test", &["-s", "empty"], ""),
    ("test", &["-h", "link"], ""),
    ("test", &["-L", "a.txt"], ""),
    ("test", &["-f", "link"], ""),
    ("test", &["a.txt", "-nt", "old"], ""),
    ("test", &["a.txt", "-ot", "old"], ""),
    ("test", &["old", "-nt", "nope"], ""),
    ("test", &["a.txt", "-ef", "link"], ""),
    ("test", &["a.txt", "-ef", "empty"], ""),
    ("test", &["!", "-f", "nope", "-a", "-d", "sub"], ""),
    (
        "test",
        &["(", "a", "=", "b", ")", "-o", "(", "c", "=", "c", ")"],
        "",
    ),
    ("test", &["", "-o", "", "-a", "a"], ""),
    ("test", &["a", "-a", "b", "-o", ""], ""),
    (
        "test",
        &["2", "-gt", "1", "-a", "3", "-le", "3", "-a", "!", "-z", "x"],
        "",
    ),
    ("test", &["(", "a", "b"], ""),
    ("[", &["a", "=", "a", "]"], ""),
    ("[", &["a", "=", "b", "]"], ""),
    ("[", &["-d", "sub", "]"], ""),
    ("[", &["]"], ""),
    ("[", &["a", "=", "a"], ""),
    ("[", &["a", "]", "x"], ""),
    // expr: precedence, integers, strings, `:` matching, errors.
    ("expr", &["1", "+", "2"], ""),
    ("expr", &["5", "*", "3", "-", "2"], ""),
    ("expr", &["2", "+", "3", "*", "4"], ""),
    ("expr", &["7", "/", "2"], ""),
    ("expr", &["-7", "%", "3"], ""),
    ("expr", &["1", "/", "0"], ""),
    ("expr", &["a", "+", "1"], ""),
    ("expr", &["0"], ""),
    ("expr", &[""], ""),
    ("expr", &["-0"], ""),
    ("expr", &["10", ">", "9"], ""),
    ("expr", &["10", ">", "9a"], ""),
    ("expr", &["3", "=", "03"], ""),
    ("expr", &["a", "<", "b"], ""),
    ("expr", &["", "|", "b"], ""),
    ("expr", &["0", "|", ""], ""),
    ("expr", &["a", "&", "0"], ""),
    ("expr", &["a", "&", "b"], ""),
    ("expr", &["(", "1", "+", "2", ")", "*", "3"], ""),
    ("expr", &["(", "1", "+", "2"], ""),
    ("expr", &["1", "+"], ""),
    ("expr", &["1", "2"], ""),
    ("expr", &[], ""),
    ("expr", &["--", "5"], ""),
    ("expr", &["abc", ":", "a\\(.*\\)"], ""),
    ("expr", &["abc", ":", "ab"], ""),
    ("expr", &["abc", ":", "x"], ""),
    ("expr", &["abc", ":", "x\\(.\\)"], ""),
    ("expr", &["hello.txt", ":", ".*\\.txt$"], ""),
    ("expr", &["hello.txt", ":", "\\(.*\\)\\.txt$"], ""),
    ("expr", &["ab12", ":", "[a-z]*\\([0-9]*\\)"], ""),
    ("expr", &["abab", ":", "\\(ab\\)*"], ""),
    ("expr", &["abcabc", ":", "\\(abc\\)\\1"], ""),
    ("expr", &["aaaa", ":", "a\\{2,3\\}"], ""),
    ("expr", &["x*y", ":", "x\\*"], ""),
    ("expr", &["*a", ":", "*a"], ""),
    ("expr", &["a b", ":", "[[:alpha:]][[:space:]]"], ""),
    ("expr", &["a-b", ":", "[^a-]*"], ""),
    ("expr", &["length", "hello"], ""),
    ("expr", &["substr", "hello", "2", "3"], ""),
    ("expr", &["index", "hello", "lo"], ""),
    ("expr", &["match", "abc", "a."], ""),
    ("expr", &["+", "length"], ""),
    // basename and dirname.
    ("basename", &["/usr/bin/"], ""),
    ("basename", &["/"], ""),
    ("basename", &["//"], ""),
    ("basename", &["a/b.c", ".c"], ""),
    ("basename", &[".c", ".c"], ""),
    ("basename", &["-a", "a/b", "c/d/"], ""),
    ("basename", &["-s", ".c", "a/b.c", "c.c"], ""),
    ("basename", &["a", "b", "c"], ""),
    ("basename", &[], ""),
    ("dirname", &["/usr/bin/"], ""),
    ("dirname", &["usr"], ""),
    ("dirname", &["/"], ""),
    ("dirname", &["//x"], ""),
    ("dirname", &["a//b//"], ""),
    ("dirname", &["a/b", "/c", ""], ""),
    ("dirname", &[], ""),
    // tr.
    ("tr", &["a-z", "A-Z"], "hello world\n"),
    ("tr", &["-d", "lo"], "hello world\n"),
    ("tr", &["-s", "a-c "], "aaabbbccc   dd\n"),
    ("tr", &["-c", "[:alpha:]\n", "_"], "hello 123\n"),
    ("tr", &["-cd", "[:digit:]"], "a1b2c3\n"),
    (
        "tr",
        &["[:upper:][:lower:]", "[:lower:][:upper:]"],
        "Hello World\n",
    ),
    ("tr", &["abc", "x"], "aabbcc\n"),
    ("tr", &["-t", "abc", "x"], "aabbcc\n"),
    ("tr", &[":", "\\n"], "a:b:c"),
    ("tr", &["a-f", "[x*]"], "abcdefg\n"),
    ("tr", &["a-f", "xy[z*2]"], "abcdefg\n"),
    ("tr", &["-ds", "a", "b"], "aabbcc\n"),
    ("tr", &["\\141\\t", "Z_"], "a\tb\n"),
    ("tr", &["-s", "l"], "hello  helllo\n"),
    ("tr", &["-s", "a-z", "A-Z"], "aabbcc\n"),
    ("tr", &["[=.=]", "x"], "a.b\n"),
    ("tr", &[], "x"),
    ("tr", &["a"], "x"),
    ("tr", &["-d", "a", "b"], "x"),
    ("tr", &["z-a", "x"], "x"),
    ("tr", &["[:nope:]", "x"], "x"),
    // cut.
    ("cut", &["-f2"], "a\tb\tc\nd\te\nno tabs\n"),
    ("cut", &["-f1,3", "-s"], "a\tb\tc\nd\te\nno tabs\n"),
    ("cut", &["-d:", "-f2-"], "1:2:3\n4:5:6\n"),
    ("cut", &["-d", ":", "-f", "-2"], "1:2:3\n"),
    ("cut", &["-d:", "--complement", "-f2"], "1:2:3\n"),
    ("cut", &["-b2-4"], "abcdef\n"),
    ("cut", &["-c-2,5"], "abcdef\nxy\n"),
    ("cut", &["-b", "3-,1"], "abcdef"),
    ("cut", &["-f1", "data.tsv", "-", "nope"], "x\ty\n"),
    ("cut", &[], "x"),
    ("cut", &["-b0"], "x"),
    ("cut", &["-b3-1"], "x"),
    ("cut", &["-d:", "-b1"], "x"),
    ("cut", &["-d", "ab", "-f1"], "x"),
    ("cut", &["-b1", "-f1"], "x"),
    // tee: stdout here; the files are checked by tee_writes_and_appends.
    ("tee", &[], "one\ntwo\n"),
    ("tee", &["sub"], "into a directory\n"),
    // printf.
    ("printf", &["a%sb\\n", "x", "y"], ""),
    (
        "printf",
        &["%d|%5d|%-5d|%05d|%+d|% d\\n", "1", "2", "3", "4", "5", "6"],
        "",
    ),
    (
        "printf",
        &[
            "%x %X %o %#x %#o %u\\n",
            "255",
            "255",
            "8",
            "255",
            "8",
            "-1",
        ],
        "",
    ),
    ("printf", &["%c%c\\n", "hello", "w"], ""),
    ("printf", &["%5.2s|%-4s|%.0s|\\n", "abc", "x", "gone"], ""),
    ("printf", &["%b|\\n", "a\\tb\\0101"], ""),
    ("printf", &["%b", "stop\\cnot", "never"], ""),
    ("printf", &["x\\101\\x41\\e\\n"], ""),
    (
        "printf",
        &["%d\\n", "abc", "12x", "0x1f", "010", "'A", "-0"],
        "",
    ),
    (
        "printf",
        &["%*d|%-*d|%.*d\\n", "4", "1", "3", "2", "3", "7"],
        "",
    ),
    ("printf", &["%s\\n"], ""),
    ("printf", &["%d %s\\n", "1", "a", "2"], ""),
    ("printf", &["%.0d|%#X|%#o\\n", "0", "0", "0"], ""),
    ("printf", &["%%|%5%"], ""),
    ("printf", &["%z"], ""),
    ("printf", &["%"], ""),
    ("printf", &["no newline"], ""),
    ("printf", &["--", "%s\\n", "dashes"], ""),
    ("printf", &[], ""),
    // date, at fixed moments in UTC.
    ("date", &["-u", "-d", "@1000000000"], ""),
    (
        "date",
        &[
            "-u",
            "-d",
            "@0",
            "+%a %A %b %B %h %c|%C %d %D %e %F %H %I %j %k %l %m %M",
        ],
        "",
    ),
    (
        "date",
        &[
            "-u",
            "-d",
            "@-1",
            "+%p %P %r %R %s %S %T %u %w %x %X %y %Y %z %Z %%",
        ],
        "",
    ),
    (
        "date",
        &[
            "-u",
            "-d",
            "@1609459199",
            "+%G-%V %g %j %-d %_m %0e %-j%n%t|",
        ],
        "",
    ),
    ("date", &["-u", "-d", "@1230768000", "+%G-%V %u %j"], ""),
    ("date", &["-u", "-d", "@1293753600", "+%G-%V %u %j"], ""),
    ("date", &["-u", "-d", "@951782400", "+%F %j %a"], ""),
    ("date", &["-u", "-d", "@4102444800", "+%F %a %V"], ""),
    ("date", &["-u", "-d", "@-2208988800", "+%F %a %C"], ""),
    ("date", &["-u", "-d", "@12.5", "+%s %N"], ""),
    ("date", &["-u", "-d", "garbage"], ""),
    // find (lines compared sorted).
    ("find", &[], ""),
    ("find", &["sub", "a.txt"], ""),
    ("find", &[".", "-name", "*.txt"], ""),
    ("find", &[".", "-iname", "*.TXT"], ""),
    ("find", &[".", "-type", "d"], ""),
    ("find", &[".", "-type", "l"], ""),
    ("find", &[".", "-type", "f,l", "-name", "[ael]*"], ""),
    ("find", &[".", "!", "-type", "d"], ""),
    ("find", &[".", "-maxdepth", "1"], ""),
    ("find", &["sub/", "-maxdepth", "1"], ""),
    ("find", &[".", "-mindepth", "2", "-type", "f"], ""),
    ("find", &[".", "-name", "a.txt", "-o", "-name", "d.rs"], ""),
    (
        "find",
        &[".", "(", "-name", "*.rs", "-o", "-type", "l", ")", "-print"],
        "",
    ),
    ("find", &[".", "-not", "-name", "*.txt", "-type", "f"], ""),
    ("find", &[".", "-name", ".*"], ""),
    ("find", &[".", "-name", "a\\.txt"], ""),
    ("find", &["nope"], ""),
    ("find", &[".", "-bogus"], ""),
    ("find", &[".", "-name"], ""),
    ("find", &[".", "-type", "x"], ""),
    // which, over PATH=bin:nothing:sbin.
    ("which", &["tool"], ""),
    ("which", &["-a", "tool", "only"], ""),
    ("which", &["tool", "missing"], ""),
    ("which", &["bin/tool"], ""),
    ("which", &["missing"], ""),
];

/// A scratch tree with files for the cases: see the `fs::write` calls.
fn tree(scratch: &Scratch) -> PathBuf {
    let tree = scratch.path("tree");
    for dir in ["sub/deep", ".hid", "bin", "sbin"] {
        fs::create_dir_all(tree.join(dir)).unwrap();
    }
    let files: &[(&str, &str)] = &[
        ("a.txt", "alpha\nbeta\n"),
        ("old", "old\n"),
        ("empty", ""),
        ("data.tsv", "1\t2\n3\t4\n"),
        ("sub/c.txt", "c\n"),
        ("sub/deep/d.rs", "fn main() {}\n"),
        (".hid/x", "x\n"),
        ("bin/tool", "tool\n"),
        ("sbin/tool", "other tool\n"),
        ("sbin/only", "only\n"),
    ];
    for (path, contents) in files {
        fs::write(tree.join(path), contents).unwrap();
    }
    // `which` finds executables; GNU's looks at the mode bits, Cella's at files.
    for path in ["bin/tool", "sbin/tool", "sbin/only"] {
        fs::set_permissions(tree.join(path), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let old = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let file = fs::File::options()
        .write(true)
        .open(tree.join("old"))
        .unwrap();
    file.set_modified(old).unwrap();
    symlink("a.txt", tree.join("link")).unwrap();
    tree
}

/// Builds the tools for wasm32-wasip1 and compiles each with wasmtime into `dir`.
fn compile_tools(dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root().join("userland"))
        .args(["build", "--release", "--quiet"]);
    for tool in TOOLS {
        build.args(["--bin", tool]);
    }
    assert!(
        build.status().unwrap().success(),
        "building the tools failed"
    );
    let built = root().join("userland/target/wasm32-wasip1/release");
    for tool in TOOLS {
        let status = Command::new(host_program("wasmtime"))
            .arg("compile")
            .arg(built.join(format!("{tool}.wasm")))
            .arg("-o")
            .arg(dir.join(format!("{tool}.cwasm")))
            .status()
            .unwrap();
        assert!(status.success(), "wasmtime compile {tool} failed");
    }
}

/// The host's program `name` on the test's PATH (the runs get another PATH): for GNU's
/// tools the binary, never a shell builtin.
fn host_program(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not on the PATH (wasmtime: install it with boot/setup.sh --with-wasmtime)")
        })
}

/// Runs GNU's `tool` with the environment the cases give both sides.
fn gnu(tool: &str) -> Command {
    let mut command = Command::new(host_program(tool));
    command
        .env_clear()
        .env("LC_ALL", "C")
        .env("PATH", SEARCH_PATH);
    command
}

/// Runs wasmtime (whose launcher may need the test's own environment) on a compiled
/// program, started as `argv0`, with that environment inside.
fn wasmtime(compiled: &Path, program: &str, argv0: &str) -> Command {
    let mut command = Command::new(host_program("wasmtime"));
    command
        .args(["run", "--allow-precompiled", "--dir", "."])
        .args(["--env", "LC_ALL=C", "--env", &format!("PATH={SEARCH_PATH}")])
        .args(["--argv0", argv0])
        .arg(compiled.join(format!("{program}.cwasm")));
    command
}

fn run(mut command: Command, cwd: &Path, stdin: &str) -> Output {
    command
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    // A tool that does not read its stdin may be gone already (EPIPE); the inputs fit in a
    // pipe's buffer, so the write never waits for a reader.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// What differs between Cella's and GNU's run of `case`, if anything.
fn compare(case: &Case, compiled: &Path, cwd: &Path) -> Option<String> {
    let &(tool, args, stdin) = case;
    let program = if tool == "[" { "test" } else { tool };
    let mut cella = wasmtime(compiled, program, tool);
    cella.args(args);
    let mut theirs = gnu(tool);
    theirs.args(args);
    let (ours, theirs) = (run(cella, cwd, stdin), run(theirs, cwd, stdin));
    let stdout = |output: &Output| {
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if tool == "find" {
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort();
            lines.join("\n")
        } else {
            text
        }
    };
    let ours_err = String::from_utf8_lossy(&ours.stderr).into_owned();
    let theirs_err = String::from_utf8_lossy(&theirs.stderr).into_owned();
    let same = stdout(&ours) == stdout(&theirs)
        && ours.status.code() == theirs.status.code()
        && ours_err.is_empty() == theirs_err.is_empty()
        && (ours_err.is_empty() || ours_err.starts_with(&format!("{tool}: ")));
    (!same).then(|| {
        format!(
            "{tool} {args:?} <<< {stdin:?}\n  Cella: {:?} {:?} {ours_err:?}\n  GNU:   {:?} {:?} {theirs_err:?}",
            ours.status.code(),
            stdout(&ours),
            theirs.status.code(),
            stdout(&theirs),
        )
    })
}

#[test]
fn coreutils_agree_with_gnu() {
    let scratch = Scratch::new("gnu");
    let compiled = scratch.path("compiled");
    fs::create_dir_all(&compiled).unwrap();
    compile_tools(&compiled);
    let cwd = tree(&scratch);
    let next = Mutex::new(CASES.iter());
    let differences = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let Some(case) = next.lock().unwrap().next() else {
                        break;
                    };
                    if let Some(difference) = compare(case, &compiled, &cwd) {
                        differences.lock().unwrap().push(difference);
                    }
                }
            });
        }
    });
    tee_writes_and_appends(&compiled, &cwd);
    let differences = differences.into_inner().unwrap();
    assert!(
        differences.is_empty(),
        "{} of {} cases differ from GNU:\n{}",
        differences.len(),
        CASES.len(),
        differences.join("\n")
    );
}

/// `tee` writes its files, truncated or appended to (`-a`), and goes on past one it cannot
/// open.
fn tee_writes_and_appends(compiled: &Path, cwd: &Path) {
    let tee = |args: &[&str], stdin: &str| {
        let mut command = wasmtime(compiled, "tee", "tee");
        command.args(args);
        run(command, cwd, stdin)
    };
    let first = tee(&["one", "two"], "x\ny\n");
    assert_eq!(
        (first.status.code(), &first.stdout[..]),
        (Some(0), &b"x\ny\n"[..])
    );
    let second = tee(&["-a", "one", "sub", "two"], "z\n");
    assert_eq!(second.status.code(), Some(1), "a directory is not writable");
    assert!(
        String::from_utf8_lossy(&second.stderr).starts_with("tee: sub: "),
        "{second:?}"
    );
    assert_eq!(fs::read_to_string(cwd.join("one")).unwrap(), "x\ny\nz\n");
    let third = tee(&["two"], "w\n");
    assert_eq!(third.status.code(), Some(0));
    assert_eq!(
        fs::read_to_string(cwd.join("two")).unwrap(),
        "w\n",
        "truncated"
    );
}
