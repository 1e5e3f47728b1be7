//! The process's file descriptor table: numbers to open objects, each with its own flags and
//! rights. New descriptors take the lowest free number, as POSIX requires.
//!
//! Rights follow the witx: an fd may only do what its base rights allow, and an fd opened
//! through a directory gets at most that directory's inheriting rights. A missing `FD_READ`
//! or `FD_WRITE` is `EBADF` (as Linux reports an fd not open for that access); any other
//! missing right is `ENOTCAPABLE`.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;

use crate::budget::Budget;
use crate::errno::{Errno, Result};
use crate::fallible::{copy, reserve};
use crate::file::{Stdio, WasiFile};
use crate::types::{Fd, Fdflags, Filetype, Rights};
use crate::vfs::OpenDir;

/// Most descriptors a process may hold at once; beyond it `EMFILE`, as Linux's default
/// `RLIMIT_NOFILE` soft limit.
pub const MAX_FDS: usize = 1024;

/// The first number given to an opened file or directory (and to preopens): 0 to 2 are the
/// standard streams' even after they are closed.
pub const FIRST_FILE_FD: Fd = 3;

/// Rights of stdin as wasmtime reports them (base and inheriting alike).
pub const STDIN_RIGHTS: Rights = Rights::FD_READ;
/// Rights of stdout and stderr as wasmtime reports them (base and inheriting alike).
pub const STDOUT_RIGHTS: Rights = Rights::FD_WRITE;

/// Rights that mean something for a regular file; `path_open` drops the others.
pub const FILE_RIGHTS: Rights = Rights::FD_DATASYNC
    .union(Rights::FD_READ)
    .union(Rights::FD_SEEK)
    .union(Rights::FD_FDSTAT_SET_FLAGS)
    .union(Rights::FD_SYNC)
    .union(Rights::FD_TELL)
    .union(Rights::FD_WRITE)
    .union(Rights::FD_ADVISE)
    .union(Rights::FD_ALLOCATE)
    .union(Rights::FD_FILESTAT_GET)
    .union(Rights::FD_FILESTAT_SET_SIZE)
    .union(Rights::FD_FILESTAT_SET_TIMES)
    .union(Rights::POLL_FD_READWRITE);

/// Rights that mean something for a directory: the `path_*` family and the few `fd_*` calls
/// a directory supports (not seeking, reading, writing or resizing, which the WASI testsuite
/// checks are absent). Preopens get all of them as base rights.
pub const DIR_RIGHTS: Rights = Rights::PATH_CREATE_DIRECTORY
    .union(Rights::PATH_CREATE_FILE)
    .union(Rights::PATH_LINK_SOURCE)
    .union(Rights::PATH_LINK_TARGET)
    .union(Rights::PATH_OPEN)
    .union(Rights::FD_READDIR)
    .union(Rights::PATH_READLINK)
    .union(Rights::PATH_RENAME_SOURCE)
    .union(Rights::PATH_RENAME_TARGET)
    .union(Rights::PATH_FILESTAT_GET)
    .union(Rights::PATH_FILESTAT_SET_SIZE)
    .union(Rights::PATH_FILESTAT_SET_TIMES)
    .union(Rights::FD_FILESTAT_GET)
    .union(Rights::FD_FILESTAT_SET_TIMES)
    .union(Rights::PATH_SYMLINK)
    .union(Rights::PATH_REMOVE_DIRECTORY)
    .union(Rights::PATH_UNLINK_FILE)
    .union(Rights::FD_FDSTAT_SET_FLAGS)
    .union(Rights::FD_SYNC)
    .union(Rights::FD_DATASYNC);

/// Inheriting rights of a preopen: everything a file or directory under it may get, as
/// wasmtime gives (its directory rights plus its file rights).
pub const PREOPEN_INHERITING: Rights = DIR_RIGHTS.union(FILE_RIGHTS);

/// Rights of a listening socket: accepting, polling, its flags (`NONBLOCK`) and attributes,
/// and `sock_shutdown`, which answers `ENOTCONN` as on Linux.
pub const LISTENER_RIGHTS: Rights = Rights::SOCK_ACCEPT
    .union(Rights::SOCK_SHUTDOWN)
    .union(Rights::POLL_FD_READWRITE)
    .union(Rights::FD_FDSTAT_SET_FLAGS)
    .union(Rights::FD_FILESTAT_GET);

/// Rights of a connected socket: reading, writing, polling, shutting down, its flags and
/// attributes.
pub const STREAM_RIGHTS: Rights = Rights::FD_READ
    .union(Rights::FD_WRITE)
    .union(Rights::POLL_FD_READWRITE)
    .union(Rights::SOCK_SHUTDOWN)
    .union(Rights::FD_FDSTAT_SET_FLAGS)
    .union(Rights::FD_FILESTAT_GET);

/// What an fd refers to.
pub enum FdObject {
    /// A file-like object: stdio or an open regular file.
    File(Box<dyn WasiFile>),
    /// An open directory, through which `path_*` calls resolve.
    Dir(OpenDir),
}

/// One open descriptor.
pub struct FdEntry {
    /// The object it refers to.
    pub object: FdObject,
    /// Flags set at open or by `fd_fdstat_set_flags`.
    pub flags: Fdflags,
    /// Rights for operations on this fd.
    pub rights_base: Rights,
    /// Rights handed to fds opened through this one.
    pub rights_inheriting: Rights,
}

impl FdEntry {
    /// A file entry with no flags and the same base and inheriting rights.
    pub fn new(file: Box<dyn WasiFile>, rights: Rights) -> Self {
        FdEntry {
            object: FdObject::File(file),
            flags: Fdflags::EMPTY,
            rights_base: rights,
            rights_inheriting: rights,
        }
    }

    /// A directory entry with no flags.
    pub fn directory(dir: OpenDir, rights_base: Rights, rights_inheriting: Rights) -> Self {
        FdEntry {
            object: FdObject::Dir(dir),
            flags: Fdflags::EMPTY,
            rights_base,
            rights_inheriting,
        }
    }

    /// The file it refers to; a directory is `EBADF`, as wasmtime answers file operations
    /// on a directory fd.
    pub fn file(&self) -> Result<&dyn WasiFile> {
        match &self.object {
            FdObject::File(file) => Ok(file.as_ref()),
            FdObject::Dir(_) => Err(Errno::Badf),
        }
    }

    /// The file it refers to, writable; a directory is `EBADF`.
    pub fn file_mut(&mut self) -> Result<&mut (dyn WasiFile + 'static)> {
        match &mut self.object {
            FdObject::File(file) => Ok(file.as_mut()),
            FdObject::Dir(_) => Err(Errno::Badf),
        }
    }

    /// The directory it refers to; anything else is `ENOTDIR`, as Linux's `*at` calls answer.
    pub fn dir(&self) -> Result<&OpenDir> {
        match &self.object {
            FdObject::Dir(dir) => Ok(dir),
            FdObject::File(_) => Err(Errno::Notdir),
        }
    }

    /// The type of what it refers to.
    pub fn filetype(&self) -> Filetype {
        match &self.object {
            FdObject::File(file) => file.filetype(),
            FdObject::Dir(_) => Filetype::Directory,
        }
    }

    /// `Ok` if the base rights include `needed`, else `ENOTCAPABLE`. Stdio is exempt: it
    /// (like a pipe) carries only the rights wasmtime reports for it, and an operation it lacks (seeking,
    /// advice) answers with its own errno (`ESPIPE`, `EBADF`) as in wasmtime.
    pub fn require_cap(&self, needed: Rights) -> Result<()> {
        let stream = matches!(
            self.filetype(),
            Filetype::CharacterDevice | Filetype::Unknown
        );
        if self.rights_base.contains(needed) || stream {
            Ok(())
        } else {
            Err(Errno::Notcapable)
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

/// What an open fd is charged to its process: its slot and its boxed object, rounded up.
pub const FD_BYTES: u64 = 128;

/// Open descriptors by number.
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
    /// Fds may be numbered below this only (`RLIMIT_NOFILE`), at most [`MAX_FDS`].
    limit: usize,
    /// The process's account, charged [`FD_BYTES`] per open fd (`ENOMEM` beyond its limit).
    account: Option<Rc<Budget>>,
}

impl Drop for FdTable {
    fn drop(&mut self) {
        if let Some(account) = &self.account {
            account.give(FD_BYTES.saturating_mul(self.open_count() as u64));
        }
    }
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable::new()
    }
}

impl FdTable {
    /// An empty table.
    pub fn new() -> Self {
        FdTable {
            slots: Vec::new(),
            limit: MAX_FDS,
            account: None,
        }
    }

    /// Charges the fds open now, and every one opened from now on, to `account` (a
    /// process's; what the table held before is charged whatever the limit).
    pub fn set_account(&mut self, account: Rc<Budget>) {
        account.force(FD_BYTES.saturating_mul(self.open_count() as u64));
        if let Some(old) = self.account.replace(account) {
            old.give(FD_BYTES.saturating_mul(self.open_count() as u64));
        }
    }

    /// The most fds the process may have open (and one more than the highest number).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Lowers (never raises beyond [`MAX_FDS`]) the open-files limit; fds already open
    /// above it stay open, as with `setrlimit`.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(MAX_FDS);
    }

    /// Fds open now.
    pub fn open_count(&self) -> usize {
        self.slots.iter().filter(|slot| slot.is_some()).count()
    }

    /// Whether `count` more fds fit under the limit.
    pub fn has_room_for(&self, count: usize) -> bool {
        let below = self.slots.iter().take(self.limit).filter(|s| s.is_none());
        let above = self.limit.saturating_sub(self.slots.len());
        below.count().saturating_add(above) >= count
    }

    /// A table holding the console's stdin, stdout and stderr as fds 0, 1 and 2; `terminal`
    /// says whether the console is a terminal (see [`Stdio::console`]).
    pub fn with_stdio(terminal: bool) -> Self {
        let mut table = FdTable::new();
        for (stream, rights) in [
            (Stdio::Stdin, STDIN_RIGHTS),
            (Stdio::Stdout, STDOUT_RIGHTS),
            (Stdio::Stderr, STDOUT_RIGHTS),
        ] {
            table
                .slots
                .push(Some(FdEntry::new(stream.console(terminal), rights)));
        }
        table
    }

    /// Another entry for what `fd` refers to, with the same flags and rights, for a child's
    /// table. `EBADF` for a free fd, `ENOTSUP` for an object that cannot be shared, `ENOMEM`
    /// when a preopen's name cannot be copied.
    pub fn duplicate(&self, fd: Fd) -> Result<FdEntry> {
        let entry = self.get(fd)?;
        let object = match &entry.object {
            FdObject::File(file) => FdObject::File(file.duplicate().ok_or(Errno::Notsup)?),
            FdObject::Dir(dir) => FdObject::Dir(OpenDir {
                dir: dir.dir.clone(),
                preopen: dir.preopen.as_deref().map(copy).transpose()?,
            }),
        };
        Ok(FdEntry {
            object,
            flags: entry.flags,
            rights_base: entry.rights_base,
            rights_inheriting: entry.rights_inheriting,
        })
    }

    /// A table whose fds 0, 1, 2, ... are `entries` in order, as a child starts with;
    /// `ENOMEM` if there is no memory for it.
    pub fn from_entries(entries: Vec<FdEntry>) -> Result<Self> {
        let mut slots = Vec::new();
        reserve(&mut slots, entries.len())?;
        slots.extend(entries.into_iter().map(Some));
        Ok(FdTable {
            slots,
            limit: MAX_FDS,
            account: None,
        })
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
        self.insert_from(0, entry)
    }

    /// Whether [`FdTable::insert_from`] with this `min` would find a number, so that a caller
    /// can refuse with `EMFILE` before doing anything it could not undo.
    pub fn has_room_from(&self, min: Fd) -> bool {
        self.slots_to_add(min).is_ok()
    }

    /// Makes sure that the next `count` calls of [`FdTable::insert_from`] with this `min`
    /// need no memory, so that a caller can refuse before doing anything it could not undo:
    /// `EMFILE` when no number is free (for the first one; the others may still find the
    /// table full), `ENOMEM` when the table cannot grow.
    pub fn reserve_from(&mut self, min: Fd, count: usize) -> Result<()> {
        let needed = self
            .slots_to_add(min)?
            .saturating_add(count.saturating_sub(1));
        reserve(&mut self.slots, needed)
    }

    /// How many slots [`FdTable::insert_from`] with this `min` would add (padding up to
    /// `min`, then one new slot if none is free), or `EMFILE` when no number is left.
    fn slots_to_add(&self, min: Fd) -> Result<usize> {
        let min = Self::slot(min).map_err(|_| Errno::Mfile)?;
        if min >= self.limit {
            return Err(Errno::Mfile);
        }
        if self
            .slots
            .iter()
            .take(self.limit)
            .skip(min)
            .any(Option::is_none)
        {
            return Ok(0);
        }
        let to_add = min.saturating_sub(self.slots.len()).saturating_add(1);
        if self.slots.len().saturating_add(to_add) > self.limit {
            return Err(Errno::Mfile);
        }
        Ok(to_add)
    }

    /// Stores `entry` under the lowest free number that is at least `min` and returns it;
    /// `EMFILE` when none is left, `ENOMEM` when the table cannot grow (unless
    /// [`FdTable::reserve_from`] made room). Files and directories are opened from
    /// [`FIRST_FILE_FD`] on, so a program that closed stdout does not find a file it opens
    /// next written to by `printf` (wasmtime never reuses numbers at all).
    pub fn insert_from(&mut self, min: Fd, entry: FdEntry) -> Result<Fd> {
        let to_add = self.slots_to_add(min)?;
        reserve(&mut self.slots, to_add)?;
        if let Some(account) = &self.account {
            // Only the limit: an fd takes next to no memory, and small processes must still
            // open files when the machine is at its floor.
            account.take_within_limit(FD_BYTES)?;
        }
        let min = Self::slot(min).map_err(|_| Errno::Mfile)?;
        while self.slots.len() < min {
            self.slots.push(None);
        }
        let free = self
            .slots
            .iter()
            .enumerate()
            .take(self.limit)
            .skip(min)
            .find(|(_, slot)| slot.is_none())
            .map(|(index, _)| index);
        let index = match free {
            Some(index) => index,
            None => {
                self.slots.push(None);
                self.slots.len().saturating_sub(1)
            }
        };
        match self.slots.get_mut(index) {
            Some(slot) => *slot = Some(entry),
            None => {
                if let Some(account) = &self.account {
                    account.give(FD_BYTES);
                }
                return Err(Errno::Mfile);
            }
        }
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
        if let Some(account) = &self.account {
            account.give(FD_BYTES);
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
        let mut table = FdTable::with_stdio(true);
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
    fn files_start_at_three() {
        let mut table = FdTable::with_stdio(true);
        table.remove(1).unwrap();
        table.remove(2).unwrap();
        let entry = || FdEntry::new(Stdio::Stdout.boxed(), STDOUT_RIGHTS);
        assert_eq!(table.insert_from(FIRST_FILE_FD, entry()), Ok(3));
        assert_eq!(table.insert_from(FIRST_FILE_FD, entry()), Ok(4));
        table.remove(3).unwrap();
        assert_eq!(table.insert_from(FIRST_FILE_FD, entry()), Ok(3));
        assert!(!table.contains(1), "the closed stdout stays free");
        assert_eq!(table.insert(entry()), Ok(1));
        let mut empty = FdTable::new();
        assert_eq!(empty.insert_from(5, entry()), Ok(5));
        assert_eq!(empty.insert(entry()), Ok(0));
        assert_eq!(
            empty.insert_from(MAX_FDS as Fd, entry()).err(),
            Some(Errno::Mfile)
        );
        assert!(empty.has_room_from(3));
        assert!(!empty.has_room_from(MAX_FDS as Fd));
    }

    #[test]
    fn a_lowered_limit_bounds_new_fds_and_keeps_open_ones() {
        let mut table = FdTable::with_stdio(false);
        table.set_limit(5);
        assert!(table.has_room_for(2));
        assert!(!table.has_room_for(3));
        let entry = || FdEntry::new(Stdio::Stdin.boxed(), STDIN_RIGHTS);
        assert_eq!(table.insert(entry()), Ok(3));
        assert_eq!(table.insert(entry()), Ok(4));
        assert_eq!(table.insert(entry()).err(), Some(Errno::Mfile));
        table.remove(1).unwrap();
        assert_eq!(table.insert(entry()), Ok(1));
        table.set_limit(2);
        assert_eq!(table.open_count(), 5, "fds above a lowered limit stay open");
        assert_eq!(table.insert_from(0, entry()).err(), Some(Errno::Mfile));
        table.set_limit(usize::MAX);
        assert_eq!(table.limit(), MAX_FDS);
    }

    #[test]
    fn open_fds_are_charged_to_the_account_and_refused_past_its_limit() {
        let account = Budget::new(5 * FD_BYTES, Errno::Nomem);
        let mut table = FdTable::with_stdio(false);
        table.set_account(Rc::clone(&account));
        assert_eq!(
            account.used(),
            3 * FD_BYTES,
            "stdio, charged when the account came"
        );
        let entry = || FdEntry::new(Stdio::Stdin.boxed(), STDIN_RIGHTS);
        assert_eq!(table.insert(entry()), Ok(3));
        assert_eq!(table.insert(entry()), Ok(4));
        assert_eq!(table.insert(entry()).err(), Some(Errno::Nomem));
        assert_eq!(table.open_count(), 5, "nothing half made");
        table.renumber(4, 1).unwrap();
        assert_eq!(account.used(), 4 * FD_BYTES, "renumbering closed one");
        table.remove(3).unwrap();
        assert_eq!(account.used(), 3 * FD_BYTES);
        drop(table);
        assert_eq!(account.used(), 0);
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
        assert!(!table.has_room_from(0));
        table.remove(7).unwrap();
        assert!(table.has_room_from(3));
        assert!(!table.has_room_from(8));
    }

    #[test]
    fn renumber_onto_a_hole_above_the_top_is_ebadf() {
        let mut table = FdTable::with_stdio(true);
        table.remove(2).unwrap();
        assert_eq!(table.renumber(1, 2), Err(Errno::Badf));
        assert_eq!(table.renumber(1, 0), Ok(()));
        assert!(!table.contains(1));
        assert!(table.contains(0));
    }
}
