//! Exits with the status given as its first argument (proc_exit), default 0.
fn main() {
    let code = match std::env::args().nth(1) {
        Some(arg) => match arg.parse::<i32>() {
            Ok(code) => code,
            Err(_) => {
                eprintln!("usage: exit [STATUS]");
                std::process::exit(2);
            }
        },
        None => 0,
    };
    std::process::exit(code);
}
