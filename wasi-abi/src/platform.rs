//! What the machine provides to the WASI layer: clocks, entropy and the console streams.
//! The kernel implements [`Platform`] over its drivers; tests implement it with fakes.

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

    /// Reads stdin into `buf` without waiting. `Ok(0)` means end of file; nothing available
    /// yet is `Err(Errno::Again)` (the syscall layer then blocks the process, see
    /// [`crate::Outcome::Block`]).
    fn read_stdin(&mut self, buf: &mut [u8]) -> Result<usize>;

    /// Whether stdin has data, is at end of file, or is empty.
    fn poll_stdin(&mut self) -> StdinPoll;

    /// Whether stdin is a terminal (a character device to the program, as `isatty` sees it)
    /// rather than a pipe or file on the host side.
    fn stdin_is_terminal(&self) -> bool {
        true
    }

    /// Told that the process gives up the CPU (`sched_yield`; the scheduler then runs the
    /// others first). Nothing to do by default.
    fn sched_yield(&mut self) {}
}
