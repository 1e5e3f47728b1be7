//! The machine side of the WASI layer: [`wasi_abi::Platform`] over the kernel's clocks,
//! entropy and console.

use wasi_abi::types::{ClockId, Timestamp};
use wasi_abi::{Errno, Platform, Result, StdinPoll, Stream};

use crate::{console, entropy, time};

/// The one platform the kernel offers its (single) process.
#[derive(Debug, Default)]
pub struct KernelPlatform {
    _private: (),
}

impl KernelPlatform {
    /// The platform.
    pub fn new() -> Self {
        KernelPlatform { _private: () }
    }
}

impl Platform for KernelPlatform {
    fn clock_now(&mut self, id: ClockId) -> Result<Timestamp> {
        Ok(match id {
            ClockId::Realtime => time::realtime_ns(),
            ClockId::Monotonic => time::monotonic_ns(),
            // One process with one thread: both CPU clocks are the same.
            ClockId::ProcessCputimeId | ClockId::ThreadCputimeId => time::cpu_time_ns(),
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

    fn read_stdin(&mut self, buf: &mut [u8], block: bool) -> Result<usize> {
        console::read_stdin(buf, block).map_err(|console::WouldBlock| Errno::Again)
    }

    fn poll_stdin(&mut self) -> StdinPoll {
        console::poll_stdin()
    }

    fn wait(&mut self, deadline: Option<Timestamp>, stdin: bool) {
        console::wait(deadline, stdin);
    }
}
