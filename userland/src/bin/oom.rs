//! Test program: allocates 1 MiB blocks, writing every byte so each page is really backed,
//! and keeps them until allocation fails. It prints `oom: N MiB` on stderr after each block,
//! so the last line says how far it got, and then ends the way Rust's allocator does when
//! memory runs out: an abort, which in wasm is a trap (`unreachable`).
use std::io::Write;

const MIB: usize = 1024 * 1024;

fn main() {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut stderr = std::io::stderr();
    loop {
        // Non-zero so the allocator cannot hand out fresh, already-zero pages untouched.
        blocks.push(vec![0xa5u8; MIB]);
        let _ = writeln!(stderr, "oom: {} MiB", blocks.len());
        let _ = stderr.flush();
    }
}
