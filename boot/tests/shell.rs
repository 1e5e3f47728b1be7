//! The shell and the coreutils as a user meets them: `./qemu.sh` with no program boots init
//! and `sh`, and these tests feed it scripted sessions on stdin (`printf '...' | ./qemu.sh`)
//! and check the whole stdout, stderr and exit status.

mod common;

use std::time::Duration;

use common::terminal::Terminal;
use common::{Run, Scratch, cella_with};

/// Runs `script` through the shell of a freshly booted Cella.
fn session(script: &str) -> Run {
    let no_args: &[&str] = &[];
    cella_with(no_args, script.as_bytes(), &[])
}

#[test]
fn shell_syntax() {
    let run = session(concat!(
        "echo 'single $X' \"double\" back\\ slash\n",
        "X=world; echo \"hello $X\" '$X' ${X}s\n",
        "export Y=exported; env | grep '^Y='\n",
        "false; echo \"status $?\"\n",
        "true && echo and-ok; false && echo never; false || echo or-ok\n",
        "echo one; echo two\n",
        "echo piped | cat | wc -c\n",
        "seq 5 > /tmp/out; echo more >> /tmp/out; wc -l < /tmp/out\n",
        "ls /nonexistent 2> /tmp/err; echo \"ls $?\"; cat /tmp/err\n",
        "cd /tmp; pwd; cat out | head -1; cd /; pwd\n",
        "nosuchcmd; echo \"after $?\"\n",
        "echo gone > /dev/null; cat /dev/null | wc -c; ls /nope 2>/dev/null; echo \"quiet $?\"\n",
        "spin bg 1 > /tmp/bg & jobs; wait; echo waited; tail -1 /tmp/bg\n",
        "exit 7\n",
        "echo not reached\n",
    ));
    let stdout = run.stdout();
    let expected_start = concat!(
        "single $X double back slash\n",
        "hello world $X worlds\n",
        "Y=exported\n",
        "status 1\n",
        "and-ok\n",
        "or-ok\n",
        "one\n",
        "two\n",
        "6\n",
        "6\n",
        "ls 2\n",
        "ls: cannot access '/nonexistent': No such file or directory\n",
        "/tmp\n",
        "1\n",
        "/\n",
        "after 127\n",
        "0\n",
        "quiet 2\n",
    );
    assert!(
        stdout.starts_with(expected_start),
        "stdout:\n{stdout}\nstderr:\n{}",
        run.stderr
    );
    let rest = &stdout[expected_start.len()..];
    assert!(rest.contains("Running"), "jobs: {rest}");
    assert!(rest.ends_with("waited\nbg done\n"), "{rest}");
    assert!(
        run.stderr.contains("sh: 11: nosuchcmd: not found"),
        "{}",
        run.stderr
    );
    assert_eq!(run.status, 7, "{}", run.stderr);
}

#[test]
fn a_syntax_error_ends_a_script_with_status_2() {
    // As in POSIX sh: a non-interactive shell stops at a syntax error.
    let run = session("echo before\necho a | | b\necho after\n");
    assert_eq!(run.stdout(), "before\n");
    assert_eq!(
        run.stderr, "sh: 2: Syntax error: \"|\" unexpected\n",
        "{}",
        run.stderr
    );
    assert_eq!(run.status, 2);
}

#[test]
fn every_coreutil_in_one_session() {
    let run = session(concat!(
        "mkdir -p /tmp/a/b/c && echo made\n",
        "echo hello > /tmp/a/f.txt\n",
        "cp -r /tmp/a /tmp/copy && ls /tmp/copy\n",
        "mv /tmp/copy/f.txt /tmp/copy/g.txt; ls /tmp/copy\n",
        "ln -s a/f.txt /tmp/link; cat /tmp/link\n",
        "touch /tmp/a/.hidden; ls /tmp/a; ls -a /tmp/a\n",
        "ls -l /tmp/link | grep -c -- '-> a/f.txt'\n",
        "seq 3 | sort -r | head -1\n",
        "seq 5 | tail -2\n",
        "echo -e 'b\\na\\nb' | sort | uniq -c\n",
        "grep -n ell /tmp/a/f.txt\n",
        "wc -w /tmp/a/f.txt\n",
        "env -i A=1\n",
        "env -i B=2 env; env C=3 sh -c 'echo $C'\n",
        "sleep 0.1 && echo slept\n",
        "true; echo \"true $?\"; false; echo \"false $?\"\n",
        "ps | head -1\n",
        "spin victim 60 > /tmp/v & kill $!; wait $!; echo \"killed $?\"\n",
        "ps | grep -c spin\n",
        "yes | head -2\n",
        "rm -r /tmp/a /tmp/copy; ls /tmp\n",
    ));
    let expected = concat!(
        "made\n",
        "b\n",
        "f.txt\n",
        "b\n",
        "g.txt\n",
        "hello\n",
        "b\n",
        "f.txt\n",
        ".\n",
        "..\n",
        ".hidden\n",
        "b\n",
        "f.txt\n",
        "1\n",
        "3\n",
        "4\n",
        "5\n",
        "      1 a\n",
        "      2 b\n",
        "1:hello\n",
        "1 /tmp/a/f.txt\n",
        "A=1\n",
        "B=2\n",
        "3\n",
        "slept\n",
        "true 0\n",
        "false 1\n",
        "  PID  PPID STAT    MEM     TIME CMD\n",
        "killed 143\n",
        "0\n",
        "y\n",
        "y\n",
        "link\n",
        "v\n",
    );
    assert_eq!(run.stdout(), expected, "stderr:\n{}", run.stderr);
    assert_eq!(run.status, 0, "{}", run.stderr);
}

#[test]
fn dir_trees_appear_at_their_guest_paths_and_are_written_back() {
    let scratch = Scratch::new("shell-dir");
    std::fs::create_dir_all(scratch.path("data")).unwrap();
    std::fs::write(scratch.path("data/in.txt"), "from the host\n").unwrap();
    let run = cella_with(
        &["--dir", &scratch.arg("data", "/data")],
        b"cat /data/in.txt; cd /data && echo made here > out.txt; cat out.txt; ls\n",
        &[],
    );
    assert_eq!(
        run.stdout(),
        "from the host\nmade here\nin.txt\nout.txt\n",
        "{}",
        run.stderr
    );
    assert_eq!(run.status, 0);
    assert_eq!(
        std::fs::read_to_string(scratch.path("data/out.txt")).unwrap(),
        "made here\n"
    );
}

#[test]
fn two_cpu_bound_processes_both_progress() {
    let run = session("spin a 2 & spin b 2 & wait\necho done\n");
    let stdout = run.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    let position = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("no {line:?} in {stdout}"))
    };
    // Each made progress while the other had not finished.
    assert!(position("a 2") < position("b done"), "{stdout}");
    assert!(position("b 2") < position("a done"), "{stdout}");
    assert_eq!(lines.last(), Some(&"done"), "{stdout}");
}

#[test]
fn a_background_busy_loop_does_not_delay_the_foreground() {
    // The shell ends at the end of its input while `spin` still has a minute to go: init then
    // ends the run. `hi` must come out at once, not after the busy loop.
    let run = session("spin busy 60 > /tmp/busy & echo hi\n");
    assert_eq!(run.stdout(), "hi\n", "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
}

#[test]
fn interactive_line_editing_history_ctrl_c_and_ctrl_d() {
    let mut term = Terminal::start(&[]);
    term.wait_for("$ ", 1);
    // Backspace and left-arrow editing: "echo abd" → "echo abc", then "x" inserted before it.
    term.type_keys(b"echo abd\x7fc\x1b[D\x1b[D\x1b[Dx\r");
    // The command's output is a line of its own (the terminal turns \n into \r\n).
    term.wait_for("\nxabc\r\n", 1);
    term.wait_for("$ ", 2);
    // Up-arrow recalls the last line.
    term.type_keys(b"\x1b[A\r");
    term.wait_for("\nxabc\r\n", 2);
    term.wait_for("$ ", 3);
    // Ctrl-C ends the foreground job, not the shell.
    term.type_keys(b"spin busy 60\r");
    term.wait_for("busy 1", 1);
    term.type_keys(b"\x03");
    term.wait_for("$ ", 4);
    term.type_keys(b"echo status $?\r");
    term.wait_for("status 130", 1);
    term.wait_for("$ ", 5);
    // A construct left open asks for the rest with PS2 (`> `); the output is spelled apart
    // in the typed text so that its echo does not count.
    term.type_keys(b"if true\r");
    term.wait_for("> ", 1);
    term.type_keys(b"then echo cont''inued; fi\r");
    term.wait_for("continued\r\n", 1);
    term.wait_for("$ ", 6);
    // The INT trap runs when Ctrl-C interrupts the line being edited.
    term.type_keys(b"trap 'echo ca\"\"ught' INT\r");
    term.wait_for("$ ", 7);
    term.type_keys(b"\x03");
    term.wait_for("caught", 1);
    term.wait_for("$ ", 8);
    // Ctrl-D on an empty line ends the shell, and with it the run.
    term.type_keys(b"\x04");
    let status = term
        .child
        .wait_timeout(Duration::from_secs(60))
        .expect("the session did not end");
    let text = term.text();
    assert!(!text.contains("busy done"), "{text}");
    assert_eq!(status.code(), Some(0), "{text}");
}
