//! The global descriptor table: kernel code and data segments and the task state segment,
//! whose interrupt stack table gives the double fault, NMI and machine check handlers their
//! own stacks, so that a kernel stack overflow is reported instead of triple-faulting.

use core::cell::UnsafeCell;

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// Size of each interrupt stack.
const IST_STACK_SIZE: usize = 32 * 1024;
/// Number of interrupt stacks in use.
const IST_STACKS: usize = 3;

/// IST slot (1-based, as the IDT encodes it) of the double fault handler.
pub const DOUBLE_FAULT_IST: u8 = 1;
/// IST slot of the non-maskable interrupt handler.
pub const NMI_IST: u8 = 2;
/// IST slot of the machine check handler.
pub const MACHINE_CHECK_IST: u8 = 3;

/// A stack the CPU switches to; written only by the CPU and the handler running on it.
#[repr(C, align(16))]
struct IstStack(UnsafeCell<[u8; IST_STACK_SIZE]>);

// SAFETY: the kernel never accesses these bytes through Rust references; only the CPU does,
// as the stack of one exception handler at a time.
unsafe impl Sync for IstStack {}

static STACKS: [IstStack; IST_STACKS] =
    [const { IstStack(UnsafeCell::new([0; IST_STACK_SIZE])) }; IST_STACKS];

struct Selectors {
    code: SegmentSelector,
    data: SegmentSelector,
    tss: SegmentSelector,
}

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// Loads the GDT and TSS and reloads every segment register.
pub fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        // The TSS is packed: build the table aside and copy it in whole.
        let mut table = tss.interrupt_stack_table;
        for (slot, stack) in table.iter_mut().zip(&STACKS) {
            let bottom = stack.0.get() as u64;
            *slot = VirtAddr::new(bottom + IST_STACK_SIZE as u64);
        }
        tss.interrupt_stack_table = table;
        tss
    });
    let (gdt, selectors) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss = gdt.append(Descriptor::tss_segment(tss));
        (gdt, Selectors { code, data, tss })
    });
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded, which lives forever
    // (in a `Once`): a 64-bit code segment, a data segment and an available TSS.
    unsafe {
        CS::set_reg(selectors.code);
        SS::set_reg(selectors.data);
        DS::set_reg(selectors.data);
        ES::set_reg(selectors.data);
        load_tss(selectors.tss);
    }
}
