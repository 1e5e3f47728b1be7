//! Job control in shell mode: Ctrl-Z stops the foreground job and the shell takes the console
//! back; `jobs`, `bg`, `fg`, `kill %N` act on the stopped job; `kill -STOP`/`-CONT` from
//! another process stop and continue a program, which uses no CPU while stopped; a stopped
//! program can be killed. (`proctest`, in processes.rs, checks the calls underneath:
//! `wait_untraced`, a stopped sleeper, a fuel limit across a stop.)

mod common;

use common::terminal::Terminal;
use common::{Run, cella_with};

/// The `ps` line of the process named `name` in `listing` (`  PID  PPID STAT MEM TIME CMD`).
fn ps_line<'a>(listing: &'a str, name: &str) -> Vec<&'a str> {
    let line = listing
        .lines()
        .rev()
        .find(|line| line.split_whitespace().nth(5) == Some(name))
        .unwrap_or_else(|| panic!("no {name} in:\n{listing}"));
    line.split_whitespace().collect()
}

#[test]
fn ctrl_z_stops_the_foreground_job_and_bg_fg_jobs_and_kill_act_on_it() {
    let mut term = Terminal::start(&[]);
    term.wait_for("$ ", 1);
    term.type_keys(b"spin busy 600\r");
    term.wait_for("busy 2", 1);
    // Ctrl-Z: the job stops and the shell is back, with $? 128 + SIGTSTP.
    term.type_keys(b"\x1a");
    term.wait_for("[1]+  Stopped  spin busy 600", 1);
    term.wait_for("$ ", 2);
    term.type_keys(b"echo status $?\r");
    term.wait_for("status 148", 1);
    term.wait_for("$ ", 3);
    term.type_keys(b"jobs\r");
    term.wait_for("[1]+  Stopped  spin busy 600", 2);
    term.wait_for("$ ", 4);
    let text = term.text();
    let ticks_when_stopped = text.matches("busy ").count();
    term.type_keys(b"ps\r");
    term.wait_for("$ ", 5);
    let ps = term.text();
    assert_eq!(ps_line(&ps[text.len()..], "spin")[2], "T", "{ps}");
    // Stopped, it printed nothing more.
    assert_eq!(ps.matches("busy ").count(), ticks_when_stopped, "{ps}");
    // bg: it goes on in the background while the shell reads commands.
    term.type_keys(b"bg\r");
    term.wait_for("[1]+ spin busy 600 &", 1);
    term.wait_for("$ ", 6);
    term.wait_for("busy ", ticks_when_stopped + 2);
    term.type_keys(b"jobs\r");
    term.wait_for("[1]+  Running  spin busy 600 &", 1);
    term.wait_for("$ ", 7);
    // fg brings it back to the foreground; Ctrl-Z stops it again under the same number.
    term.type_keys(b"fg\r");
    term.wait_for("\nspin busy 600\r\n", 1);
    let before_fg_stop = term.text().matches("busy ").count();
    term.wait_for("busy ", before_fg_stop + 1);
    term.type_keys(b"\x1a");
    term.wait_for("[1]+  Stopped  spin busy 600", 3);
    term.wait_for("$ ", 8);
    // A stopped job is killed by kill %1, and the prompt reports it.
    term.type_keys(b"kill %1\r");
    term.wait_for("[1]+  Terminated  spin busy 600", 1);
    term.wait_for("$ ", 9);
    term.type_keys(b"jobs; echo none left\r");
    term.wait_for("none left\r\n", 1);
    term.wait_for("$ ", 10);
    // A background job stopped and continued by another process: the prompt reports the
    // stop, and `jobs` sees it running again.
    term.type_keys(b"spin bgjob 600 > /dev/null &\r");
    term.wait_for("$ ", 11);
    term.type_keys(b"/bin/kill -STOP $!\r");
    term.wait_for("[1]+  Stopped  spin bgjob 600 > /dev/null", 1);
    term.wait_for("$ ", 12);
    term.type_keys(b"/bin/kill -CONT $!; jobs\r");
    term.wait_for("[1]+  Running  spin bgjob 600 > /dev/null &", 1);
    term.wait_for("$ ", 13);
    term.type_keys(b"kill %1\r");
    term.wait_for("[1]+  Terminated  spin bgjob 600 > /dev/null", 1);
    term.wait_for("$ ", 14);
    term.type_keys(b"\x04");
    let status = term
        .child
        .wait_timeout(std::time::Duration::from_secs(60))
        .expect("the session did not end");
    let text = term.text();
    assert!(!text.contains("busy done"), "{text}");
    assert_eq!(status.code(), Some(0), "{text}");
}

fn session(script: &str) -> Run {
    let no_args: &[&str] = &[];
    cella_with(no_args, script.as_bytes(), &[])
}

#[test]
fn kill_stop_and_cont_from_another_process_and_a_stopped_process_uses_no_cpu() {
    let run = session(concat!(
        "spin bg 600 > /tmp/spin.out &\n",
        "sleep 1; /bin/kill -STOP $!; sleep 0.5\n",
        "ps > /tmp/ps1; wc -l < /tmp/spin.out > /tmp/n1\n",
        "sleep 2\n",
        "ps > /tmp/ps2; wc -l < /tmp/spin.out > /tmp/n2\n",
        "/bin/kill -CONT $!; sleep 1; ps > /tmp/ps3; wc -l < /tmp/spin.out > /tmp/n3\n",
        "cat /tmp/ps1; echo --; cat /tmp/ps2; echo --; cat /tmp/ps3; echo --\n",
        "cat /tmp/n1 /tmp/n2 /tmp/n3\n",
        // A stopped process is killed, and its parent sees how.
        "/bin/kill -SIGSTOP $!; /bin/kill -9 $!; wait $!; echo \"status $?\"\n",
        "/bin/kill -l 19 20 18 STOP; /bin/kill -L | grep TSTP\n",
        // A stopped process whose parent ends is hung up, not left stopped forever.
        "sh -c 'spin orphan 600 > /dev/null & /bin/kill -STOP $!; ps'; sleep 1\n",
        "echo --; ps\n",
    ));
    let stdout = run.stdout();
    let parts: Vec<&str> = stdout.split("--\n").collect();
    assert_eq!(parts.len(), 5, "{stdout}\n{}", run.stderr);
    let (stopped, later, continued) = (
        ps_line(parts[0], "spin"),
        ps_line(parts[1], "spin"),
        ps_line(parts[2], "spin"),
    );
    assert_eq!(stopped[2], "T", "{stdout}");
    // Two seconds stopped: not a centisecond more CPU, and not a line more output.
    assert_eq!(stopped, later, "{stdout}");
    assert_ne!(continued[2], "T", "{stdout}");
    assert!(continued[4] > stopped[4], "CPU time grows again: {stdout}");
    let counts: Vec<u32> = parts[3]
        .lines()
        .take(3)
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert_eq!(counts[0], counts[1], "{stdout}");
    assert!(counts[2] > counts[1], "{stdout}");
    let tail: Vec<&str> = parts[3].lines().skip(3).take(6).collect();
    assert_eq!(
        tail,
        ["status 137", "STOP", "TSTP", "CONT", "19", "20 TSTP"],
        "{stdout}\n{}",
        run.stderr
    );
    // The orphan was stopped under its shell, and is gone (or a zombie init reaps) after.
    assert_eq!(ps_line(parts[3], "spin")[2], "T", "{stdout}");
    assert!(
        !parts[4]
            .lines()
            .any(|line| line.contains("spin") && line.split_whitespace().nth(2) == Some("T")),
        "{stdout}"
    );
}
