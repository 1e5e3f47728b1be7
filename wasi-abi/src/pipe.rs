//! Pipes: a bounded byte queue between processes, with a read end and a write end that may
//! each be held by several fds (a shell hands them to the processes of a pipeline).
//!
//! The semantics are POSIX's: a read of an empty pipe waits while a write end is open and
//! returns end of file once none is; a write with no read end left fails with `EPIPE`; a
//! write of at most [`PIPE_BUF`] bytes goes in whole or waits, a longer one may go in part.
//! "Waits" means `Err(Errno::Again)` here: the syscall layer turns it into a blocked process
//! (or `EAGAIN` for a non-blocking fd), and the kernel repeats the call later.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::rc::Rc;
use core::cell::RefCell;

use crate::budget::{Budget, Charge};
use crate::errno::{Errno, Result};
use crate::fallible::{infallible, reserve_queue};
use crate::file::{Readiness, WasiFile};
use crate::platform::Platform;
use crate::types::{Filesize, Filetype, Rights};
use crate::wake::{WaitList, Waker};

/// Bytes a pipe holds before writers wait, as on Linux.
pub const PIPE_CAPACITY: usize = 64 * 1024;
/// Writes of at most this many bytes are atomic, as POSIX requires (Linux's value).
pub const PIPE_BUF: usize = 4096;

/// Rights of a pipe's read end.
pub const PIPE_READ_RIGHTS: Rights = Rights::FD_READ
    .union(Rights::FD_FDSTAT_SET_FLAGS)
    .union(Rights::FD_FILESTAT_GET)
    .union(Rights::POLL_FD_READWRITE);
/// Rights of a pipe's write end.
pub const PIPE_WRITE_RIGHTS: Rights = Rights::FD_WRITE
    .union(Rights::FD_FDSTAT_SET_FLAGS)
    .union(Rights::FD_FILESTAT_GET)
    .union(Rights::POLL_FD_READWRITE);

/// The queue and how many handles each end has.
#[derive(Debug, Default)]
pub struct PipeBuffer {
    data: VecDeque<u8>,
    readers: usize,
    writers: usize,
    /// The buffer's bytes, charged to the process that made the pipe until no one can read
    /// it any more.
    charge: Option<Charge>,
    /// Processes whose read found it empty, woken when data comes or the last writer goes.
    readers_waiting: WaitList,
    /// Processes whose write found it full, woken when data goes or the last reader goes.
    writers_waiting: WaitList,
}

impl PipeBuffer {
    /// Takes up to `buf.len()` bytes: `Ok(0)` at end of file (empty, no writer left),
    /// `Err(Again)` when empty with a writer still open.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.data.is_empty() {
            return if self.writers == 0 || buf.is_empty() {
                Ok(0)
            } else {
                Err(Errno::Again)
            };
        }
        let count = buf.len().min(self.data.len());
        // Two bulk copies (the queue's two halves), not a byte at a time.
        let (front, back) = self.data.as_slices();
        let from_front = count.min(front.len());
        let (head, tail) = buf.split_at_mut(from_front);
        head.copy_from_slice(front.get(..from_front).unwrap_or(&[]));
        let rest = count.saturating_sub(from_front);
        if let (Some(slot), Some(source)) = (tail.get_mut(..rest), back.get(..rest)) {
            slot.copy_from_slice(source);
        }
        self.data.drain(..count);
        if !self.writers_waiting.is_empty() {
            self.writers_waiting.wake_all();
        }
        Ok(count)
    }

    /// Adds as much of `data` as fits (all or nothing up to [`PIPE_BUF`] bytes): `EPIPE`
    /// with no reader left, `Err(Again)` when nothing can go in yet, `ENOMEM` (nothing
    /// written) when the queue cannot grow, as Linux's `pipe_write` when it gets no page.
    pub fn write(&mut self, data: &[u8]) -> Result<usize> {
        if self.readers == 0 {
            return Err(Errno::Pipe);
        }
        let room = PIPE_CAPACITY.saturating_sub(self.data.len());
        if data.is_empty() {
            return Ok(0);
        }
        if room == 0 || (data.len() <= PIPE_BUF && data.len() > room) {
            return Err(Errno::Again);
        }
        let count = data.len().min(room);
        reserve_queue(&mut self.data, count)?;
        self.data.extend(data.get(..count).unwrap_or(&[]));
        if !self.readers_waiting.is_empty() {
            self.readers_waiting.wake_all();
        }
        Ok(count)
    }

    /// Bytes waiting to be read.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether no bytes are waiting.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn read_readiness(&self) -> Readiness {
        match (self.data.len(), self.writers) {
            (0, 0) => Readiness::Ready {
                nbytes: 0,
                hangup: true,
            },
            (0, _) => Readiness::Pending,
            (len, writers) => Readiness::Ready {
                nbytes: len as Filesize,
                hangup: writers == 0,
            },
        }
    }

    fn write_readiness(&self) -> Readiness {
        let room = PIPE_CAPACITY.saturating_sub(self.data.len());
        if self.readers == 0 {
            Readiness::Ready {
                nbytes: 0,
                hangup: true,
            }
        } else if room >= PIPE_BUF {
            Readiness::Ready {
                nbytes: room as Filesize,
                hangup: false,
            }
        } else {
            Readiness::Pending
        }
    }
}

type Shared = Rc<RefCell<PipeBuffer>>;

/// A new pipe: its read end and its write end, each one handle, its buffer charged to
/// `owner` (`ENOMEM` when it has no room, or the kernel no memory).
pub fn pipe(owner: &Rc<Budget>) -> Result<(Box<dyn WasiFile>, Box<dyn WasiFile>)> {
    // The whole buffer up front, as Linux gives a pipe its pages: a write never has to
    // allocate, and what a process holds in pipes is known when it makes them.
    let charge = owner.charge(PIPE_CAPACITY as u64)?;
    let mut data = VecDeque::new();
    reserve_queue(&mut data, PIPE_CAPACITY)?;
    // The rest is three small allocations of fixed size.
    Ok(infallible(|| {
        let shared = Rc::new(RefCell::new(PipeBuffer {
            data,
            readers: 1,
            writers: 1,
            charge: Some(charge),
            readers_waiting: WaitList::default(),
            writers_waiting: WaitList::default(),
        }));
        let reader: Box<dyn WasiFile> = Box::new(PipeReader(shared.clone()));
        let writer: Box<dyn WasiFile> = Box::new(PipeWriter(shared));
        (reader, writer)
    }))
}

/// A handle to a pipe's read end.
struct PipeReader(Shared);

/// A handle to a pipe's write end.
struct PipeWriter(Shared);

impl Drop for PipeReader {
    fn drop(&mut self) {
        let mut pipe = self.0.borrow_mut();
        pipe.readers = pipe.readers.saturating_sub(1);
        if pipe.readers == 0 {
            // Nobody will read it: let its memory go now.
            pipe.data = VecDeque::new();
            pipe.charge = None;
            // Blocked writers now fail with EPIPE.
            pipe.writers_waiting.wake_all();
        }
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        let mut pipe = self.0.borrow_mut();
        pipe.writers = pipe.writers.saturating_sub(1);
        if pipe.writers == 0 {
            // Blocked readers now reach end of file.
            pipe.readers_waiting.wake_all();
        }
    }
}

impl WasiFile for PipeReader {
    fn filetype(&self) -> Filetype {
        Filetype::Unknown
    }

    fn read(&mut self, _platform: &mut dyn Platform, buf: &mut [u8]) -> Result<usize> {
        self.0.borrow_mut().read(buf)
    }

    fn wait_readable(&mut self, waker: &Waker) -> bool {
        self.0.borrow_mut().readers_waiting.add(waker)
    }

    fn read_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        Ok(self.0.borrow().read_readiness())
    }

    fn duplicate(&self) -> Option<Box<dyn WasiFile>> {
        let mut pipe = self.0.borrow_mut();
        pipe.readers = pipe.readers.saturating_add(1);
        Some(infallible(|| Box::new(PipeReader(self.0.clone()))))
    }
}

impl WasiFile for PipeWriter {
    fn filetype(&self) -> Filetype {
        Filetype::Unknown
    }

    fn write(&mut self, _platform: &mut dyn Platform, data: &[u8]) -> Result<usize> {
        self.0.borrow_mut().write(data)
    }

    fn wait_writable(&mut self, waker: &Waker) -> bool {
        self.0.borrow_mut().writers_waiting.add(waker)
    }

    fn write_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        Ok(self.0.borrow().write_readiness())
    }

    fn duplicate(&self) -> Option<Box<dyn WasiFile>> {
        let mut pipe = self.0.borrow_mut();
        pipe.writers = pipe.writers.saturating_add(1);
        Some(infallible(|| Box::new(PipeWriter(self.0.clone()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn open() -> PipeBuffer {
        PipeBuffer {
            data: VecDeque::new(),
            readers: 1,
            writers: 1,
            charge: None,
            readers_waiting: WaitList::default(),
            writers_waiting: WaitList::default(),
        }
    }

    #[test]
    fn bytes_come_out_in_order_and_empty_waits() {
        let mut pipe = open();
        assert_eq!(pipe.read(&mut [0; 4]), Err(Errno::Again));
        assert_eq!(pipe.write(b"hello"), Ok(5));
        assert_eq!(pipe.write(b" world"), Ok(6));
        let mut buf = [0; 7];
        assert_eq!(pipe.read(&mut buf), Ok(7));
        assert_eq!(&buf, b"hello w");
        assert_eq!(pipe.read(&mut buf), Ok(4));
        assert_eq!(&buf[..4], b"orld");
        assert_eq!(pipe.read(&mut buf), Err(Errno::Again));
        // An empty read never waits.
        assert_eq!(pipe.read(&mut []), Ok(0));
    }

    #[test]
    fn end_of_file_only_once_drained_and_writers_gone() {
        let mut pipe = open();
        pipe.write(b"tail").unwrap();
        pipe.writers = 0;
        let mut buf = [0; 8];
        assert_eq!(
            pipe.read_readiness(),
            Readiness::Ready {
                nbytes: 4,
                hangup: true
            }
        );
        assert_eq!(pipe.read(&mut buf), Ok(4));
        assert_eq!(pipe.read(&mut buf), Ok(0));
        assert_eq!(pipe.read(&mut buf), Ok(0));
    }

    #[test]
    fn writing_without_a_reader_is_epipe() {
        let mut pipe = open();
        pipe.readers = 0;
        assert_eq!(pipe.write(b"x"), Err(Errno::Pipe));
        assert_eq!(
            pipe.write_readiness(),
            Readiness::Ready {
                nbytes: 0,
                hangup: true
            }
        );
    }

    #[test]
    fn full_pipe_waits_small_writes_are_atomic_large_ones_partial() {
        let mut pipe = open();
        let big = vec![7u8; PIPE_CAPACITY + 100];
        assert_eq!(pipe.write(&big), Ok(PIPE_CAPACITY));
        assert_eq!(pipe.write(b"x"), Err(Errno::Again));
        assert_eq!(pipe.write_readiness(), Readiness::Pending);
        // Room for 10 bytes: a 20-byte write (<= PIPE_BUF) waits rather than splitting...
        pipe.read(&mut [0; 10]).unwrap();
        assert_eq!(pipe.write(&[1; 20]), Err(Errno::Again));
        assert_eq!(pipe.write(&[1; 10]), Ok(10));
        // ...while a write larger than PIPE_BUF takes what fits.
        pipe.read(&mut [0; 100]).unwrap();
        assert_eq!(pipe.write(&vec![2; PIPE_BUF + 1]), Ok(100));
        assert_eq!(pipe.len(), PIPE_CAPACITY);
    }

    #[test]
    fn handles_count_ends_and_dropping_the_last_reader_frees_the_data() {
        let owner = Budget::new(u64::MAX, Errno::Nomem);
        let (reader, writer) = pipe(&owner).unwrap();
        assert_eq!(owner.used(), PIPE_CAPACITY as u64, "the buffer is charged");
        let second_writer = writer.duplicate().unwrap();
        let mut platform = crate::syscalls::tests::Fake::default();
        let mut writer = writer;
        assert_eq!(writer.write(&mut platform, b"abc"), Ok(3));
        drop(writer);
        let mut reader = reader;
        let mut buf = [0; 8];
        assert_eq!(reader.read(&mut platform, &mut buf), Ok(3));
        // One writer is still open: the pipe is empty, not at end of file.
        assert_eq!(reader.read(&mut platform, &mut buf), Err(Errno::Again));
        drop(second_writer);
        assert_eq!(reader.read(&mut platform, &mut buf), Ok(0));

        assert_eq!(owner.used(), PIPE_CAPACITY as u64, "the reader holds it");
        drop(reader);
        assert_eq!(owner.used(), 0);

        let (reader, mut writer) = pipe(&owner).unwrap();
        writer.write(&mut platform, b"unread").unwrap();
        drop(reader);
        assert_eq!(owner.used(), 0, "no reader: the buffer went with it");
        assert_eq!(writer.write(&mut platform, b"more"), Err(Errno::Pipe));
    }

    #[test]
    fn a_pipe_is_refused_when_its_maker_has_no_room_for_the_buffer() {
        let owner = Budget::new(PIPE_CAPACITY as u64 * 2 - 1, Errno::Nomem);
        let first = pipe(&owner).unwrap();
        assert_eq!(pipe(&owner).err(), Some(Errno::Nomem));
        drop(first);
        assert!(pipe(&owner).is_ok());
    }
}
