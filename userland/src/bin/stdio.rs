//! Writes `out` to stdout and `err` to stderr, to check that the two stay apart.
fn main() {
    println!("out");
    eprintln!("err");
}
