//! Sleeps for argv[1] milliseconds (poll_oneoff) and prints how long it really took.
use std::time::{Duration, Instant};

fn main() {
    let ms: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(ms));
    println!("{}", start.elapsed().as_millis());
}
