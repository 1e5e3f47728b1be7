//! `clock_res_get` and `clock_time_get`, over the platform's clocks.

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::memory::GuestMemory;
use crate::outcome::SysResult;
use crate::platform::Platform;
use crate::types::ClockId;

/// The clock with raw id `id`; an id the witx does not define is `EINVAL`.
pub(super) fn clock_id(id: u32) -> SysResult<ClockId> {
    Ok(ClockId::from_raw(id).ok_or(Errno::Inval)?)
}

/// Returns the resolution of a clock, in nanoseconds.
pub fn clock_res_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    id: u32,
    resolution_out: u32,
) -> SysResult {
    let resolution = ctx.platform.clock_resolution(clock_id(id)?)?;
    mem.write(resolution_out, &resolution)?;
    Ok(())
}

/// Returns the time value of a clock, in nanoseconds. `precision` is a hint this layer
/// ignores: the platform always answers as precisely as it can.
pub fn clock_time_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    id: u32,
    _precision: u64,
    time_out: u32,
) -> SysResult {
    let now = ctx.platform.clock_now(clock_id(id)?)?;
    mem.write(time_out, &now)?;
    Ok(())
}
