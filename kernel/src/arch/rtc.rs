//! The CMOS real-time clock, read once at boot. Decoding is in [`crate::civil`].

use x86_64::instructions::port::Port;

use crate::civil::RawRtc;

const CMOS_INDEX: u16 = 0x70;
const CMOS_DATA: u16 = 0x71;

const REG_SECOND: u8 = 0x00;
const REG_MINUTE: u8 = 0x02;
const REG_HOUR: u8 = 0x04;
const REG_DAY: u8 = 0x07;
const REG_MONTH: u8 = 0x08;
const REG_YEAR: u8 = 0x09;
const REG_STATUS_A: u8 = 0x0a;
const REG_STATUS_B: u8 = 0x0b;
/// The century register QEMU and most PCs provide (the ACPI FADT may name another).
const REG_CENTURY: u8 = 0x32;
const STATUS_A_UPDATE_IN_PROGRESS: u8 = 0x80;
const STATUS_B_24_HOUR: u8 = 0x02;
const STATUS_B_BINARY: u8 = 0x04;
/// Attempts at reading two identical snapshots before giving up.
const MAX_ATTEMPTS: usize = 16;
/// Polls of status A while waiting for an update to finish (an update lasts < 2 ms).
const MAX_UIP_POLLS: usize = 1_000_000;

fn read(register: u8) -> u8 {
    // SAFETY: selecting and reading a CMOS register has no effect on memory.
    unsafe {
        Port::new(CMOS_INDEX).write(register);
        Port::<u8>::new(CMOS_DATA).read()
    }
}

fn snapshot() -> RawRtc {
    let mut polls = 0;
    while read(REG_STATUS_A) & STATUS_A_UPDATE_IN_PROGRESS != 0 && polls < MAX_UIP_POLLS {
        polls += 1;
        core::hint::spin_loop();
    }
    let status_b = read(REG_STATUS_B);
    RawRtc {
        second: read(REG_SECOND),
        minute: read(REG_MINUTE),
        hour: read(REG_HOUR),
        day: read(REG_DAY),
        month: read(REG_MONTH),
        year: read(REG_YEAR),
        century: Some(read(REG_CENTURY)),
        binary: status_b & STATUS_B_BINARY != 0,
        hour_24: status_b & STATUS_B_24_HOUR != 0,
    }
}

/// Reads the clock registers, repeating until two consecutive reads agree (so no update
/// happened in between).
pub fn read_raw() -> RawRtc {
    let mut previous = snapshot();
    for _ in 0..MAX_ATTEMPTS {
        let current = snapshot();
        if current == previous {
            break;
        }
        previous = current;
    }
    previous
}

/// The RTC's interrupt line on the PIC.
pub const IRQ: u8 = 8;
const REG_STATUS_C: u8 = 0x0c;
/// Status A's rate field (low 4 bits): the periodic interrupt runs at 32768 >> (rate - 1) Hz.
const STATUS_A_RATE: u8 = 0x0f;
/// Rate 6: 1024 Hz.
const RATE_1024_HZ: u8 = 6;
const STATUS_B_PERIODIC: u8 = 0x40;

fn write(register: u8, value: u8) {
    // SAFETY: selecting and writing a CMOS status register changes only the RTC's own
    // settings, not memory.
    unsafe {
        Port::new(CMOS_INDEX).write(register);
        Port::new(CMOS_DATA).write(value);
    }
}

/// Starts the periodic interrupt at 1024 Hz (independent of the PIT, which idle waits use).
/// Each interrupt must be acknowledged with [`acknowledge`] or no other comes.
pub fn start_periodic() {
    write(
        REG_STATUS_A,
        (read(REG_STATUS_A) & !STATUS_A_RATE) | RATE_1024_HZ,
    );
    write(REG_STATUS_B, read(REG_STATUS_B) | STATUS_B_PERIODIC);
    acknowledge();
}

/// Acknowledges an RTC interrupt (reading status C lets the next one come).
pub fn acknowledge() {
    read(REG_STATUS_C);
}
