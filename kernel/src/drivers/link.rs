//! The byte transport under the host link: a virtio console when the runner attached one,
//! else the second UART. The link's frames are the same either way; the virtio console
//! moves a whole frame per request, where the UART costs QEMU a host `write` per byte (about
//! 0.15 MB/s), so program output of any size is practical over virtio.
//!
//! Received bytes are polled (no interrupt is routed for the device): the console's idle
//! loop checks at least every [`POLL_NS`] while the program waits for stdin.
// The host writes the bytes that arrive here: nothing here panics on them.
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

use spin::Mutex;
use virtio_drivers::device::console::VirtIOConsole;
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::pci::PciTransport;

use crate::drivers::serial::{self, Com};
use crate::drivers::virtio::{self, KernelHal};

/// How often a waiting program's stdin is polled on the virtio console.
pub const POLL_NS: u64 = 2_000_000;

type Console = VirtIOConsole<KernelHal, PciTransport>;

/// The virtio console, once found; `None` means the UART carries the link.
static VIRTIO: Mutex<Option<Console>> = Mutex::new(None);

/// Looks for the runner's virtio console; returns whether the link uses it.
pub fn init() -> bool {
    let Some(transport) = virtio::find(DeviceType::Console).into_iter().next() else {
        return false;
    };
    match VirtIOConsole::new(transport) {
        Ok(console) => {
            *VIRTIO.lock() = Some(console);
            true
        }
        Err(error) => {
            log::warn!("virtio console: {error}; the host link stays on the UART");
            false
        }
    }
}

/// Whether the link runs over virtio (and so polls for input).
pub fn is_virtio() -> bool {
    VIRTIO.lock().is_some()
}

/// Acknowledges the virtio console's interrupt, for a driver whose interrupt line it shares
/// (the PIC's lines are few): until acknowledged, the console holds the line up. Received
/// bytes wait for [`receive`] as before.
pub fn ack_interrupt() {
    if let Some(mut guard) = VIRTIO.try_lock()
        && let Some(console) = guard.as_mut()
    {
        let _ = console.ack_interrupt();
    }
}

/// Sends `bytes`. Never blocks on a lock held by the code it interrupted: a log line sent
/// from inside the driver is dropped rather than deadlock.
pub fn write(bytes: &[u8]) {
    let Some(mut guard) = VIRTIO.try_lock() else {
        return;
    };
    match guard.as_mut() {
        Some(console) => {
            if console.send_bytes(bytes).is_err() {
                // The device failed: fall back to the UART for the rest of the run.
                *guard = None;
                drop(guard);
                serial::write_all(Com::Com2, bytes);
            }
        }
        None => {
            drop(guard);
            serial::write_all(Com::Com2, bytes);
        }
    }
}

/// Moves the bytes received so far into `sink`.
pub fn receive(sink: &mut impl FnMut(u8)) {
    let mut virtio = VIRTIO.lock();
    match virtio.as_mut() {
        Some(console) => {
            while let Ok(Some(byte)) = console.recv(true) {
                sink(byte);
            }
        }
        None => {
            drop(virtio);
            serial::with_received(Com::Com2, |rx| {
                while let Some(byte) = rx.pop_front() {
                    sink(byte);
                }
            });
        }
    }
}

/// Waits until every byte sent has left (the virtio console's requests complete before
/// `send_bytes` returns; the UART may still hold some).
pub fn flush() {
    serial::flush(Com::Com2);
}

/// A frame buffer of the right capacity, for callers that assemble frames.
pub fn frame_buffer(payload: usize) -> Vec<u8> {
    Vec::with_capacity(payload.saturating_add(cella_proto::HEADER_LEN))
}
