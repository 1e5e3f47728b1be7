//! `cella_process`, the calls that manage processes, decoded as the kernel decodes them from a
//! hostile caller: the raw call, the spawn request over guest memory, the child's fd table
//! built from the request, `pipe`, reading the program file, and the structures the kernel
//! writes back (`wait`'s result, `processes`' records, `system_info`).
//!
//! Checked: nothing panics, a decoded request keeps the documented limits, the child's fd
//! table holds exactly stdio and the preopens asked for, and what is written to guest memory
//! reads back the same.

#![no_main]

use arbitrary::Arbitrary;
use cella_fuzz::{MEMORY_SIZE, ROOT_FD, populated_vfs, process};
use libfuzzer_sys::fuzz_target;
use wasi_abi::WasiCtx;
use wasi_abi::control::{
    self, Call, Function, MAX_PREOPENS, MAX_STRINGS_BYTES, NAME_BYTES, ProcessRecord, ProcessState,
    Spawn, Status, SystemInfo, WaitResult,
};
use wasi_abi::memory::{GuestMemory, GuestType};
use wasi_abi::outcome::Trap;
use wasi_abi::types::Filetype;

#[derive(Arbitrary, Debug)]
enum Op {
    /// A raw call of a function (picked by its place in the list), as the linker hands it
    /// over.
    Decode { function: u8, args: Vec<u64> },
    /// `spawn`: the request at `ptr`, then the child's fds from it.
    Spawn { ptr: u16 },
    /// `pipe(fds_out)`.
    Pipe { fds_out: u16 },
    /// Reading the module file of `spawn`'s `program_fd`.
    ReadProgram { fd: u8 },
    /// `processes(buf, buf_len, count_out)` with these records.
    Processes {
        buf: u16,
        buf_len: u16,
        count_out: u16,
        records: Vec<Record>,
    },
    /// `wait`'s result written at `ptr`.
    Wait {
        ptr: u16,
        pid: u32,
        ended: u8,
        value: u32,
    },
    /// `system_info`'s answer written at `ptr`.
    SystemInfo { ptr: u16, figures: [u64; 6] },
    /// The program stores bytes.
    Store { at: u16, bytes: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
struct Record {
    pid: u32,
    ppid: u32,
    pgid: u32,
    state: u8,
    memory: u64,
    cpu_ns: u64,
    name: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Guest memory: this many bytes (a request may sit right at its end)...
    size: u16,
    /// ... starting with these.
    memory: Vec<u8>,
    ops: Vec<Op>,
}

/// A pointer from the input: anywhere, often 8-aligned (where the structures must be).
fn ptr(raw: u16) -> u32 {
    if raw & 1 == 0 {
        u32::from(raw) & !7
    } else {
        u32::from(raw)
    }
}

fn spawn(ctx: &WasiCtx<wasi_abi::testing::Fake>, mem: &GuestMemory<'_>, at: u32) {
    let Ok(request) = Spawn::read(mem, at) else {
        return;
    };
    assert!(!request.args.is_empty(), "a request without argv");
    assert!(request.preopens.len() <= MAX_PREOPENS as usize);
    for strings in [&request.args, &request.env] {
        let bytes: usize = strings.iter().map(|s| s.len() + 1).sum();
        assert!(bytes <= MAX_STRINGS_BYTES as usize);
        assert!(
            strings.iter().all(|s| !s.contains(&0)),
            "a string with a NUL"
        );
    }
    let Ok(table) = control::child_fds(ctx, &request) else {
        return;
    };
    let count = 3 + request.preopens.len() as u32;
    for fd in 0..count {
        let entry = table.get(fd).expect("the child has every fd asked for");
        if fd >= 3 {
            let (_, name) = &request.preopens[fd as usize - 3];
            if entry.filetype() == Filetype::Directory {
                let dir = entry.dir().expect("a directory preopen");
                assert_eq!(dir.preopen.as_deref(), Some(&name[..]));
            }
        }
    }
    assert!(
        table.get(count).is_err(),
        "the child has an fd it was not given"
    );
}

fn record_of(record: &Record) -> ProcessRecord {
    ProcessRecord {
        pid: record.pid,
        ppid: record.ppid,
        pgid: record.pgid,
        state: match record.state % 4 {
            0 => ProcessState::Running,
            1 => ProcessState::Sleeping,
            2 => ProcessState::Stopped,
            _ => ProcessState::Zombie,
        },
        memory: record.memory,
        cpu_ns: record.cpu_ns,
        name_bytes: ProcessRecord::padded_name(&record.name),
    }
}

fuzz_target!(|input: Input| {
    let vfs = populated_vfs();
    let mut ctx = process(&vfs, b"");
    let mut bytes = vec![0u8; usize::from(input.size).min(MEMORY_SIZE)];
    let len = input.memory.len().min(bytes.len());
    bytes[..len].copy_from_slice(&input.memory[..len]);
    for op in input.ops.iter().take(32) {
        let mut mem = GuestMemory::new(&mut bytes);
        match op {
            Op::Decode { function, args } => {
                let function = Function::ALL[usize::from(*function) % Function::ALL.len()];
                match Call::decode(function, args) {
                    Some(call) => {
                        assert_eq!(call.function(), function, "{call:?}");
                        assert_eq!(args.len(), function.params().len());
                    }
                    None => assert_ne!(args.len(), function.params().len()),
                }
            }
            Op::Spawn { ptr: at } => spawn(&ctx, &mem, ptr(*at)),
            Op::Pipe { fds_out } => {
                if control::open_pipe(&mut ctx, &mut mem, ptr(*fds_out)).is_ok() {
                    for n in 0..2 {
                        let fd = mem.read::<u32>(ptr(*fds_out) + 4 * n).expect("written fd");
                        assert!(ctx.fds().contains(fd), "pipe end {fd} is not open");
                    }
                }
            }
            Op::ReadProgram { fd } => {
                let fd = u32::from(*fd % 8);
                if let Ok(program) = control::read_program(&mut ctx, fd) {
                    // Through a preopen it must be a directory, which reads as nothing.
                    assert!(fd != ROOT_FD || program.is_empty());
                }
            }
            Op::Processes {
                buf,
                buf_len,
                count_out,
                records,
            } => {
                let inputs = records;
                let records: Vec<ProcessRecord> = inputs.iter().map(record_of).collect();
                let (buf, count_out) = (ptr(*buf), ptr(*count_out));
                let result =
                    control::write_processes(&mut mem, buf, (*buf_len).into(), count_out, &records);
                if result.is_ok() {
                    // The records are written in order, then the count, which may overlap one.
                    assert_eq!(mem.read::<u32>(count_out), Ok(records.len() as u32));
                    let size = ProcessRecord::SIZE;
                    let fit = (u32::from(*buf_len) / size).min(records.len() as u32);
                    for (n, (record, input)) in (0..fit).zip(records.iter().zip(inputs)) {
                        let at = buf + n * size;
                        if count_out + 4 > at && count_out < at + size {
                            continue;
                        }
                        let back: ProcessRecord = mem.read(at).expect("written record");
                        let name: Vec<u8> = input
                            .name
                            .iter()
                            .copied()
                            .take(NAME_BYTES - 1)
                            .take_while(|&b| b != 0)
                            .collect();
                        assert_eq!(back.pid, record.pid);
                        assert_eq!(back.state, record.state);
                        assert_eq!(back.memory, record.memory);
                        assert_eq!(back.cpu_ns, record.cpu_ns);
                        assert_eq!(back.name(), name);
                    }
                }
            }
            Op::Wait {
                ptr: at,
                pid,
                ended,
                value,
            } => {
                let status = match ended % 5 {
                    0 => Status::Exited(*value),
                    1 => Status::Signaled(*value),
                    2 => Status::Trapped,
                    3 => Status::Stopped(*value),
                    _ => Status::FuelExhausted,
                };
                let result = WaitResult { pid: *pid, status };
                if mem.write(ptr(*at), &result).is_ok() {
                    assert_eq!(mem.read(ptr(*at)), Ok(result));
                }
            }
            Op::SystemInfo { ptr: at, figures } => {
                let [
                    kernel_heap_used,
                    free_memory,
                    total_memory,
                    uptime_ns,
                    processes,
                    context_switches,
                ] = *figures;
                let info = SystemInfo {
                    kernel_heap_used,
                    free_memory,
                    total_memory,
                    uptime_ns,
                    processes,
                    context_switches,
                };
                match mem.write(ptr(*at), &info) {
                    Ok(()) => assert_eq!(mem.read(ptr(*at)), Ok(info)),
                    Err(trap) => {
                        assert!(matches!(trap, Trap::MemoryOutOfBounds | Trap::Misaligned))
                    }
                }
            }
            Op::Store { at, bytes: data } => {
                let _ = mem.write_bytes(u32::from(*at), data);
            }
        }
    }
});
