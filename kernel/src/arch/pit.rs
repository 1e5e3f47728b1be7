//! The 8254 programmable interval timer: channel 0 as a one-shot wake-up timer for idle
//! waits, channel 2 (gated through port 0x61) to calibrate the TSC.

use x86_64::instructions::port::Port;

use super::cpu;

/// Input clock of the PIT.
pub const FREQUENCY_HZ: u64 = 1_193_182;
/// Largest count: about 54.9 ms.
pub const MAX_TICKS: u64 = 0xffff;

const CHANNEL0_DATA: u16 = 0x40;
const CHANNEL2_DATA: u16 = 0x42;
const COMMAND: u16 = 0x43;
/// System control port B: bit 0 gates channel 2, bit 1 drives the speaker, bit 5 reads
/// channel 2's output.
const PORT_B: u16 = 0x61;
const PORT_B_GATE2: u8 = 1 << 0;
const PORT_B_SPEAKER: u8 = 1 << 1;
const PORT_B_OUT2: u8 = 1 << 5;

/// Command byte fields: channel select (bits 7–6), access low then high byte (bits 5–4),
/// mode 0 "interrupt on terminal count" (bits 3–1), binary counting (bit 0 clear).
const CMD_CHANNEL0: u8 = 0 << 6;
const CMD_CHANNEL2: u8 = 2 << 6;
const CMD_ACCESS_LOW_HIGH: u8 = 3 << 4;
const CMD_MODE0: u8 = 0 << 1;
/// Command: channel 0 as a one-shot.
const CMD_CHANNEL0_ONESHOT: u8 = CMD_CHANNEL0 | CMD_ACCESS_LOW_HIGH | CMD_MODE0;
/// Command: channel 2 as a one-shot.
const CMD_CHANNEL2_ONESHOT: u8 = CMD_CHANNEL2 | CMD_ACCESS_LOW_HIGH | CMD_MODE0;

/// Length of the TSC calibration window.
const CALIBRATION_MS: u64 = 20;

fn outb(port: u16, value: u8) {
    // SAFETY: PIT and port B registers affect timers and the speaker, not memory.
    unsafe { Port::new(port).write(value) }
}

fn inb(port: u16) -> u8 {
    // SAFETY: reading PIT and port B registers has no effect on memory.
    unsafe { Port::new(port).read() }
}

/// Arms channel 0 to raise IRQ 0 once after `ticks` PIT ticks (clamped to 1..=[`MAX_TICKS`]).
pub fn arm_oneshot(ticks: u64) {
    let ticks = ticks.clamp(1, MAX_TICKS) as u16;
    let [low, high] = ticks.to_le_bytes();
    outb(COMMAND, CMD_CHANNEL0_ONESHOT);
    outb(CHANNEL0_DATA, low);
    outb(CHANNEL0_DATA, high);
}

/// PIT ticks (rounded up) covering `ns` nanoseconds, saturating at [`MAX_TICKS`].
pub fn ticks_for_ns(ns: u64) -> u64 {
    let ticks = (u128::from(ns) * u128::from(FREQUENCY_HZ)).div_ceil(1_000_000_000);
    ticks.min(u128::from(MAX_TICKS)) as u64
}

/// Measures the TSC frequency in Hz by counting TSC ticks while PIT channel 2 counts down
/// [`CALIBRATION_MS`] milliseconds. Returns `None` if channel 2 never finishes (no PIT).
pub fn calibrate_tsc() -> Option<u64> {
    let ticks = FREQUENCY_HZ * CALIBRATION_MS / 1000;
    let [low, high] = (ticks as u16).to_le_bytes();
    // Gate low and speaker off while programming, so counting starts when the gate rises.
    let port_b = inb(PORT_B) & !(PORT_B_GATE2 | PORT_B_SPEAKER);
    outb(PORT_B, port_b);
    outb(COMMAND, CMD_CHANNEL2_ONESHOT);
    outb(CHANNEL2_DATA, low);
    outb(CHANNEL2_DATA, high);
    outb(PORT_B, port_b | PORT_B_GATE2);
    let start = cpu::rdtsc();
    // Bounded: even a 100 GHz TSC would not reach this limit within the window.
    let limit = start.wrapping_add(1 << 40);
    while inb(PORT_B) & PORT_B_OUT2 == 0 {
        if cpu::rdtsc() > limit {
            outb(PORT_B, port_b);
            return None;
        }
    }
    let end = cpu::rdtsc();
    outb(PORT_B, port_b);
    Some((end - start) * 1000 / CALIBRATION_MS)
}
