//! `sock_accept`, `sock_recv`, `sock_send` and `sock_shutdown`. No fd can be a socket yet (the
//! network arrives with virtio-net), so each answers as Linux and wasmtime do for the fds that
//! exist: `EBADF` for a closed fd, `ENOTSOCK` for any other. The fd is checked before any
//! argument or guest memory, in that order too.

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::memory::GuestMemory;
use crate::outcome::SysResult;
use crate::platform::Platform;

/// `EBADF` if `fd` is not open, otherwise `ENOTSOCK`.
fn not_a_socket<P: Platform>(ctx: &WasiCtx<P>, fd: u32) -> SysResult {
    ctx.fds.get(fd)?;
    Err(Errno::Notsock.into())
}

/// Accepts a connection on listening socket `fd`.
pub fn sock_accept<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    _flags: u32,
    _fd_out: u32,
) -> SysResult {
    not_a_socket(ctx, fd)
}

/// Receives from socket `fd` into the iovecs at `ri_data`.
#[allow(clippy::too_many_arguments, reason = "the witx signature")]
pub fn sock_recv<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    _ri_data: u32,
    _ri_data_len: u32,
    _ri_flags: u32,
    _ro_datalen_out: u32,
    _ro_flags_out: u32,
) -> SysResult {
    not_a_socket(ctx, fd)
}

/// Sends the iovecs at `si_data` on socket `fd`.
pub fn sock_send<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    _si_data: u32,
    _si_data_len: u32,
    _si_flags: u32,
    _so_datalen_out: u32,
) -> SysResult {
    not_a_socket(ctx, fd)
}

/// Shuts down one or both directions of socket `fd`.
pub fn sock_shutdown<P: Platform>(
    ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    fd: u32,
    _how: u32,
) -> SysResult {
    not_a_socket(ctx, fd)
}
