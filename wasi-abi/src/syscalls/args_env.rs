//! `args_*` and `environ_*`: the program's arguments and environment, each string stored
//! NUL-terminated in one buffer with an array of pointers into it, as C's `argv` and `environ`.

use alloc::vec::Vec;

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::memory::GuestMemory;
use crate::outcome::SysResult;
use crate::platform::Platform;

/// The NUL after each string.
const NUL: u8 = 0;

/// Number of strings and bytes needed for them with their NULs; `EOVERFLOW` past `u32`.
fn sizes(strings: &[Vec<u8>]) -> SysResult<(u32, u32)> {
    let count = u32::try_from(strings.len()).map_err(|_| Errno::Overflow)?;
    let mut size: u32 = 0;
    for string in strings {
        let len = u32::try_from(string.len()).map_err(|_| Errno::Overflow)?;
        size = len
            .checked_add(1)
            .and_then(|len| size.checked_add(len))
            .ok_or(Errno::Overflow)?;
    }
    Ok((count, size))
}

/// Writes `strings` into the buffer at `buf` and their addresses into the array at `ptrs`.
/// Both regions are checked first, so a bad pointer traps before anything is written.
fn write_strings(mem: &mut GuestMemory<'_>, strings: &[Vec<u8>], ptrs: u32, buf: u32) -> SysResult {
    let (count, size) = sizes(strings)?;
    let array = mem.array::<u32>(ptrs, count)?;
    mem.slice(buf, size)?;
    let mut next = buf;
    for (ptr, string) in array.ptrs().zip(strings) {
        mem.write(ptr, &next)?;
        mem.write_bytes(next, string)?;
        let len = u32::try_from(string.len()).map_err(|_| Errno::Overflow)?;
        let nul = next.checked_add(len).ok_or(Errno::Overflow)?;
        mem.write(nul, &NUL)?;
        next = nul.checked_add(1).ok_or(Errno::Overflow)?;
    }
    Ok(())
}

fn write_sizes(
    mem: &mut GuestMemory<'_>,
    strings: &[Vec<u8>],
    count_out: u32,
    size_out: u32,
) -> SysResult {
    let (count, size) = sizes(strings)?;
    mem.check::<u32>(size_out)?;
    mem.write(count_out, &count)?;
    mem.write(size_out, &size)?;
    Ok(())
}

/// Reads command-line argument data.
pub fn args_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    argv: u32,
    argv_buf: u32,
) -> SysResult {
    write_strings(mem, &ctx.args, argv, argv_buf)
}

/// Returns the number of arguments and the size of the buffer `args_get` needs.
pub fn args_sizes_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    argc_out: u32,
    argv_buf_size_out: u32,
) -> SysResult {
    write_sizes(mem, &ctx.args, argc_out, argv_buf_size_out)
}

/// Reads environment variable data.
pub fn environ_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    environ: u32,
    environ_buf: u32,
) -> SysResult {
    write_strings(mem, &ctx.env, environ, environ_buf)
}

/// Returns the number of environment variables and the size of the buffer `environ_get` needs.
pub fn environ_sizes_get<P: Platform>(
    ctx: &mut WasiCtx<P>,
    mem: &mut GuestMemory<'_>,
    environc_out: u32,
    environ_buf_size_out: u32,
) -> SysResult {
    write_sizes(mem, &ctx.env, environc_out, environ_buf_size_out)
}
