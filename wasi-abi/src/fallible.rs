//! Allocation that a guest drives, made fallible.
//!
//! A program chooses the length of the paths, symlink targets, spawn strings, iovec and
//! subscription lists it hands over, how many fds it opens and how much it writes to a pipe.
//! Everything sized or counted by such input is allocated here with `try_reserve`, so running
//! out of memory is an errno for that one call (`ENOMEM`, or `ENOSPC` for file data) instead
//! of the kernel's allocation-failure abort, and callers allocate before they change any
//! state, so a failed call leaves everything as it was.
//!
//! A few small allocations of fixed size cannot be made fallible on stable Rust
//! (`Rc::try_new` and `Box::try_new` are unstable, and `BTreeMap` has no `try_insert` for
//! memory): an inode, a directory entry's map node, a file's chunk-map node, a pipe's shared
//! buffer and an fd's boxed object. Each goes through [`infallible`], which names them in
//! the code; the README's "File system" section says how each is bounded. With the
//! `alloc-audit` feature the regions are also visible at run time ([`audit`]), so the
//! allocation-failure test can fail every other allocation along a syscall.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::errno::{Errno, Result};

/// Room for `additional` more elements in `vec`, or `ENOMEM`.
pub(crate) fn reserve<T>(vec: &mut Vec<T>, additional: usize) -> Result<()> {
    vec.try_reserve(additional).map_err(|_| Errno::Nomem)
}

/// Room for `additional` more elements in `queue`, or `ENOMEM`.
pub(crate) fn reserve_queue<T>(queue: &mut VecDeque<T>, additional: usize) -> Result<()> {
    queue.try_reserve(additional).map_err(|_| Errno::Nomem)
}

/// Appends `value` to `vec`, or `ENOMEM` (and `vec` is unchanged).
pub(crate) fn push<T>(vec: &mut Vec<T>, value: T) -> Result<()> {
    reserve(vec, 1)?;
    vec.push(value);
    Ok(())
}

/// A copy of `bytes`, or `ENOMEM`.
pub(crate) fn copy(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.try_reserve_exact(bytes.len())
        .map_err(|_| Errno::Nomem)?;
    out.extend_from_slice(bytes);
    Ok(out)
}

/// Runs `make`, whose allocation is of fixed size and cannot be made fallible on stable
/// Rust; see the module documentation for which ones are and how they are bounded.
pub(crate) fn infallible<T>(make: impl FnOnce() -> T) -> T {
    #[cfg(feature = "alloc-audit")]
    let _region = audit::Region::enter();
    make()
}

/// Run-time view of the [`infallible`] regions, for the allocation-failure test: its
/// allocator fails any allocation but those made while [`audit::in_infallible_region`].
#[cfg(feature = "alloc-audit")]
pub mod audit {
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// How many [`super::infallible`] calls are running (they may nest).
    static DEPTH: AtomicUsize = AtomicUsize::new(0);

    /// Whether an allocation made now is one of the listed infallible ones.
    pub fn in_infallible_region() -> bool {
        DEPTH.load(Ordering::Relaxed) > 0
    }

    /// Marks a region for as long as it lives, so a panic inside still ends it.
    pub(crate) struct Region;

    impl Region {
        pub(crate) fn enter() -> Self {
            DEPTH.fetch_add(1, Ordering::Relaxed);
            Region
        }
    }

    impl Drop for Region {
        fn drop(&mut self) {
            DEPTH.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
