//! What an open file descriptor refers to, and the operations each kind supports.
//!
//! As in wasi-common's `WasiFile`, every operation has a "not supported" default, so a kind of
//! fd implements only what it does: stdio here, and open regular files of the VFS
//! ([`crate::vfs::OpenFile`]). Directories are not files: the fd table holds them as a distinct
//! kind of object ([`crate::fdtable::FdObject::Dir`]) that carries the `path_*` family.

use alloc::boxed::Box;
use alloc::rc::Rc;

use crate::budget::Budget;
use crate::errno::{Errno, Result};
use crate::platform::{Platform, StdinPoll, Stream};
use crate::types::{Advice, Fdflags, Filesize, Filestat, Filetype, Sdflags, Timestamp, Whence};
use crate::vfs::SetTimes;
use crate::wake::Waker;

/// Whether an fd is ready for a `poll_oneoff` subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Ready now: `nbytes` can be read or written without blocking; `hangup` at end of file.
    Ready {
        /// Bytes available (a hint; 1 when unknown).
        nbytes: Filesize,
        /// The other end is closed (stdin at end of file).
        hangup: bool,
    },
    /// Not ready yet: it may become ready when the console receives input or another
    /// process acts on the same pipe.
    Pending,
}

/// Operations on an open file-like object, each defaulting to the errno wasmtime returns for
/// an fd that does not support it.
pub trait WasiFile {
    /// The file type reported by `fd_fdstat_get` and `fd_filestat_get`.
    fn filetype(&self) -> Filetype;

    /// Reads into `buf` without waiting: `Ok(0)` is end of file, `Err(Errno::Again)` means
    /// nothing is there yet (`fd_read` then blocks the process unless the fd is non-blocking).
    fn read(&mut self, _platform: &mut dyn Platform, _buf: &mut [u8]) -> Result<usize> {
        Err(Errno::Badf)
    }

    /// Writes `data` without waiting, returning how much was written; `Err(Errno::Again)` when
    /// nothing fits yet (a full pipe).
    fn write(&mut self, _platform: &mut dyn Platform, _data: &[u8]) -> Result<usize> {
        Err(Errno::Badf)
    }

    /// Reads into `buf` from `offset` without moving the fd's offset (`fd_pread`); the default
    /// is for unseekable streams.
    fn read_at(&mut self, _buf: &mut [u8], _offset: Filesize) -> Result<usize> {
        Err(Errno::Spipe)
    }

    /// Writes `data` at `offset` without moving the fd's offset (`fd_pwrite`); the default is
    /// for unseekable streams.
    fn write_at(
        &mut self,
        _platform: &mut dyn Platform,
        _data: &[u8],
        _offset: Filesize,
    ) -> Result<usize> {
        Err(Errno::Spipe)
    }

    /// Moves the offset; the default is for unseekable streams.
    fn seek(&mut self, _offset: i64, _whence: Whence) -> Result<Filesize> {
        Err(Errno::Spipe)
    }

    /// The current offset; the default is for unseekable streams.
    fn tell(&self) -> Result<Filesize> {
        Err(Errno::Spipe)
    }

    /// Attributes for `fd_filestat_get`: by default only the file type.
    fn filestat(&self) -> Result<Filestat> {
        Ok(Filestat::of_type(self.filetype()))
    }

    /// `fd_filestat_set_size`.
    fn set_size(&mut self, _platform: &mut dyn Platform, _size: Filesize) -> Result<()> {
        Err(Errno::Badf)
    }

    /// `fd_filestat_set_times`, with `now` already resolved for the `*_NOW` flags.
    fn set_times(&mut self, _times: SetTimes, _now: Timestamp) -> Result<()> {
        Err(Errno::Badf)
    }

    /// Told the fd's new flags after `fd_fdstat_set_flags` (a file needs `APPEND`).
    fn set_fdflags(&mut self, _flags: Fdflags) {}

    /// `fd_advise`.
    fn advise(&mut self, _offset: Filesize, _len: Filesize, _advice: Advice) -> Result<()> {
        Err(Errno::Badf)
    }

    /// `fd_allocate`.
    fn allocate(&mut self, _offset: Filesize, _len: Filesize) -> Result<()> {
        Err(Errno::Badf)
    }

    /// `fd_sync`.
    fn sync(&mut self) -> Result<()> {
        Err(Errno::Badf)
    }

    /// `fd_datasync`.
    fn datasync(&mut self) -> Result<()> {
        Err(Errno::Badf)
    }

    /// Registers `waker` to be woken when a read that found nothing (`Err(Again)`) may
    /// find something; false (the default) if this kind of file cannot wake a waiter.
    fn wait_readable(&mut self, _waker: &Waker) -> bool {
        false
    }

    /// Registers `waker` to be woken when a write that found no room (`Err(Again)`) may
    /// find some; false (the default) if this kind of file cannot wake a waiter.
    fn wait_writable(&mut self, _waker: &Waker) -> bool {
        false
    }

    /// Readiness for an `fd_read` subscription.
    fn read_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        Err(Errno::Badf)
    }

    /// Readiness for an `fd_write` subscription.
    fn write_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        Err(Errno::Badf)
    }

    /// `sock_accept` on a listening socket: the next established connection, without
    /// waiting (`EAGAIN` when none is queued; the syscall then blocks unless the listener
    /// is non-blocking). The connection's buffers are charged to `owner`, the accepting
    /// process (`ENOMEM`, the connection left queued, when it has no room). Anything but a
    /// socket is `ENOTSOCK`.
    fn accept(
        &mut self,
        _platform: &mut dyn Platform,
        _owner: &Rc<Budget>,
    ) -> Result<Box<dyn WasiFile>> {
        Err(Errno::Notsock)
    }

    /// `sock_recv` with `RECV_PEEK`: copies what [`WasiFile::read`] would return into `buf`
    /// but leaves it queued.
    fn peek(&mut self, _platform: &mut dyn Platform, _buf: &mut [u8]) -> Result<usize> {
        Err(Errno::Notsock)
    }

    /// `sock_shutdown`: no more receiving (`RD`), no more sending (`WR`, which sends the
    /// peer an end of stream once queued data is out), or both.
    fn shutdown(&mut self, _platform: &mut dyn Platform, _how: Sdflags) -> Result<()> {
        Err(Errno::Notsock)
    }

    /// Another handle to the same object, for a child process's fd table (its stdio and
    /// preopens come from the parent's fds). A file's copy starts at the same offset but
    /// moves on its own. `None` when the object cannot be shared.
    fn duplicate(&self) -> Option<Box<dyn WasiFile>> {
        None
    }
}

/// The three standard streams of the platform console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    /// fd 0.
    Stdin,
    /// fd 1.
    Stdout,
    /// fd 2.
    Stderr,
}

impl Stdio {
    fn stream(self) -> Option<Stream> {
        match self {
            Stdio::Stdin => None,
            Stdio::Stdout => Some(Stream::Stdout),
            Stdio::Stderr => Some(Stream::Stderr),
        }
    }

    /// Boxed for the fd table, as a terminal.
    pub fn boxed(self) -> Box<dyn WasiFile> {
        self.console(true)
    }

    /// Boxed for the fd table: a character device when the console is a `terminal`, as
    /// `isatty` expects, else of unknown type (a pipe or file on the host), as wasmtime
    /// reports redirected stdio.
    pub fn console(self, terminal: bool) -> Box<dyn WasiFile> {
        Box::new(Console {
            stream: self,
            terminal,
        })
    }
}

/// One standard stream of the console, as an fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Console {
    stream: Stdio,
    terminal: bool,
}

/// Readiness reported for a stream whose byte count is unknown, as wasmtime reports it.
const UNKNOWN_NBYTES: Filesize = 1;

impl WasiFile for Console {
    fn filetype(&self) -> Filetype {
        if self.terminal {
            Filetype::CharacterDevice
        } else {
            Filetype::Unknown
        }
    }

    fn read(&mut self, platform: &mut dyn Platform, buf: &mut [u8]) -> Result<usize> {
        match self.stream {
            Stdio::Stdin => platform.read_stdin(buf),
            Stdio::Stdout | Stdio::Stderr => Err(Errno::Badf),
        }
    }

    fn write(&mut self, platform: &mut dyn Platform, data: &[u8]) -> Result<usize> {
        match self.stream.stream() {
            Some(stream) => platform.write(stream, data),
            None => Err(Errno::Badf),
        }
    }

    fn read_readiness(&mut self, platform: &mut dyn Platform) -> Result<Readiness> {
        if self.stream != Stdio::Stdin {
            return Err(Errno::Badf);
        }
        Ok(match platform.poll_stdin() {
            StdinPoll::Ready => Readiness::Ready {
                nbytes: UNKNOWN_NBYTES,
                hangup: false,
            },
            StdinPoll::Eof => Readiness::Ready {
                nbytes: 0,
                hangup: true,
            },
            StdinPoll::Empty => Readiness::Pending,
        })
    }

    fn write_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        match self.stream.stream() {
            Some(_) => Ok(Readiness::Ready {
                nbytes: UNKNOWN_NBYTES,
                hangup: false,
            }),
            None => Err(Errno::Badf),
        }
    }

    fn duplicate(&self) -> Option<Box<dyn WasiFile>> {
        Some(crate::fallible::infallible(|| Box::new(*self)))
    }
}
