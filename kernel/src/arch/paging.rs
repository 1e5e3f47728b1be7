//! Four-level x86_64 page tables: mapping and unmapping 4 KiB pages of the kernel's address
//! space, translating addresses, and finding unused level-4 entries.
//!
//! The walker ([`PageTables`]) reaches tables through [`TableMemory`], so the same code runs
//! in the kernel (through the bootloader's mapping of physical memory) and in host tests
//! (over a map of fake frames). The CPU side — CR3, EFER, TLB invalidation — is
//! [`active`], [`flush_page`] and [`flush_all`].

/// Size of a page.
pub const PAGE_SIZE: u64 = 4096;
/// Entries per table.
pub const ENTRIES: usize = 512;
/// Entry bits.
pub const PRESENT: u64 = 1 << 0;
pub const WRITABLE: u64 = 1 << 1;
pub const HUGE_PAGE: u64 = 1 << 7;
pub const NO_EXECUTE: u64 = 1 << 63;
/// Bits 12–51 of an entry: the physical address it points at.
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

/// One page table: 512 entries.
pub type Table = [u64; ENTRIES];

/// Where the walker finds the table stored in a physical frame.
pub trait TableMemory {
    /// The table in frame `phys`. The pointer must be valid for reads and writes for as long
    /// as the frame is a page table of the address space being walked.
    fn table(&self, phys: u64) -> *mut Table;
}

/// Why a page could not be mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frame for a missing page table.
    OutOfFrames,
    /// The page, or a huge page around it, is already mapped.
    AlreadyMapped,
}

/// What an [`PageTables::unmap_range`] call removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unmapped {
    /// 4 KiB pages unmapped (their frames were handed to the caller).
    pub pages: usize,
    /// Page tables freed because the range covered all they map.
    pub tables: usize,
}

/// Shift of the address bits that index a table of `level` (1 = page table, 4 = PML4).
const fn shift(level: u32) -> u32 {
    12 + 9 * (level - 1)
}

const fn index(address: u64, level: u32) -> usize {
    ((address >> shift(level)) as usize) & (ENTRIES - 1)
}

/// An address space: the level-4 table at `root` and the memory its tables are reached by.
pub struct PageTables<M> {
    root: u64,
    memory: M,
    /// Bits of every leaf entry this walker writes.
    leaf_flags: u64,
}

impl<M: TableMemory> PageTables<M> {
    /// The address space whose level-4 table is in frame `root`. Leaf entries get
    /// NO_EXECUTE when `no_execute` (only valid with EFER.NXE set).
    ///
    /// # Safety
    ///
    /// `root` must be a level-4 table, and `memory` must reach it and every table below it;
    /// the walker changes those tables, so no one else may change them meanwhile.
    pub unsafe fn new(root: u64, memory: M, no_execute: bool) -> Self {
        let nx = if no_execute { NO_EXECUTE } else { 0 };
        PageTables {
            root,
            memory,
            leaf_flags: PRESENT | WRITABLE | nx,
        }
    }

    fn entry(&self, table: u64, index: usize) -> u64 {
        // SAFETY: `table` is a table of this address space (`new`'s contract), reachable
        // through `memory`, and `index` is below 512.
        unsafe { (*self.memory.table(table))[index] }
    }

    fn set_entry(&mut self, table: u64, index: usize, value: u64) {
        // SAFETY: as in `entry`; the walker owns these tables (`new`'s contract).
        unsafe { (*self.memory.table(table))[index] = value };
    }

    /// Whether level-4 entry `index` maps nothing.
    pub fn level4_entry_free(&self, index: usize) -> bool {
        self.entry(self.root, index) == 0
    }

    /// Maps the page at `virt` to `frame`, writable and (if enabled) not executable. Missing
    /// tables come from `new_table`, which must return zeroed frames.
    ///
    /// # Safety
    ///
    /// `frame` must be a free frame the caller hands to this mapping, and mapping `virt`
    /// must not change memory anyone relies on (it was unmapped: see
    /// [`MapError::AlreadyMapped`]).
    pub unsafe fn map(
        &mut self,
        virt: u64,
        frame: u64,
        new_table: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<(), MapError> {
        let mut table = self.root;
        for level in (2..=4).rev() {
            let i = index(virt, level);
            let entry = self.entry(table, i);
            if entry & PRESENT == 0 {
                let child = new_table().ok_or(MapError::OutOfFrames)?;
                // Intermediate entries allow everything; the leaf decides.
                self.set_entry(table, i, child | PRESENT | WRITABLE);
                table = child;
            } else if entry & HUGE_PAGE != 0 {
                return Err(MapError::AlreadyMapped);
            } else {
                table = entry & ADDRESS_MASK;
            }
        }
        let i = index(virt, 1);
        if self.entry(table, i) & PRESENT != 0 {
            return Err(MapError::AlreadyMapped);
        }
        self.set_entry(table, i, frame | self.leaf_flags);
        Ok(())
    }

    /// The physical address `virt` maps to, through 4 KiB, 2 MiB or 1 GiB pages.
    pub fn translate(&self, virt: u64) -> Option<u64> {
        let mut table = self.root;
        for level in (1..=4).rev() {
            let entry = self.entry(table, index(virt, level));
            if entry & PRESENT == 0 {
                return None;
            }
            let leaf = level == 1 || (level < 4 && entry & HUGE_PAGE != 0);
            if leaf {
                let page_mask = (1u64 << shift(level)) - 1;
                return Some((entry & ADDRESS_MASK & !page_mask) | (virt & page_mask));
            }
            table = entry & ADDRESS_MASK;
        }
        None
    }

    /// Unmaps the 4 KiB pages of `[start, end)` (page-aligned, inside one level-4 entry),
    /// handing each page's frame to `free`, and frees (also through `free`) every page
    /// table below level 4 whose whole span lies in the range. The caller flushes the TLB.
    ///
    /// # Safety
    ///
    /// Nothing may use the memory of the range any more, and its pages must be 4 KiB pages
    /// mapped by [`PageTables::map`] (their frames and tables are given away).
    pub unsafe fn unmap_range(
        &mut self,
        start: u64,
        end: u64,
        free: &mut dyn FnMut(u64),
    ) -> Unmapped {
        debug_assert!(
            start.is_multiple_of(PAGE_SIZE) && end.is_multiple_of(PAGE_SIZE) && start <= end
        );
        debug_assert!(end == start || index(start, 4) == index(end - 1, 4));
        let mut done = Unmapped::default();
        if start < end {
            let entry = self.entry(self.root, index(start, 4));
            if entry & PRESENT != 0 && entry & HUGE_PAGE == 0 {
                self.clear(entry & ADDRESS_MASK, 3, start, end, free, &mut done);
            }
        }
        done
    }

    /// Clears `[start, end)` in `table` of `level`; the range lies within the table's span.
    fn clear(
        &mut self,
        table: u64,
        level: u32,
        start: u64,
        end: u64,
        free: &mut dyn FnMut(u64),
        done: &mut Unmapped,
    ) {
        let span = 1u64 << shift(level);
        let mut address = start;
        while address < end {
            let entry_start = address & !(span - 1);
            let entry_end = (entry_start + span).min(end);
            let i = index(address, level);
            let entry = self.entry(table, i);
            if entry & PRESENT != 0 {
                if level == 1 {
                    free(entry & ADDRESS_MASK);
                    self.set_entry(table, i, 0);
                    done.pages += 1;
                } else if entry & HUGE_PAGE == 0 {
                    let child = entry & ADDRESS_MASK;
                    self.clear(child, level - 1, address, entry_end, free, done);
                    if address == entry_start && entry_end == entry_start + span {
                        self.set_entry(table, i, 0);
                        free(child);
                        done.tables += 1;
                    }
                }
            }
            address = entry_end;
        }
    }
}

#[cfg(target_os = "none")]
pub use kernel::*;

/// The CPU side: the active tables and the TLB.
#[cfg(target_os = "none")]
mod kernel {
    use x86_64::VirtAddr;
    use x86_64::registers::control::Cr3;
    use x86_64::registers::model_specific::{Efer, EferFlags};

    use super::{PageTables, Table, TableMemory};

    /// Tables reached through the bootloader's mapping of all physical memory.
    #[derive(Clone, Copy)]
    pub struct PhysicalMapping {
        /// Virtual address of physical address 0.
        pub offset: u64,
    }

    impl TableMemory for PhysicalMapping {
        fn table(&self, phys: u64) -> *mut Table {
            (self.offset + phys) as *mut Table
        }
    }

    /// The active address space (CR3), reached through `mapping`.
    ///
    /// # Safety
    ///
    /// `mapping` must map all physical memory, and the caller must be the only one to
    /// change the active tables while the result lives.
    pub unsafe fn active(mapping: PhysicalMapping) -> PageTables<PhysicalMapping> {
        let (root, _) = Cr3::read();
        let no_execute = Efer::read().contains(EferFlags::NO_EXECUTE_ENABLE);
        // SAFETY: CR3 holds the active level-4 table; the caller vouches for the rest.
        unsafe { PageTables::new(root.start_address().as_u64(), mapping, no_execute) }
    }

    /// Drops the TLB entry of the page at `virt` (after it was unmapped).
    pub fn flush_page(virt: u64) {
        x86_64::instructions::tlb::flush(VirtAddr::new_truncate(virt));
    }

    /// Drops every non-global TLB entry and cached table entry (reloads CR3).
    pub fn flush_all() {
        x86_64::instructions::tlb::flush_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// Frames as boxed tables; new frames are numbered from 0x1000 up.
    #[derive(Default)]
    struct FakeMemory {
        tables: RefCell<HashMap<u64, Box<Table>>>,
    }

    impl FakeMemory {
        fn new_frame(&self) -> u64 {
            let mut tables = self.tables.borrow_mut();
            let frame = (tables.len() as u64 + 1) * PAGE_SIZE;
            tables.insert(frame, Box::new([0; ENTRIES]));
            frame
        }
    }

    impl TableMemory for &FakeMemory {
        fn table(&self, phys: u64) -> *mut Table {
            &mut **self.tables.borrow_mut().get_mut(&phys).unwrap() as *mut Table
        }
    }

    const BASE: u64 = 0xffff_8100_0000_0000;

    #[test]
    fn maps_translates_and_unmaps_freeing_tables() {
        let memory = FakeMemory::default();
        let root = memory.new_frame();
        // SAFETY: a fresh fake level-4 table.
        let mut tables = unsafe { PageTables::new(root, &memory, true) };
        assert!(tables.level4_entry_free(index(BASE, 4)));
        let mut new_table = || Some(memory.new_frame());
        // Three pages: two in one page table, one 2 MiB further (a second page table).
        for (i, virt) in [BASE, BASE + PAGE_SIZE, BASE + (2 << 20)]
            .into_iter()
            .enumerate()
        {
            // SAFETY: fake frames, unmapped pages.
            unsafe { tables.map(virt, 0x100_0000 + i as u64 * PAGE_SIZE, &mut new_table) }.unwrap();
        }
        assert_eq!(
            // SAFETY: as above.
            unsafe { tables.map(BASE, 0x200_0000, &mut new_table) },
            Err(MapError::AlreadyMapped)
        );
        assert!(!tables.level4_entry_free(index(BASE, 4)));
        assert_eq!(tables.translate(BASE + PAGE_SIZE + 5), Some(0x100_1005));
        assert_eq!(tables.translate(BASE + 2 * PAGE_SIZE), None);
        let leaf = tables.entry(
            tables.entry(
                tables.entry(
                    tables.entry(root, index(BASE, 4)) & ADDRESS_MASK,
                    index(BASE, 3),
                ) & ADDRESS_MASK,
                0,
            ) & ADDRESS_MASK,
            0,
        );
        assert_eq!(leaf, 0x100_0000 | PRESENT | WRITABLE | NO_EXECUTE);

        // Unmapping the second page alone frees no table.
        let mut freed = Vec::new();
        // SAFETY: the range's pages were mapped by `map` above.
        let done = unsafe {
            tables.unmap_range(BASE + PAGE_SIZE, BASE + 2 * PAGE_SIZE, &mut |f| {
                freed.push(f)
            })
        };
        assert_eq!(
            done,
            Unmapped {
                pages: 1,
                tables: 0
            }
        );
        assert_eq!(freed, [0x100_1000]);
        // Unmapping the first GiB frees both page tables and the directory above them.
        freed.clear();
        // SAFETY: as above.
        let done = unsafe { tables.unmap_range(BASE, BASE + (1 << 30), &mut |f| freed.push(f)) };
        assert_eq!(
            done,
            Unmapped {
                pages: 2,
                tables: 3
            }
        );
        assert_eq!(freed.len(), 5);
        assert_eq!(tables.translate(BASE), None);
        // The level-3 table stays: level-4 entries are never given back.
        assert!(!tables.level4_entry_free(index(BASE, 4)));
    }

    #[test]
    fn translates_huge_pages() {
        let memory = FakeMemory::default();
        let root = memory.new_frame();
        let l3 = memory.new_frame();
        let l2 = memory.new_frame();
        // SAFETY: fresh fake tables.
        let mut tables = unsafe { PageTables::new(root, &memory, false) };
        tables.set_entry(root, 1, l3 | PRESENT);
        tables.set_entry(l3, 0, 0x4000_0000 | PRESENT | HUGE_PAGE);
        tables.set_entry(l3, 1, l2 | PRESENT);
        tables.set_entry(l2, 3, 0x60_0000 | PRESENT | HUGE_PAGE);
        let base = 1u64 << 39;
        assert_eq!(tables.translate(base + 0x1234_5678), Some(0x5234_5678));
        assert_eq!(
            tables.translate(base + (1 << 30) + 3 * (2 << 20) + 0x1_2345),
            Some(0x61_2345)
        );
        assert_eq!(tables.translate(base + (1 << 30)), None);
        let mut new_table = || Some(memory.new_frame());
        assert_eq!(
            // SAFETY: fake tables; the page lies in a huge page, which `map` must refuse.
            unsafe { tables.map(base + 0x1000, 0x1000, &mut new_table) },
            Err(MapError::AlreadyMapped)
        );
    }
}
