//! Prints each environment entry as `NAME=VALUE`, one per line, in the order given.
fn main() {
    for (name, value) in std::env::vars_os() {
        println!("{}={}", name.to_string_lossy(), value.to_string_lossy());
    }
}
