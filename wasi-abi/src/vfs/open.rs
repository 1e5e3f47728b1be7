//! What an fd holds once `path_open` (or a preopen) has opened an inode: an [`OpenFile`] for
//! a regular file, an [`OpenDir`] for a directory.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::node::NodeRef;
use super::{DirHandle, SetTimes, VFS_DEV, apply_times};
use crate::errno::{Errno, Result};
use crate::fallible::infallible;
use crate::file::{Readiness, WasiFile};
use crate::platform::Platform;
use crate::types::{Advice, ClockId, Fdflags, Filesize, Filestat, Filetype, Timestamp, Whence};

/// The current time for file timestamps: the platform's realtime clock, or 0 if it has none.
pub fn now(platform: &mut dyn Platform) -> Timestamp {
    platform.clock_now(ClockId::Realtime).unwrap_or(0)
}

/// An open regular file: the inode (which stays alive while open, even once unlinked), the
/// fd's offset and its append mode.
#[derive(Clone)]
pub struct OpenFile {
    node: NodeRef,
    offset: Filesize,
    append: bool,
}

impl OpenFile {
    /// Opens `node` at offset 0; `append` makes every write go to the end.
    pub fn new(node: NodeRef, append: bool) -> Self {
        OpenFile {
            node,
            offset: 0,
            append,
        }
    }

    fn size(&self) -> Filesize {
        self.node.borrow().size()
    }

    /// Writes `data` at `offset` and marks the file modified.
    fn write_data(
        &self,
        platform: &mut dyn Platform,
        offset: Filesize,
        data: &[u8],
    ) -> Result<usize> {
        let now = now(platform);
        let mut node = self.node.borrow_mut();
        let done = node
            .as_file_mut()
            .ok_or(Errno::Badf)?
            .write_at(offset, data)?;
        node.mtim = now;
        node.ctim = now;
        Ok(done)
    }

    fn read_data(&self, offset: Filesize, buf: &mut [u8]) -> Result<usize> {
        let node = self.node.borrow();
        Ok(node.as_file().ok_or(Errno::Badf)?.read_at(offset, buf))
    }
}

impl WasiFile for OpenFile {
    fn filetype(&self) -> Filetype {
        Filetype::RegularFile
    }

    fn read(&mut self, _platform: &mut dyn Platform, buf: &mut [u8]) -> Result<usize> {
        let done = self.read_data(self.offset, buf)?;
        self.offset = self.offset.saturating_add(done as u64);
        Ok(done)
    }

    fn write(&mut self, platform: &mut dyn Platform, data: &[u8]) -> Result<usize> {
        if self.append {
            self.offset = self.size();
        }
        let done = self.write_data(platform, self.offset, data)?;
        self.offset = self.offset.saturating_add(done as u64);
        Ok(done)
    }

    fn read_at(&mut self, buf: &mut [u8], offset: Filesize) -> Result<usize> {
        self.read_data(offset, buf)
    }

    fn write_at(
        &mut self,
        platform: &mut dyn Platform,
        data: &[u8],
        offset: Filesize,
    ) -> Result<usize> {
        self.write_data(platform, offset, data)
    }

    fn seek(&mut self, offset: i64, whence: Whence) -> Result<Filesize> {
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => self.offset,
            Whence::End => self.size(),
        };
        let position = base.checked_add_signed(offset).ok_or(Errno::Inval)?;
        if i64::try_from(position).is_err() {
            return Err(Errno::Inval);
        }
        self.offset = position;
        Ok(position)
    }

    fn tell(&self) -> Result<Filesize> {
        Ok(self.offset)
    }

    fn filestat(&self) -> Result<Filestat> {
        Ok(self.node.borrow().filestat(VFS_DEV))
    }

    fn set_size(&mut self, platform: &mut dyn Platform, size: Filesize) -> Result<()> {
        let now = now(platform);
        let mut node = self.node.borrow_mut();
        node.as_file_mut().ok_or(Errno::Badf)?.set_size(size)?;
        node.mtim = now;
        node.ctim = now;
        Ok(())
    }

    fn set_times(&mut self, times: SetTimes, now: Timestamp) -> Result<()> {
        apply_times(&self.node, times, now);
        Ok(())
    }

    fn set_fdflags(&mut self, flags: Fdflags) {
        self.append = flags.contains(Fdflags::APPEND);
    }

    fn advise(&mut self, _offset: Filesize, _len: Filesize, _advice: Advice) -> Result<()> {
        Ok(())
    }

    /// Grows the file to cover `offset + len`, as `posix_fallocate` (memory is only taken
    /// when the range is written). A zero length is `EINVAL`, as Linux.
    fn allocate(&mut self, offset: Filesize, len: Filesize) -> Result<()> {
        if len == 0 {
            return Err(Errno::Inval);
        }
        let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
        let mut node = self.node.borrow_mut();
        let data = node.as_file_mut().ok_or(Errno::Badf)?;
        if end > data.size() {
            data.set_size(end)?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn datasync(&mut self) -> Result<()> {
        Ok(())
    }

    fn read_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        Ok(Readiness::Ready {
            nbytes: self.size().saturating_sub(self.offset),
            hangup: false,
        })
    }

    fn write_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        Ok(Readiness::Ready {
            nbytes: 0,
            hangup: false,
        })
    }

    fn duplicate(&self) -> Option<Box<dyn WasiFile>> {
        Some(infallible(|| Box::new(self.clone())))
    }
}

/// An open device (`/dev/null`): reads are at end of file, writes take everything, as on
/// Linux; its attributes are its inode's.
#[derive(Clone)]
pub struct OpenDevice {
    node: NodeRef,
}

impl OpenDevice {
    /// Opens the device inode `node`.
    pub fn new(node: NodeRef) -> Self {
        OpenDevice { node }
    }
}

impl WasiFile for OpenDevice {
    fn filetype(&self) -> Filetype {
        Filetype::CharacterDevice
    }

    fn read(&mut self, _platform: &mut dyn Platform, _buf: &mut [u8]) -> Result<usize> {
        Ok(0)
    }

    fn write(&mut self, _platform: &mut dyn Platform, data: &[u8]) -> Result<usize> {
        Ok(data.len())
    }

    fn read_at(&mut self, _buf: &mut [u8], _offset: Filesize) -> Result<usize> {
        Ok(0)
    }

    fn write_at(
        &mut self,
        _platform: &mut dyn Platform,
        data: &[u8],
        _offset: Filesize,
    ) -> Result<usize> {
        Ok(data.len())
    }

    fn seek(&mut self, _offset: i64, _whence: Whence) -> Result<Filesize> {
        Ok(0)
    }

    fn tell(&self) -> Result<Filesize> {
        Ok(0)
    }

    fn filestat(&self) -> Result<Filestat> {
        Ok(self.node.borrow().filestat(VFS_DEV))
    }

    fn set_size(&mut self, _platform: &mut dyn Platform, _size: Filesize) -> Result<()> {
        Ok(())
    }

    fn read_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        Ok(Readiness::Ready {
            nbytes: 0,
            hangup: false,
        })
    }

    fn write_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        Ok(Readiness::Ready {
            nbytes: 0,
            hangup: false,
        })
    }

    fn duplicate(&self) -> Option<Box<dyn WasiFile>> {
        Some(infallible(|| Box::new(self.clone())))
    }
}

/// An open directory: the handle `path_*` calls resolve through, and the name it was
/// preopened under, if it is a preopen.
#[derive(Clone)]
pub struct OpenDir {
    /// The directory.
    pub dir: DirHandle,
    /// The guest-visible name given to `fd_prestat_dir_name`, for preopens.
    pub preopen: Option<Vec<u8>>,
}
