//! The `fd_*` functions that work on any open descriptor: reading and writing through iovecs
//! (at the offset or at a given position), attributes, size and times, flags and rights,
//! seeking, preopen names, closing and renumbering.
//!
//! Each checks its arguments and the fd (and the fd's rights) before it touches guest memory,
//! and checks every guest region it will use before it has any side effect, so that a bad
//! pointer traps without half an operation done.

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::fdtable::FdObject;
use crate::memory::{GuestArray, GuestMemory};
use crate::outcome::{Fault, SysResult};
use crate::platform::Platform;
use crate::types::{
    Advice, Fdflags, Fdstat, Filesize, Fstflags, Iovec, PrestatDir, Rights, Timestamp, Whence,
};
use crate::vfs::SetTimes;
use crate::vfs::open::now;

/// Flags `fd_fdstat_set_flags` refuses with `EINVAL`, as wasmtime does: synchronized I/O
/// can only be asked for at open time.
const FIXED_FDFLAGS: Fdflags = Fdflags::DSYNC.union(Fdflags::RSYNC).union(Fdflags::SYNC);

/// An iovec array whose every buffer has been checked, with its first iovec as read then:
/// most calls pass a single iovec, which is then read from guest memory only once.
#[derive(Clone, Copy, Debug)]
pub(super) struct Iovecs {
    array: GuestArray<Iovec>,
    /// Element 0 (empty when the array is).
    first: Iovec,
}

impl Iovecs {
    /// Guest addresses of every iovec, in order.
    pub(super) fn ptrs(&self) -> impl Iterator<Item = u32> + use<> {
        self.array.ptrs()
    }
}

/// Checks an iovec array and every buffer it points to. The buffers' total length must fit
/// the `u32` result (`EINVAL` otherwise, as `readv`/`writev` on Linux when it overflows).
pub(super) fn checked_iovecs(mem: &GuestMemory<'_>, iovs: u32, iovs_len: u32) -> SysResult<Iovecs> {
    let array = mem.array::<Iovec>(iovs, iovs_len)?;
    let first = match array.ptr(0) {
        Some(ptr) => mem.read::<Iovec>(ptr)?,
        None => Iovec { buf: 0, buf_len: 0 },
    };
    mem.slice(first.buf, first.buf_len)?;
    let mut total = first.buf_len;
    for index in 1..array.len() {
        let Some(ptr) = array.ptr(index) else { break };
        let iovec = mem.read::<Iovec>(ptr)?;
        mem.slice(iovec.buf, iovec.buf_len)?;
        total = total.checked_add(iovec.buf_len).ok_or(Errno::Inval)?;
    }
    Ok(Iovecs { array, first })
}

/// Length reported by a read or write, bounded by the buffer it went to.
fn count(done: usize, len: u32) -> u32 {
    u32::try_from(done).map_or(len, |done| done.min(len))
}

/// Moves data through the non-empty iovecs of `iovecs` in order, as `readv`/`writev` do:
/// `transfer(mem, iovec, total)` moves one (given the bytes moved so far) and says how many
/// bytes it moved. A short transfer ends the call; an error is returned only if nothing has
/// moved yet (otherwise the next call reports it), while a trap always ends the call.
/// Returns the bytes moved. Each iovec of several is read as its turn comes: an earlier read
/// may have written over it, as with `readv`. Inlined: a one-byte pipe read or write is a
/// few hundred instructions, of which a call here would be a tenth.
#[inline(always)]
pub(super) fn each_iovec(
    mem: &mut GuestMemory<'_>,
    iovecs: Iovecs,
    mut transfer: impl FnMut(&mut GuestMemory<'_>, Iovec, u32) -> SysResult<usize>,
) -> SysResult<u32> {
    // The common case, one iovec, as it was read when checked.
    if iovecs.array.len() == 1 {
        let iovec = iovecs.first;
        if iovec.buf_len == 0 {
            return Ok(0);
        }
        return Ok(count(transfer(mem, iovec, 0)?, iovec.buf_len));
    }
    let mut total: u32 = 0;
    for ptr in iovecs.ptrs() {
        let iovec = mem.read::<Iovec>(ptr)?;
        if iovec.buf_len == 0 {
            continue;
        }
        match transfer(mem, iovec, total) {
            Ok(done) => {
                let done = count(done, iovec.buf_len);
                total = total.saturating_add(done);
                if done < iovec.buf_len {
                    break;
                }
            }
            Err(Fault::Errno(_)) if total > 0 => break,
            Err(fault) => return Err(fault),
        }
    }
    Ok(total)
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
    let nonblocking = entry.flags.contains(Fdflags::NONBLOCK);
    let file = entry.file_mut()?;
    let platform = &mut ctx.platform;
    let total = each_iovec(mem, array, |mem, iovec, _| {
        Ok(file.write(platform, mem.slice(iovec.buf, iovec.buf_len)?)?)
    })
    .map_err(|fault| match would_block(fault, nonblocking) {
        Fault::Block(deadline) => {
            file.wait_writable(&ctx.waker);
            Fault::Block(deadline)
        }
        fault => fault,
    })?;
    mem.write(nwritten_out, &total)?;
    Ok(())
}

/// A stream that has nothing to give or no room yet answers `EAGAIN`; on a blocking fd that
/// becomes a blocked process, repeated once something changed.
pub(super) fn would_block(fault: Fault, nonblocking: bool) -> Fault {
    match fault {
        Fault::Errno(Errno::Again) if !nonblocking => Fault::Block(None),
        fault => fault,
    }
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
    let file = entry.file_mut()?;
    let array = checked_iovecs(mem, iovs, iovs_len)?;
    mem.check::<u32>(nread_out)?;
    let platform = &mut ctx.platform;
    // Only an empty first read waits: once data has arrived, later iovecs take what is there
    // (`each_iovec` stops at the first short or failed transfer).
    let total = each_iovec(mem, array, |mem, iovec, _| {
        let buf = mem.slice_mut(iovec.buf, iovec.buf_len)?;
        Ok(file.read(platform, buf)?)
    })
    .map_err(|fault| match would_block(fault, nonblocking) {
        Fault::Block(deadline) => {
            file.wait_readable(&ctx.waker);
            Fault::Block(deadline)
        }
        fault => fault,
    })?;
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
        filetype: entry.filetype(),
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
    entry.require_cap(Rights::FD_FDSTAT_SET_FLAGS)?;
    if flags.difference(FIXED_FDFLAGS) != flags {
        return Err(Errno::Inval.into());
    }
    entry.flags = flags;
    if let FdObject::File(file) = &mut entry.object {
        file.set_fdflags(flags);
    }
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

/// Reads into the iovecs from file position `offset`, leaving the fd's offset alone.
/// Needs `FD_READ` and `FD_SEEK`; streams are `ESPIPE`.
pub fn fd_pread<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    offset: u64,
    nread_out: u32,
) -> SysResult {
    let entry = ctx.fds.get_mut(fd)?;
    entry.require(Rights::FD_READ)?;
    entry.require_cap(Rights::FD_SEEK)?;
    let file = entry.file_mut()?;
    let array = checked_iovecs(mem, iovs, iovs_len)?;
    mem.check::<u32>(nread_out)?;
    let total = each_iovec(mem, array, |mem, iovec, total| {
        let buf = mem.slice_mut(iovec.buf, iovec.buf_len)?;
        Ok(file.read_at(buf, offset.saturating_add(total.into()))?)
    })?;
    mem.write(nread_out, &total)?;
    Ok(())
}

/// Writes the iovecs at file position `offset`, leaving the fd's offset alone (even in append
/// mode). Needs `FD_WRITE` and `FD_SEEK`; streams are `ESPIPE`.
pub fn fd_pwrite<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    offset: u64,
    nwritten_out: u32,
) -> SysResult {
    let entry = ctx.fds.get_mut(fd)?;
    entry.require(Rights::FD_WRITE)?;
    entry.require_cap(Rights::FD_SEEK)?;
    let file = entry.file_mut()?;
    let array = checked_iovecs(mem, iovs, iovs_len)?;
    mem.check::<u32>(nwritten_out)?;
    let platform = &mut ctx.platform;
    let total = each_iovec(mem, array, |mem, iovec, total| {
        let data = mem.slice(iovec.buf, iovec.buf_len)?;
        Ok(file.write_at(platform, data, offset.saturating_add(total.into()))?)
    })?;
    mem.write(nwritten_out, &total)?;
    Ok(())
}

/// Stores the attributes of the fd's file or directory.
pub fn fd_filestat_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    filestat_out: u32,
) -> SysResult {
    let entry = ctx.fds.get(fd)?;
    entry.require_cap(Rights::FD_FILESTAT_GET)?;
    let stat = match &entry.object {
        FdObject::File(file) => file.filestat()?,
        FdObject::Dir(dir) => dir.dir.filestat(),
    };
    mem.write(filestat_out, &stat)?;
    Ok(())
}

/// Truncates or extends the fd's file; a directory is `ENOTCAPABLE` (it never has the right)
/// or `EBADF`.
pub fn fd_filestat_set_size<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    size: u64,
) -> SysResult {
    let entry = ctx.fds.get_mut(fd)?;
    entry.require_cap(Rights::FD_FILESTAT_SET_SIZE)?;
    entry.file_mut()?.set_size(&mut ctx.platform, size)?;
    Ok(())
}

/// Decodes `fst_flags` into the times to set: `EINVAL` for undefined bits, or for a time
/// asked both as a value and as "now".
pub(crate) fn times_to_set(
    atim: Timestamp,
    mtim: Timestamp,
    fst_flags: u32,
    now: Timestamp,
) -> Result<SetTimes, Errno> {
    let flags = u16::try_from(fst_flags)
        .ok()
        .and_then(Fstflags::from_bits)
        .ok_or(Errno::Inval)?;
    let pick = |value: Fstflags, at_now: Fstflags, time: Timestamp| match (
        flags.contains(value),
        flags.contains(at_now),
    ) {
        (true, true) => Err(Errno::Inval),
        (true, false) => Ok(Some(time)),
        (false, true) => Ok(Some(now)),
        (false, false) => Ok(None),
    };
    Ok(SetTimes {
        atim: pick(Fstflags::ATIM, Fstflags::ATIM_NOW, atim)?,
        mtim: pick(Fstflags::MTIM, Fstflags::MTIM_NOW, mtim)?,
    })
}

/// Sets the access and/or modification time of the fd's file or directory.
pub fn fd_filestat_set_times<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    atim: u64,
    mtim: u64,
    fst_flags: u32,
) -> SysResult {
    let now = now(&mut ctx.platform);
    let times = times_to_set(atim, mtim, fst_flags, now)?;
    let entry = ctx.fds.get_mut(fd)?;
    entry.require_cap(Rights::FD_FILESTAT_SET_TIMES)?;
    match &mut entry.object {
        FdObject::File(file) => file.set_times(times, now)?,
        FdObject::Dir(dir) => dir.dir.set_own_times(times, now),
    }
    Ok(())
}

/// Moves the fd's offset and stores the new one; streams are `ESPIPE`. Moving needs
/// `FD_SEEK`; asking for the offset (`0` from `CUR`) needs only `FD_TELL`, as in wasmtime.
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
    if offset == 0 && whence == Whence::Cur {
        require_tell(entry)?;
    } else {
        entry.require_cap(Rights::FD_SEEK)?;
    }
    let file = entry.file_mut()?;
    mem.check::<Filesize>(newoffset_out)?;
    let position = file.seek(offset, whence)?;
    mem.write(newoffset_out, &position)?;
    Ok(())
}

/// `FD_TELL`, or `FD_SEEK`, which implies it.
fn require_tell(entry: &crate::fdtable::FdEntry) -> Result<(), Errno> {
    entry
        .require_cap(Rights::FD_TELL)
        .or_else(|_| entry.require_cap(Rights::FD_SEEK))
}

/// Stores the fd's offset; streams are `ESPIPE`.
pub fn fd_tell<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    offset_out: u32,
) -> SysResult {
    let entry = ctx.fds.get(fd)?;
    require_tell(entry)?;
    let position = entry.file()?.tell()?;
    mem.write(offset_out, &position)?;
    Ok(())
}

/// Closes the fd. Stdio and preopens can be closed like any other, as in wasmtime; an open
/// file whose last name was unlinked is freed with its last fd.
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

/// The guest-visible name of a preopen. A file (or closed fd) is `EBADF`, which is how
/// wasi-libc learns where the preopens end; a directory that is not a preopen is `ENOTSUP`,
/// as wasmtime answers.
fn preopen_name<P: Platform>(ctx: &WasiCtx<P>, fd: u32, not_dir: Errno) -> Result<&[u8], Errno> {
    match &ctx.fds.get(fd)?.object {
        FdObject::Dir(dir) => dir.preopen.as_deref().ok_or(Errno::Notsup),
        FdObject::File(_) => Err(not_dir),
    }
}

/// Describes a preopened directory: its tag and the length of its name.
pub fn fd_prestat_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    prestat_out: u32,
) -> SysResult {
    let name = preopen_name(ctx, fd, Errno::Badf)?;
    let name_len = u32::try_from(name.len()).map_err(|_| Errno::Overflow)?;
    mem.write(prestat_out, &PrestatDir { name_len })?;
    Ok(())
}

/// Copies a preopened directory's name (without a NUL). A buffer shorter than the name is
/// `ENAMETOOLONG`; an open fd that is not a directory is `ENOTDIR`, a closed one `EBADF`.
pub fn fd_prestat_dir_name<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    path: u32,
    path_len: u32,
) -> SysResult {
    let name = preopen_name(ctx, fd, Errno::Notdir)?;
    if usize::try_from(path_len).is_ok_and(|len| name.len() > len) {
        return Err(Errno::Nametoolong.into());
    }
    mem.write_bytes(path, name)?;
    Ok(())
}

/// Declares an access pattern: accepted and ignored for files; `EBADF` on stdio and
/// directories, as wasmtime answers.
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
    let entry = ctx.fds.get_mut(fd)?;
    entry.require_cap(Rights::FD_ADVISE)?;
    entry.file_mut()?.advise(offset, len, advice)?;
    Ok(())
}

/// Makes a file at least `offset + len` bytes long; `EBADF` on stdio and directories.
pub fn fd_allocate<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    offset: u64,
    len: u64,
) -> SysResult {
    let entry = ctx.fds.get_mut(fd)?;
    entry.require_cap(Rights::FD_ALLOCATE)?;
    entry.file_mut()?.allocate(offset, len)?;
    Ok(())
}

/// Flushes data and metadata: nothing to do in memory; `EBADF` on stdio, as wasmtime answers.
pub fn fd_sync<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
) -> SysResult {
    let entry = ctx.fds.get_mut(fd)?;
    entry.require_cap(Rights::FD_SYNC)?;
    match &mut entry.object {
        FdObject::File(file) => file.sync()?,
        FdObject::Dir(_) => {}
    }
    Ok(())
}

/// Flushes data: nothing to do in memory; `EBADF` on stdio, as wasmtime answers.
pub fn fd_datasync<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
) -> SysResult {
    let entry = ctx.fds.get_mut(fd)?;
    entry.require_cap(Rights::FD_DATASYNC)?;
    match &mut entry.object {
        FdObject::File(file) => file.datasync()?,
        FdObject::Dir(_) => {}
    }
    Ok(())
}
