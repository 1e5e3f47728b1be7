//! Random bytes for `random_get`: RDSEED, else RDRAND, else a ChaCha20 generator seeded from
//! the best the machine offers (TSC jitter and the clocks), with a warning in the log.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use spin::{Mutex, Once};

use crate::arch::cpu;
use crate::time;

/// Attempts per word before a hardware source is considered dry for this word.
const HW_RETRIES: usize = 64;
/// TSC samples folded into the fallback seed.
const JITTER_SAMPLES: usize = 4096;

#[derive(Clone, Copy, Debug)]
enum Source {
    /// RDSEED, topped up with RDRAND when the CPU has it and RDSEED runs dry.
    RdSeed(cpu::RdSeed, Option<cpu::RdRand>),
    RdRand(cpu::RdRand),
    ChaCha,
}

static SOURCE: Once<Source> = Once::new();
static FALLBACK: Mutex<Option<ChaCha20Rng>> = Mutex::new(None);

/// Picks the entropy source and logs it.
pub fn init() {
    let source = SOURCE.call_once(|| match (cpu::RdSeed::detect(), cpu::RdRand::detect()) {
        (Some(seed), rand) => Source::RdSeed(seed, rand),
        (None, Some(rand)) => Source::RdRand(rand),
        (None, None) => Source::ChaCha,
    });
    match source {
        Source::ChaCha => log::warn!(
            "no RDSEED/RDRAND: random_get uses ChaCha20 seeded from TSC jitter and the clocks"
        ),
        other => log::debug!("entropy source: {other:?}"),
    }
}

fn hardware_word(source: Source) -> Option<u64> {
    let rand = |rand: cpu::RdRand| (0..HW_RETRIES).find_map(|_| rand.next());
    match source {
        Source::RdSeed(seed, fallback) => (0..HW_RETRIES)
            .find_map(|_| seed.next())
            .or_else(|| fallback.and_then(rand)),
        Source::RdRand(source) => rand(source),
        Source::ChaCha => None,
    }
}

/// A seed from timing noise: the TSC read around CPUID (whose latency varies), mixed
/// with the real-time clock. Weak, which is why its use is logged.
fn jitter_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    let mut state = time::realtime_ns() ^ cpu::rdtsc().rotate_left(32);
    for i in 0..JITTER_SAMPLES {
        let before = cpu::rdtsc();
        let _ = cpu::cpuid(0, 0);
        let delta = cpu::rdtsc().wrapping_sub(before);
        state = (state ^ delta ^ before)
            .rotate_left(13)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        seed[i % 32] ^= (state >> 56) as u8;
    }
    seed
}

fn fallback_fill(buf: &mut [u8]) {
    let mut rng = FALLBACK.lock();
    rng.get_or_insert_with(|| ChaCha20Rng::from_seed(jitter_seed()))
        .fill_bytes(buf);
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    let source = *SOURCE.get().unwrap_or(&Source::ChaCha);
    for chunk in buf.chunks_mut(8) {
        match hardware_word(source) {
            Some(word) => chunk.copy_from_slice(&word.to_ne_bytes()[..chunk.len()]),
            None => fallback_fill(chunk),
        }
    }
}
