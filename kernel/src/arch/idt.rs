//! The interrupt descriptor table and the entry stubs for CPU exceptions (vectors 0–31) and
//! the legacy PIC's interrupts (32–47).
//!
//! `extern "x86-interrupt"` needs nightly, so the stubs are written in assembly: each pushes
//! a dummy error code where the CPU pushes none, then its vector number, and jumps to a
//! common path that saves the general-purpose registers and the SSE state and calls
//! [`dispatch`] with a pointer to the resulting [`InterruptFrame`]. Stubs are 16 bytes apart, so the IDT is filled from
//! one base address.

use core::arch::global_asm;

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, Segment};
use x86_64::instructions::tables::lidt;
use x86_64::structures::DescriptorTablePointer;

use super::gdt::{DOUBLE_FAULT_IST, MACHINE_CHECK_IST, NMI_IST};
use super::pic;

/// Number of vectors with a stub: 32 exceptions and 16 PIC lines.
const STUB_COUNT: usize = 48;
/// Distance between two stubs (see the `.org` in the assembly).
const STUB_SIZE: u64 = 16;
/// Size of the FXSAVE area (x87, MMX and SSE state), a multiple of its 16-byte alignment.
const FXSAVE_AREA_SIZE: usize = 512;
/// Gate attributes: present, DPL 0, 64-bit interrupt gate (clears IF on entry).
const INTERRUPT_GATE: u8 = 0x8e;

/// Vector numbers of the exceptions the kernel names specially.
pub mod vector {
    /// Non-maskable interrupt.
    pub const NMI: u64 = 2;
    /// Double fault.
    pub const DOUBLE_FAULT: u64 = 8;
    /// Page fault.
    pub const PAGE_FAULT: u64 = 14;
    /// Machine check.
    pub const MACHINE_CHECK: u64 = 18;
    /// First vector of the remapped PIC.
    pub const PIC_BASE: u64 = 32;
}

global_asm!(
    ".pushsection .text.cella_isr, \"ax\"",
    // Vectors for which the CPU pushes an error code.
    ".macro CELLA_ISR vector",
    "  .org cella_isr_stubs + \\vector * 16",
    "  .if (\\vector == 8) || (\\vector == 10) || (\\vector == 11) || (\\vector == 12) || (\\vector == 13) || (\\vector == 14) || (\\vector == 17) || (\\vector == 21) || (\\vector == 29) || (\\vector == 30)",
    "  .else",
    "    push 0",
    "  .endif",
    "  push \\vector",
    "  jmp cella_isr_common",
    ".endm",
    ".balign 16",
    ".global cella_isr_stubs",
    ".hidden cella_isr_stubs",
    "cella_isr_stubs:",
    ".irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47",
    "  CELLA_ISR \\v",
    ".endr",
    ".org cella_isr_stubs + 48 * 16",
    "cella_isr_common:",
    "  push rax",
    "  push rbx",
    "  push rcx",
    "  push rdx",
    "  push rsi",
    "  push rdi",
    "  push rbp",
    "  push r8",
    "  push r9",
    "  push r10",
    "  push r11",
    "  push r12",
    "  push r13",
    "  push r14",
    "  push r15",
    // The CPU aligned RSP to 16 before pushing its 5-word frame; with the error code, the
    // vector and 15 registers (22 words) RSP is 16-byte aligned here, as the call and
    // FXSAVE need. The kernel is built for SSE2, so any Rust code — the page-fault
    // handler's zeroing of a page included — may use the XMM registers and MXCSR that the
    // interrupted code (a float-heavy Wasm program) holds live: they are saved below the
    // frame and restored after. RBP keeps the frame's address across the call.
    "  mov rbp, rsp",
    "  sub rsp, {fx_area}",
    "  fxsave64 [rsp]",
    "  cld",
    "  mov rdi, rbp",
    "  call {dispatch}",
    "  fxrstor64 [rsp]",
    "  mov rsp, rbp",
    "  pop r15",
    "  pop r14",
    "  pop r13",
    "  pop r12",
    "  pop r11",
    "  pop r10",
    "  pop r9",
    "  pop r8",
    "  pop rbp",
    "  pop rdi",
    "  pop rsi",
    "  pop rdx",
    "  pop rcx",
    "  pop rbx",
    "  pop rax",
    // Drop the vector and the error code.
    "  add rsp, 16",
    "  iretq",
    ".popsection",
    dispatch = sym dispatch,
    fx_area = const FXSAVE_AREA_SIZE,
);

unsafe extern "C" {
    /// First byte of the stub of vector 0; the stub of vector `n` is `n * 16` bytes further.
    safe static cella_isr_stubs: u8;
}

/// The stack as the common entry path leaves it: saved registers, vector, error code, and
/// the frame the CPU pushed.
#[repr(C)]
#[derive(Debug)]
#[allow(missing_docs, reason = "register names say it all")]
pub struct InterruptFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// The vector number pushed by the stub.
    pub vector: u64,
    /// The CPU's error code, or 0 for vectors without one.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// One 16-byte IDT gate.
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        attributes: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    fn new(handler: u64, selector: u16, ist: u8) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector,
            ist,
            attributes: INTERRUPT_GATE,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: Once<Idt> = Once::new();

/// Builds and loads the IDT. Call after [`super::gdt::init`] (gates use the current CS).
pub fn init() {
    let idt = IDT.call_once(|| {
        let base = &raw const cella_isr_stubs as u64;
        let selector = CS::get_reg().0;
        let mut gates = [Gate::MISSING; 256];
        for (vector, gate) in gates.iter_mut().enumerate().take(STUB_COUNT) {
            let ist = match vector as u64 {
                vector::DOUBLE_FAULT => DOUBLE_FAULT_IST,
                vector::NMI => NMI_IST,
                vector::MACHINE_CHECK => MACHINE_CHECK_IST,
                _ => 0,
            };
            *gate = Gate::new(base + vector as u64 * STUB_SIZE, selector, ist);
        }
        Idt(gates)
    });
    let pointer = DescriptorTablePointer {
        limit: (size_of::<Idt>() - 1) as u16,
        base: VirtAddr::new(idt as *const Idt as u64),
    };
    // SAFETY: the IDT lives forever (in a `Once`) and every present gate points at a stub
    // above, in the kernel code segment just loaded.
    unsafe { lidt(&pointer) };
}

/// Called by the common entry path, with interrupts disabled, for every vector.
extern "C" fn dispatch(frame: &mut InterruptFrame) {
    if frame.vector == vector::PAGE_FAULT {
        // Untouched pages of large blocks are mapped on demand (see `mm`).
        match crate::mm::on_page_fault(super::cpu::cr2(), frame.error_code) {
            crate::mm::PageFault::Resolved => return,
            crate::mm::PageFault::OutOfMemory => crate::fault::out_of_memory_fault(frame),
            crate::mm::PageFault::Unhandled => {}
        }
    }
    if frame.vector < vector::PIC_BASE {
        crate::fault::cpu_exception(frame);
    }
    let irq = (frame.vector - vector::PIC_BASE) as u8;
    if pic::is_spurious(irq) {
        return;
    }
    match irq {
        pic::IRQ_TIMER => {}
        super::rtc::IRQ => crate::profile::on_irq(frame.rip),
        pic::IRQ_COM1 => crate::drivers::serial::on_irq(crate::drivers::serial::Com::Com1),
        pic::IRQ_COM2 => crate::drivers::serial::on_irq(crate::drivers::serial::Com::Com2),
        _ => crate::drivers::net::on_irq(irq),
    }
    pic::end_of_interrupt(irq);
}

/// The name of CPU exception `vector`.
pub fn exception_name(vector: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "divide error",
        "debug",
        "non-maskable interrupt",
        "breakpoint",
        "overflow",
        "bound range exceeded",
        "invalid opcode",
        "device not available",
        "double fault",
        "coprocessor segment overrun",
        "invalid TSS",
        "segment not present",
        "stack-segment fault",
        "general protection fault",
        "page fault",
        "reserved (15)",
        "x87 floating-point error",
        "alignment check",
        "machine check",
        "SIMD floating-point error",
        "virtualization exception",
        "control protection exception",
        "reserved (22)",
        "reserved (23)",
        "reserved (24)",
        "reserved (25)",
        "reserved (26)",
        "reserved (27)",
        "hypervisor injection exception",
        "VMM communication exception",
        "security exception",
        "reserved (31)",
    ];
    NAMES
        .get(vector as usize)
        .copied()
        .unwrap_or("unknown vector")
}
