//! x86_64 machine code: CPU instructions, descriptor tables, exception and interrupt entry,
//! the legacy interrupt controller and timers, and the CMOS clock. Most of the kernel's
//! `unsafe` lives here, behind safe functions.

pub mod cpu;
pub mod gdt;
pub mod idt;
pub mod pic;
pub mod pit;
pub mod rtc;

/// Loads the kernel's GDT (with the TSS and its interrupt stacks) and IDT. Interrupts stay
/// disabled: the kernel only takes them while idle (see [`cpu::enable_and_hlt`]).
pub fn init() {
    cpu::disable_interrupts();
    gdt::init();
    idt::init();
}
