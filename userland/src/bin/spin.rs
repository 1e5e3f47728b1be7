//! Test program: `spin NAME SECONDS` keeps the CPU busy with arithmetic for SECONDS of wall
//! time (fractions allowed), printing `NAME N` (N = 1, 2, ...) every quarter second and
//! `NAME done` at the end. It never blocks, so two of them running at once show whether the
//! scheduler preempts: both must keep printing.
use std::io::Write;
use std::time::{Duration, Instant};

/// How often progress is printed.
const TICK: Duration = Duration::from_millis(250);
/// Arithmetic steps between looks at the clock: a look is a host call, the steps are not.
const STEPS_PER_CHECK: u32 = 10_000;

fn main() {
    let args: Vec<String> = cella_userland::args();
    let (Some(name), Some(seconds)) = (args.first(), args.get(1)) else {
        eprintln!("usage: spin NAME SECONDS");
        std::process::exit(2);
    };
    let Some(length) = seconds
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
    else {
        eprintln!("spin: bad SECONDS '{seconds}'");
        std::process::exit(2);
    };
    let start = Instant::now();
    let mut next = start + TICK;
    let mut ticks = 0u64;
    // A linear congruential generator: work the optimiser cannot skip.
    let mut state: u64 = 1;
    let mut stdout = std::io::stdout();
    loop {
        for _ in 0..STEPS_PER_CHECK {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
        }
        let now = Instant::now();
        if now.duration_since(start) >= length {
            break;
        }
        if now >= next {
            ticks += 1;
            next += TICK;
            let _ = writeln!(stdout, "{name} {ticks}");
        }
    }
    // Printed so the arithmetic has an observable result; it is nearly always odd.
    let _ = writeln!(stdout, "{name} done");
    std::process::exit(i32::from(std::hint::black_box(state) == 0));
}
