//! Integration tests of the coreutils in `userland/src/bin/`: each runs in Cella over a
//! `--dir` scratch tree, and the tests check its exact stdout, stderr and exit status, and
//! the host tree after the write-back. Every run boots QEMU, so one run checks several
//! operands where that is natural.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Run, Scratch, cella_with, program};

/// 2001-09-09 01:46:40 UTC: an old, fixed modification time for `ls -l` and `touch`.
const OLD_SECS: u64 = 1_000_000_000;
const A_TXT: &str = "alpha\nbeta\ngamma\nAlpha beta\n";

/// A scratch directory whose `tree` holds `a.txt`, `b.txt` (no final newline), `.hidden`,
/// `link -> a.txt` and `sub/` with `c.txt`, `.dot` and `up -> ../a.txt`.
fn sample(name: &str) -> Scratch {
    let scratch = Scratch::new(&format!("coreutils-{name}"));
    let tree = scratch.path("tree");
    fs::create_dir_all(tree.join("sub")).unwrap();
    fs::write(tree.join("a.txt"), A_TXT).unwrap();
    fs::write(tree.join("b.txt"), "x\ny").unwrap();
    fs::write(tree.join(".hidden"), "h\n").unwrap();
    fs::write(tree.join("sub/c.txt"), "deep\n").unwrap();
    fs::write(tree.join("sub/.dot"), "").unwrap();
    symlink("a.txt", tree.join("link")).unwrap();
    symlink("../a.txt", tree.join("sub/up")).unwrap();
    scratch
}

/// Runs `userland/TOOL.wasm ARGS` with `stdin`; `dirs` are `--dir` arguments.
fn run_with(dirs: &[String], tool: &str, args: &[&str], stdin: &[u8]) -> Run {
    let program = program(tool);
    let mut argv: Vec<&str> = Vec::new();
    for dir in dirs {
        argv.extend(["--dir", dir]);
    }
    argv.push(&program);
    argv.extend_from_slice(args);
    cella_with(&argv, stdin, &[])
}

/// Runs TOOL with the scratch `tree` preopened as `/d`.
fn run_in(scratch: &Scratch, tool: &str, args: &[&str], stdin: &[u8]) -> Run {
    run_with(&[scratch.arg("tree", "/d")], tool, args, stdin)
}

/// Runs TOOL without a preopened directory.
fn bare(tool: &str, args: &[&str], stdin: &[u8]) -> Run {
    run_with(&[], tool, args, stdin)
}

/// Asserts the exit status, stdout and stderr of a run, exactly.
#[track_caller]
fn expect(run: &Run, status: i32, stdout: &str, stderr: &str) {
    assert_eq!(
        (run.status, run.stdout().as_str(), run.stderr.as_str()),
        (status, stdout, stderr),
        "{run:?}"
    );
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn set_mtime(path: &Path, secs: u64) {
    let time = UNIX_EPOCH + Duration::from_secs(secs);
    fs::File::open(path)
        .unwrap()
        .set_times(fs::FileTimes::new().set_accessed(time).set_modified(time))
        .unwrap();
}

/// Whether `date` has the shape of ls's recent-date column, `Nov 25 08:40`.
fn is_recent_date(date: &str) -> bool {
    let b = date.as_bytes();
    const MONTHS: &str = "JanFebMarAprMayJunJulAugSepOctNovDec";
    b.len() == 12
        && MONTHS.as_bytes().chunks(3).any(|m| m == &b[..3])
        && b[3] == b' '
        && (b[4] == b' ' || b[4].is_ascii_digit())
        && b[5].is_ascii_digit()
        && b[6] == b' '
        && b[7..9].iter().chain(&b[10..12]).all(u8::is_ascii_digit)
        && b[9] == b':'
}

#[test]
fn ls_lists_operands_directories_and_long_format() {
    let scratch = sample("ls");
    let run = run_in(
        &scratch,
        "ls",
        &["-1a", "/d/sub", "/d/a.txt", "/d/nope"],
        b"",
    );
    expect(
        &run,
        2,
        "/d/a.txt\n\n/d/sub:\n.\n..\n.dot\nc.txt\nup\n",
        "ls: cannot access '/d/nope': No such file or directory\n",
    );

    let long = Scratch::new("coreutils-ls-long");
    let tree = long.path("tree");
    fs::create_dir_all(tree.join("sub")).unwrap();
    fs::write(tree.join("a.txt"), A_TXT).unwrap();
    fs::hard_link(tree.join("a.txt"), tree.join("twin")).unwrap();
    fs::write(tree.join(".hidden"), "").unwrap();
    fs::write(tree.join("sub/c.txt"), "").unwrap();
    symlink("a.txt", tree.join("link")).unwrap();
    for path in ["a.txt", "sub", ""] {
        set_mtime(&tree.join(path), OLD_SECS);
    }
    // The operand symlink is shown itself, not followed; the link's date is recent (now).
    let run = run_in(&long, "ls", &["-l", "/d/link", "/d"], b"");
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    let (head, date, tail) = (&lines[0][..15], &lines[0][15..27], &lines[0][27..]);
    assert_eq!(
        (head, tail),
        ("lrwxrwxrwx 1 5 ", " /d/link -> a.txt"),
        "{out}"
    );
    assert!(is_recent_date(date), "{out}");
    assert_eq!(
        lines[1..4],
        ["", "/d:", "-rw-r--r-- 2 28 Sep  9  2001 a.txt"],
        "{out}"
    );
    let (head, date, tail) = (&lines[4][..16], &lines[4][16..28], &lines[4][28..]);
    assert_eq!(
        (head, tail),
        ("lrwxrwxrwx 1  5 ", " link -> a.txt"),
        "{out}"
    );
    assert!(is_recent_date(date), "{out}");
    // A directory's size is its number of entries in Cella's VFS.
    assert_eq!(
        lines[5..],
        [
            "drwxr-xr-x 2  1 Sep  9  2001 sub",
            "-rw-r--r-- 2 28 Sep  9  2001 twin"
        ],
        "{out}"
    );

    let run = run_in(&scratch, "ls", &["-z", "/d"], b"");
    expect(
        &run,
        2,
        "",
        "ls: invalid option -- 'z' (usage: ls [-1al] [FILE]...)\n",
    );
}

#[test]
fn relative_paths_resolve_against_pwd() {
    let scratch = sample("pwd");
    let dir = scratch.arg("tree", "/d");
    let in_sub = |tool: &str, args: &[&str]| {
        let program = program(tool);
        let mut argv = vec!["--dir", &dir, "--env", "PWD=/d/sub", &program];
        argv.extend_from_slice(args);
        cella_with(&argv, b"", &[])
    };
    let run = in_sub("ls", &[".", "../b.txt"]);
    expect(&run, 0, "../b.txt\n\n.:\nc.txt\nup\n", "");
    // `up` is `../a.txt`, resolved from `sub`.
    let run = in_sub("cat", &["c.txt", "up", "nope"]);
    expect(
        &run,
        1,
        &format!("deep\n{A_TXT}"),
        "cat: nope: No such file or directory\n",
    );
}

#[test]
fn arguments_that_are_not_utf8_do_not_trap() {
    let odd = OsStr::from_bytes(b"a\xffb");
    let run = cella_with(&[OsStr::new(&program("echo")), odd], b"", &[]);
    assert_eq!(
        (run.status, run.stdout.as_slice()),
        (0, &b"a\xffb\n"[..]),
        "{run:?}"
    );
    let run = cella_with(&[OsStr::new(&program("cat")), odd], b"", &[]);
    expect(&run, 1, "", "cat: a\u{fffd}b: No such file or directory\n");
}

#[test]
fn cat_numbers_lines_and_copies_binary_files_and_stdin() {
    let scratch = sample("cat");
    let run = run_in(
        &scratch,
        "cat",
        &["-n", "/d/a.txt", "-", "/d/b.txt"],
        b"in\n",
    );
    expect(
        &run,
        0,
        "     1\talpha\n     2\tbeta\n     3\tgamma\n     4\tAlpha beta\n     5\tin\n     6\tx\n     7\ty",
        "",
    );

    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    fs::write(scratch.path("tree/bin"), &binary).unwrap();
    let stdin: Vec<u8> = b"\r\n\0\xff".iter().copied().cycle().take(5_000).collect();
    let run = run_in(
        &scratch,
        "cat",
        &["/d/bin", "-", "/d/nope", "/d/sub", "/d/bin"],
        &stdin,
    );
    assert_eq!(
        run.stdout,
        [binary.as_slice(), &stdin, &binary].concat(),
        "cat changed the bytes"
    );
    assert_eq!(
        (run.status, run.stderr.as_str()),
        (
            1,
            "cat: /d/nope: No such file or directory\ncat: /d/sub: Is a directory\n"
        )
    );

    let run = bare("cat", &["-x"], b"");
    expect(
        &run,
        1,
        "",
        "cat: invalid option -- 'x' (usage: cat [-n] [FILE]...)\n",
    );
}

#[test]
fn echo_joins_arguments_with_escapes_and_without_newline() {
    let run = bare(
        "echo",
        &["-en", r"t\there\n\x41\0102\\", r"end\cgone", "never"],
        b"",
    );
    expect(&run, 0, "t\there\nAB\\ end", "");
    // Not an option: printed as it is, and so is what follows; no escapes without -e.
    let run = bare("echo", &["-x", r"a\tb", "-n"], b"");
    expect(&run, 0, "-x a\\tb -n\n", "");
}

#[test]
fn wc_counts_with_gnu_columns_and_a_total() {
    let scratch = sample("wc");
    let run = run_in(&scratch, "wc", &["/d/a.txt", "/d/b.txt"], b"");
    expect(
        &run,
        0,
        " 4  5 28 /d/a.txt\n 1  2  3 /d/b.txt\n 5  7 31 total\n",
        "",
    );
    let run = run_in(
        &scratch,
        "wc",
        &["-l", "-c", "-", "/d/nope", "/d/sub"],
        b"one two\nthree\n",
    );
    expect(
        &run,
        1,
        "      2      14 -\n      0       0 /d/sub\n      2      14 total\n",
        "wc: /d/nope: No such file or directory\nwc: /d/sub: Is a directory\n",
    );
    let run = run_in(&scratch, "wc", &["-w", "/d/a.txt"], b"");
    expect(&run, 0, "5 /d/a.txt\n", "");
}

#[test]
fn head_and_tail_take_lines_and_bytes_from_files_and_stdin() {
    let scratch = sample("headtail");
    let twelve: String = (1..=12).map(|i| format!("{i}\n")).collect();
    let run = run_in(
        &scratch,
        "head",
        &["-n", "2", "/d/a.txt", "-", "/d/nope"],
        b"s1\ns2\ns3\n",
    );
    expect(
        &run,
        1,
        "==> /d/a.txt <==\nalpha\nbeta\n\n==> standard input <==\ns1\ns2\n",
        "head: cannot open '/d/nope' for reading: No such file or directory\n",
    );
    let run = bare("head", &[], twelve.as_bytes());
    expect(&run, 0, &twelve[..twelve.find("11").unwrap()], "");
    let run = run_in(&scratch, "head", &["-c", "3", "/d/a.txt"], b"");
    expect(&run, 0, "alp", "");

    let run = run_in(&scratch, "tail", &["-n", "2", "/d/a.txt", "/d/b.txt"], b"");
    expect(
        &run,
        0,
        "==> /d/a.txt <==\ngamma\nAlpha beta\n\n==> /d/b.txt <==\nx\ny",
        "",
    );
    let run = bare("tail", &[], twelve.as_bytes());
    expect(&run, 0, &twelve[twelve.find("3\n").unwrap()..], "");
    // The obsolete `-N` form, first only.
    let run = bare("head", &["-2"], twelve.as_bytes());
    expect(&run, 0, "1\n2\n", "");
    let run = bare("tail", &["-2"], twelve.as_bytes());
    expect(&run, 0, "11\n12\n", "");
    let run = run_in(&scratch, "tail", &["-n", "+3", "/d/a.txt", "/d/nope"], b"");
    expect(
        &run,
        1,
        "==> /d/a.txt <==\ngamma\nAlpha beta\n",
        "tail: cannot open '/d/nope' for reading: No such file or directory\n",
    );
}

#[test]
fn grep_matches_regexes_and_fixed_strings_with_its_options() {
    let scratch = sample("grep");
    let run = run_in(&scratch, "grep", &["-n", "^[a-c][^ ]*a$", "/d/a.txt"], b"");
    expect(&run, 0, "1:alpha\n2:beta\n", "");
    let run = run_in(
        &scratch,
        "grep",
        &["-ic", "alpha", "/d/a.txt", "/d/b.txt", "/d/nope"],
        b"",
    );
    expect(
        &run,
        2,
        "/d/a.txt:2\n/d/b.txt:0\n",
        "grep: /d/nope: No such file or directory\n",
    );
    let run = bare(
        "grep",
        &["-v", "-F", "-e", "a.", "-e", "c", "-"],
        b"a.b\naxb\nc\n",
    );
    expect(&run, 0, "axb\n", "");
    // Recursive, in name order, not following symlinks (`link`, `sub/up`).
    let run = run_in(&scratch, "grep", &["-rn", "e", "/d"], b"");
    expect(
        &run,
        0,
        "/d/a.txt:2:beta\n/d/a.txt:4:Alpha beta\n/d/sub/c.txt:1:deep\n",
        "",
    );
    let run = run_in(&scratch, "grep", &["z.*", "/d/a.txt"], b"");
    expect(&run, 1, "", "");
    let run = bare("grep", &["-z", "x"], b"");
    expect(
        &run,
        2,
        "",
        "grep: invalid option -- 'z' (usage: grep [-cFilnqrv] [-e PATTERN]... [PATTERN] [FILE]...)\n",
    );
}

#[test]
fn sort_orders_bytes_and_numbers_reversed_and_unique() {
    let scratch = sample("sort");
    let run = bare("sort", &["-u"], b"banana\napple\nCherry\napple\n10\n9\n");
    expect(&run, 0, "10\n9\nCherry\napple\nbanana\n", "");
    fs::write(scratch.path("tree/n1"), "10\n-2\n3.5\nx\n").unwrap();
    fs::write(scratch.path("tree/n2"), "3.25\n0\n-10").unwrap();
    // `x` counts as 0 and the whole line breaks the tie with `0`.
    let run = run_in(&scratch, "sort", &["-n", "/d/n1", "/d/n2"], b"");
    expect(&run, 0, "-10\n-2\n0\nx\n3.25\n3.5\n10\n", "");
    let run = bare("sort", &["-rnu"], b"1\n3\n2\n3\n01\n");
    expect(&run, 0, "3\n2\n1\n", "");
    let run = run_in(&scratch, "sort", &["/d/b.txt", "/d/nope"], b"");
    expect(
        &run,
        2,
        "",
        "sort: cannot read: /d/nope: No such file or directory\n",
    );
}

#[test]
fn uniq_counts_and_keeps_repeated_lines() {
    let run = bare("uniq", &["-c"], b"a\na\nb\na\na\na\n");
    expect(&run, 0, "      2 a\n      1 b\n      3 a\n", "");
    let scratch = sample("uniq");
    fs::write(scratch.path("tree/in"), "x\nx\ny\nz\nz\n").unwrap();
    let run = run_in(&scratch, "uniq", &["-d", "/d/in", "/d/out"], b"");
    expect(&run, 0, "", "");
    assert_eq!(read(&scratch.path("tree/out")), "x\nz\n");
}

#[test]
fn seq_counts_in_all_three_forms() {
    expect(&bare("seq", &["3"], b""), 0, "1\n2\n3\n", "");
    expect(&bare("seq", &["-1", "1"], b""), 0, "-1\n0\n1\n", "");
    expect(
        &bare("seq", &["3", "-0.5", "1"], b""),
        0,
        "3.0\n2.5\n2.0\n1.5\n1.0\n",
        "",
    );
    let run = bare("seq", &["1", "0", "3"], b"");
    expect(
        &run,
        1,
        "",
        "seq: invalid Zero increment value: '0' (usage: seq [-s SEP] [FIRST [INCREMENT]] LAST)\n",
    );
}

#[test]
fn sleep_adds_its_intervals_and_refuses_bad_ones() {
    // 1.5 + 0.25 + 0.75 = 2.5 s. Only the lower bound is checked: boot times vary by
    // seconds when tests run in parallel, so a comparison with a run of `true` is flaky.
    let run = bare("sleep", &["1.5", ".25s", "0.0125m"], b"");
    expect(&run, 0, "", "");
    assert!(
        run.elapsed >= Duration::from_millis(2500),
        "sleep took {:?}",
        run.elapsed
    );
    let usage = "(usage: sleep NUMBER[SUFFIX]...)";
    expect(
        &bare("sleep", &[], b""),
        1,
        "",
        &format!("sleep: missing operand {usage}\n"),
    );
    expect(
        &bare("sleep", &["1", "2y"], b""),
        1,
        "",
        &format!("sleep: invalid time interval '2y' {usage}\n"),
    );
    expect(
        &bare("sleep", &["-1"], b""),
        1,
        "",
        &format!("sleep: invalid option -- '1' {usage}\n"),
    );
}

#[test]
fn mkdir_creates_directories_and_parents() {
    let scratch = sample("mkdir");
    let run = run_in(&scratch, "mkdir", &["/d/new", "/d/a.txt", "/d/x/y"], b"");
    expect(
        &run,
        1,
        "",
        "mkdir: cannot create directory '/d/a.txt': File exists\n\
         mkdir: cannot create directory '/d/x/y': No such file or directory\n",
    );
    assert!(scratch.path("tree/new").is_dir() && !scratch.path("tree/x").exists());
    let run = run_in(&scratch, "mkdir", &["-p", "/d/x/y", "/d/sub"], b"");
    expect(&run, 0, "", "");
    assert!(scratch.path("tree/x/y").is_dir());
}

#[test]
fn rm_removes_files_and_with_r_trees_but_not_link_targets() {
    let scratch = sample("rm");
    let tree = scratch.path("tree");
    let run = run_in(&scratch, "rm", &["/d/a.txt", "/d/sub", "/d/nope"], b"");
    expect(
        &run,
        1,
        "",
        "rm: cannot remove '/d/sub': Is a directory\nrm: cannot remove '/d/nope': No such file or directory\n",
    );
    assert!(!tree.join("a.txt").exists() && tree.join("sub/c.txt").exists());
    let run = run_in(
        &scratch,
        "rm",
        &["-rf", "/d/sub", "/d/link", "/d/nope"],
        b"",
    );
    expect(&run, 0, "", "");
    assert!(!tree.join("sub").exists() && fs::symlink_metadata(tree.join("link")).is_err());
    assert_eq!(read(&tree.join("b.txt")), "x\ny");
}

#[test]
fn mv_renames_and_moves_into_a_directory_of_another_preopen() {
    let scratch = sample("mv");
    let tree = scratch.path("tree");
    let run = run_in(&scratch, "mv", &["/d/a.txt", "/d/z.txt"], b"");
    expect(&run, 0, "", "");
    assert!(!tree.join("a.txt").exists());
    assert_eq!(read(&tree.join("z.txt")), A_TXT);

    fs::create_dir(scratch.path("other")).unwrap();
    let dirs = [scratch.arg("tree", "/d"), scratch.arg("other", "/o")];
    let run = run_with(&dirs, "mv", &["/d/b.txt", "/d/nope", "/d/sub", "/o"], b"");
    expect(
        &run,
        1,
        "",
        "mv: cannot stat '/d/nope': No such file or directory\n",
    );
    assert!(!tree.join("b.txt").exists() && !tree.join("sub").exists());
    assert_eq!(read(&scratch.path("other/b.txt")), "x\ny");
    assert_eq!(read(&scratch.path("other/sub/c.txt")), "deep\n");
}

#[test]
fn cp_copies_files_and_with_r_trees_keeping_symlinks() {
    let scratch = sample("cp");
    let tree = scratch.path("tree");
    fs::create_dir(tree.join("dest")).unwrap();
    let run = run_in(&scratch, "cp", &["/d/a.txt", "/d/copy.txt"], b"");
    expect(&run, 0, "", "");
    assert_eq!(read(&tree.join("copy.txt")), A_TXT);
    assert_ne!(
        fs::metadata(tree.join("copy.txt")).unwrap().ino(),
        fs::metadata(tree.join("a.txt")).unwrap().ino()
    );

    let run = run_in(
        &scratch,
        "cp",
        &["/d/b.txt", "/d/sub", "/d/nope", "/d/dest"],
        b"",
    );
    expect(
        &run,
        1,
        "",
        "cp: -r not specified; omitting directory '/d/sub'\ncp: cannot stat '/d/nope': No such file or directory\n",
    );
    assert_eq!(read(&tree.join("dest/b.txt")), "x\ny");
    assert!(!tree.join("dest/sub").exists());

    let run = run_in(&scratch, "cp", &["-r", "/d/sub", "/d/s2"], b"");
    expect(&run, 0, "", "");
    assert_eq!(read(&tree.join("s2/c.txt")), "deep\n");
    assert_eq!(
        fs::read_link(tree.join("s2/up")).unwrap(),
        Path::new("../a.txt")
    );
    assert_eq!(read(&tree.join("sub/c.txt")), "deep\n");
}

#[test]
fn touch_creates_files_and_updates_times() {
    let scratch = sample("touch");
    let tree = scratch.path("tree");
    set_mtime(&tree.join("a.txt"), OLD_SECS);
    let run = run_in(&scratch, "touch", &["/d/a.txt", "/d/new", "/d/x/y"], b"");
    expect(
        &run,
        1,
        "",
        "touch: cannot touch '/d/x/y': No such file or directory\n",
    );
    assert_eq!(read(&tree.join("new")), "");
    assert_eq!(read(&tree.join("a.txt")), A_TXT);
    let mtime = fs::metadata(tree.join("a.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let off = SystemTime::now()
        .duration_since(mtime)
        .unwrap_or_else(|e| e.duration());
    assert!(
        off < Duration::from_secs(3600),
        "a.txt's mtime is {off:?} from now"
    );
}

#[test]
fn ln_makes_symbolic_and_hard_links() {
    let scratch = sample("ln");
    let tree = scratch.path("tree");
    let run = run_in(&scratch, "ln", &["-s", "a.txt", "/d/soft"], b"");
    expect(&run, 0, "", "");
    assert_eq!(
        fs::read_link(tree.join("soft")).unwrap(),
        Path::new("a.txt")
    );
    assert_eq!(read(&tree.join("soft")), A_TXT);

    let run = run_in(&scratch, "ln", &["/d/a.txt", "/d/nope", "/d/sub"], b"");
    expect(
        &run,
        1,
        "",
        "ln: failed to access '/d/nope': No such file or directory\n",
    );
    let (a, twin) = (
        fs::metadata(tree.join("a.txt")).unwrap(),
        fs::metadata(tree.join("sub/a.txt")).unwrap(),
    );
    assert_eq!((a.ino(), a.nlink()), (twin.ino(), 2));

    let run = run_in(&scratch, "ln", &["-s", "x", "/d/b.txt"], b"");
    expect(
        &run,
        1,
        "",
        "ln: failed to create symbolic link '/d/b.txt': File exists\n",
    );
    assert_eq!(read(&tree.join("b.txt")), "x\ny");
}

#[test]
fn env_prints_and_extends_the_environment() {
    let run = cella_with(
        &[
            "--env",
            "A=1",
            "--env",
            "B=2",
            &program("env"),
            "-u",
            "A",
            "B=3",
            "C=4",
        ],
        b"",
        &[],
    );
    expect(&run, 0, "B=3\nC=4\n", "");
    // No /bin without the shell: a command is not found (running one: tests/shell.rs).
    let run = bare("env", &["X=1", "ls", "-l"], b"");
    expect(&run, 127, "", "env: 'ls': No such file or directory\n");
    let run = bare("env", &["-z"], b"");
    expect(
        &run,
        125,
        "",
        "env: invalid option -- 'z' (usage: env [-i] [-u NAME]... [NAME=VALUE]... [COMMAND [ARG]...])\n",
    );
}

#[test]
fn true_and_false_ignore_their_arguments() {
    expect(&bare("true", &["--help", "x"], b""), 0, "", "");
    expect(&bare("false", &["--help"], b""), 1, "", "");
}
