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
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use cella_proto::{Decoder, Exit, to_guest, to_host};
use spin::Mutex;
use wasi_abi::{StdinPoll, Stream};

use crate::arch::cpu;
use crate::drivers::serial::{self, Com};
use crate::drivers::{link, qemu_exit};
use crate::time;

/// Ctrl-D: end of file on the console.
const CONSOLE_EOF: u8 = 0x04;
/// The longest a single idle period lasts when nothing else bounds it.
const MAX_IDLE_NS: u64 = 50_000_000;

static LINK: AtomicBool = AtomicBool::new(false);
/// Bytes the guest may still send on a virtio link (see [`cella_proto::LINK_WINDOW`]).
static CREDIT: AtomicUsize = AtomicUsize::new(cella_proto::LINK_WINDOW);

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
///
/// The link runs over the runner's virtio console when there is one (see
/// [`crate::drivers::link`]); the sync marker also goes to COM2, where a fault report would
/// follow it if the virtio console could not be used.
pub fn set_link(link: bool) {
    if link && !LINK.swap(true, Ordering::Relaxed) {
        serial::write_all(Com::Com2, cella_proto::LINK_SYNC);
        if link::init() {
            link::write(cella_proto::LINK_SYNC);
        }
    }
    LINK.store(link, Ordering::Relaxed);
}

/// Whether the host link is in use.
pub fn is_link() -> bool {
    LINK.load(Ordering::Relaxed)
}

fn send_frame(tag: u8, payload: &[u8]) {
    let virtio = link::is_virtio();
    let most = if virtio {
        cella_proto::LINK_FRAME_PAYLOAD
    } else {
        cella_proto::MAX_PAYLOAD
    };
    let send = |chunk: &[u8]| {
        let mut frame = link::frame_buffer(chunk.len());
        cella_proto::encode_frame(&mut frame, tag, chunk);
        if virtio {
            take_credit(frame.len());
        }
        link::write(&frame);
    };
    for chunk in payload.chunks(most) {
        send(chunk);
    }
    if payload.is_empty() {
        send(payload);
    }
}

/// Waits until the host has granted room for `len` more bytes, then takes it. Received
/// frames are handled meanwhile (the credit arrives among them). Inside the stdin code
/// itself, whose lock is then held, it takes the room without waiting rather than deadlock.
fn take_credit(len: usize) {
    loop {
        let credit = CREDIT.load(Ordering::Acquire);
        if credit >= len {
            CREDIT.fetch_sub(len, Ordering::AcqRel);
            return;
        }
        let Some(mut stdin) = STDIN.try_lock() else {
            CREDIT.store(0, Ordering::Release);
            return;
        };
        pump(&mut stdin);
        drop(stdin);
        if CREDIT.load(Ordering::Acquire) < len {
            time::idle(link::POLL_NS);
        }
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
        let Stdin { decoder, data, eof } = stdin;
        link::receive(&mut |byte| {
            if let Some((tag, payload)) = decoder.push(byte) {
                match tag {
                    to_guest::STDIN => data.extend(payload),
                    to_guest::STDIN_EOF => *eof = true,
                    to_guest::CREDIT => {
                        if let Ok(bytes) = <[u8; 4]>::try_from(payload) {
                            CREDIT.fetch_add(u32::from_le_bytes(bytes) as usize, Ordering::AcqRel);
                        }
                    }
                    _ => {}
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
        // Input on the virtio link raises no interrupt here: poll it while waiting for stdin.
        let longest = if stdin && is_link() && link::is_virtio() {
            link::POLL_NS
        } else {
            MAX_IDLE_NS
        };
        time::idle(remaining.min(longest));
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
    link::flush();
    qemu_exit::exit(value)
}
