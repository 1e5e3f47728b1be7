//! Reports of fatal kernel errors — CPU exceptions and panics (including running out of
//! memory) — on the console (COM1) and, in link mode, as an `Exit::KernelFault` frame on the
//! host link, followed by isa-debug-exit.
//!
//! The reporter takes no lock the faulting code could hold: it writes the UARTs directly,
//! and its allocations fall back to an emergency arena (see [`crate::mm`]). A fault during
//! a report prints a raw line on COM1 and stops.

use alloc::vec::Vec;
use core::fmt::{self, Write};
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cella_proto::{Exit, to_host};

use crate::arch::cpu;
use crate::arch::idt::{InterruptFrame, exception_name, vector};
use crate::drivers::qemu_exit;
use crate::drivers::serial::{self, Com};
use crate::{console, mm};

/// Longest report; longer messages are cut.
const MESSAGE_CAPACITY: usize = 1024;
/// Page fault error code bits.
const PF_PRESENT: u64 = 1 << 0;
const PF_WRITE: u64 = 1 << 1;
const PF_USER: u64 = 1 << 2;
const PF_RESERVED_BIT: u64 = 1 << 3;
const PF_INSTRUCTION_FETCH: u64 = 1 << 4;
/// The text Rust's default allocation error handler panics with.
const ALLOC_FAILURE_PREFIX: &str = "memory allocation of ";

static IN_PROGRESS: AtomicBool = AtomicBool::new(false);
/// Stack pointer at kernel entry, to recognise a kernel stack overflow.
static STACK_TOP: AtomicU64 = AtomicU64::new(0);
/// Size of the kernel stack (the bootloader puts a guard page below it).
static STACK_SIZE: AtomicU64 = AtomicU64::new(0);

/// Whether a fault is being reported.
pub fn in_progress() -> bool {
    IN_PROGRESS.load(Ordering::Relaxed)
}

/// Remembers the kernel stack's extent so a double fault on its guard page can be named.
pub fn set_kernel_stack(top: u64, size: u64) {
    STACK_TOP.store(top, Ordering::Relaxed);
    STACK_SIZE.store(size, Ordering::Relaxed);
}

/// A fixed-capacity message buffer: formatting into it never allocates.
struct Message {
    bytes: [u8; MESSAGE_CAPACITY],
    len: usize,
}

impl Message {
    const fn new() -> Message {
        Message {
            bytes: [0; MESSAGE_CAPACITY],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Write for Message {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MESSAGE_CAPACITY - self.len;
        let take = s.len().min(room);
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// Reports a CPU exception taken in the kernel and stops.
pub fn cpu_exception(frame: &InterruptFrame) -> ! {
    let mut message = Message::new();
    let _ = write!(
        message,
        "CPU exception {} ({}) at RIP={:#x}: CS={:#x} RFLAGS={:#x} RSP={:#x} error code={:#x}",
        frame.vector,
        exception_name(frame.vector),
        frame.rip,
        frame.cs,
        frame.rflags,
        frame.rsp,
        frame.error_code,
    );
    if frame.vector == vector::PAGE_FAULT {
        let code = frame.error_code;
        let _ = write!(
            message,
            " CR2={:#x} ({}, {}, {}{})",
            cpu::cr2(),
            if code & PF_PRESENT != 0 {
                "protection violation"
            } else {
                "page not present"
            },
            if code & PF_INSTRUCTION_FETCH != 0 {
                "instruction fetch"
            } else if code & PF_WRITE != 0 {
                "write"
            } else {
                "read"
            },
            if code & PF_USER != 0 {
                "user mode"
            } else {
                "kernel mode"
            },
            if code & PF_RESERVED_BIT != 0 {
                ", reserved bit set"
            } else {
                ""
            },
        );
    }
    if frame.vector == vector::DOUBLE_FAULT {
        let top = STACK_TOP.load(Ordering::Relaxed);
        let size = STACK_SIZE.load(Ordering::Relaxed);
        // The stack ran out if RSP is in the stack's range (the bootloader may round its
        // size up) and the slot the failed push aimed at is unmapped: the guard page.
        let in_stack = frame.rsp <= top && top - frame.rsp <= size.saturating_mul(2);
        let guard = mm::is_mapped(frame.rsp.wrapping_sub(8)) == Some(false);
        if in_stack && guard {
            let _ = write!(
                message,
                " - kernel stack overflow ({} KiB stack)",
                size / 1024
            );
        }
    }
    report(qemu_exit::CPU_EXCEPTION, message.as_bytes())
}

/// Reports a page fault on an untouched page of a large block when no frame is left to map
/// there, and stops.
pub fn out_of_memory_fault(frame: &InterruptFrame) -> ! {
    let mut message = Message::new();
    let stats = mm::stats();
    let _ = write!(
        message,
        "kernel out of memory: no free frame for the page at CR2={:#x} (RIP={:#x}; {} of {} bytes used)",
        cpu::cr2(),
        frame.rip,
        stats.used(),
        stats.total,
    );
    report(qemu_exit::CPU_EXCEPTION, message.as_bytes())
}

/// Reports a kernel panic (or allocation failure) and stops.
pub fn kernel_panic(info: &PanicInfo<'_>) -> ! {
    let mut text = Message::new();
    let _ = write!(text, "{}", info.message());
    let mut message = Message::new();
    if text.as_bytes().starts_with(ALLOC_FAILURE_PREFIX.as_bytes()) {
        let stats = mm::stats();
        let _ = write!(
            message,
            "kernel out of memory (requested {} bytes; {} of {} bytes used, {} bytes of free frames)",
            mm::last_failed_size(),
            stats.used(),
            stats.total,
            stats.free_frames,
        );
    } else {
        let _ = write!(message, "kernel panic");
        if let Some(location) = info.location() {
            let _ = write!(message, " at {}:{}", location.file(), location.line());
        }
        let _ = write!(message, ": {}", info.message());
    }
    report(qemu_exit::KERNEL_PANIC, message.as_bytes())
}

fn report(exit_value: u32, message: &[u8]) -> ! {
    cpu::disable_interrupts();
    if IN_PROGRESS.swap(true, Ordering::SeqCst) {
        serial::emergency_write(Com::Com1, b"\r\n*** Cella: fault while reporting a fault: ");
        serial::emergency_write(Com::Com1, message);
        serial::emergency_write(Com::Com1, b"\r\n");
        serial::emergency_flush(Com::Com1);
        qemu_exit::exit(qemu_exit::NESTED_FAULT);
    }
    serial::emergency_write(Com::Com1, b"\r\n*** Cella kernel fault: ");
    serial::emergency_write(Com::Com1, message);
    serial::emergency_write(Com::Com1, b"\r\n");
    if console::is_link() {
        let payload = Exit::KernelFault(message.to_vec()).encode();
        let mut frame = Vec::with_capacity(payload.len() + cella_proto::HEADER_LEN);
        cella_proto::encode_frame(&mut frame, to_host::EXIT, &payload);
        serial::emergency_write(Com::Com2, &frame);
        serial::emergency_flush(Com::Com2);
    }
    serial::emergency_flush(Com::Com1);
    qemu_exit::exit(exit_value)
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    kernel_panic(info)
}
