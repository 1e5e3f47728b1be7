//! The two 16550 UARTs: COM1 (the console) and COM2 (the host link).
//!
//! Received bytes are moved from the UART's FIFO into a buffer in memory, by the serial
//! interrupt while the kernel idles and by polling otherwise. Transmission is polled. The
//! `emergency_*` functions bypass every lock for the fault reporter.
//!
//! The driver is written out rather than taken from `uart_16550`, whose initialisation
//! discards whatever the UART already received: the host runner may start sending stdin
//! frames before the kernel is up, and those bytes must survive. Initialisation here first
//! saves them, and never resets the FIFOs.

use alloc::collections::VecDeque;

use spin::Mutex;
use x86_64::instructions::port::Port;

use crate::arch::cpu;

/// Base I/O port of COM1.
const COM1_BASE: u16 = 0x3f8;
/// Base I/O port of COM2.
const COM2_BASE: u16 = 0x2f8;

/// Register offsets from the base port.
const REG_DATA: u16 = 0;
const REG_INTERRUPT_ENABLE: u16 = 1;
const REG_FIFO_CONTROL: u16 = 2;
const REG_LINE_CONTROL: u16 = 3;
const REG_MODEM_CONTROL: u16 = 4;
const REG_LINE_STATUS: u16 = 5;
const REG_SCRATCH: u16 = 7;
/// With DLAB set, offsets 0 and 1 are the divisor latch.
const REG_DIVISOR_LOW: u16 = 0;
const REG_DIVISOR_HIGH: u16 = 1;

/// LCR: divisor latch access.
const LCR_DLAB: u8 = 0x80;
/// LCR: 8 data bits, no parity, one stop bit.
const LCR_8N1: u8 = 0x03;
/// Divisor for 115200 baud from the 1.8432 MHz clock.
const DIVISOR_115200: u16 = 1;
/// FCR: FIFOs on, receive trigger at 14 bytes. No reset bits: received bytes stay.
const FCR_ENABLE_TRIGGER_14: u8 = 0xc1;
/// MCR: DTR, RTS, and OUT2 (which gates the interrupt line on PCs).
const MCR_DTR_RTS_OUT2: u8 = 0x0b;
/// IER: interrupt when received data is available.
const IER_RECEIVED_DATA: u8 = 0x01;
/// LSR: a received byte is waiting.
const LSR_DATA_READY: u8 = 1 << 0;
/// LSR: the transmit holding register (FIFO) can take a byte.
const LSR_THR_EMPTY: u8 = 1 << 5;
/// LSR: the transmitter is completely idle, FIFO and shift register.
const LSR_TRANSMITTER_EMPTY: u8 = 1 << 6;
/// Bytes the transmit FIFO holds once LSR says it is empty.
const TX_FIFO_SIZE: usize = 16;
/// Polls of the LSR before the emergency writer gives up on a stuck UART.
const EMERGENCY_POLLS: usize = 1_000_000;
/// Patterns written to the scratch register to check that a UART answers.
const SCRATCH_PATTERNS: [u8; 2] = [0x5a, 0xa5];

/// A serial port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Com {
    /// COM1 at 0x3f8: the console.
    Com1,
    /// COM2 at 0x2f8: the host link.
    Com2,
}

impl Com {
    const fn base(self) -> u16 {
        match self {
            Com::Com1 => COM1_BASE,
            Com::Com2 => COM2_BASE,
        }
    }

    const fn index(self) -> usize {
        match self {
            Com::Com1 => 0,
            Com::Com2 => 1,
        }
    }

    fn read(self, register: u16) -> u8 {
        // SAFETY: UART registers are device state, not memory; this driver owns the ports.
        unsafe { Port::new(self.base() + register).read() }
    }

    fn write(self, register: u16, value: u8) {
        // SAFETY: as for `read`.
        unsafe { Port::new(self.base() + register).write(value) }
    }

    fn line_status(self) -> u8 {
        self.read(REG_LINE_STATUS)
    }
}

struct Serial {
    /// Whether a UART answered at this port.
    present: bool,
    /// Bytes received and not consumed yet.
    rx: VecDeque<u8>,
}

static PORTS: [Mutex<Serial>; 2] = [const {
    Mutex::new(Serial {
        present: false,
        rx: VecDeque::new(),
    })
}; 2];

fn answers(com: Com) -> bool {
    SCRATCH_PATTERNS.iter().all(|&pattern| {
        com.write(REG_SCRATCH, pattern);
        com.read(REG_SCRATCH) == pattern
    })
}

/// Initialises both UARTs: 115200 8N1, FIFOs on, receive interrupt enabled. Bytes already
/// received are kept (in the heap: call after [`crate::mm::init`]).
pub fn init() {
    for com in [Com::Com1, Com::Com2] {
        if !answers(com) {
            continue;
        }
        cpu::without_interrupts(|| {
            let mut port = PORTS[com.index()].lock();
            port.present = true;
            drain(com, &mut port.rx);
            com.write(REG_INTERRUPT_ENABLE, 0);
            com.write(REG_LINE_CONTROL, LCR_DLAB);
            let [low, high] = DIVISOR_115200.to_le_bytes();
            com.write(REG_DIVISOR_LOW, low);
            com.write(REG_DIVISOR_HIGH, high);
            com.write(REG_LINE_CONTROL, LCR_8N1);
            // Enabling the FIFOs resets them on some UARTs (QEMU's among them): save what
            // arrived meanwhile just before.
            drain(com, &mut port.rx);
            com.write(REG_FIFO_CONTROL, FCR_ENABLE_TRIGGER_14);
            com.write(REG_MODEM_CONTROL, MCR_DTR_RTS_OUT2);
            com.write(REG_INTERRUPT_ENABLE, IER_RECEIVED_DATA);
        });
    }
}

fn drain(com: Com, rx: &mut VecDeque<u8>) {
    loop {
        let status = com.line_status();
        // All ones: nothing answers at this port.
        if status == 0xff || status & LSR_DATA_READY == 0 {
            return;
        }
        rx.push_back(com.read(REG_DATA));
    }
}

/// Sends all of `bytes`, waiting for FIFO space as needed. Bytes for an absent UART are
/// dropped.
pub fn write_all(com: Com, mut bytes: &[u8]) {
    cpu::without_interrupts(|| {
        let port = PORTS[com.index()].lock();
        if !port.present {
            return;
        }
        while !bytes.is_empty() {
            if com.line_status() & LSR_THR_EMPTY == 0 {
                core::hint::spin_loop();
                continue;
            }
            let (burst, rest) = bytes.split_at(bytes.len().min(TX_FIFO_SIZE));
            for &byte in burst {
                com.write(REG_DATA, byte);
            }
            bytes = rest;
        }
    });
}

/// Waits until the transmitter is completely empty, so the other side has every byte.
pub fn flush(com: Com) {
    cpu::without_interrupts(|| {
        let port = PORTS[com.index()].lock();
        while port.present && com.line_status() & LSR_TRANSMITTER_EMPTY == 0 {
            core::hint::spin_loop();
        }
    });
}

/// Moves what the UART received into the buffer and gives `f` the buffer to consume from.
pub fn with_received<R>(com: Com, f: impl FnOnce(&mut VecDeque<u8>) -> R) -> R {
    cpu::without_interrupts(|| {
        let mut port = PORTS[com.index()].lock();
        if port.present {
            drain(com, &mut port.rx);
        }
        f(&mut port.rx)
    })
}

/// The serial interrupt: empty the receive FIFO, which also lowers the UART's interrupt.
pub fn on_irq(com: Com) {
    // Interrupts are only taken while the kernel idles, never inside `with_received`; a
    // busy lock would mean a bug, and the next poll drains the FIFO anyway.
    if let Some(mut port) = PORTS[com.index()].try_lock()
        && port.present
    {
        drain(com, &mut port.rx);
    }
}

/// Writes `bytes` with raw port I/O, ignoring the driver's lock: for the fault reporter,
/// which may run while the lock is held. Gives up on a UART that never drains.
pub fn emergency_write(com: Com, bytes: &[u8]) {
    for &byte in bytes {
        let mut polls = 0;
        while com.line_status() & LSR_THR_EMPTY == 0 {
            polls += 1;
            if polls == EMERGENCY_POLLS {
                return;
            }
            core::hint::spin_loop();
        }
        com.write(REG_DATA, byte);
    }
}

/// Waits (boundedly) until the transmitter is empty, without taking the driver's lock.
pub fn emergency_flush(com: Com) {
    for _ in 0..EMERGENCY_POLLS {
        if com.line_status() & LSR_TRANSMITTER_EMPTY != 0 {
            return;
        }
        core::hint::spin_loop();
    }
}
