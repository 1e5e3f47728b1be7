//! `proc_exit`, `proc_raise` and `sched_yield`: ending the process and yielding the CPU.
//!
//! Cella has no signal handlers, so `proc_raise` applies the default action the witx gives
//! each signal: signals that terminate end the process with status 128 + the Linux signal
//! number (what a shell reports, and 134 for `SIGABRT` as when `wasmtime run` traps); signals
//! whose action is "ignored" (which the witx says of `SIGPIPE` too), "continues", and the stop
//! signals (nothing could send `SIGCONT` later) return success. Signal 0 and numbers past `SIGSYS` are `EINVAL`. (wasmtime returns `ENOTSUP`.)

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::memory::GuestMemory;
use crate::outcome::{Fault, SysResult};
use crate::platform::Platform;
use crate::types::Signal;

/// Added to a signal number to make the exit status of a process it killed.
pub const SIGNAL_EXIT_BASE: u32 = 128;

/// Terminates the process with status `rval`.
pub fn proc_exit<P: Platform>(
    _ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    rval: u32,
) -> SysResult {
    Err(Fault::Exit(rval))
}

/// Whether a signal's default action ends the process.
fn terminates(signal: Signal) -> bool {
    !matches!(
        signal,
        Signal::None
            | Signal::Pipe
            | Signal::Chld
            | Signal::Cont
            | Signal::Urg
            | Signal::Winch
            | Signal::Stop
            | Signal::Tstp
            | Signal::Ttin
            | Signal::Ttou
    )
}

/// The Linux (x86) number of a WASI signal: the same up to `SIGTERM`, then one more, because
/// WASI has no `SIGSTKFLT` (Linux 16).
pub fn linux_signal_number(signal: Signal) -> u32 {
    let number = u32::from(signal as u8);
    if number >= u32::from(Signal::Chld as u8) {
        number.saturating_add(1)
    } else {
        number
    }
}

/// Sends a signal to the process itself: see the module comment.
pub fn proc_raise<P: Platform>(
    _ctx: &mut WasiCtx<P>,
    _mem: &mut GuestMemory<'_>,
    sig: u32,
) -> SysResult {
    let signal = u8::try_from(sig)
        .ok()
        .and_then(Signal::from_raw)
        .filter(|signal| *signal != Signal::None)
        .ok_or(Errno::Inval)?;
    if terminates(signal) {
        return Err(Fault::Exit(
            SIGNAL_EXIT_BASE.saturating_add(linux_signal_number(signal)),
        ));
    }
    Ok(())
}

/// Lets other work run: the first attempt blocks the process until "now", which sends it
/// to the back of the run queue; the kernel's repeat of the call then returns.
pub fn sched_yield<P: Platform>(ctx: &mut WasiCtx<P>, _mem: &mut GuestMemory<'_>) -> SysResult {
    if core::mem::take(&mut ctx.yielding) {
        return Ok(());
    }
    ctx.yielding = true;
    ctx.platform.sched_yield();
    Err(Fault::Block(Some(0)))
}
