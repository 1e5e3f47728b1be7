//! Bookkeeping of the kernel's large-block address space: each region (one unused level-4
//! page-table entry, 512 GiB) is cut into slots of [`SLOT_SPAN`], each holding at most one
//! block of up to [`SLOT_MAX`] bytes; the rest of the slot is never mapped and acts as a
//! guard. A block changes size in place, so growing one never copies.
//!
//! Pure arithmetic: which pages are mapped is the page tables' business.

/// Address space covered by one region (one level-4 entry).
pub const REGION_SPAN: u64 = 512 << 30;
/// Address space of one slot.
pub const SLOT_SPAN: u64 = 16 << 30;
/// Largest block a slot holds. A wasm32 linear memory is at most 4 GiB, and `Vec` doubles
/// its capacity when it grows, so a memory just under 4 GiB may ask for 8 GiB.
pub const SLOT_MAX: u64 = 8 << 30;
/// Slots per region.
pub const SLOTS_PER_REGION: usize = (REGION_SPAN / SLOT_SPAN) as usize;

/// A slot: its number and where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Number of the slot, for [`Slots::size`], [`Slots::resize`] and [`Slots::release`].
    pub index: usize,
    /// First address of the slot (and of its block).
    pub base: u64,
}

/// The slots of up to `REGIONS` regions.
pub struct Slots<const REGIONS: usize> {
    bases: [u64; REGIONS],
    regions: usize,
    /// Bit `s` of word `r`: slot `s` of region `r` is in use.
    in_use: [u32; REGIONS],
    /// Size of the block in each slot (bytes; meaningful while in use).
    sizes: [[u64; SLOTS_PER_REGION]; REGIONS],
}

impl<const REGIONS: usize> Slots<REGIONS> {
    /// No regions yet.
    pub const fn new() -> Self {
        Slots {
            bases: [0; REGIONS],
            regions: 0,
            in_use: [0; REGIONS],
            sizes: [[0; SLOTS_PER_REGION]; REGIONS],
        }
    }

    /// Whether another region can be added.
    pub fn has_room(&self) -> bool {
        self.regions < REGIONS
    }

    /// Whether the region starting at `base` was added.
    pub fn has_region(&self, base: u64) -> bool {
        self.bases[..self.regions].contains(&base)
    }

    /// Adds the region starting at `base` (aligned to [`REGION_SPAN`]); false if full.
    pub fn add_region(&mut self, base: u64) -> bool {
        debug_assert_eq!(base % REGION_SPAN, 0, "unaligned region");
        if !self.has_room() {
            return false;
        }
        self.bases[self.regions] = base;
        self.regions += 1;
        true
    }

    /// Takes a free slot for a block of `size` bytes, or `None` when every slot of every
    /// region is in use (add a region and retry) or the block is too large for a slot.
    pub fn reserve(&mut self, size: u64) -> Option<Slot> {
        if size > SLOT_MAX {
            return None;
        }
        let region = (0..self.regions).find(|&r| self.in_use[r] != u32::MAX)?;
        let slot = self.in_use[region].trailing_ones() as usize;
        self.in_use[region] |= 1 << slot;
        self.sizes[region][slot] = size;
        let index = region * SLOTS_PER_REGION + slot;
        Some(Slot {
            index,
            base: self.base_of(index),
        })
    }

    /// The slot in use whose span contains `address` (its block or its guard).
    pub fn find(&self, address: u64) -> Option<Slot> {
        let region =
            (0..self.regions).find(|&r| address.wrapping_sub(self.bases[r]) < REGION_SPAN)?;
        let slot = ((address - self.bases[region]) / SLOT_SPAN) as usize;
        (self.in_use[region] & (1 << slot) != 0).then(|| {
            let index = region * SLOTS_PER_REGION + slot;
            Slot {
                index,
                base: self.base_of(index),
            }
        })
    }

    /// Size of the block in slot `index`.
    pub fn size(&self, index: usize) -> u64 {
        self.sizes[index / SLOTS_PER_REGION][index % SLOTS_PER_REGION]
    }

    /// Sets the size of the block in slot `index`; false (changing nothing) if it exceeds
    /// [`SLOT_MAX`].
    pub fn resize(&mut self, index: usize, size: u64) -> bool {
        if size > SLOT_MAX {
            return false;
        }
        self.sizes[index / SLOTS_PER_REGION][index % SLOTS_PER_REGION] = size;
        true
    }

    /// Frees slot `index`.
    pub fn release(&mut self, index: usize) {
        self.in_use[index / SLOTS_PER_REGION] &= !(1 << (index % SLOTS_PER_REGION));
    }

    /// Slots in use.
    pub fn used(&self) -> usize {
        self.in_use[..self.regions]
            .iter()
            .map(|bits| bits.count_ones() as usize)
            .sum()
    }

    fn base_of(&self, index: usize) -> u64 {
        self.bases[index / SLOTS_PER_REGION] + (index % SLOTS_PER_REGION) as u64 * SLOT_SPAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0xffff_8100_0000_0000;

    #[test]
    fn slots_are_disjoint_and_reused() {
        let mut slots = Slots::<2>::new();
        assert_eq!(slots.reserve(4096), None, "no region yet");
        assert!(slots.add_region(BASE));
        let a = slots.reserve(1 << 20).unwrap();
        let b = slots.reserve(4 << 30).unwrap();
        assert_eq!(a.base, BASE);
        assert_eq!(b.base, BASE + SLOT_SPAN);
        assert_eq!(slots.find(a.base + 12345), Some(a));
        // The guard belongs to the slot too: a fault there is recognised as an overrun.
        assert_eq!(slots.find(b.base + SLOT_SPAN - 1), Some(b));
        assert_eq!(slots.find(b.base + SLOT_SPAN), None);
        slots.release(a.index);
        assert_eq!(slots.find(a.base), None);
        assert_eq!(
            slots.reserve(8192).unwrap().base,
            BASE,
            "lowest free slot first"
        );
        assert_eq!(slots.used(), 2);
    }

    #[test]
    fn fills_regions_in_order_and_limits_block_size() {
        let mut slots = Slots::<2>::new();
        assert!(slots.add_region(BASE));
        for i in 0..SLOTS_PER_REGION {
            assert_eq!(slots.reserve(1).unwrap().index, i);
        }
        assert_eq!(slots.reserve(1), None, "region full");
        assert!(slots.add_region(BASE + REGION_SPAN));
        let next = slots.reserve(1).unwrap();
        assert_eq!(next.base, BASE + REGION_SPAN);
        assert_eq!(slots.reserve(SLOT_MAX + 1), None);
        assert!(slots.resize(next.index, SLOT_MAX));
        assert!(!slots.resize(next.index, SLOT_MAX + 1));
        assert_eq!(slots.size(next.index), SLOT_MAX);
        assert!(!slots.add_region(0));
    }
}
