//! QEMU ends with its runner, however the runner ends: a SIGKILL runs no code of the runner's
//! (no drop, no signal handler), yet QEMU must not stay behind, booting or serving forever.
//! Each check starts a shell session through the runner with stdin left open (a session that
//! would last), waits for the shell to answer, finds QEMU in /proc, kills the runner and
//! watches QEMU go.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Reaped, root, setup};

/// How long the runner may take to boot the shell (it first checks the builds).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long QEMU may outlive its runner.
const END_TIMEOUT: Duration = Duration::from_secs(5);
/// How often /proc is looked at.
const POLL: Duration = Duration::from_millis(20);
/// QEMU's command name as /proc shows it: `qemu-system-x86_64` cut to 15 bytes.
const QEMU_COMM: &str = "qemu-system-x86";

/// What the checks need of /proc/PID/stat.
struct Stat {
    comm: String,
    state: char,
    ppid: i32,
    /// Start time in clock ticks since boot: tells a process from a later one with its pid.
    start: u64,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name is in parentheses and may itself hold spaces and parentheses: it ends at the
    // last `)`.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After the name come field 3 (state), 4 (ppid), ... 22 (starttime).
    Some(Stat {
        comm: text.get(open + 1..close)?.to_string(),
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// The QEMU that `runner` started, as (pid, start time), once it has exec'd.
fn qemu_of(runner: i32) -> Option<(i32, u64)> {
    fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .find_map(|pid| {
            let stat = stat(pid)?;
            (stat.ppid == runner && stat.comm == QEMU_COMM).then_some((pid, stat.start))
        })
}

/// Whether that QEMU still runs. A zombie does not: it is dead, waiting for whoever inherited
/// it to collect it.
fn running((pid, start): (i32, u64)) -> bool {
    stat(pid).is_some_and(|stat| stat.start == start && !matches!(stat.state, 'Z' | 'X'))
}

/// Starts a shell session, waits until the shell answers, sends the runner `signal` and
/// checks that QEMU is gone within [`END_TIMEOUT`]. (Killed while QEMU is still starting,
/// the runner could lose its QEMU to a missing file instead: a later runner removes a dead
/// one's run directory.)
fn qemu_ends_with_runner(signal: libc::c_int) {
    setup();
    let mut runner = Reaped::spawn(
        Command::new(env!("CARGO_BIN_EXE_cella"))
            .args(["--timeout", "300"])
            .env("CELLA_ROOT", root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )
    .expect("start the runner");
    // stdin stays open in `runner`: the session would go on until the runner's timeout.
    let stdin = runner.stdin.as_mut().expect("stdin piped");
    stdin.write_all(b"echo up\n").unwrap();
    stdin.flush().unwrap();
    let stdout = BufReader::new(runner.stdout.take().expect("stdout piped"));
    let (lines, answers) = mpsc::channel();
    thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let started = Instant::now();
    loop {
        let left = START_TIMEOUT.saturating_sub(started.elapsed());
        match answers.recv_timeout(left) {
            Ok(line) if line == "up" => break,
            Ok(_) => {}
            Err(_) => panic!(
                "the shell did not answer within {START_TIMEOUT:?} (runner: {:?})",
                runner.try_wait()
            ),
        }
    }
    let runner_pid = i32::try_from(runner.id()).expect("a pid fits an i32");
    let qemu = qemu_of(runner_pid).expect("the shell answered, so QEMU runs under the runner");

    // SAFETY: kill is a plain system call; the runner has not been waited for, so its pid is
    // still its own.
    assert_eq!(unsafe { libc::kill(runner_pid, signal) }, 0);
    let status = runner.wait().expect("wait for the runner");
    assert_eq!(status.signal(), Some(signal), "{status}");

    let killed = Instant::now();
    while running(qemu) && killed.elapsed() < END_TIMEOUT {
        thread::sleep(POLL);
    }
    if running(qemu) {
        // Leave nothing behind, even failing.
        // SAFETY: kill is a plain system call; `running` just saw that this pid is still the
        // QEMU the runner started (same start time), which no one has reaped.
        unsafe { libc::kill(qemu.0, libc::SIGKILL) };
        panic!(
            "QEMU (pid {}) still ran {END_TIMEOUT:?} after its runner died of signal {signal}",
            qemu.0
        );
    }
}

#[test]
fn qemu_ends_when_its_runner_is_killed() {
    qemu_ends_with_runner(libc::SIGKILL);
}

#[test]
fn qemu_ends_when_its_runner_is_terminated() {
    // Without a terminal the runner installs no handler: SIGTERM ends it at once, as SIGKILL.
    qemu_ends_with_runner(libc::SIGTERM);
}
