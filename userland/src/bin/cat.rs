//! Copies stdin to stdout until end-of-file.
use std::io::{Read, Write};

fn main() {
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = stdout.write_all(&buf[..n]) {
                    eprintln!("cat: write error: {e}");
                    std::process::exit(1);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("cat: read error: {e}");
                std::process::exit(1);
            }
        }
    }
}
