//! `readfiles PATH...`: a plain std program (no Cella crate, nothing that knows `PWD`) for
//! the working-directory tests. It prints the directory std reports, then for each PATH its
//! first line or the error opening it, as any wasm32-wasip1 program built elsewhere would
//! see them.
fn main() {
    match std::env::current_dir() {
        Ok(dir) => println!("cwd {}", dir.display()),
        Err(e) => println!("cwd error {e}"),
    }
    for path in std::env::args().skip(1) {
        match std::fs::read_to_string(&path) {
            Ok(text) => println!("{path}: {}", text.lines().next().unwrap_or("")),
            Err(e) => println!("{path}: error {}", e.kind()),
        }
    }
}
