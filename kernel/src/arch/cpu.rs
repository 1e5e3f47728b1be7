//! Single CPU instructions wrapped as safe functions: time stamp counter, CPUID, hardware
//! random numbers, interrupt flag and halting.

use core::arch::asm;

/// MXCSR as WebAssembly's float semantics need it (and as the CPU resets it): every SSE
/// exception masked, round to nearest even, denormals neither flushed nor treated as zero.
pub const MXCSR_DEFAULT: u32 = 0x1f80;
/// CPUID leaf 1 ECX bit 30: RDRAND is available.
const CPUID_1_ECX_RDRAND: u32 = 1 << 30;
/// CPUID leaf 7 (subleaf 0) EBX bit 18: RDSEED is available.
const CPUID_7_EBX_RDSEED: u32 = 1 << 18;

/// Reads the time stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    let low: u32;
    let high: u32;
    // SAFETY: RDTSC only reads the counter into EDX:EAX; it is unprivileged unless CR4.TSD,
    // which the kernel never sets.
    unsafe {
        asm!("rdtsc", out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags));
    }
    (u64::from(high) << 32) | u64::from(low)
}

/// The stack pointer of the caller (approximately: the current RSP).
#[inline(always)]
pub fn stack_pointer() -> u64 {
    let rsp: u64;
    // SAFETY: copies RSP into a register, nothing else.
    unsafe {
        asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack, preserves_flags));
    }
    rsp
}

/// Result of a CPUID query.
#[derive(Clone, Copy, Debug)]
pub struct Cpuid {
    /// EAX.
    pub eax: u32,
    /// EBX.
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
}

/// Executes CPUID for `leaf` and `subleaf`.
pub fn cpuid(leaf: u32, subleaf: u32) -> Cpuid {
    let (eax, ebx, ecx, edx): (u32, u32, u32, u32);
    // SAFETY: CPUID has no side effects besides writing the four registers. LLVM reserves RBX,
    // so it is saved in a scratch register around the instruction.
    unsafe {
        asm!(
            "mov {saved:r}, rbx",
            "cpuid",
            "xchg {saved:r}, rbx",
            saved = out(reg) ebx,
            inout("eax") leaf => eax,
            inout("ecx") subleaf => ecx,
            out("edx") edx,
            options(nomem, nostack, preserves_flags),
        );
    }
    Cpuid { eax, ebx, ecx, edx }
}

/// Proof that the CPU has RDRAND: only [`RdRand::detect`] makes one, so holding it makes
/// [`RdRand::next`] sound.
#[derive(Clone, Copy, Debug)]
pub struct RdRand(());

impl RdRand {
    /// `Some` if CPUID reports RDRAND.
    pub fn detect() -> Option<RdRand> {
        (cpuid(1, 0).ecx & CPUID_1_ECX_RDRAND != 0).then_some(RdRand(()))
    }

    /// One RDRAND attempt: `None` when the CPU reports no value ready (CF = 0).
    pub fn next(self) -> Option<u64> {
        let value: u64;
        let ok: u8;
        // SAFETY: `self` exists only if CPUID reported RDRAND; the instruction writes one
        // register and the carry flag, nothing else.
        unsafe {
            asm!("rdrand {v}", "setc {ok}", v = out(reg) value, ok = out(reg_byte) ok,
                 options(nomem, nostack));
        }
        (ok != 0).then_some(value)
    }
}

/// Proof that the CPU has RDSEED, as [`RdRand`] is for RDRAND.
#[derive(Clone, Copy, Debug)]
pub struct RdSeed(());

impl RdSeed {
    /// `Some` if CPUID reports RDSEED.
    pub fn detect() -> Option<RdSeed> {
        let has = cpuid(0, 0).eax >= 7 && cpuid(7, 0).ebx & CPUID_7_EBX_RDSEED != 0;
        has.then_some(RdSeed(()))
    }

    /// One RDSEED attempt: `None` when the CPU reports no value ready (CF = 0).
    pub fn next(self) -> Option<u64> {
        let value: u64;
        let ok: u8;
        // SAFETY: `self` exists only if CPUID reported RDSEED; the instruction writes one
        // register and the carry flag, nothing else.
        unsafe {
            asm!("rdseed {v}", "setc {ok}", v = out(reg) value, ok = out(reg_byte) ok,
                 options(nomem, nostack));
        }
        (ok != 0).then_some(value)
    }
}

/// Reads CR2, the address of the last page fault.
pub fn cr2() -> u64 {
    x86_64::registers::control::Cr2::read_raw()
}

/// Sets the interrupt flag (the kernel normally runs without it, taking interrupts only
/// while halted; the profiler needs them everywhere).
pub fn enable_interrupts() {
    x86_64::instructions::interrupts::enable();
}

/// Clears the interrupt flag.
pub fn disable_interrupts() {
    x86_64::instructions::interrupts::disable();
}

/// Runs `f` with interrupts disabled, restoring the previous state afterwards.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    x86_64::instructions::interrupts::without_interrupts(f)
}

/// Enables interrupts and halts until the next one, as the atomic pair `sti; hlt`: an
/// interrupt that becomes pending between the two still wakes the `hlt`. Interrupts are
/// disabled again on return, after the handler ran.
pub fn enable_and_hlt() {
    x86_64::instructions::interrupts::enable_and_hlt();
    x86_64::instructions::interrupts::disable();
}

/// Stops the CPU for good: interrupts off, `hlt` forever (an NMI only loops back).
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// An address no mapping covers: in the lower half, below where anything is placed.
const UNMAPPED_ADDRESS: u64 = 0x0000_0000_0000_0010;

/// Reads from an unmapped address, to provoke a page fault (a test of fault reporting).
pub fn read_unmapped() {
    // SAFETY: the load faults before anything is read; the page-fault handler reports it and
    // never returns here. No Rust reference is formed to the address.
    unsafe {
        asm!("mov {tmp}, qword ptr [{address}]", address = in(reg) UNMAPPED_ADDRESS, tmp = out(reg) _,
             options(nostack, readonly));
    }
}
