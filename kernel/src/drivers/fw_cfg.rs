//! QEMU's firmware configuration device (fw_cfg), through which the host runner passes the
//! program and its run configuration as named files.
//!
//! Reads use the DMA interface when the device offers it: the device copies a file straight
//! into a heap buffer (one transfer per physically contiguous run), so a 30 MB program arrives
//! in milliseconds. The byte-at-a-time port
//! interface is the fallback.
// The host writes these files (names, sizes, contents): nothing here panics on them.
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

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{Ordering, compiler_fence};

use x86_64::instructions::port::Port;

use crate::mm;

/// Selector register (16-bit).
const SELECTOR_PORT: u16 = 0x510;
/// Data register (8-bit), for the port interface.
const DATA_PORT: u16 = 0x511;
/// DMA address register, high 32 bits (big-endian).
const DMA_ADDRESS_HIGH_PORT: u16 = 0x514;
/// DMA address register, low 32 bits; writing it starts the transfer.
const DMA_ADDRESS_LOW_PORT: u16 = 0x518;

/// Item holding the signature "QEMU".
const SELECT_SIGNATURE: u16 = 0x0000;
/// Item holding the feature bitmap (little-endian u32).
const SELECT_FEATURES: u16 = 0x0001;
/// Item holding the file directory.
const SELECT_FILE_DIR: u16 = 0x0019;
const SIGNATURE: [u8; 4] = *b"QEMU";
/// Feature bit: the DMA interface exists.
const FEATURE_DMA: u32 = 1 << 1;

/// DMA control: an error occurred.
const DMA_CTL_ERROR: u32 = 0x01;
/// DMA control: read from the item into memory.
const DMA_CTL_READ: u32 = 0x02;
/// DMA control: select the item in the high 16 bits first.
const DMA_CTL_SELECT: u32 = 0x08;

/// Bytes of one directory entry: size (u32 BE), select (u16 BE), reserved (u16), name.
const DIR_ENTRY_LEN: usize = 64;
/// Bytes of the NUL-padded file name in a directory entry.
const DIR_NAME_LEN: usize = 56;

/// Why a file could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The device reported a DMA error.
    Dma,
    /// The kernel heap has no room for the file.
    OutOfMemory,
}

/// A file in the fw_cfg directory.
#[derive(Debug, Clone, Copy)]
pub struct File {
    /// Item selector.
    pub select: u16,
    /// Size in bytes.
    pub size: u32,
}

/// The fw_cfg device, once its signature was checked.
pub struct FwCfg {
    dma: bool,
}

/// The DMA descriptor the device reads, all fields big-endian.
#[repr(C, align(16))]
struct DmaAccess {
    control: u32,
    length: u32,
    address: u64,
}

fn select(item: u16) {
    // SAFETY: selecting a fw_cfg item has no effect on memory.
    unsafe { Port::new(SELECTOR_PORT).write(item) };
}

fn read_port_bytes(buf: &mut [u8]) {
    let mut data = Port::<u8>::new(DATA_PORT);
    for byte in buf {
        // SAFETY: reading the data register returns the selected item's next byte.
        *byte = unsafe { data.read() };
    }
}

impl FwCfg {
    /// Finds the device: `None` if the signature is missing (not QEMU, or no fw_cfg).
    pub fn probe() -> Option<FwCfg> {
        let mut signature = [0; 4];
        select(SELECT_SIGNATURE);
        read_port_bytes(&mut signature);
        if signature != SIGNATURE {
            return None;
        }
        let mut features = [0; 4];
        select(SELECT_FEATURES);
        read_port_bytes(&mut features);
        Some(FwCfg {
            dma: u32::from_le_bytes(features) & FEATURE_DMA != 0,
        })
    }

    /// Whether transfers use DMA.
    pub fn has_dma(&self) -> bool {
        self.dma
    }

    /// Looks `name` up in the file directory.
    pub fn find(&self, name: &str) -> Option<File> {
        let mut count = [0; 4];
        select(SELECT_FILE_DIR);
        read_port_bytes(&mut count);
        // The directory is read through the port interface, entry by entry, continuing
        // from the count: it is small, and this needs no buffer for the whole directory.
        for _ in 0..u32::from_be_bytes(count) {
            let mut entry = [0; DIR_ENTRY_LEN];
            read_port_bytes(&mut entry);
            let raw_name = &entry[DIR_ENTRY_LEN - DIR_NAME_LEN..];
            if raw_name.split(|&b| b == 0).next() == Some(name.as_bytes()) {
                return Some(File {
                    size: u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]),
                    select: u16::from_be_bytes([entry[4], entry[5]]),
                });
            }
        }
        None
    }

    /// Reads a whole file into a new buffer.
    pub fn read(&self, file: File) -> Result<Vec<u8>, Error> {
        let size = file.size as usize;
        let mut buf = Vec::new();
        buf.try_reserve_exact(size)
            .map_err(|_| Error::OutOfMemory)?;
        if size == 0 {
            return Ok(buf);
        }
        let target = buf.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        if self.dma && self.dma_read(file, target)? {
            // SAFETY: the device wrote all `size` bytes of the reserved capacity.
            unsafe { buf.set_len(size) };
        } else {
            buf.resize(size, 0);
            select(file.select);
            read_port_bytes(&mut buf);
        }
        Ok(buf)
    }

    /// Copies `file` to `target` (which has room for `file.size` bytes) by DMA, one
    /// transfer per physically contiguous run of the buffer (a large buffer's pages are
    /// scattered in RAM). Returns `Ok(false)` if the descriptor cannot be reached by the
    /// device, or the buffer stops being mapped: the caller then starts over by ports.
    fn dma_read(&self, file: File, target: *mut u8) -> Result<bool, Error> {
        let access = Box::into_raw(Box::new(DmaAccess {
            control: 0,
            length: 0,
            address: 0,
        }));
        let result = match mm::physical_run(access as u64, size_of::<DmaAccess>()) {
            Some((access_phys, run)) if run == size_of::<DmaAccess>() => {
                self.dma_transfers(file, target, access, access_phys)
            }
            _ => Ok(false),
        };
        // SAFETY: created by `Box::into_raw` above; the device is done with it.
        drop(unsafe { Box::from_raw(access) });
        result
    }

    fn dma_transfers(
        &self,
        file: File,
        target: *mut u8,
        access: *mut DmaAccess,
        access_phys: u64,
    ) -> Result<bool, Error> {
        let size = file.size as usize;
        let mut done = 0;
        while done < size {
            let Some((target_phys, run)) =
                mm::physical_run(target.wrapping_add(done) as u64, size.saturating_sub(done))
            else {
                return Ok(false);
            };
            // The first transfer selects the item; the next ones go on where it stopped.
            let select = if done == 0 {
                (u32::from(file.select) << 16) | DMA_CTL_SELECT
            } else {
                0
            };
            // SAFETY: `access` is a live, exclusively owned heap allocation.
            unsafe {
                access.write(DmaAccess {
                    control: (select | DMA_CTL_READ).to_be(),
                    length: (run as u32).to_be(),
                    address: target_phys.to_be(),
                })
            };
            // The descriptor must be in memory before the device is told where it is.
            compiler_fence(Ordering::SeqCst);
            // SAFETY: the descriptor and the `run` bytes at `target_phys` (part of the buffer
            // the caller reserved) are memory this function owns until the transfer ends
            // (QEMU completes it during the write to the low address register, and the loop
            // below waits for the device to say so).
            unsafe {
                Port::new(DMA_ADDRESS_HIGH_PORT).write(((access_phys >> 32) as u32).to_be());
                Port::new(DMA_ADDRESS_LOW_PORT).write((access_phys as u32).to_be());
            }
            let control = loop {
                compiler_fence(Ordering::SeqCst);
                // SAFETY: the device updates `control`; a volatile read sees its write.
                let control =
                    u32::from_be(unsafe { (&raw const (*access).control).read_volatile() });
                if control & !DMA_CTL_ERROR == 0 {
                    break control;
                }
                core::hint::spin_loop();
            };
            if control & DMA_CTL_ERROR != 0 {
                return Err(Error::Dma);
            }
            done = done.saturating_add(run);
        }
        Ok(true)
    }
}
