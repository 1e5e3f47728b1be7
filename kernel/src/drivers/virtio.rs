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
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

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
