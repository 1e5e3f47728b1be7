//! The kernel's second entry: QEMU's direct boot (`-kernel` with the PVH boot protocol), which
//! the runner uses instead of firmware and bootloader loading the disk image (see
//! `docs/boot.md`). The ELF note `XEN_ELFNOTE_PHYS32_ENTRY` tells QEMU where `pvh_start`
//! is; QEMU loads the kernel's segments at their physical addresses (`kernel/link.ld`: 2 MiB
//! up, run at [`KERNEL_VIRTUAL_BASE`] + that) and enters it in 32-bit protected mode with
//! paging off and `ebx` pointing at the start info: the memory map, the modules (the ramdisk
//! given with `-initrd`) and the RSDP.
//!
//! The 32-bit stub zeroes `.bss`, maps the first GiB both at 0 and at the kernel's base with
//! 2 MiB pages, enters long mode and calls [`pvh_main`] on the kernel stack. That builds the
//! kernel's own page tables — its image in 4 KiB pages with their permissions and a guard
//! page below the stack, all physical memory at [`PHYSICAL_MAP_OFFSET`] — and hands the
//! same boot record as bootloader's entry to `boot::start`.

use core::arch::global_asm;
use core::cell::UnsafeCell;

use x86_64::registers::model_specific::{Efer, EferFlags};

use crate::arch::cpu;
use crate::arch::paging::{ENTRIES, HUGE_PAGE, NO_EXECUTE, PAGE_SIZE, PRESENT, WRITABLE};
use crate::boot::{self, BootRecord, KERNEL_STACK_SIZE};
use crate::ram::UsableRam;

/// Where the kernel runs: the top 2 GiB of the address space (the kernel code model), the
/// first byte of which is physical address 0. `kernel/link.ld` places the kernel with it.
pub const KERNEL_VIRTUAL_BASE: u64 = 0xffff_ffff_8000_0000;
/// Where the kernel's first segment is in physical memory (and at `KERNEL_VIRTUAL_BASE` +
/// this in virtual memory): above the firmware's first MiB, 2 MiB-aligned.
pub const KERNEL_PHYSICAL_START: u64 = 0x20_0000;
/// Where all physical memory is mapped: the first level-4 entry of the upper half.
pub const PHYSICAL_MAP_OFFSET: u64 = 0xffff_8000_0000_0000;
/// The start info's magic number ("xEn3" with the top bit of the last byte set).
const START_INFO_MAGIC: u32 = 0x336e_c578;
/// Memory map entry type of RAM.
const MEMMAP_RAM: u32 = 1;
/// Most memory map entries read.
const MAX_MEMMAP_ENTRIES: usize = 128;
/// Physical memory below this is always mapped (MMIO of PCI devices and the chipset lives
/// under 4 GiB), RAM or not.
const MIN_PHYSICAL_MAP: u64 = 4 << 30;
/// Physical memory the map covers at most, in GiB, on a CPU without 1 GiB pages (one page
/// directory of 2 MiB pages each): RAM above is not used. With 1 GiB pages: 512 GiB.
const MAX_PHYSICAL_GIB: usize = 64;
/// Largest kernel image (page tables for it are static): 16 page tables of 2 MiB each.
const KERNEL_PAGE_TABLES: usize = 16;
/// CPUID leaf 0x8000_0001 EDX: 1 GiB pages.
const CPUID_EXT_EDX_PAGE_1GB: u32 = 1 << 26;
/// Size covered by a level-3 (1 GiB) and level-2 (2 MiB) entry.
const GIB: u64 = 1 << 30;
const LARGE_PAGE: u64 = 2 << 20;

// The 32-bit entry and its boot page tables. Addresses are link-time (upper half) ones;
// before paging is on, the stub uses `symbol - KERNEL_VIRTUAL_BASE`, the physical address.
global_asm!(
    r#"
    .globl KERNEL_VIRTUAL_BASE
    .set KERNEL_VIRTUAL_BASE, {base}
    .globl KERNEL_PHYSICAL_START
    .set KERNEL_PHYSICAL_START, {phys_start}

    /* XEN_ELFNOTE_PHYS32_ENTRY (18): the physical address of the 32-bit entry. */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4, 4, 18
    .asciz "Xen"
    .balign 4
    .long pvh_start - {base}

    .section .text.pvh, "ax"
    .code32
    .globl pvh_start
pvh_start:
    cld
    mov %ebx, %esi
    /* QEMU zero-fills .bss; another loader need not. */
    mov $(__bss_start - {base}), %edi
    mov $(__bss_end - {base}), %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb
    /* One page directory maps the first GiB with 2 MiB pages, at 0 and at the base. */
    mov $(pvh_boot_pd - {base}), %edi
    mov $({present} | {writable} | {huge}), %eax
    mov $512, %ecx
1:  mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 1b
    mov $(pvh_boot_pd - {base} + ({present} | {writable})), %eax
    mov %eax, (pvh_boot_pdpt_low - {base})
    mov %eax, (pvh_boot_pdpt_high - {base} + 510 * 8)
    mov $(pvh_boot_pdpt_low - {base} + ({present} | {writable})), %eax
    mov %eax, (pvh_boot_pml4 - {base})
    mov $(pvh_boot_pdpt_high - {base} + ({present} | {writable})), %eax
    mov %eax, (pvh_boot_pml4 - {base} + 511 * 8)
    mov $(pvh_boot_pml4 - {base}), %eax
    mov %eax, %cr3
    /* CR4.PAE; EFER.LME, and EFER.NXE when the CPU has no-execute. */
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov $0x80000001, %eax
    cpuid
    mov $0x100, %ebp
    bt $20, %edx
    jnc 2f
    or $0x800, %ebp
2:  mov $0xc0000080, %ecx
    rdmsr
    or %ebp, %eax
    wrmsr
    /* CR0: paging, write protect, protected mode. */
    mov %cr0, %eax
    or $0x80010001, %eax
    mov %eax, %cr0
    lgdt (pvh_gdt_pointer - {base})
    ljmpl $0x08, $(pvh_long_mode - {base})

    .code64
pvh_long_mode:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    /* Still at the physical address: on to the upper half before anything RIP-relative. */
    movabs $3f, %rax
    jmp *%rax
3:  movabs $pvh_stack_top, %rsp
    call cella_enable_sse
    mov %esi, %edi
    xor %ebp, %ebp
    call {main}
    ud2

    .section .rodata.pvh, "a"
    .balign 8
pvh_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
pvh_gdt_pointer:
    .word 3 * 8 - 1
    .long pvh_gdt - {base}

    .section .bss.pvh, "aw", @nobits
    .balign 4096
pvh_boot_pml4:
    .skip 4096
pvh_boot_pdpt_low:
    .skip 4096
pvh_boot_pdpt_high:
    .skip 4096
pvh_boot_pd:
    .skip 4096

    /* After .bss (kernel/link.ld): the stub does not zero the 8 MiB of stack. */
    .section .stack.pvh, "aw", @nobits
    .balign 4096
    .globl pvh_stack_guard
pvh_stack_guard:
    .skip 4096
    .skip {stack_size}
    .globl pvh_stack_top
pvh_stack_top:
    .text
    "#,
    base = const KERNEL_VIRTUAL_BASE,
    phys_start = const KERNEL_PHYSICAL_START,
    present = const PRESENT,
    writable = const WRITABLE,
    huge = const HUGE_PAGE,
    stack_size = const KERNEL_STACK_SIZE,
    main = sym pvh_main,
    options(att_syntax)
);

// Symbols of `kernel/link.ld` and of the stub above; only their addresses mean anything.
unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
    static pvh_stack_guard: u8;
    static pvh_stack_top: u8;
}

/// The start info's fixed part (`struct hvm_start_info`, version 1).
#[repr(C)]
#[derive(Clone, Copy)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

/// A module (`struct hvm_modlist_entry`): the ramdisk.
#[repr(C)]
#[derive(Clone, Copy)]
struct Module {
    paddr: u64,
    size: u64,
    cmdline_paddr: u64,
    reserved: u64,
}

/// A memory map entry (`struct hvm_memmap_table_entry`).
#[repr(C)]
#[derive(Clone, Copy)]
struct MemmapEntry {
    addr: u64,
    size: u64,
    kind: u32,
    reserved: u32,
}

/// A page table in the kernel's image.
#[repr(C, align(4096))]
struct Table([u64; ENTRIES]);

/// The kernel's page tables: level 4, the kernel's level 3, 2 and 1 tables, and the physical
/// map's level 3 and 2 tables.
#[repr(C)]
struct Tables {
    level4: Table,
    kernel_level3: Table,
    kernel_level2: Table,
    kernel_level1: [Table; KERNEL_PAGE_TABLES],
    physical_level3: Table,
    physical_level2: [Table; MAX_PHYSICAL_GIB],
}

/// [`Tables`] in `.bss`, written once by [`pvh_main`] before they become active.
struct TablesCell(UnsafeCell<Tables>);

// SAFETY: only `pvh_main` touches the tables, once, on the only CPU, before anything else runs.
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(Tables {
    level4: Table([0; ENTRIES]),
    kernel_level3: Table([0; ENTRIES]),
    kernel_level2: Table([0; ENTRIES]),
    kernel_level1: [const { Table([0; ENTRIES]) }; KERNEL_PAGE_TABLES],
    physical_level3: Table([0; ENTRIES]),
    physical_level2: [const { Table([0; ENTRIES]) }; MAX_PHYSICAL_GIB],
}));

/// The link-time address of a symbol.
fn address(symbol: *const u8) -> u64 {
    symbol as u64
}

/// Physical address of a kernel image address.
fn physical(virt: u64) -> u64 {
    virt - KERNEL_VIRTUAL_BASE
}

/// Called by the stub in long mode, on the kernel stack, with the start info's physical
/// address; the first GiB is mapped at 0 and at the kernel base.
extern "C" fn pvh_main(start_info: u64) -> ! {
    let entry_tsc = cpu::rdtsc();
    if start_info >= GIB {
        panic!("PVH: the start info lies beyond the first GiB");
    }
    // SAFETY: QEMU's PVH loader passed the address of a start info in RAM, which the boot
    // tables map at the same virtual address (checked above: below 1 GiB).
    let info = unsafe { (start_info as *const StartInfo).read_unaligned() };
    if info.magic != START_INFO_MAGIC || info.version < 1 {
        panic!(
            "PVH: no start info with a memory map (magic {:#x}, version {})",
            info.magic, info.version
        );
    }
    let mut ram = [(0u64, 0u64); MAX_MEMMAP_ENTRIES];
    let entries = (info.memmap_entries as usize).min(MAX_MEMMAP_ENTRIES);
    let map_end = info.memmap_paddr + (entries * size_of::<MemmapEntry>()) as u64;
    if map_end >= GIB {
        panic!("PVH: the memory map lies beyond the first GiB");
    }
    let mut top = MIN_PHYSICAL_MAP;
    for (i, slot) in ram.iter_mut().enumerate().take(entries) {
        // SAFETY: entry `i` of the memory map, in mapped RAM (checked above).
        let entry = unsafe {
            (info.memmap_paddr as *const MemmapEntry)
                .add(i)
                .read_unaligned()
        };
        if entry.kind == MEMMAP_RAM {
            *slot = (entry.addr, entry.addr.saturating_add(entry.size));
            top = top.max(slot.1);
        }
    }
    let ramdisk = (info.nr_modules > 0 && info.modlist_paddr < GIB)
        .then(|| {
            // SAFETY: the first module entry, in mapped RAM (checked).
            unsafe { (info.modlist_paddr as *const Module).read_unaligned() }
        })
        .filter(|module| module.size > 0);

    // SAFETY: the stub called us once; nothing else uses the tables.
    let top = unsafe { build_tables(top) };
    let kernel = (
        physical(address(&raw const __kernel_start)),
        physical(address(&raw const __kernel_end)),
    );
    let mut reserved = [kernel, (0, 0)];
    let ramdisk = ramdisk.map(|module| {
        reserved[1] = (module.paddr, module.paddr + module.size);
        // SAFETY: the ramdisk is RAM that is mapped for good at PHYSICAL_MAP_OFFSET and that
        // is kept from the frame pool (`reserved`); nothing writes to it.
        unsafe {
            core::slice::from_raw_parts(
                (PHYSICAL_MAP_OFFSET + module.paddr) as *const u8,
                module.size as usize,
            )
        }
    });
    let usable = UsableRam::from_map(
        ram.iter()
            .map(|&(start, end)| (start.min(top), end.min(top))),
        &reserved,
    );
    boot::start(BootRecord {
        entry_tsc,
        physical_offset: PHYSICAL_MAP_OFFSET,
        usable,
        ramdisk,
        stack_top: address(&raw const pvh_stack_top),
        loader: boot::LOADER_DIRECT,
    })
}

/// Fills [`TABLES`] and makes them the active address space: the kernel image at its link
/// addresses (text read-only and executable, read-only data, the rest writable, nothing at
/// the stack's guard page), and physical memory up to `top` (at least 4 GiB, at most
/// [`MAX_PHYSICAL_GIB`]) at [`PHYSICAL_MAP_OFFSET`]. Returns the end of what is mapped.
///
/// # Safety
///
/// Called once, before anything else uses the tables, with the kernel running at its link
/// addresses.
unsafe fn build_tables(top: u64) -> u64 {
    // SAFETY: the caller guarantees exclusive access.
    let tables = unsafe { &mut *TABLES.0.get() };
    let table_address = |table: &Table| physical(table as *const Table as u64);
    let link = PRESENT | WRITABLE;
    // The stub enabled no-execute only if the CPU has it; otherwise the bit is reserved.
    let no_execute = if Efer::read().contains(EferFlags::NO_EXECUTE_ENABLE) {
        NO_EXECUTE
    } else {
        0
    };

    // The kernel image.
    let start = address(&raw const __kernel_start);
    let end = address(&raw const __kernel_end);
    let text_end = address(&raw const __text_end);
    let rodata_end = address(&raw const __rodata_end);
    let guard = address(&raw const pvh_stack_guard);
    let tables_needed = (end - (start & !(LARGE_PAGE - 1))).div_ceil(LARGE_PAGE) as usize;
    if tables_needed > KERNEL_PAGE_TABLES {
        panic!("PVH: the kernel image is larger than its page tables cover");
    }
    for page in (start..end).step_by(PAGE_SIZE as usize) {
        if page == guard {
            continue;
        }
        let flags = if page < text_end {
            PRESENT
        } else if page < rodata_end {
            PRESENT | no_execute
        } else {
            PRESENT | WRITABLE | no_execute
        };
        let slot = ((page - (start & !(LARGE_PAGE - 1))) / LARGE_PAGE) as usize;
        tables.kernel_level1[slot].0[(page >> 12) as usize % ENTRIES] = physical(page) | flags;
    }
    for slot in 0..tables_needed {
        let virt = (start & !(LARGE_PAGE - 1)) + slot as u64 * LARGE_PAGE;
        tables.kernel_level2.0[(virt >> 21) as usize % ENTRIES] =
            table_address(&tables.kernel_level1[slot]) | link;
    }
    tables.kernel_level3.0[(start >> 30) as usize % ENTRIES] =
        table_address(&tables.kernel_level2) | link;
    tables.level4.0[(start >> 39) as usize % ENTRIES] = table_address(&tables.kernel_level3) | link;

    // All physical memory, with the largest pages the CPU has.
    let gib = usize::try_from(top.div_ceil(GIB)).unwrap_or(usize::MAX);
    let huge = cpu::cpuid(0x8000_0000, 0).eax >= 0x8000_0001
        && cpu::cpuid(0x8000_0001, 0).edx & CPUID_EXT_EDX_PAGE_1GB != 0;
    let gib = if huge {
        gib.min(ENTRIES)
    } else {
        gib.min(MAX_PHYSICAL_GIB)
    };
    let leaf = PRESENT | WRITABLE | HUGE_PAGE | no_execute;
    for i in 0..gib {
        let base = i as u64 * GIB;
        tables.physical_level3.0[i] = if huge {
            base | leaf
        } else {
            let directory = &mut tables.physical_level2[i];
            for (j, entry) in directory.0.iter_mut().enumerate() {
                *entry = (base + j as u64 * LARGE_PAGE) | leaf;
            }
            table_address(directory) | link
        };
    }
    tables.level4.0[(PHYSICAL_MAP_OFFSET >> 39) as usize % ENTRIES] =
        table_address(&tables.physical_level3) | link;

    let root = table_address(&tables.level4);
    // SAFETY: the new tables map the kernel (code, data, this stack) where it runs, so
    // execution continues; the boot tables' mapping at 0 is no longer needed.
    unsafe { core::arch::asm!("mov cr3, {}", in(reg) root, options(nostack)) };
    gib as u64 * GIB
}
