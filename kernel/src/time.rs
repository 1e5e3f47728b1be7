//! Clocks: a monotonic clock from the TSC (calibrated against the PIT), real time from the
//! CMOS RTC read at boot plus monotonic time since, and the time the CPU spent halted in
//! [`idle`]. Each process's CPU time is the sum of its slices (see `process`).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::{cpu, pit, rtc};

const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Used when the PIT cannot calibrate the TSC: QEMU's TCG TSC runs at about this rate.
const FALLBACK_TSC_HZ: u64 = 1_000_000_000;

/// TSC value at kernel entry: monotonic time 0.
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(FALLBACK_TSC_HZ);
/// Nanoseconds per TSC tick as a 32.32 fixed-point number.
static NS_PER_TICK_FP32: AtomicU64 = AtomicU64::new(1 << 32);
/// Unix time in ns of the RTC reading, and the monotonic time when it was taken.
static RTC_UNIX_NS: AtomicU64 = AtomicU64::new(0);
static RTC_MONOTONIC_NS: AtomicU64 = AtomicU64::new(0);
/// Total time spent halted in [`idle`] (no process ready).
static HALTED_NS: AtomicU64 = AtomicU64::new(0);

/// Calibrates the TSC (`entry_tsc` is the TSC at kernel entry, monotonic time 0) and reads
/// the RTC.
pub fn init(entry_tsc: u64) {
    BOOT_TSC.store(entry_tsc, Ordering::Relaxed);
    let hz = match pit::calibrate_tsc() {
        Some(hz) if hz > 0 => hz,
        _ => {
            log::warn!("TSC calibration failed; assuming {FALLBACK_TSC_HZ} Hz");
            FALLBACK_TSC_HZ
        }
    };
    TSC_HZ.store(hz, Ordering::Relaxed);
    let fp = (u128::from(NANOS_PER_SEC) << 32) / u128::from(hz);
    NS_PER_TICK_FP32.store(u64::try_from(fp).unwrap_or(u64::MAX), Ordering::Relaxed);

    let raw = rtc::read_raw();
    let monotonic = monotonic_ns();
    match raw.decode().and_then(|date| date.unix_seconds()) {
        Some(seconds) => {
            RTC_UNIX_NS.store(seconds.saturating_mul(NANOS_PER_SEC), Ordering::Relaxed);
            RTC_MONOTONIC_NS.store(monotonic, Ordering::Relaxed);
        }
        None => log::warn!("the RTC holds no valid date ({raw:?}); real time starts at 1970"),
    }
    log::debug!("TSC {} kHz, RTC {:?}", hz / 1000, raw.decode());
}

/// The calibrated TSC frequency in Hz.
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// The TSC at kernel entry.
pub fn boot_tsc() -> u64 {
    BOOT_TSC.load(Ordering::Relaxed)
}

fn ticks_to_ns(ticks: u64) -> u64 {
    let fp = u128::from(NS_PER_TICK_FP32.load(Ordering::Relaxed));
    u64::try_from((u128::from(ticks) * fp) >> 32).unwrap_or(u64::MAX)
}

/// Nanoseconds since kernel entry.
pub fn monotonic_ns() -> u64 {
    ticks_to_ns(cpu::rdtsc().saturating_sub(boot_tsc()))
}

/// Nanoseconds since the Unix epoch (UTC).
pub fn realtime_ns() -> u64 {
    let since_rtc = monotonic_ns().saturating_sub(RTC_MONOTONIC_NS.load(Ordering::Relaxed));
    RTC_UNIX_NS
        .load(Ordering::Relaxed)
        .saturating_add(since_rtc)
}

/// Resolution of every clock: one TSC tick, rounded up to whole nanoseconds.
pub fn resolution_ns() -> u64 {
    NANOS_PER_SEC.div_ceil(tsc_hz()).max(1)
}

/// Nanoseconds the CPU has spent halted since boot.
pub fn halted_ns() -> u64 {
    HALTED_NS.load(Ordering::Relaxed)
}

/// Halts the CPU until the next interrupt, at most about `max_ns` nanoseconds (the PIT
/// one-shot is armed for that long, up to its 55 ms maximum), and counts the time halted.
pub fn idle(max_ns: u64) {
    pit::arm_oneshot(pit::ticks_for_ns(max_ns));
    let before = cpu::rdtsc();
    cpu::enable_and_hlt();
    if crate::profile::running() {
        cpu::enable_interrupts();
    }
    let halted = ticks_to_ns(cpu::rdtsc().saturating_sub(before));
    HALTED_NS.fetch_add(halted, Ordering::Relaxed);
}
