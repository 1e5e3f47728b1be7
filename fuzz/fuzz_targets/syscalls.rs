//! Sequences of preview1 calls, through the one dispatcher the kernel uses, by a program that
//! may do anything: a process over the populated VFS makes each call with arguments biased
//! toward what reaches deep (fds that are open, names that exist, pointers into memory and
//! iovecs that point at buffers), over guest memory the input fills in.
//!
//! Checked: nothing panics; each call gives an outcome it may give (no trap for a well-formed
//! call other than a memory fault, `ENOSYS` only from unimplemented functions, an exit only
//! from `proc_exit`/`proc_raise`); and afterwards every fd still answers `fd_fdstat_get` and
//! the VFS is whole (walkable, consistent, and it survives the write-back archive).

#![no_main]

use arbitrary::Arbitrary;
use cella_fuzz::{MEMORY_SIZE, check_vfs, populated_vfs, process};
use libfuzzer_sys::fuzz_target;
use wasi_abi::{Errno, FUNCTIONS, Outcome, Trap, ValType, dispatch, lookup};

/// Where the names of [`NAMES`] are stored, one per 512-byte slot.
const NAMES_AT: u32 = 0xa000;
/// Where the iovecs of [`IOVECS`] are stored.
const IOVECS_AT: u32 = 0xe000;
/// Where output pointers of [`Arg::Out`] point: a 4 KiB area, 8-aligned slots.
const OUT_AT: u32 = 0xf000;

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
    b"\xff\xfe",
    b"name\0nul",
    &[b'n'; 300],
];

/// (buffer, length) of the iovecs at [`IOVECS_AT`]; an [`Arg::Iovecs`] picks a run of them.
const IOVECS: &[(u32, u32)] = &[
    (0x1000, 16),
    (0x2000, 4096),
    (0x3000, 0),
    (0x4000, 1),
    (0x5000, 0x4000),
    (0xfff0, 0x20),
    (0x9000, 64),
];

/// One wasm argument as the program passes it.
#[derive(Arbitrary, Debug)]
enum Arg {
    /// A small number: an fd, flags, an enum, a count.
    Small(u8),
    /// A file descriptor that is likely open.
    Fd(u8),
    /// Any 32 or 64-bit value.
    Raw(u64),
    /// An address anywhere in memory (or just past it).
    Ptr(u16),
    /// An aligned output slot in a scratch area.
    Out(u8),
    /// Two arguments: the address and length of a name of [`NAMES`].
    Name(u8),
    /// Two arguments: the address and count of a run of the iovecs of [`IOVECS`].
    Iovecs(u8, u8),
}

impl Arg {
    fn push(&self, out: &mut Vec<u64>) {
        match *self {
            Arg::Small(value) => out.push(value.into()),
            Arg::Fd(fd) => out.push(u64::from(fd % 8)),
            Arg::Raw(value) => out.push(value),
            Arg::Ptr(ptr) => out.push(ptr.into()),
            Arg::Out(slot) => out.push(u64::from(OUT_AT + u32::from(slot) * 8 % 4096)),
            Arg::Name(index) => {
                let index = usize::from(index) % NAMES.len();
                out.push(u64::from(NAMES_AT + 512 * index as u32));
                out.push(NAMES[index].len() as u64);
            }
            Arg::Iovecs(first, count) => {
                let first = u32::from(first) % IOVECS.len() as u32;
                let count = u32::from(count) % (IOVECS.len() as u32 + 1 - first);
                out.push(u64::from(IOVECS_AT + 8 * first));
                out.push(count.into());
            }
        }
    }
}

/// One call: which function, its arguments, and bytes the program stores first.
#[derive(Arbitrary, Debug)]
struct Step {
    function: u8,
    args: Vec<Arg>,
    store: Option<(u16, Vec<u8>)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The first bytes of memory (the names and iovecs are laid over them).
    memory: Vec<u8>,
    stdin: Vec<u8>,
    steps: Vec<Step>,
}

/// Guest memory at the start of a run: the input's bytes, then the names and iovecs.
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
    memory
}

fuzz_target!(|input: Input| {
    let vfs = populated_vfs();
    let mut ctx = process(&vfs, &input.stdin);
    let mut memory = memory(&input.memory);
    let exits = [lookup("proc_exit"), lookup("proc_raise")];
    for step in input.steps.iter().take(64) {
        let index = usize::from(step.function) % FUNCTIONS.len();
        let function = &FUNCTIONS[index];
        if let Some((at, bytes)) = &step.store {
            let at = usize::from(*at);
            let len = bytes.len().min(MEMORY_SIZE - at);
            memory[at..at + len].copy_from_slice(&bytes[..len]);
        }
        let mut args = Vec::new();
        for arg in &step.args {
            arg.push(&mut args);
        }
        args.resize(function.params.len(), 0);
        // An i32 argument arrives from wasm as its low 32 bits (wasmi zero-extends them).
        for (arg, ty) in args.iter_mut().zip(function.params) {
            if *ty == ValType::I32 {
                *arg &= u64::from(u32::MAX);
            }
        }
        let mut outcome = dispatch(&mut ctx, &mut memory, index, &args);
        if let Outcome::Block {
            deadline: Some(deadline),
        } = outcome
        {
            // As the kernel does: wake the process at its deadline and repeat the call.
            let fake = ctx.platform();
            fake.mono = fake.mono.max(deadline);
            outcome = dispatch(&mut ctx, &mut memory, index, &args);
        }
        match outcome {
            Outcome::Return(errno) => assert!(
                function.implemented || errno == Errno::Nosys,
                "{} returned {errno:?}",
                function.name
            ),
            Outcome::Trap(trap) => assert!(
                matches!(trap, Trap::MemoryOutOfBounds | Trap::Misaligned),
                "{} trapped with {trap:?}",
                function.name
            ),
            Outcome::Exit(_) => {
                assert!(exits.contains(&Some(index)), "{} exited", function.name);
                break;
            }
            Outcome::Block { .. } => {}
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
