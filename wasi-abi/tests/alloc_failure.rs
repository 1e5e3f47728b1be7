//! Every allocation a syscall makes may fail, and the call then ends in an errno with the
//! state consistent: no panic, no abort, nothing half done.
//!
//! **The injector.** This test binary's global allocator wraps `System` and, once armed on a
//! thread, counts that thread's allocations and fails the Nth (mode `Once`) or the Nth and
//! every later one (mode `FromThenOn`, memory that stays exhausted). It skips exactly the
//! allocations made inside `wasi_abi::fallible::infallible`: the few fixed-size ones stable
//! Rust cannot make fallible (an inode's `Rc`, a map node, a boxed fd object), which the code
//! under test marks itself, one by one, and the README lists with their bounds. Every other
//! allocation along a syscall is failed in turn, whatever its size. A skip rule by size
//! would hide small guest-driven allocations; a marker the code sets is explicit, greppable
//! and reviewed like the code. It only exists with the `alloc-audit` feature, which this
//! crate's dev-dependency on itself turns on for tests.
//!
//! **A scenario** is a fresh machine (a VFS preopened as fd 3, files, a socket...) and a few
//! syscalls made through `dispatch` as a program would. It first runs without failures,
//! recording the state after each step (the VFS walked entry by entry with inode numbers,
//! sizes and content hashes, the space accounted, every open fd with its type, rights,
//! offset and readiness) and counting its allocations, K. Then for every N in 1..=K and
//! both modes, a fresh machine runs the steps with the Nth allocation failing, stopping at
//! the first step that does not succeed, and the test asserts that the failure was hit,
//! that the step answered one of the errnos allowed (`ENOMEM`, `ENOSPC` for file data) or
//! succeeded, and that the state is exactly the one recorded after the steps that
//! succeeded; then it runs the remaining steps without failures and expects the final
//! recorded state, so a failed call left nothing that changes what comes next (an inode
//! number used up, an entry, an fd, a byte of accounting). A write that goes in part is
//! checked against its count instead. Finally N = K + 1 must complete untouched. Scenarios
//! that must not allocate at all (`fd_readdir`, `args_get`...) assert K = 0.
//!
//! **Aborts** are failures too: an allocation failed outside the marked regions and not
//! handled ends in `handle_alloc_error`, which aborts. So that an abort names its scenario
//! and N, each scenario runs in a child process (this binary run again with
//! `ALLOC_FAILURE_SCENARIO` set), which prints each N before it runs it; the parent test
//! asserts the child exited successfully and shows its output otherwise. Replacing a
//! `try_reserve` with an infallible `push` therefore fails the test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::process::Command;

use wasi_abi::control::abi::Record;
use wasi_abi::control::{self, Group, PreopenEntry, Spawn, SpawnRequest};
use wasi_abi::fallible::audit::in_infallible_region;
use wasi_abi::fdtable::{FdObject, MAX_FDS};
use wasi_abi::file::{Readiness, WasiFile};
use wasi_abi::memory::GuestMemory;
use wasi_abi::outcome::Fault;
use wasi_abi::types::{
    ClockId, Filetype, Iovec, Lookupflags, Oflags, Riflags, Rights, Subscription,
    SubscriptionClock, SubscriptionKind,
};
use wasi_abi::vfs::{DirHandle, OpenOptions, Opened};
use wasi_abi::{Errno, Outcome, Platform, StdinPoll, Stream, Vfs, WasiCtx, dispatch, lookup};

// ---------------------------------------------------------------------------------------
// The injector

/// How an armed thread's allocations fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Only the Nth.
    Once,
    /// The Nth and every one after it.
    FromThenOn,
}

#[derive(Clone, Copy)]
struct Injection {
    armed: bool,
    fail_at: u64,
    mode: Mode,
    /// Countable allocations so far (those outside the marked regions).
    seen: u64,
    /// Whether an allocation was failed.
    hit: bool,
}

const DISARMED: Injection = Injection {
    armed: false,
    fail_at: 0,
    mode: Mode::Once,
    seen: 0,
    hit: false,
};

thread_local! {
    // A const-initialised `Cell` of a `Copy` type: no allocation and no destructor, so the
    // allocator may use it.
    static INJECTION: Cell<Injection> = const { Cell::new(DISARMED) };
}

/// Whether the allocation being made now must fail.
fn must_fail() -> bool {
    if std::thread::panicking() || in_infallible_region() {
        // A panic's own allocations report the failure; the marked ones cannot fail softly.
        return false;
    }
    INJECTION
        .try_with(|cell| {
            let mut state = cell.get();
            if !state.armed {
                return false;
            }
            state.seen += 1;
            let fail = match state.mode {
                Mode::Once => state.seen == state.fail_at,
                Mode::FromThenOn => state.seen >= state.fail_at,
            };
            state.hit |= fail;
            cell.set(state);
            fail
        })
        .unwrap_or(false)
}

struct Injector;

// SAFETY: every call is forwarded to `System` unchanged, or answered with null, which
// `GlobalAlloc` allows for any allocation that cannot be satisfied.
unsafe impl GlobalAlloc for Injector {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if must_fail() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if must_fail() {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if must_fail() {
            return std::ptr::null_mut();
        }
        // SAFETY: as above; `ptr` came from `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Injector = Injector;

/// Runs `f` with this thread's allocations failing from the `fail_at`th on as `mode` says
/// (`u64::MAX`: none); returns its result, the countable allocations and whether one failed.
fn with_injection<R>(fail_at: u64, mode: Mode, f: impl FnOnce() -> R) -> (R, u64, bool) {
    INJECTION.with(|cell| {
        cell.set(Injection {
            armed: true,
            fail_at,
            mode,
            ..DISARMED
        })
    });
    let result = f();
    let state = INJECTION.with(|cell| cell.replace(DISARMED));
    (result, state.seen, state.hit)
}

// ---------------------------------------------------------------------------------------
// The machine

/// A platform with a fixed clock, a silent console and an empty stdin.
struct Quiet;

impl Platform for Quiet {
    fn clock_now(&mut self, _id: ClockId) -> wasi_abi::Result<u64> {
        Ok(NOW)
    }
    fn clock_resolution(&self, _id: ClockId) -> wasi_abi::Result<u64> {
        Ok(1)
    }
    fn random_fill(&mut self, buf: &mut [u8]) {
        buf.fill(4);
    }
    fn write(&mut self, _stream: Stream, data: &[u8]) -> wasi_abi::Result<usize> {
        Ok(data.len())
    }
    fn read_stdin(&mut self, _buf: &mut [u8]) -> wasi_abi::Result<usize> {
        Err(Errno::Again)
    }
    fn poll_stdin(&mut self) -> StdinPoll {
        StdinPoll::Empty
    }
}

/// The clock's fixed time.
const NOW: u64 = 1_000_000_000;
/// Bytes of guest memory.
const MEMORY: usize = 1 << 20;
/// Where results (fds, counts) are written.
const OUT: u32 = 0;
/// Where iovec arrays go.
const IOVS: u32 = 64;
/// Where the first path goes.
const PATH: u32 = 4096;
/// Where a second path goes.
const PATH2: u32 = 12 * 1024;
/// A buffer for reads, readdir and readlink.
const BUF: u32 = 20 * 1024;
/// Length of that buffer.
const BUF_LEN: u32 = 8 * 1024;
/// Where write data and other large inputs go.
const DATA: u32 = 64 * 1024;
/// The preopened root.
const ROOT_FD: u32 = 3;
/// Bytes of a file data chunk.
const CHUNK: usize = wasi_abi::vfs::data::CHUNK_SIZE;
/// Bytes a file-growing write writes: over two 64 KiB chunks, in three iovecs.
const WRITE_LEN: usize = 150 * 1024;

/// A connected socket holding bytes to read.
struct FakeStream(Vec<u8>);

impl WasiFile for FakeStream {
    fn filetype(&self) -> Filetype {
        Filetype::SocketStream
    }
    fn read(&mut self, _platform: &mut dyn Platform, buf: &mut [u8]) -> wasi_abi::Result<usize> {
        let count = buf.len().min(self.0.len());
        buf[..count].copy_from_slice(&self.0[..count]);
        self.0.drain(..count);
        Ok(count)
    }
    fn peek(&mut self, _platform: &mut dyn Platform, buf: &mut [u8]) -> wasi_abi::Result<usize> {
        let count = buf.len().min(self.0.len());
        buf[..count].copy_from_slice(&self.0[..count]);
        Ok(count)
    }
    fn read_readiness(&mut self, _platform: &mut dyn Platform) -> wasi_abi::Result<Readiness> {
        Ok(Readiness::Ready {
            nbytes: self.0.len() as u64,
            hangup: false,
        })
    }
}

/// A listening socket with connections already queued (made before the injector is armed).
struct FakeListener(Vec<Box<dyn WasiFile>>);

impl WasiFile for FakeListener {
    fn filetype(&self) -> Filetype {
        Filetype::SocketStream
    }
    fn accept(
        &mut self,
        _platform: &mut dyn Platform,
        _owner: &std::rc::Rc<wasi_abi::budget::Budget>,
    ) -> wasi_abi::Result<Box<dyn WasiFile>> {
        self.0.pop().ok_or(Errno::Again)
    }
    fn read_readiness(&mut self, _platform: &mut dyn Platform) -> wasi_abi::Result<Readiness> {
        Ok(Readiness::Ready {
            nbytes: self.0.len() as u64,
            hangup: false,
        })
    }
}

/// What a spawn's decoding produced.
struct Spawned {
    request: Spawn,
    fds: wasi_abi::fdtable::FdTable,
    program: Vec<u8>,
}

/// One process on one file system, with its memory.
struct Machine {
    vfs: Vfs,
    ctx: WasiCtx<Quiet>,
    mem: Vec<u8>,
    spawned: Option<Spawned>,
}

impl Machine {
    /// A process with `dirs` and `files` under its preopen `.` (fd 3).
    fn new(dirs: &[&str], files: &[(&str, &[u8])]) -> Machine {
        let vfs = Vfs::new(NOW);
        for dir in dirs {
            vfs.create_dir(dir.as_bytes(), NOW).unwrap();
        }
        for (path, contents) in files {
            vfs.write_file(path.as_bytes(), contents, NOW).unwrap();
        }
        let args = vec![b"prog".to_vec(), b"--flag".to_vec()];
        let env = vec![b"HOME=/".to_vec()];
        let mut ctx = WasiCtx::new(Quiet, args, env);
        assert_eq!(ctx.add_preopen(b".", vfs.root()), Ok(ROOT_FD));
        Machine {
            vfs,
            ctx,
            mem: vec![0; MEMORY],
            spawned: None,
        }
    }

    /// Copies `bytes` to guest address `at`.
    fn put(&mut self, at: u32, bytes: &[u8]) {
        let at = at as usize;
        self.mem[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// Puts `path` at `at` and returns its address and length as arguments.
    fn path(&mut self, at: u32, path: &[u8]) -> [u64; 2] {
        self.put(at, path);
        [at.into(), path.len() as u64]
    }

    fn u32_at(&self, at: u32) -> u32 {
        let at = at as usize;
        u32::from_le_bytes(self.mem[at..at + 4].try_into().unwrap())
    }

    /// Calls preview1 function `name`; a trap or a block is a failure of the test.
    fn call(&mut self, name: &str, args: &[u64]) -> Errno {
        let index = lookup(name).unwrap();
        match dispatch(&mut self.ctx, &mut self.mem, index, args) {
            Outcome::Return(errno) => errno,
            other => panic!("{name} did not return: {other:?}"),
        }
    }

    /// `path_open` through the root with every right; the new fd is at `OUT`.
    fn open(&mut self, path: &[u8], oflags: Oflags, follow: bool) -> Errno {
        let [ptr, len] = self.path(PATH, path);
        self.open_at(ptr, len, oflags, follow)
    }

    /// `path_open` of the path already at `ptr`.
    fn open_at(&mut self, ptr: u64, len: u64, oflags: Oflags, follow: bool) -> Errno {
        // A directory opened for writing is EISDIR.
        let rights = if oflags.contains(Oflags::DIRECTORY) {
            Rights::ALL.difference(Rights::FD_WRITE)
        } else {
            Rights::ALL
        };
        let dirflags = if follow {
            Lookupflags::SYMLINK_FOLLOW.bits().into()
        } else {
            0
        };
        self.call(
            "path_open",
            &[
                ROOT_FD.into(),
                dirflags,
                ptr,
                len,
                oflags.bits().into(),
                rights.bits(),
                Rights::ALL.bits(),
                0,
                OUT.into(),
            ],
        )
    }

    /// Everything a call could have changed, as text.
    fn state(&mut self) -> String {
        let mut out = String::new();
        walk(&self.vfs.root(), "", &mut out);
        writeln!(out, "space {}", self.vfs.used_bytes()).unwrap();
        describe_fds(self.ctx.fds(), &mut out);
        if let Some(spawned) = &mut self.spawned {
            let request = &spawned.request;
            writeln!(
                out,
                "spawned {:?} env {} preopens {:?} program {} bytes hash {:x}",
                request.args.iter().take(3).collect::<Vec<_>>(),
                request.env.len(),
                request.preopens,
                spawned.program.len(),
                hash(&spawned.program),
            )
            .unwrap();
            describe_fds(&mut spawned.fds, &mut out);
        }
        out
    }
}

/// FNV-1a, to compare file contents without keeping them.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Appends every entry under `dir` (at `prefix`), in readdir order, with its attributes.
fn walk(dir: &DirHandle, prefix: &str, out: &mut String) {
    let mut entries = Vec::new();
    dir.read_dir(0, |_, ino, filetype, name| {
        if name != b"." && name != b".." {
            entries.push((String::from_utf8(name.to_vec()).unwrap(), ino, filetype));
        }
        true
    });
    for (name, ino, filetype) in entries {
        let path = format!("{prefix}{name}");
        let stat = dir.stat(name.as_bytes(), false).unwrap();
        assert_eq!(stat.ino, ino, "{path}: readdir and stat agree");
        write!(
            out,
            "{path} {filetype:?} ino {ino} size {} nlink {}",
            stat.size, stat.nlink
        )
        .unwrap();
        match filetype {
            Filetype::Directory => {
                writeln!(out).unwrap();
                let sub = dir.open_dir(name.as_bytes()).unwrap();
                walk(&sub, &format!("{path}/"), out);
            }
            Filetype::SymbolicLink => {
                let target = dir.readlink(name.as_bytes()).unwrap();
                writeln!(out, " -> {} bytes {:x}", target.len(), hash(&target)).unwrap();
            }
            _ => {
                let Ok(Opened::File(node)) = dir.open(name.as_bytes(), OpenOptions::default(), NOW)
                else {
                    panic!("{path} does not open as a file");
                };
                let mut contents = vec![0; stat.size as usize];
                let node = node.borrow();
                let data = node.as_file().unwrap();
                assert_eq!(data.read_at(0, &mut contents), contents.len());
                writeln!(out, " data {:x}", hash(&contents)).unwrap();
            }
        }
    }
}

/// Appends every open fd of `fds` with its type, flags, rights, offset and readiness.
fn describe_fds(fds: &mut wasi_abi::fdtable::FdTable, out: &mut String) {
    for fd in 0..MAX_FDS as u32 {
        let Ok(entry) = fds.get_mut(fd) else {
            continue;
        };
        write!(
            out,
            "fd {fd} {:?} flags {:?} rights {:x}/{:x}",
            entry.filetype(),
            entry.flags,
            entry.rights_base.bits(),
            entry.rights_inheriting.bits()
        )
        .unwrap();
        match &mut entry.object {
            FdObject::Dir(dir) => writeln!(out, " preopen {:?}", dir.preopen).unwrap(),
            FdObject::File(file) => writeln!(
                out,
                " offset {:?} readable {:?}",
                file.tell(),
                file.read_readiness(&mut Quiet)
            )
            .unwrap(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// One syscall (or a few making one step) of a scenario.
type Step = fn(&mut Machine) -> Errno;

/// How the state after a failed step is judged.
#[derive(Clone, Copy)]
enum Check {
    /// It must be the state recorded after the steps that succeeded, and the remaining
    /// steps must then reach the final state.
    Recorded,
    /// A write that may go in part: this checks the state against what was written.
    Partial(fn(&mut Machine)),
}

struct Scenario {
    setup: fn() -> Machine,
    steps: &'static [Step],
    /// Errnos a step may answer when memory runs out.
    allowed: &'static [Errno],
    check: Check,
    /// Whether the steps must make no allocation at all.
    allocation_free: bool,
}

const ENOMEM: &[Errno] = &[Errno::Nomem];
const ENOMEM_OR_ENOSPC: &[Errno] = &[Errno::Nomem, Errno::Nospc];

fn tree() -> Machine {
    Machine::new(
        &["d", "d/sub", "e"],
        &[("d/a", b"first file"), ("e/b", b"second"), ("d/sub/c", b"")],
    )
}

/// Runs `scenario` as the module documentation says; returns a summary line.
fn exercise(name: &str, scenario: &Scenario) -> String {
    // The run without failures: the state after each step, and K.
    let mut machine = (scenario.setup)();
    let mut recorded = vec![machine.state()];
    let mut total = 0;
    for (index, step) in scenario.steps.iter().enumerate() {
        let (errno, seen, hit) = with_injection(u64::MAX, Mode::Once, || step(&mut machine));
        assert_eq!(
            errno,
            Errno::Success,
            "{name}: step {index} without failures"
        );
        assert!(!hit);
        total += seen;
        recorded.push(machine.state());
    }
    if scenario.allocation_free {
        assert_eq!(total, 0, "{name} must not allocate");
    } else {
        assert!(
            total > 0,
            "{name} allocates nothing: the scenario tests nothing"
        );
    }

    let mut errnos = std::collections::BTreeMap::new();
    for fail_at in 1..=total + 1 {
        for mode in [Mode::Once, Mode::FromThenOn] {
            println!("{name}: N = {fail_at} {mode:?}");
            let mut machine = (scenario.setup)();
            let mut done = 0;
            let mut last = Errno::Success;
            let ((), _, hit) = with_injection(fail_at, mode, || {
                for step in scenario.steps {
                    last = step(&mut machine);
                    if last != Errno::Success {
                        break;
                    }
                    done += 1;
                }
            });
            assert_eq!(
                hit,
                fail_at <= total,
                "{name}, N = {fail_at}: allocation count"
            );
            *errnos.entry(format!("{last:?}")).or_insert(0) += 1;
            if last != Errno::Success {
                assert!(
                    scenario.allowed.contains(&last),
                    "{name}, N = {fail_at} {mode:?}: step {done} answered {last:?}"
                );
            }
            match scenario.check {
                Check::Recorded => {
                    assert_eq!(
                        machine.state(),
                        recorded[done],
                        "{name}, N = {fail_at} {mode:?}: state after {done} steps ({last:?})"
                    );
                    for (index, step) in scenario.steps.iter().enumerate().skip(done) {
                        assert_eq!(
                            step(&mut machine),
                            Errno::Success,
                            "{name}, N = {fail_at} {mode:?}: step {index} again"
                        );
                    }
                    assert_eq!(
                        machine.state(),
                        recorded[scenario.steps.len()],
                        "{name}, N = {fail_at} {mode:?}: the final state after the retry"
                    );
                }
                Check::Partial(check) => check(&mut machine),
            }
        }
    }
    format!(
        "{name}: {total} allocations, {} runs, results {errnos:?}",
        2 * (total + 1)
    )
}

/// `path_open` with `CREAT` of a new file with a long name, in a subdirectory.
fn open_creates() -> Scenario {
    Scenario {
        setup: || {
            let mut machine = tree();
            machine.put(PATH2, &[&b"d/sub/new-"[..], &[b'n'; 200]].concat());
            machine
        },
        steps: &[|m| m.open_at(PATH2.into(), 210, Oflags::CREAT, false)],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// Directories created through a path with `.`, `..` and a trailing slash.
fn create_directories() -> Scenario {
    Scenario {
        setup: tree,
        steps: &[
            |m| {
                let [ptr, len] = m.path(PATH, b"d/./sub/../sub/x/");
                m.call("path_create_directory", &[ROOT_FD.into(), ptr, len])
            },
            |m| {
                let [ptr, len] = m.path(PATH, b"d/sub/x/y");
                m.call("path_create_directory", &[ROOT_FD.into(), ptr, len])
            },
        ],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// The bytes the growing write writes.
fn write_data() -> Vec<u8> {
    (0..WRITE_LEN).map(|i| (i % 251) as u8).collect()
}

/// A file opened as fd 4, and `write_data` with its three iovecs in memory.
fn file_to_grow() -> Machine {
    let mut machine = tree();
    assert_eq!(
        machine.open(b"e/grow", Oflags::CREAT, false),
        Errno::Success
    );
    assert_eq!(machine.u32_at(OUT), 4);
    let data = write_data();
    machine.put(DATA, &data);
    let third = (WRITE_LEN / 3) as u32;
    for (n, iovec) in (0..3)
        .map(|n| Iovec {
            buf: DATA + n * third,
            buf_len: third,
        })
        .enumerate()
    {
        GuestMemory::new(&mut machine.mem)
            .write(IOVS + 8 * n as u32, &iovec)
            .unwrap();
    }
    machine
}

/// `fd_write` growing a file over three chunks: all of it, or a prefix (a short write, or
/// `ENOSPC` with nothing written when the first chunk fails).
fn write_grows_a_file() -> Scenario {
    Scenario {
        setup: file_to_grow,
        steps: &[|m| m.call("fd_write", &[4, IOVS.into(), 3, OUT.into()])],
        allowed: ENOMEM_OR_ENOSPC,
        check: Check::Partial(|m| {
            let errno = m.call("fd_tell", &[4, (OUT + 8).into()]);
            assert_eq!(errno, Errno::Success);
            let offset = u64::from_le_bytes(m.mem[8..16].try_into().unwrap()) as usize;
            let stat = m.vfs.stat(b"e/grow").unwrap();
            assert_eq!(stat.size as usize, offset, "the size is what was written");
            let data = write_data();
            let Ok(Opened::File(node)) = m.vfs.root().open(b"e/grow", OpenOptions::default(), 0)
            else {
                panic!("e/grow is gone");
            };
            let mut contents = vec![0; offset];
            node.borrow().as_file().unwrap().read_at(0, &mut contents);
            assert!(
                contents == data[..offset],
                "the file holds a prefix of the data"
            );
            // The tree's two non-empty files hold a chunk each; the rest is metadata.
            let chunks = 2 + offset.div_ceil(CHUNK) as u64;
            assert_eq!(
                m.vfs.used_bytes(),
                chunks * CHUNK as u64 + metadata(&m.vfs),
                "space accounted"
            );
        }),
        allocation_free: false,
    }
}

/// What the file system charges for the tree itself: the root, and every inode, entry and
/// symlink target the walk finds (no fd holds an unlinked file in these scenarios).
fn metadata(vfs: &Vfs) -> u64 {
    use wasi_abi::vfs::node::{DIR_INODE_COST, entry_cost, inode_cost};
    let mut inodes = std::collections::BTreeSet::new();
    let mut bytes = DIR_INODE_COST;
    for entry in vfs.walk() {
        let name = entry.path.rsplit(|b| *b == b'/').next().unwrap_or_default();
        bytes += entry_cost(name);
        if inodes.insert(entry.ino) {
            bytes += inode_cost(entry.stat.filetype, entry.stat.size);
        }
    }
    bytes
}

/// Times the symlink target goes down into a directory with a 250-byte name and back.
const LONG_TARGET_REPEATS: usize = 15;
/// That directory's name.
const LONG_NAME: [u8; 250] = [b'n'; 250];

/// Its length, for the step that must not allocate to know it.
const LONG_TARGET_LEN: u64 = ((LONG_NAME.len() + 4) * LONG_TARGET_REPEATS + 1) as u64;

/// A 3800-byte symlink target: `NAME/../` fifteen times, then `a`.
fn long_target() -> Vec<u8> {
    let down_and_up = [&LONG_NAME[..], b"/../"].concat();
    [&down_and_up.repeat(LONG_TARGET_REPEATS)[..], b"a"].concat()
}

fn symlink_long_target() -> Scenario {
    Scenario {
        setup: || {
            let mut machine = tree();
            let long_dir = [&b"d/"[..], &LONG_NAME].concat();
            machine.vfs.create_dir(&long_dir, NOW).unwrap();
            assert_eq!(long_target().len() as u64, LONG_TARGET_LEN);
            machine.put(PATH2, &long_target());
            machine
        },
        steps: &[
            |m| {
                let (old, old_len) = (PATH2.into(), LONG_TARGET_LEN);
                let [new, new_len] = m.path(PATH, b"d/link");
                m.call(
                    "path_symlink",
                    &[old, old_len, ROOT_FD.into(), new, new_len],
                )
            },
            |m| {
                let [ptr, len] = m.path(PATH, b"d/link");
                let args = [
                    ROOT_FD.into(),
                    ptr,
                    len,
                    BUF.into(),
                    BUF_LEN.into(),
                    OUT.into(),
                ];
                m.call("path_readlink", &args)
            },
            |m| {
                let follow = Lookupflags::SYMLINK_FOLLOW.bits().into();
                let [ptr, len] = m.path(PATH, b"d/link");
                let args = [ROOT_FD.into(), follow, ptr, len, BUF.into()];
                m.call("path_filestat_get", &args)
            },
            |m| m.open(b"d/link", Oflags::EMPTY, true),
        ],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// Levels of the deep directory chain.
const DEPTH: usize = 12;
/// A path down the chain, with `.` and `..` on the way, to its file.
const DEEP_PATH: &[u8] = b"d/0/./1/2/3/../3/4/5/6/7/8/9/10/./11/file";

/// A 12-level chain of directories `d/0/1/.../11` with a file at the bottom, reached by a
/// path of many components (the lookup's stack grows with the depth).
fn deep_path() -> Scenario {
    Scenario {
        setup: || {
            let machine = tree();
            let mut path = String::from("d");
            for level in 0..DEPTH {
                path = format!("{path}/{level}");
                machine.vfs.create_dir(path.as_bytes(), NOW).unwrap();
            }
            let file = format!("{path}/file");
            machine
                .vfs
                .write_file(file.as_bytes(), b"deep", NOW)
                .unwrap();
            machine
        },
        steps: &[
            |m| {
                let [ptr, len] = m.path(PATH, DEEP_PATH);
                let args = [ROOT_FD.into(), 0, ptr, len, BUF.into()];
                m.call("path_filestat_get", &args)
            },
            |m| m.open(DEEP_PATH, Oflags::EMPTY, false),
            |m| {
                let [old, old_len] = m.path(PATH, DEEP_PATH);
                let [new, new_len] = m.path(PATH2, b"d/0/1/2/3/4/5/6/7/8/9/moved");
                let args = [ROOT_FD.into(), old, old_len, ROOT_FD.into(), new, new_len];
                m.call("path_rename", &args)
            },
        ],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// Renames across directories onto an existing file, links and unlinks, removes a
/// directory.
fn rename_link_unlink() -> Scenario {
    Scenario {
        setup: tree,
        steps: &[
            |m| {
                let [old, old_len] = m.path(PATH, b"d/a");
                let [new, new_len] = m.path(PATH2, b"e/b");
                let args = [ROOT_FD.into(), old, old_len, ROOT_FD.into(), new, new_len];
                m.call("path_rename", &args)
            },
            |m| {
                let [old, old_len] = m.path(PATH, b"e/b");
                let [new, new_len] = m.path(PATH2, b"d/sub/hard");
                let args = [
                    ROOT_FD.into(),
                    0,
                    old,
                    old_len,
                    ROOT_FD.into(),
                    new,
                    new_len,
                ];
                m.call("path_link", &args)
            },
            |m| {
                let [ptr, len] = m.path(PATH, b"d/sub/c");
                m.call("path_unlink_file", &[ROOT_FD.into(), ptr, len])
            },
            |m| {
                let [ptr, len] = m.path(PATH, b"e/b");
                m.call("path_unlink_file", &[ROOT_FD.into(), ptr, len])
            },
            |m| {
                let [old, old_len] = m.path(PATH, b"d/sub");
                let [new, new_len] = m.path(PATH2, b"e/moved");
                let args = [ROOT_FD.into(), old, old_len, ROOT_FD.into(), new, new_len];
                m.call("path_rename", &args)
            },
            |m| {
                let [ptr, len] = m.path(PATH, b"d");
                m.call("path_remove_directory", &[ROOT_FD.into(), ptr, len])
            },
        ],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// Truncation of a three-chunk file, on open and through the fd, frees chunks.
fn truncate() -> Scenario {
    Scenario {
        setup: || Machine::new(&["d"], &[("d/big", &[7; 3 * 64 * 1024])]),
        steps: &[
            |m| m.open(b"d/big", Oflags::EMPTY, false),
            |m| m.call("fd_filestat_set_size", &[4, 100 * 1024]),
            |m| m.open(b"d/big", Oflags::TRUNC, false),
        ],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// Forty opens of one file grow the fd table.
fn fd_table_grows() -> Scenario {
    const OPEN: Step = |m| m.open(b"d/a", Oflags::EMPTY, false);
    Scenario {
        setup: tree,
        steps: &[OPEN; 40],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// A pipe opened with `cella_process`'s `pipe`, written and read through its fds.
fn pipe_write_read() -> Scenario {
    Scenario {
        setup: || {
            let mut machine = tree();
            machine.put(DATA, &[9; 10_000]);
            let iovec = Iovec {
                buf: DATA,
                buf_len: 10_000,
            };
            GuestMemory::new(&mut machine.mem)
                .write(IOVS, &iovec)
                .unwrap();
            machine
        },
        steps: &[
            |m| {
                let mut mem = GuestMemory::new(&mut m.mem);
                match control::open_pipe(&mut m.ctx, &mut mem, OUT) {
                    Ok(()) => Errno::Success,
                    Err(Fault::Errno(errno)) => errno,
                    Err(fault) => panic!("pipe: {fault:?}"),
                }
            },
            |m| m.call("fd_write", &[5, IOVS.into(), 1, (OUT + 8).into()]),
            |m| m.call("fd_write", &[5, IOVS.into(), 1, (OUT + 8).into()]),
            |m| m.call("fd_read", &[4, IOVS.into(), 1, (OUT + 8).into()]),
        ],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// Where the spawn request goes.
const REQUEST: u32 = 128;

/// A spawn request with 30 arguments, 100 environment strings (empty ones among them)
/// and three preopens, for the program file `prog.wasm` opened as fd 4.
fn spawn_request() -> Machine {
    let program: Vec<u8> = (0..10_000).map(|i| (i % 253) as u8).collect();
    let mut machine = Machine::new(&["d"], &[("prog.wasm", &program)]);
    assert_eq!(
        machine.open(b"prog.wasm", Oflags::EMPTY, false),
        Errno::Success
    );
    let argv: Vec<u8> = (0..30)
        .flat_map(|i| format!("arg{i}\0").into_bytes())
        .collect();
    let env: Vec<u8> = (0..100)
        .flat_map(|i| {
            if i % 2 == 0 {
                format!("NAME{i}=value\0").into_bytes()
            } else {
                vec![0]
            }
        })
        .collect();
    let argv_at = DATA;
    let env_at = argv_at + argv.len() as u32;
    let names_at = env_at + env.len() as u32;
    let name = |n: u32| format!("/preopen-{n}-{}", "x".repeat(100)).into_bytes();
    let mut table = Vec::new();
    let mut at = names_at;
    for n in 0..3 {
        let name = name(n);
        machine.put(at, &name);
        let mut entry = [0; PreopenEntry::SIZE];
        PreopenEntry {
            fd: ROOT_FD,
            name: at,
            name_len: name.len() as u32,
        }
        .encode(&mut entry);
        table.extend(entry);
        at += name.len() as u32;
    }
    let table_at = at.next_multiple_of(8);
    machine.put(argv_at, &argv);
    machine.put(env_at, &env);
    machine.put(table_at, &table);
    let mut request = [0; SpawnRequest::SIZE];
    SpawnRequest {
        program_fd: 4,
        argv: argv_at,
        argv_len: argv.len() as u32,
        env: env_at,
        env_len: env.len() as u32,
        stdio: [0, 1, 2],
        preopens: table_at,
        preopens_len: 3,
        group: Group::Caller,
        max_fds: 0,
        memory_limit: 0,
        fuel_limit: 0,
    }
    .encode(&mut request);
    machine.put(REQUEST, &request);
    machine
}

/// `spawn`'s decoding in the caller: the request's strings, the child's fd table, the
/// program's bytes.
fn spawn_decoding() -> Scenario {
    Scenario {
        setup: spawn_request,
        steps: &[|m| {
            let prepared = (|| {
                let mem = GuestMemory::new(&mut m.mem);
                let request = Spawn::read(&mem, REQUEST)?;
                let fds = control::child_fds(&m.ctx, &request)?;
                let program = control::read_program(&mut m.ctx, request.program_fd)?;
                Ok::<_, Fault>(Spawned {
                    request,
                    fds,
                    program,
                })
            })();
            match prepared {
                Ok(spawned) => {
                    m.spawned = Some(spawned);
                    Errno::Success
                }
                Err(Fault::Errno(errno)) => errno,
                Err(fault) => panic!("spawn: {fault:?}"),
            }
        }],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// `poll_oneoff` with 500 clock subscriptions that have all expired.
fn poll_many() -> Scenario {
    Scenario {
        setup: || {
            let mut machine = tree();
            let mut mem = GuestMemory::new(&mut machine.mem);
            for n in 0..500 {
                let subscription = Subscription {
                    userdata: n,
                    kind: SubscriptionKind::Clock(SubscriptionClock {
                        id: ClockId::Monotonic as u32,
                        timeout: 0,
                        precision: 0,
                        flags: 0,
                    }),
                };
                mem.write(DATA + 48 * n as u32, &subscription).unwrap();
            }
            machine
        },
        steps: &[|m| {
            let events = DATA + 48 * 500;
            m.call(
                "poll_oneoff",
                &[DATA.into(), events.into(), 500, OUT.into()],
            )
        }],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// The fd an accepted connection gets: after the listener (4) and three more preopens,
/// which fill the table's first eight slots, so that accepting must grow it.
const STREAM_FD: u64 = 8;

/// A connection accepted from a listener (fd 4), then peeked at and read.
fn accept_peek_read() -> Scenario {
    Scenario {
        setup: || {
            let mut machine = tree();
            let stream: Box<dyn WasiFile> = Box::new(FakeStream(vec![5; 3000]));
            let listener = FakeListener(vec![stream]);
            assert_eq!(machine.ctx.add_listener(Box::new(listener)), Ok(4));
            for _ in 0..3 {
                machine
                    .ctx
                    .add_preopen(b"again", machine.vfs.root())
                    .unwrap();
            }
            for n in 0..2 {
                let iovec = Iovec {
                    buf: DATA + n * 2000,
                    buf_len: 2000,
                };
                GuestMemory::new(&mut machine.mem)
                    .write(IOVS + 8 * n, &iovec)
                    .unwrap();
            }
            machine
        },
        steps: &[
            |m| m.call("sock_accept", &[4, 0, OUT.into()]),
            |m| {
                let peek = Riflags::RECV_PEEK.bits().into();
                let args = [
                    STREAM_FD,
                    IOVS.into(),
                    2,
                    peek,
                    (OUT + 8).into(),
                    (OUT + 12).into(),
                ];
                m.call("sock_recv", &args)
            },
            |m| {
                let args = [
                    STREAM_FD,
                    IOVS.into(),
                    2,
                    0,
                    (OUT + 8).into(),
                    (OUT + 12).into(),
                ];
                m.call("sock_recv", &args)
            },
        ],
        allowed: ENOMEM,
        check: Check::Recorded,
        allocation_free: false,
    }
}

/// Calls that copy into guest memory without allocating: readdir, args, environment,
/// preopen names, reads.
fn no_allocation() -> Scenario {
    Scenario {
        setup: || {
            let mut machine = tree();
            for n in 0..20 {
                let name = format!("d/entry-{n}");
                machine.vfs.write_file(name.as_bytes(), b"x", NOW).unwrap();
            }
            assert_eq!(machine.open(b"d", Oflags::DIRECTORY, false), Errno::Success);
            assert_eq!(machine.open(b"d/a", Oflags::EMPTY, false), Errno::Success);
            let iovec = Iovec {
                buf: BUF,
                buf_len: 64,
            };
            GuestMemory::new(&mut machine.mem)
                .write(IOVS, &iovec)
                .unwrap();
            machine
        },
        steps: &[
            |m| {
                m.call(
                    "fd_readdir",
                    &[4, BUF.into(), BUF_LEN.into(), 0, OUT.into()],
                )
            },
            |m| m.call("fd_readdir", &[4, BUF.into(), 100, 5, OUT.into()]),
            |m| m.call("args_sizes_get", &[OUT.into(), (OUT + 4).into()]),
            |m| m.call("args_get", &[OUT.into(), BUF.into()]),
            |m| m.call("environ_sizes_get", &[OUT.into(), (OUT + 4).into()]),
            |m| m.call("environ_get", &[OUT.into(), BUF.into()]),
            |m| m.call("fd_prestat_get", &[ROOT_FD.into(), OUT.into()]),
            |m| m.call("fd_prestat_dir_name", &[ROOT_FD.into(), BUF.into(), 1]),
            |m| m.call("fd_read", &[5, IOVS.into(), 1, OUT.into()]),
            |m| m.call("fd_close", &[5]),
        ],
        allowed: &[],
        check: Check::Recorded,
        allocation_free: true,
    }
}

// ---------------------------------------------------------------------------------------
// Running each scenario in its own process

/// The environment variable that makes this binary run one scenario in-process.
const CHILD: &str = "ALLOC_FAILURE_SCENARIO";

/// In the parent: runs test `name` again in a child process and asserts that it passed.
/// In that child: exercises the scenario.
fn isolated(name: &str, scenario: fn() -> Scenario) {
    if std::env::var(CHILD).as_deref() == Ok(name) {
        let summary = exercise(name, &scenario());
        println!("SUMMARY {summary}");
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stdout.lines().rev().take(5).collect();
    assert!(
        output.status.success(),
        "{name} failed ({}); last lines of its output, newest first:\n{}\nstderr:\n{stderr}",
        output.status,
        tail.join("\n")
    );
    let summary = stdout
        .lines()
        .find_map(|line| line.strip_prefix("SUMMARY "))
        .unwrap_or_else(|| panic!("{name}: the child ran no scenario:\n{stdout}"));
    println!("{summary}");
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            super::isolated(concat!("run::", stringify!($name)), super::$name);
        }
    )*};
}

mod run {
    scenarios!(
        open_creates,
        create_directories,
        write_grows_a_file,
        symlink_long_target,
        rename_link_unlink,
        deep_path,
        truncate,
        fd_table_grows,
        pipe_write_read,
        spawn_decoding,
        poll_many,
        accept_peek_read,
        no_allocation,
    );
}

/// The injector itself: it fails the allocation asked for, and only on the armed thread.
#[test]
fn the_injector_fails_the_nth_allocation() {
    let (results, seen, hit) = with_injection(2, Mode::Once, || {
        let mut first: Vec<u8> = Vec::new();
        let mut second: Vec<u8> = Vec::new();
        let mut third: Vec<u8> = Vec::new();
        [
            first.try_reserve(8).is_ok(),
            second.try_reserve(8).is_ok(),
            third.try_reserve(8).is_ok(),
        ]
    });
    assert_eq!(results, [true, false, true]);
    assert_eq!((seen, hit), (3, true));
    let (results, _, _) = with_injection(1, Mode::FromThenOn, || {
        let mut vecs: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        vecs.each_mut().map(|vec| vec.try_reserve(8).is_ok())
    });
    assert_eq!(results, [false, false]);
}
