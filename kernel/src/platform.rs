//! The machine side of the WASI layer: [`wasi_abi::Platform`] over the kernel's clocks,
//! entropy and console, one per process (each has its own CPU-time clock).

use wasi_abi::types::{ClockId, Timestamp};
use wasi_abi::{Errno, Platform, Result, StdinPoll, Stream};

use crate::{console, entropy, time};

/// A process's view of the machine.
#[derive(Debug, Default)]
pub struct KernelPlatform {
    /// CPU time the process used before its current slice.
    cpu_before_ns: u64,
    /// Monotonic time at which its current slice began.
    slice_start_ns: u64,
}

impl KernelPlatform {
    /// The platform of a new process.
    pub fn new() -> Self {
        KernelPlatform::default()
    }

    /// Called by the scheduler as a slice begins: the process has used `cpu_ns` so far.
    pub fn begin_slice(&mut self, cpu_ns: u64) {
        self.cpu_before_ns = cpu_ns;
        self.slice_start_ns = time::monotonic_ns();
    }
}

impl Platform for KernelPlatform {
    fn clock_now(&mut self, id: ClockId) -> Result<Timestamp> {
        Ok(match id {
            ClockId::Realtime => time::realtime_ns(),
            ClockId::Monotonic => time::monotonic_ns(),
            // One thread per process: both CPU clocks are the process's.
            ClockId::ProcessCputimeId | ClockId::ThreadCputimeId => self
                .cpu_before_ns
                .saturating_add(time::monotonic_ns().saturating_sub(self.slice_start_ns)),
        })
    }

    fn clock_resolution(&self, _id: ClockId) -> Result<Timestamp> {
        Ok(time::resolution_ns())
    }

    fn random_fill(&mut self, buf: &mut [u8]) {
        entropy::fill(buf);
    }

    fn write(&mut self, stream: Stream, data: &[u8]) -> Result<usize> {
        console::write(stream, data);
        Ok(data.len())
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> Result<usize> {
        console::read_stdin(buf).map_err(|console::WouldBlock| Errno::Again)
    }

    fn poll_stdin(&mut self) -> StdinPoll {
        console::poll_stdin()
    }

    fn stdin_is_terminal(&self) -> bool {
        console::is_terminal()
    }
}
