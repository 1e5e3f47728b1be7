//! The per-process WASI state: the platform, arguments, environment and fd table.

use alloc::vec::Vec;

use crate::errno::Result;
use crate::fdtable::{DIR_RIGHTS, FIRST_FILE_FD, FdEntry, FdTable, PREOPEN_INHERITING};
use crate::platform::Platform;
use crate::types::Fd;
use crate::vfs::{DirHandle, OpenDir};

/// Everything a process's syscalls act on.
pub struct WasiCtx<P: Platform> {
    pub(crate) platform: P,
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) fds: FdTable,
}

impl<P: Platform> WasiCtx<P> {
    /// A process with the given arguments (`argv[0]` first) and environment (`NAME=VALUE`
    /// entries), and stdin, stdout and stderr open as fds 0, 1 and 2. Strings are bytes; the
    /// program sees each followed by a NUL, so an embedded NUL truncates it there.
    pub fn new(platform: P, args: Vec<Vec<u8>>, env: Vec<Vec<u8>>) -> Self {
        WasiCtx {
            platform,
            args,
            env,
            fds: FdTable::with_stdio(),
        }
    }

    /// Opens `dir` as a preopened directory the program knows as `name` (`/` works, as does
    /// `.` or any other name), with every directory right and every right to inherit, as
    /// wasmtime grants. Returns its fd: the lowest free one from 3 on, so preopens added right
    /// after [`WasiCtx::new`] get 3, 4, ... in order, where wasi-libc looks for them.
    pub fn add_preopen(&mut self, name: &[u8], dir: DirHandle) -> Result<Fd> {
        let entry = FdEntry::directory(
            OpenDir {
                dir,
                preopen: Some(name.to_vec()),
            },
            DIR_RIGHTS,
            PREOPEN_INHERITING,
        );
        self.fds.insert_from(FIRST_FILE_FD, entry)
    }

    /// The platform, for the kernel's own use between syscalls.
    pub fn platform(&mut self) -> &mut P {
        &mut self.platform
    }

    /// The fd table, to add preopens or inspect state.
    pub fn fds(&mut self) -> &mut FdTable {
        &mut self.fds
    }

    /// Consumes the context, giving back the platform.
    pub fn into_platform(self) -> P {
        self.platform
    }
}
