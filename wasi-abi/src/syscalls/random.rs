//! `random_get`: the platform's entropy, written straight into guest memory.

use crate::ctx::WasiCtx;
use crate::memory::GuestMemory;
use crate::outcome::SysResult;
use crate::platform::Platform;

/// Fills `buf_len` bytes at `buf` with random data.
pub fn random_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    buf: u32,
    buf_len: u32,
) -> SysResult {
    let buf = mem.slice_mut(buf, buf_len)?;
    ctx.platform.random_fill(buf);
    Ok(())
}
