//! QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`): a write
//! of `v` ends QEMU with status `(v << 1) | 1`. The host runner relies on the link's EXIT
//! frame, not on this value; it is for people and scripts booting the image by hand.
//!
//! | `v` | QEMU status | meaning |
//! | --- | --- | --- |
//! | `0x00` | 1 | success: the program exited with 0, or no program (banner shown) |
//! | `0x01`–`0x77` | 3–239 | the program exited with that status |
//! | `0x77` | 239 | the program exited with a status ≥ 119 |
//! | `0x78` | 241 | the program trapped |
//! | `0x79` | 243 | the program could not be loaded (or the run configuration was invalid) |
//! | `0x7b` | 247 | the Wasm runtime reported a kernel fault (`Exit::KernelFault`) |
//! | `0x7d` | 251 | CPU exception in the kernel |
//! | `0x7e` | 253 | kernel panic, including kernel out of memory |
//! | `0x7f` | 255 | a fault while reporting a fault |

use x86_64::instructions::port::Port;

use crate::arch::cpu;

/// I/O port of the isa-debug-exit device.
const ISA_DEBUG_EXIT_PORT: u16 = 0xf4;

/// The program exited with status 0, or there was nothing to run.
pub const SUCCESS: u32 = 0x00;
/// Largest program status passed through as is; higher statuses are clamped to it.
pub const MAX_PROGRAM_STATUS: u32 = 0x77;
/// The program trapped.
pub const TRAPPED: u32 = 0x78;
/// The program could not be loaded.
pub const LOAD_FAILED: u32 = 0x79;
/// The Wasm runtime gave up with a kernel fault.
pub const RUNTIME_FAULT: u32 = 0x7b;
/// A CPU exception in the kernel.
pub const CPU_EXCEPTION: u32 = 0x7d;
/// A kernel panic (including allocation failure).
pub const KERNEL_PANIC: u32 = 0x7e;
/// A fault while a fault was being reported.
pub const NESTED_FAULT: u32 = 0x7f;

/// The debug-exit value for a program that exited with `status`.
pub fn program_status(status: u32) -> u32 {
    status.min(MAX_PROGRAM_STATUS)
}

/// Ends QEMU with `value`; without the device, halts the CPU for good (interrupts off, so
/// no reboot loop and no triple fault).
pub fn exit(value: u32) -> ! {
    // SAFETY: the isa-debug-exit port has no effect on memory; on a machine without the
    // device the write is ignored.
    unsafe { Port::new(ISA_DEBUG_EXIT_PORT).write(value) };
    cpu::halt_forever()
}
