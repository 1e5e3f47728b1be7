//! Exercises the program's memory limit. `alloc MIB` allocates and touches MIB mebibytes
//! through the ordinary allocator (running out aborts, as any Rust program does); `alloc max`
//! grows linear memory a page at a time until `memory.grow` fails and prints how many MiB
//! it reached.
use std::hint::black_box;

const PAGE: usize = 64 * 1024;
const MIB: usize = 1024 * 1024;

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("max") => {
            #[cfg(target_arch = "wasm32")]
            {
                let mut pages = core::arch::wasm32::memory_size(0);
                while core::arch::wasm32::memory_grow(0, 1) != usize::MAX {
                    pages += 1;
                }
                println!("{}", pages * PAGE / MIB);
            }
        }
        Some(mib) => {
            let Ok(mib) = mib.parse::<usize>() else {
                eprintln!("usage: alloc MIB|max");
                std::process::exit(2);
            };
            let mut blocks = Vec::with_capacity(mib);
            for i in 0..mib {
                let mut block = vec![0u8; MIB];
                // Touch every page so nothing stays merely reserved.
                for page in block.chunks_mut(4096) {
                    page[0] = i as u8;
                }
                blocks.push(black_box(block));
            }
            let sum: usize = blocks.iter().map(|b| usize::from(b[0])).sum();
            println!("allocated {mib} MiB (check {sum})");
        }
        None => {
            eprintln!("usage: alloc MIB|max");
            std::process::exit(2);
        }
    }
}
