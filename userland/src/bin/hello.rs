//! The first program anyone runs.
fn main() {
    println!("Hello, world!");
}
