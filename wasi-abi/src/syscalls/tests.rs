//! Host tests of every implemented syscall, run through `dispatch` over a plain `Vec<u8>`
//! memory with a scripted fake platform.

use alloc::vec;
use alloc::vec::Vec;

use super::{FUNCTIONS, MODULE, ValType, dispatch, lookup, not_implemented};
use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::memory::GuestMemory;
use crate::outcome::{Outcome, Trap};
use crate::types::{
    ClockId, Event, Eventrwflags, Eventtype, Fdflags, Fdstat, Filestat, Filetype, Rights,
    Subclockflags, Subscription, SubscriptionClock, SubscriptionKind,
};

pub(crate) use crate::testing::{Fake, REALTIME_OFFSET};

/// Size of the test memory.
const MEMORY_SIZE: usize = 64 * 1024;

struct Harness {
    ctx: WasiCtx<Fake>,
    mem: Vec<u8>,
}

impl Harness {
    fn new() -> Self {
        Self::with(Fake::default(), vec![], vec![])
    }

    fn with(fake: Fake, args: Vec<&str>, env: Vec<&str>) -> Self {
        let strings = |v: Vec<&str>| v.into_iter().map(|s| s.as_bytes().to_vec()).collect();
        Harness {
            ctx: WasiCtx::new(fake, strings(args), strings(env)),
            mem: vec![0; MEMORY_SIZE],
        }
    }

    fn fake(&mut self) -> &mut Fake {
        self.ctx.platform()
    }

    /// Makes the call as the kernel does: a blocked call is repeated after waiting.
    fn call(&mut self, name: &str, args: &[u64]) -> Outcome {
        let index = lookup(name).unwrap_or_else(|| panic!("no function {name}"));
        loop {
            match dispatch(&mut self.ctx, &mut self.mem, index, args) {
                Outcome::Block { deadline } => self.fake().wait(deadline),
                outcome => return outcome,
            }
        }
    }

    fn errno(&mut self, name: &str, args: &[u64]) -> Errno {
        match self.call(name, args) {
            Outcome::Return(errno) => errno,
            other => panic!("{name} gave {other:?}"),
        }
    }

    fn ok(&mut self, name: &str, args: &[u64]) {
        assert_eq!(self.errno(name, args), Errno::Success, "{name}");
    }

    fn trap(&mut self, name: &str, args: &[u64]) -> Trap {
        match self.call(name, args) {
            Outcome::Trap(trap) => trap,
            other => panic!("{name} gave {other:?}"),
        }
    }

    fn u32_at(&self, addr: u32) -> u32 {
        let a = addr as usize;
        u32::from_le_bytes(self.mem[a..a + 4].try_into().unwrap())
    }

    fn u64_at(&self, addr: u32) -> u64 {
        let a = addr as usize;
        u64::from_le_bytes(self.mem[a..a + 8].try_into().unwrap())
    }

    fn set_u32(&mut self, addr: u32, value: u32) {
        let a = addr as usize;
        self.mem[a..a + 4].copy_from_slice(&value.to_le_bytes());
    }

    fn set_bytes(&mut self, addr: u32, data: &[u8]) {
        let a = addr as usize;
        self.mem[a..a + data.len()].copy_from_slice(data);
    }

    fn bytes(&self, addr: u32, len: usize) -> &[u8] {
        &self.mem[addr as usize..addr as usize + len]
    }

    /// Writes iovecs at `at` for the given (buffer, length) pairs.
    fn set_iovecs(&mut self, at: u32, iovecs: &[(u32, u32)]) {
        for (i, (buf, len)) in iovecs.iter().enumerate() {
            self.set_u32(at + 8 * i as u32, *buf);
            self.set_u32(at + 8 * i as u32 + 4, *len);
        }
    }

    fn write<T: crate::memory::GuestType>(&mut self, addr: u32, value: &T) {
        GuestMemory::new(&mut self.mem).write(addr, value).unwrap();
    }

    fn read<T: crate::memory::GuestType>(&mut self, addr: u32) -> T {
        GuestMemory::new(&mut self.mem).read(addr).unwrap()
    }
}

mod fs;
mod sock;

// ---- the table ----

/// The functions of `wasi_snapshot_preview1.witx`, in its order.
const WITX_NAMES: [&str; 46] = [
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "fd_write",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "poll_oneoff",
    "proc_exit",
    "proc_raise",
    "sched_yield",
    "random_get",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

#[test]
fn table_lists_the_46_witx_functions_in_order() {
    assert_eq!(MODULE, "wasi_snapshot_preview1");
    let names: Vec<_> = FUNCTIONS.iter().map(|f| f.name).collect();
    assert_eq!(names, WITX_NAMES);
    for (index, name) in WITX_NAMES.iter().enumerate() {
        assert_eq!(lookup(name), Some(index));
    }
    assert_eq!(lookup("fd_write2"), None);
    let without_errno: Vec<_> = FUNCTIONS
        .iter()
        .filter(|f| !f.returns_errno)
        .map(|f| f.name)
        .collect();
    assert_eq!(without_errno, ["proc_exit"]);
}

#[test]
fn table_signatures_match_the_witx() {
    use ValType::{I32, I64};
    let params = |name| FUNCTIONS[lookup(name).unwrap()].params;
    assert_eq!(params("clock_time_get"), [I32, I64, I32]);
    assert_eq!(params("fd_advise"), [I32, I64, I64, I32]);
    assert_eq!(params("fd_fdstat_set_rights"), [I32, I64, I64]);
    assert_eq!(params("fd_filestat_set_times"), [I32, I64, I64, I32]);
    assert_eq!(params("fd_pread"), [I32, I32, I32, I64, I32]);
    assert_eq!(params("fd_readdir"), [I32, I32, I32, I64, I32]);
    assert_eq!(params("fd_seek"), [I32, I64, I32, I32]);
    assert_eq!(
        params("path_filestat_set_times"),
        [I32, I32, I32, I32, I64, I64, I32]
    );
    assert_eq!(
        params("path_open"),
        [I32, I32, I32, I32, I32, I64, I64, I32, I32]
    );
    assert_eq!(params("path_link"), [I32; 7]);
    assert_eq!(params("sock_recv"), [I32; 6]);
    assert_eq!(params("sched_yield"), []);
    assert_eq!(params("proc_exit"), [I32]);
    let i64_users = FUNCTIONS.iter().filter(|f| f.params.contains(&I64)).count();
    assert_eq!(i64_users, 12);
}

#[test]
fn every_function_is_implemented() {
    assert_eq!(not_implemented().count(), 0);
}

#[test]
fn socket_calls_on_non_sockets_are_ebadf_or_enotsock() {
    let mut h = Harness::new();
    for name in ["sock_accept", "sock_recv", "sock_send", "sock_shutdown"] {
        let argc = FUNCTIONS[lookup(name).unwrap()].params.len();
        // The fd is checked first: hostile pointers after it are never touched.
        let mut args = vec![u64::MAX; argc];
        args[0] = 1;
        assert_eq!(h.errno(name, &args), Errno::Notsock, "{name} on stdout");
        args[0] = 77;
        assert_eq!(h.errno(name, &args), Errno::Badf, "{name} on a closed fd");
    }
}

#[test]
fn dispatch_rejects_bad_indices_and_argument_counts() {
    let mut h = Harness::new();
    let outcome = dispatch(&mut h.ctx, &mut h.mem, FUNCTIONS.len(), &[]);
    assert_eq!(outcome, Outcome::Trap(Trap::UnknownFunction));
    assert_eq!(h.trap("fd_close", &[]), Trap::WrongArgumentCount);
    assert_eq!(h.trap("sched_yield", &[1]), Trap::WrongArgumentCount);
    assert_eq!(
        Trap::MemoryOutOfBounds.message(),
        "out of bounds memory access"
    );
}

#[test]
fn i32_arguments_may_arrive_sign_extended() {
    let mut h = Harness::new();
    h.set_bytes(0x100, b"hi");
    h.set_iovecs(0x10, &[(0x100, 2)]);
    // fd 1 with garbage in the upper half, as a sign-extending caller might pass -1 for others.
    h.ok("fd_write", &[0xffff_ffff_0000_0001, 0x10, 1, 0x20]);
    assert_eq!(h.fake().stdout, b"hi");
    assert_eq!(h.errno("fd_close", &[u64::MAX]), Errno::Badf);
}

// ---- args and environ ----

#[test]
fn args_layout_is_byte_exact() {
    let mut h = Harness::with(Fake::default(), vec!["prog", "a b", ""], vec![]);
    h.mem[0x200..0x220].fill(0xff);
    h.ok("args_sizes_get", &[0x10, 0x14]);
    assert_eq!((h.u32_at(0x10), h.u32_at(0x14)), (3, 10));
    h.ok("args_get", &[0x100, 0x200]);
    assert_eq!(
        [h.u32_at(0x100), h.u32_at(0x104), h.u32_at(0x108)],
        [0x200, 0x205, 0x209]
    );
    assert_eq!(h.bytes(0x200, 11), b"prog\0a b\0\0\xff");
    assert_eq!(h.u32_at(0x10c), 0, "nothing past argv[argc - 1]");
}

#[test]
fn environ_layout_is_byte_exact() {
    let mut h = Harness::with(Fake::default(), vec!["x"], vec!["A=1", "PATH=/bin"]);
    h.ok("environ_sizes_get", &[0x10, 0x14]);
    assert_eq!((h.u32_at(0x10), h.u32_at(0x14)), (2, 14));
    h.ok("environ_get", &[0x100, 0x301]);
    assert_eq!([h.u32_at(0x100), h.u32_at(0x104)], [0x301, 0x305]);
    assert_eq!(h.bytes(0x301, 14), b"A=1\0PATH=/bin\0");
}

#[test]
fn empty_args_and_environ() {
    let mut h = Harness::new();
    h.set_u32(0x10, 7);
    h.ok("environ_sizes_get", &[0x10, 0x14]);
    assert_eq!((h.u32_at(0x10), h.u32_at(0x14)), (0, 0));
    // Nothing to write, so even a buffer at the very end of memory is fine.
    h.ok("environ_get", &[MEMORY_SIZE as u64, MEMORY_SIZE as u64]);
}

#[test]
fn args_with_bad_pointers_trap_before_writing() {
    let end = MEMORY_SIZE as u64;
    let mut h = Harness::with(Fake::default(), vec!["prog", "arg"], vec![]);
    assert_eq!(
        h.trap("args_get", &[0x100, end - 8]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.u32_at(0x100),
        0,
        "argv untouched when the buffer does not fit"
    );
    assert_eq!(
        h.trap("args_get", &[end - 4, 0x200]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(h.trap("args_get", &[0x102, 0x200]), Trap::Misaligned);
    // The string buffer holds bytes: any alignment is fine.
    h.ok("args_get", &[0x100, 0x201]);
    assert_eq!(h.bytes(0x201, 9), b"prog\0arg\0");
    assert_eq!(
        h.trap("args_sizes_get", &[0x10, end]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(h.trap("args_sizes_get", &[0x11, 0x14]), Trap::Misaligned);
}

// ---- clocks and random ----

#[test]
fn clocks_report_each_id() {
    let mut h = Harness::new();
    h.fake().mono = 4000;
    let time = |h: &mut Harness, id: u64| {
        h.ok("clock_time_get", &[id, 1, 0x18]);
        h.u64_at(0x18)
    };
    assert_eq!(time(&mut h, 0), REALTIME_OFFSET + 4000);
    assert_eq!(time(&mut h, 1), 4000);
    assert_eq!(time(&mut h, 2), 2000);
    assert_eq!(time(&mut h, 3), 1000);
    assert_eq!(h.errno("clock_time_get", &[4, 0, 0x18]), Errno::Inval);
    h.ok("clock_res_get", &[0, 0x20]);
    assert_eq!(h.u64_at(0x20), 1000);
    h.ok("clock_res_get", &[1, 0x20]);
    assert_eq!(h.u64_at(0x20), 1);
    assert_eq!(h.errno("clock_res_get", &[99, 0x20]), Errno::Inval);
    assert_eq!(h.trap("clock_time_get", &[1, 0, 0x1c]), Trap::Misaligned);
    let end = MEMORY_SIZE as u64;
    assert_eq!(
        h.trap("clock_time_get", &[1, 0, end]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(h.trap("clock_time_get", &[1, 0, end - 4]), Trap::Misaligned);
    h.ok("clock_time_get", &[1, 0, end - 8]);
}

#[test]
fn random_fills_in_place() {
    let mut h = Harness::new();
    h.ok("random_get", &[0x10, 40_000]);
    assert_eq!(h.mem[0x0f], 0);
    assert_eq!(h.mem[0x10], 1);
    assert_eq!(h.mem[0x10 + 299], 44); // 300 mod 256
    assert_eq!(h.mem[0x10 + 40_000], 0);
    let end = MEMORY_SIZE as u64;
    h.ok("random_get", &[end, 0]);
    assert_eq!(
        h.trap("random_get", &[end - 10, 11]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.trap("random_get", &[1, u32::MAX.into()]),
        Trap::MemoryOutOfBounds
    );
}

// ---- fd_write and fd_read ----

#[test]
fn fd_write_gathers_iovecs() {
    let mut h = Harness::new();
    h.set_bytes(0x100, b"hel");
    h.set_bytes(0x200, b"lo\n");
    h.set_iovecs(0x10, &[(0x100, 3), (0x900, 0), (0x200, 3)]);
    h.ok("fd_write", &[1, 0x10, 3, 0x40]);
    assert_eq!(h.u32_at(0x40), 6);
    assert_eq!(h.fake().stdout, b"hello\n");
    h.ok("fd_write", &[2, 0x10, 1, 0x40]);
    assert_eq!(h.fake().stderr, b"hel");
    // No iovecs at all: nothing written, nwritten 0.
    h.ok("fd_write", &[1, 0, 0, 0x40]);
    assert_eq!(h.u32_at(0x40), 0);
}

#[test]
fn fd_write_stops_at_a_short_write() {
    let mut h = Harness::new();
    h.fake().write_limit = Some(2);
    h.set_bytes(0x100, b"abcdef");
    h.set_iovecs(0x10, &[(0x100, 3), (0x103, 3)]);
    h.ok("fd_write", &[1, 0x10, 2, 0x40]);
    assert_eq!(h.u32_at(0x40), 2);
    assert_eq!(h.fake().stdout, b"ab");
}

#[test]
fn fd_write_to_stdin_or_a_closed_fd_is_ebadf() {
    let mut h = Harness::new();
    h.set_bytes(0x100, b"x");
    h.set_iovecs(0x10, &[(0x100, 1)]);
    h.set_u32(0x40, 77);
    assert_eq!(h.errno("fd_write", &[0, 0x10, 1, 0x40]), Errno::Badf);
    assert_eq!(h.errno("fd_write", &[3, 0x10, 1, 0x40]), Errno::Badf);
    assert_eq!(h.u32_at(0x40), 77, "nwritten untouched on error");
    // The fd is checked before guest memory is touched.
    assert_eq!(
        h.errno("fd_write", &[9, u32::MAX.into(), 5, 0x40]),
        Errno::Badf
    );
}

#[test]
fn fd_read_scatters_and_then_sees_eof() {
    let fake = Fake {
        stdin: b"abcdefgh".iter().copied().collect(),
        stdin_eof: true,
        ..Fake::default()
    };
    let mut h = Harness::with(fake, vec![], vec![]);
    h.set_iovecs(0x10, &[(0x100, 3), (0x300, 0), (0x200, 10)]);
    h.ok("fd_read", &[0, 0x10, 3, 0x40]);
    assert_eq!(h.u32_at(0x40), 8);
    assert_eq!(h.bytes(0x100, 3), b"abc");
    assert_eq!(h.bytes(0x200, 6), b"defgh\0");
    h.set_u32(0x40, 99);
    h.ok("fd_read", &[0, 0x10, 3, 0x40]);
    assert_eq!(h.u32_at(0x40), 0, "end of file");
    assert_eq!(h.errno("fd_read", &[1, 0x10, 3, 0x40]), Errno::Badf);
    assert_eq!(h.errno("fd_read", &[5, 0x10, 3, 0x40]), Errno::Badf);
}

#[test]
fn fd_read_returns_what_is_there_after_the_first_chunk() {
    let fake = Fake {
        arrivals: [(100, b"ab".to_vec()), (500, b"cd".to_vec())].into(),
        stdin_eof: true,
        ..Fake::default()
    };
    let mut h = Harness::with(fake, vec![], vec![]);
    h.set_iovecs(0x10, &[(0x100, 2), (0x200, 2)]);
    // Blocks for the first chunk, fills the first iovec, finds nothing more without blocking.
    h.ok("fd_read", &[0, 0x10, 2, 0x40]);
    assert_eq!(h.u32_at(0x40), 2);
    assert_eq!(h.bytes(0x100, 2), b"ab");
    assert_eq!(h.fake().mono, 100);
    h.ok("fd_read", &[0, 0x10, 2, 0x40]);
    assert_eq!(h.bytes(0x100, 2), b"cd");
    assert_eq!(h.fake().mono, 500);
}

#[test]
fn fd_read_nonblocking_is_eagain() {
    let fake = Fake {
        arrivals: [(1000, b"late".to_vec())].into(),
        ..Fake::default()
    };
    let mut h = Harness::with(fake, vec![], vec![]);
    h.set_iovecs(0x10, &[(0x100, 8)]);
    h.ok("fd_fdstat_set_flags", &[0, Fdflags::NONBLOCK.bits().into()]);
    assert_eq!(h.errno("fd_read", &[0, 0x10, 1, 0x40]), Errno::Again);
    assert_eq!(h.fake().mono, 0, "did not wait");
    h.ok("fd_fdstat_set_flags", &[0, 0]);
    h.ok("fd_read", &[0, 0x10, 1, 0x40]);
    assert_eq!(h.u32_at(0x40), 4);
    assert_eq!(h.bytes(0x100, 4), b"late");
    assert_eq!(h.fake().mono, 1000, "blocked until the data came");
}

#[test]
fn fd_read_with_only_empty_iovecs_does_not_block() {
    // The fake panics on a blocking read of a stdin that never gets data.
    let mut h = Harness::new();
    h.set_iovecs(0x10, &[(0x100, 0)]);
    h.set_u32(0x40, 5);
    h.ok("fd_read", &[0, 0x10, 1, 0x40]);
    assert_eq!(h.u32_at(0x40), 0);
}

#[test]
fn hostile_iovecs_trap_without_side_effects() {
    let end = MEMORY_SIZE as u32;
    let mut h = Harness::new();
    h.set_bytes(0x100, b"data");
    // The iovec array itself out of bounds.
    assert_eq!(
        h.trap("fd_write", &[1, (end - 4).into(), 1, 0x40]),
        Trap::MemoryOutOfBounds
    );
    // iovs_len so large that iovs_len * 8 overflows.
    assert_eq!(
        h.trap("fd_write", &[1, 0x10, 0x2000_0000, 0x40]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.trap("fd_write", &[1, 0x10, u32::MAX.into(), 0x40]),
        Trap::MemoryOutOfBounds
    );
    // A good iovec followed by one whose buffer runs off the end: nothing is written.
    h.set_iovecs(0x10, &[(0x100, 4), (end - 2, 3)]);
    assert_eq!(
        h.trap("fd_write", &[1, 0x10, 2, 0x40]),
        Trap::MemoryOutOfBounds
    );
    h.set_iovecs(0x10, &[(0x100, 4), (u32::MAX, u32::MAX)]);
    assert_eq!(
        h.trap("fd_write", &[1, 0x10, 2, 0x40]),
        Trap::MemoryOutOfBounds
    );
    // nwritten just past the end of memory: trap before writing.
    h.set_iovecs(0x10, &[(0x100, 4)]);
    assert_eq!(
        h.trap("fd_write", &[1, 0x10, 1, (end - 2).into()]),
        Trap::Misaligned
    );
    assert_eq!(
        h.trap("fd_write", &[1, 0x10, 1, end.into()]),
        Trap::MemoryOutOfBounds
    );
    assert!(h.fake().stdout.is_empty());
    // Misaligned iovec array.
    assert_eq!(h.trap("fd_write", &[1, 0x12, 1, 0x40]), Trap::Misaligned);
    // The same for reads: nothing consumed from stdin.
    h.fake().stdin.extend(b"keep");
    h.set_iovecs(0x10, &[(0x100, 4), (end, 1)]);
    assert_eq!(
        h.trap("fd_read", &[0, 0x10, 2, 0x40]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(h.fake().stdin.len(), 4);
    // nwritten at the last aligned word is fine.
    h.set_iovecs(0x10, &[(0x100, 4)]);
    h.ok("fd_write", &[1, 0x10, 1, (end - 4).into()]);
    assert_eq!(h.u32_at(end - 4), 4);
}

#[test]
fn iovec_total_beyond_u32_is_einval() {
    let mut h = Harness::new();
    h.mem = vec![0; 1 << 20];
    let count = 4097u32;
    let iovecs: Vec<_> = (0..count).map(|_| (0, 1 << 20)).collect();
    h.set_iovecs(0x10, &iovecs);
    assert_eq!(
        h.errno("fd_write", &[1, 0x10, count.into(), 0x8]),
        Errno::Inval
    );
    assert!(h.fake().stdout.is_empty());
}

// ---- fd attributes ----

#[test]
fn fdstat_of_stdio() {
    let mut h = Harness::new();
    h.mem[0x100..0x118].fill(0xff);
    h.ok("fd_fdstat_get", &[0, 0x100]);
    assert_eq!(
        h.bytes(0x100, 24),
        [
            2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0
        ]
    );
    for fd in [1, 2] {
        h.ok("fd_fdstat_get", &[fd, 0x100]);
        assert_eq!(
            h.read::<Fdstat>(0x100),
            Fdstat {
                filetype: Filetype::CharacterDevice,
                flags: Fdflags::EMPTY,
                rights_base: Rights::FD_WRITE,
                rights_inheriting: Rights::FD_WRITE,
            }
        );
    }
    assert_eq!(h.errno("fd_fdstat_get", &[3, 0x100]), Errno::Badf);
    assert_eq!(h.trap("fd_fdstat_get", &[1, 0x104]), Trap::Misaligned);
}

#[test]
fn fdstat_set_flags() {
    let mut h = Harness::new();
    let append_nonblock = Fdflags::APPEND | Fdflags::NONBLOCK;
    h.ok("fd_fdstat_set_flags", &[1, append_nonblock.bits().into()]);
    h.ok("fd_fdstat_get", &[1, 0x100]);
    assert_eq!(h.read::<Fdstat>(0x100).flags, append_nonblock);
    for bad in [
        0x20,
        0x1_0000,
        Fdflags::SYNC.bits().into(),
        Fdflags::DSYNC.bits().into(),
    ] {
        assert_eq!(
            h.errno("fd_fdstat_set_flags", &[1, bad]),
            Errno::Inval,
            "{bad:#x}"
        );
    }
    h.ok("fd_fdstat_get", &[1, 0x100]);
    assert_eq!(
        h.read::<Fdstat>(0x100).flags,
        append_nonblock,
        "unchanged by failures"
    );
    assert_eq!(h.errno("fd_fdstat_set_flags", &[4, 0]), Errno::Badf);
    // APPEND changes nothing for a terminal.
    h.set_bytes(0x200, b"z");
    h.set_iovecs(0x10, &[(0x200, 1)]);
    h.ok("fd_write", &[1, 0x10, 1, 0x40]);
    assert_eq!(h.fake().stdout, b"z");
}

#[test]
fn fdstat_set_rights_only_narrows() {
    let mut h = Harness::new();
    let write = Rights::FD_WRITE.bits();
    assert_eq!(
        h.errno(
            "fd_fdstat_set_rights",
            &[1, write | Rights::FD_READ.bits(), write]
        ),
        Errno::Notcapable
    );
    assert_eq!(
        h.errno("fd_fdstat_set_rights", &[1, write, Rights::ALL.bits()]),
        Errno::Notcapable
    );
    h.ok("fd_fdstat_set_rights", &[1, write, 0]);
    h.ok("fd_fdstat_set_rights", &[1, 0, 0]);
    h.ok("fd_fdstat_get", &[1, 0x100]);
    assert_eq!(h.read::<Fdstat>(0x100).rights_base, Rights::EMPTY);
    h.set_iovecs(0x10, &[(0x200, 1)]);
    assert_eq!(h.errno("fd_write", &[1, 0x10, 1, 0x40]), Errno::Badf);
    assert_eq!(
        h.errno("fd_fdstat_set_rights", &[1, write, 0]),
        Errno::Notcapable
    );
    assert_eq!(h.errno("fd_fdstat_set_rights", &[8, 0, 0]), Errno::Badf);
}

#[test]
fn filestat_of_stdio() {
    let mut h = Harness::new();
    h.mem[0x100..0x140].fill(0xff);
    h.ok("fd_filestat_get", &[1, 0x100]);
    assert_eq!(
        h.read::<Filestat>(0x100),
        Filestat::of_type(Filetype::CharacterDevice)
    );
    assert_eq!(h.mem[0x110], 2);
    assert!(
        h.bytes(0x100, 64)
            .iter()
            .enumerate()
            .all(|(i, b)| i == 16 || *b == 0)
    );
    assert_eq!(h.errno("fd_filestat_get", &[3, 0x100]), Errno::Badf);
}

#[test]
fn seek_and_tell_on_stdio_are_espipe() {
    let mut h = Harness::new();
    h.set_u32(0x100, 5);
    for fd in 0..3 {
        assert_eq!(h.errno("fd_seek", &[fd, 0, 0, 0x100]), Errno::Spipe);
        assert_eq!(
            h.errno("fd_seek", &[fd, (-1i64) as u64, 1, 0x100]),
            Errno::Spipe
        );
        assert_eq!(h.errno("fd_tell", &[fd, 0x100]), Errno::Spipe);
    }
    assert_eq!(h.u32_at(0x100), 5);
    assert_eq!(h.errno("fd_seek", &[1, 0, 3, 0x100]), Errno::Inval);
    assert_eq!(h.errno("fd_seek", &[7, 0, 0, 0x100]), Errno::Badf);
    assert_eq!(h.errno("fd_tell", &[7, 0x100]), Errno::Badf);
}

#[test]
fn advise_allocate_and_sync_on_stdio_are_ebadf() {
    let mut h = Harness::new();
    for fd in 0..4 {
        assert_eq!(h.errno("fd_advise", &[fd, 0, 10, 0]), Errno::Badf);
        assert_eq!(h.errno("fd_allocate", &[fd, 0, 10]), Errno::Badf);
        assert_eq!(h.errno("fd_sync", &[fd]), Errno::Badf);
        assert_eq!(h.errno("fd_datasync", &[fd]), Errno::Badf);
    }
    assert_eq!(h.errno("fd_advise", &[1, 0, 10, 6]), Errno::Inval);
}

#[test]
fn close_then_ebadf() {
    let mut h = Harness::new();
    h.ok("fd_close", &[1]);
    h.set_bytes(0x200, b"x");
    h.set_iovecs(0x10, &[(0x200, 1)]);
    assert_eq!(h.errno("fd_write", &[1, 0x10, 1, 0x40]), Errno::Badf);
    assert_eq!(h.errno("fd_fdstat_get", &[1, 0x100]), Errno::Badf);
    assert_eq!(h.errno("fd_close", &[1]), Errno::Badf);
    h.ok("fd_write", &[2, 0x10, 1, 0x40]);
    assert_eq!(h.fake().stderr, b"x");
    h.ok("fd_close", &[0]);
    h.ok("fd_close", &[2]);
    assert_eq!(h.errno("fd_close", &[2]), Errno::Badf);
}

#[test]
fn renumber_among_stdio() {
    let mut h = Harness::new();
    h.ok("fd_renumber", &[2, 1]);
    h.set_bytes(0x200, b"e");
    h.set_iovecs(0x10, &[(0x200, 1)]);
    h.ok("fd_write", &[1, 0x10, 1, 0x40]);
    assert_eq!(h.fake().stderr, b"e");
    assert!(h.fake().stdout.is_empty());
    assert_eq!(h.errno("fd_write", &[2, 0x10, 1, 0x40]), Errno::Badf);
    // The target must be open (wasmtime); so must the source.
    assert_eq!(h.errno("fd_renumber", &[1, 2]), Errno::Badf);
    assert_eq!(h.errno("fd_renumber", &[2, 1]), Errno::Badf);
    h.ok("fd_renumber", &[0, 0]);
    h.ok("fd_fdstat_get", &[0, 0x100]);
}

#[test]
fn no_preopens_yet() {
    let mut h = Harness::new();
    h.set_u32(0x100, 0xdead);
    for fd in 0..4 {
        assert_eq!(h.errno("fd_prestat_get", &[fd, 0x100]), Errno::Badf);
    }
    assert_eq!(h.u32_at(0x100), 0xdead);
    assert_eq!(
        h.errno("fd_prestat_dir_name", &[0, 0x100, 4]),
        Errno::Notdir
    );
    assert_eq!(h.errno("fd_prestat_dir_name", &[3, 0x100, 4]), Errno::Badf);
}

// ---- process ----

#[test]
fn proc_exit_and_raise() {
    let mut h = Harness::new();
    assert_eq!(h.call("proc_exit", &[3]), Outcome::Exit(3));
    assert_eq!(h.call("proc_exit", &[u64::MAX]), Outcome::Exit(u32::MAX));
    assert_eq!(h.call("proc_raise", &[6]), Outcome::Exit(134), "SIGABRT");
    assert_eq!(h.call("proc_raise", &[9]), Outcome::Exit(137), "SIGKILL");
    assert_eq!(h.call("proc_raise", &[15]), Outcome::Exit(143), "SIGTERM");
    assert_eq!(h.call("proc_raise", &[2]), Outcome::Exit(130), "SIGINT");
    assert_eq!(
        h.call("proc_raise", &[23]),
        Outcome::Exit(128 + 24),
        "SIGXCPU"
    );
    assert_eq!(
        h.call("proc_raise", &[30]),
        Outcome::Exit(128 + 31),
        "SIGSYS"
    );
    for ignored in [13, 16, 17, 18, 19, 20, 21, 22, 27] {
        h.ok("proc_raise", &[ignored]);
    }
    for bad in [0, 31, 256 + 6, u64::MAX] {
        assert_eq!(h.errno("proc_raise", &[bad]), Errno::Inval, "{bad}");
    }
}

#[test]
fn sched_yield_reaches_the_platform() {
    let mut h = Harness::new();
    h.ok("sched_yield", &[]);
    h.ok("sched_yield", &[]);
    assert_eq!(h.fake().yields, 2);
    // The kernel sees a block that is due at once (the process goes to the back of the run
    // queue), and the repeat returns.
    let index = lookup("sched_yield").unwrap();
    assert_eq!(
        dispatch(&mut h.ctx, &mut h.mem, index, &[]),
        Outcome::Block { deadline: Some(0) }
    );
    assert_eq!(
        dispatch(&mut h.ctx, &mut h.mem, index, &[]),
        Outcome::Return(Errno::Success)
    );
}

// ---- poll_oneoff ----

const SUBS: u32 = 0x1000;
const EVENTS: u32 = 0x2000;
const NEVENTS: u32 = 0x3000;

fn clock_sub(userdata: u64, id: ClockId, timeout: u64, absolute: bool) -> Subscription {
    Subscription {
        userdata,
        kind: SubscriptionKind::Clock(SubscriptionClock {
            id: id as u32,
            timeout,
            precision: 0,
            flags: if absolute {
                Subclockflags::SUBSCRIPTION_CLOCK_ABSTIME.bits()
            } else {
                0
            },
        }),
    }
}

fn poll(h: &mut Harness, subs: &[Subscription]) -> core::result::Result<Vec<Event>, Errno> {
    for (i, sub) in subs.iter().enumerate() {
        h.write(SUBS + 48 * i as u32, sub);
    }
    match h.errno(
        "poll_oneoff",
        &[
            SUBS.into(),
            EVENTS.into(),
            subs.len() as u64,
            NEVENTS.into(),
        ],
    ) {
        Errno::Success => {
            let n = h.u32_at(NEVENTS);
            Ok((0..n).map(|i| h.read::<Event>(EVENTS + 32 * i)).collect())
        }
        errno => Err(errno),
    }
}

fn clock_event(userdata: u64) -> Event {
    Event {
        userdata,
        error: Errno::Success,
        kind: Eventtype::Clock,
        nbytes: 0,
        flags: Eventrwflags::EMPTY,
    }
}

#[test]
fn poll_relative_clock_sleeps() {
    let mut h = Harness::new();
    h.fake().mono = 5000;
    let events = poll(
        &mut h,
        &[clock_sub(0xabcd, ClockId::Monotonic, 1000, false)],
    );
    assert_eq!(events, Ok(vec![clock_event(0xabcd)]));
    assert_eq!(h.fake().mono, 6000);
    assert_eq!(h.fake().waits, [(Some(6000), false)]);
}

#[test]
fn poll_absolute_clocks() {
    let mut h = Harness::new();
    h.fake().mono = 5000;
    // Already past: fires without waiting.
    let events = poll(&mut h, &[clock_sub(1, ClockId::Monotonic, 4000, true)]);
    assert_eq!(events, Ok(vec![clock_event(1)]));
    assert!(h.fake().waits.is_empty());
    // Realtime deadlines are converted through the current realtime.
    let at = REALTIME_OFFSET + 5000 + 700;
    let events = poll(&mut h, &[clock_sub(2, ClockId::Realtime, at, true)]);
    assert_eq!(events, Ok(vec![clock_event(2)]));
    assert_eq!(h.fake().mono, 5700);
    // The earliest of several deadlines wins; only the fired one is reported.
    let subs = [
        clock_sub(3, ClockId::Monotonic, 900, false),
        clock_sub(4, ClockId::ProcessCputimeId, 100, false),
    ];
    assert_eq!(poll(&mut h, &subs), Ok(vec![clock_event(4)]));
    assert_eq!(h.fake().mono, 5800);
}

#[test]
fn poll_stdin_ready_eof_and_late() {
    let fake = Fake {
        stdin: b"x".iter().copied().collect(),
        ..Fake::default()
    };
    let mut h = Harness::with(fake, vec![], vec![]);
    let read0 = Subscription {
        userdata: 7,
        kind: SubscriptionKind::FdRead(0),
    };
    let ready = Event {
        userdata: 7,
        error: Errno::Success,
        kind: Eventtype::FdRead,
        nbytes: 1,
        flags: Eventrwflags::EMPTY,
    };
    let subs = [read0, clock_sub(8, ClockId::Monotonic, 10_000, false)];
    assert_eq!(poll(&mut h, &subs), Ok(vec![ready]));
    assert!(h.fake().waits.is_empty());

    // Nothing now, data at 200, timeout at 1000: stdin wins.
    h.fake().stdin.clear();
    h.fake().arrivals.push_back((200, b"y".to_vec()));
    assert_eq!(poll(&mut h, &subs), Ok(vec![ready]));
    assert_eq!(h.fake().waits, [(Some(10_000), true)]);
    assert_eq!(h.fake().mono, 200);

    // Nothing arrives: the timeout fires.
    h.fake().stdin.clear();
    assert_eq!(poll(&mut h, &subs), Ok(vec![clock_event(8)]));
    assert_eq!(h.fake().mono, 10_200);

    // End of file is readable, with the hangup flag.
    h.fake().stdin_eof = true;
    let eof = Event {
        nbytes: 0,
        flags: Eventrwflags::FD_READWRITE_HANGUP,
        ..ready
    };
    assert_eq!(poll(&mut h, &subs), Ok(vec![eof]));
}

#[test]
fn poll_fd_write_and_bad_fds() {
    let mut h = Harness::new();
    let sub = |userdata, kind| Subscription { userdata, kind };
    let subs = [
        sub(1, SubscriptionKind::FdWrite(1)),
        sub(2, SubscriptionKind::FdRead(42)),
        sub(3, SubscriptionKind::FdRead(1)),
        sub(4, SubscriptionKind::FdWrite(0)),
        sub(5, SubscriptionKind::FdRead(0)),
    ];
    let event = |userdata, kind, error, nbytes| Event {
        userdata,
        error,
        kind,
        nbytes,
        flags: Eventrwflags::EMPTY,
    };
    assert_eq!(
        poll(&mut h, &subs),
        Ok(vec![
            event(1, Eventtype::FdWrite, Errno::Success, 1),
            event(2, Eventtype::FdRead, Errno::Badf, 0),
            event(3, Eventtype::FdRead, Errno::Badf, 0),
            event(4, Eventtype::FdWrite, Errno::Badf, 0),
        ])
    );
    assert!(h.fake().waits.is_empty());
}

#[test]
fn poll_rejects_bad_requests() {
    let mut h = Harness::new();
    assert_eq!(poll(&mut h, &[]), Err(Errno::Inval));
    let unknown_tag = Subscription {
        userdata: 0,
        kind: SubscriptionKind::Unknown(3),
    };
    assert_eq!(poll(&mut h, &[unknown_tag]), Err(Errno::Inval));
    let mut bad_clock = clock_sub(0, ClockId::Monotonic, 1, false);
    if let SubscriptionKind::Clock(clock) = &mut bad_clock.kind {
        clock.id = 4;
    }
    assert_eq!(poll(&mut h, &[bad_clock]), Err(Errno::Inval));
    let mut bad_flags = clock_sub(0, ClockId::Monotonic, 1, false);
    if let SubscriptionKind::Clock(clock) = &mut bad_flags.kind {
        clock.flags = 2;
    }
    assert_eq!(poll(&mut h, &[bad_flags]), Err(Errno::Inval));

    let end = MEMORY_SIZE as u64;
    let args = |subs: u64, events: u64, n: u64, nevents: u64| [subs, events, n, nevents];
    assert_eq!(
        h.trap(
            "poll_oneoff",
            &args(end - 40, EVENTS.into(), 1, NEVENTS.into())
        ),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.trap(
            "poll_oneoff",
            &args(SUBS.into(), EVENTS.into(), 0x1000_0000, NEVENTS.into())
        ),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.trap(
            "poll_oneoff",
            &args(SUBS.into(), (EVENTS + 4).into(), 1, NEVENTS.into())
        ),
        Trap::Misaligned
    );
    assert_eq!(
        h.trap("poll_oneoff", &args(SUBS.into(), EVENTS.into(), 1, end)),
        Trap::MemoryOutOfBounds
    );
    assert!(h.fake().waits.is_empty());
}

#[test]
fn a_read_that_would_wait_blocks_the_process_or_is_eagain_when_nonblocking() {
    let mut h = Harness::new();
    h.fake().arrivals.push_back((500, b"late".to_vec()));
    h.write(
        0x10,
        &crate::types::Iovec {
            buf: 0x100,
            buf_len: 8,
        },
    );
    let index = lookup("fd_read").unwrap();
    let args = [0, 0x10, 1, 0x40];
    assert_eq!(
        dispatch(&mut h.ctx, &mut h.mem, index, &args),
        Outcome::Block { deadline: None }
    );
    h.ok("fd_fdstat_set_flags", &[0, Fdflags::NONBLOCK.bits().into()]);
    assert_eq!(h.errno("fd_read", &args), Errno::Again);
}

#[test]
fn a_repeated_poll_measures_its_timeout_from_the_first_attempt() {
    let mut h = Harness::new();
    let subs = [clock_sub(1, ClockId::Monotonic, 1000, false)];
    for (i, sub) in subs.iter().enumerate() {
        h.write(SUBS + 48 * i as u32, sub);
    }
    let index = lookup("poll_oneoff").unwrap();
    let args = [SUBS.into(), EVENTS.into(), 1, NEVENTS.into()];
    assert_eq!(
        dispatch(&mut h.ctx, &mut h.mem, index, &args),
        Outcome::Block {
            deadline: Some(1000)
        }
    );
    // Repeated 600 ns later, the deadline is still 1000, not 1600.
    h.fake().mono = 600;
    assert_eq!(
        dispatch(&mut h.ctx, &mut h.mem, index, &args),
        Outcome::Block {
            deadline: Some(1000)
        }
    );
    h.fake().mono = 1000;
    assert_eq!(
        dispatch(&mut h.ctx, &mut h.mem, index, &args),
        Outcome::Return(Errno::Success)
    );
}

#[test]
fn a_read_blocked_on_a_pipe_waits_for_the_pipe_and_only_it() {
    use crate::wake::WaitState;
    let mut h = Harness::new();
    crate::control::open_pipe(&mut h.ctx, &mut GuestMemory::new(&mut h.mem), 0x80).unwrap();
    let (read_fd, write_fd) = (u64::from(h.u32_at(0x80)), u64::from(h.u32_at(0x84)));
    h.write(
        0x10,
        &crate::types::Iovec {
            buf: 0x100,
            buf_len: 1,
        },
    );
    let read = [read_fd, 0x10, 1, 0x40];
    let index = lookup("fd_read").unwrap();
    assert_eq!(
        dispatch(&mut h.ctx, &mut h.mem, index, &read),
        Outcome::Block { deadline: None }
    );
    assert_eq!(
        h.ctx.waker().state(),
        WaitState::Armed,
        "registered with the pipe"
    );
    // Its own write end is another fd: writing a byte wakes the reader.
    h.ok("fd_write", &[write_fd, 0x10, 1, 0x40]);
    assert_eq!(h.ctx.waker().state(), WaitState::Woken);
    h.ctx.waker().reset();
    h.ok("fd_read", &read);
    assert_eq!(
        h.ctx.waker().state(),
        WaitState::Idle,
        "a read that got data arms nothing"
    );
    // Closing the last write end wakes a blocked reader too (it then reads end of file).
    assert_eq!(
        dispatch(&mut h.ctx, &mut h.mem, index, &read),
        Outcome::Block { deadline: None }
    );
    assert_eq!(h.ctx.waker().state(), WaitState::Armed);
    h.ok("fd_close", &[write_fd]);
    assert_eq!(h.ctx.waker().state(), WaitState::Woken);
    h.ctx.waker().reset();
    h.ok("fd_read", &read);
    assert_eq!(h.u32_at(0x40), 0, "end of file");
}

#[test]
fn a_call_that_no_object_wakes_leaves_the_waker_idle() {
    use crate::wake::WaitState;
    let mut h = Harness::new();
    crate::control::open_pipe(&mut h.ctx, &mut GuestMemory::new(&mut h.mem), 0x80).unwrap();
    let read_fd = u64::from(h.u32_at(0x80));
    h.write(
        0x10,
        &crate::types::Iovec {
            buf: 0x100,
            buf_len: 1,
        },
    );
    // The console's stdin wakes nobody: the kernel must repeat such a call on every pass.
    let index = lookup("fd_read").unwrap();
    assert_eq!(
        dispatch(&mut h.ctx, &mut h.mem, index, &[0, 0x10, 1, 0x40]),
        Outcome::Block { deadline: None }
    );
    assert_eq!(h.ctx.waker().state(), WaitState::Idle);
    // A non-blocking read of the empty pipe returns EAGAIN and waits on nothing.
    h.ok(
        "fd_fdstat_set_flags",
        &[read_fd, Fdflags::NONBLOCK.bits().into()],
    );
    assert_eq!(h.errno("fd_read", &[read_fd, 0x10, 1, 0x40]), Errno::Again);
    assert_eq!(h.ctx.waker().state(), WaitState::Idle);
}

#[test]
fn every_typed_entry_is_what_dispatch_calls() {
    // `entry` and `dispatch` come from the one list: the same call gives the same outcome.
    let mut h = Harness::with(Fake::default(), vec!["prog", "arg"], vec![]);
    assert_eq!(
        super::entry::args_sizes_get(&mut h.ctx, &mut h.mem, 0x20, 0x24),
        Outcome::Return(Errno::Success)
    );
    assert_eq!((h.u32_at(0x20), h.u32_at(0x24)), (2, 9));
    assert_eq!(
        super::entry::args_sizes_get(&mut h.ctx, &mut h.mem, 0x20, 0x22),
        Outcome::Trap(Trap::Misaligned)
    );
    assert_eq!(
        super::entry::fd_close(&mut h.ctx, &mut h.mem, 99),
        Outcome::Return(Errno::Badf)
    );
    assert_eq!(super::Id::fd_write as usize, lookup("fd_write").unwrap());
    assert_eq!(super::Id::sock_shutdown as usize, FUNCTIONS.len() - 1);
}
