//! The functions that act through a directory fd: `path_*` and `fd_readdir`.
//!
//! Each one finds the directory fd (`EBADF` if closed, `ENOTDIR` if it is not a directory)
//! and checks its rights (`ENOTCAPABLE`) before it reads a path from guest memory, then lets
//! the VFS resolve the path inside that directory. Paths are checked for bounds (a trap) but
//! are otherwise validated by the VFS (`EILSEQ`, `ENOENT`, `ENOTCAPABLE`...).

use alloc::boxed::Box;

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::fallible::infallible;
use crate::fdtable::{DIR_RIGHTS, FILE_RIGHTS, FIRST_FILE_FD, FdEntry};
use crate::memory::GuestMemory;
use crate::outcome::SysResult;
use crate::platform::Platform;
use crate::types::{Dirent, Fdflags, Filestat, Lookupflags, Oflags, Rights};
use crate::vfs::open::now;
use crate::vfs::{DirHandle, OpenDevice, OpenDir, OpenFile, OpenOptions, Opened};

use super::fd::times_to_set;

/// Size of a `dirent` header in a `fd_readdir` buffer.
const DIRENT_SIZE: usize = 24;

/// The directory behind `fd` and the fd's inheriting rights, once it has the `needed` rights.
fn dir_fd<P: Platform>(
    ctx: &WasiCtx<P>,
    fd: u32,
    needed: Rights,
) -> Result<(DirHandle, Rights), Errno> {
    let entry = ctx.fds.get(fd)?;
    let dir = entry.dir()?;
    entry.require_cap(needed)?;
    Ok((dir.dir.clone(), entry.rights_inheriting))
}

/// Decodes lookup flags (`EINVAL` for undefined bits) into whether to follow a final symlink.
fn follow(flags: u32) -> Result<bool, Errno> {
    let flags = Lookupflags::from_bits(flags).ok_or(Errno::Inval)?;
    Ok(flags.contains(Lookupflags::SYMLINK_FOLLOW))
}

/// Opens (or creates) a file or directory. The new fd's rights are the requested ones limited
/// to the directory's inheriting rights and to what its type supports; rights beyond those are
/// dropped silently, as wasmtime does. Needs `PATH_OPEN`, plus `PATH_CREATE_FILE` for
/// `CREAT` and `PATH_FILESTAT_SET_SIZE` for `TRUNC`.
#[allow(clippy::too_many_arguments, reason = "the witx signature")]
pub fn path_open<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    dirflags: u32,
    path: u32,
    path_len: u32,
    oflags: u32,
    fs_rights_base: u64,
    fs_rights_inheriting: u64,
    fdflags: u32,
    fd_out: u32,
) -> SysResult {
    let follow = follow(dirflags)?;
    let oflags = u16::try_from(oflags)
        .ok()
        .and_then(Oflags::from_bits)
        .ok_or(Errno::Inval)?;
    let fdflags = u16::try_from(fdflags)
        .ok()
        .and_then(Fdflags::from_bits)
        .ok_or(Errno::Inval)?;
    let directory = oflags.contains(Oflags::DIRECTORY);
    let create = oflags.contains(Oflags::CREAT);
    let exclusive = oflags.contains(Oflags::EXCL);
    let truncate = oflags.contains(Oflags::TRUNC);
    if directory && (create || exclusive || truncate) {
        // wasmtime refuses these combinations outright.
        return Err(Errno::Inval.into());
    }
    let mut needed = Rights::PATH_OPEN;
    if create {
        needed = needed | Rights::PATH_CREATE_FILE;
    }
    if truncate {
        needed = needed | Rights::PATH_FILESTAT_SET_SIZE;
    }
    let (dir, inheriting) = dir_fd(ctx, fd, needed)?;
    let path = mem.slice(path, path_len)?;
    mem.check::<u32>(fd_out)?;
    let requested = Rights(fs_rights_base);
    let options = OpenOptions {
        follow,
        create,
        exclusive,
        truncate,
        directory,
        write: requested.contains(Rights::FD_WRITE),
    };
    // Before anything is created or truncated: a full table is EMFILE, one that cannot
    // grow ENOMEM, and the insertion below cannot fail.
    ctx.fds.reserve_from(FIRST_FILE_FD, 1)?;
    let now = now(&mut ctx.platform);
    let allowed = |rights: Rights, applicable: Rights| {
        Rights(rights.bits() & inheriting.bits() & applicable.bits())
    };
    let rights_inheriting = allowed(Rights(fs_rights_inheriting), Rights::ALL);
    let mut entry = match dir.open(path, options, now)? {
        Opened::File(node) => {
            let file = OpenFile::new(node, fdflags.contains(Fdflags::APPEND));
            let file = infallible(|| Box::new(file));
            let mut entry = FdEntry::new(file, allowed(requested, FILE_RIGHTS));
            entry.rights_inheriting = rights_inheriting;
            entry
        }
        Opened::Device(node) => {
            let device = infallible(|| Box::new(OpenDevice::new(node)));
            let mut entry = FdEntry::new(device, allowed(requested, FILE_RIGHTS));
            entry.rights_inheriting = rights_inheriting;
            entry
        }
        Opened::Dir(handle) => FdEntry::directory(
            OpenDir {
                dir: handle,
                preopen: None,
            },
            allowed(requested, DIR_RIGHTS),
            rights_inheriting,
        ),
    };
    entry.flags = fdflags;
    let new_fd = ctx.fds.insert_from(FIRST_FILE_FD, entry)?;
    mem.write(fd_out, &new_fd)?;
    Ok(())
}

/// Lists directory entries from `cookie` into the buffer: each a 24-byte `dirent` followed
/// by its name, packed. When the buffer cannot hold the next entry whole, as much of it as
/// fits is copied and the buffer is reported full, which tells the program to call again with
/// a larger buffer (the witx's rule). Cookies stay valid while entries come and go.
pub fn fd_readdir<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    buf: u32,
    buf_len: u32,
    cookie: u64,
    bufused_out: u32,
) -> SysResult {
    let entry = ctx.fds.get(fd)?;
    let dir = entry.dir()?;
    entry.require_cap(Rights::FD_READDIR)?;
    mem.check::<u32>(bufused_out)?;
    let out = mem.slice_mut(buf, buf_len)?;
    let mut used = 0usize;
    dir.dir.read_dir(cookie, |next, ino, filetype, name| {
        let mut header = [0u8; DIRENT_SIZE];
        let dirent = Dirent {
            next,
            ino,
            namlen: u32::try_from(name.len()).unwrap_or(u32::MAX),
            filetype,
        };
        if GuestMemory::new(&mut header).write(0, &dirent).is_err() {
            return false;
        }
        for piece in [&header[..], name] {
            let room = out.len().saturating_sub(used);
            let take = piece.len().min(room);
            let end = used.saturating_add(take);
            if let (Some(dst), Some(src)) = (out.get_mut(used..end), piece.get(..take)) {
                dst.copy_from_slice(src);
            }
            used = end;
            if take < piece.len() {
                return false;
            }
        }
        true
    });
    let used = u32::try_from(used).unwrap_or(buf_len);
    mem.write(bufused_out, &used)?;
    Ok(())
}

/// Creates a directory.
pub fn path_create_directory<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    path: u32,
    path_len: u32,
) -> SysResult {
    let (dir, _) = dir_fd(ctx, fd, Rights::PATH_CREATE_DIRECTORY)?;
    let path = mem.slice(path, path_len)?;
    dir.create_dir(path, now(&mut ctx.platform))?;
    Ok(())
}

/// Stores the attributes of the inode at `path`, following a final symlink if `flags` says.
pub fn path_filestat_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    flags: u32,
    path: u32,
    path_len: u32,
    filestat_out: u32,
) -> SysResult {
    let follow = follow(flags)?;
    let (dir, _) = dir_fd(ctx, fd, Rights::PATH_FILESTAT_GET)?;
    let path = mem.slice(path, path_len)?;
    mem.check::<Filestat>(filestat_out)?;
    let stat = dir.stat(path, follow)?;
    mem.write(filestat_out, &stat)?;
    Ok(())
}

/// Sets the access and/or modification time of the inode at `path`.
#[allow(clippy::too_many_arguments, reason = "the witx signature")]
pub fn path_filestat_set_times<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    flags: u32,
    path: u32,
    path_len: u32,
    atim: u64,
    mtim: u64,
    fst_flags: u32,
) -> SysResult {
    let follow = follow(flags)?;
    let now = now(&mut ctx.platform);
    let times = times_to_set(atim, mtim, fst_flags, now)?;
    let (dir, _) = dir_fd(ctx, fd, Rights::PATH_FILESTAT_SET_TIMES)?;
    let path = mem.slice(path, path_len)?;
    dir.set_times(path, follow, times, now)?;
    Ok(())
}

/// Makes a hard link. Following a final symlink of the source is `EINVAL`, as wasmtime.
#[allow(clippy::too_many_arguments, reason = "the witx signature")]
pub fn path_link<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    old_fd: u32,
    old_flags: u32,
    old_path: u32,
    old_path_len: u32,
    new_fd: u32,
    new_path: u32,
    new_path_len: u32,
) -> SysResult {
    if follow(old_flags)? {
        return Err(Errno::Inval.into());
    }
    let (source, _) = dir_fd(ctx, old_fd, Rights::PATH_LINK_SOURCE)?;
    let (target, _) = dir_fd(ctx, new_fd, Rights::PATH_LINK_TARGET)?;
    let old_path = mem.slice(old_path, old_path_len)?;
    let new_path = mem.slice(new_path, new_path_len)?;
    source.link(old_path, &target, new_path, now(&mut ctx.platform))?;
    Ok(())
}

/// Copies the target of the symlink at `path` into the buffer, truncated to its length as
/// wasmtime does, and stores how many bytes were copied.
#[allow(clippy::too_many_arguments, reason = "the witx signature")]
pub fn path_readlink<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    path: u32,
    path_len: u32,
    buf: u32,
    buf_len: u32,
    bufused_out: u32,
) -> SysResult {
    let (dir, _) = dir_fd(ctx, fd, Rights::PATH_READLINK)?;
    let path = mem.slice(path, path_len)?;
    mem.slice(buf, buf_len)?;
    mem.check::<u32>(bufused_out)?;
    let target = dir.readlink(path)?;
    let len = usize::try_from(buf_len).map_or(target.len(), |len| len.min(target.len()));
    let copied = target.get(..len).unwrap_or_default();
    mem.write_bytes(buf, copied)?;
    let used = u32::try_from(copied.len()).map_err(|_| Errno::Overflow)?;
    mem.write(bufused_out, &used)?;
    Ok(())
}

/// Removes an empty directory.
pub fn path_remove_directory<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    path: u32,
    path_len: u32,
) -> SysResult {
    let (dir, _) = dir_fd(ctx, fd, Rights::PATH_REMOVE_DIRECTORY)?;
    let path = mem.slice(path, path_len)?;
    dir.remove_dir(path, now(&mut ctx.platform))?;
    Ok(())
}

/// Renames a file or directory, possibly between two directory fds.
#[allow(clippy::too_many_arguments, reason = "the witx signature")]
pub fn path_rename<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    old_path: u32,
    old_path_len: u32,
    new_fd: u32,
    new_path: u32,
    new_path_len: u32,
) -> SysResult {
    let (source, _) = dir_fd(ctx, fd, Rights::PATH_RENAME_SOURCE)?;
    let (target, _) = dir_fd(ctx, new_fd, Rights::PATH_RENAME_TARGET)?;
    let old_path = mem.slice(old_path, old_path_len)?;
    let new_path = mem.slice(new_path, new_path_len)?;
    source.rename(old_path, &target, new_path, now(&mut ctx.platform))?;
    Ok(())
}

/// Creates a symlink at `new_path` whose target is `old_path`.
pub fn path_symlink<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    old_path: u32,
    old_path_len: u32,
    fd: u32,
    new_path: u32,
    new_path_len: u32,
) -> SysResult {
    let (dir, _) = dir_fd(ctx, fd, Rights::PATH_SYMLINK)?;
    let target = mem.slice(old_path, old_path_len)?;
    let path = mem.slice(new_path, new_path_len)?;
    dir.symlink(target, path, now(&mut ctx.platform))?;
    Ok(())
}

/// Removes a name of a file or symlink; a directory is `EISDIR`.
pub fn path_unlink_file<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    path: u32,
    path_len: u32,
) -> SysResult {
    let (dir, _) = dir_fd(ctx, fd, Rights::PATH_UNLINK_FILE)?;
    let path = mem.slice(path, path_len)?;
    dir.unlink_file(path, now(&mut ctx.platform))?;
    Ok(())
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn dirent_header_size_matches_the_type() {
        use crate::memory::GuestType;
        assert_eq!(DIRENT_SIZE, Dirent::SIZE as usize);
    }
}
