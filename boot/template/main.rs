//! A WASI program for Cella. `cargo run -- NAME < FILE` builds it for wasm32-wasip1 and runs
//! it on Cella in QEMU (see .cargo/config.toml): it greets NAME, counts the lines of its
//! stdin and signs NAME into a guest book in the project's data/ directory.

use std::env;
use std::fs;
use std::io::{self, BufRead, ErrorKind, IsTerminal};
use std::path::Path;

fn main() -> io::Result<()> {
    // The arguments after `cargo run --`; argv[0] is the program's file name.
    let name = env::args().nth(1).unwrap_or_else(|| "world".to_string());
    // The program sees only the variables given with `--env` (.cargo/config.toml sets this).
    let greeting = env::var("GREETING").unwrap_or_else(|_| "Hi".to_string());
    println!("{greeting}, {name}!");

    // stdin is the one `cargo run` was given: a pipe, a file or the terminal.
    let stdin = io::stdin();
    if stdin.is_terminal() {
        println!("stdin is a terminal: pipe something in to count its lines");
    } else {
        let mut lines = 0;
        for line in stdin.lock().split(b'\n') {
            line?;
            lines += 1;
        }
        println!("stdin: {lines} lines");
    }

    // The project's data/ is preopened as `data` (.cargo/cella-run); what the program writes
    // there is back on the host when it exits.
    let data = Path::new("data");
    if !data.is_dir() {
        println!("no data/ directory: make one in the project to keep a guest book");
        return Ok(());
    }
    let book = data.join("guests.txt");
    let mut guests = match fs::read_to_string(&book) {
        Ok(guests) => guests,
        Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    guests.push_str(&name);
    guests.push('\n');
    fs::write(&book, &guests)?;
    println!(
        "{name} is guest number {} in {}",
        guests.lines().count(),
        book.display()
    );
    Ok(())
}
