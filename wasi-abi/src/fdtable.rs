//! The process's file descriptor table: numbers to open objects, each with its own flags and
//! rights. New descriptors take the lowest free number, as POSIX requires.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::errno::{Errno, Result};
use crate::file::{Stdio, WasiFile};
use crate::types::{Fd, Fdflags, Rights};

/// Most descriptors a process may hold at once; beyond it `EMFILE`, as Linux's default
/// `RLIMIT_NOFILE` soft limit.
pub const MAX_FDS: usize = 1024;

/// Rights of stdin as wasmtime reports them (base and inheriting alike).
pub const STDIN_RIGHTS: Rights = Rights::FD_READ;
/// Rights of stdout and stderr as wasmtime reports them (base and inheriting alike).
pub const STDOUT_RIGHTS: Rights = Rights::FD_WRITE;

/// One open descriptor.
pub struct FdEntry {
    /// The object it refers to.
    pub file: Box<dyn WasiFile>,
    /// Flags set at open or by `fd_fdstat_set_flags`.
    pub flags: Fdflags,
    /// Rights for operations on this fd.
    pub rights_base: Rights,
    /// Rights handed to fds opened through this one.
    pub rights_inheriting: Rights,
}

impl FdEntry {
    /// An entry with no flags and the same base and inheriting rights.
    pub fn new(file: Box<dyn WasiFile>, rights: Rights) -> Self {
        FdEntry {
            file,
            flags: Fdflags::EMPTY,
            rights_base: rights,
            rights_inheriting: rights,
        }
    }

    /// `Ok` if the base rights include `needed`. A missing access right is `EBADF`, as Linux
    /// reports for an fd not open for that access and as wasmtime does for stdio.
    pub fn require(&self, needed: Rights) -> Result<()> {
        if self.rights_base.contains(needed) {
            Ok(())
        } else {
            Err(Errno::Badf)
        }
    }
}

/// Open descriptors by number.
#[derive(Default)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
}

impl FdTable {
    /// An empty table.
    pub fn new() -> Self {
        FdTable { slots: Vec::new() }
    }

    /// A table holding stdin, stdout and stderr as fds 0, 1 and 2.
    pub fn with_stdio() -> Self {
        let mut table = FdTable::new();
        table
            .slots
            .push(Some(FdEntry::new(Stdio::Stdin.boxed(), STDIN_RIGHTS)));
        table
            .slots
            .push(Some(FdEntry::new(Stdio::Stdout.boxed(), STDOUT_RIGHTS)));
        table
            .slots
            .push(Some(FdEntry::new(Stdio::Stderr.boxed(), STDOUT_RIGHTS)));
        table
    }

    fn slot(fd: Fd) -> Result<usize> {
        usize::try_from(fd).map_err(|_| Errno::Badf)
    }

    /// The entry for `fd`, or `EBADF`.
    pub fn get(&self, fd: Fd) -> Result<&FdEntry> {
        self.slots
            .get(Self::slot(fd)?)
            .and_then(Option::as_ref)
            .ok_or(Errno::Badf)
    }

    /// The entry for `fd`, writable, or `EBADF`.
    pub fn get_mut(&mut self, fd: Fd) -> Result<&mut FdEntry> {
        self.slots
            .get_mut(Self::slot(fd)?)
            .and_then(Option::as_mut)
            .ok_or(Errno::Badf)
    }

    /// Whether `fd` is open.
    pub fn contains(&self, fd: Fd) -> bool {
        self.get(fd).is_ok()
    }

    /// Stores `entry` under the lowest free number and returns it; `EMFILE` when full.
    pub fn insert(&mut self, entry: FdEntry) -> Result<Fd> {
        let index = match self.slots.iter().position(Option::is_none) {
            Some(index) => index,
            None if self.slots.len() < MAX_FDS => {
                self.slots.push(None);
                self.slots.len().saturating_sub(1)
            }
            None => return Err(Errno::Mfile),
        };
        let slot = self.slots.get_mut(index).ok_or(Errno::Mfile)?;
        *slot = Some(entry);
        Fd::try_from(index).map_err(|_| Errno::Mfile)
    }

    /// Closes `fd`, returning its entry; `EBADF` if it was not open.
    pub fn remove(&mut self, fd: Fd) -> Result<FdEntry> {
        let entry = self
            .slots
            .get_mut(Self::slot(fd)?)
            .and_then(Option::take)
            .ok_or(Errno::Badf)?;
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Ok(entry)
    }

    /// Moves `from` onto `to`, closing what `to` held. Both must be open (`EBADF` otherwise),
    /// as in wasmtime; renumbering an fd onto itself does nothing.
    pub fn renumber(&mut self, from: Fd, to: Fd) -> Result<()> {
        if !self.contains(from) || !self.contains(to) {
            return Err(Errno::Badf);
        }
        if from == to {
            return Ok(());
        }
        let entry = self.remove(from)?;
        let slot = self.slots.get_mut(Self::slot(to)?).ok_or(Errno::Badf)?;
        *slot = Some(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_number_is_reused() {
        let mut table = FdTable::with_stdio();
        assert_eq!(
            table.insert(FdEntry::new(Stdio::Stdout.boxed(), STDOUT_RIGHTS)),
            Ok(3)
        );
        table.remove(1).unwrap();
        assert_eq!(
            table.insert(FdEntry::new(Stdio::Stdout.boxed(), STDOUT_RIGHTS)),
            Ok(1)
        );
        assert_eq!(table.remove(7).err(), Some(Errno::Badf));
        assert_eq!(table.get(u32::MAX).err(), Some(Errno::Badf));
    }

    #[test]
    fn table_is_bounded() {
        let mut table = FdTable::new();
        for expected in 0..MAX_FDS {
            let fd = table.insert(FdEntry::new(Stdio::Stdin.boxed(), STDIN_RIGHTS));
            assert_eq!(fd, Ok(Fd::try_from(expected).unwrap()));
        }
        let full = table.insert(FdEntry::new(Stdio::Stdin.boxed(), STDIN_RIGHTS));
        assert_eq!(full.err(), Some(Errno::Mfile));
    }

    #[test]
    fn renumber_onto_a_hole_above_the_top_is_ebadf() {
        let mut table = FdTable::with_stdio();
        table.remove(2).unwrap();
        assert_eq!(table.renumber(1, 2), Err(Errno::Badf));
        assert_eq!(table.renumber(1, 0), Ok(()));
        assert!(!table.contains(1));
        assert!(table.contains(0));
    }
}
