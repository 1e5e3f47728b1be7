//! Pipes: a bounded byte queue between processes, with a read end and a write end that may
//! each be held by several fds (a shell hands them to the processes of a pipeline).
//!
//! The semantics are POSIX's: a read of an empty pipe waits while a write end is open and
//! returns end of file once none is; a write with no read end left fails with `EPIPE`; a
//! write of at most [`PIPE_BUF`] bytes goes in whole or waits, a longer one may go in part.
//! "Waits" means `Err(Errno::Again)` here: the syscall layer turns it into a blocked process
//! (or `EAGAIN` for a non-blocking fd), and the kernel repeats the call later.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::budget::{Budget, Charge};
use crate::errno::{Errno, Result};
use crate::fallible::{infallible, reserve};
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

/// A pipe's bytes: a ring over a buffer of [`PIPE_CAPACITY`] bytes, allocated whole when the
/// pipe is made, so that a read or a write is at most two copies and never allocates.
#[derive(Debug, Default)]
struct Ring {
    buf: Vec<u8>,
    /// Where the oldest byte is.
    head: usize,
    /// Bytes held.
    len: usize,
}

impl Ring {
    /// An empty ring of [`PIPE_CAPACITY`] bytes, or `ENOMEM`.
    fn new() -> Result<Ring> {
        let mut buf = Vec::new();
        reserve(&mut buf, PIPE_CAPACITY)?;
        buf.resize(PIPE_CAPACITY, 0);
        Ok(Ring {
            buf,
            head: 0,
            len: 0,
        })
    }

    /// Bytes that still fit.
    fn room(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    /// Moves up to `out.len()` of the oldest bytes into `out`; returns how many.
    fn take(&mut self, out: &mut [u8]) -> usize {
        let count = out.len().min(self.len);
        let first = count.min(PIPE_CAPACITY.wrapping_sub(self.head));
        let (head, tail) = out.split_at_mut(first);
        copy(head, self.buf.get(self.head..self.head.wrapping_add(first)));
        let wrapped = count.wrapping_sub(first);
        if wrapped > 0 {
            copy(
                tail.get_mut(..wrapped).unwrap_or_default(),
                self.buf.get(..wrapped),
            );
        }
        self.len = self.len.wrapping_sub(count);
        // Emptied, it starts over at the front, so that the next bytes come in one copy.
        self.head = match self.len {
            0 => 0,
            _ => self.head.wrapping_add(count) & RING_MASK,
        };
        count
    }

    /// Appends as much of `data` as fits; returns how many bytes.
    fn put(&mut self, data: &[u8]) -> usize {
        let count = data.len().min(self.room());
        let tail = self.head.wrapping_add(self.len) & RING_MASK;
        let first = count.min(PIPE_CAPACITY.wrapping_sub(tail));
        if let Some(slot) = self.buf.get_mut(tail..tail.wrapping_add(first)) {
            copy(slot, data.get(..first));
        }
        let wrapped = count.wrapping_sub(first);
        if wrapped > 0
            && let Some(slot) = self.buf.get_mut(..wrapped)
        {
            copy(slot, data.get(first..count));
        }
        self.len = self.len.wrapping_add(count);
        count
    }
}

/// Offsets in the ring wrap with this mask.
const RING_MASK: usize = PIPE_CAPACITY - 1;
const _: () = assert!(PIPE_CAPACITY.is_power_of_two());

/// Copies `source` (if any, and as long as `slot`) into `slot`. A single byte, as a shell
/// reading a line byte by byte moves it, is copied directly: calling `memcpy` costs more
/// than the byte.
fn copy(slot: &mut [u8], source: Option<&[u8]>) {
    match (slot, source) {
        ([byte], Some([from])) => *byte = *from,
        (slot, Some(source)) if slot.len() == source.len() => slot.copy_from_slice(source),
        _ => {}
    }
}

/// The queue and how many handles each end has.
#[derive(Debug, Default)]
pub struct PipeBuffer {
    data: Ring,
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
        if self.data.len == 0 {
            return if self.writers == 0 || buf.is_empty() {
                Ok(0)
            } else {
                Err(Errno::Again)
            };
        }
        let count = self.data.take(buf);
        if !self.writers_waiting.is_empty() {
            self.writers_waiting.wake_all();
        }
        Ok(count)
    }

    /// Adds as much of `data` as fits (all or nothing up to [`PIPE_BUF`] bytes): `EPIPE`
    /// with no reader left, `Err(Again)` when nothing can go in yet.
    pub fn write(&mut self, data: &[u8]) -> Result<usize> {
        if self.readers == 0 {
            return Err(Errno::Pipe);
        }
        let room = self.data.room();
        if data.is_empty() {
            return Ok(0);
        }
        // Waits when nothing fits, or a write of at most PIPE_BUF bytes does not fit whole.
        if data.len() > room && (room == 0 || data.len() <= PIPE_BUF) {
            return Err(Errno::Again);
        }
        let count = self.data.put(data);
        if !self.readers_waiting.is_empty() {
            self.readers_waiting.wake_all();
        }
        Ok(count)
    }

    /// Bytes waiting to be read.
    pub fn len(&self) -> usize {
        self.data.len
    }

    /// Whether no bytes are waiting.
    pub fn is_empty(&self) -> bool {
        self.data.len == 0
    }

    fn read_readiness(&self) -> Readiness {
        match (self.data.len, self.writers) {
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
        let room = self.data.room();
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
    let data = Ring::new()?;
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
            pipe.data = Ring::default();
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
            data: Ring::new().unwrap(),
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
    fn bytes_keep_their_order_across_the_end_of_the_ring() {
        let mut pipe = open();
        let mut next = 0u8;
        let mut expected = 0u8;
        // Writes and reads of sizes that do not divide the capacity wrap at every offset.
        for round in 0..200 {
            let chunk: alloc::vec::Vec<u8> = (0..(round * 37 % 4000 + 1))
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            assert_eq!(pipe.write(&chunk), Ok(chunk.len()));
            let mut out = vec![0; round * 53 % 5000 + 1];
            while pipe.len() > 3000 || round == 199 && !pipe.is_empty() {
                let got = pipe.read(&mut out).unwrap();
                for &byte in &out[..got] {
                    expected = expected.wrapping_add(1);
                    assert_eq!(byte, expected, "round {round}");
                }
            }
        }
        assert_eq!(expected, next);
        assert_eq!(pipe.read(&mut [0; 4]), Err(Errno::Again));
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
