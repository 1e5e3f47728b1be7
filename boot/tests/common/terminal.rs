//! A shell session on a real terminal: the runner runs under `script`, which gives it a
//! pseudo-terminal, so it switches that terminal to raw mode and the kernel's line
//! discipline and the shell's line editor do the work, as for a person at a keyboard.

use std::io::{Read, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Reaped, root, setup};

/// How long [`Terminal::wait_for`] waits for its text.
const PATIENCE: Duration = Duration::from_secs(60);

pub struct Terminal {
    /// `script`: killed when the test ends, which hangs up the runner's terminal (SIGHUP),
    /// ending the runner and QEMU.
    pub child: Reaped,
    input: ChildStdin,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    /// Boots shell mode on a pseudo-terminal, with the runner's `args` (`--dir ...`).
    pub fn start(args: &[&str]) -> Terminal {
        setup();
        let mut runner = format!("{} --timeout 120", env!("CARGO_BIN_EXE_cella"));
        for arg in args {
            runner.push(' ');
            runner.push_str(arg);
        }
        let mut child = Reaped::spawn(
            Command::new("script")
                .args(["-q", "-e", "-c", &runner, "/dev/null"])
                .env("CELLA_ROOT", root())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        )
        .expect("script (util-linux) runs the runner on a pseudo-terminal");
        let input = child.stdin.take().expect("stdin piped");
        let mut stdout = child.stdout.take().expect("stdout piped");
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            child,
            input,
            output,
        }
    }

    /// Everything the terminal showed so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the output holds `needle` `count` times in all.
    pub fn wait_for(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.text().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "no {count}× {needle:?} in:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `keys`.
    pub fn type_keys(&mut self, keys: &[u8]) {
        self.input.write_all(keys).unwrap();
        self.input.flush().unwrap();
    }
}
