//! `false`: does nothing and fails, whatever its arguments (exit status 1).
fn main() {
    std::process::exit(1);
}
