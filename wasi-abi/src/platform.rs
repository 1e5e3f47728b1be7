//! What the machine provides to the WASI layer: clocks, entropy, the console streams and a way
//! to wait. The kernel implements [`Platform`] over its drivers; tests implement it with fakes.

use crate::errno::Result;
use crate::types::{ClockId, Timestamp};

/// An output stream of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (fd 1).
    Stdout,
    /// Standard error (fd 2).
    Stderr,
}

/// Whether reading stdin would return at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdinPoll {
    /// At least one byte is available.
    Ready,
    /// End of file: a read returns 0 at once.
    Eof,
    /// A read would block.
    Empty,
}

/// The machine services the preview1 syscalls are built on.
pub trait Platform {
    /// Current time of clock `id` in nanoseconds: realtime counts from the Unix epoch, the
    /// others from an unspecified start. A clock the machine lacks is an error (`EINVAL`).
    fn clock_now(&mut self, id: ClockId) -> Result<Timestamp>;

    /// Resolution of clock `id` in nanoseconds.
    fn clock_resolution(&self, id: ClockId) -> Result<Timestamp>;

    /// Fills `buf` with cryptographically secure random bytes (or the best the machine has).
    fn random_fill(&mut self, buf: &mut [u8]);

    /// Writes `data` to `stream`, normally all of it; returns how much was written.
    fn write(&mut self, stream: Stream, data: &[u8]) -> Result<usize>;

    /// Reads stdin into `buf`. `Ok(0)` means end of file. With `block` false and nothing
    /// available, returns `Err(Errno::Again)`; with `block` true, waits for at least one byte
    /// or end of file.
    fn read_stdin(&mut self, buf: &mut [u8], block: bool) -> Result<usize>;

    /// Whether stdin has data, is at end of file, or is empty.
    fn poll_stdin(&mut self) -> StdinPoll;

    /// Blocks until stdin becomes ready (only if `stdin` is true) or the monotonic clock reaches
    /// `deadline` (if any), whichever comes first. Returns at once if either already holds.
    /// Returning early is allowed: callers re-check and wait again.
    fn wait(&mut self, deadline: Option<Timestamp>, stdin: bool);

    /// Lets other work run; a single-process machine may do nothing.
    fn sched_yield(&mut self) {}
}
