//! Inodes: directories, regular files and symbolic links, with their attributes.
//!
//! Each inode is an `Rc<RefCell<Node>>`. A directory owns strong references to its entries;
//! an open fd owns one to its inode, which is how an unlinked file stays readable until its
//! last fd closes. A directory points back to its parent with a `Weak`, so the tree has no
//! reference cycles and a removed subtree is freed. Borrows are taken for one operation and
//! released before any other inode is borrowed, except where two distinct inodes are involved
//! and the code has checked they differ.

use alloc::collections::BTreeMap;
use alloc::rc::{Rc, Weak};
use alloc::vec::Vec;
use core::cell::RefCell;

use super::data::FileData;
use crate::budget::Charge;
use crate::errno::Result;
use crate::fallible::{copy, infallible};
use crate::types::{Filestat, Filetype, Timestamp};

/// A shared inode.
pub type NodeRef = Rc<RefCell<Node>>;

/// Default mode bits of new regular files and symlinks (`rw-r--r--`); preview1 has no
/// permissions, the kernel keeps them only to write a tree back to a host.
pub const DEFAULT_FILE_MODE: u32 = 0o644;
/// Default mode bits of new directories (`rwxr-xr-x`).
pub const DEFAULT_DIR_MODE: u32 = 0o755;
/// Directory cookie of the first real entry; 0 and 1 are `.` and `..`.
pub const FIRST_ENTRY_COOKIE: u64 = 2;
/// What an inode is charged to the file system's size, besides a symlink's target: its
/// allocation (`Node` in its `Rc<RefCell<_>>`) with the allocator's overhead, rounded up.
pub const INODE_COST: u64 = 256;
/// What a directory's inode is charged: a directory's first entry makes a leaf in each of
/// its two indexes (room for eleven entries each), so even an almost empty one holds
/// about this much (measured: a chain of directories one inside the other takes about
/// 1.2 KiB of kernel heap per level).
pub const DIR_INODE_COST: u64 = 1024;

/// What an inode of type `filetype` and size `size` is charged, besides its file data.
pub fn inode_cost(filetype: Filetype, size: u64) -> u64 {
    match filetype {
        Filetype::Directory => DIR_INODE_COST,
        Filetype::SymbolicLink => INODE_COST.saturating_add(size),
        _ => INODE_COST,
    }
}
/// What a directory entry is charged besides twice its name (a directory keeps the name in
/// its by-name and its by-cookie index): both index entries and their share of the trees'
/// nodes, rounded up.
pub const ENTRY_COST: u64 = 160;

/// What a hard link's entry (`path_link`) is charged beyond [`entry_cost`]: the write-back
/// archive holds it with two paths (its own and the first name's), each up to 4 KiB, and
/// the file system's size must bound the archive (about 16 bytes of archive per byte
/// charged, the write-back disk's ratio).
pub const HARD_LINK_COST: u64 = 1024;

/// What the entry `name` is charged.
pub fn entry_cost(name: &[u8]) -> u64 {
    (name.len() as u64)
        .saturating_mul(2)
        .saturating_add(ENTRY_COST)
}

/// One inode.
pub struct Node {
    /// Inode number, unique within its [`Vfs`](super::Vfs).
    pub ino: u64,
    /// Number of directory entries naming it (for a directory: its entry in the parent, its
    /// own `.`, and each subdirectory's `..`, as in POSIX). 0 once removed.
    pub nlink: u64,
    /// Last access time, ns since the Unix epoch.
    pub atim: Timestamp,
    /// Last data modification time.
    pub mtim: Timestamp,
    /// Last status change time.
    pub ctim: Timestamp,
    /// Unix permission bits, kept for writing the tree back to a host.
    pub mode: u32,
    /// What it is.
    pub kind: Kind,
    /// Its share of the file system's size ([`INODE_COST`] and a symlink's target; file data
    /// is charged by [`FileData`]).
    _charge: Charge,
}

/// The kinds of inode.
pub enum Kind {
    /// A regular file and its data.
    File(FileData),
    /// A directory and its entries.
    Dir(Dir),
    /// A symbolic link and its target, as bytes.
    Symlink(Vec<u8>),
    /// A character device the kernel provides (`/dev/null`).
    Device(Device),
}

/// The devices an inode can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// Reads end at once, writes go nowhere.
    Null,
}

/// One directory entry: its readdir cookie position, the inode it names, and its share of
/// the file system's size ([`entry_cost`]).
struct Entry {
    seq: u64,
    node: NodeRef,
    _charge: Charge,
}

/// The name of an entry about to be added, copied twice (a directory keeps it in its name
/// map and its cookie map) before anything changes, so that running out of memory for it
/// is `ENOMEM` while the tree is still as it was.
pub struct EntryName {
    key: Vec<u8>,
    in_order: Vec<u8>,
}

impl EntryName {
    /// The copies of `name`, or `ENOMEM`.
    pub fn new(name: &[u8]) -> Result<Self> {
        Ok(EntryName {
            key: copy(name)?,
            in_order: copy(name)?,
        })
    }
}

/// A directory's entries. Each entry gets a sequence number when it is added, and readdir
/// cookies are those numbers, so a listing resumed with a cookie neither repeats nor skips
/// entries that were there all along, whatever was added or removed in between.
pub struct Dir {
    entries: BTreeMap<Vec<u8>, Entry>,
    order: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
    /// The directory holding this one; dangling for the root and for removed directories.
    pub parent: Weak<RefCell<Node>>,
    /// Set by `rmdir`: nothing may be created in it any more (`ENOENT`, as Linux).
    pub removed: bool,
    /// Length of its path from the file system's root (0 for the root).
    pub path_len: usize,
}

impl Dir {
    /// An empty directory under `parent`, whose path from the root is `path_len` long.
    pub fn new(parent: Weak<RefCell<Node>>, path_len: usize) -> Self {
        Dir {
            entries: BTreeMap::new(),
            order: BTreeMap::new(),
            next_seq: FIRST_ENTRY_COOKIE,
            parent,
            removed: false,
            path_len,
        }
    }

    /// Length of the path from the root of its entry `name`.
    pub fn path_len_of(&self, name: &[u8]) -> usize {
        match self.path_len {
            0 => name.len(),
            len => len.saturating_add(1).saturating_add(name.len()),
        }
    }

    /// The inode named `name`, if any.
    pub fn get(&self, name: &[u8]) -> Option<NodeRef> {
        self.entries.get(name).map(|entry| Rc::clone(&entry.node))
    }

    /// Adds (or replaces) the entry `name`, which holds `charge` (see [`entry_cost`]). The
    /// maps' nodes are the only allocations left (fixed-size, one per few entries, and
    /// entries are bounded by the file system's size).
    pub fn insert(&mut self, name: EntryName, node: NodeRef, charge: Charge) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        let EntryName { key, in_order } = name;
        let entry = Entry {
            seq,
            node,
            _charge: charge,
        };
        let old = infallible(|| self.entries.insert(key, entry));
        if let Some(old) = old {
            self.order.remove(&old.seq);
        }
        infallible(|| self.order.insert(seq, in_order));
    }

    /// Removes the entry `name`, returning its inode and what the entry held of the file
    /// system (given back when dropped).
    pub fn remove(&mut self, name: &[u8]) -> Option<(NodeRef, Charge)> {
        let entry = self.entries.remove(name)?;
        self.order.remove(&entry.seq);
        Some((entry.node, entry._charge))
    }

    /// Whether it has no entries besides `.` and `..`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of entries besides `.` and `..`.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries from cookie `cookie` on, in cookie order, each with the cookie of the entry
    /// after it.
    pub fn entries_from(&self, cookie: u64) -> impl Iterator<Item = (u64, &[u8], &NodeRef)> {
        self.order.range(cookie..).filter_map(|(seq, name)| {
            let entry = self.entries.get(name)?;
            Some((seq.saturating_add(1), name.as_slice(), &entry.node))
        })
    }

    /// The first entry whose name sorts after `name` (the first of all for `None`): a cursor
    /// for walking a directory that stays valid whatever is added or removed meanwhile.
    pub fn entry_after(&self, name: Option<&[u8]>) -> Option<(&[u8], &NodeRef)> {
        use core::ops::Bound::{Excluded, Unbounded};
        let start = name.map_or(Unbounded, Excluded);
        self.entries
            .range::<[u8], _>((start, Unbounded))
            .next()
            .map(|(name, entry)| (name.as_slice(), &entry.node))
    }

    /// Names and inodes, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &NodeRef)> {
        self.entries
            .iter()
            .map(|(name, entry)| (name.as_slice(), &entry.node))
    }
}

impl Drop for Dir {
    /// Frees the subtree iteratively: the default recursive drop would use one native stack
    /// frame per level, and a guest can build a directory chain far deeper than the kernel
    /// stack.
    fn drop(&mut self) {
        let mut pending: Vec<NodeRef> = core::mem::take(&mut self.entries)
            .into_values()
            .map(|entry| entry.node)
            .collect();
        while let Some(node) = pending.pop() {
            // Only the last reference frees the inode; an fd may keep it alive.
            if let Ok(cell) = Rc::try_unwrap(node)
                && let Kind::Dir(mut dir) = cell.into_inner().kind
            {
                pending.extend(
                    core::mem::take(&mut dir.entries)
                        .into_values()
                        .map(|entry| entry.node),
                );
            }
        }
    }
}

impl Node {
    /// A new inode with every time set to `now`, holding `charge` of the file system.
    pub fn new(ino: u64, kind: Kind, now: Timestamp, charge: Charge) -> Self {
        let (nlink, mode) = match kind {
            Kind::Dir(_) => (2, DEFAULT_DIR_MODE),
            _ => (1, DEFAULT_FILE_MODE),
        };
        Node {
            ino,
            nlink,
            atim: now,
            mtim: now,
            ctim: now,
            mode,
            kind,
            _charge: charge,
        }
    }

    /// Its preview1 file type.
    pub fn filetype(&self) -> Filetype {
        match self.kind {
            Kind::File(_) => Filetype::RegularFile,
            Kind::Dir(_) => Filetype::Directory,
            Kind::Symlink(_) => Filetype::SymbolicLink,
            Kind::Device(_) => Filetype::CharacterDevice,
        }
    }

    /// Size in bytes: file length, symlink target length, or (as a cheap stand-in for the
    /// block size Linux reports) the number of entries of a directory.
    pub fn size(&self) -> u64 {
        match &self.kind {
            Kind::File(data) => data.size(),
            Kind::Dir(dir) => dir.len() as u64,
            Kind::Symlink(target) => target.len() as u64,
            Kind::Device(_) => 0,
        }
    }

    /// Its attributes as `fd_filestat_get` reports them, on device `dev`.
    pub fn filestat(&self, dev: u64) -> Filestat {
        Filestat {
            dev,
            ino: self.ino,
            filetype: self.filetype(),
            nlink: self.nlink,
            size: self.size(),
            atim: self.atim,
            mtim: self.mtim,
            ctim: self.ctim,
        }
    }

    /// The directory, if it is one.
    pub fn as_dir(&self) -> Option<&Dir> {
        match &self.kind {
            Kind::Dir(dir) => Some(dir),
            _ => None,
        }
    }

    /// The directory, writable, if it is one.
    pub fn as_dir_mut(&mut self) -> Option<&mut Dir> {
        match &mut self.kind {
            Kind::Dir(dir) => Some(dir),
            _ => None,
        }
    }

    /// The file data, if it is a regular file.
    pub fn as_file(&self) -> Option<&FileData> {
        match &self.kind {
            Kind::File(data) => Some(data),
            _ => None,
        }
    }

    /// The file data, writable, if it is a regular file.
    pub fn as_file_mut(&mut self) -> Option<&mut FileData> {
        match &mut self.kind {
            Kind::File(data) => Some(data),
            _ => None,
        }
    }

    /// The target, if it is a symbolic link.
    pub fn symlink_target(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Symlink(target) => Some(target),
            _ => None,
        }
    }

    /// The device, if it is one.
    pub fn device(&self) -> Option<Device> {
        match self.kind {
            Kind::Device(device) => Some(device),
            _ => None,
        }
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir(_))
    }

    /// Whether it is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        matches!(self.kind, Kind::Symlink(_))
    }
}
