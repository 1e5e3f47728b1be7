//! The glue `virtio-drivers` needs: DMA memory and address translation ([`KernelHal`]), and
//! finding virtio devices on the PCI bus.
//!
//! DMA memory comes from the kernel's DMA region (physically contiguous, see
//! [`mm::dma_alloc`]). Buffers the driver is handed that span discontiguous frames are bounced
//! through such a block.

use alloc::alloc::Layout;
use core::ptr::NonNull;

use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{BarInfo, ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};
use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::drivers::pci::PortAccess;
use crate::mm;

/// Device numbers on one PCI bus.
const DEVICES_PER_BUS: u8 = 32;
/// The configuration register whose low byte is the interrupt line the firmware assigned
/// (0xff: none).
const INTERRUPT_LINE_REGISTER: u8 = 0x3c;
/// Lines of the two 8259 PICs.
const PIC_LINES: u8 = 16;

/// `virtio-drivers`' view of the kernel.
pub struct KernelHal;

fn dma_layout(pages: usize) -> Option<Layout> {
    Layout::from_size_align(pages.checked_mul(PAGE_SIZE)?, PAGE_SIZE).ok()
}

/// The physical address of `len` bytes at `virt`, if they are physically contiguous.
fn contiguous_phys(virt: u64, len: usize) -> Option<u64> {
    let (phys, run) = mm::physical_run(virt, len)?;
    (run >= len).then_some(phys)
}

// SAFETY: `dma_alloc` returns zeroed, page-aligned, exclusively owned heap blocks whose
// physical address is exact (the heap is in the physical-memory mapping); `share` hands out
// the physical address of memory that stays valid until `unshare`, bouncing when needed.
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        // The trait cannot fail; the region is sized for the devices Cella drives.
        match dma_layout(pages).and_then(mm::dma_alloc) {
            Some(block) => block,
            None => panic!("the DMA region has no room for {pages} pages"),
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        if let Some(layout) = dma_layout(pages) {
            // SAFETY: per the trait contract, `vaddr` came from `dma_alloc(pages)`.
            unsafe { mm::dma_dealloc(vaddr, layout) };
        }
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        // Below 4 GiB this is arithmetic; above, `map_mmio` maps a range once and finds it
        // again on later calls.
        mm::map_mmio(paddr, size as u64).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let virt = buffer.as_ptr() as *mut u8 as u64;
        if let Some(phys) = contiguous_phys(virt, buffer.len()) {
            return phys;
        }
        let pages = buffer.len().div_ceil(PAGE_SIZE).max(1);
        let (phys, bounce) = Self::dma_alloc(pages, direction);
        if direction != BufferDirection::DeviceToDriver {
            // SAFETY: `buffer` is valid for reads of its length (trait contract) and the
            // bounce block is at least as long and freshly allocated, so they do not overlap.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    buffer.as_ptr() as *const u8,
                    bounce.as_ptr(),
                    buffer.len(),
                )
            };
        }
        phys
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let virt = buffer.as_ptr() as *mut u8 as u64;
        if contiguous_phys(virt, buffer.len()) == Some(paddr) {
            return;
        }
        // A bounce block from `share`: it lies in the DMA region, in the physical mapping.
        let bounce = mm::phys_to_virt(paddr) as *mut u8;
        if direction != BufferDirection::DriverToDevice {
            // SAFETY: the bounce block holds `buffer.len()` bytes and `buffer` is valid for
            // writes (trait contract); they are distinct allocations.
            unsafe {
                core::ptr::copy_nonoverlapping(bounce, buffer.as_ptr() as *mut u8, buffer.len())
            };
        }
        let pages = buffer.len().div_ceil(PAGE_SIZE).max(1);
        if let Some(bounce) = NonNull::new(bounce) {
            // SAFETY: allocated by `dma_alloc(pages)` in `share`.
            unsafe { Self::dma_dealloc(paddr, bounce, pages) };
        }
    }
}

/// Whether the device's memory BARs can be mapped: each one is mapped now, so that
/// virtio-drivers' later lookups cannot fail.
fn usable_bars(root: &mut PciRoot<PortAccess>, function: DeviceFunction) -> bool {
    let Ok(bars) = root.bars(function) else {
        return false;
    };
    bars.iter().flatten().all(|bar| match bar {
        BarInfo::Memory { address, size, .. } => {
            *size == 0 || mm::map_mmio(*address, *size).is_some()
        }
        BarInfo::IO { .. } => true,
    })
}

/// The legacy interrupt line (PIC IRQ 0–15) the firmware routed for the first virtio device
/// of `kind` on bus 0 (the one [`find`] lists first), if any.
pub fn interrupt_line(kind: DeviceType) -> Option<u8> {
    let access = PortAccess::new();
    let (function, _) = PciRoot::new(PortAccess::new())
        .enumerate_bus(0)
        .filter(|(function, _)| function.device < DEVICES_PER_BUS)
        .find(|(_, info)| virtio_drivers::transport::pci::virtio_device_type(info) == Some(kind))?;
    let line = (access.read_word(function, INTERRUPT_LINE_REGISTER) & 0xff) as u8;
    (line < PIC_LINES).then_some(line)
}

/// Every virtio device of `kind` on bus 0 (QEMU's q35 puts `-device`s there), as a transport.
pub fn find(kind: DeviceType) -> alloc::vec::Vec<PciTransport> {
    let mut root = PciRoot::new(PortAccess::new());
    let mut found = alloc::vec::Vec::new();
    let candidates: alloc::vec::Vec<DeviceFunction> = root
        .enumerate_bus(0)
        .filter(|(_, info)| virtio_drivers::transport::pci::virtio_device_type(info) == Some(kind))
        .map(|(function, _)| function)
        .filter(|function| function.device < DEVICES_PER_BUS)
        .collect();
    for function in candidates {
        if !usable_bars(&mut root, function) {
            log::warn!("virtio {kind:?} at {function}: cannot map its registers");
            continue;
        }
        match PciTransport::new::<KernelHal, _>(&mut root, function) {
            Ok(transport) if transport.device_type() == kind => found.push(transport),
            Ok(_) => {}
            Err(error) => log::warn!("virtio {kind:?} at {function}: {error}"),
        }
    }
    found
}

/// `VIRTIO_F_EVENT_IDX`'s feature bit.
const EVENT_IDX: u64 = 1 << 29;

/// A transport that does not offer the driver `VIRTIO_F_EVENT_IDX`, so notifications are
/// suppressed with the device's `NO_NOTIFY` flag instead.
///
/// With the feature, `virtio-drivers` 0.13 notifies when `avail_idx >= avail_event + 1`
/// rather than when `avail_idx` crosses `avail_event` (the spec's `vring_need_event`).
/// QEMU moves `avail_event` only when it wants a notification, and leaves it alone while it
/// needs none, so from then on every buffer added is a notification, each a trap into QEMU:
/// reposting receive buffers took over a third of the CPU under an HTTP load. And once
/// `avail_idx` wraps past 65 535 the test fails until it catches up again, losing the
/// notifications the device waits for.
pub struct WithoutEventIdx<T>(pub T);

impl<T: Transport> Transport for WithoutEventIdx<T> {
    fn device_type(&self) -> DeviceType {
        self.0.device_type()
    }

    fn read_device_features(&mut self) -> u64 {
        self.0.read_device_features() & !EVENT_IDX
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        self.0.write_driver_features(driver_features & !EVENT_IDX);
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.0.max_queue_size(queue)
    }

    fn notify(&mut self, queue: u16) {
        self.0.notify(queue);
    }

    fn get_status(&self) -> DeviceStatus {
        self.0.get_status()
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.0.set_status(status);
    }

    fn set_guest_page_size(&mut self, guest_page_size: u32) {
        self.0.set_guest_page_size(guest_page_size);
    }

    fn requires_legacy_layout(&self) -> bool {
        self.0.requires_legacy_layout()
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        self.0
            .queue_set(queue, size, descriptors, driver_area, device_area);
    }

    fn queue_unset(&mut self, queue: u16) {
        self.0.queue_unset(queue);
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.0.queue_used(queue)
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        self.0.ack_interrupt()
    }

    fn read_config_generation(&self) -> u32 {
        self.0.read_config_generation()
    }

    fn read_config_space<V: FromBytes + IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<V> {
        self.0.read_config_space(offset)
    }

    fn write_config_space<V: IntoBytes + Immutable>(
        &mut self,
        offset: usize,
        value: V,
    ) -> virtio_drivers::Result<()> {
        self.0.write_config_space(offset, value)
    }
}
