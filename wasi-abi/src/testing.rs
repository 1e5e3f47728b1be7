//! A scripted fake [`Platform`] for testing the WASI layer on the host: the crate's own tests
//! use it, and so do the fuzz targets in `fuzz/` (through the `fuzzing` feature), so both
//! exercise the syscalls over the same machine instead of two copies drifting apart.

// Test scaffolding: a script that cannot go on (a wait with nothing to wait for) is a bug in
// the test, best reported by a panic, and the fake's own arithmetic is on small test values.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "test scaffolding, never built into the kernel"
)]

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::errno::{Errno, Result};
use crate::platform::{Platform, StdinPoll, Stream};
use crate::types::ClockId;

/// Realtime is this far ahead of the fake monotonic clock (2024-01-01 in ns).
pub const REALTIME_OFFSET: u64 = 1_704_067_200_000_000_000;

/// A scripted machine: stdin chunks arrive at given monotonic times, output is captured,
/// and time only moves when the code under test waits or blocks.
#[derive(Default)]
pub struct Fake {
    /// The monotonic clock, in nanoseconds.
    pub mono: u64,
    /// Stdin bytes that have arrived and not been read yet.
    pub stdin: VecDeque<u8>,
    /// Stdin chunks still to come, each with the monotonic time it arrives at.
    pub arrivals: VecDeque<(u64, Vec<u8>)>,
    /// Whether stdin ends once everything scripted has been read.
    pub stdin_eof: bool,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// The most bytes one console write takes (short writes), if any.
    pub write_limit: Option<usize>,
    /// Each [`Fake::wait`]: its deadline, and whether it also waited for stdin.
    pub waits: Vec<(Option<u64>, bool)>,
    /// How many times the process yielded.
    pub yields: u32,
    /// The last "random" byte handed out: entropy counts up, so tests can predict it.
    pub random_counter: u8,
}

impl Fake {
    /// What the kernel does for a blocked call: time moves on to the deadline or to the next
    /// stdin arrival, whichever is first.
    pub fn wait(&mut self, deadline: Option<u64>) {
        let stdin = deadline.is_none() || !self.arrivals.is_empty();
        self.waits.push((deadline, stdin));
        let arrival = self.arrivals.front().map(|(at, _)| *at);
        let target = match (deadline, arrival) {
            (Some(d), Some(a)) => d.min(a),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => panic!("the call would block forever"),
        };
        self.mono = self.mono.max(target);
        self.deliver();
    }

    fn deliver(&mut self) {
        while let Some((at, _)) = self.arrivals.front() {
            if *at > self.mono {
                break;
            }
            let (_, chunk) = self.arrivals.pop_front().unwrap();
            self.stdin.extend(chunk);
        }
    }
}

impl Platform for Fake {
    fn clock_now(&mut self, id: ClockId) -> Result<u64> {
        Ok(match id {
            ClockId::Realtime => REALTIME_OFFSET + self.mono,
            ClockId::Monotonic => self.mono,
            ClockId::ProcessCputimeId => self.mono / 2,
            ClockId::ThreadCputimeId => self.mono / 4,
        })
    }

    fn clock_resolution(&self, id: ClockId) -> Result<u64> {
        Ok(match id {
            ClockId::Realtime => 1000,
            ClockId::Monotonic => 1,
            ClockId::ProcessCputimeId | ClockId::ThreadCputimeId => 10,
        })
    }

    fn random_fill(&mut self, buf: &mut [u8]) {
        for byte in buf {
            self.random_counter = self.random_counter.wrapping_add(1);
            *byte = self.random_counter;
        }
    }

    fn write(&mut self, stream: Stream, data: &[u8]) -> Result<usize> {
        let data = &data[..self.write_limit.map_or(data.len(), |l| l.min(data.len()))];
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(data),
            Stream::Stderr => self.stderr.extend_from_slice(data),
        }
        Ok(data.len())
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.deliver();
        if self.stdin.is_empty() {
            return match self.arrivals.front() {
                None if self.stdin_eof => Ok(0),
                _ => Err(Errno::Again),
            };
        }
        let n = buf.len().min(self.stdin.len());
        for (dst, src) in buf.iter_mut().zip(self.stdin.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }

    fn poll_stdin(&mut self) -> StdinPoll {
        self.deliver();
        if !self.stdin.is_empty() {
            StdinPoll::Ready
        } else if self.arrivals.is_empty() && self.stdin_eof {
            StdinPoll::Eof
        } else {
            StdinPoll::Empty
        }
    }

    fn sched_yield(&mut self) {
        self.yields += 1;
    }
}
