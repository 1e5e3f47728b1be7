//! The virtio network card, as a smoltcp [`phy::Device`]: Ethernet frames in and out of the
//! card's two queues (`virtio-drivers`' [`VirtIONet`]).
//!
//! Every receive buffer stays posted to the card; a frame smoltcp takes is handed back to the
//! card as soon as smoltcp has read it. Sending waits for the card to take the frame (QEMU
//! copies it out at once), so a transmit buffer never outlives its call.
//!
//! The card's legacy interrupt (INTx, on the PIC line the firmware assigned) only wakes the
//! CPU: the handler masks the line, and [`NetCard::take_interrupt`], called by the network
//! stack's poll outside interrupt context, acknowledges the card and unmasks it. Without a
//! line the stack polls the card (see `net.rs`).

use core::cell::RefCell;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use virtio_drivers::device::net::{RxBuffer, VirtIONet};
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::pci::PciTransport;

use crate::arch::pic;
use crate::drivers::link;
use crate::drivers::virtio::{self, KernelHal};

/// [`IRQ`] when the card has no interrupt line.
const NO_IRQ: u8 = u8::MAX;
/// The card's PIC line.
static IRQ: AtomicU8 = AtomicU8::new(NO_IRQ);
/// The card interrupted and its line is masked until [`NetCard::take_interrupt`].
static RAISED: AtomicBool = AtomicBool::new(false);

/// Called for PIC lines no other driver claims, with interrupts disabled.
pub fn on_irq(irq: u8) {
    if irq == IRQ.load(Ordering::Relaxed) {
        // The line is level-triggered and only reading the card's ISR lowers it, which needs
        // the card: mask it until the poll does that.
        pic::set_masked(irq, true);
        RAISED.store(true, Ordering::Release);
    }
}

/// Whether the card interrupted since the last [`NetCard::take_interrupt`].
pub fn interrupted() -> bool {
    RAISED.load(Ordering::Acquire)
}

/// Descriptors per queue: receive buffers posted at once, and sends in flight.
const QUEUE_SIZE: usize = 64;
/// Bytes per receive buffer: the virtio-net header and a full Ethernet frame fit.
const RX_BUFFER_LEN: usize = 2048;
/// The largest Ethernet frame without its FCS: 1500 bytes of payload and a 14-byte header.
const MAX_FRAME: usize = 1514;

type Card = VirtIONet<KernelHal, PciTransport, QUEUE_SIZE>;

/// The network card. The tokens smoltcp holds share it, hence the cell.
pub struct NetCard {
    card: RefCell<Card>,
}

impl NetCard {
    /// The first virtio network card on the PCI bus, started, if there is one.
    pub fn open() -> Option<NetCard> {
        let transport = virtio::find(DeviceType::Network).into_iter().next()?;
        match VirtIONet::new(transport, RX_BUFFER_LEN) {
            Ok(card) => {
                // A line the kernel's own devices use means the firmware assigned none.
                let own = [
                    pic::IRQ_TIMER,
                    pic::CASCADE_IRQ,
                    pic::IRQ_COM1,
                    pic::IRQ_COM2,
                ];
                match virtio::interrupt_line(DeviceType::Network).filter(|irq| !own.contains(irq)) {
                    Some(irq) => {
                        log::debug!(
                            "virtio-net: interrupt on PIC line {irq} (console's: {:?})",
                            virtio::interrupt_line(DeviceType::Console)
                        );
                        IRQ.store(irq, Ordering::Relaxed);
                        pic::set_masked(irq, false);
                    }
                    None => log::debug!("virtio-net: no interrupt line; polling"),
                }
                Some(NetCard {
                    card: RefCell::new(card),
                })
            }
            Err(error) => {
                log::warn!("virtio network card: {error}");
                None
            }
        }
    }

    /// The card's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.card.borrow().mac_address()
    }

    /// Whether the card wakes the CPU when a frame arrives.
    pub fn has_interrupt(&self) -> bool {
        IRQ.load(Ordering::Relaxed) != NO_IRQ
    }

    /// Acknowledges the card's interrupt, if it raised one, and lets it interrupt again.
    pub fn take_interrupt(&mut self) {
        if RAISED.swap(false, Ordering::AcqRel) {
            self.card.get_mut().ack_interrupt();
            // q35 shares its few PCI interrupt lines: the link's console may be on this one.
            link::ack_interrupt();
            pic::set_masked(IRQ.load(Ordering::Relaxed), false);
        }
    }

    /// Whether a received frame is waiting.
    pub fn has_frame(&self) -> bool {
        self.card.borrow().can_recv()
    }
}

/// A received frame, given back to the card when smoltcp is done with it.
pub struct Rx<'a> {
    card: &'a RefCell<Card>,
    buffer: Option<RxBuffer>,
}

/// Permission to send one frame.
pub struct Tx<'a> {
    card: &'a RefCell<Card>,
}

impl Drop for Rx<'_> {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take()
            && let Err(error) = self.card.borrow_mut().recycle_rx_buffer(buffer)
        {
            log::warn!("virtio-net: cannot repost a receive buffer: {error}");
        }
    }
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        // `Drop` reposts the buffer.
        f(self.buffer.as_ref().map_or(&[], |buffer| buffer.packet()))
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut card = self.card.borrow_mut();
        let mut frame = card.new_tx_buffer(len);
        let result = f(frame.packet_mut());
        if let Err(error) = card.send(frame) {
            log::warn!("virtio-net: a frame was not sent: {error}");
        }
        result
    }
}

impl phy::Device for NetCard {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let buffer = {
            let mut card = self.card.borrow_mut();
            if !card.can_recv() {
                return None;
            }
            card.receive().ok()?
        };
        Some((
            Rx {
                card: &self.card,
                buffer: Some(buffer),
            },
            Tx { card: &self.card },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Tx<'_>> {
        self.card
            .borrow()
            .can_send()
            .then_some(Tx { card: &self.card })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(QUEUE_SIZE / 2);
        caps
    }
}
