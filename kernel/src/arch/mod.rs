//! x86_64 machine code: CPU instructions, descriptor tables, exception and interrupt entry,
//! page tables, the legacy interrupt controller and timers, and the CMOS clock. Most of the kernel's
//! `unsafe` lives here, behind safe functions.

#[cfg(target_os = "none")]
pub mod cpu;
#[cfg(target_os = "none")]
pub mod gdt;
#[cfg(target_os = "none")]
pub mod idt;
pub mod paging;
#[cfg(target_os = "none")]
pub mod pic;
#[cfg(target_os = "none")]
pub mod pit;
#[cfg(target_os = "none")]
pub mod pvh;
#[cfg(target_os = "none")]
pub mod rtc;

/// Loads the kernel's GDT (with the TSS and its interrupt stacks) and IDT. Interrupts stay
/// disabled: the kernel only takes them while idle (see [`cpu::enable_and_hlt`]).
#[cfg(target_os = "none")]
pub fn init() {
    cpu::disable_interrupts();
    gdt::init();
    idt::init();
}
