//! Bookkeeping of the medium-block cells: one slot of address space cut into [`CELLS`] cells
//! of [`CELL_SPAN`] bytes, each holding at most one medium block (from [`MEDIUM_BLOCK`] up
//! to [`LARGE_BLOCK`] bytes). A medium block has pages of its own, mapped when it is
//! allocated and unmapped when it is freed, so its frames go back to the pool at once —
//! which the heap, holding on to every frame it ever mapped, would not do: a burst of
//! network connections (two buffers of 16 and 32 KiB each) would keep its memory there.
//!
//! The lowest free cell is always taken, so that blocks stay packed at the start of the slot
//! and share page tables. Pure arithmetic: which pages are mapped is the page tables' business.
//!
//! [`MEDIUM_BLOCK`]: super::MEDIUM_BLOCK
//! [`LARGE_BLOCK`]: super::LARGE_BLOCK

use super::slots::SLOT_MAX;

/// Address space of a cell: room for the largest medium block.
pub const CELL_SPAN: u64 = super::LARGE_BLOCK as u64;
/// Cells in the slot.
pub const CELLS: usize = (SLOT_MAX / CELL_SPAN) as usize;
/// Bits of a word of the bitmaps.
const WORD_BITS: usize = u64::BITS as usize;
/// Words of the in-use bitmap.
const WORDS: usize = CELLS / WORD_BITS;
/// Words of the summary, one bit per word of the in-use bitmap.
const SUMMARY_WORDS: usize = WORDS.div_ceil(WORD_BITS);

/// Which cells are in use.
pub struct Cells {
    /// Bit `b` of word `w`: cell `w * 64 + b` is in use.
    in_use: [u64; WORDS],
    /// Bit `b` of word `s`: word `s * 64 + b` of `in_use` is full.
    full: [u64; SUMMARY_WORDS],
    used: usize,
}

impl Cells {
    /// Every cell free.
    pub const fn new() -> Self {
        Cells {
            in_use: [0; WORDS],
            full: [0; SUMMARY_WORDS],
            used: 0,
        }
    }

    /// Takes the lowest free cell; `None` when all are in use.
    pub fn take(&mut self) -> Option<usize> {
        let summary = self.full.iter().position(|&bits| bits != u64::MAX)?;
        let word = summary * WORD_BITS + self.full[summary].trailing_ones() as usize;
        let bit = self.in_use.get(word)?.trailing_ones() as usize;
        self.in_use[word] |= 1 << bit;
        if self.in_use[word] == u64::MAX {
            self.full[summary] |= 1 << (word % WORD_BITS);
        }
        self.used += 1;
        Some(word * WORD_BITS + bit)
    }

    /// Gives cell `cell` back.
    pub fn give(&mut self, cell: usize) {
        let (word, bit) = (cell / WORD_BITS, cell % WORD_BITS);
        debug_assert!(self.in_use[word] & (1 << bit) != 0, "cell {cell} was free");
        self.in_use[word] &= !(1 << bit);
        self.full[word / WORD_BITS] &= !(1 << (word % WORD_BITS));
        self.used -= 1;
    }

    /// Cells in use.
    pub fn used(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_free_cell_is_taken_until_none_is_left() {
        let mut cells = Cells::new();
        assert_eq!((0..200).map(|_| cells.take().unwrap()).max(), Some(199));
        cells.give(3);
        cells.give(130);
        assert_eq!(cells.take(), Some(3));
        assert_eq!(cells.take(), Some(130));
        assert_eq!(cells.take(), Some(200));
        assert_eq!(cells.used(), 201);
        while cells.take().is_some() {}
        assert_eq!(cells.used(), CELLS);
        cells.give(CELLS - 1);
        cells.give(4096);
        assert_eq!(cells.take(), Some(4096));
        assert_eq!(cells.take(), Some(CELLS - 1));
        assert_eq!(cells.take(), None);
    }
}
