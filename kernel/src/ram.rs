//! The kernel's own record of usable RAM, which both boot paths fill: bootloader 0.11's memory
//! regions (disk images) or the PVH start info's memory map (QEMU's direct boot, see
//! `arch::pvh`). Pure arithmetic on address ranges, so it is unit-tested on the host.

/// Most separate usable ranges kept; more are dropped (the memory map of a PC has a handful).
pub const MAX_RANGES: usize = 128;

/// Usable RAM as sorted, disjoint, non-empty `[start, end)` ranges.
#[derive(Clone, Copy, Debug)]
pub struct UsableRam {
    ranges: [(u64, u64); MAX_RANGES],
    len: usize,
}

impl UsableRam {
    /// No RAM.
    pub const fn new() -> UsableRam {
        UsableRam {
            ranges: [(0, 0); MAX_RANGES],
            len: 0,
        }
    }

    /// The RAM of `ram` (ranges in any order, possibly overlapping) without any byte of
    /// `reserved` (what the kernel image, the ramdisk and the boot page tables occupy).
    pub fn from_map(
        ram: impl IntoIterator<Item = (u64, u64)>,
        reserved: &[(u64, u64)],
    ) -> UsableRam {
        let mut usable = UsableRam::new();
        for (start, end) in ram {
            usable.add(start, end);
        }
        for &(start, end) in reserved {
            usable.remove(start, end);
        }
        usable
    }

    /// The ranges, sorted by address.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges[..self.len]
    }

    /// Bytes of usable RAM.
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.ranges().iter().map(|(start, end)| end - start).sum()
    }

    /// Adds `[start, end)`, merged with the ranges it overlaps or touches.
    pub fn add(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let (mut start, mut end) = (start, end);
        // Take out every range that overlaps or touches the new one, widening it.
        let mut kept = 0;
        for i in 0..self.len {
            let (s, e) = self.ranges[i];
            if s <= end && start <= e {
                start = start.min(s);
                end = end.max(e);
            } else {
                self.ranges[kept] = (s, e);
                kept += 1;
            }
        }
        self.len = kept;
        self.insert(start, end);
    }

    /// Removes every byte of `[start, end)`.
    pub fn remove(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let old = self.ranges;
        let old_len = self.len;
        self.len = 0;
        for &(s, e) in &old[..old_len] {
            if e <= start || end <= s {
                self.insert(s, e);
                continue;
            }
            if s < start {
                self.insert(s, start);
            }
            if end < e {
                self.insert(end, e);
            }
        }
    }

    /// Inserts a range that overlaps none in sorted position; dropped when the list is full.
    fn insert(&mut self, start: u64, end: u64) {
        if self.len == MAX_RANGES {
            return;
        }
        let at = self.ranges[..self.len].partition_point(|&(s, _)| s < start);
        self.ranges.copy_within(at..self.len, at + 1);
        self.ranges[at] = (start, end);
        self.len += 1;
    }
}

impl Default for UsableRam {
    fn default() -> Self {
        UsableRam::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_overlapping_and_touching_ranges_in_order() {
        let ram = UsableRam::from_map(
            [
                (0x10_0000, 0x20_0000),
                (0, 0x9_f000),
                (0x20_0000, 0x30_0000),
                (0x28_0000, 0x40_0000),
            ],
            &[],
        );
        assert_eq!(ram.ranges(), [(0, 0x9_f000), (0x10_0000, 0x40_0000)]);
        assert_eq!(ram.total(), 0x9_f000 + 0x30_0000);
    }

    #[test]
    fn reserved_ranges_cut_holes_and_trim_ends() {
        // A PC with 4 GiB: low RAM, RAM up to 2 GiB, and the rest above 4 GiB; the kernel
        // at 2 MiB, the ramdisk near the top of low memory and a reservation across a gap.
        let map = [
            (0, 0x9_fc00),
            (0x10_0000, 0x8000_0000),
            (0x1_0000_0000, 0x1_8000_0000),
        ];
        let reserved = [
            (0x20_0000, 0x45_6000),
            (0x7fd0_0000, 0x7ff0_0000),
            (0x7ff8_0000, 0x1_0000_1000),
            (0x9_0000, 0x9_1000),
        ];
        let ram = UsableRam::from_map(map, &reserved);
        assert_eq!(
            ram.ranges(),
            [
                (0, 0x9_0000),
                (0x9_1000, 0x9_fc00),
                (0x10_0000, 0x20_0000),
                (0x45_6000, 0x7fd0_0000),
                (0x7ff0_0000, 0x7ff8_0000),
                (0x1_0000_1000, 0x1_8000_0000),
            ]
        );
        // A reservation covering a whole range removes it; an empty one changes nothing.
        let ram = UsableRam::from_map(map, &[(0, 0x10_0000), (5, 5)]);
        assert_eq!(ram.ranges()[0], (0x10_0000, 0x8000_0000));
        assert_eq!(ram.ranges().len(), 2);
    }

    #[test]
    fn a_full_list_drops_further_ranges_instead_of_failing() {
        let map = (0..MAX_RANGES as u64 + 10).map(|i| (i * 0x2000, i * 0x2000 + 0x1000));
        let ram = UsableRam::from_map(map, &[]);
        assert_eq!(ram.ranges().len(), MAX_RANGES);
        assert_eq!(ram.ranges()[0], (0, 0x1000));
        // Splitting a range in a full list drops the highest range, never overwrites one.
        let mut full = ram;
        full.remove(0x400, 0x800);
        assert_eq!(full.ranges().len(), MAX_RANGES);
        assert_eq!(full.ranges()[..2], [(0, 0x400), (0x800, 0x1000)]);
        assert_eq!(
            full.ranges()[MAX_RANGES - 1].0,
            (MAX_RANGES as u64 - 2) * 0x2000
        );
    }
}
