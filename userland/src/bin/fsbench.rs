//! File-system throughput: `fsbench DIR [FILES]` creates, writes (1 KiB), reads back and
//! unlinks FILES small files in DIR (default 2000), then writes and reads one 8 MiB file in
//! 64 KiB pieces, and prints the rates it measured itself.
use std::fs;
use std::io::{Read, Write};
use std::time::Instant;

const SMALL: usize = 1024;
const LARGE_MIB: usize = 8;
const PIECE: usize = 64 * 1024;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| ".".into());
    let files: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let payload = vec![0x5au8; SMALL];
    let mut back = vec![0u8; SMALL];

    let start = Instant::now();
    for i in 0..files {
        let path = format!("{dir}/f{i}");
        fs::File::create(&path)?.write_all(&payload)?;
        fs::File::open(&path)?.read_exact(&mut back)?;
        assert_eq!(back, payload);
        fs::remove_file(&path)?;
    }
    let small = start.elapsed().as_secs_f64();

    let path = format!("{dir}/large");
    let piece = vec![0xa5u8; PIECE];
    let start = Instant::now();
    let mut file = fs::File::create(&path)?;
    for _ in 0..LARGE_MIB * (1 << 20) / PIECE {
        file.write_all(&piece)?;
    }
    drop(file);
    let mut file = fs::File::open(&path)?;
    let mut buf = vec![0u8; PIECE];
    let mut total = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n;
    }
    let large = start.elapsed().as_secs_f64();
    fs::remove_file(&path)?;
    assert_eq!(total, LARGE_MIB << 20);
    println!(
        "small-files {files} cycles/s {:.0} large-MiB {LARGE_MIB} MiB/s {:.1}",
        files as f64 / small,
        2.0 * LARGE_MIB as f64 / large
    );
    Ok(())
}
