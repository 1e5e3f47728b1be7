//! The kernel heap: every usable RAM region the bootloader reports, reached through the
//! bootloader's mapping of all physical memory, each managed by a `linked_list_allocator`
//! heap (one heap is one contiguous range). Allocation tries the largest region first.
//!
//! A small static emergency arena serves allocations only once a fault is being reported,
//! so the reporter can still build its EXIT frame when the heap is exhausted or its lock
//! is held by the code that faulted.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bootloader_api::info::{MemoryRegion, MemoryRegionKind};
use linked_list_allocator::Heap;
use spin::{Mutex, MutexGuard};

use crate::arch::cpu;

/// Most heaps (RAM regions) the kernel manages; smaller regions beyond this are ignored.
const MAX_HEAPS: usize = 16;
/// Most regions considered while merging neighbours.
const MAX_REGIONS: usize = 128;
/// Memory below 1 MiB is left alone (real-mode leftovers, and too small to matter).
const LOW_MEMORY_END: u64 = 0x10_0000;
/// Regions smaller than this are not worth a heap.
const MIN_REGION: u64 = 64 * 1024;
/// Size of the emergency arena.
const EMERGENCY_SIZE: usize = 64 * 1024;

struct Heaps {
    /// Sorted by size, largest first; only the first `count` are initialised.
    heaps: [Heap; MAX_HEAPS],
    count: usize,
}

// SAFETY: the heaps own the RAM ranges they manage exclusively; moving their bookkeeping
// between contexts is fine (there is one CPU, and access goes through the mutex).
unsafe impl Send for Heaps {}

impl Heaps {
    fn active(&mut self) -> &mut [Heap] {
        &mut self.heaps[..self.count]
    }

    fn owner(&mut self, address: u64) -> Option<&mut Heap> {
        self.active()
            .iter_mut()
            .find(|heap| (heap.bottom() as u64..heap.top() as u64).contains(&address))
    }
}

static HEAPS: Mutex<Heaps> = Mutex::new(Heaps {
    heaps: [const { Heap::empty() }; MAX_HEAPS],
    count: 0,
});

#[repr(C, align(16))]
struct Arena(UnsafeCell<[MaybeUninit<u8>; EMERGENCY_SIZE]>);

// SAFETY: the arena's bytes are only reached through the emergency heap, behind its mutex.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([MaybeUninit::uninit(); EMERGENCY_SIZE]));

struct Emergency(Option<Heap>);

// SAFETY: as for `Heaps`: the heap owns the arena and is only reached through its mutex.
unsafe impl Send for Emergency {}

static EMERGENCY: Mutex<Emergency> = Mutex::new(Emergency(None));

/// Virtual address of physical address 0 (the bootloader's physical-memory mapping).
static PHYSICAL_OFFSET: AtomicU64 = AtomicU64::new(0);
/// Size of the last allocation that failed, for the out-of-memory report.
static LAST_FAILED_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The kernel's global allocator.
struct KernelAllocator;

#[global_allocator]
static ALLOCATOR: KernelAllocator = KernelAllocator;

/// Locks the heaps; while a fault is being reported, gives up rather than deadlock on a
/// lock the faulting code holds.
fn lock_heaps() -> Option<MutexGuard<'static, Heaps>> {
    if crate::fault::in_progress() {
        HEAPS.try_lock()
    } else {
        Some(HEAPS.lock())
    }
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

// SAFETY: allocations come from disjoint heaps, each handing out disjoint blocks that fit
// the layout; `dealloc` returns a block to the heap whose range contains it.
unsafe impl GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = cpu::without_interrupts(|| {
            let mut heaps = lock_heaps()?;
            heaps
                .active()
                .iter_mut()
                .find_map(|heap| heap.allocate_first_fit(layout).ok())
        });
        if let Some(block) = block {
            return block.as_ptr();
        }
        if crate::fault::in_progress() {
            return cpu::without_interrupts(|| emergency_alloc(layout));
        }
        // Returning null lets fallible callers (`try_reserve`, wasmi's memory growth) cope;
        // infallible ones end in the panic handler, which reports this size.
        LAST_FAILED_SIZE.store(layout.size(), Ordering::Relaxed);
        ptr::null_mut()
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(block) = NonNull::new(block) else {
            return;
        };
        let address = block.as_ptr() as u64;
        cpu::without_interrupts(|| {
            if let Some(mut heaps) = lock_heaps()
                && let Some(heap) = heaps.owner(address)
            {
                // SAFETY: the block was allocated from this heap (it lies in its range)
                // with this layout, per `GlobalAlloc::dealloc`'s contract.
                unsafe { heap.deallocate(block, layout) };
                return;
            }
            if let Some(mut emergency) = EMERGENCY.try_lock()
                && let Some(heap) = emergency.0.as_mut()
                && (heap.bottom() as u64..heap.top() as u64).contains(&address)
            {
                // SAFETY: as above, for the emergency heap.
                unsafe { heap.deallocate(block, layout) };
            }
            // Otherwise the heap is locked by faulting code: leak, the machine is stopping.
        });
    }
}

/// Hands every usable region of RAM to the allocator. `physical_offset` is where the
/// bootloader mapped physical address 0.
pub fn init(physical_offset: u64, regions: &[MemoryRegion]) {
    PHYSICAL_OFFSET.store(physical_offset, Ordering::Relaxed);
    // Merge adjacent usable regions: the bootloader may split one RAM range in several.
    let mut ranges = [(0u64, 0u64); MAX_REGIONS];
    let mut count = 0;
    for region in regions
        .iter()
        .filter(|r| r.kind == MemoryRegionKind::Usable)
    {
        let start = region.start.max(LOW_MEMORY_END);
        if start >= region.end {
            continue;
        }
        if count > 0 && ranges[count - 1].1 == start {
            ranges[count - 1].1 = region.end;
        } else if count < MAX_REGIONS {
            ranges[count] = (start, region.end);
            count += 1;
        }
    }
    let ranges = &mut ranges[..count];
    ranges.sort_unstable_by_key(|&(start, end)| core::cmp::Reverse(end - start));
    cpu::without_interrupts(|| {
        let mut heaps = HEAPS.lock();
        for &(start, end) in ranges
            .iter()
            .filter(|(s, e)| e - s >= MIN_REGION)
            .take(MAX_HEAPS)
        {
            let index = heaps.count;
            let bottom = (physical_offset + start) as *mut u8;
            // SAFETY: the bootloader reports this range as usable RAM, owned by no one
            // else, and mapped at `physical_offset`; ranges are disjoint.
            unsafe { heaps.heaps[index].init(bottom, (end - start) as usize) };
            heaps.count += 1;
        }
    });
}

/// Heap statistics: `(total, used)` bytes over all regions.
pub fn stats() -> (usize, usize) {
    cpu::without_interrupts(|| {
        lock_heaps().map_or((0, 0), |mut heaps| {
            heaps.active().iter().fold((0, 0), |(total, used), heap| {
                (total + heap.size(), used + heap.used())
            })
        })
    })
}

/// Free bytes of the region with the most free bytes: an upper bound for the largest single allocation
/// (fragmentation can make the real bound smaller).
pub fn largest_free() -> usize {
    cpu::without_interrupts(|| {
        lock_heaps().map_or(0, |mut heaps| {
            heaps.active().iter().map(Heap::free).max().unwrap_or(0)
        })
    })
}

/// What one allocation, such as a Wasm linear memory, can hope to get: [`largest_free`].
pub fn available_bytes() -> usize {
    largest_free()
}

/// Size of the last allocation that failed (0 if none did).
pub fn last_failed_size() -> usize {
    LAST_FAILED_SIZE.load(Ordering::Relaxed)
}

/// Where physical address `phys` appears in the bootloader's mapping of physical memory
/// (all RAM, and at least the first 4 GiB including MMIO holes).
pub fn phys_to_virt(phys: u64) -> u64 {
    PHYSICAL_OFFSET.load(Ordering::Relaxed) + phys
}

/// Physical address of heap memory at `virt`; `None` outside the heap regions (for
/// instance the emergency arena, which is in the kernel image).
pub fn virt_to_phys(virt: u64) -> Option<u64> {
    let offset = PHYSICAL_OFFSET.load(Ordering::Relaxed);
    cpu::without_interrupts(|| {
        let mut heaps = lock_heaps()?;
        heaps.owner(virt).map(|_| virt - offset)
    })
}
