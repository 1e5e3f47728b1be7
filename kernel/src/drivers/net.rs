//! The virtio network card, as a smoltcp [`phy::Device`]: Ethernet frames in and out of the
//! card's two queues, through `virtio-drivers`' non-blocking [`VirtIONetRaw`].
//!
//! The driver owns a fixed pool of frame buffers per queue, each aligned so that it lies in
//! one page (sharing it with the card is then a lookup, never a bounce copy). Every receive
//! buffer stays posted to the card; a frame smoltcp takes is reposted as soon as smoltcp has
//! read it. A frame to send is handed to the card without waiting for it: its buffer comes
//! back to the pool once the card reports it used, which the next transmission checks. (The
//! blocking send of `VirtIONet` spun until QEMU took each frame: a fifth of the CPU under
//! load.)
//!
//! The card's legacy interrupt (INTx, on the PIC line the firmware assigned) only wakes the
//! CPU: the handler masks the line, and [`NetCard::take_interrupt`], called by the network
//! stack's poll outside interrupt context, acknowledges the card and unmasks it. Without a
//! line the stack polls the card (see `net`).
// The card hands back tokens and lengths: nothing here panics on them.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

use alloc::vec::Vec;
use core::cell::RefCell;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::pci::PciTransport;

use crate::arch::pic;
use crate::drivers::link;
use crate::drivers::virtio::{self, KernelHal, WithoutEventIdx};

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
/// The largest Ethernet frame without its FCS: 1500 bytes of payload and a 14-byte header.
const MAX_FRAME: usize = 1514;
/// No buffer (in the token-to-buffer maps).
const NONE: usize = usize::MAX;

/// One frame with its virtio-net header; 2 KiB-aligned, so it never straddles a page.
#[repr(C, align(2048))]
struct FrameBuffer([u8; 2048]);

type Card = VirtIONetRaw<KernelHal, WithoutEventIdx<PciTransport>, QUEUE_SIZE>;

/// The card and its buffers.
struct Queues {
    card: Card,
    rx: Vec<FrameBuffer>,
    /// The receive buffer posted under each descriptor token.
    rx_of_token: [usize; QUEUE_SIZE],
    tx: Vec<FrameBuffer>,
    /// Transmit buffers not in flight.
    tx_free: Vec<usize>,
    /// The transmit buffer in flight under each token, and its length.
    tx_of_token: [(usize, usize); QUEUE_SIZE],
}

impl Queues {
    /// Posts receive buffer `index` to the card.
    fn post_rx(&mut self, index: usize) {
        let Some(buffer) = self.rx.get_mut(index) else {
            return;
        };
        // SAFETY: the buffer lives in `self.rx`, which never reallocates, and nothing reads
        // or writes it until the card gives its token back (`Device::receive`).
        match unsafe { self.card.receive_begin(&mut buffer.0) } {
            Ok(token) => match self.rx_of_token.get_mut(usize::from(token)) {
                Some(slot) => *slot = index,
                None => log::warn!("virtio-net: a receive buffer got an unknown token"),
            },
            Err(error) => log::warn!("virtio-net: cannot post a receive buffer: {error}"),
        }
    }

    /// Takes back the transmit buffers the card is done with.
    fn reclaim_tx(&mut self) {
        while let Some(token) = self.card.poll_transmit() {
            let slot = self.tx_of_token.get_mut(usize::from(token));
            let (index, len) = slot.map_or((NONE, 0), |slot| core::mem::replace(slot, (NONE, 0)));
            let Some(buffer) = self.tx.get(index).and_then(|buffer| buffer.0.get(..len)) else {
                log::warn!("virtio-net: the card returned an unknown send");
                return;
            };
            // SAFETY: the same buffer and length that `transmit_begin` took under `token`.
            let completed = unsafe { self.card.transmit_complete(token, buffer) };
            if let Err(error) = completed {
                log::warn!("virtio-net: a send did not complete: {error}");
            }
            self.tx_free.push(index);
        }
    }
}

/// A zeroed pool of `count` frame buffers.
fn buffers(count: usize) -> Vec<FrameBuffer> {
    (0..count).map(|_| FrameBuffer([0; 2048])).collect()
}

/// The network card. The tokens smoltcp holds share it, hence the cell.
pub struct NetCard {
    queues: RefCell<Queues>,
}

impl NetCard {
    /// The first virtio network card on the PCI bus, started, if there is one.
    pub fn open() -> Option<NetCard> {
        let transport = virtio::find(DeviceType::Network).into_iter().next()?;
        let card = match VirtIONetRaw::new(WithoutEventIdx(transport)) {
            Ok(card) => card,
            Err(error) => {
                log::warn!("virtio network card: {error}");
                return None;
            }
        };
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
        let mut queues = Queues {
            card,
            rx: buffers(QUEUE_SIZE),
            rx_of_token: [NONE; QUEUE_SIZE],
            tx: buffers(QUEUE_SIZE),
            tx_free: (0..QUEUE_SIZE).collect(),
            tx_of_token: [(NONE, 0); QUEUE_SIZE],
        };
        for index in 0..QUEUE_SIZE {
            queues.post_rx(index);
        }
        Some(NetCard {
            queues: RefCell::new(queues),
        })
    }

    /// The card's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.queues.borrow().card.mac_address()
    }

    /// Whether the card wakes the CPU when a frame arrives.
    pub fn has_interrupt(&self) -> bool {
        IRQ.load(Ordering::Relaxed) != NO_IRQ
    }

    /// Acknowledges the card's interrupt, if it raised one, and lets it interrupt again.
    pub fn take_interrupt(&mut self) {
        if RAISED.swap(false, Ordering::AcqRel) {
            self.queues.get_mut().card.ack_interrupt();
            // q35 shares its few PCI interrupt lines: the link's console may be on this one.
            link::ack_interrupt();
            pic::set_masked(IRQ.load(Ordering::Relaxed), false);
        }
    }

    /// Whether a received frame is waiting.
    pub fn has_frame(&self) -> bool {
        self.queues.borrow().card.poll_receive().is_some()
    }
}

/// A received frame (in receive buffer `index`, the frame at `start..end`), reposted when
/// smoltcp is done with it.
pub struct Rx<'a> {
    queues: &'a RefCell<Queues>,
    index: usize,
    start: usize,
    end: usize,
}

/// Permission to send one frame.
pub struct Tx<'a> {
    queues: &'a RefCell<Queues>,
}

impl Drop for Rx<'_> {
    fn drop(&mut self) {
        self.queues.borrow_mut().post_rx(self.index);
    }
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        // No borrow of the queues is held while smoltcp reads the frame: it may send a
        // reply meanwhile. `Drop` reposts the buffer.
        let frame = {
            let queues = self.queues.borrow();
            let frame = queues
                .rx
                .get(self.index)
                .and_then(|buffer| buffer.0.get(self.start..self.end))
                .unwrap_or(&[]);
            core::ptr::slice_from_raw_parts(frame.as_ptr(), frame.len())
        };
        // SAFETY: the buffer lives in `queues.rx`, which never reallocates; it is not posted
        // to the card (nothing writes it) until this token's `Drop`, after `f` returns.
        f(unsafe { &*frame })
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut queues = self.queues.borrow_mut();
        let queues = &mut *queues;
        // `Device::transmit` only hands out a token when a buffer is free.
        let free = queues.tx_free.pop();
        let Some((index, buffer)) = free.and_then(|i| Some((i, &mut queues.tx.get_mut(i)?.0)))
        else {
            log::warn!("virtio-net: no transmit buffer: a frame is dropped");
            let mut scratch = [0; MAX_FRAME];
            return f(scratch.get_mut(..len.min(MAX_FRAME)).unwrap_or(&mut []));
        };
        let header = queues.card.fill_buffer_header(buffer).unwrap_or(0);
        let end = header.saturating_add(len).min(buffer.len());
        let result = f(buffer.get_mut(header..end).unwrap_or(&mut []));
        let frame = buffer.get(..end).unwrap_or(&[]);
        // SAFETY: the buffer lives in `queues.tx`, which never reallocates, and is not
        // touched again until `reclaim_tx` gets its token back from the card.
        match unsafe { queues.card.transmit_begin(frame) } {
            Ok(token) => match queues.tx_of_token.get_mut(usize::from(token)) {
                Some(slot) => *slot = (index, end),
                None => log::warn!("virtio-net: a send got an unknown token"),
            },
            Err(error) => {
                log::warn!("virtio-net: a frame was not sent: {error}");
                queues.tx_free.push(index);
            }
        }
        result
    }
}

impl phy::Device for NetCard {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let (index, start, end) = {
            let queues = self.queues.get_mut();
            let token = queues.card.poll_receive()?;
            let slot = queues.rx_of_token.get_mut(usize::from(token));
            let index = slot.map_or(NONE, |slot| core::mem::replace(slot, NONE));
            let Some(buffer) = queues.rx.get_mut(index) else {
                log::warn!("virtio-net: the card returned an unknown receive buffer");
                return None;
            };
            // SAFETY: the same buffer that `receive_begin` took under `token`.
            match unsafe { queues.card.receive_complete(token, &mut buffer.0) } {
                Ok((header, len)) => (index, header, header.saturating_add(len)),
                Err(error) => {
                    log::warn!("virtio-net: a bad receive: {error}");
                    queues.post_rx(index);
                    return None;
                }
            }
        };
        Some((
            Rx {
                queues: &self.queues,
                index,
                start,
                end,
            },
            Tx {
                queues: &self.queues,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Tx<'_>> {
        let queues = self.queues.get_mut();
        queues.reclaim_tx();
        (!queues.tx_free.is_empty() && queues.card.can_send()).then_some(Tx {
            queues: &self.queues,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(QUEUE_SIZE / 2);
        caps
    }
}
