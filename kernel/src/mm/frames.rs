//! The pool of free 4 KiB physical frames.
//!
//! Usable RAM starts out as a list of untouched ranges handed out front to back (a bump
//! pointer, so booting costs nothing per frame); a freed frame goes on a free stack threaded
//! through the frames themselves (each holds the address of the next). Both operations are
//! O(1), and neither needs a heap. Reading and writing the links is the caller's business
//! ([`FrameLinks`]): the kernel goes through its mapping of physical memory, the host tests
//! through a map.

/// Size of a frame (and of a page).
pub const FRAME_SIZE: u64 = 4096;

/// End of the free stack.
const NO_FRAME: u64 = u64::MAX;

/// Access to the first word of a free frame, where the free stack keeps its link.
pub trait FrameLinks {
    /// The link stored in `frame`.
    fn next(&self, frame: u64) -> u64;
    /// Stores `next` in `frame`.
    fn set_next(&mut self, frame: u64, next: u64);
}

/// Free frames: untouched ranges plus a stack of returned frames.
pub struct FramePool<const RANGES: usize> {
    /// `[start, end)` of each range, frame-aligned; `start` advances as frames are handed out.
    ranges: [(u64, u64); RANGES],
    ranges_len: usize,
    /// First range that may still have untouched frames.
    cursor: usize,
    /// Top of the free stack, or [`NO_FRAME`].
    stack_top: u64,
    /// Frames on the free stack.
    stacked: usize,
    /// Frames left in the untouched ranges.
    untouched: usize,
    /// Frames the pool was given.
    total: usize,
}

impl<const RANGES: usize> FramePool<RANGES> {
    /// An empty pool.
    pub const fn new() -> Self {
        FramePool {
            ranges: [(0, 0); RANGES],
            ranges_len: 0,
            cursor: 0,
            stack_top: NO_FRAME,
            stacked: 0,
            untouched: 0,
            total: 0,
        }
    }

    /// Adds the whole frames of `[start, end)` (joined to the previous range when they
    /// touch); returns false (adding nothing) when the pool has no room for another range.
    pub fn add_range(&mut self, start: u64, end: u64) -> bool {
        let start = start.next_multiple_of(FRAME_SIZE);
        let end = end & !(FRAME_SIZE - 1);
        if start >= end {
            return true;
        }
        match self.ranges[..self.ranges_len].last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ if self.ranges_len == RANGES => return false,
            _ => {
                self.ranges[self.ranges_len] = (start, end);
                self.ranges_len += 1;
            }
        }
        let frames = ((end - start) / FRAME_SIZE) as usize;
        self.untouched += frames;
        self.total += frames;
        true
    }

    /// Takes a free frame (its contents are whatever it held).
    pub fn alloc(&mut self, links: &impl FrameLinks) -> Option<u64> {
        if self.stack_top != NO_FRAME {
            let frame = self.stack_top;
            self.stack_top = links.next(frame);
            self.stacked -= 1;
            return Some(frame);
        }
        while self.cursor < self.ranges_len {
            let (start, end) = &mut self.ranges[self.cursor];
            if *start < *end {
                let frame = *start;
                *start += FRAME_SIZE;
                self.untouched -= 1;
                return Some(frame);
            }
            self.cursor += 1;
        }
        None
    }

    /// Returns `frame` to the pool.
    ///
    /// The frame must have come from [`FramePool::alloc`] and no longer be in use: the pool
    /// writes its link into it.
    pub fn free(&mut self, frame: u64, links: &mut impl FrameLinks) {
        debug_assert_eq!(frame % FRAME_SIZE, 0, "freeing an unaligned frame");
        links.set_next(frame, self.stack_top);
        self.stack_top = frame;
        self.stacked += 1;
    }

    /// Frames that [`FramePool::alloc`] can still hand out.
    pub fn free_frames(&self) -> usize {
        self.stacked + self.untouched
    }

    /// Frames the pool was given.
    pub fn total_frames(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Links kept in a map, as if written into the frames.
    #[derive(Default)]
    pub(crate) struct MapLinks(pub HashMap<u64, u64>);

    impl FrameLinks for MapLinks {
        fn next(&self, frame: u64) -> u64 {
            self.0[&frame]
        }
        fn set_next(&mut self, frame: u64, next: u64) {
            self.0.insert(frame, next);
        }
    }

    #[test]
    fn hands_out_every_frame_once_then_reuses_freed_ones() {
        let mut pool = FramePool::<4>::new();
        let mut links = MapLinks::default();
        assert!(pool.add_range(0x10_0000, 0x10_3000));
        // Partial frames at both ends are dropped.
        assert!(pool.add_range(0x20_0800, 0x20_2800));
        assert_eq!(pool.total_frames(), 4);
        let frames: Vec<u64> = (0..4).map(|_| pool.alloc(&links).unwrap()).collect();
        assert_eq!(frames, [0x10_0000, 0x10_1000, 0x10_2000, 0x20_1000]);
        assert_eq!(pool.alloc(&links), None);
        assert_eq!(pool.free_frames(), 0);
        pool.free(0x10_1000, &mut links);
        pool.free(0x20_1000, &mut links);
        assert_eq!(pool.free_frames(), 2);
        assert_eq!(pool.alloc(&links), Some(0x20_1000));
        assert_eq!(pool.alloc(&links), Some(0x10_1000));
        assert_eq!(pool.alloc(&links), None);
    }

    #[test]
    fn refuses_ranges_beyond_its_capacity() {
        let mut pool = FramePool::<1>::new();
        assert!(pool.add_range(0x1000, 0x3000));
        assert!(
            pool.add_range(0x5000, 0x5800),
            "an empty range needs no room"
        );
        assert!(pool.add_range(0x3000, 0x4000), "a touching range is joined");
        assert!(!pool.add_range(0x8000, 0x9000));
        assert_eq!(pool.total_frames(), 3);
        let links = MapLinks::default();
        let frames: Vec<u64> = (0..3).map(|_| pool.alloc(&links).unwrap()).collect();
        assert_eq!(frames, [0x1000, 0x2000, 0x3000]);
    }
}
