//! `cella_process`: Cella's own import module for the programs that manage other programs
//! (init, the shell, `ps`, `kill`). Pure preview1 programs never import it.
//!
//! This module holds what can be decided without the scheduler: the function table the
//! linker registers, the decoding of each call's arguments and guest-memory structures
//! (hostile input gets an errno or a trap, never a panic), the child's fd table built from
//! the caller's fds, and `pipe`, which touches only the caller. The kernel's scheduler runs
//! the calls that need the process table. The ABI is documented in the README ("Process
//! control"); the Rust wrapper is `userland/process`.

use alloc::vec::Vec;

use crate::ctx::WasiCtx;
use crate::errno::{Errno, Result};
use crate::fallible::{copy, reserve};
use crate::fdtable::{FdEntry, FdTable};
use crate::memory::{Bytes, BytesMut, GuestMemory, GuestType};
use crate::outcome::{Fault, SysResult};
use crate::pipe::{PIPE_READ_RIGHTS, PIPE_WRITE_RIGHTS, pipe};
use crate::platform::Platform;
use crate::syscalls::{Function, ValType};
use crate::types::{Fd, Filetype, Rights};
use crate::vfs::OpenDir;

/// The import module name.
pub const MODULE: &str = "cella_process";

const fn function(name: &'static str, params: &'static [ValType]) -> Function {
    Function {
        name,
        params,
        returns_errno: true,
        implemented: true,
    }
}

const I: ValType = ValType::I32;

/// Every function of the module, in ABI order; [`Call::decode`] takes an index into it.
pub const FUNCTIONS: &[Function] = &[
    function("spawn", &[I, I]),
    function("wait", &[I, I, I]),
    function("kill", &[I, I]),
    function("pipe", &[I]),
    function("processes", &[I, I, I]),
    function("console_mode", &[I]),
    function("set_foreground", &[I]),
    function("self_pid", &[I]),
    function("system_info", &[I]),
];

/// One decoded call; pointers are still guest addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `spawn(request, pid_out)`.
    Spawn {
        /// Address of the 64-byte [`SpawnRequest`].
        request: u32,
        /// Where the child's pid goes.
        pid_out: u32,
    },
    /// `wait(pid, options, result)`: `pid` -1 is any child.
    Wait {
        /// The child, or -1.
        pid: i32,
        /// [`WAIT_NOHANG`] or 0.
        options: u32,
        /// Where the [`WaitResult`] goes.
        result: u32,
    },
    /// `kill(pid, signal)`: a pid below -1 names a process group.
    Kill {
        /// The target.
        pid: i32,
        /// 0 (check only) or 1..=31.
        signal: u32,
    },
    /// `pipe(fds_out)`.
    Pipe {
        /// Where the read and write fds go.
        fds_out: u32,
    },
    /// `processes(buf, buf_len, count_out)`.
    Processes {
        /// Where the [`ProcessRecord`]s go.
        buf: u32,
        /// Bytes available at `buf`.
        buf_len: u32,
        /// Where the number of processes goes.
        count_out: u32,
    },
    /// `console_mode(mode)`: 1 raw, 0 cooked.
    ConsoleMode {
        /// The mode.
        raw: bool,
    },
    /// `set_foreground(pgid)`.
    SetForeground {
        /// The group Ctrl-C interrupts.
        pgid: u32,
    },
    /// `self_pid(pid_out)`.
    SelfPid {
        /// Where the caller's pid goes.
        pid_out: u32,
    },
    /// `system_info(out)`.
    SystemInfo {
        /// Where the [`SystemInfo`] goes.
        out: u32,
    },
}

/// `wait` option: return at once (pid 0) when no child has ended.
pub const WAIT_NOHANG: u32 = 1;

impl Call {
    /// Decodes function `index` of [`FUNCTIONS`] with its raw arguments (only the low 32
    /// bits of each count); `None` for an unknown index or a wrong argument count.
    pub fn decode(index: usize, args: &[u64]) -> Option<Call> {
        let function = FUNCTIONS.get(index)?;
        if args.len() != function.params.len() {
            return None;
        }
        let arg = |n: usize| args.get(n).map_or(0, |&raw| raw as u32);
        Some(match index {
            0 => Call::Spawn {
                request: arg(0),
                pid_out: arg(1),
            },
            1 => Call::Wait {
                pid: arg(0) as i32,
                options: arg(1),
                result: arg(2),
            },
            2 => Call::Kill {
                pid: arg(0) as i32,
                signal: arg(1),
            },
            3 => Call::Pipe { fds_out: arg(0) },
            4 => Call::Processes {
                buf: arg(0),
                buf_len: arg(1),
                count_out: arg(2),
            },
            5 => Call::ConsoleMode { raw: arg(0) != 0 },
            6 => Call::SetForeground { pgid: arg(0) },
            7 => Call::SelfPid { pid_out: arg(0) },
            _ => Call::SystemInfo { out: arg(0) },
        })
    }
}

/// Which process group a child joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// The caller's.
    Caller,
    /// A new one led by the child (pgid = its pid).
    New,
    /// This existing group.
    Join(u32),
}

/// The most bytes of argv or environment a spawn may pass (Linux's `ARG_MAX` is 2 MiB).
pub const MAX_STRINGS_BYTES: u32 = 1 << 20;
/// The most preopens a spawn may hand over.
pub const MAX_PREOPENS: u32 = 64;

/// A decoded spawn request: everything is copied out of guest memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpawnRequest {
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

/// The request's layout in guest memory (64 bytes, 8-aligned), before its pointers are
/// followed.
struct RawRequest {
    words: [u32; 12],
    memory_limit: u64,
    fuel_limit: u64,
}

impl GuestType for RawRequest {
    const SIZE: u32 = 64;
    const ALIGN: u32 = 8;
    fn decode(bytes: &Bytes<'_>) -> Self {
        let mut words = [0u32; 12];
        for (word, offset) in words.iter_mut().zip((0..48).step_by(4)) {
            *word = bytes.u32(offset);
        }
        RawRequest {
            words,
            memory_limit: bytes.u64(48),
            fuel_limit: bytes.u64(56),
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        for (word, offset) in self.words.iter().zip((0..48).step_by(4)) {
            out.u32(offset, *word);
        }
        out.u64(48, self.memory_limit);
        out.u64(56, self.fuel_limit);
    }
}

impl SpawnRequest {
    /// Reads the request at `ptr`: a pointer out of memory or misaligned traps; a malformed
    /// request (empty argv, strings not NUL-terminated, too many preopens) is `EINVAL`;
    /// strings over [`MAX_STRINGS_BYTES`] are `E2BIG`; no memory for the copies is `ENOMEM`.
    pub fn read(mem: &GuestMemory<'_>, ptr: u32) -> SysResult<SpawnRequest> {
        let raw = mem.read::<RawRequest>(ptr)?;
        let [
            program_fd,
            argv,
            argv_len,
            env,
            env_len,
            stdin,
            stdout,
            stderr,
            table,
            count,
            group,
            max_fds,
        ] = raw.words;
        let args = strings(mem, argv, argv_len)?;
        if args.is_empty() {
            return Err(Errno::Inval.into());
        }
        let env = strings(mem, env, env_len)?;
        if count > MAX_PREOPENS {
            return Err(Errno::Inval.into());
        }
        let table = mem.array::<u32>(table, count.saturating_mul(3))?;
        let mut preopens = Vec::new();
        reserve(&mut preopens, count as usize)?;
        let mut entries = table.ptrs();
        while let (Some(fd), Some(name), Some(len)) =
            (entries.next(), entries.next(), entries.next())
        {
            let name = mem.slice(mem.read::<u32>(name)?, mem.read::<u32>(len)?)?;
            preopens.push((mem.read::<u32>(fd)?, copy(name)?));
        }
        let group = match group {
            0 => Group::Caller,
            u32::MAX => Group::New,
            pgid => Group::Join(pgid),
        };
        Ok(SpawnRequest {
            program_fd,
            args,
            env,
            stdio: [stdin, stdout, stderr],
            preopens,
            group,
            memory_limit: raw.memory_limit,
            fuel_limit: raw.fuel_limit,
            max_fds,
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
pub fn child_fds<P: Platform>(caller: &WasiCtx<P>, request: &SpawnRequest) -> Result<FdTable> {
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

/// How a process ended, as `wait` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Exit status from `proc_exit` (0 when `_start` returned).
    Exited(u32),
    /// Killed by this signal.
    Signaled(u32),
    /// Trapped.
    Trapped,
    /// Used up its fuel limit.
    FuelExhausted,
}

/// `wait`'s answer: the pid (0 when nothing ended and `WAIT_NOHANG` was given) and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitResult {
    /// The child that ended, or 0.
    pub pid: u32,
    /// How it ended (ignored when `pid` is 0).
    pub ended: Ended,
}

impl GuestType for WaitResult {
    const SIZE: u32 = 12;
    const ALIGN: u32 = 4;
    fn decode(bytes: &Bytes<'_>) -> Self {
        let ended = match (bytes.u32(4), bytes.u32(8)) {
            (0, code) => Ended::Exited(code),
            (1, signal) => Ended::Signaled(signal),
            (3, _) => Ended::FuelExhausted,
            _ => Ended::Trapped,
        };
        WaitResult {
            pid: bytes.u32(0),
            ended,
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        let (kind, value) = match self.ended {
            Ended::Exited(code) => (0, code),
            Ended::Signaled(signal) => (1, signal),
            Ended::Trapped => (2, 0),
            Ended::FuelExhausted => (3, 0),
        };
        out.u32(0, self.pid);
        out.u32(4, kind);
        out.u32(8, value);
    }
}

/// A process's state in a [`ProcessRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// Running or ready to run.
    Running = 0,
    /// Blocked.
    Sleeping = 1,
    /// Ended, not yet waited for.
    Zombie = 2,
}

/// Bytes of a process name in a [`ProcessRecord`] (NUL-padded; the last is always NUL).
pub const NAME_BYTES: usize = 32;

/// One process as `processes` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessRecord {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its process group.
    pub pgid: u32,
    /// What it is doing.
    pub state: ProcessState,
    /// Bytes the process holds against its memory limit (linear memory, code, pipes,
    /// connections).
    pub memory: u64,
    /// CPU time in nanoseconds.
    pub cpu_ns: u64,
    /// `argv[0]`, truncated.
    pub name: Vec<u8>,
}

impl GuestType for ProcessRecord {
    const SIZE: u32 = 64;
    const ALIGN: u32 = 8;
    fn decode(bytes: &Bytes<'_>) -> Self {
        let name: Vec<u8> = (32..64)
            .map(|at| bytes.u8(at))
            .take_while(|&b| b != 0)
            .collect();
        ProcessRecord {
            pid: bytes.u32(0),
            ppid: bytes.u32(4),
            pgid: bytes.u32(8),
            state: match bytes.u32(12) {
                0 => ProcessState::Running,
                1 => ProcessState::Sleeping,
                _ => ProcessState::Zombie,
            },
            memory: bytes.u64(16),
            cpu_ns: bytes.u64(24),
            name,
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        out.u32(0, self.pid);
        out.u32(4, self.ppid);
        out.u32(8, self.pgid);
        out.u32(12, self.state as u32);
        out.u64(16, self.memory);
        out.u64(24, self.cpu_ns);
        for (at, &byte) in (32..32 + NAME_BYTES - 1).zip(self.name.iter()) {
            out.u8(at, byte);
        }
    }
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

/// Machine-wide figures for `system_info`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemInfo {
    /// Bytes of kernel heap in use.
    pub kernel_heap_used: u64,
    /// Bytes free for programs and files.
    pub free_memory: u64,
    /// Bytes of memory in all.
    pub total_memory: u64,
    /// Nanoseconds since boot.
    pub uptime_ns: u64,
    /// Processes, zombies included.
    pub processes: u64,
    /// Switches from one process to another.
    pub context_switches: u64,
}

impl GuestType for SystemInfo {
    const SIZE: u32 = 48;
    const ALIGN: u32 = 8;
    fn decode(bytes: &Bytes<'_>) -> Self {
        SystemInfo {
            kernel_heap_used: bytes.u64(0),
            free_memory: bytes.u64(8),
            total_memory: bytes.u64(16),
            uptime_ns: bytes.u64(24),
            processes: bytes.u64(32),
            context_switches: bytes.u64(40),
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        out.u64(0, self.kernel_heap_used);
        out.u64(8, self.free_memory);
        out.u64(16, self.total_memory);
        out.u64(24, self.uptime_ns);
        out.u64(32, self.processes);
        out.u64(40, self.context_switches);
    }
}

/// Turns a call's result into the errno the program sees, passing traps and blocks on.
pub fn errno_of(result: SysResult) -> core::result::Result<Errno, Fault> {
    match result {
        Ok(()) => Ok(Errno::Success),
        Err(Fault::Errno(errno)) => Ok(errno),
        Err(fault) => Err(fault),
    }
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

    /// Guest memory holding a spawn request at [`REQUEST`] whose strings and preopen table
    /// live from 1024 on; `words` are the request's first twelve u32s.
    fn memory_with(words: [u32; 12], extra: &[(u32, &[u8])]) -> Vec<u8> {
        let mut mem = vec![0u8; 4096];
        for (n, word) in words.iter().enumerate() {
            let at = REQUEST as usize + n * 4;
            mem[at..at + 4].copy_from_slice(&word.to_le_bytes());
        }
        for (at, bytes) in extra {
            mem[*at as usize..*at as usize + bytes.len()].copy_from_slice(bytes);
        }
        mem
    }

    fn request(words: [u32; 12], extra: &[(u32, &[u8])]) -> SysResult<SpawnRequest> {
        let mut mem = memory_with(words, extra);
        SpawnRequest::read(&GuestMemory::new(&mut mem), REQUEST)
    }

    #[test]
    fn a_request_decodes_with_argv_env_stdio_and_preopens() {
        let table: Vec<u8> = [3u32, 1200, 1]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let words = [9, 1024, 8, 1100, 6, 0, 5, 2, 1300, 1, u32::MAX, 0];
        let decoded = request(
            words,
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
        let good = [9, 1024, 3, 0, 0, 0, 1, 2, 0, 0, 0, 0];
        let argv: &[(u32, &[u8])] = &[(1024, b"ls\0")];
        assert!(request(good, argv).is_ok());
        // Empty argv, a string without its NUL, too many preopens.
        let mut empty = good;
        empty[2] = 0;
        assert_eq!(request(empty, argv), Err(Fault::Errno(Errno::Inval)));
        assert_eq!(
            request(good, &[(1024, b"lsx")]),
            Err(Fault::Errno(Errno::Inval))
        );
        let mut max_fds = good;
        max_fds[11] = 7;
        assert_eq!(request(max_fds, argv).map(|r| r.max_fds), Ok(7));
        let mut preopens = good;
        preopens[9] = MAX_PREOPENS + 1;
        assert_eq!(request(preopens, argv), Err(Fault::Errno(Errno::Inval)));
        // Strings over the limit, or reaching past memory.
        let mut huge = good;
        huge[2] = MAX_STRINGS_BYTES + 1;
        assert_eq!(request(huge, argv), Err(Fault::Errno(Errno::Toobig)));
        let mut past = good;
        past[2] = 4096;
        assert_eq!(
            request(past, argv),
            Err(Fault::Trap(Trap::MemoryOutOfBounds))
        );
        let mut table_past = good;
        table_past[8] = 4088;
        table_past[9] = 1;
        assert_eq!(
            request(table_past, argv),
            Err(Fault::Trap(Trap::MemoryOutOfBounds))
        );
        // The request itself misaligned or out of memory.
        let mut mem = memory_with(good, argv);
        let mem = GuestMemory::new(&mut mem);
        assert_eq!(
            SpawnRequest::read(&mem, REQUEST + 4),
            Err(Fault::Trap(Trap::Misaligned))
        );
        assert_eq!(
            SpawnRequest::read(&mem, 4096 - 32),
            Err(Fault::Trap(Trap::MemoryOutOfBounds))
        );
    }

    fn context_with_root() -> (WasiCtx<Fake>, Vfs) {
        let vfs = Vfs::new(0);
        let mut ctx = WasiCtx::new(Fake::default(), vec![b"sh".to_vec()], vec![]);
        ctx.add_preopen(b"/", vfs.root()).unwrap();
        (ctx, vfs)
    }

    fn spawn_of(stdio: [Fd; 3], preopens: Vec<(Fd, Vec<u8>)>) -> SpawnRequest {
        SpawnRequest {
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
    fn process_records_fill_what_fits_and_report_the_total() {
        let record = |pid| ProcessRecord {
            pid,
            ppid: 1,
            pgid: pid,
            state: ProcessState::Sleeping,
            memory: 1 << 20,
            cpu_ns: 42,
            name: b"a-very-long-program-name-beyond-31-bytes".to_vec(),
        };
        let records = [record(1), record(2), record(3)];
        let mut bytes = vec![0u8; 512];
        let mut mem = GuestMemory::new(&mut bytes);
        write_processes(&mut mem, 64, 130, 0, &records).unwrap();
        assert_eq!(mem.read::<u32>(0), Ok(3));
        let first = mem.read::<ProcessRecord>(64).unwrap();
        assert_eq!(first.pid, 1);
        assert_eq!(first.state, ProcessState::Sleeping);
        assert_eq!(first.name, b"a-very-long-program-name-beyond");
        assert_eq!(mem.read::<ProcessRecord>(128).unwrap().pid, 2);
        // Only two fitted in 130 bytes.
        assert_eq!(mem.read::<u32>(192), Ok(0));
    }
}
