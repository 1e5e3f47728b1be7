//! Kernel memory: every usable RAM frame the bootloader reports goes into one pool of 4 KiB
//! frames ([`frames`]), and all allocations are built from it.
//!
//! - Small blocks (below [`MEDIUM_BLOCK`]) come from a `linked_list_allocator` heap in its own
//!   slot of address space; the heap starts small and grows by mapping more frames at its
//!   end, so no fixed share of RAM is set aside for it. It never gives a frame back, so it
//!   only holds blocks small enough for its free room to be reused soon. Freed blocks of a
//!   few hundred bytes at most wait in a bounded cache for the next request of their size
//!   ([`small`]).
//! - Medium blocks (from [`MEDIUM_BLOCK`] to [`LARGE_BLOCK`]: a network connection's buffers,
//!   the file system's chunks) each get a cell of one shared slot ([`cells`]) and whole
//!   pages of their own, mapped at once and unmapped when the block is freed: their frames
//!   go back to the pool, so a burst of connections leaves no memory behind.
//! - Large blocks (a program's linear memory, wasmi's stacks, the program's bytes) each get
//!   a slot of address space ([`slots`]): 16 GiB, of which a block uses at most 8 GiB. Pages
//!   are mapped when first touched (demand-zero, through the page-fault handler), so
//!   `realloc` grows a block in place without copying, and `Vec`'s doubling of capacity
//!   costs address space, not RAM. Shrinking or freeing a block unmaps its pages and returns
//!   their frames to the pool.
//!
//! Touching a page when no frame is left is a kernel out-of-memory fault. Programs never get
//! there: their memory grows only while frames are free (see `wasm.rs`'s limiter and
//! [`available_bytes`]).
//!
//! A small static emergency arena serves allocations only once a fault is being reported,
//! so the reporter can still build its EXIT frame when memory is exhausted or the lock is
//! held by the code that faulted.

pub mod cells;
pub mod frames;
pub mod slots;
pub mod small;

#[cfg(target_os = "none")]
mod allocator;

#[cfg(target_os = "none")]
pub use allocator::*;

/// Free memory no program's growth may take (linear memory, wasmi's stacks, files, pipes,
/// sockets): the kernel's own heap, its bookkeeping and the write-back at exit live on it.
pub const KERNEL_RESERVE: usize = 16 << 20;

/// Allocations of at least this many bytes (and below [`LARGE_BLOCK`]) get whole pages of
/// their own in a cell ([`cells`]), given back when they are freed; smaller ones come from
/// the heap, where a page's worth of waste would be too much.
pub const MEDIUM_BLOCK: usize = 16 * 1024;

/// Allocations of at least this many bytes get a slot of their own; smaller ones are medium
/// blocks or come from the heap. Slots are few (hundreds), so the threshold sits above the
/// VFS's 64 KiB file chunks, of which a large file has thousands; a linear memory that starts smaller moves
/// to a slot once, when it first grows past this.
pub const LARGE_BLOCK: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::frames::tests::MapLinks;
    use super::frames::{FRAME_SIZE, FramePool};
    use super::slots::Slots;
    use crate::arch::paging::{PageTables, Table, TableMemory};

    /// RAM as a map of frames, each created zeroed when first reached.
    #[derive(Default)]
    struct FakeRam(RefCell<HashMap<u64, Box<Table>>>);

    impl TableMemory for &FakeRam {
        fn table(&self, phys: u64) -> *mut Table {
            let mut frames = self.0.borrow_mut();
            &mut **frames.entry(phys).or_insert_with(|| Box::new([0; 512])) as *mut Table
        }
    }

    impl FakeRam {
        fn zero(&self, phys: u64) {
            self.0.borrow_mut().insert(phys, Box::new([0; 512]));
        }
    }

    const BASE: u64 = 0xffff_8100_0000_0000;

    /// The life of a large block as the allocator runs it — slot reserved, every page mapped
    /// on touch, shrunk in place, freed — repeated 1000 times with sizes up to 2.1 MiB:
    /// every frame comes back each time, and only a few page tables stay with the slot.
    #[test]
    fn a_thousand_large_blocks_give_back_all_their_frames() {
        let ram = FakeRam::default();
        let mut links = MapLinks::default();
        let mut pool = FramePool::<1>::new();
        assert!(pool.add_range(0x10_0000, 0x10_0000 + (64 << 20)));
        let root = pool.alloc(&links).unwrap();
        ram.zero(root);
        // SAFETY: a fresh fake level-4 table that only this walker changes.
        let mut tables = unsafe { PageTables::new(root, &ram, true) };
        let mut slots = Slots::<1>::new();
        assert!(slots.add_region(BASE));
        let mut steady = None;
        for round in 0..1000u64 {
            let size = (1 + round % 7) * 300 * 1024;
            let slot = slots.reserve(size).unwrap();
            let end = slot.base + size.next_multiple_of(FRAME_SIZE);
            for page in (slot.base..end).step_by(FRAME_SIZE as usize) {
                let frame = pool.alloc(&links).unwrap();
                let mut new_table = || {
                    let table = pool.alloc(&links)?;
                    ram.zero(table);
                    Some(table)
                };
                // SAFETY: a free frame, an unmapped page of the block.
                unsafe { tables.map(page, frame, &mut new_table) }.unwrap();
            }
            let half = slot.base + (size / 2).next_multiple_of(FRAME_SIZE);
            // SAFETY: the block gives up its upper half, then everything.
            unsafe { tables.unmap_range(half, end, &mut |frame| pool.free(frame, &mut links)) };
            assert!(slots.resize(slot.index, size / 2));
            // SAFETY: as above.
            unsafe {
                tables.unmap_range(slot.base, half, &mut |frame| pool.free(frame, &mut links))
            };
            slots.release(slot.index);
            let free = pool.free_frames();
            // The page tables a block needs stay with its slot: once the largest block was
            // there (round 6), no round may keep a frame more.
            if round >= 6 {
                assert_eq!(
                    *steady.get_or_insert(free),
                    free,
                    "round {round} lost frames"
                );
            }
        }
        // Kept: the root, the region's level-3 table, a directory and at most two page tables.
        assert!(pool.total_frames() - steady.unwrap() <= 5);
        assert_eq!(slots.used(), 0);
    }
}
