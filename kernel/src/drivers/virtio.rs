//! The glue `virtio-drivers` needs: DMA memory and address translation ([`KernelHal`]), and
//! finding virtio devices on the PCI bus.
//!
//! DMA memory comes from the kernel heap, which lies in the bootloader's mapping of physical
//! memory, so a heap block is physically contiguous and its physical address is its virtual
//! address minus the mapping's offset. Buffers the driver is handed that are not (or that
//! span discontiguous frames) are bounced through such a block.

use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use core::ptr::NonNull;

use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{BarInfo, DeviceFunction, PciRoot};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

use crate::drivers::pci::PortAccess;
use crate::mm;

/// Device numbers on one PCI bus.
const DEVICES_PER_BUS: u8 = 32;
/// Physical addresses the bootloader's mapping always covers (the first 4 GiB, MMIO holes
/// included); BARs above it are not reachable yet.
const MAPPED_PHYSICAL_END: u64 = 1 << 32;

/// `virtio-drivers`' view of the kernel.
pub struct KernelHal;

fn dma_layout(pages: usize) -> Option<Layout> {
    Layout::from_size_align(pages.checked_mul(PAGE_SIZE)?, PAGE_SIZE).ok()
}

/// The physical address of `len` bytes at `virt`, if they are heap memory and contiguous.
fn contiguous_phys(virt: u64, len: usize) -> Option<u64> {
    let phys = mm::virt_to_phys(virt)?;
    let last = virt.checked_add(len.saturating_sub(1) as u64)?;
    (mm::virt_to_phys(last)? == phys + (last - virt)).then_some(phys)
}

// SAFETY: `dma_alloc` returns zeroed, page-aligned, exclusively owned heap blocks whose
// physical address is exact (the heap is in the physical-memory mapping); `share` hands out
// the physical address of memory that stays valid until `unshare`, bouncing when needed.
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let block = dma_layout(pages)
            // SAFETY: the layout has a non-zero size (virtio-drivers never asks for 0 pages).
            .and_then(|layout| NonNull::new(unsafe { alloc_zeroed(layout) }));
        match block.and_then(|block| Some((contiguous_phys(block.as_ptr() as u64, pages * PAGE_SIZE)?, block))) {
            Some((phys, block)) => (phys, block),
            None => panic!("out of memory for {pages} pages of virtio DMA memory"),
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        if let Some(layout) = dma_layout(pages) {
            // SAFETY: per the trait contract, `vaddr` came from `dma_alloc(pages)`.
            unsafe { dealloc(vaddr.as_ptr(), layout) };
        }
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // Callers only reach here with BARs checked by `usable_bars` to lie in the mapping.
        NonNull::new(mm::phys_to_virt(paddr) as *mut u8).unwrap_or(NonNull::dangling())
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
            unsafe { core::ptr::copy_nonoverlapping(buffer.as_ptr() as *const u8, bounce.as_ptr(), buffer.len()) };
        }
        phys
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let virt = buffer.as_ptr() as *mut u8 as u64;
        if contiguous_phys(virt, buffer.len()) == Some(paddr) {
            return;
        }
        // A bounce block from `share`: it lies in the physical mapping at `paddr`.
        let bounce = mm::phys_to_virt(paddr) as *mut u8;
        if direction != BufferDirection::DriverToDevice {
            // SAFETY: the bounce block holds `buffer.len()` bytes and `buffer` is valid for
            // writes (trait contract); they are distinct allocations.
            unsafe { core::ptr::copy_nonoverlapping(bounce, buffer.as_ptr() as *mut u8, buffer.len()) };
        }
        let pages = buffer.len().div_ceil(PAGE_SIZE).max(1);
        if let Some(bounce) = NonNull::new(bounce) {
            // SAFETY: allocated by `dma_alloc(pages)` in `share`.
            unsafe { Self::dma_dealloc(paddr, bounce, pages) };
        }
    }
}

/// Whether every memory BAR of the device lies where the kernel can reach it.
fn usable_bars(root: &mut PciRoot<PortAccess>, function: DeviceFunction) -> bool {
    let Ok(bars) = root.bars(function) else {
        return false;
    };
    bars.iter().flatten().all(|bar| match bar {
        BarInfo::Memory { address, size, .. } => address.checked_add(*size).is_some_and(|end| end <= MAPPED_PHYSICAL_END),
        BarInfo::IO { .. } => true,
    })
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
            log::warn!("virtio {kind:?} at {function}: a BAR lies above 4 GiB, which is not mapped yet");
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
