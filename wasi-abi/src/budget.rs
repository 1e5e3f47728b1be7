//! Budgets: how many bytes of kernel memory a file system or a process may hold.
//!
//! A [`Budget`] counts the bytes charged to it against a limit, and may also watch the
//! machine's free memory through a [`MemoryGuard`], so that nothing charged to it can take
//! the memory the kernel itself needs. The file system has one (its size, as tmpfs has:
//! file data, inodes, directory entries and their names, symlink targets); every process has
//! one (its memory limit: linear memory, pipes it created, sockets it accepted, the
//! interpreter's code for its module).
//!
//! Objects hold their bytes through a [`Charge`], which gives them back when it is dropped,
//! so accounting cannot drift from what really exists: an unlinked file charged to the file
//! system stays charged exactly as long as an fd keeps it alive.

use alloc::rc::Rc;
use core::cell::Cell;

use crate::errno::{Errno, Result};

/// How a budget learns that the machine's memory runs low: a probe of the bytes still free,
/// and the floor below which it refuses to grow, so that files, pipes and the like can never
/// take the memory the kernel itself needs.
#[derive(Debug, Clone, Copy)]
pub struct MemoryGuard {
    /// Bytes the machine can still give.
    pub free: fn() -> u64,
    /// Bytes that must stay free.
    pub keep: u64,
}

/// Bytes held against a limit. Shared (`Rc`) by the objects charged to it.
#[derive(Debug)]
pub struct Budget {
    used: Cell<u64>,
    limit: Cell<u64>,
    guard: Cell<Option<MemoryGuard>>,
    /// What a charge over the limit (or over the guard) fails with.
    exhausted: Errno,
}

impl Budget {
    /// A budget of `limit` bytes whose refusals are `exhausted` (`ENOSPC` for a file system,
    /// `ENOMEM` for a process).
    pub fn new(limit: u64, exhausted: Errno) -> Rc<Self> {
        Rc::new(Budget {
            used: Cell::new(0),
            limit: Cell::new(limit),
            guard: Cell::new(None),
            exhausted,
        })
    }

    /// Bytes charged now.
    pub fn used(&self) -> u64 {
        self.used.get()
    }

    /// The most that may be charged.
    pub fn limit(&self) -> u64 {
        self.limit.get()
    }

    /// Changes the limit; what is charged already stays, even above it.
    pub fn set_limit(&self, limit: u64) {
        self.limit.set(limit);
    }

    /// Bytes that may still be charged before the limit (the guard aside).
    pub fn room(&self) -> u64 {
        self.limit().saturating_sub(self.used())
    }

    /// Sets (or clears) the memory guard.
    pub fn set_guard(&self, guard: Option<MemoryGuard>) {
        self.guard.set(guard);
    }

    /// The refusal if `bytes` more would pass the machine's floor, else `Ok`.
    pub fn check_memory(&self, bytes: u64) -> Result<()> {
        match self.guard.get() {
            Some(guard) if (guard.free)() < guard.keep.saturating_add(bytes) => Err(self.exhausted),
            _ => Ok(()),
        }
    }

    /// Counts `bytes` more, or refuses (nothing counted) if that passes the limit or the
    /// machine's floor.
    pub fn take(&self, bytes: u64) -> Result<()> {
        self.check_memory(bytes)?;
        self.take_within_limit(bytes)
    }

    /// Counts `bytes` more, or refuses (nothing counted) if that passes the limit; the
    /// machine's floor is not asked (for what takes no memory, such as a file's holes).
    pub fn take_within_limit(&self, bytes: u64) -> Result<()> {
        let used = self
            .used()
            .checked_add(bytes)
            .filter(|used| *used <= self.limit())
            .ok_or(self.exhausted)?;
        self.used.set(used);
        Ok(())
    }

    /// Counts `bytes` more whatever the limit: for what the kernel itself puts there (a
    /// `--dir` tree unpacked at boot), which no program can refuse.
    pub fn force(&self, bytes: u64) {
        self.used.set(self.used().saturating_add(bytes));
    }

    /// Gives back `bytes`.
    pub fn give(&self, bytes: u64) {
        self.used.set(self.used().saturating_sub(bytes));
    }

    /// A charge of `bytes`, given back when it is dropped; or the refusal.
    pub fn charge(self: &Rc<Self>, bytes: u64) -> Result<Charge> {
        self.take(bytes)?;
        Ok(Charge {
            budget: Rc::clone(self),
            bytes,
        })
    }

    /// A charge of `bytes` the machine has already allocated (a queued connection handed to
    /// its acceptor): only the limit is asked, not the machine's floor.
    pub fn charge_within_limit(self: &Rc<Self>, bytes: u64) -> Result<Charge> {
        self.take_within_limit(bytes)?;
        Ok(Charge {
            budget: Rc::clone(self),
            bytes,
        })
    }

    /// A charge of `bytes` whatever the limit (see [`Budget::force`]).
    pub fn force_charge(self: &Rc<Self>, bytes: u64) -> Charge {
        self.force(bytes);
        Charge {
            budget: Rc::clone(self),
            bytes,
        }
    }
}

/// Bytes an object holds of a [`Budget`], given back when it is dropped.
#[derive(Debug)]
pub struct Charge {
    budget: Rc<Budget>,
    bytes: u64,
}

impl Charge {
    /// The bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Takes over what `other` holds, as one charge.
    pub fn merge(&mut self, mut other: Charge) {
        self.bytes = self.bytes.saturating_add(core::mem::take(&mut other.bytes));
    }

    /// Changes the bytes held to `bytes`: growing may be refused (nothing changes then),
    /// shrinking never is.
    pub fn resize(&mut self, bytes: u64) -> Result<()> {
        if bytes > self.bytes {
            self.budget.take(bytes.saturating_sub(self.bytes))?;
        } else {
            self.budget.give(self.bytes.saturating_sub(bytes));
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.give(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_held_until_dropped_and_refused_past_the_limit() {
        let budget = Budget::new(100, Errno::Nospc);
        let a = budget.charge(60).unwrap();
        assert_eq!(budget.used(), 60);
        assert_eq!(budget.charge(41).err(), Some(Errno::Nospc));
        assert_eq!(budget.used(), 60, "a refusal counts nothing");
        let mut b = budget.charge(40).unwrap();
        assert_eq!(budget.room(), 0);
        assert_eq!(b.resize(50), Err(Errno::Nospc));
        assert_eq!(b.bytes(), 40);
        b.resize(10).unwrap();
        assert_eq!(budget.used(), 70);
        drop(a);
        assert_eq!(budget.used(), 10);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn forced_charges_pass_the_limit_and_later_charges_are_refused() {
        let budget = Budget::new(100, Errno::Nomem);
        let forced = budget.force_charge(150);
        assert_eq!(budget.used(), 150);
        assert_eq!(budget.charge(1).err(), Some(Errno::Nomem));
        drop(forced);
        assert!(budget.charge(100).is_ok());
    }

    #[test]
    fn the_memory_guard_refuses_what_would_pass_the_floor() {
        let budget = Budget::new(u64::MAX, Errno::Nospc);
        budget.set_guard(Some(MemoryGuard {
            free: || 1000,
            keep: 900,
        }));
        assert!(budget.take(100).is_ok());
        assert_eq!(budget.take(101), Err(Errno::Nospc));
        budget.set_guard(None);
        assert!(budget.take(101).is_ok());
    }

    #[test]
    fn memory_already_allocated_is_charged_against_the_limit_only() {
        let budget = Budget::new(1000, Errno::Nomem);
        budget.set_guard(Some(MemoryGuard {
            free: || 100,
            keep: 900,
        }));
        assert_eq!(
            budget.charge(10).err(),
            Some(Errno::Nomem),
            "under the floor"
        );
        let held = budget.charge_within_limit(600).unwrap();
        assert_eq!(budget.used(), 600);
        assert_eq!(
            budget.charge_within_limit(401).err(),
            Some(Errno::Nomem),
            "the limit"
        );
        drop(held);
        assert_eq!(budget.used(), 0);
    }
}
