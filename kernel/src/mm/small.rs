//! A bounded cache of freed small heap blocks, in front of the heap's first-fit search.
//!
//! The kernel frees and allocates the same few small sizes over and over (the boxed error
//! wasmi needs to suspend a host call, a scheduler node, a short message): each trip
//! through `linked_list_allocator` walks its hole list, and gives the block back by walking
//! it again to merge neighbours. Here a freed block of up to [`MAX_SMALL`] bytes waits on a
//! free list of its exact size instead, and the next allocation of that size takes it back
//! at once (last in, first out, so it is still in the cache lines the kernel just used).
//!
//! The cache never hoards: each size keeps at most [`PER_SIZE`] blocks (past that a freed
//! block goes back to the heap), which bounds it at [`MAX_CACHED_BYTES`], and the allocator
//! gives everything back before it grows the heap. Cached blocks count as free in the
//! allocator's statistics ([`SmallBlocks::cached_bytes`]).
//!
//! Sizes are the heap's own: a request of `size` bytes takes `max(size, 16)` rounded up to
//! 8 from the heap (`linked_list_allocator`'s `HoleList::align_layout`), so a block cached
//! under that size serves any later request the heap would have rounded to it, and returns
//! to the heap with exactly the layout it was allocated with ([`SmallBlocks::drain`]).
//! Blocks with an alignment above 8 bypass the cache: the heap only promises them their own.

use core::alloc::Layout;
use core::ptr::NonNull;

/// The heap's granule: every block's size is a multiple of it, and every block is aligned
/// to it (the size of a pointer: the heap keeps its hole links in the blocks).
const GRANULE: usize = 8;
/// The heap's smallest block (two pointers: a hole's size and link).
const MIN_BLOCK: usize = 16;
/// Largest block size the cache keeps.
pub const MAX_SMALL: usize = 256;
/// Blocks kept per size.
pub const PER_SIZE: usize = 16;
/// Sizes the cache knows: 16, 24, ..., [`MAX_SMALL`].
const SIZES: usize = (MAX_SMALL - MIN_BLOCK) / GRANULE + 1;
/// The most bytes the cache ever holds.
pub const MAX_CACHED_BYTES: usize = PER_SIZE * SIZES * (MIN_BLOCK + MAX_SMALL) / 2;
// A small fraction of the heap's initial 4 MiB, however the sizes above are tuned.
const _: () = assert!(MAX_CACHED_BYTES <= 128 * 1024);

/// Per-size free lists of blocks the heap handed out and the kernel has freed.
pub struct SmallBlocks {
    /// The first cached block of each size; each block holds the address of the next.
    heads: [Option<NonNull<u8>>; SIZES],
    /// Blocks cached per size.
    counts: [u8; SIZES],
    /// Bytes in all cached blocks.
    cached: usize,
}

/// The index of the heap's block size for `layout`, if the cache serves it.
fn size_index(layout: Layout) -> Option<usize> {
    if layout.align() > GRANULE {
        return None;
    }
    let size = layout.size().max(MIN_BLOCK).next_multiple_of(GRANULE);
    (size <= MAX_SMALL).then(|| (size - MIN_BLOCK) / GRANULE)
}

/// The block size of index `index`.
const fn block_size(index: usize) -> usize {
    MIN_BLOCK + index * GRANULE
}

impl SmallBlocks {
    /// An empty cache.
    pub const fn new() -> Self {
        SmallBlocks {
            heads: [None; SIZES],
            counts: [0; SIZES],
            cached: 0,
        }
    }

    /// Bytes held in cached blocks: free memory, though the heap counts it as used.
    pub fn cached_bytes(&self) -> usize {
        self.cached
    }

    /// A cached block for `layout`, if one is there.
    pub fn take(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let index = size_index(layout)?;
        let head = self.heads.get_mut(index)?;
        let block = (*head)?;
        // SAFETY: `block` is a cached block (see `put`): at least 16 bytes, 8-aligned, owned
        // by the cache, its first word the address of the next cached block of its size.
        let next = unsafe { block.cast::<Option<NonNull<u8>>>().as_ptr().read() };
        *head = next;
        if let Some(count) = self.counts.get_mut(index) {
            *count -= 1;
        }
        self.cached -= block_size(index);
        Some(block)
    }

    /// Keeps `block` (allocated from the heap with `layout`, now freed) for the next request
    /// of its size; false if the cache does not take it (too large, over-aligned, or its
    /// size's list is full), and then the caller gives it back to the heap.
    ///
    /// # Safety
    ///
    /// `block` must come from the heap with `layout`, be freed by its owner (nothing uses it
    /// any more), and not be cached already.
    pub unsafe fn put(&mut self, block: NonNull<u8>, layout: Layout) -> bool {
        let Some(index) = size_index(layout) else {
            return false;
        };
        let (Some(head), Some(count)) = (self.heads.get_mut(index), self.counts.get_mut(index))
        else {
            return false;
        };
        if usize::from(*count) >= PER_SIZE {
            return false;
        }
        // SAFETY: the heap gave the block at least `block_size(index)` >= 16 bytes, aligned
        // to 8 (`size_index` admits no larger alignment and the heap aligns every block to
        // its granule), and the caller hands it over: its first word may hold the link.
        unsafe { block.cast::<Option<NonNull<u8>>>().as_ptr().write(*head) };
        *head = Some(block);
        *count += 1;
        self.cached += block_size(index);
        true
    }

    /// Empties the cache, handing each block to `free` with the layout the heap gave it
    /// out with (its block size, aligned to 8).
    pub fn drain(&mut self, mut free: impl FnMut(NonNull<u8>, Layout)) {
        for index in 0..SIZES {
            let Ok(layout) = Layout::from_size_align(block_size(index), GRANULE) else {
                continue;
            };
            while let Some(block) = self.take(layout) {
                free(block, layout);
            }
        }
    }
}

impl Default for SmallBlocks {
    fn default() -> Self {
        SmallBlocks::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Blocks as a host heap would give them: 8-aligned, of the rounded size.
    fn block(layout: Layout) -> NonNull<u8> {
        let size = layout.size().max(MIN_BLOCK).next_multiple_of(GRANULE);
        let words = vec![0u64; size / GRANULE].into_boxed_slice();
        NonNull::new(Box::leak(words).as_mut_ptr().cast()).unwrap()
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn a_freed_block_serves_the_next_request_the_heap_would_round_to_its_size() {
        let mut cache = SmallBlocks::new();
        let a = block(layout(40, 8));
        // SAFETY: a fresh block of that layout, freed by its owner.
        assert!(unsafe { cache.put(a, layout(40, 8)) });
        assert_eq!(cache.cached_bytes(), 40);
        // 33..=40 bytes all take a 40-byte block; 41 needs 48.
        assert_eq!(cache.take(layout(41, 8)), None);
        assert_eq!(cache.take(layout(33, 4)), Some(a));
        assert_eq!(cache.take(layout(40, 8)), None);
        assert_eq!(cache.cached_bytes(), 0);
        // The smallest requests share the heap's 16-byte minimum.
        let b = block(layout(1, 1));
        // SAFETY: as above.
        assert!(unsafe { cache.put(b, layout(1, 1)) });
        assert_eq!(cache.take(layout(16, 8)), Some(b));
    }

    #[test]
    fn last_freed_comes_back_first() {
        let mut cache = SmallBlocks::new();
        let l = layout(24, 8);
        let (a, b) = (block(l), block(l));
        // SAFETY: fresh blocks of that layout, freed by their owner.
        unsafe {
            assert!(cache.put(a, l));
            assert!(cache.put(b, l));
        }
        assert_eq!(cache.take(l), Some(b));
        assert_eq!(cache.take(l), Some(a));
        assert_eq!(cache.take(l), None);
    }

    #[test]
    fn large_and_over_aligned_blocks_are_not_cached() {
        let mut cache = SmallBlocks::new();
        for l in [layout(MAX_SMALL + 1, 8), layout(32, 16), layout(4096, 8)] {
            let b = block(l);
            // SAFETY: a fresh block of that layout (16-aligned: the test's boxes give 8
            // only, which `put` must refuse before touching it).
            assert!(!unsafe { cache.put(b, l) });
        }
        assert_eq!(cache.cached_bytes(), 0);
        assert!(size_index(layout(MAX_SMALL, 8)).is_some());
    }

    #[test]
    fn each_size_keeps_a_bounded_number_and_drain_gives_every_block_back_once() {
        let mut cache = SmallBlocks::new();
        let mut given = HashSet::new();
        for size in (MIN_BLOCK..=MAX_SMALL).step_by(GRANULE) {
            let l = layout(size, 8);
            let mut kept = 0;
            for _ in 0..PER_SIZE + 3 {
                let b = block(l);
                // SAFETY: a fresh block of that layout, freed by its owner.
                if unsafe { cache.put(b, l) } {
                    kept += 1;
                    given.insert(b.as_ptr() as usize);
                }
            }
            assert_eq!(kept, PER_SIZE, "blocks of {size} bytes kept");
        }
        assert_eq!(cache.cached_bytes(), MAX_CACHED_BYTES, "full, and no more");
        let mut back = HashSet::new();
        let mut bytes = 0;
        cache.drain(|block, layout| {
            assert_eq!(layout.align(), GRANULE);
            assert!(
                back.insert(block.as_ptr() as usize),
                "a block came back twice"
            );
            bytes += layout.size();
        });
        assert_eq!(back, given);
        assert_eq!(bytes, MAX_CACHED_BYTES);
        assert_eq!(cache.cached_bytes(), 0);
        assert_eq!(cache.take(layout(64, 8)), None);
    }
}
