//! Runs file operations given as arguments, `--` between them, and prints what reads find:
//!
//! `ls DIR` (sorted `kind name size` lines), `cat PATH`, `write PATH TEXT`, `append PATH TEXT`,
//! `mkdir PATH`, `rm PATH` (a file, or a directory tree), `mv FROM TO`, `ln -s TARGET PATH`,
//! `ln FROM TO` (`ln -s` paths are relative to the first preopened directory), `big PATH MIB` (writes MIB MiB of a deterministic pattern and prints its
//! checksum), `sum PATH` (prints the checksum of a file), `abort` (traps).
//!
//! Errors are printed as `error: OP: MESSAGE` and make the exit status 1, after the rest ran.
use std::fs;
use std::io::{Read, Write};

/// FNV-1a over a file's bytes, printed as hex.
fn fnv(hash: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *hash ^= u64::from(b);
        *hash = hash.wrapping_mul(0x100_0000_01b3);
    }
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;
/// The first preopened directory's fd, where wasi-libc's preopens start.
const FIRST_PREOPEN: u32 = 3;

fn run(op: &[String]) -> std::io::Result<()> {
    let arg = |i: usize| op.get(i).map(String::as_str).unwrap_or("");
    match arg(0) {
        "ls" => {
            let mut lines = Vec::new();
            for entry in fs::read_dir(arg(1))? {
                let entry = entry?;
                let meta = fs::symlink_metadata(entry.path())?;
                let kind = if meta.is_dir() {
                    "dir"
                } else if meta.file_type().is_symlink() {
                    "link"
                } else {
                    "file"
                };
                let size = if meta.is_file() {
                    meta.len().to_string()
                } else {
                    "-".into()
                };
                lines.push(format!(
                    "{kind} {} {size}",
                    entry.file_name().to_string_lossy()
                ));
            }
            lines.sort();
            for line in lines {
                println!("{line}");
            }
        }
        "cat" => {
            let mut text = String::new();
            fs::File::open(arg(1))?.read_to_string(&mut text)?;
            print!("{text}");
        }
        "write" => fs::write(arg(1), arg(2))?,
        "append" => fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(arg(1))?
            .write_all(arg(2).as_bytes())?,
        "mkdir" => fs::create_dir_all(arg(1))?,
        "rm" => {
            if fs::symlink_metadata(arg(1))?.is_dir() {
                fs::remove_dir_all(arg(1))?
            } else {
                fs::remove_file(arg(1))?
            }
        }
        "mv" => fs::rename(arg(1), arg(2))?,
        "ln" if arg(1) == "-s" => {
            // std's symlink for WASI is unstable: call preview1 directly, relative to the
            // first preopened directory (fd 3).
            // SAFETY: a plain call with two string arguments.
            unsafe { wasi::path_symlink(arg(2), FIRST_PREOPEN, arg(3)) }
                .map_err(|e| std::io::Error::from_raw_os_error(i32::from(e.raw())))?
        }
        "ln" => fs::hard_link(arg(1), arg(2))?,
        "big" => {
            let mib: usize = arg(2).parse().unwrap_or(1);
            let mut file = fs::File::create(arg(1))?;
            let mut hash = FNV_START;
            let mut block = vec![0u8; 1 << 20];
            for i in 0..mib {
                for (j, byte) in block.iter_mut().enumerate() {
                    *byte = (i * 31 + j * 7 + (j >> 11)) as u8;
                }
                fnv(&mut hash, &block);
                file.write_all(&block)?;
            }
            println!("{hash:016x}");
        }
        "sum" => {
            let mut file = fs::File::open(arg(1))?;
            let mut hash = FNV_START;
            let mut block = vec![0u8; 1 << 16];
            loop {
                let n = file.read(&mut block)?;
                if n == 0 {
                    break;
                }
                fnv(&mut hash, &block[..n]);
            }
            println!("{hash:016x}");
        }
        // Ends the program with a trap, after the operations before it took effect.
        "abort" => std::process::abort(),
        other => {
            eprintln!("files: unknown operation `{other}`");
            std::process::exit(2);
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut status = 0;
    for op in args.split(|a| a == "--") {
        if let Err(error) = run(op) {
            println!("error: {}: {error}", op.join(" "));
            status = 1;
        }
    }
    std::process::exit(status);
}
