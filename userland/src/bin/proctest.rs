//! Exercises Cella's process control (`cella_process`) and checks what it sees, one line per
//! check: `ok NAME` or `FAIL NAME: why`, then exits 1 if anything failed. Run with the
//! test programs it starts (hello printargs printenv exit trap napms bench alloc oom) and a file
//! `not-wasm.txt` in a directory mounted at /u (see boot/tests/processes.rs).
//! Only runs on Cella (it imports `cella_process`).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use cella_process::{
    Command, ProcessState, SIGCONT, SIGKILL, SIGSTOP, SIGTERM, SIGTSTP, Status, Stdio, kill, pipe,
    processes, wait, wait_untraced,
};

struct Checks {
    failed: bool,
}

impl Checks {
    fn check(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => println!("ok {name}"),
            Err(why) => {
                println!("FAIL {name}: {why}");
                self.failed = true;
            }
        }
    }
}

fn program(name: &str) -> Command {
    let mut command = Command::new(format!("/u/{name}.wasm"));
    command.arg0(name).inherit_preopens();
    command
}

/// Runs `command` with stdout into a pipe; returns what it printed and how it ended.
fn output(command: &mut Command) -> Result<(Vec<u8>, Status), String> {
    let (mut reader, writer) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let pid = command
        .stdout(Stdio::Fd(writer.as_raw_fd()))
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    drop(writer);
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(|e| format!("read: {e}"))?;
    let (waited, status) = wait(Some(pid), false)
        .map_err(|e| format!("wait: {e}"))?
        .ok_or("wait returned nothing")?;
    if waited != pid {
        return Err(format!("waited for {pid}, got {waited}"));
    }
    Ok((out, status))
}

fn expect<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn main() {
    let mut checks = Checks { failed: false };

    checks.check(
        "spawn-output-through-pipe",
        (|| {
            let (out, status) = output(&mut program("hello"))?;
            expect(
                "output",
                String::from_utf8_lossy(&out).as_ref(),
                "Hello, world!\n",
            )?;
            expect("status", status, Status::Exited(0))
        })(),
    );

    checks.check(
        "args-env-and-exit-status",
        (|| {
            let (out, _) = output(program("printargs").args(["a b", "c"]))?;
            expect(
                "args",
                String::from_utf8_lossy(&out).as_ref(),
                "printargs\na b\nc\n",
            )?;
            let (out, _) = output(program("printenv").env_clear().env("CELLA", "yes"))?;
            expect("env", String::from_utf8_lossy(&out).as_ref(), "CELLA=yes\n")?;
            let (_, status) = output(program("exit").arg("42"))?;
            expect("status", status, Status::Exited(42))
        })(),
    );

    checks.check(
        "trap-ends-only-the-child",
        (|| {
            let (_, status) = output(program("trap").arg("unreachable"))?;
            expect("status", status, Status::Trapped)
        })(),
    );

    checks.check(
        "wait-without-children-is-echild",
        (|| {
            let error = wait(None, false).err().ok_or("wait succeeded")?;
            expect("errno", error.raw_os_error(), Some(12))
        })(),
    );

    checks.check(
        "not-wasm-is-enoexec",
        (|| {
            let error = Command::new("/u/not-wasm.txt")
                .spawn()
                .err()
                .ok_or("spawned a TOML file")?;
            expect("errno", error.raw_os_error(), Some(45))
        })(),
    );

    checks.check(
        "kill-a-sleeping-child",
        (|| {
            let pid = program("napms")
                .arg("60000")
                .spawn()
                .map_err(|e| e.to_string())?;
            std::thread::sleep(Duration::from_millis(50));
            let sleeping = processes()
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|p| p.pid == pid)
                .ok_or("child missing from the process list")?;
            expect("state", sleeping.state.letter(), 'S')?;
            kill(pid as i32, 15).map_err(|e| format!("kill: {e}"))?;
            let (_, status) = wait(Some(pid), false)
                .map_err(|e| e.to_string())?
                .ok_or("no status")?;
            expect("status", status, Status::Signaled(15))?;
            let error = kill(pid as i32, 15).err().ok_or("killed a reaped pid")?;
            expect("errno", error.raw_os_error(), Some(71))
        })(),
    );

    checks.check(
        "write-to-pipe-without-reader-is-epipe",
        (|| {
            let (reader, mut writer) = pipe().map_err(|e| e.to_string())?;
            drop(reader);
            let error = writer.write(b"x").err().ok_or("write succeeded")?;
            expect("errno", error.raw_os_error(), Some(64))
        })(),
    );

    checks.check(
        "pipe-eof-when-writers-close",
        (|| {
            let (mut reader, mut writer) = pipe().map_err(|e| e.to_string())?;
            writer.write_all(b"last words").map_err(|e| e.to_string())?;
            drop(writer);
            let mut text = String::new();
            reader
                .read_to_string(&mut text)
                .map_err(|e| e.to_string())?;
            expect("text", text.as_str(), "last words")
        })(),
    );

    checks.check(
        "nohang-wait-and-sleeping-children-run-concurrently",
        (|| {
            let started = Instant::now();
            let first = program("napms")
                .arg("300")
                .stdout(Stdio::Fd(devnull()?))
                .spawn();
            let second = program("napms")
                .arg("300")
                .stdout(Stdio::Fd(devnull()?))
                .spawn();
            let (first, second) = (
                first.map_err(|e| e.to_string())?,
                second.map_err(|e| e.to_string())?,
            );
            expect("nohang", wait(None, true).map_err(|e| e.to_string())?, None)?;
            for _ in 0..2 {
                let (pid, status) = wait(None, false)
                    .map_err(|e| e.to_string())?
                    .ok_or("none")?;
                if pid != first && pid != second {
                    return Err(format!("unexpected pid {pid}"));
                }
                expect("status", status, Status::Exited(0))?;
            }
            let elapsed = started.elapsed().as_millis();
            if elapsed >= 550 {
                return Err(format!(
                    "two 300 ms sleeps took {elapsed} ms: not concurrent"
                ));
            }
            Ok(())
        })(),
    );

    checks.check(
        "fuel-limit-ends-a-busy-child",
        (|| {
            let (_, status) = output(
                program("bench")
                    .arg("int")
                    .arg("1000000")
                    .fuel_limit(5_000_000),
            )?;
            expect("status", status, Status::FuelExhausted)
        })(),
    );

    checks.check(
        "memory-limit-makes-allocation-fail",
        (|| {
            let (_, status) = output(program("alloc").arg("64").memory_limit(8 << 20))?;
            if status.success() {
                return Err("allocating 64 MiB under an 8 MiB limit succeeded".into());
            }
            Ok(())
        })(),
    );

    checks.check(
        "failing-siblings-do-not-harm-a-worker",
        (|| {
            // A worker sleeps and prints while three siblings end badly at the same time.
            let (mut reader, writer) = pipe().map_err(|e| format!("pipe: {e}"))?;
            let worker = program("napms")
                .arg("400")
                .stdout(Stdio::Fd(writer.as_raw_fd()))
                .spawn()
                .map_err(|e| format!("spawn: {e}"))?;
            drop(writer);
            let doomed = [
                program("trap").arg("oob").spawn(),
                program("oom").memory_limit(32 << 20).spawn(),
                program("bench")
                    .args(["int", "1000000"])
                    .fuel_limit(20_000_000)
                    .spawn(),
            ];
            let mut ends = Vec::new();
            for pid in doomed {
                let pid = pid.map_err(|e| format!("spawn: {e}"))?;
                let (_, status) = wait(Some(pid), false)
                    .map_err(|e| e.to_string())?
                    .ok_or("no status")?;
                ends.push(status);
            }
            expect(
                "ends",
                ends,
                vec![Status::Trapped, Status::Trapped, Status::FuelExhausted],
            )?;
            let mut out = String::new();
            reader.read_to_string(&mut out).map_err(|e| e.to_string())?;
            let (_, status) = wait(Some(worker), false)
                .map_err(|e| e.to_string())?
                .ok_or("no status")?;
            expect("worker", status, Status::Exited(0))?;
            let slept: u64 = out
                .trim()
                .parse()
                .map_err(|_| format!("worker printed {out:?}"))?;
            if slept < 400 {
                return Err(format!("worker slept {slept} ms"));
            }
            Ok(())
        })(),
    );

    checks.check(
        "the-process-limit-is-an-error-not-a-crash",
        (|| {
            let mut children = Vec::new();
            let refusal = loop {
                match program("napms")
                    .arg("60000")
                    .stdout(Stdio::Fd(devnull()?))
                    .spawn()
                {
                    Ok(pid) => children.push(pid),
                    Err(e) => break e,
                }
                if children.len() > 500 {
                    return Err("500 processes and no refusal".into());
                }
            };
            let errno = refusal.raw_os_error();
            if errno != Some(6) && errno != Some(48) {
                return Err(format!("refused with {refusal}, not EAGAIN or ENOMEM"));
            }
            for &pid in &children {
                kill(pid as i32, 9).map_err(|e| format!("kill {pid}: {e}"))?;
                let (_, status) = wait(Some(pid), false)
                    .map_err(|e| e.to_string())?
                    .ok_or("no status")?;
                expect("status", status, Status::Signaled(9))?;
            }
            // All gone: starting programs works again.
            let (out, _) = output(&mut program("hello"))?;
            expect(
                "hello",
                String::from_utf8_lossy(&out).as_ref(),
                "Hello, world!\n",
            )?;
            println!(
                "  ({} processes before the refusal: {refusal})",
                children.len()
            );
            Ok(())
        })(),
    );

    job_control(&mut checks);
    std::process::exit(i32::from(checks.failed));
}

/// The state and CPU time `processes` reports for `pid`.
fn state_of(pid: u32) -> Result<(ProcessState, u64), String> {
    processes()
        .map_err(|e| format!("processes: {e}"))?
        .into_iter()
        .find(|p| p.pid == pid)
        .map(|p| (p.state, p.cpu_ns))
        .ok_or_else(|| format!("pid {pid} is not listed"))
}

/// Waits for `pid` to end and returns how.
fn end_of(pid: u32) -> Result<Status, String> {
    wait(Some(pid), false)
        .map_err(|e| format!("wait: {e}"))?
        .map(|(_, status)| status)
        .ok_or_else(|| "wait returned nothing".into())
}

/// Stop and continue: `SIGSTOP`/`SIGCONT` through `kill`, `wait_untraced`, and what a
/// stopped process does (nothing).
fn job_control(checks: &mut Checks) {
    checks.check(
        "a-stopped-child-uses-no-cpu-and-is-reported-once",
        (|| {
            let pid = program("bench")
                .args(["int", "1000000000"])
                .spawn()
                .map_err(|e| format!("spawn: {e}"))?;
            std::thread::sleep(Duration::from_millis(100));
            kill(pid as i32, SIGSTOP).map_err(|e| format!("kill -STOP: {e}"))?;
            expect(
                "wait_untraced",
                wait_untraced(Some(pid), false).map_err(|e| e.to_string())?,
                Some((pid, Status::Stopped(SIGSTOP))),
            )?;
            let (state, before) = state_of(pid)?;
            expect("state", state, ProcessState::Stopped)?;
            std::thread::sleep(Duration::from_millis(300));
            let (_, after) = state_of(pid)?;
            expect("CPU time while stopped", after, before)?;
            // A stop is not an end, and is reported once.
            expect(
                "wait",
                wait(Some(pid), true).map_err(|e| e.to_string())?,
                None,
            )?;
            expect(
                "second wait_untraced",
                wait_untraced(Some(pid), true).map_err(|e| e.to_string())?,
                None,
            )?;
            kill(pid as i32, SIGCONT).map_err(|e| format!("kill -CONT: {e}"))?;
            std::thread::sleep(Duration::from_millis(300));
            let (state, continued) = state_of(pid)?;
            if state == ProcessState::Stopped || continued <= after {
                return Err(format!(
                    "after SIGCONT: {state:?}, CPU {after} -> {continued} ns"
                ));
            }
            kill(pid as i32, SIGKILL).map_err(|e| format!("kill: {e}"))?;
            expect("end", end_of(pid)?, Status::Signaled(SIGKILL))
        })(),
    );

    checks.check(
        "a-stopped-sleeper-finishes-once-continued-and-cont-leaves-a-runner-alone",
        (|| {
            let (mut reader, writer) = pipe().map_err(|e| format!("pipe: {e}"))?;
            let pid = program("napms")
                .arg("200")
                .stdout(Stdio::Fd(writer.as_raw_fd()))
                .spawn()
                .map_err(|e| format!("spawn: {e}"))?;
            drop(writer);
            kill(pid as i32, SIGTSTP).map_err(|e| format!("kill -TSTP: {e}"))?;
            std::thread::sleep(Duration::from_millis(400));
            expect("state", state_of(pid)?.0, ProcessState::Stopped)?;
            kill(pid as i32, SIGCONT).map_err(|e| format!("kill -CONT: {e}"))?;
            kill(pid as i32, SIGCONT).map_err(|e| format!("second kill -CONT: {e}"))?;
            let mut out = String::new();
            reader.read_to_string(&mut out).map_err(|e| e.to_string())?;
            expect("end", end_of(pid)?, Status::Exited(0))?;
            let slept: u64 = out
                .trim()
                .parse()
                .map_err(|_| format!("napms printed {out:?}"))?;
            if slept < 400 {
                return Err(format!("napms slept {slept} ms, less than its stop"));
            }
            Ok(())
        })(),
    );

    checks.check(
        "killing-a-stopped-child-ends-it",
        (|| {
            let pid = program("napms")
                .arg("5000")
                .stdout(Stdio::Fd(devnull()?))
                .spawn()
                .map_err(|e| format!("spawn: {e}"))?;
            kill(pid as i32, SIGSTOP).map_err(|e| format!("kill -STOP: {e}"))?;
            kill(pid as i32, SIGTERM).map_err(|e| format!("kill: {e}"))?;
            expect("end", end_of(pid)?, Status::Signaled(SIGTERM))
        })(),
    );

    checks.check(
        "a-fuel-limit-holds-across-a-stop",
        (|| {
            let pid = program("bench")
                .args(["int", "1000000"])
                .fuel_limit(20_000_000)
                .spawn()
                .map_err(|e| format!("spawn: {e}"))?;
            kill(pid as i32, SIGSTOP).map_err(|e| format!("kill -STOP: {e}"))?;
            std::thread::sleep(Duration::from_millis(100));
            kill(pid as i32, SIGCONT).map_err(|e| format!("kill -CONT: {e}"))?;
            expect("end", end_of(pid)?, Status::FuelExhausted)
        })(),
    );
}

/// A file to throw output into (the fd stays open for the whole run).
fn devnull() -> Result<i32, String> {
    let file = File::create("/u/sink.out").map_err(|e| format!("create: {e}"))?;
    let fd = file.as_raw_fd();
    std::mem::forget(file);
    Ok(fd)
}
