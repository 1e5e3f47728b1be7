//! `cella_process`: Cella's own import module for the programs that manage other programs
//! (init, the shell, `ps`, `kill`). Pure preview1 programs never import it.
//!
//! The ABI itself — each function's name and parameters, the records and the constants — is
//! defined once, in the `cella-process-abi` crate (`process-abi/`), which the programs' side
//! (`userland/process`) shares; it is re-exported here. This module holds what can be
//! decided without the scheduler: the records read from and written to guest memory, the
//! spawn request with its strings and preopens copied out (hostile input gets an errno or a
//! trap, never a panic), the child's fd table built from the caller's fds, and `pipe`, which
//! touches only the caller. The kernel's scheduler runs the calls that need the process
//! table.

use alloc::vec::Vec;

/// The ABI crate itself, for its [`Record`](abi::Record) trait.
pub use cella_process_abi as abi;
pub use cella_process_abi::{
    ANY_CHILD, CONSOLE_COOKED, CONSOLE_RAW, Call, FsInfo, Function, Group, MAX_PREOPENS,
    MAX_SIGNAL, MAX_STRINGS_BYTES, MODULE, NAME_BYTES, PreopenEntry, ProcessRecord, ProcessState,
    SIGCONT, SIGINT, SIGSTOP, SIGTSTP, SpawnRequest, Status, SystemInfo, WAIT_NOHANG, WAIT_OPTIONS,
    WAIT_UNTRACED, WaitResult, is_stop_signal,
};

use crate::ctx::WasiCtx;
use crate::errno::{Errno, Result};
use crate::fallible::{copy, reserve};
use crate::fdtable::{FdEntry, FdTable};
use crate::memory::{Bytes, BytesMut, GuestMemory, GuestType};
use crate::outcome::{Fault, SysResult};
use crate::pipe::{PIPE_READ_RIGHTS, PIPE_WRITE_RIGHTS, pipe};
use crate::platform::Platform;
use crate::types::{Fd, Filetype, Rights};
use crate::vfs::OpenDir;

/// The ABI's records are read from and written to guest memory with their own layout.
macro_rules! guest_record {
    ($($record:ty),*) => {$(
        impl GuestType for $record {
            const SIZE: u32 = <$record as abi::Record>::SIZE as u32;
            const ALIGN: u32 = <$record as abi::Record>::ALIGN as u32;
            fn decode(bytes: &Bytes<'_>) -> Self {
                <$record as abi::Record>::decode(bytes.as_slice())
            }
            fn encode(&self, out: &mut BytesMut<'_>) {
                <$record as abi::Record>::encode(self, out.as_mut_slice());
            }
        }
    )*};
}

guest_record!(
    SpawnRequest,
    PreopenEntry,
    WaitResult,
    ProcessRecord,
    SystemInfo,
    FsInfo
);

/// A spawn request with everything copied out of guest memory: the [`SpawnRequest`] record
/// with its strings and preopen table followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spawn {
    /// The caller's fd of the module file.
    pub program_fd: Fd,
    /// argv, `argv[0]` first (never empty).
    pub args: Vec<Vec<u8>>,
    /// `NAME=VALUE` entries.
    pub env: Vec<Vec<u8>>,
    /// The caller's fds that become the child's 0, 1 and 2.
    pub stdio: [Fd; 3],
    /// The caller's directory fds and the names the child knows them by (fds 3, 4, ...).
    pub preopens: Vec<(Fd, Vec<u8>)>,
    /// The child's process group.
    pub group: Group,
    /// Cap on the child's memory (linear memory and what the kernel holds for it) in
    /// bytes; 0 for the caller's own. Never above the caller's.
    pub memory_limit: u64,
    /// Total fuel before the child is ended; 0 for the caller's own limit (none if it has
    /// none). Never above the caller's.
    pub fuel_limit: u64,
    /// The most fds the child may have open; 0 for the caller's own limit. Never above it.
    pub max_fds: u32,
}

impl Spawn {
    /// Reads the request at `ptr`: a pointer out of memory or misaligned traps; a malformed
    /// request (empty argv, strings not NUL-terminated, too many preopens) is `EINVAL`;
    /// strings over [`MAX_STRINGS_BYTES`] are `E2BIG`; no memory for the copies is `ENOMEM`.
    pub fn read(mem: &GuestMemory<'_>, ptr: u32) -> SysResult<Spawn> {
        let request = mem.read::<SpawnRequest>(ptr)?;
        let args = strings(mem, request.argv, request.argv_len)?;
        if args.is_empty() {
            return Err(Errno::Inval.into());
        }
        let env = strings(mem, request.env, request.env_len)?;
        if request.preopens_len > MAX_PREOPENS {
            return Err(Errno::Inval.into());
        }
        let table = mem.array::<PreopenEntry>(request.preopens, request.preopens_len)?;
        let mut preopens = Vec::new();
        reserve(&mut preopens, request.preopens_len as usize)?;
        for entry in table.ptrs() {
            let entry = mem.read::<PreopenEntry>(entry)?;
            let name = mem.slice(entry.name, entry.name_len)?;
            preopens.push((entry.fd, copy(name)?));
        }
        Ok(Spawn {
            program_fd: request.program_fd,
            args,
            env,
            stdio: request.stdio,
            preopens,
            group: request.group,
            memory_limit: request.memory_limit,
            fuel_limit: request.fuel_limit,
            max_fds: request.max_fds,
        })
    }
}

/// Splits `len` bytes at `ptr`, each string ended by a NUL, into the strings.
fn strings(mem: &GuestMemory<'_>, ptr: u32, len: u32) -> SysResult<Vec<Vec<u8>>> {
    if len > MAX_STRINGS_BYTES {
        return Err(Errno::Toobig.into());
    }
    let bytes = mem.slice(ptr, len)?;
    let body = match bytes.split_last() {
        None => return Ok(Vec::new()),
        Some((&0, body)) => body,
        Some(_) => return Err(Errno::Inval.into()),
    };
    // A megabyte of NULs is a million strings: the list is counted and reserved first.
    let mut out = Vec::new();
    reserve(&mut out, body.split(|&b| b == 0).count())?;
    for string in body.split(|&b| b == 0) {
        out.push(copy(string)?);
    }
    Ok(out)
}

/// The child's fd table: the caller's `stdio` fds as 0, 1, 2, then each preopen in order:
/// a directory under its new name, with the rights the caller has on it, or a socket (a
/// listener handed on, as a shell passes `--tcplisten` sockets to its commands; the name is
/// ignored); anything else is `ENOTDIR`. No memory for the table is `ENOMEM`.
pub fn child_fds<P: Platform>(caller: &WasiCtx<P>, request: &Spawn) -> Result<FdTable> {
    let mut entries = Vec::new();
    reserve(
        &mut entries,
        request.stdio.len().saturating_add(request.preopens.len()),
    )?;
    for fd in request.stdio {
        entries.push(caller.fds.duplicate(fd)?);
    }
    for (fd, name) in &request.preopens {
        let entry = caller.fds.get(*fd)?;
        if entry.filetype() == Filetype::SocketStream {
            entries.push(caller.fds.duplicate(*fd)?);
            continue;
        }
        let dir = entry.dir()?;
        entries.push(FdEntry::directory(
            OpenDir {
                dir: dir.dir.clone(),
                preopen: Some(copy(name)?),
            },
            entry.rights_base,
            entry.rights_inheriting,
        ));
    }
    let mut table = FdTable::from_entries(entries)?;
    table.set_limit(narrowed(caller.fds.limit(), request.max_fds as usize));
    Ok(table)
}

/// A child's limit from its parent's and the one requested (0: the parent's): never wider
/// than the parent's, as `setrlimit` lets a process lower its limits only.
pub fn narrowed<T: Ord + Default>(parent: T, requested: T) -> T {
    if requested == T::default() {
        parent
    } else {
        requested.min(parent)
    }
}

/// The most bytes a program file may have.
pub const MAX_PROGRAM_BYTES: u64 = 256 << 20;

/// The whole content of the caller's file `fd` (which must be readable): the module to spawn.
pub fn read_program<P: Platform>(caller: &mut WasiCtx<P>, fd: Fd) -> Result<Vec<u8>> {
    let entry = caller.fds.get_mut(fd)?;
    entry.require(Rights::FD_READ)?;
    let file = entry.file_mut()?;
    let size = file.filestat()?.size;
    if size > MAX_PROGRAM_BYTES {
        return Err(Errno::Fbig);
    }
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(size as usize)
        .map_err(|_| Errno::Nomem)?;
    bytes.resize(size as usize, 0);
    let mut done = 0;
    while let Some(rest) = bytes.get_mut(done..).filter(|rest| !rest.is_empty()) {
        match file.read_at(rest, done as u64)? {
            0 => break,
            count => done = done.saturating_add(count),
        }
    }
    bytes.truncate(done);
    Ok(bytes)
}

/// `pipe(fds_out)`: opens both ends in the caller and stores the read fd, then the write fd.
pub fn open_pipe<P: Platform>(
    caller: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fds_out: u32,
) -> SysResult {
    let out = mem.array::<u32>(fds_out, 2)?;
    if !caller.fds.has_room_for(2) {
        return Err(Errno::Mfile.into());
    }
    // Room for both fds first, so that the table cannot fail for memory in between.
    caller.fds.reserve_from(0, 2)?;
    let (reader, writer) = pipe(&caller.account)?;
    let read_fd = caller.fds.insert(FdEntry::new(reader, PIPE_READ_RIGHTS))?;
    let write_fd = match caller.fds.insert(FdEntry::new(writer, PIPE_WRITE_RIGHTS)) {
        Ok(fd) => fd,
        Err(errno) => {
            let _ = caller.fds.remove(read_fd);
            return Err(errno.into());
        }
    };
    let mut ptrs = out.ptrs();
    if let (Some(first), Some(second)) = (ptrs.next(), ptrs.next()) {
        mem.write(first, &read_fd)?;
        mem.write(second, &write_fd)?;
    }
    Ok(())
}

/// `fs_info(fd, out)`: stores the size and use of the file system holding the caller's
/// directory `fd`.
pub fn fs_info<P: Platform>(
    caller: &WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    fd: Fd,
    out: u32,
) -> SysResult {
    mem.check::<FsInfo>(out)?;
    let vfs = caller.fds.get(fd)?.dir()?.dir.vfs();
    let info = FsInfo {
        size: vfs.capacity(),
        used: vfs.used_bytes(),
    };
    mem.write(out, &info)?;
    Ok(())
}

/// Writes as many of `records` as fit in `buf_len` bytes at `buf`, and the total count.
pub fn write_processes(
    mem: &mut GuestMemory<'_>,
    buf: u32,
    buf_len: u32,
    count_out: u32,
    records: &[ProcessRecord],
) -> SysResult {
    mem.check::<u32>(count_out)?;
    let fit = (buf_len / ProcessRecord::SIZE).min(records.len() as u32);
    let array = mem.array::<ProcessRecord>(buf, fit)?;
    for (ptr, record) in array.ptrs().zip(records) {
        mem.write(ptr, record)?;
    }
    mem.write(count_out, &(records.len() as u32))?;
    Ok(())
}

/// Turns a call's result into the errno the program sees, passing traps and blocks on.
pub fn errno_of(result: SysResult) -> core::result::Result<Errno, Fault> {
    match result {
        Ok(()) => Ok(Errno::Success),
        Err(Fault::Errno(errno)) => Ok(errno),
        Err(fault) => Err(fault),
    }
}

/// One child of a `wait` caller, as `wait` sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child {
    /// Its pid.
    pub pid: u32,
    /// How it ended, once it has (a zombie).
    pub ended: Option<Status>,
    /// The signal that stopped it, while it is stopped and that stop has not been reported.
    pub unreported_stop: Option<u32>,
}

/// What `wait` does, given the caller's matching children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitChoice {
    /// Store this result; reap the child when it ended, or mark its stop as reported.
    Report(WaitResult),
    /// Nothing to report and `WAIT_NOHANG`: store pid 0.
    Nothing,
    /// Nothing to report yet: block and repeat the call.
    Block,
}

/// Decides a `wait(pid, options)` over `children` (those matching `pid`, in pid order): the
/// first ended child, else with [`WAIT_UNTRACED`] the first whose stop is unreported, else
/// nothing (with [`WAIT_NOHANG`]) or block. `EINVAL` for unknown option bits, `ECHILD` with
/// no children.
pub fn choose_wait(children: &[Child], options: u32) -> Result<WaitChoice> {
    if options & !WAIT_OPTIONS != 0 {
        return Err(Errno::Inval);
    }
    if children.is_empty() {
        return Err(Errno::Child);
    }
    let ended = children.iter().find_map(|child| {
        child.ended.map(|status| WaitResult {
            pid: child.pid,
            status,
        })
    });
    let stopped = || {
        children.iter().find_map(|child| {
            child.unreported_stop.map(|signal| WaitResult {
                pid: child.pid,
                status: Status::Stopped(signal),
            })
        })
    };
    Ok(match ended {
        Some(result) => WaitChoice::Report(result),
        None => match (options & WAIT_UNTRACED != 0).then(stopped).flatten() {
            Some(result) => WaitChoice::Report(result),
            None if options & WAIT_NOHANG != 0 => WaitChoice::Nothing,
            None => WaitChoice::Block,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fdtable::{LISTENER_RIGHTS, MAX_FDS};
    use crate::file::WasiFile;
    use crate::outcome::Trap;
    use crate::pipe::PIPE_CAPACITY;
    use crate::syscalls::tests::Fake;
    use crate::types::{Fdflags, Filetype};
    use crate::vfs::Vfs;
    use alloc::boxed::Box;
    use alloc::vec;

    const REQUEST: u32 = 64;

    /// Guest memory holding `request` at [`REQUEST`] and `extra` bytes (strings, the preopen
    /// table) from 1024 on.
    fn memory_with(request: &SpawnRequest, extra: &[(u32, &[u8])]) -> Vec<u8> {
        let mut mem = vec![0u8; 4096];
        let at = REQUEST as usize;
        abi::Record::encode(request, &mut mem[at..]);
        for (at, bytes) in extra {
            mem[*at as usize..*at as usize + bytes.len()].copy_from_slice(bytes);
        }
        mem
    }

    fn request(request: SpawnRequest, extra: &[(u32, &[u8])]) -> SysResult<Spawn> {
        let mut mem = memory_with(&request, extra);
        Spawn::read(&GuestMemory::new(&mut mem), REQUEST)
    }

    /// `ls` with the argv at 1024 and nothing else.
    const LS: SpawnRequest = SpawnRequest {
        program_fd: 9,
        argv: 1024,
        argv_len: 3,
        env: 0,
        env_len: 0,
        stdio: [0, 1, 2],
        preopens: 0,
        preopens_len: 0,
        group: Group::Caller,
        max_fds: 0,
        memory_limit: 0,
        fuel_limit: 0,
    };

    #[test]
    fn a_request_decodes_with_argv_env_stdio_and_preopens() {
        let mut table = [0u8; <PreopenEntry as abi::Record>::SIZE];
        let entry = PreopenEntry {
            fd: 3,
            name: 1200,
            name_len: 1,
        };
        abi::Record::encode(&entry, &mut table);
        let ls = SpawnRequest {
            argv_len: 8,
            env: 1100,
            env_len: 6,
            stdio: [0, 5, 2],
            preopens: 1300,
            preopens_len: 1,
            group: Group::New,
            ..LS
        };
        let decoded = request(
            ls,
            &[
                (1024, b"ls\0-l\0/\0"),
                (1100, b"A=1\0B\0"),
                (1200, b"/"),
                (1300, &table),
            ],
        )
        .unwrap();
        assert_eq!(decoded.program_fd, 9);
        assert_eq!(
            decoded.args,
            [b"ls".to_vec(), b"-l".to_vec(), b"/".to_vec()]
        );
        assert_eq!(decoded.env, [b"A=1".to_vec(), b"B".to_vec()]);
        assert_eq!(decoded.stdio, [0, 5, 2]);
        assert_eq!(decoded.preopens, [(3, b"/".to_vec())]);
        assert_eq!(decoded.group, Group::New);
    }

    #[test]
    fn a_child_limit_is_the_parents_or_narrower() {
        assert_eq!(narrowed(1024usize, 0), 1024, "0 inherits");
        assert_eq!(narrowed(1024usize, 16), 16);
        assert_eq!(narrowed(16usize, 1024), 16, "never wider");
        assert_eq!(narrowed(u64::MAX, 0), u64::MAX);
    }

    #[test]
    fn hostile_requests_get_an_errno_or_a_trap() {
        let argv: &[(u32, &[u8])] = &[(1024, b"ls\0")];
        assert!(request(LS, argv).is_ok());
        // Empty argv, a string without its NUL, too many preopens.
        let empty = SpawnRequest { argv_len: 0, ..LS };
        assert_eq!(request(empty, argv), Err(Fault::Errno(Errno::Inval)));
        assert_eq!(
            request(LS, &[(1024, b"lsx")]),
            Err(Fault::Errno(Errno::Inval))
        );
        let max_fds = SpawnRequest { max_fds: 7, ..LS };
        assert_eq!(request(max_fds, argv).map(|r| r.max_fds), Ok(7));
        let preopens = SpawnRequest {
            preopens_len: MAX_PREOPENS + 1,
            ..LS
        };
        assert_eq!(request(preopens, argv), Err(Fault::Errno(Errno::Inval)));
        // Strings over the limit, or reaching past memory.
        let huge = SpawnRequest {
            argv_len: MAX_STRINGS_BYTES + 1,
            ..LS
        };
        assert_eq!(request(huge, argv), Err(Fault::Errno(Errno::Toobig)));
        let past = SpawnRequest {
            argv_len: 4096,
            ..LS
        };
        assert_eq!(
            request(past, argv),
            Err(Fault::Trap(Trap::MemoryOutOfBounds))
        );
        let table_past = SpawnRequest {
            preopens: 4088,
            preopens_len: 1,
            ..LS
        };
        assert_eq!(
            request(table_past, argv),
            Err(Fault::Trap(Trap::MemoryOutOfBounds))
        );
        let table_misaligned = SpawnRequest {
            preopens: 2002,
            preopens_len: 1,
            ..LS
        };
        assert_eq!(
            request(table_misaligned, argv),
            Err(Fault::Trap(Trap::Misaligned))
        );
        // The request itself misaligned or out of memory.
        let mut mem = memory_with(&LS, argv);
        let mem = GuestMemory::new(&mut mem);
        assert_eq!(
            Spawn::read(&mem, REQUEST + 4),
            Err(Fault::Trap(Trap::Misaligned))
        );
        assert_eq!(
            Spawn::read(&mem, 4096 - 32),
            Err(Fault::Trap(Trap::MemoryOutOfBounds))
        );
    }

    fn context_with_root() -> (WasiCtx<Fake>, Vfs) {
        let vfs = Vfs::new(0);
        let mut ctx = WasiCtx::new(Fake::default(), vec![b"sh".to_vec()], vec![]);
        ctx.add_preopen(b"/", vfs.root()).unwrap();
        (ctx, vfs)
    }

    fn spawn_of(stdio: [Fd; 3], preopens: Vec<(Fd, Vec<u8>)>) -> Spawn {
        Spawn {
            program_fd: 0,
            args: vec![b"x".to_vec()],
            env: vec![],
            stdio,
            preopens,
            group: Group::Caller,
            memory_limit: 0,
            fuel_limit: 0,
            max_fds: 0,
        }
    }

    #[test]
    fn the_childs_open_files_limit_is_its_parents_or_lower() {
        let (mut caller, _vfs) = context_with_root();
        let mut request = spawn_of([0, 1, 2], vec![]);
        assert_eq!(child_fds(&caller, &request).unwrap().limit(), MAX_FDS);
        request.max_fds = 10;
        assert_eq!(child_fds(&caller, &request).unwrap().limit(), 10);
        caller.fds().set_limit(8);
        assert_eq!(child_fds(&caller, &request).unwrap().limit(), 8);
        request.max_fds = 0;
        assert_eq!(child_fds(&caller, &request).unwrap().limit(), 8);
    }

    #[test]
    fn a_pipe_needs_two_free_fds_and_room_in_its_makers_account() {
        let (mut caller, _vfs) = context_with_root();
        let mut memory = vec![0u8; 64];
        let mut mem = GuestMemory::new(&mut memory);
        // Room for one pipe: its buffer and its two fds.
        let room = PIPE_CAPACITY as u64 + 2 * crate::fdtable::FD_BYTES;
        caller.account().set_limit(caller.account().used() + room);
        assert_eq!(open_pipe(&mut caller, &mut mem, 8), Ok(()));
        assert_eq!(
            open_pipe(&mut caller, &mut mem, 8),
            Err(Fault::Errno(Errno::Nomem))
        );
        caller.account().set_limit(u64::MAX);
        caller.fds().set_limit(7);
        assert_eq!(
            open_pipe(&mut caller, &mut mem, 8),
            Err(Fault::Errno(Errno::Mfile)),
            "one fd left"
        );
        assert_eq!(caller.fds().open_count(), 6, "nothing half made");
    }

    #[test]
    fn the_child_gets_its_stdio_and_preopens_from_the_callers_fds() {
        let (caller, _vfs) = context_with_root();
        let table = child_fds(&caller, &spawn_of([0, 2, 2], vec![(3, b"/data".to_vec())])).unwrap();
        assert_eq!(table.get(0).unwrap().filetype(), Filetype::CharacterDevice);
        assert_eq!(table.get(1).unwrap().rights_base, Rights::FD_WRITE);
        let dir = table.get(3).unwrap().dir().unwrap();
        assert_eq!(dir.preopen.as_deref(), Some(&b"/data"[..]));
        assert!(table.get(4).is_err());
        // A file is no preopen; a closed fd is EBADF.
        assert_eq!(
            child_fds(&caller, &spawn_of([0, 1, 2], vec![(1, b"x".to_vec())])).err(),
            Some(Errno::Notdir)
        );
        assert_eq!(
            child_fds(&caller, &spawn_of([0, 7, 2], vec![])).err(),
            Some(Errno::Badf)
        );
    }

    /// A listening socket that only tells what it is and can be handed on.
    struct Listener;

    impl WasiFile for Listener {
        fn filetype(&self) -> Filetype {
            Filetype::SocketStream
        }

        fn duplicate(&self) -> Option<Box<dyn WasiFile>> {
            Some(Box::new(Listener))
        }
    }

    #[test]
    fn a_listener_handed_on_stays_nonblocking_with_its_rights() {
        let (mut caller, _vfs) = context_with_root();
        let fd = caller.add_listener(Box::new(Listener)).unwrap();
        assert_eq!(fd, 4, "after the root, as init gets them");
        let request = spawn_of([0, 1, 2], vec![(3, b"/".to_vec()), (fd, Vec::new())]);
        let table = child_fds(&caller, &request).unwrap();
        let socket = table.get(4).unwrap();
        assert_eq!(socket.filetype(), Filetype::SocketStream);
        assert_eq!(socket.flags, Fdflags::NONBLOCK);
        assert_eq!(socket.rights_base, LISTENER_RIGHTS);
    }

    #[test]
    fn a_pipe_opens_both_ends_in_the_caller() {
        let (mut caller, _vfs) = context_with_root();
        let mut bytes = vec![0u8; 64];
        let mut mem = GuestMemory::new(&mut bytes);
        open_pipe(&mut caller, &mut mem, 8).unwrap();
        assert_eq!(mem.read::<u32>(8), Ok(4));
        assert_eq!(mem.read::<u32>(12), Ok(5));
        assert_eq!(caller.fds.get(4).unwrap().rights_base, PIPE_READ_RIGHTS);
        assert_eq!(caller.fds.get(5).unwrap().rights_base, PIPE_WRITE_RIGHTS);
        // An output pointer past memory traps before anything is opened.
        assert_eq!(
            open_pipe(&mut caller, &mut mem, 60),
            Err(Fault::Trap(Trap::MemoryOutOfBounds))
        );
        assert!(caller.fds.get(6).is_err());
    }

    #[test]
    fn fs_info_reports_the_size_and_use_of_a_directorys_file_system() {
        let (caller, vfs) = context_with_root();
        vfs.set_capacity(1 << 20);
        let mut bytes = vec![0u8; 64];
        let mut mem = GuestMemory::new(&mut bytes);
        fs_info(&caller, &mut mem, 3, 8).unwrap();
        let empty = mem.read::<FsInfo>(8).unwrap();
        assert_eq!(empty.size, 1 << 20);
        vfs.write_file(b"f", b"some bytes", 0).unwrap();
        fs_info(&caller, &mut mem, 3, 8).unwrap();
        let used = mem.read::<FsInfo>(8).unwrap();
        assert!(used.used > empty.used, "{used:?} after {empty:?}");
        assert_eq!(used.used, vfs.used_bytes());
        // Stdout is no directory; an fd that is not open is bad; the output must fit.
        assert_eq!(fs_info(&caller, &mut mem, 1, 8), Err(Errno::Notdir.into()));
        assert_eq!(fs_info(&caller, &mut mem, 9, 8), Err(Errno::Badf.into()));
        assert_eq!(
            fs_info(&caller, &mut mem, 3, 56),
            Err(Fault::Trap(Trap::MemoryOutOfBounds))
        );
    }

    #[test]
    fn process_records_fill_what_fits_and_report_the_total() {
        let record = |pid| ProcessRecord {
            pid,
            ppid: 1,
            pgid: pid,
            state: ProcessState::Sleeping,
            memory: 1 << 20,
            cpu_ns: 42,
            name_bytes: ProcessRecord::padded_name(b"a-very-long-program-name-beyond-31-bytes"),
        };
        let records = [record(1), record(2), record(3)];
        let mut bytes = vec![0u8; 512];
        let mut mem = GuestMemory::new(&mut bytes);
        write_processes(&mut mem, 64, 130, 0, &records).unwrap();
        assert_eq!(mem.read::<u32>(0), Ok(3));
        let first = mem.read::<ProcessRecord>(64).unwrap();
        assert_eq!(first.pid, 1);
        assert_eq!(first.state, ProcessState::Sleeping);
        assert_eq!(first.name(), b"a-very-long-program-name-beyond");
        assert_eq!(mem.read::<ProcessRecord>(128).unwrap().pid, 2);
        // Only two fitted in 130 bytes.
        assert_eq!(mem.read::<u32>(192), Ok(0));
    }

    fn child(pid: u32, ended: Option<Status>, unreported_stop: Option<u32>) -> Child {
        Child {
            pid,
            ended,
            unreported_stop,
        }
    }

    #[test]
    fn wait_reports_an_ended_child_before_a_stopped_one_and_a_stop_only_when_asked() {
        let running = child(5, None, None);
        let stopped = child(6, None, Some(SIGTSTP));
        let ended = child(7, Some(Status::Exited(3)), None);
        let report = |pid, status| Ok(WaitChoice::Report(WaitResult { pid, status }));
        assert_eq!(
            choose_wait(&[running, stopped, ended], WAIT_UNTRACED),
            report(7, Status::Exited(3))
        );
        assert_eq!(
            choose_wait(&[running, stopped], WAIT_UNTRACED),
            report(6, Status::Stopped(SIGTSTP))
        );
        assert_eq!(
            choose_wait(&[running, stopped], WAIT_UNTRACED | WAIT_NOHANG),
            report(6, Status::Stopped(SIGTSTP))
        );
        // Without WAIT_UNTRACED a stopped child is one that has not ended: wait on.
        assert_eq!(choose_wait(&[running, stopped], 0), Ok(WaitChoice::Block));
        assert_eq!(
            choose_wait(&[running, stopped], WAIT_NOHANG),
            Ok(WaitChoice::Nothing)
        );
        // A stop already reported is not reported again.
        let reported = child(6, None, None);
        assert_eq!(
            choose_wait(&[reported], WAIT_UNTRACED),
            Ok(WaitChoice::Block)
        );
    }

    #[test]
    fn wait_refuses_unknown_options_and_a_caller_without_children() {
        let one = [child(5, Some(Status::Exited(0)), None)];
        assert_eq!(choose_wait(&one, 4), Err(Errno::Inval));
        assert_eq!(choose_wait(&one, u32::MAX), Err(Errno::Inval));
        assert_eq!(choose_wait(&[], WAIT_NOHANG), Err(Errno::Child));
        assert_eq!(choose_wait(&[], 0), Err(Errno::Child));
    }
}
