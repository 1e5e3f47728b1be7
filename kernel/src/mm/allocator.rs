//! The kernel's global allocator and page-fault handling over the frame pool, the slots and
//! the active page tables (see the [module documentation](super)).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering};

use linked_list_allocator::Heap;
use spin::{Mutex, MutexGuard};

use super::cells::{CELL_SPAN, Cells};
use super::frames::{FRAME_SIZE, FrameLinks, FramePool};
use super::slots::{REGION_SPAN, SLOT_MAX, Slot, Slots};
use super::small::SmallBlocks;
use super::{LARGE_BLOCK, MEDIUM_BLOCK};
use crate::arch::cpu;
use crate::arch::paging::{self, MapError, PageTables, PhysicalMapping, Unmapped};
use crate::ram::MAX_RANGES;

/// Most level-4 entries (512 GiB each, 32 slots) claimed for slots.
const MAX_SLOT_REGIONS: usize = 16;
/// Memory below 1 MiB is left alone (real-mode leftovers, and too small to matter).
const LOW_MEMORY_END: u64 = 0x10_0000;
/// Heap mapped at boot: enough for the kernel's own start-up.
const HEAP_INITIAL: u64 = 4 << 20;
/// Least the heap grows by when it is full, so growth stays rare.
const HEAP_GROWTH: u64 = 1 << 20;
/// A page fault in a block maps the whole aligned chunk around it (a wasm page), so that
/// filling a block takes one fault per chunk rather than per page.
const FAULT_CHUNK: u64 = 64 * 1024;
/// Unmapping more pages than this reloads CR3 instead of invalidating page by page.
const FLUSH_ALL_PAGES: u64 = 64;
/// Size of the emergency arena.
const EMERGENCY_SIZE: usize = 64 * 1024;
/// Physically contiguous memory set aside at boot for device DMA (virtio queues and
/// buffers), which the frame pool cannot promise once frames are recycled.
const DMA_FRAMES: usize = 512;
/// Register ranges above 4 GiB that can be mapped (a few per virtio device).
const MAX_MMIO_MAPPINGS: usize = 32;
/// Physical addresses below this are in the bootloader's mapping even where no RAM is
/// (it always covers the first 4 GiB, MMIO holes included).
const MAPPED_PHYSICAL_END: u64 = 1 << 32;
/// First level-4 entry of the upper (kernel) half of the address space.
const UPPER_HALF_ENTRY: usize = 256;
/// Level-4 entries.
const LEVEL4_ENTRIES: usize = 512;
/// Bits 48–63 of an upper-half address (canonical addresses repeat bit 47 there).
const UPPER_HALF_SIGN: u64 = 0xffff_0000_0000_0000;

/// The free stack's links, read and written through the mapping of physical memory.
#[derive(Clone, Copy)]
struct Links(PhysicalMapping);

impl FrameLinks for Links {
    fn next(&self, frame: u64) -> u64 {
        // SAFETY: `frame` is a free frame of the pool (only free frames hold links), which
        // is usable RAM mapped at `offset`, aligned for a u64.
        unsafe { ((self.0.offset + frame) as *const u64).read() }
    }

    fn set_next(&mut self, frame: u64, next: u64) {
        // SAFETY: as in `next`; the frame was just given back, so no one else uses it.
        unsafe { ((self.0.offset + frame) as *mut u64).write(next) };
    }
}

/// Everything the allocator owns, behind [`MEMORY`].
struct Memory {
    links: Links,
    tables: PageTables<PhysicalMapping>,
    frames: FramePool<MAX_RANGES>,
    slots: Slots<MAX_SLOT_REGIONS>,
    heap: Heap,
    /// Freed small heap blocks kept for reuse (counted as free).
    small: SmallBlocks,
    /// The heap's slot; the heap occupies `[base, base + heap_mapped)`.
    heap_slot: Slot,
    heap_mapped: u64,
    /// The medium blocks' slot, and which of its cells hold a block.
    medium_slot: Slot,
    cells: Cells,
    /// Frames mapped into medium blocks.
    medium_frames: usize,
    /// Frames mapped into large blocks.
    block_frames: usize,
    /// Frames holding page tables this allocator created (minus those it freed).
    table_frames: usize,
    /// Largest block size accepted: a block can never be backed beyond twice the RAM
    /// (`Vec` doubles its capacity), so larger requests are refused at once.
    max_block: u64,
    /// The DMA region, in the physical mapping: `[dma_phys, dma_phys + len)` is contiguous.
    dma: Heap,
    dma_phys: u64,
    /// Device registers mapped above 4 GiB: (first physical page, bytes, virtual base).
    mmio: [(u64, u64, u64); MAX_MMIO_MAPPINGS],
    mmio_len: usize,
    /// A program is running (see [`guest_context`]): large blocks other than byte buffers
    /// are backed when they grow, not when touched, and only while the reserve stays free
    /// and the program's allowance lasts.
    guest: Option<Guest>,
}

/// What a running program may still have backed for it, and what it had.
#[derive(Clone, Copy, Debug)]
struct Guest {
    allowance: u64,
    backed: u64,
}

// SAFETY: `Memory` owns the frames, tables and heap it points into; there is one CPU and
// every access goes through the `MEMORY` mutex.
unsafe impl Send for Memory {}

static MEMORY: Mutex<Option<Memory>> = Mutex::new(None);

#[repr(C, align(16))]
struct Arena(UnsafeCell<[MaybeUninit<u8>; EMERGENCY_SIZE]>);

// SAFETY: the arena's bytes are only reached through the emergency heap, behind its mutex.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([MaybeUninit::uninit(); EMERGENCY_SIZE]));

struct Emergency(Option<Heap>);

// SAFETY: the heap owns the arena and is only reached through its mutex.
unsafe impl Send for Emergency {}

static EMERGENCY: Mutex<Emergency> = Mutex::new(Emergency(None));

/// Size of the last allocation that failed, for the out-of-memory report.
static LAST_FAILED_SIZE: AtomicUsize = AtomicUsize::new(0);

fn page_up(size: u64) -> u64 {
    size.next_multiple_of(FRAME_SIZE)
}

impl Memory {
    /// A frame from the pool, with whatever it held.
    fn take_frame(&mut self) -> Option<u64> {
        self.frames.alloc(&self.links)
    }

    /// A frame from the pool, zeroed.
    fn take_zeroed_frame(&mut self) -> Option<u64> {
        let frame = self.take_frame()?;
        // SAFETY: the frame was free, so this allocator owns it; it is RAM mapped at the
        // physical-memory offset.
        unsafe { ((self.links.0.offset + frame) as *mut u8).write_bytes(0, FRAME_SIZE as usize) };
        Some(frame)
    }

    /// Maps a fresh frame (zeroed if `zeroed`) at `virt`.
    fn map_page(&mut self, virt: u64, zeroed: bool) -> Result<(), MapError> {
        let frame = if zeroed {
            self.take_zeroed_frame()
        } else {
            self.take_frame()
        }
        .ok_or(MapError::OutOfFrames)?;
        let links = self.links;
        let Memory {
            tables,
            frames,
            table_frames,
            ..
        } = self;
        let mut new_table = || {
            let table = frames.alloc(&links)?;
            // SAFETY: as in `take_zeroed_frame`; a new table must start empty.
            unsafe { ((links.0.offset + table) as *mut u8).write_bytes(0, FRAME_SIZE as usize) };
            *table_frames += 1;
            Some(table)
        };
        // SAFETY: `frame` is ours to give, and `virt` lies in a slot this allocator owns,
        // where nothing is mapped that anyone relies on (an occupied page is refused).
        let mapped = unsafe { tables.map(virt, frame, &mut new_table) };
        if mapped.is_err() {
            self.frames.free(frame, &mut self.links);
        }
        mapped
    }

    /// Unmaps the pages of `[start, end)` (in one slot), returning frames and emptied
    /// tables to the pool, and flushes them from the TLB.
    ///
    /// # Safety
    ///
    /// Nothing may use the range's memory any more.
    unsafe fn unmap(&mut self, start: u64, end: u64) -> Unmapped {
        let Memory {
            tables,
            frames,
            links,
            ..
        } = self;
        // SAFETY: the caller gives the range up; its pages were mapped by `map_page`.
        let done =
            unsafe { tables.unmap_range(start, end, &mut |frame| frames.free(frame, links)) };
        self.table_frames -= done.tables;
        if done.tables > 0 || (end - start) / FRAME_SIZE > FLUSH_ALL_PAGES {
            paging::flush_all();
        } else if done.pages > 0 {
            (start..end)
                .step_by(FRAME_SIZE as usize)
                .for_each(paging::flush_page);
        }
        done
    }

    /// Claims one more unused level-4 entry for slots, preferring the upper half; the last
    /// entry is skipped so that no slot arithmetic reaches the top of the address space.
    fn add_slot_region(&mut self) -> bool {
        let candidates = (UPPER_HALF_ENTRY..LEVEL4_ENTRIES - 1).chain(1..UPPER_HALF_ENTRY);
        for index in candidates {
            let base = if index >= UPPER_HALF_ENTRY {
                UPPER_HALF_SIGN | (index as u64 * REGION_SPAN)
            } else {
                index as u64 * REGION_SPAN
            };
            if self.tables.level4_entry_free(index) && !self.slots.has_region(base) {
                return self.slots.add_region(base);
            }
        }
        false
    }

    /// A free slot for a block of `size` bytes, claiming a new region when all are in use.
    fn reserve_slot(&mut self, size: u64) -> Option<Slot> {
        if size > self.max_block {
            return None;
        }
        self.slots.reserve(size).or_else(|| {
            (self.add_slot_region())
                .then(|| self.slots.reserve(size))
                .flatten()
        })
    }

    /// Maps up to `by` more bytes (whole pages) at the end of the heap; false if not a page
    /// could be had.
    fn grow_heap(&mut self, by: u64) -> bool {
        let start = self.heap_slot.base + self.heap_mapped;
        let end = start + page_up(by).min(SLOT_MAX - self.heap_mapped);
        let mut top = start;
        while top < end && self.map_page(top, false).is_ok() {
            top += FRAME_SIZE;
        }
        if top == start {
            return false;
        }
        let added = (top - start) as usize;
        if self.heap_mapped == 0 {
            // SAFETY: `[start, top)` is freshly mapped RAM owned by the heap from now on.
            unsafe { self.heap.init(start as *mut u8, added) };
        } else {
            // SAFETY: the heap ends at `start` (the end of its mapped part), and
            // `[start, top)` is freshly mapped RAM given to it.
            unsafe { self.heap.extend(added) };
        }
        self.heap_mapped += added as u64;
        self.slots.resize(self.heap_slot.index, self.heap_mapped);
        true
    }

    fn alloc(&mut self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE_BLOCK {
            // Pages are mapped (zeroed) when touched: see `populate`. A new block must fit
            // in the free frames, so that a request too large fails here, where the caller
            // can cope (growing in place is only held to `max_block`: see `resize_block`).
            let size = layout.size() as u64;
            if page_up(size) > self.frames.free_frames() as u64 * FRAME_SIZE {
                return ptr::null_mut();
            }
            let Some(slot) = self.reserve_slot(size) else {
                return ptr::null_mut();
            };
            if self.backs_at_once(layout) && !self.back(slot.base, slot.base + page_up(size)) {
                self.slots.release(slot.index);
                return ptr::null_mut();
            }
            return slot.base as *mut u8;
        }
        if layout.size() >= MEDIUM_BLOCK
            && layout.align() <= FRAME_SIZE as usize
            && let Some(block) = self.alloc_medium(layout.size())
        {
            return block;
        }
        if let Some(block) = self.small.take(layout) {
            return block.as_ptr();
        }
        if let Ok(block) = self.heap.allocate_first_fit(layout) {
            return block.as_ptr();
        }
        // Cached small blocks go back to the heap before it grows.
        let Memory { small, heap, .. } = self;
        // SAFETY: each cached block came from this heap with that layout and is unused.
        small.drain(|block, layout| unsafe { heap.deallocate(block, layout) });
        if let Ok(block) = self.heap.allocate_first_fit(layout) {
            return block.as_ptr();
        }
        // Room for the block wherever the last hole ends, and for its alignment.
        let needed = (layout.size() + layout.align()) as u64;
        if self.grow_heap(needed.max(HEAP_GROWTH))
            && let Ok(block) = self.heap.allocate_first_fit(layout)
        {
            return block.as_ptr();
        }
        ptr::null_mut()
    }

    /// Whether `address` is in a block (large, not the heap nor a medium one), and which.
    fn block_at(&self, address: u64) -> Option<Slot> {
        self.slots.find(address).filter(|slot| {
            slot.index != self.heap_slot.index && slot.index != self.medium_slot.index
        })
    }

    /// A medium block of `size` bytes: a free cell with the pages for `size` mapped (with
    /// whatever the frames held); `None` if no cell or not enough frames are free.
    fn alloc_medium(&mut self, size: usize) -> Option<*mut u8> {
        let end = page_up(size as u64);
        if end / FRAME_SIZE > self.frames.free_frames() as u64 {
            return None;
        }
        let cell = self.cells.take()?;
        let base = self.medium_slot.base + cell as u64 * CELL_SPAN;
        if !self.map_medium(base, base + end) {
            self.cells.give(cell);
            return None;
        }
        Some(base as *mut u8)
    }

    /// Maps fresh frames at every page of `[start, end)`, in a medium block's cell; if the
    /// frames run out, unmaps them again and returns false.
    fn map_medium(&mut self, start: u64, end: u64) -> bool {
        for page in (start..end).step_by(FRAME_SIZE as usize) {
            if self.map_page(page, false).is_err() {
                // SAFETY: the pages of `[start, page)` were mapped just now and hold
                // nothing anyone relies on.
                let done = unsafe { self.unmap(start, page) };
                self.medium_frames -= done.pages;
                return false;
            }
            self.medium_frames += 1;
        }
        true
    }

    /// The cell of the medium block at `address` (its first byte), if it is one.
    fn medium_cell(&self, address: u64) -> Option<usize> {
        let offset = address.checked_sub(self.medium_slot.base)?;
        (offset < SLOT_MAX && offset % CELL_SPAN == 0).then_some((offset / CELL_SPAN) as usize)
    }

    /// Resizes the medium block in `cell`, of `old_size` bytes, to `new_size` (below
    /// [`LARGE_BLOCK`]) in place; false (nothing changed) if the frames for it are lacking.
    fn resize_medium(&mut self, cell: usize, old_size: usize, new_size: usize) -> bool {
        let base = self.medium_slot.base + cell as u64 * CELL_SPAN;
        let old_end = base + page_up(old_size as u64);
        let new_end = base + page_up(new_size as u64);
        if new_end > old_end {
            return self.map_medium(old_end, new_end);
        }
        if new_end < old_end {
            // SAFETY: `realloc` gives up the bytes past `new_size`; the pages above
            // `new_end` hold none of the bytes it keeps.
            let done = unsafe { self.unmap(new_end, old_end) };
            self.medium_frames -= done.pages;
        }
        true
    }

    fn dealloc(&mut self, block: NonNull<u8>, layout: Layout) -> bool {
        let address = block.as_ptr() as u64;
        if let Some(cell) = self.medium_cell(address) {
            let base = address;
            // SAFETY: the block is being freed (`GlobalAlloc::dealloc`'s contract); its
            // pages are those of its size, `layout`'s.
            let done = unsafe { self.unmap(base, base + page_up(layout.size() as u64)) };
            self.medium_frames -= done.pages;
            self.cells.give(cell);
            return true;
        }
        // A small heap block waits in the cache, if it has room for it.
        if address.wrapping_sub(self.heap_slot.base) < self.heap_mapped
            // SAFETY: the block lies in the heap, so it came from the heap with this layout,
            // and it is freed (`GlobalAlloc::dealloc`'s contract).
            && unsafe { self.small.put(block, layout) }
        {
            return true;
        }
        if let Some(slot) = self.block_at(address) {
            let size = page_up(self.slots.size(slot.index));
            // SAFETY: the block is being freed (`GlobalAlloc::dealloc`'s contract).
            let done = unsafe { self.unmap(slot.base, slot.base + size) };
            self.block_frames -= done.pages;
            self.slots.release(slot.index);
            return true;
        }
        if self
            .slots
            .find(address)
            .is_some_and(|slot| slot.index == self.heap_slot.index)
        {
            // SAFETY: the block is in the heap's slot, so it came from the heap, with this
            // layout (`GlobalAlloc::dealloc`'s contract).
            unsafe { self.heap.deallocate(block, layout) };
            return true;
        }
        false
    }

    /// Resizes the block in `slot` in place; false if it cannot be that large. Growth is not
    /// held to the free frames: `Vec` doubles its capacity and touches only what it uses, so
    /// a buffer may well be larger than what remains (programs' memories are held to the
    /// free frames by `wasm.rs`'s limiter instead) — except while a program runs, where a
    /// block that is not a byte buffer is backed at once (see [`guest_context`]).
    fn resize_block(&mut self, slot: Slot, layout: Layout, new_size: usize) -> bool {
        let new_size = new_size as u64;
        if new_size > self.max_block {
            return false;
        }
        let old_end = slot.base + page_up(self.slots.size(slot.index));
        let new_end = slot.base + page_up(new_size);
        if new_end > old_end && self.backs_at_once(layout) && !self.back(old_end, new_end) {
            return false;
        }
        if new_end < old_end {
            // SAFETY: `realloc` gives up the bytes past `new_size`; the pages above
            // `new_end` hold none of the bytes it keeps.
            let done = unsafe { self.unmap(new_end, old_end) };
            self.block_frames -= done.pages;
        }
        self.slots.resize(slot.index, new_size)
    }

    /// Whether a large block of `layout` grown now must be backed at once: while a program
    /// runs, for anything but a byte buffer. A program's own growth reaches the allocator
    /// as byte buffers that are written as soon as they grow (wasmi zeroes a linear memory's
    /// new pages, which `wasm.rs`'s limiter held to the free frames); its other growth is
    /// wasmi's value stack (8-byte cells), which is touched a frame at a time, later. Backed
    /// at once, a stack can never be promised frames another program's memory then takes,
    /// which would fault in the middle of wasmi with nothing left to give.
    fn backs_at_once(&self, layout: Layout) -> bool {
        self.guest.is_some() && layout.align() > 1
    }

    /// Maps every page of `[start, end)` (in one block) now, zeroed, if that leaves the
    /// kernel's reserve free and the running program's allowance covers it (which it is
    /// charged); otherwise maps nothing and returns false.
    fn back(&mut self, start: u64, end: u64) -> bool {
        let pages = (end - start) / FRAME_SIZE;
        let reserve = (super::KERNEL_RESERVE as u64).div_ceil(FRAME_SIZE);
        if (self.frames.free_frames() as u64) < pages + reserve {
            return false;
        }
        let bytes = end - start;
        if let Some(guest) = &mut self.guest {
            if guest.backed.saturating_add(bytes) > guest.allowance {
                return false;
            }
            guest.backed += bytes;
        }
        for page in (start..end).step_by(FRAME_SIZE as usize) {
            match self.map_page(page, true) {
                Ok(()) => self.block_frames += 1,
                Err(MapError::AlreadyMapped) => {}
                Err(MapError::OutOfFrames) => {
                    // SAFETY: the pages of `[start, page)` were mapped just now and hold
                    // nothing anyone relies on.
                    let done = unsafe { self.unmap(start, page) };
                    self.block_frames -= done.pages;
                    if let Some(guest) = &mut self.guest {
                        guest.backed -= bytes;
                    }
                    return false;
                }
            }
        }
        true
    }

    /// Maps the page at `address` if it lies in a block and is not mapped yet; the rest of
    /// its [`FAULT_CHUNK`] follows while frames last.
    fn populate(&mut self, address: u64) -> PageFault {
        let Some(slot) = self.block_at(address) else {
            return PageFault::Unhandled;
        };
        let block_end = slot.base + page_up(self.slots.size(slot.index));
        if address >= block_end {
            return PageFault::Unhandled;
        }
        let page = address & !(FRAME_SIZE - 1);
        match self.map_page(page, true) {
            Ok(()) => self.block_frames += 1,
            Err(MapError::AlreadyMapped) => return PageFault::Resolved,
            Err(MapError::OutOfFrames) => return PageFault::OutOfMemory,
        }
        let chunk_end = ((page & !(FAULT_CHUNK - 1)) + FAULT_CHUNK).min(block_end);
        for next in (page + FRAME_SIZE..chunk_end).step_by(FRAME_SIZE as usize) {
            match self.map_page(next, true) {
                Ok(()) => self.block_frames += 1,
                Err(MapError::AlreadyMapped) => {}
                Err(MapError::OutOfFrames) => break,
            }
        }
        PageFault::Resolved
    }

    /// The physical address of `virt` (mapping it first if it is an untouched block page)
    /// and how many bytes from there, up to `len`, are physically contiguous.
    fn physical_run(&mut self, virt: u64, len: usize) -> Option<(u64, usize)> {
        let translate = |memory: &mut Memory, address: u64| {
            memory.tables.translate(address).or_else(|| {
                matches!(memory.populate(address), PageFault::Resolved)
                    .then(|| memory.tables.translate(address))
                    .flatten()
            })
        };
        let start = translate(self, virt)?;
        let end = virt.checked_add(len as u64)?;
        let mut page = (virt & !(FRAME_SIZE - 1)) + FRAME_SIZE;
        while page < end {
            if translate(self, page) != Some(start + (page - virt)) {
                return Some((start, (page - virt) as usize));
            }
            page += FRAME_SIZE;
        }
        Some((start, len))
    }
}

/// What the page-fault handler made of a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageFault {
    /// The page was an untouched page of a block and is now mapped: resume.
    Resolved,
    /// It was an untouched page of a block, but no frame is left.
    OutOfMemory,
    /// Not a page the allocator maps on demand: a real fault.
    Unhandled,
}

/// The kernel's global allocator.
struct KernelAllocator;

#[global_allocator]
static ALLOCATOR: KernelAllocator = KernelAllocator;

/// Locks the allocator's state; while a fault is being reported, gives up rather than
/// deadlock on a lock the faulting code holds.
fn lock() -> Option<MutexGuard<'static, Option<Memory>>> {
    if crate::fault::in_progress() {
        MEMORY.try_lock()
    } else {
        Some(MEMORY.lock())
    }
}

/// Runs `f` on the allocator's state with interrupts off; `None` before [`init`] or when
/// the state is out of reach during a fault report.
fn with_memory<R>(f: impl FnOnce(&mut Memory) -> R) -> Option<R> {
    cpu::without_interrupts(|| lock()?.as_mut().map(f))
}

fn emergency_alloc(layout: Layout) -> *mut u8 {
    let Some(mut emergency) = EMERGENCY.try_lock() else {
        return ptr::null_mut();
    };
    let heap = emergency.0.get_or_insert_with(|| {
        // SAFETY: `Arena` is only handed to this heap, once.
        Heap::from_slice(unsafe { &mut *ARENA.0.get() })
    });
    heap.allocate_first_fit(layout)
        .map_or(ptr::null_mut(), NonNull::as_ptr)
}

// SAFETY: blocks are disjoint — heap blocks come from one heap in its own slot, every
// large block has a slot of its own — and fit their layout (slots are 16 GiB aligned).
// `dealloc` returns a block to where its address says it came from; `realloc` keeps a
// large block's first `min(old, new)` bytes in place (only pages past the new size are
// unmapped) or moves the bytes to a new block.
unsafe impl GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = with_memory(|memory| memory.alloc(layout)).unwrap_or(ptr::null_mut());
        if !block.is_null() {
            return block;
        }
        if crate::fault::in_progress() {
            return cpu::without_interrupts(|| emergency_alloc(layout));
        }
        // Returning null lets fallible callers (`try_reserve`, wasmi's memory growth) cope;
        // infallible ones end in the panic handler, which reports this size.
        LAST_FAILED_SIZE.store(layout.size(), Ordering::Relaxed);
        ptr::null_mut()
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let block = unsafe { self.alloc(layout) };
        // A new large block has no pages yet: they are zeroed when first touched.
        if !block.is_null() && layout.size() < LARGE_BLOCK {
            // SAFETY: the block was just allocated with room for `layout.size()` bytes.
            unsafe { block.write_bytes(0, layout.size()) };
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(block) = NonNull::new(block) else {
            return;
        };
        let address = block.as_ptr() as u64;
        cpu::without_interrupts(|| {
            if let Some(mut guard) = lock()
                && let Some(memory) = guard.as_mut()
                && memory.dealloc(block, layout)
            {
                return;
            }
            if let Some(mut emergency) = EMERGENCY.try_lock()
                && let Some(heap) = emergency.0.as_mut()
                && (heap.bottom() as u64..heap.top() as u64).contains(&address)
            {
                // SAFETY: the block lies in the emergency heap, so it came from there, with
                // this layout (`GlobalAlloc::dealloc`'s contract).
                unsafe { heap.deallocate(block, layout) };
            }
            // Otherwise the state is locked by faulting code: leak, the machine is stopping.
        });
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let address = block as u64;
        // A large block changes size in place; `Some(false)` means it cannot be that large.
        // So does a medium one while it stays below a large block's size, and the frames
        // last; otherwise it moves.
        let in_place = with_memory(|memory| {
            if let Some(cell) = memory.medium_cell(address) {
                return (new_size < LARGE_BLOCK
                    && memory.resize_medium(cell, layout.size(), new_size))
                .then_some(true);
            }
            let slot = memory.block_at(address)?;
            Some(memory.resize_block(slot, layout, new_size))
        })
        .flatten();
        match in_place {
            Some(true) => return block,
            Some(false) => {
                LAST_FAILED_SIZE.store(new_size, Ordering::Relaxed);
                return ptr::null_mut();
            }
            None => {}
        }
        // SAFETY: `realloc`'s contract makes `new_size` with this alignment a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid, non-zero layout (`realloc`'s contract).
        let new_block = unsafe { self.alloc(new_layout) };
        if !new_block.is_null() {
            // The copy runs without the lock: touching a new large block's pages faults
            // them in, and the fault handler needs the lock.
            // SAFETY: both blocks are live, distinct and at least this long.
            unsafe { ptr::copy_nonoverlapping(block, new_block, layout.size().min(new_size)) };
            // SAFETY: the old block came from this allocator with `layout`.
            unsafe { self.dealloc(block, layout) };
        }
        new_block
    }
}

/// Gives every usable RAM range (sorted `[start, end)`, see `ram::UsableRam`) to the frame
/// pool and maps the initial heap. `physical_offset` is where all physical memory is mapped.
pub fn init(physical_offset: u64, usable: &[(u64, u64)]) {
    let mapping = PhysicalMapping {
        offset: physical_offset,
    };
    // The DMA region comes from the first range long enough for it, the rest goes to the pool.
    let dma_len = DMA_FRAMES as u64 * FRAME_SIZE;
    let ranges = usable
        .iter()
        .take(MAX_RANGES)
        .map(|&(start, end)| (start.max(LOW_MEMORY_END).next_multiple_of(FRAME_SIZE), end));
    let dma = ranges
        .clone()
        .find(|&(start, end)| end.saturating_sub(start) >= dma_len)
        .map(|(start, _)| start);
    let mut frames = FramePool::new();
    for (start, end) in ranges {
        if Some(start) == dma {
            frames.add_range(start + dma_len, end);
        } else {
            frames.add_range(start, end);
        }
    }
    let total = frames.total_frames() as u64 * FRAME_SIZE;
    let mut memory = Memory {
        links: Links(mapping),
        // SAFETY: the bootloader mapped all physical memory at `physical_offset`, and from
        // now on only this allocator changes the page tables.
        tables: unsafe { paging::active(mapping) },
        frames,
        slots: Slots::new(),
        heap: Heap::empty(),
        small: SmallBlocks::new(),
        heap_slot: Slot { index: 0, base: 0 },
        heap_mapped: 0,
        medium_slot: Slot { index: 0, base: 0 },
        cells: Cells::new(),
        medium_frames: 0,
        block_frames: 0,
        table_frames: 0,
        max_block: SLOT_MAX.min(2 * total),
        dma: Heap::empty(),
        dma_phys: 0,
        mmio: [(0, 0, 0); MAX_MMIO_MAPPINGS],
        mmio_len: 0,
        guest: None,
    };
    if let Some(dma) = dma {
        memory.set_up_dma(dma);
    }
    let Some(heap_slot) = memory.reserve_slot(0) else {
        panic!("no free level-4 page-table entry for the kernel heap");
    };
    memory.heap_slot = heap_slot;
    let Some(medium_slot) = memory.reserve_slot(0) else {
        panic!("no free level-4 page-table entry for the kernel's medium blocks");
    };
    memory.medium_slot = medium_slot;
    if !memory.grow_heap(HEAP_INITIAL) {
        panic!("no RAM for the kernel heap");
    }
    cpu::without_interrupts(|| *MEMORY.lock() = Some(memory));
}

impl Memory {
    /// Makes the [`DMA_FRAMES`] frames at `first`, which the pool never got, the DMA heap.
    /// Without a long enough run of RAM there is no DMA region and devices are not started.
    fn set_up_dma(&mut self, first: u64) {
        let len = DMA_FRAMES * FRAME_SIZE as usize;
        self.dma_phys = first;
        // SAFETY: the frames are ours (kept out of the pool for good) and mapped at the
        // physical offset; only this heap hands them out.
        unsafe { self.dma.init((self.links.0.offset + first) as *mut u8, len) };
    }
}

/// Whether `virt` is mapped (`None` if the allocator's state is out of reach).
pub fn is_mapped(virt: u64) -> Option<bool> {
    with_memory(|memory| memory.tables.translate(virt).is_some())
}

/// Where physical address `phys` appears in the bootloader's mapping of physical memory
/// (all RAM, and the first 4 GiB).
pub fn phys_to_virt(phys: u64) -> u64 {
    with_memory(|memory| memory.links.0.offset).unwrap_or(0) + phys
}

/// Allocates zeroed, physically contiguous memory for a device: its physical address and
/// the pointer the kernel uses. `None` when the DMA region is exhausted (or absent).
pub fn dma_alloc(layout: Layout) -> Option<(u64, NonNull<u8>)> {
    with_memory(|memory| {
        let block = memory.dma.allocate_first_fit(layout).ok()?;
        let phys = block.as_ptr() as u64 - memory.links.0.offset;
        // SAFETY: a fresh block of `layout.size()` bytes.
        unsafe { block.as_ptr().write_bytes(0, layout.size()) };
        Some((phys, block))
    })
    .flatten()
}

/// Returns a block from [`dma_alloc`].
///
/// # Safety
///
/// `block` must come from [`dma_alloc`] with this `layout` and not be used afterwards.
pub unsafe fn dma_dealloc(block: NonNull<u8>, layout: Layout) {
    with_memory(|memory| {
        // SAFETY: per this function's contract.
        unsafe { memory.dma.deallocate(block, layout) }
    });
}

/// The kernel's pointer to a device's registers at physical `phys` (`size` bytes): in the
/// bootloader's mapping below 4 GiB, otherwise mapped for good into a slot of its own
/// (UEFI firmware puts 64-bit BARs far above RAM). `None` if no slot or page table can be
/// had. QEMU's emulated devices need no uncached mapping, and real hardware is not a target.
pub fn map_mmio(phys: u64, size: u64) -> Option<NonNull<u8>> {
    let end = phys.checked_add(size)?;
    with_memory(|memory| {
        let offset = memory.links.0.offset;
        if end <= MAPPED_PHYSICAL_END {
            return NonNull::new((offset + phys) as *mut u8);
        }
        let mapped = memory.mmio[..memory.mmio_len]
            .iter()
            .find(|(start, len, _)| *start <= phys && end <= start + len);
        if let Some((start, _, base)) = mapped {
            return NonNull::new((base + (phys - start)) as *mut u8);
        }
        if memory.mmio_len == MAX_MMIO_MAPPINGS {
            return None;
        }
        let first = phys & !(FRAME_SIZE - 1);
        let span = page_up(end - first);
        let slot = memory.reserve_slot(span)?;
        memory.mmio[memory.mmio_len] = (first, span, slot.base);
        memory.mmio_len += 1;
        let links = memory.links;
        let Memory {
            tables,
            frames,
            table_frames,
            ..
        } = memory;
        for page in (0..span).step_by(FRAME_SIZE as usize) {
            let mut new_table = || {
                let table = frames.alloc(&links)?;
                // SAFETY: a free frame in the physical mapping; a new table starts empty.
                unsafe {
                    ((links.0.offset + table) as *mut u8).write_bytes(0, FRAME_SIZE as usize)
                };
                *table_frames += 1;
                Some(table)
            };
            // SAFETY: the slot is fresh and never released, so nothing there is relied on,
            // and these pages are device registers, never returned to the pool (the slot
            // is never unmapped).
            unsafe { tables.map(slot.base + page, first + page, &mut new_table) }.ok()?;
        }
        NonNull::new((slot.base + (phys - first)) as *mut u8)
    })
    .flatten()
}

/// Handles a page fault at `address` (error code `error_code`) taken in the kernel: maps
/// the page if it belongs to a block and was never touched. Call from the exception handler.
pub fn on_page_fault(address: u64, error_code: u64) -> PageFault {
    /// Error-code bit: the page was present (a protection fault, not a missing page).
    const PRESENT: u64 = 1;
    if error_code & PRESENT != 0 {
        return PageFault::Unhandled;
    }
    // A fault while the state is locked is a fault in the allocator itself: report it.
    let Some(mut guard) = MEMORY.try_lock() else {
        return PageFault::Unhandled;
    };
    guard
        .as_mut()
        .map_or(PageFault::Unhandled, |memory| memory.populate(address))
}

/// A snapshot of memory use, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// RAM in the frame pool (all usable RAM above 1 MiB).
    pub total: usize,
    /// Free frames.
    pub free_frames: usize,
    /// Heap mapped, and used within it.
    pub heap_size: usize,
    /// Heap in use.
    pub heap_used: usize,
    /// RAM mapped into medium blocks.
    pub medium: usize,
    /// Medium blocks.
    pub medium_count: usize,
    /// RAM mapped into large blocks.
    pub blocks: usize,
    /// Large blocks (slots in use, not counting the heap's and the medium blocks').
    pub block_count: usize,
    /// RAM in page tables the allocator made.
    pub page_tables: usize,
}

impl Stats {
    /// Free bytes: free frames and free heap.
    pub fn free(&self) -> usize {
        self.free_frames + (self.heap_size - self.heap_used)
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.total - self.free()
    }
}

/// Current memory use (all zero if the allocator's state is out of reach).
pub fn stats() -> Stats {
    with_memory(|memory| Stats {
        total: memory.frames.total_frames() * FRAME_SIZE as usize,
        free_frames: memory.frames.free_frames() * FRAME_SIZE as usize,
        heap_size: memory.heap.size(),
        heap_used: memory.heap.used() - memory.small.cached_bytes(),
        medium: memory.medium_frames * FRAME_SIZE as usize,
        medium_count: memory.cells.used(),
        blocks: memory.block_frames * FRAME_SIZE as usize,
        block_count: memory.slots.used() - 2,
        page_tables: memory.table_frames * FRAME_SIZE as usize,
    })
    .unwrap_or_default()
}

/// What a large block, such as a Wasm linear memory, can still get: the free frames. (Free
/// heap bytes do not count: they serve small blocks only.)
pub fn available_bytes() -> usize {
    with_memory(|memory| memory.frames.free_frames() * FRAME_SIZE as usize).unwrap_or(0)
}

/// Runs `f` — a program's code, or the instantiation of its module — with large blocks
/// backed as they grow rather than when touched (see `Memory::backs_at_once`), at most
/// `allowance` bytes of them, so that a program's growth is refused, as a failed
/// allocation wasmi turns into a trap, while the kernel can still cope and the program is
/// within its limit, instead of faulting later for want of a frame. Returns `f`'s result
/// and the bytes backed, for the program's account.
pub fn guest_context<R>(allowance: u64, f: impl FnOnce() -> R) -> (R, u64) {
    let guest = Guest {
        allowance,
        backed: 0,
    };
    let set = |guest| with_memory(|memory| core::mem::replace(&mut memory.guest, guest));
    let outer = set(Some(guest)).flatten();
    let result = f();
    let backed = set(outer).flatten().map_or(0, |guest| guest.backed);
    (result, backed)
}

/// Size of the last allocation that failed (0 if none did).
pub fn last_failed_size() -> usize {
    LAST_FAILED_SIZE.load(Ordering::Relaxed)
}

/// For DMA: the physical address of the byte at `virt` and how many of the `len` bytes from
/// there are physically contiguous (untouched pages of a large block are mapped first).
/// `None` if `virt` is not mapped.
pub fn physical_run(virt: u64, len: usize) -> Option<(u64, usize)> {
    with_memory(|memory| memory.physical_run(virt, len)).flatten()
}
