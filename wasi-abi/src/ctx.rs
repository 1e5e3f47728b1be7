//! The per-process WASI state: the platform, arguments, environment and fd table.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;

use crate::budget::Budget;
use crate::errno::{Errno, Result};
use crate::fdtable::{
    DIR_RIGHTS, FIRST_FILE_FD, FdEntry, FdTable, LISTENER_RIGHTS, PREOPEN_INHERITING,
};
use crate::file::WasiFile;
use crate::platform::Platform;
use crate::types::{Fd, Fdflags, Timestamp};
use crate::vfs::{DirHandle, OpenDir};
use crate::wake::Waker;

/// Everything a process's syscalls act on.
pub struct WasiCtx<P: Platform> {
    pub(crate) platform: P,
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) fds: FdTable,
    /// When a `poll_oneoff` that blocked first ran: its repeats measure timeouts from there.
    pub(crate) poll_started: Option<Timestamp>,
    /// A `sched_yield` has given up the CPU and is being repeated.
    pub(crate) yielding: bool,
    /// What the process holds in the kernel, against its memory limit (`ENOMEM` beyond):
    /// the pipes it made and the connections it accepted here, and whatever the kernel
    /// charges besides (linear memory, the interpreter's code).
    pub(crate) account: Rc<Budget>,
    /// What the objects its calls block on wake (see [`crate::wake`]).
    pub(crate) waker: Waker,
}

impl<P: Platform> WasiCtx<P> {
    /// A process with the given arguments (`argv[0]` first) and environment (`NAME=VALUE`
    /// entries), and stdin, stdout and stderr open as fds 0, 1 and 2. Strings are bytes; the
    /// program sees each followed by a NUL, so an embedded NUL truncates it there.
    pub fn new(platform: P, args: Vec<Vec<u8>>, env: Vec<Vec<u8>>) -> Self {
        let terminal = platform.stdin_is_terminal();
        Self::with_fds(platform, args, env, FdTable::with_stdio(terminal))
    }

    /// A process with the given fd table (a child's, whose stdio and preopens come from its
    /// parent: see [`FdTable::duplicate`]).
    pub fn with_fds(platform: P, args: Vec<Vec<u8>>, env: Vec<Vec<u8>>, mut fds: FdTable) -> Self {
        let account = Budget::new(u64::MAX, Errno::Nomem);
        fds.set_account(Rc::clone(&account));
        WasiCtx {
            platform,
            args,
            env,
            fds,
            poll_started: None,
            yielding: false,
            account,
            waker: Waker::new(),
        }
    }

    /// The process's waker: whether its blocked call waits for an object to change.
    pub fn waker(&self) -> &Waker {
        &self.waker
    }

    /// The process's account: its memory limit and what is charged to it.
    pub fn account(&self) -> &Rc<Budget> {
        &self.account
    }

    /// Opens `dir` as a preopened directory the program knows as `name` (`/` works, as does
    /// `.` or any other name), with every directory right and every right to inherit, as
    /// wasmtime grants. Returns its fd: the lowest free one from 3 on, so preopens added right
    /// after [`WasiCtx::new`] get 3, 4, ... in order, where wasi-libc looks for them.
    pub fn add_preopen(&mut self, name: &[u8], dir: DirHandle) -> Result<Fd> {
        let entry = FdEntry::directory(
            OpenDir {
                dir,
                preopen: Some(crate::fallible::copy(name)?),
            },
            DIR_RIGHTS,
            PREOPEN_INHERITING,
        );
        self.fds.insert_from(FIRST_FILE_FD, entry)
    }

    /// Hands the program a listening socket (wasmi's and wasmtime's `--tcplisten`): it
    /// gets the lowest free fd from 3 on, so listeners added right after [`WasiCtx::new`]
    /// come first, before the preopened directories. The fd is non-blocking, as both hosts
    /// hand it over (they `set_nonblocking(true)` the socket before passing it on, and
    /// `fd_fdstat_get` reports `NONBLOCK`): `sock_accept` with no connection waiting is
    /// `EAGAIN`, and the program waits in `poll_oneoff`. Go's wasip1 runtime relies on it
    /// (one goroutine blocked in `accept` would stop them all); a program that wants
    /// blocking accepts clears the flag with `fd_fdstat_set_flags`, as on a host. The
    /// rights are [`LISTENER_RIGHTS`], the ones `sock.rs` checks (wasi-common reports
    /// `FD_READ | FD_WRITE` for any socket and checks none).
    pub fn add_listener(&mut self, listener: Box<dyn WasiFile>) -> Result<Fd> {
        let mut entry = FdEntry::new(listener, LISTENER_RIGHTS);
        entry.flags = Fdflags::NONBLOCK;
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

    /// Writes `message` to the process's fd 2, whatever it is now (the console, a pipe, a
    /// file), as the kernel reports a trap to the one who started the process; a closed or
    /// unwritable fd 2 drops it.
    pub fn write_stderr(&mut self, message: &[u8]) {
        if let Ok(file) = self.fds.get_mut(2).and_then(|entry| entry.file_mut()) {
            let _ = file.write(&mut self.platform, message);
        }
    }

    /// Whether fd 0 is the console as a terminal (what `console_mode` needs).
    pub fn stdin_is_terminal(&self) -> bool {
        self.fds
            .get(0)
            .is_ok_and(|entry| entry.filetype() == crate::types::Filetype::CharacterDevice)
    }

    /// The arguments, `argv[0]` first.
    pub fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    /// Consumes the context, giving back the platform.
    pub fn into_platform(self) -> P {
        self.platform
    }
}
