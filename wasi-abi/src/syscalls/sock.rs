//! `sock_accept`, `sock_recv`, `sock_send` and `sock_shutdown`, over the socket kinds of
//! [`WasiFile`] (`accept`, `read`, `peek`, `write`, `shutdown`), which the kernel implements
//! on its TCP stack. `fd_read`, `fd_write`, `fd_close`, `fd_fdstat_*` and `poll_oneoff` work
//! on sockets through the same trait, as on any stream.
//!
//! Each checks the fd first (`EBADF` when closed, `ENOTSOCK` when not a socket), then its
//! flags (`EINVAL`), then the fd's rights, then every guest region it will use, and only then
//! acts. A call that finds nothing to do yet blocks the process unless the fd is
//! non-blocking (`EAGAIN`), as `fd_read` does.

use alloc::rc::Rc;
use alloc::vec::Vec;

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::fallible::reserve;
use crate::fdtable::{FdEntry, FdObject, STREAM_RIGHTS};
use crate::file::WasiFile;
use crate::memory::GuestMemory;
use crate::outcome::SysResult;
use crate::platform::Platform;
use crate::types::{Fdflags, Filetype, Iovec, Riflags, Rights, Roflags, Sdflags};

use super::fd::{Iovecs, checked_iovecs, each_iovec, would_block};

/// The most bytes one `RECV_PEEK` looks at; a peek returns at most this much.
const MAX_PEEK: usize = 64 * 1024;

/// The socket behind `fd` and whether it is non-blocking: `EBADF` if `fd` is not open,
/// `ENOTSOCK` if it is not a socket.
fn socket<P: Platform>(ctx: &mut WasiCtx<P>, fd: u32) -> Result<(&mut FdEntry, &mut P), Errno> {
    let entry = ctx.fds.get_mut(fd)?;
    let is_socket = matches!(
        entry.filetype(),
        Filetype::SocketStream | Filetype::SocketDgram
    );
    if !is_socket || !matches!(entry.object, FdObject::File(_)) {
        return Err(Errno::Notsock);
    }
    Ok((entry, &mut ctx.platform))
}

/// Accepts a connection on listening socket `fd` and stores its new fd. `flags` may only
/// hold `NONBLOCK`, which the new fd gets (as Linux's `accept4(SOCK_NONBLOCK)`). The fd table
/// must have room before a connection is taken off the queue (`EMFILE`).
pub fn sock_accept<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    flags: u32,
    fd_out: u32,
) -> SysResult {
    // Room in the table now (EMFILE, or ENOMEM when it cannot grow), reported in its turn.
    let room = ctx.fds.reserve_from(0, 1);
    let owner = Rc::clone(&ctx.account);
    let (entry, platform) = socket(ctx, fd)?;
    let flags = u16::try_from(flags)
        .ok()
        .and_then(Fdflags::from_bits)
        .filter(|flags| flags.difference(Fdflags::NONBLOCK) == Fdflags::EMPTY)
        .ok_or(Errno::Inval)?;
    entry.require_cap(Rights::SOCK_ACCEPT)?;
    mem.check::<u32>(fd_out)?;
    room?;
    let nonblocking = entry.flags.contains(Fdflags::NONBLOCK);
    let stream = entry
        .file_mut()?
        .accept(platform, &owner)
        .map_err(|errno| would_block(errno.into(), nonblocking))?;
    let new_fd = ctx.fds.insert(FdEntry {
        object: FdObject::File(stream),
        flags,
        rights_base: STREAM_RIGHTS,
        rights_inheriting: STREAM_RIGHTS,
    })?;
    mem.write(fd_out, &new_fd)?;
    Ok(())
}

/// Receives from socket `fd` into the iovecs at `ri_data`; stores the byte count (0 once
/// the peer has shut down its side) and the output flags (always empty: a stream is never
/// truncated). `RECV_PEEK` leaves the data queued. `RECV_WAITALL` is accepted and, as after
/// a signal on Linux, may still return less than asked.
#[allow(clippy::too_many_arguments, reason = "the witx signature")]
pub fn sock_recv<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    ri_data: u32,
    ri_data_len: u32,
    ri_flags: u32,
    ro_datalen_out: u32,
    ro_flags_out: u32,
) -> SysResult {
    let (entry, platform) = socket(ctx, fd)?;
    let flags = u16::try_from(ri_flags)
        .ok()
        .and_then(Riflags::from_bits)
        .ok_or(Errno::Inval)?;
    entry.require(Rights::FD_READ)?;
    let array = checked_iovecs(mem, ri_data, ri_data_len)?;
    mem.check::<u32>(ro_datalen_out)?;
    mem.check::<u16>(ro_flags_out)?;
    let nonblocking = entry.flags.contains(Fdflags::NONBLOCK);
    let file = entry.file_mut()?;
    let total = if flags.contains(Riflags::RECV_PEEK) {
        peek_into(file, platform, mem, array)
    } else {
        each_iovec(mem, array, |mem, iovec, _| {
            Ok(file.read(platform, mem.slice_mut(iovec.buf, iovec.buf_len)?)?)
        })
    }
    .map_err(|fault| would_block(fault, nonblocking))?;
    mem.write(ro_datalen_out, &total)?;
    mem.write(ro_flags_out, &Roflags::EMPTY.bits())?;
    Ok(())
}

/// Peeks once into a scratch buffer as long as the iovecs (up to [`MAX_PEEK`]) and spreads
/// the result over them in order; returns the bytes peeked.
fn peek_into(
    file: &mut dyn WasiFile,
    platform: &mut dyn Platform,
    mem: &mut GuestMemory<'_>,
    array: Iovecs,
) -> SysResult<u32> {
    let mut wanted: usize = 0;
    for ptr in array.ptrs() {
        let len = mem.read::<Iovec>(ptr)?.buf_len;
        wanted = wanted.saturating_add(len as usize);
    }
    let mut scratch = Vec::new();
    reserve(&mut scratch, wanted.min(MAX_PEEK))?;
    scratch.resize(wanted.min(MAX_PEEK), 0);
    let peeked = file.peek(platform, &mut scratch)?.min(scratch.len());
    let mut rest = scratch.get(..peeked).unwrap_or_default();
    each_iovec(mem, array, |mem, iovec, _| {
        let take = rest.len().min(iovec.buf_len as usize);
        let (head, tail) = rest.split_at(take);
        mem.write_bytes(iovec.buf, head)?;
        rest = tail;
        Ok(take)
    })
}

/// Sends the iovecs at `si_data` on socket `fd` (as much as there is room for: at least a
/// byte, or the call blocks) and stores how much was sent. `si_flags` has no defined bits.
pub fn sock_send<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    si_data: u32,
    si_data_len: u32,
    si_flags: u32,
    so_datalen_out: u32,
) -> SysResult {
    let (entry, platform) = socket(ctx, fd)?;
    if si_flags != 0 {
        return Err(Errno::Inval.into());
    }
    entry.require(Rights::FD_WRITE)?;
    let array = checked_iovecs(mem, si_data, si_data_len)?;
    mem.check::<u32>(so_datalen_out)?;
    let nonblocking = entry.flags.contains(Fdflags::NONBLOCK);
    let file = entry.file_mut()?;
    let total = each_iovec(mem, array, |mem, iovec, _| {
        Ok(file.write(platform, mem.slice(iovec.buf, iovec.buf_len)?)?)
    })
    .map_err(|fault| would_block(fault, nonblocking))?;
    mem.write(so_datalen_out, &total)?;
    Ok(())
}

/// Shuts down the receiving side (`RD`), the sending side (`WR`) or both of socket `fd`;
/// no side at all, or an undefined bit, is `EINVAL`. A listening socket is `ENOTCONN`.
pub fn sock_shutdown<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    how: u32,
) -> SysResult {
    let (entry, platform) = socket(ctx, fd)?;
    let how = u8::try_from(how)
        .ok()
        .and_then(Sdflags::from_bits)
        .filter(|how| *how != Sdflags::EMPTY)
        .ok_or(Errno::Inval)?;
    entry.require_cap(Rights::SOCK_SHUTDOWN)?;
    entry.file_mut()?.shutdown(platform, how)?;
    Ok(())
}
