//! The in-memory file system: a tree of directories, regular files, symbolic links and hard
//! links, shared by every process of the kernel.
//!
//! [`Vfs`] owns the tree and hands out inode numbers; [`DirHandle`] is a directory as a
//! directory fd sees it, and carries every `path_*` operation, each resolved inside that
//! directory (see [`path`]). Times are nanoseconds since the Unix epoch, passed in by the
//! caller as `now`, so the file system needs no clock of its own. Writes and truncation set
//! `mtim` and `ctim`, changes to a directory's entries set its `mtim` and `ctim`, and changes
//! to an inode's links or times set its `ctim`; reads leave `atim` alone (as a `noatime`
//! mount would), so only `*_filestat_set_times` and the import API change it.
//!
//! The kernel builds the tree from a host directory with [`Vfs::create_dir`],
//! [`Vfs::write_file`] (then [`Vfs::write_at`] for the rest of a large file), [`Vfs::symlink`],
//! [`Vfs::hard_link`], [`Vfs::set_times`] and [`Vfs::set_mode`]; hands a directory to each
//! process with `WasiCtx::add_preopen(name, vfs.root())` (or [`DirHandle::open_dir`] for a
//! subtree); and walks the tree for write-back with [`Vfs::walk`]. [`Vfs::with_capacity`]
//! gives it a size, as tmpfs has, so that guests cannot exhaust the kernel heap through files.

pub mod data;
pub mod node;
pub mod open;
pub mod path;
// `data`, `node` and `path` are the building blocks; the kernel needs only `Vfs`, `DirHandle`,
// `VfsNode`, `Walk` and `Exported` from here, which keep link counts and parent links consistent.

#[cfg(test)]
mod tests;

use alloc::rc::{Rc, Weak};
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use self::data::FileData;
use self::node::{
    DIR_INODE_COST, Dir, EntryName, HARD_LINK_COST, Kind, Node, NodeRef, entry_cost, inode_cost,
};
use self::path::{PATH_MAX, Parent, resolve, resolve_parent, validate};
pub use crate::budget::MemoryGuard;
use crate::budget::{Budget, Charge};
use crate::errno::{Errno, Result};
use crate::fallible::{copy, infallible};
use crate::types::{Filestat, Filetype, Timestamp};

pub use self::node::Device;
pub use self::open::{OpenDevice, OpenDir, OpenFile};

/// Device number reported in `filestat.dev` for every inode of a [`Vfs`].
pub const VFS_DEV: u64 = 1;
/// Inode number of the root directory.
pub const ROOT_INO: u64 = 1;

/// State shared by every handle on one file system.
struct Shared {
    next_ino: Cell<u64>,
    root: NodeRef,
    /// The file system's size: everything it holds is charged here.
    space: Rc<Budget>,
}

/// A file system. Cloning gives another handle on the same tree.
#[derive(Clone)]
pub struct Vfs {
    shared: Rc<Shared>,
}

/// How `path_open` should open an inode (the decoded `oflags` and lookup flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Follow a final symbolic link (`LOOKUPFLAGS_SYMLINK_FOLLOW`).
    pub follow: bool,
    /// Create a regular file if there is none (`OFLAGS_CREAT`).
    pub create: bool,
    /// With `create`, fail with `EEXIST` if it exists (`OFLAGS_EXCL`).
    pub exclusive: bool,
    /// Truncate a regular file to 0 (`OFLAGS_TRUNC`).
    pub truncate: bool,
    /// Require a directory (`OFLAGS_DIRECTORY`).
    pub directory: bool,
    /// Open for writing: a directory is then `EISDIR`.
    pub write: bool,
}

/// What `path_open` opened.
pub enum Opened {
    /// A regular file.
    File(NodeRef),
    /// A directory.
    Dir(DirHandle),
    /// A device.
    Device(NodeRef),
}

/// Times to set; `None` leaves one unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetTimes {
    /// New access time.
    pub atim: Option<Timestamp>,
    /// New modification time.
    pub mtim: Option<Timestamp>,
}

/// A directory of a [`Vfs`], as a directory fd holds it. Lookups through it never leave it.
#[derive(Clone)]
pub struct DirHandle {
    vfs: Vfs,
    node: NodeRef,
}

impl Default for Vfs {
    fn default() -> Self {
        Vfs::new(0)
    }
}

impl Vfs {
    /// An empty file system whose root directory has every time set to `now`, with no cap on
    /// file data beyond what the allocator can give.
    pub fn new(now: Timestamp) -> Self {
        Vfs::with_capacity(now, u64::MAX)
    }

    /// An empty file system of `capacity` bytes, as tmpfs has a size: file data in whole
    /// 64 KiB chunks, [`node::INODE_COST`] per inode, [`node::entry_cost`] per directory
    /// entry (its name included) and symlink targets all count. What needs more fails with
    /// `ENOSPC`, so guests cannot fill the kernel's memory through files.
    pub fn with_capacity(now: Timestamp, capacity: u64) -> Self {
        let space = Budget::new(capacity, Errno::Nospc);
        let root = Rc::new(RefCell::new(Node::new(
            ROOT_INO,
            Kind::Dir(Dir::new(Weak::new(), 0)),
            now,
            space.force_charge(DIR_INODE_COST),
        )));
        Vfs {
            shared: Rc::new(Shared {
                next_ino: Cell::new(ROOT_INO.saturating_add(1)),
                root,
                space,
            }),
        }
    }

    /// The root directory.
    pub fn root(&self) -> DirHandle {
        DirHandle {
            vfs: self.clone(),
            node: Rc::clone(&self.shared.root),
        }
    }

    /// Bytes charged now: file data in whole chunks, inodes, entries, symlink targets.
    pub fn used_bytes(&self) -> u64 {
        self.shared.space.used()
    }

    /// The cap on [`Vfs::used_bytes`].
    pub fn capacity(&self) -> u64 {
        self.shared.space.limit()
    }

    /// Changes the file system's size; what is stored stays even above it.
    pub fn set_capacity(&self, capacity: u64) {
        self.shared.space.set_limit(capacity);
    }

    /// Whether two handles are on the same file system.
    pub fn same(&self, other: &Vfs) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }

    /// Stops the file system from growing (`ENOSPC`) when the machine's free memory falls to
    /// the guard's floor: the kernel sets this so a program cannot exhaust kernel memory
    /// through files or inodes.
    pub fn set_memory_guard(&self, guard: Option<MemoryGuard>) {
        self.shared.space.set_guard(guard);
    }

    /// A new inode, or `ENOSPC` if the file system is full or memory is short (see
    /// [`Vfs::set_memory_guard`]).
    fn new_node(&self, kind: Kind, now: Timestamp) -> Result<NodeRef> {
        let (filetype, size) = match &kind {
            Kind::Symlink(target) => (Filetype::SymbolicLink, target.len() as u64),
            Kind::Dir(_) => (Filetype::Directory, 0),
            _ => (Filetype::RegularFile, 0),
        };
        let charge = self.shared.space.charge(inode_cost(filetype, size))?;
        let ino = self.shared.next_ino.get();
        self.shared.next_ino.set(ino.saturating_add(1));
        // A fixed-size allocation that stable Rust cannot make fallible (no `Rc::try_new`).
        Ok(infallible(|| {
            Rc::new(RefCell::new(Node::new(ino, kind, now, charge)))
        }))
    }

    /// The charge of a new directory entry `name`, or `ENOSPC`.
    fn entry_charge(&self, name: &[u8]) -> Result<Charge> {
        self.shared.space.charge(entry_cost(name))
    }

    /// `path` relative to the root: leading slashes are dropped, since the kernel's paths
    /// are absolute within the file system while guest paths may not be.
    fn relative(path: &[u8]) -> &[u8] {
        let start = path
            .iter()
            .position(|byte| *byte != b'/')
            .unwrap_or(path.len());
        path.get(start..).unwrap_or_default()
    }

    /// Creates directory `path` (its parent must exist), with every time set to `now`.
    pub fn create_dir(&self, path: &[u8], now: Timestamp) -> Result<()> {
        self.root().create_dir(Self::relative(path), now)
    }

    /// Creates (or replaces the contents of) regular file `path` with `contents`.
    pub fn write_file(&self, path: &[u8], contents: &[u8], now: Timestamp) -> Result<()> {
        let options = OpenOptions {
            create: true,
            truncate: true,
            write: true,
            ..OpenOptions::default()
        };
        match self.root().open(Self::relative(path), options, now)? {
            Opened::File(node) => {
                let mut node = node.borrow_mut();
                node.as_file_mut()
                    .ok_or(Errno::Isdir)?
                    .write_at(0, contents)?;
                node.mtim = now;
                Ok(())
            }
            Opened::Dir(_) => Err(Errno::Isdir),
            Opened::Device(_) => Err(Errno::Inval),
        }
    }

    /// Writes `data` at `offset` into the existing regular file `path` (following symlinks),
    /// growing it as needed: for importing a large host file in pieces after
    /// [`Vfs::write_file`] created it. The times are left alone.
    pub fn write_at(&self, path: &[u8], offset: u64, data: &[u8]) -> Result<()> {
        let path = Self::relative(path);
        validate(path)?;
        let node = resolve(&self.shared.root, path, true)?;
        let mut node = node.borrow_mut();
        let file = node.as_file_mut().ok_or(Errno::Isdir)?;
        let written = file.write_at(offset, data)?;
        if written < data.len() {
            return Err(Errno::Nospc);
        }
        Ok(())
    }

    /// Creates symbolic link `path` pointing at `target`. Unlike `path_symlink`, any target
    /// is accepted (an absolute one simply never resolves for a guest).
    pub fn symlink(&self, target: &[u8], path: &[u8], now: Timestamp) -> Result<()> {
        self.root()
            .symlink_unchecked(target, Self::relative(path), now)
    }

    /// Makes `new_path` another name of the inode at `existing` (not a directory).
    pub fn hard_link(&self, existing: &[u8], new_path: &[u8], now: Timestamp) -> Result<()> {
        let root = self.root();
        root.link(
            Self::relative(existing),
            &root,
            Self::relative(new_path),
            now,
        )
    }

    /// Sets the times of `path` (a final symlink itself, not its target), as when copying a
    /// tree from a host; the change time stays as it is unless `ctim` is given.
    pub fn set_times(
        &self,
        path: &[u8],
        atim: Timestamp,
        mtim: Timestamp,
        ctim: Option<Timestamp>,
    ) -> Result<()> {
        let node = self.lookup(path)?;
        let mut node = node.borrow_mut();
        node.atim = atim;
        node.mtim = mtim;
        node.ctim = ctim.unwrap_or(node.ctim);
        Ok(())
    }

    /// Sets the Unix permission bits kept for `path`.
    pub fn set_mode(&self, path: &[u8], mode: u32) -> Result<()> {
        self.lookup(path)?.borrow_mut().mode = mode;
        Ok(())
    }

    /// The inode at `path` (relative to the root, final symlink not followed).
    fn lookup(&self, path: &[u8]) -> Result<NodeRef> {
        let path = Self::relative(path);
        if path.is_empty() {
            return Ok(Rc::clone(&self.shared.root));
        }
        validate(path)?;
        resolve(&self.shared.root, path, false)
    }

    /// Attributes of `path` (final symlink not followed).
    pub fn stat(&self, path: &[u8]) -> Result<Filestat> {
        Ok(self.lookup(path)?.borrow().filestat(VFS_DEV))
    }

    /// Walks every inode reachable from the root, each under every name it has, parents
    /// before children and siblings in byte order of their names; the root itself is not
    /// listed. A regular file or symlink with several names comes once per name, each with
    /// the same [`Exported::ino`]. The walk holds only a cursor per directory level, never a
    /// list of the tree, so a file system that fills most of memory can still be written
    /// back; it stays sound if the tree changes meanwhile (a name added behind a cursor is
    /// missed, one removed is skipped).
    pub fn walk(&self) -> Walk {
        Walk {
            levels: alloc::vec![Level {
                dir: Rc::clone(&self.shared.root),
                cursor: None,
                path_len: 0,
            }],
            path: Vec::new(),
        }
    }
}

/// A walk of a file system: see [`Vfs::walk`].
pub struct Walk {
    /// The directories being listed, outermost first.
    levels: Vec<Level>,
    /// The path of the last inode listed.
    path: Vec<u8>,
}

/// One directory being listed by a [`Walk`].
struct Level {
    dir: NodeRef,
    /// The last name listed here.
    cursor: Option<Vec<u8>>,
    /// Length of the directory's own path (the prefix of `Walk::path`).
    path_len: usize,
}

impl Iterator for Walk {
    type Item = Exported;

    fn next(&mut self) -> Option<Exported> {
        loop {
            let level = self.levels.last_mut()?;
            let next = {
                let dir = level.dir.borrow();
                dir.as_dir()
                    .and_then(|dir| dir.entry_after(level.cursor.as_deref()))
                    .map(|(name, node)| (name.to_vec(), Rc::clone(node)))
            };
            let Some((name, node)) = next else {
                self.levels.pop();
                continue;
            };
            self.path.truncate(level.path_len);
            if !self.path.is_empty() {
                self.path.push(b'/');
            }
            self.path.extend_from_slice(&name);
            level.cursor = Some(name);
            let (stat, mode, is_dir) = {
                let node = node.borrow();
                (node.filestat(VFS_DEV), node.mode, node.is_dir())
            };
            if is_dir {
                self.levels.push(Level {
                    dir: Rc::clone(&node),
                    cursor: None,
                    path_len: self.path.len(),
                });
            }
            return Some(Exported {
                path: self.path.clone(),
                ino: stat.ino,
                stat,
                mode,
                node: VfsNode(node),
            });
        }
    }
}

/// One name of one inode, as [`Vfs::walk`] lists it.
pub struct Exported {
    /// Path from the root, `/`-separated, without a leading slash.
    pub path: Vec<u8>,
    /// Inode number: equal for every name of the same inode.
    pub ino: u64,
    /// Type, size, link count and times.
    pub stat: Filestat,
    /// Unix permission bits.
    pub mode: u32,
    /// The inode, to read its contents or symlink target.
    pub node: VfsNode,
}

/// An inode, opaque except for reading.
#[derive(Clone)]
pub struct VfsNode(NodeRef);

impl VfsNode {
    /// Its type.
    pub fn filetype(&self) -> Filetype {
        self.0.borrow().filetype()
    }

    /// For a regular file, copies bytes from `offset` into `buf`; returns how many (0 at the
    /// end, and for anything but a regular file).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> usize {
        self.0
            .borrow()
            .as_file()
            .map_or(0, |data| data.read_at(offset, buf))
    }

    /// For a symbolic link, its target.
    pub fn symlink_target(&self) -> Option<Vec<u8>> {
        self.0.borrow().symlink_target().map(<[u8]>::to_vec)
    }
}

/// Sets `atim`/`mtim` of `node` as `times` says, and its change time to `now`.
pub(crate) fn apply_times(node: &NodeRef, times: SetTimes, now: Timestamp) {
    let mut node = node.borrow_mut();
    if let Some(atim) = times.atim {
        node.atim = atim;
    }
    if let Some(mtim) = times.mtim {
        node.mtim = mtim;
    }
    node.ctim = now;
}

/// Marks a directory's contents as changed at `now`.
fn touch_dir(dir: &NodeRef, now: Timestamp) {
    let mut dir = dir.borrow_mut();
    dir.mtim = now;
    dir.ctim = now;
}

/// Adjusts a link count by `delta` (+1 or -1), saturating.
fn add_links(node: &NodeRef, up: bool) {
    let mut node = node.borrow_mut();
    node.nlink = if up {
        node.nlink.saturating_add(1)
    } else {
        node.nlink.saturating_sub(1)
    };
}

/// The parent directory for adding an entry: `ENOENT` if it was removed.
fn live_dir(parent: &Parent) -> Result<NodeRef> {
    let dir = parent.dir()?;
    if dir.borrow().as_dir().ok_or(Errno::Notdir)?.removed {
        return Err(Errno::Noent);
    }
    Ok(dir)
}

/// Adds entry `name` for `node` to `dir`, which the caller has checked is a directory; the
/// entry holds `charge` (taken before anything changed, see [`Vfs::entry_charge`]).
fn add_entry(
    dir: &NodeRef,
    name: EntryName,
    node: NodeRef,
    charge: Charge,
    now: Timestamp,
) -> Result<()> {
    dir.borrow_mut()
        .as_dir_mut()
        .ok_or(Errno::Notdir)?
        .insert(name, node, charge);
    touch_dir(dir, now);
    Ok(())
}

/// The path length from the root that `name` in directory `dir` would have, if a name
/// there, with `below` more bytes of path under it, stays shorter than [`PATH_MAX`]; else
/// `ENAMETOOLONG`. Every name's path from the root stays below `PATH_MAX`, as the tree must
/// be written back to a host, whose calls take no longer paths.
fn path_room(dir: &NodeRef, name: &[u8], below: usize) -> Result<usize> {
    let len = dir
        .borrow()
        .as_dir()
        .ok_or(Errno::Notdir)?
        .path_len_of(name);
    if len.saturating_add(below) >= PATH_MAX {
        return Err(Errno::Nametoolong);
    }
    Ok(len)
}

/// How much longer than `dir`'s own path the longest path under it is.
fn extent(dir: &NodeRef) -> usize {
    let base = dir.borrow().as_dir().map_or(0, |d| d.path_len);
    let mut longest = base;
    let mut pending = infallible(|| alloc::vec![Rc::clone(dir)]);
    while let Some(node) = pending.pop() {
        let node = node.borrow();
        let Some(dir) = node.as_dir() else {
            continue;
        };
        for (name, child) in dir.iter() {
            longest = longest.max(dir.path_len_of(name));
            if child.borrow().is_dir() {
                infallible(|| pending.push(Rc::clone(child)));
            }
        }
    }
    longest.saturating_sub(base)
}

/// Sets the path lengths of `dir` (now `len` long) and of every directory under it.
fn set_path_lens(dir: &NodeRef, len: usize) {
    let mut pending = infallible(|| alloc::vec![(Rc::clone(dir), len)]);
    while let Some((node, len)) = pending.pop() {
        let mut node = node.borrow_mut();
        let Some(dir) = node.as_dir_mut() else {
            continue;
        };
        dir.path_len = len;
        for (name, child) in dir.iter() {
            if child.borrow().is_dir() {
                let child_len = dir.path_len_of(name);
                infallible(|| pending.push((Rc::clone(child), child_len)));
            }
        }
    }
}

/// Removes entry `name` from `dir`; returns its inode and the entry's charge.
fn remove_entry(dir: &NodeRef, name: &[u8], now: Timestamp) -> Result<(NodeRef, Charge)> {
    let removed = dir
        .borrow_mut()
        .as_dir_mut()
        .ok_or(Errno::Notdir)?
        .remove(name)
        .ok_or(Errno::Noent)?;
    touch_dir(dir, now);
    Ok(removed)
}

/// Checks that a symlink or hard link may be created at `parent`'s last component: an
/// existing entry is `EEXIST`, except that a trailing slash after a non-directory is
/// `ENOTDIR`; a trailing slash after a free name is `ENOENT` (only directories end in `/`).
/// These are the errnos the WASI testsuite expects on Unix.
fn check_free_for_non_dir(parent: &Parent) -> Result<()> {
    if parent.is_dot() {
        return Err(Errno::Exist);
    }
    match parent.entry()? {
        Some(node) if parent.trailing_slash && !node.borrow().is_dir() => Err(Errno::Notdir),
        Some(_) => Err(Errno::Exist),
        None if parent.trailing_slash => Err(Errno::Noent),
        None => Ok(()),
    }
}

/// Whether `ancestor` is `dir` or one of the directories above it.
fn is_within(dir: &NodeRef, ancestor: &NodeRef) -> bool {
    let mut current = Some(Rc::clone(dir));
    while let Some(node) = current {
        if Rc::ptr_eq(&node, ancestor) {
            return true;
        }
        current = node.borrow().as_dir().and_then(|d| d.parent.upgrade());
    }
    false
}

/// Records that directory `child` was removed from `parent`: it loses its links and accepts
/// no new entries, and the parent loses the link of the child's `..`.
fn detach_dir(parent: &NodeRef, child: &NodeRef, now: Timestamp) {
    {
        let mut node = child.borrow_mut();
        node.nlink = 0;
        node.ctim = now;
        if let Some(dir) = node.as_dir_mut() {
            dir.removed = true;
            dir.parent = Weak::new();
        }
    }
    add_links(parent, false);
}

/// Records that a non-directory lost one of its names.
fn drop_name(node: &NodeRef, now: Timestamp) {
    add_links(node, false);
    node.borrow_mut().ctim = now;
}

impl DirHandle {
    /// The file system it belongs to.
    pub fn vfs(&self) -> &Vfs {
        &self.vfs
    }

    /// Its attributes.
    pub fn filestat(&self) -> Filestat {
        self.node.borrow().filestat(VFS_DEV)
    }

    /// Sets its own times.
    pub fn set_own_times(&self, times: SetTimes, now: Timestamp) {
        apply_times(&self.node, times, now);
    }

    /// The subdirectory at `path`, as a handle confined to it (for preopens).
    pub fn open_dir(&self, path: &[u8]) -> Result<DirHandle> {
        let options = OpenOptions {
            follow: true,
            directory: true,
            ..OpenOptions::default()
        };
        match self.open(path, options, 0)? {
            Opened::Dir(dir) => Ok(dir),
            Opened::File(_) | Opened::Device(_) => Err(Errno::Notdir),
        }
    }

    /// `path_open`: opens (and with `create`, perhaps creates) the inode at `path`.
    pub fn open(&self, path: &[u8], options: OpenOptions, now: Timestamp) -> Result<Opened> {
        validate(path)?;
        let node = if options.create {
            let parent = resolve_parent(&self.node, path)?;
            match parent.entry()? {
                Some(_) if options.exclusive => return Err(Errno::Exist),
                Some(_) => parent.follow(options.follow)?,
                None if parent.trailing_slash => return Err(Errno::Isdir),
                None => {
                    let dir = live_dir(&parent)?;
                    path_room(&dir, &parent.name, 0)?;
                    let name = EntryName::new(&parent.name)?;
                    let charge = self.vfs.entry_charge(&parent.name)?;
                    let data = FileData::new(Rc::clone(&self.vfs.shared.space));
                    let node = self.vfs.new_node(Kind::File(data), now)?;
                    add_entry(&dir, name, Rc::clone(&node), charge, now)?;
                    return Ok(Opened::File(node));
                }
            }
        } else {
            resolve(&self.node, path, options.follow)?
        };
        let (is_dir, is_symlink) = {
            let node = node.borrow();
            (node.is_dir(), node.is_symlink())
        };
        if is_symlink {
            return Err(Errno::Loop);
        }
        if is_dir {
            if options.truncate || options.write || options.create {
                return Err(Errno::Isdir);
            }
            return Ok(Opened::Dir(DirHandle {
                vfs: self.vfs.clone(),
                node,
            }));
        }
        if options.directory {
            return Err(Errno::Notdir);
        }
        if node.borrow().device().is_some() {
            // Nothing to truncate: a device has no data.
            return Ok(Opened::Device(node));
        }
        if options.truncate {
            let mut file = node.borrow_mut();
            file.as_file_mut().ok_or(Errno::Isdir)?.set_size(0)?;
            file.mtim = now;
            file.ctim = now;
        }
        Ok(Opened::File(node))
    }

    /// `path_create_directory`.
    pub fn create_dir(&self, path: &[u8], now: Timestamp) -> Result<()> {
        validate(path)?;
        let parent = resolve_parent(&self.node, path)?;
        if parent.is_dot() || parent.entry()?.is_some() {
            return Err(Errno::Exist);
        }
        let dir = live_dir(&parent)?;
        let path_len = path_room(&dir, &parent.name, 0)?;
        let name = EntryName::new(&parent.name)?;
        let charge = self.vfs.entry_charge(&parent.name)?;
        let node = self
            .vfs
            .new_node(Kind::Dir(Dir::new(Rc::downgrade(&dir), path_len)), now)?;
        add_entry(&dir, name, node, charge, now)?;
        add_links(&dir, true);
        Ok(())
    }

    /// `path_remove_directory`.
    pub fn remove_dir(&self, path: &[u8], now: Timestamp) -> Result<()> {
        validate(path)?;
        let parent = resolve_parent(&self.node, path)?;
        match parent.name.as_slice() {
            b"." => return Err(Errno::Inval),
            b".." => return Err(Errno::Notempty),
            _ => {}
        }
        let node = parent.entry()?.ok_or(Errno::Noent)?;
        match node.borrow().as_dir() {
            None => return Err(Errno::Notdir),
            Some(dir) if !dir.is_empty() => return Err(Errno::Notempty),
            Some(_) => {}
        }
        let dir = parent.dir()?;
        remove_entry(&dir, &parent.name, now)?;
        detach_dir(&dir, &node, now);
        Ok(())
    }

    /// `path_unlink_file`.
    pub fn unlink_file(&self, path: &[u8], now: Timestamp) -> Result<()> {
        validate(path)?;
        let parent = resolve_parent(&self.node, path)?;
        if parent.is_dot() {
            return Err(Errno::Isdir);
        }
        let node = parent.entry()?.ok_or(Errno::Noent)?;
        if node.borrow().is_dir() {
            return Err(Errno::Isdir);
        }
        if parent.trailing_slash {
            return Err(Errno::Notdir);
        }
        remove_entry(&parent.dir()?, &parent.name, now)?;
        drop_name(&node, now);
        Ok(())
    }

    /// `path_rename`: moves `old_path` (under `self`) to `new_path` under `new_dir`,
    /// replacing what is there as POSIX `rename` does.
    pub fn rename(
        &self,
        old_path: &[u8],
        new_dir: &DirHandle,
        new_path: &[u8],
        now: Timestamp,
    ) -> Result<()> {
        if !self.vfs.same(&new_dir.vfs) {
            return Err(Errno::Xdev);
        }
        validate(old_path)?;
        validate(new_path)?;
        let old = resolve_parent(&self.node, old_path)?;
        let new = resolve_parent(&new_dir.node, new_path)?;
        if old.is_dot() || new.is_dot() {
            return Err(Errno::Busy);
        }
        let source = old.entry()?.ok_or(Errno::Noent)?;
        let source_is_dir = source.borrow().is_dir();
        if (old.trailing_slash || new.trailing_slash) && !source_is_dir {
            return Err(Errno::Notdir);
        }
        let old_parent = old.dir()?;
        let new_parent = live_dir(&new)?;
        let target = new.entry()?;
        if let Some(target) = &target {
            if Rc::ptr_eq(target, &source) {
                // Two names of one inode: POSIX says rename does nothing.
                return Ok(());
            }
            match (source_is_dir, target.borrow().as_dir()) {
                (true, None) => return Err(Errno::Notdir),
                (true, Some(dir)) if !dir.is_empty() => return Err(Errno::Notempty),
                (false, Some(_)) => return Err(Errno::Isdir),
                _ => {}
            }
        }
        if source_is_dir && is_within(&new_parent, &source) {
            return Err(Errno::Inval);
        }
        let below = if source_is_dir { extent(&source) } else { 0 };
        let path_len = path_room(&new_parent, &new.name, below)?;
        // The only allocation, and the room a longer name needs, before the first change;
        // the old entry's charge then becomes the new one's.
        let name = EntryName::new(&new.name)?;
        let longer = entry_cost(&new.name).saturating_sub(entry_cost(&old.name));
        let extra = self.vfs.shared.space.charge(longer)?;
        let (_, mut charge) = remove_entry(&old_parent, &old.name, now)?;
        // A hard link's entry holds more than its name (see `HARD_LINK_COST`): keep it.
        let surplus = charge.bytes().saturating_sub(entry_cost(&old.name));
        charge.merge(extra);
        // Shrinking only: cannot fail.
        charge.resize(entry_cost(&new.name).saturating_add(surplus))?;
        if let Some(target) = target {
            remove_entry(&new_parent, &new.name, now)?;
            if target.borrow().is_dir() {
                detach_dir(&new_parent, &target, now);
            } else {
                drop_name(&target, now);
            }
        }
        add_entry(&new_parent, name, Rc::clone(&source), charge, now)?;
        {
            let mut node = source.borrow_mut();
            node.ctim = now;
            if let Some(dir) = node.as_dir_mut() {
                dir.parent = Rc::downgrade(&new_parent);
            }
        }
        if source_is_dir {
            set_path_lens(&source, path_len);
        }
        if source_is_dir {
            add_links(&old_parent, false);
            add_links(&new_parent, true);
        }
        Ok(())
    }

    /// `path_link`: makes `new_path` under `new_dir` another name of the inode at `old_path`
    /// (a final symlink is linked itself, not followed).
    pub fn link(
        &self,
        old_path: &[u8],
        new_dir: &DirHandle,
        new_path: &[u8],
        now: Timestamp,
    ) -> Result<()> {
        if !self.vfs.same(&new_dir.vfs) {
            return Err(Errno::Xdev);
        }
        validate(old_path)?;
        validate(new_path)?;
        let old = resolve_parent(&self.node, old_path)?;
        let source = if old.trailing_slash {
            old.follow(false)?
        } else {
            old.entry()?.ok_or(Errno::Noent)?
        };
        if source.borrow().is_dir() {
            return Err(Errno::Perm);
        }
        let new = resolve_parent(&new_dir.node, new_path)?;
        check_free_for_non_dir(&new)?;
        let dir = live_dir(&new)?;
        path_room(&dir, &new.name, 0)?;
        let name = EntryName::new(&new.name)?;
        let cost = entry_cost(&new.name).saturating_add(HARD_LINK_COST);
        let charge = self.vfs.shared.space.charge(cost)?;
        add_entry(&dir, name, Rc::clone(&source), charge, now)?;
        add_links(&source, true);
        source.borrow_mut().ctim = now;
        Ok(())
    }

    /// `path_symlink`: creates `path` as a symbolic link to `target`. Absolute targets could
    /// only ever point outside the sandbox, so they are refused (`ENOTCAPABLE`) as cap-std
    /// refuses them; an empty one is `ENOENT`, as Linux.
    pub fn symlink(&self, target: &[u8], path: &[u8], now: Timestamp) -> Result<()> {
        validate(target)?;
        self.symlink_unchecked(target, path, now)
    }

    fn symlink_unchecked(&self, target: &[u8], path: &[u8], now: Timestamp) -> Result<()> {
        validate(path)?;
        let parent = resolve_parent(&self.node, path)?;
        check_free_for_non_dir(&parent)?;
        let dir = live_dir(&parent)?;
        path_room(&dir, &parent.name, 0)?;
        let name = EntryName::new(&parent.name)?;
        let charge = self.vfs.entry_charge(&parent.name)?;
        let node = self.vfs.new_node(Kind::Symlink(copy(target)?), now)?;
        add_entry(&dir, name, node, charge, now)
    }

    /// Creates `path` as device `device` (the kernel makes `/dev/null` this way).
    pub fn make_device(&self, path: &[u8], device: Device, now: Timestamp) -> Result<()> {
        validate(path)?;
        let parent = resolve_parent(&self.node, path)?;
        check_free_for_non_dir(&parent)?;
        let dir = live_dir(&parent)?;
        let name = EntryName::new(&parent.name)?;
        let charge = self.vfs.entry_charge(&parent.name)?;
        let node = self.vfs.new_node(Kind::Device(device), now)?;
        add_entry(&dir, name, node, charge, now)
    }

    /// `path_readlink`: the target of the symbolic link at `path` (`EINVAL` if it is not one;
    /// `ENOMEM` if there is no memory for the copy).
    pub fn readlink(&self, path: &[u8]) -> Result<Vec<u8>> {
        validate(path)?;
        let node = resolve(&self.node, path, false)?;
        let node = node.borrow();
        node.symlink_target().ok_or(Errno::Inval).and_then(copy)
    }

    /// `path_filestat_get`.
    pub fn stat(&self, path: &[u8], follow: bool) -> Result<Filestat> {
        validate(path)?;
        Ok(resolve(&self.node, path, follow)?
            .borrow()
            .filestat(VFS_DEV))
    }

    /// `path_filestat_set_times`.
    pub fn set_times(
        &self,
        path: &[u8],
        follow: bool,
        times: SetTimes,
        now: Timestamp,
    ) -> Result<()> {
        validate(path)?;
        apply_times(&resolve(&self.node, path, follow)?, times, now);
        Ok(())
    }

    /// Calls `each(next_cookie, ino, filetype, name)` for the entries from `cookie` on: `.`
    /// (cookie 0), `..` (cookie 1), then the directory's entries in the order they were
    /// added; stops when `each` returns false.
    pub fn read_dir(&self, cookie: u64, mut each: impl FnMut(u64, u64, Filetype, &[u8]) -> bool) {
        let node = self.node.borrow();
        let Some(dir) = node.as_dir() else {
            return;
        };
        if cookie == 0 && !each(1, node.ino, Filetype::Directory, b".") {
            return;
        }
        if cookie <= 1 {
            let parent_ino = dir.parent.upgrade().map_or(node.ino, |p| p.borrow().ino);
            if !each(
                node::FIRST_ENTRY_COOKIE,
                parent_ino,
                Filetype::Directory,
                b"..",
            ) {
                return;
            }
        }
        for (next, name, child) in dir.entries_from(cookie.max(node::FIRST_ENTRY_COOKIE)) {
            let (ino, filetype) = {
                let child = child.borrow();
                (child.ino, child.filetype())
            };
            if !each(next, ino, filetype, name) {
                return;
            }
        }
    }
}
