//! Checks the WASI clocks for sanity and prints `ok`, or each failed check (exit status 1).
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// 2024-01-01T00:00:00Z: any realtime clock before that is wrong.
const EARLIEST_PLAUSIBLE: u64 = 1_704_067_200;
/// 2100-01-01T00:00:00Z.
const LATEST_PLAUSIBLE: u64 = 4_102_444_800;

fn now(clock: wasi::Clockid) -> u64 {
    // SAFETY: clock_time_get only writes its result through the return value here.
    unsafe { wasi::clock_time_get(clock, 1) }.expect("clock_time_get")
}

fn burn(duration: Duration) -> u64 {
    let start = Instant::now();
    let mut x = 1u64;
    while start.elapsed() < duration {
        for _ in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    x
}

fn main() {
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            failures.push(what);
        }
    };

    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    check(
        (EARLIEST_PLAUSIBLE..LATEST_PLAUSIBLE).contains(&unix),
        format!("realtime {unix} s is implausible"),
    );

    for (name, clock) in [
        ("realtime", wasi::CLOCKID_REALTIME),
        ("monotonic", wasi::CLOCKID_MONOTONIC),
        ("process", wasi::CLOCKID_PROCESS_CPUTIME_ID),
        ("thread", wasi::CLOCKID_THREAD_CPUTIME_ID),
    ] {
        // SAFETY: a plain call with no pointers of ours.
        match unsafe { wasi::clock_res_get(clock) } {
            Ok(res) => check(
                res > 0 && res <= 1_000_000,
                format!("{name} resolution {res} ns"),
            ),
            Err(e) => check(false, format!("clock_res_get({name}): {e}")),
        }
    }
    let mono0 = now(wasi::CLOCKID_MONOTONIC);
    let cpu0 = now(wasi::CLOCKID_PROCESS_CPUTIME_ID);
    burn(Duration::from_millis(50));
    let mono1 = now(wasi::CLOCKID_MONOTONIC);
    let cpu1 = now(wasi::CLOCKID_PROCESS_CPUTIME_ID);
    check(
        mono1 >= mono0 + 50_000_000,
        format!("monotonic advanced {} ns over a 50 ms burn", mono1 - mono0),
    );
    check(
        cpu1 > cpu0,
        "process CPU time did not advance while computing".to_string(),
    );

    std::thread::sleep(Duration::from_millis(200));
    let mono2 = now(wasi::CLOCKID_MONOTONIC);
    let cpu2 = now(wasi::CLOCKID_PROCESS_CPUTIME_ID);
    check(
        mono2 - mono1 >= 200_000_000,
        format!("a 200 ms sleep took {} ns", mono2 - mono1),
    );
    check(
        cpu2 - cpu1 < (mono2 - mono1) / 2,
        format!(
            "process CPU time grew {} ns during a {} ns sleep",
            cpu2 - cpu1,
            mono2 - mono1
        ),
    );

    if failures.is_empty() {
        println!("ok");
    } else {
        for f in &failures {
            println!("FAIL: {f}");
        }
        std::process::exit(1);
    }
}
