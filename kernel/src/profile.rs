//! A sampling profiler of the whole machine: with the run configuration's `profile` flag,
//! the RTC's periodic interrupt (1024 Hz, apart from the PIT that idle waits use) records
//! the instruction it interrupted. Programs run inside wasmi, so the kernel's functions
//! tell where a program's time goes too: the interpreter's loop for its own code, `wasi-abi`
//! and the stack for its syscalls, `hlt` for idleness. At the end of the run [`report`] logs
//! each address with its count; `boot/bench/profile.sh` resolves them to function names.
//!
//! The kernel normally takes interrupts only while halted; while sampling, it runs with them
//! enabled (every handler is written for that: they only touch atomics or take their locks
//! with interrupts off).
//!
//! Samples go into a fixed open-addressing table (interrupt context cannot allocate);
//! addresses that find no free slot are counted as dropped.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::arch::{cpu, pic, rtc};

/// Slots of the table: distinct addresses it can hold (a power of two).
const SLOTS: usize = 1 << 14;
/// Slots probed after an address's own before it is dropped.
const MAX_PROBES: usize = 64;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ADDRESSES: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
static COUNTS: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];
static DROPPED: AtomicU32 = AtomicU32::new(0);

/// The symbol whose run-time address the report gives, so the host can relocate the
/// addresses against the kernel ELF (the kernel is position-independent). A static: an
/// empty function would share its address with other empty functions.
#[unsafe(no_mangle)]
pub static CELLA_PROFILE_ANCHOR: AtomicU32 = AtomicU32::new(0);

/// Starts sampling.
pub fn start() {
    ENABLED.store(true, Ordering::Release);
    rtc::start_periodic();
    pic::set_masked(rtc::IRQ, false);
    cpu::enable_interrupts();
}

/// Whether sampling is on (and so interrupts are to stay enabled).
pub fn running() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The RTC interrupt, with the interrupted instruction's address.
pub fn on_irq(rip: u64) {
    rtc::acknowledge();
    if !ENABLED.load(Ordering::Acquire) {
        return;
    }
    let start = (rip.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 50) as usize;
    for probe in 0..MAX_PROBES {
        let slot = (start + probe) % SLOTS;
        let address = &ADDRESSES[slot];
        let current = address.load(Ordering::Relaxed);
        if current == rip
            || (current == 0
                && address
                    .compare_exchange(0, rip, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok())
        {
            COUNTS[slot].fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    DROPPED.fetch_add(1, Ordering::Relaxed);
}

/// Logs the samples (`profile: ADDRESS COUNT` lines, the anchor first) if sampling ran.
pub fn report() {
    if !ENABLED.swap(false, Ordering::AcqRel) {
        return;
    }
    cpu::disable_interrupts();
    pic::set_masked(rtc::IRQ, true);
    log::info!(
        "profile: anchor {:#x}",
        &CELLA_PROFILE_ANCHOR as *const AtomicU32 as usize
    );
    log::info!("profile: dropped {}", DROPPED.load(Ordering::Relaxed));
    for (address, count) in ADDRESSES.iter().zip(&COUNTS) {
        let count = count.load(Ordering::Relaxed);
        if count > 0 {
            log::info!("profile: {:#x} {count}", address.load(Ordering::Relaxed));
        }
    }
}
