//! Triggers the Wasm trap named by its first argument, to test how traps are reported:
//! `unreachable`, `oob` (a load out of linear memory), `stack` (unbounded recursion), or
//! `hostcall` (a pointer out of linear memory given to `fd_write`, which traps in the host).
use std::hint::black_box;

fn recurse(depth: u64) -> u64 {
    // black_box keeps the compiler from turning the recursion into a loop; the limit is
    // never reached, the Wasm call stack runs out long before.
    if black_box(depth) == u64::MAX {
        depth
    } else {
        depth + recurse(black_box(depth + 1))
    }
}

fn main() {
    let kind = std::env::args().nth(1).unwrap_or_default();
    match kind.as_str() {
        "unreachable" => {
            #[cfg(target_arch = "wasm32")]
            core::arch::wasm32::unreachable();
        }
        "oob" => {
            // An address past the end of linear memory: a load from it must trap.
            let ptr = black_box(0xffff_fff0usize) as *const u64;
            // SAFETY: none — the point of this program is an invalid access, which Wasm
            // turns into a trap instead of undefined behaviour on the host.
            let value = unsafe { core::ptr::read_volatile(ptr) };
            println!("read {value}");
        }
        "stack" => println!("{}", recurse(0)),
        "hostcall" => {
            let mut written = 0usize;
            // The iovec array itself lies past the end of linear memory.
            let iovs = black_box(0xffff_fff0usize) as *const wasi::Ciovec;
            // SAFETY: none needed on the host's side: the kernel checks every guest pointer,
            // and this one must make it trap.
            let errno = unsafe {
                wasi::wasi_snapshot_preview1::fd_write(1, iovs as i32, 1, &raw mut written as i32)
            };
            eprintln!("trap: fd_write answered errno {errno}");
        }
        _ => {
            eprintln!("usage: trap unreachable|oob|stack|hostcall");
            std::process::exit(2);
        }
    }
    eprintln!("trap: {kind} did not trap");
    std::process::exit(1);
}
