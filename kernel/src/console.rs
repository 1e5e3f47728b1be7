//! The program's stdio and the kernel's way out, in one of two modes:
//!
//! * **console** (booted by hand): stdout and stderr go to COM1 with `\n` → `\r\n`, stdin is
//!   what arrives on COM1 (carriage returns become newlines and are echoed; a Ctrl-D (0x04)
//!   at the start of a read is end-of-file for that read, as on a terminal). The kernel log
//!   goes to COM2 as plain text lines.
//! * **link** (run by the host runner): everything travels as `cella_proto` frames on COM2 —
//!   STDOUT, STDERR, LOG, STARTED and EXIT out, STDIN and STDIN_EOF in. COM1 stays silent
//!   except for fault reports.
//!
//! Waiting (for stdin or a deadline) halts the CPU with `sti; hlt`; the serial interrupt or
//! the PIT one-shot wakes it.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use cella_proto::{Decoder, Exit, to_guest, to_host};
use spin::Mutex;
use wasi_abi::{StdinPoll, Stream};

use crate::arch::cpu;
use crate::drivers::qemu_exit;
use crate::drivers::serial::{self, Com};
use crate::time;

/// Ctrl-D: end of file on the console.
const CONSOLE_EOF: u8 = 0x04;
/// The longest a single idle period lasts when nothing else bounds it.
const MAX_IDLE_NS: u64 = 50_000_000;

static LINK: AtomicBool = AtomicBool::new(false);

/// stdin as received: raw bytes (console) or decoded STDIN payloads (link).
struct Stdin {
    decoder: Decoder,
    data: VecDeque<u8>,
    /// The link delivered STDIN_EOF.
    eof: bool,
}

static STDIN: Mutex<Stdin> = Mutex::new(Stdin {
    decoder: Decoder::new(),
    data: VecDeque::new(),
    eof: false,
});

/// A non-blocking read found no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WouldBlock;

/// Chooses the mode: `true` for the host link, `false` for the console. Entering link mode
/// sends [`cella_proto::LINK_SYNC`], so the runner knows where the frames begin.
pub fn set_link(link: bool) {
    if link && !LINK.swap(true, Ordering::Relaxed) {
        serial::write_all(Com::Com2, cella_proto::LINK_SYNC);
    }
    LINK.store(link, Ordering::Relaxed);
}

/// Whether the host link is in use.
pub fn is_link() -> bool {
    LINK.load(Ordering::Relaxed)
}

fn send_frame(tag: u8, payload: &[u8]) {
    for chunk in payload.chunks(cella_proto::MAX_PAYLOAD) {
        let mut frame = Vec::with_capacity(chunk.len() + cella_proto::HEADER_LEN);
        cella_proto::encode_frame(&mut frame, tag, chunk);
        serial::write_all(Com::Com2, &frame);
    }
    if payload.is_empty() {
        let mut frame = Vec::new();
        cella_proto::encode_frame(&mut frame, tag, payload);
        serial::write_all(Com::Com2, &frame);
    }
}

/// Writes `text` to COM1, turning `\n` into `\r\n`.
pub fn print(text: &[u8]) {
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        if index > 0 {
            serial::write_all(Com::Com1, b"\r\n");
        }
        serial::write_all(Com::Com1, line);
    }
}

/// Writes program output to `stream`.
pub fn write(stream: Stream, data: &[u8]) {
    if is_link() {
        let tag = match stream {
            Stream::Stdout => to_host::STDOUT,
            Stream::Stderr => to_host::STDERR,
        };
        if !data.is_empty() {
            send_frame(tag, data);
        }
    } else {
        print(data);
    }
}

/// Sends one kernel log line: a LOG frame on the link, a text line on COM2 otherwise.
pub fn log_line(line: &[u8]) {
    if is_link() {
        send_frame(to_host::LOG, line);
    } else {
        serial::write_all(Com::Com2, line);
        serial::write_all(Com::Com2, b"\n");
    }
}

/// Moves received serial bytes into [`STDIN`].
fn pump(stdin: &mut Stdin) {
    if is_link() {
        serial::with_received(Com::Com2, |rx| {
            while let Some(byte) = rx.pop_front() {
                if let Some((tag, payload)) = stdin.decoder.push(byte) {
                    match tag {
                        to_guest::STDIN => stdin.data.extend(payload),
                        to_guest::STDIN_EOF => stdin.eof = true,
                        _ => {}
                    }
                }
            }
        });
    } else {
        let mut echo = Vec::new();
        serial::with_received(Com::Com1, |rx| {
            while let Some(byte) = rx.pop_front() {
                let byte = if byte == b'\r' { b'\n' } else { byte };
                if byte != CONSOLE_EOF {
                    echo.push(byte);
                }
                stdin.data.push_back(byte);
            }
        });
        print(&echo);
    }
}

fn poll(stdin: &Stdin) -> StdinPoll {
    match stdin.data.front() {
        Some(&CONSOLE_EOF) if !is_link() => StdinPoll::Eof,
        Some(_) => StdinPoll::Ready,
        None if stdin.eof => StdinPoll::Eof,
        None => StdinPoll::Empty,
    }
}

/// Whether stdin has data, is at end of file, or is empty.
pub fn poll_stdin() -> StdinPoll {
    let mut stdin = STDIN.lock();
    pump(&mut stdin);
    poll(&stdin)
}

/// Reads stdin into `buf`: `Ok(0)` is end of file. With `block`, waits (halted) for data.
pub fn read_stdin(buf: &mut [u8], block: bool) -> Result<usize, WouldBlock> {
    if buf.is_empty() {
        return Ok(0);
    }
    loop {
        {
            let mut stdin = STDIN.lock();
            pump(&mut stdin);
            match poll(&stdin) {
                StdinPoll::Eof => {
                    if stdin.data.front() == Some(&CONSOLE_EOF) {
                        stdin.data.pop_front();
                    }
                    return Ok(0);
                }
                StdinPoll::Ready => {
                    let mut count = 0;
                    for slot in buf.iter_mut() {
                        match stdin.data.front() {
                            Some(&CONSOLE_EOF) if !is_link() => break,
                            Some(&byte) => *slot = byte,
                            None => break,
                        }
                        stdin.data.pop_front();
                        count += 1;
                    }
                    return Ok(count);
                }
                StdinPoll::Empty if !block => return Err(WouldBlock),
                StdinPoll::Empty => {}
            }
        }
        wait(None, true);
    }
}

/// Halts until the monotonic clock reaches `deadline` (if any) or, with `stdin`, stdin is
/// ready or at end of file. Returns at once if either already holds. With neither, returns
/// after one idle period.
pub fn wait(deadline: Option<u64>, stdin: bool) {
    loop {
        if stdin && poll_stdin() != StdinPoll::Empty {
            return;
        }
        let now = time::monotonic_ns();
        let remaining = match deadline {
            Some(deadline) if deadline <= now => return,
            Some(deadline) => deadline - now,
            None => MAX_IDLE_NS,
        };
        time::idle(remaining.min(MAX_IDLE_NS));
        if deadline.is_none() && !stdin {
            return;
        }
    }
}

/// Call right before the program's `_start`: starts its CPU-time clock and, on the link,
/// sends STARTED (TSC at kernel entry, TSC now, TSC frequency).
pub fn mark_started() {
    time::mark_program_start();
    if is_link() {
        let mut payload = [0u8; 24];
        payload[..8].copy_from_slice(&time::boot_tsc().to_le_bytes());
        payload[8..16].copy_from_slice(&cpu::rdtsc().to_le_bytes());
        payload[16..].copy_from_slice(&time::tsc_hz().to_le_bytes());
        send_frame(to_host::STARTED, &payload);
    }
}

/// Reports how the run ended — the EXIT frame on the link, a line on the console for
/// anything but a clean exit — waits until the UARTs have sent everything, and ends QEMU.
pub fn finish(exit: &Exit) -> ! {
    let value = match exit {
        Exit::Exited(status) => qemu_exit::program_status(*status),
        Exit::Trapped(_) => qemu_exit::TRAPPED,
        Exit::LoadFailed(_) => qemu_exit::LOAD_FAILED,
        Exit::KernelFault(_) => qemu_exit::RUNTIME_FAULT,
    };
    log::debug!("run ended: {exit:?}");
    if is_link() {
        send_frame(to_host::EXIT, &exit.encode());
    } else {
        // A clean exit needs no words: the program said what it had to.
        let failure = match exit {
            Exit::Exited(_) => None,
            Exit::Trapped(m) => Some(("program trapped: ", m)),
            Exit::LoadFailed(m) => Some(("cannot run the program: ", m)),
            Exit::KernelFault(m) => Some(("kernel fault: ", m)),
        };
        if let Some((what, message)) = failure {
            print(b"\n*** Cella: ");
            print(what.as_bytes());
            print(message);
            print(b"\n");
        }
    }
    serial::flush(Com::Com1);
    serial::flush(Com::Com2);
    qemu_exit::exit(value)
}
