//! Sequences of preview1 calls, through the one dispatcher the kernel uses, by a program that
//! may do anything: a process over the populated VFS makes each call with arguments shaped
//! by what the parameter is ([`SHAPES`]: an fd that is open, a name that exists, an iovec
//! array pointing at buffers, rights, flags, offsets), or raw values where the input says
//! so, over guest memory the input also writes.
//!
//! Checked: nothing panics; each call gives an outcome it may give (no trap for a well-formed
//! call other than a memory fault, `ENOSYS` only from unimplemented functions, an exit only
//! from `proc_exit`/`proc_raise`); afterwards every fd still answers `fd_fdstat_get` and
//! closes; and the VFS is whole (walkable, consistent, and it survives the write-back
//! archive).

#![no_main]

use arbitrary::{Result, Unstructured};
use cella_fuzz::{MEMORY_SIZE, check_vfs, populated_vfs, process};
use libfuzzer_sys::fuzz_target;
use wasi_abi::WasiCtx;
use wasi_abi::memory::GuestMemory;
use wasi_abi::testing::{Fake, REALTIME_OFFSET};
use wasi_abi::types::{Subscription, SubscriptionClock, SubscriptionKind};
use wasi_abi::{Errno, FUNCTIONS, Outcome, Trap, ValType, dispatch, lookup};

/// Buffers the iovecs and [`Param::Buffer`] point into.
const DATA_AT: u32 = 0x1000;
/// Where the names of [`NAMES`] are stored, one per 512-byte slot.
const NAMES_AT: u32 = 0x9000;
/// Where the subscriptions of [`subscriptions`] are stored.
const SUBSCRIPTIONS_AT: u32 = 0xd000;
/// Where the iovecs of [`IOVECS`] are stored.
const IOVECS_AT: u32 = 0xe000;
/// Where output pointers point: a 4 KiB area of 8-aligned slots.
const OUT_AT: u32 = 0xf000;

/// What a parameter is, which decides how a byte of input becomes its value. Each is one
/// wasm argument except the pairs `Name`, `Iovecs` and `Buffer` (pointer and length).
#[derive(Clone, Copy)]
enum Param {
    Fd,
    Out,
    Name,
    Iovecs,
    Buffer,
    Lookup,
    Oflags,
    Rights,
    Fdflags,
    /// A 64-bit offset, size or time.
    Wide,
    /// A small enum or flag set: clock, whence, advice, signal, `fstflags`, `how`...
    Small,
    Subscriptions,
}

use Param::*;

/// Every preview1 function by the shape of its parameters.
const SHAPES: &[(&str, &[Param])] = &[
    ("args_get", &[Out, Out]),
    ("args_sizes_get", &[Out, Out]),
    ("environ_get", &[Out, Out]),
    ("environ_sizes_get", &[Out, Out]),
    ("clock_res_get", &[Small, Out]),
    ("clock_time_get", &[Small, Wide, Out]),
    ("fd_advise", &[Fd, Wide, Wide, Small]),
    ("fd_allocate", &[Fd, Wide, Wide]),
    ("fd_close", &[Fd]),
    ("fd_datasync", &[Fd]),
    ("fd_fdstat_get", &[Fd, Out]),
    ("fd_fdstat_set_flags", &[Fd, Fdflags]),
    ("fd_fdstat_set_rights", &[Fd, Rights, Rights]),
    ("fd_filestat_get", &[Fd, Out]),
    ("fd_filestat_set_size", &[Fd, Wide]),
    ("fd_filestat_set_times", &[Fd, Wide, Wide, Small]),
    ("fd_pread", &[Fd, Iovecs, Wide, Out]),
    ("fd_prestat_get", &[Fd, Out]),
    ("fd_prestat_dir_name", &[Fd, Buffer]),
    ("fd_pwrite", &[Fd, Iovecs, Wide, Out]),
    ("fd_read", &[Fd, Iovecs, Out]),
    ("fd_readdir", &[Fd, Buffer, Wide, Out]),
    ("fd_renumber", &[Fd, Fd]),
    ("fd_seek", &[Fd, Wide, Small, Out]),
    ("fd_sync", &[Fd]),
    ("fd_tell", &[Fd, Out]),
    ("fd_write", &[Fd, Iovecs, Out]),
    ("path_create_directory", &[Fd, Name]),
    ("path_filestat_get", &[Fd, Lookup, Name, Out]),
    (
        "path_filestat_set_times",
        &[Fd, Lookup, Name, Wide, Wide, Small],
    ),
    ("path_link", &[Fd, Lookup, Name, Fd, Name]),
    (
        "path_open",
        &[Fd, Lookup, Name, Oflags, Rights, Rights, Fdflags, Out],
    ),
    ("path_readlink", &[Fd, Name, Buffer, Out]),
    ("path_remove_directory", &[Fd, Name]),
    ("path_rename", &[Fd, Name, Fd, Name]),
    ("path_symlink", &[Name, Fd, Name]),
    ("path_unlink_file", &[Fd, Name]),
    ("poll_oneoff", &[Subscriptions, Out, Small, Out]),
    ("proc_exit", &[Small]),
    ("proc_raise", &[Small]),
    ("sched_yield", &[]),
    ("random_get", &[Buffer]),
    ("sock_accept", &[Fd, Small, Out]),
    ("sock_recv", &[Fd, Iovecs, Small, Out, Out]),
    ("sock_send", &[Fd, Iovecs, Small, Out]),
    ("sock_shutdown", &[Fd, Small]),
];

/// Names a program might use: ones that exist (through every kind of node), ones to create,
/// and the edge cases of path resolution.
const NAMES: &[&[u8]] = &[
    b"file",
    b"dir",
    b"dir/sub",
    b"dir/data",
    b"dir/sub/deep",
    b"dir/hard",
    b"link",
    b"dangling",
    b"loop",
    b"dir/up",
    b"dir/up/file",
    b"dir/deep-link",
    b"empty",
    b"dev/null",
    b"new",
    b"dir/new",
    b"new/",
    b".",
    b"..",
    b"/",
    b"/file",
    b"",
    b"file/",
    b"link/",
    b"dir/./sub/../data",
    b"a/b/../../file",
    b"sub",
    b"deep",
    b"data",
    b"\xff\xfe",
    b"name\0nul",
    &[b'n'; 300],
];

/// (buffer, length) of the iovecs at [`IOVECS_AT`]; an iovec argument picks a run of them.
const IOVECS: &[(u32, u32)] = &[
    (DATA_AT, 16),
    (DATA_AT + 0x100, 4096),
    (DATA_AT + 0x2000, 0),
    (DATA_AT + 0x3000, 1),
    (DATA_AT + 0x4000, 0x4000),
    (0xfff0, 0x20),
    (DATA_AT + 0x20, 64),
];

/// Fds worth trying: the preopens, the first ones `path_open` gives, the pipe, stdio.
const FDS: &[u32] = &[3, 4, 7, 8, 9, 5, 6, 0, 1, 2, 10, 11];
/// Offsets, sizes and times worth trying.
const WIDE: &[u64] = &[
    0,
    1,
    13,
    100,
    4096,
    5000,
    1 << 16,
    1 << 32,
    i64::MAX as u64,
    u64::MAX,
    u64::MAX - 1,
    REALTIME_OFFSET,
    REALTIME_OFFSET + 1_000_000_000,
    10_000_000_000_000_000_000,
];
/// Lengths of a [`Param::Buffer`].
const BUFFER_LENS: &[u32] = &[0, 1, 7, 24, 64, 256, 4096, 0x8000];

/// A day in nanoseconds: the furthest a blocked call's deadline moves the fake clock.
const DAY: u64 = 86_400 * 1_000_000_000;

/// Input bytes at or above this make a parameter a raw value from the input instead.
const RAW: u8 = 0xf0;

/// The subscriptions `poll_oneoff` can point at: a short and a long relative clock, an
/// absolute one, stdin, the pipe's ends, a directory, and a bad tag.
fn subscriptions() -> Vec<Subscription> {
    let clock = |timeout, flags| {
        SubscriptionKind::Clock(SubscriptionClock {
            id: 1,
            timeout,
            precision: 0,
            flags,
        })
    };
    [
        clock(1_000, 0),
        clock(u64::MAX, 0),
        clock(5_000, 1),
        SubscriptionKind::FdRead(0),
        SubscriptionKind::FdRead(5),
        SubscriptionKind::FdWrite(6),
        SubscriptionKind::FdRead(3),
        SubscriptionKind::Unknown(9),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, kind)| Subscription {
        userdata: n as u64,
        kind,
    })
    .collect()
}

/// Appends the argument(s) of one `param`, chosen by the input.
fn push(u: &mut Unstructured<'_>, param: Param, out: &mut Vec<u64>) -> Result<()> {
    let choice: u8 = u.arbitrary()?;
    if choice >= RAW {
        out.push(u.arbitrary()?);
        if matches!(param, Name | Iovecs | Buffer) {
            out.push(u.arbitrary()?);
        }
        return Ok(());
    }
    let pick = |table_len: usize| usize::from(choice) % table_len;
    match param {
        Fd => out.push(FDS[pick(FDS.len())].into()),
        Out => out.push(u64::from(OUT_AT + u32::from(choice % 64) * 8)),
        Name => {
            let index = pick(NAMES.len());
            out.push(u64::from(NAMES_AT + 512 * index as u32));
            out.push(NAMES[index].len() as u64);
        }
        Iovecs => {
            let first = pick(IOVECS.len()) as u32;
            let count = u32::from(choice / 16) % (IOVECS.len() as u32 + 1 - first);
            out.push(u64::from(IOVECS_AT + 8 * first));
            out.push(count.into());
        }
        Buffer => {
            out.push(u64::from(DATA_AT + u32::from(choice / 8) * 8));
            out.push(BUFFER_LENS[pick(BUFFER_LENS.len())].into());
        }
        Lookup => out.push(u64::from(choice % 2)),
        Oflags => out.push(u64::from(choice % 16)),
        Rights => out.push(match choice % 4 {
            0 => u64::MAX,
            1 => 0,
            2 => 0b110, // fd_read, fd_seek
            _ => 1 << (choice / 4 % 30),
        }),
        Fdflags => out.push(u64::from(choice % 32)),
        Wide => out.push(WIDE[pick(WIDE.len())]),
        Small => out.push(u64::from(choice % 32)),
        Subscriptions => {
            let first = pick(subscriptions().len()) as u32;
            out.push(u64::from(SUBSCRIPTIONS_AT + 48 * first));
        }
    }
    Ok(())
}

/// Guest memory at the start of a run: the input's bytes, then the names, iovecs and
/// subscriptions.
fn memory(initial: &[u8]) -> Vec<u8> {
    let mut memory = vec![0u8; MEMORY_SIZE];
    let len = initial.len().min(MEMORY_SIZE);
    memory[..len].copy_from_slice(&initial[..len]);
    for (index, name) in NAMES.iter().enumerate() {
        let at = NAMES_AT as usize + 512 * index;
        memory[at..at + name.len()].copy_from_slice(name);
    }
    for (index, (buf, len)) in IOVECS.iter().enumerate() {
        let at = IOVECS_AT as usize + 8 * index;
        memory[at..at + 4].copy_from_slice(&buf.to_le_bytes());
        memory[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
    }
    let mut guest = GuestMemory::new(&mut memory);
    for (index, subscription) in subscriptions().iter().enumerate() {
        let at = SUBSCRIPTIONS_AT + 48 * index as u32;
        guest.write(at, subscription).expect("subscription");
    }
    memory
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let initial: Vec<u8> = u.arbitrary().unwrap_or_default();
    let stdin: Vec<u8> = u.arbitrary().unwrap_or_default();
    let vfs = populated_vfs();
    let mut ctx = process(&vfs, &stdin);
    let mut memory = memory(&initial);
    // The calls, until the input or the process ends.
    for _ in 0..64 {
        match call(&mut u, &mut ctx, &mut memory) {
            Ok(true) => continue,
            Ok(false) | Err(_) => break,
        }
    }
    // Every fd still describes itself, and closes.
    let fdstat = lookup("fd_fdstat_get").expect("fd_fdstat_get");
    let close = lookup("fd_close").expect("fd_close");
    for fd in 0..16u64 {
        for (call, args) in [(fdstat, &[fd, u64::from(OUT_AT)][..]), (close, &[fd][..])] {
            let outcome = dispatch(&mut ctx, &mut memory, call, args);
            assert!(
                matches!(outcome, Outcome::Return(Errno::Success | Errno::Badf)),
                "{}({fd}) gave {outcome:?}",
                FUNCTIONS[call].name
            );
        }
    }
    drop(ctx);
    check_vfs(&vfs);
});

/// Makes one call the input describes and checks its outcome; false once the input is used
/// up or the process ended.
fn call(u: &mut Unstructured<'_>, ctx: &mut WasiCtx<Fake>, memory: &mut [u8]) -> Result<bool> {
    if u.is_empty() {
        return Ok(false);
    }
    // The program stores a few bytes first, now and then.
    if u.ratio(1, 8)? {
        let at = usize::from(u.arbitrary::<u16>()?);
        let bytes: Vec<u8> = u.arbitrary()?;
        let len = bytes.len().min(MEMORY_SIZE - at);
        memory[at..at + len].copy_from_slice(&bytes[..len]);
    }
    let (name, shape) = SHAPES[usize::from(u.arbitrary::<u8>()?) % SHAPES.len()];
    let index = lookup(name).expect("a preview1 function");
    let function = &FUNCTIONS[index];
    let mut args = Vec::new();
    for &param in shape {
        push(u, param, &mut args)?;
    }
    assert_eq!(args.len(), function.params.len(), "the shape of {name}");
    // An i32 argument arrives from wasm as its low 32 bits (wasmi zero-extends them).
    for (arg, ty) in args.iter_mut().zip(function.params) {
        if *ty == ValType::I32 {
            *arg &= u64::from(u32::MAX);
        }
    }
    let mut outcome = dispatch(ctx, memory, index, &args);
    if let Outcome::Block {
        deadline: Some(deadline),
    } = outcome
    {
        // As the kernel does: wake the process at its deadline and repeat the call, if that
        // deadline comes within a day (later ones never come in practice, and the fake's
        // clocks would overflow).
        let fake = ctx.platform();
        if deadline.saturating_sub(fake.mono) <= DAY {
            fake.mono = fake.mono.max(deadline);
            outcome = dispatch(ctx, memory, index, &args);
        }
    }
    match outcome {
        Outcome::Return(errno) => assert!(
            function.implemented || errno == Errno::Nosys,
            "{name} returned {errno:?}"
        ),
        Outcome::Trap(trap) => assert!(
            matches!(trap, Trap::MemoryOutOfBounds | Trap::Misaligned),
            "{name} trapped with {trap:?}"
        ),
        Outcome::Exit(_) => {
            let exits = [lookup("proc_exit"), lookup("proc_raise")];
            assert!(exits.contains(&Some(index)), "{name} exited");
            return Ok(false);
        }
        Outcome::Block { .. } => {}
    }
    Ok(true)
}
