//! Path resolution confined to a directory.
//!
//! A lookup starts at a directory (the one a directory fd names) and may never leave it: the
//! directories it passes through are kept on a stack, `..` pops that stack, and popping the
//! starting directory is `ENOTCAPABLE`, as is an absolute path or an absolute symlink target.
//! This is cap-std's model, which wasmtime uses: every directory fd is a sandbox root of its
//! own. (wasmtime reports escapes as `EPERM` through cap-std; the WASI testsuite accepts
//! either, and `ENOTCAPABLE` is the errno preview1 defines for it.)
//!
//! Paths are bytes; they must be UTF-8 (`EILSEQ` otherwise, as wasi-common reads them as
//! `str`). A NUL inside a path is also `EILSEQ`: wasmtime hands the path to the host, whose
//! C-string conversion fails with `InvalidInput`, which wasi-common maps to `EILSEQ`.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec::Vec;

use super::node::NodeRef;
use crate::errno::{Errno, Result};
use crate::fallible::{copy, push, reserve, reserve_queue};

/// Symbolic links followed in one lookup before giving up with `ELOOP` (Linux's
/// `MAXSYMLINKS`).
pub const MAX_SYMLINK_HOPS: u32 = 40;
/// Longest path accepted, with its terminator in C (Linux's `PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// Longest file name (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;

const SEPARATOR: u8 = b'/';
const DOT: &[u8] = b".";
const DOT_DOT: &[u8] = b"..";

/// Checks a path given by the program: UTF-8 without NUL (`EILSEQ`), not empty (`ENOENT`),
/// not too long (`ENAMETOOLONG`), relative (`ENOTCAPABLE`).
pub fn validate(path: &[u8]) -> Result<()> {
    core::str::from_utf8(path).map_err(|_| Errno::Ilseq)?;
    if path.contains(&0) {
        return Err(Errno::Ilseq);
    }
    if path.is_empty() {
        return Err(Errno::Noent);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::Nametoolong);
    }
    if path.first() == Some(&SEPARATOR) {
        return Err(Errno::Notcapable);
    }
    Ok(())
}

/// The non-empty components of a path, and whether it ends with a slash, with room for
/// one more component (the `.` a trailing slash or [`resolve_parent`] adds).
/// `ENAMETOOLONG` for a component longer than [`NAME_MAX`]; `ENOMEM` when the copies do not
/// fit in memory.
fn components(path: &[u8]) -> Result<(VecDeque<Vec<u8>>, bool)> {
    let pieces = || {
        path.split(|byte| *byte == SEPARATOR)
            .filter(|component| !component.is_empty())
    };
    if pieces().any(|component| component.len() > NAME_MAX) {
        return Err(Errno::Nametoolong);
    }
    let mut out = VecDeque::new();
    reserve_queue(&mut out, pieces().count().saturating_add(1))?;
    for component in pieces() {
        out.push_back(copy(component)?);
    }
    let trailing = path.last() == Some(&SEPARATOR);
    Ok((out, trailing))
}

/// A path's components as [`components`] gives them, plus a final `.` when `dot` (which
/// makes a lookup end in a directory).
fn components_then_dot(path: &[u8], dot: bool) -> Result<(VecDeque<Vec<u8>>, bool)> {
    let (mut queue, trailing) = components(path)?;
    if dot {
        queue.push_back(copy(DOT)?);
    }
    Ok((queue, trailing))
}

/// Whether a final component is `.` or `..`, which name no entry of their own: operations
/// that create or remove an entry refuse them.
pub fn is_dot_or_dot_dot(name: &[u8]) -> bool {
    name == DOT || name == DOT_DOT
}

/// A lookup in progress: the directories passed through, the first being the sandbox root,
/// and the symlink hops used so far.
struct Walk {
    stack: Vec<NodeRef>,
    hops: u32,
}

impl Walk {
    fn new(stack: Vec<NodeRef>) -> Self {
        Walk { stack, hops: 0 }
    }

    /// A lookup starting at `start`, or `ENOMEM`.
    fn from(start: &NodeRef) -> Result<Self> {
        let mut stack = Vec::new();
        push(&mut stack, Rc::clone(start))?;
        Ok(Walk::new(stack))
    }

    /// Consumes `queue` component by component and returns the inode it ends at. A final
    /// symlink is followed only if `follow_last`; every other one always is. Afterwards the
    /// stack holds the directories leading to that inode (its parent on top, or the inode
    /// itself if the path ended in `.` or `..`).
    fn run(&mut self, mut queue: VecDeque<Vec<u8>>, follow_last: bool) -> Result<NodeRef> {
        let mut current = self.stack.last().cloned().ok_or(Errno::Noent)?;
        while let Some(component) = queue.pop_front() {
            let top = self.stack.last().cloned().ok_or(Errno::Noent)?;
            let is_last = queue.is_empty();
            let child = {
                let node = top.borrow();
                let dir = node.as_dir().ok_or(Errno::Notdir)?;
                if component == DOT {
                    current = Rc::clone(&top);
                    continue;
                }
                if component == DOT_DOT {
                    None
                } else {
                    Some(dir.get(&component).ok_or(Errno::Noent)?)
                }
            };
            let Some(child) = child else {
                if self.stack.len() <= 1 {
                    return Err(Errno::Notcapable);
                }
                self.stack.pop();
                current = self.stack.last().cloned().ok_or(Errno::Noent)?;
                continue;
            };
            let target = child.borrow().symlink_target().map(copy).transpose()?;
            if let Some(target) = target
                && (!is_last || follow_last)
            {
                self.hops = self.hops.saturating_add(1);
                if self.hops > MAX_SYMLINK_HOPS {
                    return Err(Errno::Loop);
                }
                if target.is_empty() {
                    return Err(Errno::Noent);
                }
                if target.first() == Some(&SEPARATOR) {
                    return Err(Errno::Notcapable);
                }
                let trailing = target.last() == Some(&SEPARATOR);
                let (mut expanded, _) = components_then_dot(&target, trailing)?;
                // All the room first, so that a failure leaves no half-expanded queue.
                reserve_queue(&mut queue, expanded.len())?;
                while let Some(component) = expanded.pop_back() {
                    queue.push_front(component);
                }
                // The target is resolved from the directory holding the link.
                current = Rc::clone(&top);
                continue;
            }
            if is_last {
                return Ok(child);
            }
            push(&mut self.stack, Rc::clone(&child))?;
            current = child;
        }
        Ok(current)
    }
}

/// Resolves `path` from `start` to the inode it names, following a final symlink only if
/// `follow`. A trailing slash requires a directory (following a final symlink to find it).
/// The path must have passed [`validate`].
pub fn resolve(start: &NodeRef, path: &[u8], follow: bool) -> Result<NodeRef> {
    let (queue, _) = components_then_dot(path, path.last() == Some(&SEPARATOR))?;
    Walk::from(start)?.run(queue, follow)
}

/// The directory that would hold the entry `path` names, and that entry's name.
pub struct Parent {
    /// Directories from the sandbox root down to the parent (on top).
    stack: Vec<NodeRef>,
    /// The last component; may be `.` or `..`.
    pub name: Vec<u8>,
    /// Whether the path ended with a slash.
    pub trailing_slash: bool,
}

impl Parent {
    /// The parent directory.
    pub fn dir(&self) -> Result<NodeRef> {
        self.stack.last().cloned().ok_or(Errno::Noent)
    }

    /// Whether the last component is `.` or `..`.
    pub fn is_dot(&self) -> bool {
        is_dot_or_dot_dot(&self.name)
    }

    /// The inode the last component names right now, not following a final symlink and
    /// ignoring a trailing slash; `None` if there is no such entry. `.` and `..` name the
    /// parent and its parent.
    pub fn entry(&self) -> Result<Option<NodeRef>> {
        if self.is_dot() {
            return self.follow(false).map(Some);
        }
        let dir = self.dir()?;
        let node = dir.borrow();
        Ok(node.as_dir().ok_or(Errno::Notdir)?.get(&self.name))
    }

    /// Resolves the last component as [`resolve`] would: following a final symlink if
    /// `follow` (or if the path had a trailing slash, which also requires a directory).
    pub fn follow(&self, follow: bool) -> Result<NodeRef> {
        let mut queue = VecDeque::new();
        reserve_queue(&mut queue, 2)?;
        queue.push_back(copy(&self.name)?);
        if self.trailing_slash {
            queue.push_back(copy(DOT)?);
        }
        let mut stack = Vec::new();
        reserve(&mut stack, self.stack.len())?;
        stack.extend(self.stack.iter().cloned());
        Walk::new(stack).run(queue, follow)
    }
}

/// Resolves all of `path` but its last component, which must exist as a directory; every
/// symlink on the way is followed. The path must have passed [`validate`].
pub fn resolve_parent(start: &NodeRef, path: &[u8]) -> Result<Parent> {
    let (mut queue, trailing_slash) = components(path)?;
    let name = queue.pop_back().ok_or(Errno::Noent)?;
    queue.push_back(copy(DOT)?);
    let mut walk = Walk::from(start)?;
    let dir = walk.run(queue, true)?;
    if !dir.borrow().is_dir() {
        return Err(Errno::Notdir);
    }
    Ok(Parent {
        stack: walk.stack,
        name,
        trailing_slash,
    })
}
