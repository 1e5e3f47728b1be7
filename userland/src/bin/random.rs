//! Checks random_get: buffers are filled, differ between calls, and look uniform. Prints `ok`.
use std::collections::HashMap;

const LEN: usize = 64 * 1024;

fn fill(buf: &mut [u8]) {
    // SAFETY: the pointer and length describe `buf`, which random_get fills.
    unsafe { wasi::random_get(buf.as_mut_ptr(), buf.len()) }.expect("random_get");
}

fn main() {
    let mut a = vec![0u8; LEN];
    let mut b = vec![0u8; LEN];
    fill(&mut a);
    fill(&mut b);
    let mut failures = Vec::new();
    if a == b {
        failures.push("two calls returned the same bytes".to_string());
    }
    // Chi-square over byte values: 255 degrees of freedom, mean 255, sd ~22.6. 400 is far
    // beyond anything a working generator produces and far below what a broken one does.
    let mut counts = [0u64; 256];
    for &byte in &a {
        counts[usize::from(byte)] += 1;
    }
    let expected = LEN as f64 / 256.0;
    let chi2: f64 = counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    if chi2 > 400.0 {
        failures.push(format!(
            "byte distribution is skewed (chi-square {chi2:.0})"
        ));
    }
    // Zero-length requests are fine.
    fill(&mut []);
    // std's HashMap seeds itself from random_get.
    let map: HashMap<u32, u32> = (0..100).map(|i| (i, i * 2)).collect();
    if map.get(&7) != Some(&14) {
        failures.push("HashMap lookup failed".to_string());
    }
    if failures.is_empty() {
        println!("ok");
    } else {
        failures.iter().for_each(|f| println!("FAIL: {f}"));
        std::process::exit(1);
    }
}
