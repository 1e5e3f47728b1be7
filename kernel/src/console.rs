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
// Programs and the host feed the console: nothing here panics on what they send.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use cella_proto::{Decoder, Exit, to_guest, to_host};
use spin::Mutex;
use wasi_abi::{StdinPoll, Stream};

use crate::arch::cpu;
use crate::drivers::serial::{self, Com};
use crate::drivers::{link, qemu_exit};
use crate::time;

/// Ctrl-C: interrupts the foreground process group (cooked mode).
const CTRL_C: u8 = 0x03;
/// Ctrl-Z: stops the foreground process group (cooked mode).
const CTRL_Z: u8 = 0x1a;
/// Ctrl-D: end of file on an empty line, else sends the line as it is (cooked mode).
const CTRL_D: u8 = 0x04;
/// Ctrl-U: erases the line (cooked mode).
const CTRL_U: u8 = 0x15;
/// Backspace and DEL: erase one character (cooked mode).
const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7f;
/// The longest a single idle period lasts when nothing else bounds it.
const MAX_IDLE_NS: u64 = 50_000_000;
/// How long after the last input the virtio link is polled at its fastest rate; after that
/// an idle CPU checks it every [`SLOW_POLL_NS`], so a quiet machine stays quiet.
const FAST_POLL_WINDOW_NS: u64 = 500_000_000;
const SLOW_POLL_NS: u64 = 20_000_000;

static LINK: AtomicBool = AtomicBool::new(false);
/// Bytes the guest may still send on a virtio link (see [`cella_proto::LINK_WINDOW`]).
static CREDIT: AtomicUsize = AtomicUsize::new(cella_proto::LINK_WINDOW);
/// stdin is a terminal (typed by a person): programs see character devices.
static TERMINAL: AtomicBool = AtomicBool::new(true);
/// The kernel's line discipline edits the input (COM1, or the runner's raw terminal); off
/// when the host's terminal does it or stdin is a pipe.
static DISCIPLINE: AtomicBool = AtomicBool::new(true);
/// Raw input: bytes as typed, no echo (a line editor asked for it).
static RAW: AtomicBool = AtomicBool::new(false);
/// Ctrl-C was typed in cooked mode and not yet handled.
static INTERRUPT: AtomicBool = AtomicBool::new(false);
/// Ctrl-Z was typed in cooked mode and not yet handled.
static SUSPEND: AtomicBool = AtomicBool::new(false);
/// Input arrived since the scheduler last went idle.
static ARRIVED: AtomicBool = AtomicBool::new(false);
/// Monotonic time of the last input.
static LAST_INPUT_NS: AtomicU64 = AtomicU64::new(0);

/// stdin as received, after the line discipline.
struct Stdin {
    decoder: Decoder,
    data: VecDeque<u8>,
    /// End-of-file marks (Ctrl-D on an empty line), each as the number of bytes of `data`
    /// before it.
    eof_marks: VecDeque<usize>,
    /// The line being typed in cooked mode.
    line: Vec<u8>,
    /// The link delivered STDIN_EOF.
    eof: bool,
}

static STDIN: Mutex<Stdin> = Mutex::new(Stdin {
    decoder: Decoder::new(),
    data: VecDeque::new(),
    eof_marks: VecDeque::new(),
    line: Vec::new(),
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
        let typed = pump(&mut stdin);
        drop(stdin);
        echo(&typed);
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

/// Moves received bytes through the line discipline into [`STDIN`]; returns the echo to
/// print once the lock is released.
fn pump(stdin: &mut Stdin) -> Vec<u8> {
    let mut received = Vec::new();
    if is_link() {
        let Stdin {
            decoder, data, eof, ..
        } = stdin;
        let discipline = DISCIPLINE.load(Ordering::Relaxed);
        let mut arrived = false;
        link::receive(&mut |byte| {
            if let Some((tag, payload)) = decoder.push(byte) {
                match tag {
                    to_guest::STDIN if discipline => received.extend_from_slice(payload),
                    to_guest::STDIN => {
                        data.extend(payload);
                        arrived = true;
                    }
                    to_guest::STDIN_EOF => {
                        *eof = true;
                        arrived = true;
                    }
                    to_guest::CREDIT => {
                        if let Ok(bytes) = <[u8; 4]>::try_from(payload) {
                            CREDIT.fetch_add(u32::from_le_bytes(bytes) as usize, Ordering::AcqRel);
                        }
                    }
                    _ => {}
                }
            }
        });
        if arrived {
            note_input();
        }
    } else {
        serial::with_received(Com::Com1, |rx| received.extend(rx.drain(..)));
    }
    if received.is_empty() {
        return Vec::new();
    }
    note_input();
    if RAW.load(Ordering::Relaxed) {
        stdin.data.extend(received);
        return Vec::new();
    }
    let mut echo = Vec::new();
    for byte in received {
        cook(stdin, byte, &mut echo);
    }
    echo
}

fn note_input() {
    ARRIVED.store(true, Ordering::Release);
    LAST_INPUT_NS.store(time::monotonic_ns(), Ordering::Relaxed);
}

/// The cooked-mode line discipline, as a terminal's: echo, erase, whole lines, Ctrl-C,
/// Ctrl-Z and Ctrl-D.
fn cook(stdin: &mut Stdin, byte: u8, echo: &mut Vec<u8>) {
    match byte {
        b'\r' | b'\n' => {
            stdin.line.push(b'\n');
            echo.push(b'\n');
            stdin.data.extend(stdin.line.drain(..));
        }
        BACKSPACE | DELETE => {
            if stdin.line.pop().is_some() {
                echo.extend_from_slice(b"\x08 \x08");
            }
        }
        CTRL_U => {
            for _ in stdin.line.drain(..) {
                echo.extend_from_slice(b"\x08 \x08");
            }
        }
        CTRL_C => {
            stdin.line.clear();
            echo.extend_from_slice(b"^C\n");
            INTERRUPT.store(true, Ordering::Release);
        }
        CTRL_Z => {
            stdin.line.clear();
            echo.extend_from_slice(b"^Z\n");
            SUSPEND.store(true, Ordering::Release);
        }
        CTRL_D if stdin.line.is_empty() => stdin.eof_marks.push_back(stdin.data.len()),
        CTRL_D => stdin.data.extend(stdin.line.drain(..)),
        byte => {
            stdin.line.push(byte);
            echo.push(byte);
        }
    }
}

/// Prints an echo of typed input.
fn echo(bytes: &[u8]) {
    if !bytes.is_empty() {
        write(Stream::Stdout, bytes);
    }
}

fn poll(stdin: &Stdin) -> StdinPoll {
    match (stdin.eof_marks.front(), stdin.data.is_empty()) {
        (Some(0), _) => StdinPoll::Eof,
        (_, false) => StdinPoll::Ready,
        (_, true) if stdin.eof => StdinPoll::Eof,
        (_, true) => StdinPoll::Empty,
    }
}

/// Whether stdin has data, is at end of file, or is empty.
pub fn poll_stdin() -> StdinPoll {
    let mut stdin = STDIN.lock();
    let typed = pump(&mut stdin);
    let state = poll(&stdin);
    drop(stdin);
    echo(&typed);
    state
}

/// Reads stdin into `buf` without waiting: `Ok(0)` is end of file.
pub fn read_stdin(buf: &mut [u8]) -> Result<usize, WouldBlock> {
    if buf.is_empty() {
        return Ok(0);
    }
    let mut stdin = STDIN.lock();
    let typed = pump(&mut stdin);
    let result = match poll(&stdin) {
        StdinPoll::Eof => {
            if stdin.eof_marks.front() == Some(&0) {
                stdin.eof_marks.pop_front();
            }
            Ok(0)
        }
        StdinPoll::Ready => {
            // Up to the next end-of-file mark, which a later read returns.
            let available = stdin
                .eof_marks
                .front()
                .map_or(stdin.data.len(), |&mark| mark.min(stdin.data.len()));
            let count = buf.len().min(available);
            for (slot, byte) in buf.iter_mut().zip(stdin.data.drain(..count)) {
                *slot = byte;
            }
            for mark in stdin.eof_marks.iter_mut() {
                *mark = mark.saturating_sub(count);
            }
            Ok(count)
        }
        StdinPoll::Empty => Err(WouldBlock),
    };
    drop(stdin);
    echo(&typed);
    result
}

/// Says whether stdin is a terminal (the console, or the runner's terminal on the link),
/// and whether the kernel's line discipline edits its input (not when the host's does).
pub fn set_terminal(terminal: bool, discipline: bool) {
    TERMINAL.store(terminal, Ordering::Relaxed);
    DISCIPLINE.store(discipline, Ordering::Relaxed);
}

/// Whether stdin is a terminal.
pub fn is_terminal() -> bool {
    TERMINAL.load(Ordering::Relaxed)
}

/// Whether the kernel's line discipline edits the input, so that a program may switch it
/// to raw input (not when the host's terminal does the editing).
pub fn has_discipline() -> bool {
    DISCIPLINE.load(Ordering::Relaxed)
}

/// Switches the line discipline between raw and cooked input. Going raw hands over the line
/// typed so far.
pub fn set_raw(raw: bool) {
    let mut stdin = STDIN.lock();
    if raw {
        let Stdin { data, line, .. } = &mut *stdin;
        data.extend(line.drain(..));
    }
    RAW.store(raw, Ordering::Relaxed);
}

/// Whether Ctrl-C was typed since the last call.
pub fn take_interrupt() -> bool {
    poll_stdin();
    INTERRUPT.swap(false, Ordering::AcqRel)
}

/// Whether Ctrl-Z was typed since the last call (input is polled by [`take_interrupt`]).
pub fn take_suspend() -> bool {
    SUSPEND.swap(false, Ordering::AcqRel)
}

/// Halts the CPU while no process is ready: until the monotonic clock reaches `deadline`
/// (if any) or input arrives, whichever comes first (returning early is allowed).
pub fn idle(deadline: Option<u64>) {
    poll_stdin();
    if ARRIVED.swap(false, Ordering::AcqRel) {
        return;
    }
    let now = time::monotonic_ns();
    let remaining = match deadline.map(|deadline| deadline.saturating_sub(now)) {
        Some(0) => return,
        Some(remaining) => remaining,
        None => MAX_IDLE_NS,
    };
    // Input on the virtio link raises no interrupt here: poll it while idle, fast for a
    // while after the last input, then slowly.
    let longest = if is_link() && link::is_virtio() {
        let quiet = now.saturating_sub(LAST_INPUT_NS.load(Ordering::Relaxed));
        if quiet < FAST_POLL_WINDOW_NS {
            link::POLL_NS
        } else {
            SLOW_POLL_NS
        }
    } else {
        MAX_IDLE_NS
    };
    time::idle(remaining.min(longest));
}

/// Call right before pid 1's `_start`: on the link, sends STARTED (TSC at kernel entry, TSC now, TSC frequency).
pub fn mark_started() {
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
