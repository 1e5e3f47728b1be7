//! The two cascaded 8259 programmable interrupt controllers, remapped to vectors 32–47 with
//! everything masked but the timer and the two serial ports; a driver unmasks its own line
//! with [`set_masked`].

use x86_64::instructions::port::Port;

const MASTER_COMMAND: u16 = 0x20;
const MASTER_DATA: u16 = 0x21;
const SLAVE_COMMAND: u16 = 0xa0;
const SLAVE_DATA: u16 = 0xa1;
/// An unused port; writing to it gives the PICs time between initialisation words.
const POST_PORT: u16 = 0x80;

/// ICW1: initialise, ICW4 follows.
const ICW1_INIT: u8 = 0x11;
/// ICW4: 8086 mode.
const ICW4_8086: u8 = 0x01;
/// OCW2: non-specific end of interrupt.
const EOI: u8 = 0x20;
/// OCW3: the next command-port read returns the in-service register.
const READ_ISR: u8 = 0x0b;
/// The master's line the slave is cascaded on.
pub const CASCADE_IRQ: u8 = 2;

/// Vector of IRQ 0.
pub const MASTER_OFFSET: u8 = 32;
/// Vector of IRQ 8.
pub const SLAVE_OFFSET: u8 = 40;

/// PIT channel 0.
pub const IRQ_TIMER: u8 = 0;
/// COM2 (and COM4).
pub const IRQ_COM2: u8 = 3;
/// COM1 (and COM3).
pub const IRQ_COM1: u8 = 4;
/// The master's lowest-priority line, where it reports spurious interrupts.
const IRQ_SPURIOUS_MASTER: u8 = 7;
/// The slave's lowest-priority line.
const IRQ_SPURIOUS_SLAVE: u8 = 15;

fn outb(port: u16, value: u8) {
    // SAFETY: the PIC ports (and the POST diagnostic port) have no effect on memory.
    unsafe { Port::new(port).write(value) }
}

fn inb(port: u16) -> u8 {
    // SAFETY: reading PIC registers has no effect on memory.
    unsafe { Port::new(port).read() }
}

fn io_wait() {
    outb(POST_PORT, 0);
}

/// Remaps the PICs and unmasks the timer and serial lines.
pub fn init() {
    let steps = [
        (MASTER_COMMAND, ICW1_INIT),
        (SLAVE_COMMAND, ICW1_INIT),
        (MASTER_DATA, MASTER_OFFSET),
        (SLAVE_DATA, SLAVE_OFFSET),
        (MASTER_DATA, 1 << CASCADE_IRQ),
        (SLAVE_DATA, CASCADE_IRQ),
        (MASTER_DATA, ICW4_8086),
        (SLAVE_DATA, ICW4_8086),
    ];
    for (port, value) in steps {
        outb(port, value);
        io_wait();
    }
    let enabled: u8 = (1 << IRQ_TIMER) | (1 << IRQ_COM1) | (1 << IRQ_COM2);
    outb(MASTER_DATA, !enabled);
    outb(SLAVE_DATA, 0xff);
}

/// Masks (`true`) or unmasks line `irq` (0–15); unmasking a slave line unmasks the cascade.
pub fn set_masked(irq: u8, masked: bool) {
    let (port, bit) = match irq {
        0..8 => (MASTER_DATA, irq),
        8..16 => (SLAVE_DATA, irq - 8),
        _ => return,
    };
    // A read-modify-write of the mask, which an interrupt handler may also change.
    super::cpu::without_interrupts(|| {
        let mask = inb(port);
        outb(
            port,
            if masked {
                mask | 1 << bit
            } else {
                mask & !(1 << bit)
            },
        );
        if !masked && port == SLAVE_DATA {
            outb(MASTER_DATA, inb(MASTER_DATA) & !(1 << CASCADE_IRQ));
        }
    });
}

/// Whether `irq` is a spurious interrupt (lines 7 and 15 with their in-service bit clear),
/// which must not be acknowledged, except on the master for a spurious slave interrupt.
pub fn is_spurious(irq: u8) -> bool {
    let (command, line) = match irq {
        IRQ_SPURIOUS_MASTER => (MASTER_COMMAND, IRQ_SPURIOUS_MASTER),
        IRQ_SPURIOUS_SLAVE => (SLAVE_COMMAND, IRQ_SPURIOUS_SLAVE - 8),
        _ => return false,
    };
    outb(command, READ_ISR);
    let spurious = inb(command) & (1 << line) == 0;
    if spurious && irq == IRQ_SPURIOUS_SLAVE {
        outb(MASTER_COMMAND, EOI);
    }
    spurious
}

/// Acknowledges `irq` so the PIC delivers further interrupts.
pub fn end_of_interrupt(irq: u8) {
    if irq >= 8 {
        outb(SLAVE_COMMAND, EOI);
    }
    outb(MASTER_COMMAND, EOI);
}
