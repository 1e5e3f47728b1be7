//! Job control: stopping and continuing processes (`SIGSTOP`, `SIGTSTP` from Ctrl-Z,
//! `SIGCONT`) and what `wait` sees of it. A stopped process is out of the scheduler's queues
//! altogether — neither ready nor blocked — so it runs no slice and uses no CPU until it is
//! continued; its suspended call, if any, is repeated then, as after any block.

use alloc::vec::Vec;

use wasi_abi::Errno;
use wasi_abi::control::{self, Child, SIGCONT, Status, WaitChoice, is_stop_signal};
use wasi_abi::outcome::Fault;

use super::{Answer, Life, System};
use crate::sched::Pid;

/// A stopped process: the signal that stopped it and whether its parent's `wait` has
/// reported that stop yet.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stopped {
    signal: u32,
    reported: bool,
}

/// The answer to a `kill` that reached its caller with `signal`: nothing to continue, a stop
/// once the call returns, or the end.
pub(super) fn signal_self(signal: u32) -> Answer {
    if signal == SIGCONT {
        Answer::Done(Errno::Success)
    } else if is_stop_signal(signal) {
        Answer::Stop(signal)
    } else {
        Answer::Killed(signal)
    }
}

impl System {
    /// Delivers `signal` (not 0) to live process `pid`, which is not the caller: `SIGCONT`
    /// continues it, a stop signal stops it, any other ends it.
    pub(super) fn deliver(&mut self, pid: Pid, signal: u32) {
        if signal == SIGCONT {
            self.continue_process(pid);
        } else if is_stop_signal(signal) {
            self.stop(pid, signal);
        } else {
            self.end_signaled(pid, signal);
        }
    }

    /// Stops `pid`: it leaves the scheduler's queues. Stopping a stopped process keeps its
    /// first stop.
    pub(super) fn stop(&mut self, pid: Pid, signal: u32) {
        let Some(process) = self.procs.get_mut(&pid) else {
            return;
        };
        if !matches!(process.life, Life::Live(_)) || process.stopped.is_some() {
            return;
        }
        process.stopped = Some(Stopped {
            signal,
            reported: false,
        });
        self.sched.remove(pid);
        log::debug!("pid {pid} stopped by signal {signal}");
    }

    /// Continues `pid` if it is stopped: it is parked as blocked, so the scheduler's next
    /// pass repeats its suspended call (or makes it ready when it has none).
    pub(super) fn continue_process(&mut self, pid: Pid) {
        let Some(process) = self.procs.get_mut(&pid) else {
            return;
        };
        if process.stopped.take().is_some() && matches!(process.life, Life::Live(_)) {
            self.sched.block(pid, None);
            log::debug!("pid {pid} continued");
        }
    }

    /// Stopped processes whose parent has just ended are hung up (`SIGHUP`), as Linux does to
    /// an orphaned process group with stopped members: nobody is left to continue them.
    pub(super) fn hang_up_stopped_children(&mut self, parent: Pid) {
        /// `SIGHUP`.
        const SIGHUP: u32 = 1;
        let stopped: Vec<Pid> = self
            .procs
            .iter()
            .filter(|(_, p)| p.ppid == parent && p.stopped.is_some())
            .map(|(&pid, _)| pid)
            .collect();
        for pid in stopped {
            self.end_signaled(pid, SIGHUP);
        }
    }

    /// `wait(target, options, result)` for `caller`: reaps an ended child, reports a new stop
    /// with `WAIT_UNTRACED`, or blocks.
    pub(super) fn wait(&mut self, caller: Pid, target: i32, options: u32, result: u32) -> Answer {
        let children: Vec<Child> = self
            .procs
            .iter()
            .filter(|(pid, p)| {
                p.ppid == caller && (target == control::ANY_CHILD || **pid as i32 == target)
            })
            .map(|(&pid, p)| Child {
                pid,
                ended: match p.life {
                    Life::Zombie(status) => Some(status),
                    Life::Live(_) => None,
                },
                unreported_stop: p.stopped.filter(|s| !s.reported).map(|s| s.signal),
            })
            .collect();
        let answer = match control::choose_wait(&children, options) {
            Ok(WaitChoice::Report(answer)) => answer,
            Ok(WaitChoice::Nothing) => control::WaitResult {
                pid: 0,
                status: Status::Exited(0),
            },
            Ok(WaitChoice::Block) => return Answer::Block,
            Err(errno) => return Answer::Done(errno),
        };
        let written = self.with_caller(caller, |mem, _| {
            mem.write(result, &answer).map_err(Fault::from).into()
        });
        if matches!(written, Answer::Done(Errno::Success)) && answer.pid != 0 {
            if answer.status.ended() {
                self.procs.remove(&answer.pid);
            } else if let Some(stopped) = self
                .procs
                .get_mut(&answer.pid)
                .and_then(|p| p.stopped.as_mut())
            {
                stopped.reported = true;
            }
        }
        written
    }
}
