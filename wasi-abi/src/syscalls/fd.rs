//! The `fd_*` functions that work on any open descriptor: reading and writing through iovecs,
//! attributes, flags and rights, seeking, closing and renumbering.
//!
//! Each checks its arguments and the fd (and the fd's rights) before it touches guest memory,
//! and checks every guest region it will use before it has any side effect, so that a bad
//! pointer traps without half an operation done.

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::memory::{GuestArray, GuestMemory};
use crate::outcome::SysResult;
use crate::platform::Platform;
use crate::types::{Advice, Fdflags, Fdstat, Filesize, Iovec, Rights, Whence};

/// Flags `fd_fdstat_set_flags` refuses with `EINVAL`, as wasmtime does: synchronized I/O
/// can only be asked for at open time.
const FIXED_FDFLAGS: Fdflags = Fdflags::DSYNC.union(Fdflags::RSYNC).union(Fdflags::SYNC);

/// Checks an iovec array and every buffer it points to. The buffers' total length must fit
/// the `u32` result (`EINVAL` otherwise, as `readv`/`writev` on Linux when it overflows).
fn checked_iovecs(mem: &GuestMemory<'_>, iovs: u32, iovs_len: u32) -> SysResult<GuestArray<Iovec>> {
    let array = mem.array::<Iovec>(iovs, iovs_len)?;
    let mut total: u32 = 0;
    for ptr in array.ptrs() {
        let iovec = mem.read::<Iovec>(ptr)?;
        mem.slice(iovec.buf, iovec.buf_len)?;
        total = total.checked_add(iovec.buf_len).ok_or(Errno::Inval)?;
    }
    Ok(array)
}

/// Length reported by a read or write, bounded by the buffer it went to.
fn count(done: usize, len: u32) -> u32 {
    u32::try_from(done).map_or(len, |done| done.min(len))
}

/// Writes the iovecs' contents to `fd` in order; stores the number of bytes written.
pub fn fd_write<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    nwritten_out: u32,
) -> SysResult {
    let entry = ctx.fds.get_mut(fd)?;
    entry.require(Rights::FD_WRITE)?;
    let array = checked_iovecs(mem, iovs, iovs_len)?;
    mem.check::<u32>(nwritten_out)?;
    let mut total: u32 = 0;
    for ptr in array.ptrs() {
        let iovec = mem.read::<Iovec>(ptr)?;
        if iovec.buf_len == 0 {
            continue;
        }
        let data = mem.slice(iovec.buf, iovec.buf_len)?;
        match entry.file.write(&mut ctx.platform, data) {
            Ok(done) => {
                let done = count(done, iovec.buf_len);
                total = total.saturating_add(done);
                if done < iovec.buf_len {
                    break;
                }
            }
            // An error after some data went out is reported by the next call, as `writev` does.
            Err(errno) if total == 0 => return Err(errno.into()),
            Err(_) => break,
        }
    }
    mem.write(nwritten_out, &total)?;
    Ok(())
}

/// Reads from `fd` into the iovecs in order; stores the number of bytes read (0 at end of
/// file). Only the first read may block: once data has arrived, the call returns what is
/// available, like `readv`.
pub fn fd_read<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    nread_out: u32,
) -> SysResult {
    let entry = ctx.fds.get_mut(fd)?;
    entry.require(Rights::FD_READ)?;
    let nonblocking = entry.flags.contains(Fdflags::NONBLOCK);
    let array = checked_iovecs(mem, iovs, iovs_len)?;
    mem.check::<u32>(nread_out)?;
    let mut total: u32 = 0;
    let mut first = true;
    for ptr in array.ptrs() {
        let iovec = mem.read::<Iovec>(ptr)?;
        if iovec.buf_len == 0 {
            continue;
        }
        let buf = mem.slice_mut(iovec.buf, iovec.buf_len)?;
        let result = entry
            .file
            .read(&mut ctx.platform, buf, nonblocking || !first);
        let was_first = core::mem::replace(&mut first, false);
        match result {
            Ok(done) => {
                let done = count(done, iovec.buf_len);
                total = total.saturating_add(done);
                if done < iovec.buf_len {
                    break;
                }
            }
            Err(errno) if was_first => return Err(errno.into()),
            Err(_) => break,
        }
    }
    mem.write(nread_out, &total)?;
    Ok(())
}

/// Stores the fd's file type, flags and rights.
pub fn fd_fdstat_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    stat_out: u32,
) -> SysResult {
    let entry = ctx.fds.get(fd)?;
    let stat = Fdstat {
        filetype: entry.file.filetype(),
        flags: entry.flags,
        rights_base: entry.rights_base,
        rights_inheriting: entry.rights_inheriting,
    };
    mem.write(stat_out, &stat)?;
    Ok(())
}

/// Sets the fd's `APPEND` and `NONBLOCK` flags. Undefined bits and the synchronized-I/O flags
/// are `EINVAL`.
pub fn fd_fdstat_set_flags<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    flags: u32,
) -> SysResult {
    let flags = u16::try_from(flags)
        .ok()
        .and_then(Fdflags::from_bits)
        .ok_or(Errno::Inval)?;
    let entry = ctx.fds.get_mut(fd)?;
    if flags.difference(FIXED_FDFLAGS) != flags {
        return Err(Errno::Inval.into());
    }
    entry.flags = flags;
    Ok(())
}

/// Narrows the fd's rights. Asking for a right it does not have is `ENOTCAPABLE`, as the witx
/// (and wasmtime before it dropped rights) specify.
pub fn fd_fdstat_set_rights<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    fs_rights_base: u64,
    fs_rights_inheriting: u64,
) -> SysResult {
    let entry = ctx.fds.get_mut(fd)?;
    let base = Rights(fs_rights_base);
    let inheriting = Rights(fs_rights_inheriting);
    if !entry.rights_base.contains(base) || !entry.rights_inheriting.contains(inheriting) {
        return Err(Errno::Notcapable.into());
    }
    entry.rights_base = base;
    entry.rights_inheriting = inheriting;
    Ok(())
}

/// Stores the attributes of the fd's file.
pub fn fd_filestat_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    filestat_out: u32,
) -> SysResult {
    let stat = ctx.fds.get(fd)?.file.filestat()?;
    mem.write(filestat_out, &stat)?;
    Ok(())
}

/// Moves the fd's offset and stores the new one; streams are `ESPIPE`.
pub fn fd_seek<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    offset: i64,
    whence: u32,
    newoffset_out: u32,
) -> SysResult {
    let whence = u8::try_from(whence)
        .ok()
        .and_then(Whence::from_raw)
        .ok_or(Errno::Inval)?;
    let entry = ctx.fds.get_mut(fd)?;
    mem.check::<Filesize>(newoffset_out)?;
    let position = entry.file.seek(offset, whence)?;
    mem.write(newoffset_out, &position)?;
    Ok(())
}

/// Stores the fd's offset; streams are `ESPIPE`.
pub fn fd_tell<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    offset_out: u32,
) -> SysResult {
    let position = ctx.fds.get(fd)?.file.tell()?;
    mem.write(offset_out, &position)?;
    Ok(())
}

/// Closes the fd; stdio can be closed like any other.
pub fn fd_close<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
) -> SysResult {
    ctx.fds.remove(fd)?;
    Ok(())
}

/// Moves `fd` to number `to`, closing what `to` held; both must be open.
pub fn fd_renumber<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    to: u32,
) -> SysResult {
    ctx.fds.renumber(fd, to)?;
    Ok(())
}

/// Describes a preopened directory. There are none yet, so every open fd is `EBADF`, which is
/// also how wasi-libc learns where the preopens end.
pub fn fd_prestat_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    _prestat_out: u32,
) -> SysResult {
    ctx.fds.get(fd)?;
    Err(Errno::Badf.into())
}

/// Copies a preopened directory's name. An open fd that is not a preopen is `ENOTDIR`, a
/// closed one `EBADF`, as wasmtime answers.
pub fn fd_prestat_dir_name<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    _path: u32,
    _path_len: u32,
) -> SysResult {
    ctx.fds.get(fd)?;
    Err(Errno::Notdir.into())
}

/// Declares an access pattern; `EBADF` on stdio, as wasmtime answers.
pub fn fd_advise<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    offset: u64,
    len: u64,
    advice: u32,
) -> SysResult {
    let advice = u8::try_from(advice)
        .ok()
        .and_then(Advice::from_raw)
        .ok_or(Errno::Inval)?;
    ctx.fds.get_mut(fd)?.file.advise(offset, len, advice)?;
    Ok(())
}

/// Reserves file space; `EBADF` on stdio, as wasmtime answers.
pub fn fd_allocate<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    offset: u64,
    len: u64,
) -> SysResult {
    ctx.fds.get_mut(fd)?.file.allocate(offset, len)?;
    Ok(())
}

/// Flushes data and metadata; `EBADF` on stdio, as wasmtime answers.
pub fn fd_sync<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
) -> SysResult {
    ctx.fds.get_mut(fd)?.file.sync()?;
    Ok(())
}

/// Flushes data; `EBADF` on stdio, as wasmtime answers.
pub fn fd_datasync<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
) -> SysResult {
    ctx.fds.get_mut(fd)?.file.datasync()?;
    Ok(())
}
