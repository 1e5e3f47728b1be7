//! `poll_oneoff`: waiting for clock deadlines and fd readiness.
//!
//! Clock subscriptions become deadlines on the monotonic clock (realtime and CPU-time
//! deadlines are converted through the clock's current value); the call then collects the
//! events that have fired, and if there are none, blocks the process until the earliest
//! deadline (or until something changes): the kernel repeats the call then. Relative
//! timeouts count from the first attempt, kept in the context across the repeats. A bad fd
//! fires at once as an event carrying `EBADF`, like `POLLNVAL` in POSIX `poll`.

use alloc::vec::Vec;

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::fallible::reserve;
use crate::file::Readiness;
use crate::memory::GuestMemory;
use crate::outcome::{Fault, SysResult};
use crate::platform::Platform;
use crate::types::{
    ClockId, Event, Eventrwflags, Eventtype, Fd, Subclockflags, Subscription, SubscriptionClock,
    SubscriptionKind, Timestamp,
};

use super::clock::clock_id;

/// What one subscription waits for, decoded.
enum Source {
    /// The monotonic clock reaching this time.
    Deadline(Timestamp),
    /// An fd becoming readable.
    Read(Fd),
    /// An fd becoming writable.
    Write(Fd),
}

/// The monotonic time at which a clock subscription fires.
fn deadline<P: Platform>(
    platform: &mut P,
    clock: SubscriptionClock,
    now: Timestamp,
) -> SysResult<Timestamp> {
    let id = clock_id(clock.id)?;
    let flags = Subclockflags::from_bits(clock.flags).ok_or(Errno::Inval)?;
    let remaining = if !flags.contains(Subclockflags::SUBSCRIPTION_CLOCK_ABSTIME) {
        clock.timeout
    } else if id == ClockId::Monotonic {
        return Ok(clock.timeout);
    } else {
        clock.timeout.saturating_sub(platform.clock_now(id)?)
    };
    Ok(now.saturating_add(remaining))
}

/// The event for an fd subscription with this readiness, or `None` if it is still pending.
fn fd_event(userdata: u64, kind: Eventtype, readiness: Result<Readiness, Errno>) -> Option<Event> {
    let (error, nbytes, hangup) = match readiness {
        Ok(Readiness::Ready { nbytes, hangup }) => (Errno::Success, nbytes, hangup),
        Ok(Readiness::Pending) => return None,
        Err(errno) => (errno, 0, false),
    };
    Some(Event {
        userdata,
        error,
        kind,
        nbytes,
        flags: if hangup {
            Eventrwflags::FD_READWRITE_HANGUP
        } else {
            Eventrwflags::EMPTY
        },
    })
}

/// Waits until at least one subscription fires, then stores every fired event and their count.
pub fn poll_oneoff<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    subscriptions: u32,
    events: u32,
    nsubscriptions: u32,
    nevents_out: u32,
) -> SysResult {
    if nsubscriptions == 0 {
        // Sleeping forever is not something preview1 can ask for; wasmtime says EINVAL too.
        return Err(Errno::Inval.into());
    }
    let subs = mem.array::<Subscription>(subscriptions, nsubscriptions)?;
    let out = mem.array::<Event>(events, nsubscriptions)?;
    mem.check::<u32>(nevents_out)?;

    let now = ctx.platform.clock_now(ClockId::Monotonic)?;
    // A repeat of a blocked call measures its timeouts from the first attempt.
    let start = ctx.poll_started.take().unwrap_or(now);
    // One entry per subscription, whose count the program chooses.
    let mut waits = Vec::new();
    reserve(&mut waits, nsubscriptions as usize)?;
    for ptr in subs.ptrs() {
        let sub = mem.read::<Subscription>(ptr)?;
        let source = match sub.kind {
            SubscriptionKind::Clock(clock) => {
                Source::Deadline(deadline(&mut ctx.platform, clock, start)?)
            }
            SubscriptionKind::FdRead(fd) => Source::Read(fd),
            SubscriptionKind::FdWrite(fd) => Source::Write(fd),
            SubscriptionKind::Unknown(_) => return Err(Errno::Inval.into()),
        };
        waits.push((sub.userdata, source));
    }

    let mut fired: u32 = 0;
    let mut earliest: Option<Timestamp> = None;
    for (userdata, source) in &waits {
        let event = match *source {
            Source::Deadline(deadline) if deadline <= now => Some(Event {
                userdata: *userdata,
                error: Errno::Success,
                kind: Eventtype::Clock,
                nbytes: 0,
                flags: Eventrwflags::EMPTY,
            }),
            Source::Deadline(deadline) => {
                earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
                None
            }
            Source::Read(fd) => {
                let readiness = ctx
                    .fds
                    .get_mut(fd)
                    .and_then(|entry| entry.file_mut()?.read_readiness(&mut ctx.platform));
                fd_event(*userdata, Eventtype::FdRead, readiness)
            }
            Source::Write(fd) => {
                let readiness = ctx
                    .fds
                    .get_mut(fd)
                    .and_then(|entry| entry.file_mut()?.write_readiness(&mut ctx.platform));
                fd_event(*userdata, Eventtype::FdWrite, readiness)
            }
        };
        if let Some(event) = event {
            let ptr = out.ptr(fired).ok_or(Errno::Overflow)?;
            mem.write(ptr, &event)?;
            fired = fired.saturating_add(1);
        }
    }
    if fired == 0 {
        ctx.poll_started = Some(start);
        return Err(Fault::Block(earliest));
    }
    mem.write(nevents_out, &fired)?;
    Ok(())
}
