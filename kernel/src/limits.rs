//! The machine's memory policy: how the RAM is shared between the kernel, the file system
//! and the processes, so that no program can take the machine down.
//!
//! - The kernel keeps [`mm::KERNEL_RESERVE`] free for itself: nothing a program causes may
//!   take it (linear memory, wasmi's stacks, files, pipes, sockets).
//! - The file system has a size, as tmpfs has (`--fs-size`; half of the RAM by default).
//! - Every process has a memory limit (its account, in `wasi-abi`'s budget terms), which
//!   children inherit and may only narrow. In shell mode pid 1 starts with a quarter of
//!   the RAM, so one program cannot starve the others.
//! - In shell mode a further reserve (an eighth of the RAM, at most [`RECOVERY_RESERVE`])
//!   is kept for small processes only: after any program grew as far as it may, the shell
//!   can still start `ps`, `kill` or `rm` and recover.

use core::sync::atomic::{AtomicUsize, Ordering};

use wasi_abi::budget::MemoryGuard;

use crate::mm;

/// The most free memory, beyond the kernel's reserve, that only processes holding less than
/// [`SMALL_PROCESS`] may take (shell mode): room to spawn a few commands. A small machine
/// keeps an eighth of its RAM.
pub const RECOVERY_RESERVE: usize = 32 << 20;
/// A process charged no more than this may grow into the recovery reserve.
pub const SMALL_PROCESS: u64 = 8 << 20;

/// The recovery reserve in bytes: 0 until shell mode keeps one.
static RECOVERY: AtomicUsize = AtomicUsize::new(0);

/// Keeps the recovery reserve from now on (shell mode): an eighth of the RAM, at most
/// [`RECOVERY_RESERVE`].
pub fn keep_recovery_reserve() {
    let bytes = (mm::stats().total / 8).min(RECOVERY_RESERVE);
    RECOVERY.store(bytes, Ordering::Relaxed);
}

/// Free memory that growth of a process charged `charged` bytes (after the growth) must
/// leave: the kernel's reserve, and the recovery reserve unless the process is small.
pub fn floor_for(charged: u64) -> usize {
    if charged > SMALL_PROCESS {
        mm::KERNEL_RESERVE + RECOVERY.load(Ordering::Relaxed)
    } else {
        mm::KERNEL_RESERVE
    }
}

/// Whether a process charged `charged` bytes after it may take `bytes` more of the free
/// memory.
pub fn may_grow(charged: u64, bytes: usize) -> bool {
    mm::available_bytes().saturating_sub(floor_for(charged)) >= bytes
}

/// The guard on what files and pipes take: they stop where big processes stop, so the
/// recovery reserve stays for the commands that clean up.
pub fn guard() -> MemoryGuard {
    MemoryGuard {
        free: || mm::available_bytes() as u64,
        keep: floor_for(u64::MAX) as u64,
    }
}

/// The most memory unpacking the image's ramdisk may take at boot (its archive, and as much
/// again for the decoder's window): a quarter of what is free beyond the kernel's reserve,
/// so that the files of `/bin` then fit beside it.
pub fn ramdisk_limit() -> usize {
    mm::available_bytes().saturating_sub(mm::KERNEL_RESERVE) / 4
}

/// The file system's size when the runner gave none: half of the RAM, as tmpfs.
pub fn default_fs_size() -> u64 {
    mm::stats().total as u64 / 2
}

/// pid 1's memory limit in shell mode, which every process inherits: a quarter of the RAM.
pub fn default_process_memory() -> u64 {
    mm::stats().total as u64 / 4
}
