//! A CoreMark-style compute benchmark: list processing, matrix arithmetic, a state machine
//! and CRCs over a seeded data set (integer work), plus an n-body step (floating point).
//!
//! `bench calls` runs a naive recursive Fibonacci: almost nothing but calls and returns.
//!
//! `bench [int|float|calls] [ITERATIONS]` prints the checksum, the iteration count and the time the
//! program measured itself. Every runtime must print the same checksum for the same
//! arguments, so a benchmark run is also a correctness check of the interpreter.
use std::hint::black_box;
use std::time::Instant;

const MATRIX_N: usize = 24;
const LIST_LEN: usize = 200;
const STATE_INPUT_LEN: usize = 1024;

/// Deterministic xorshift generator for the data set.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn crc16(mut crc: u16, data: &[u8]) -> u16 {
    for &byte in data {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xa001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// A linked list kept in an array, as CoreMark keeps its list in a fixed block.
struct List {
    next: Vec<Option<usize>>,
    value: Vec<i32>,
    head: Option<usize>,
}

impl List {
    fn new(rng: &mut Rng) -> List {
        let value: Vec<i32> = (0..LIST_LEN)
            .map(|_| (rng.next() % 10_000) as i32)
            .collect();
        let next = (0..LIST_LEN)
            .map(|i| if i + 1 < LIST_LEN { Some(i + 1) } else { None })
            .collect();
        List {
            next,
            value,
            head: Some(0),
        }
    }

    fn reverse(&mut self) {
        let (mut prev, mut cur) = (None, self.head);
        while let Some(i) = cur {
            cur = self.next[i];
            self.next[i] = prev;
            prev = Some(i);
        }
        self.head = prev;
    }

    fn find(&self, wanted: i32) -> Option<usize> {
        let mut cur = self.head;
        while let Some(i) = cur {
            if self.value[i] == wanted {
                return Some(i);
            }
            cur = self.next[i];
        }
        None
    }

    /// Merge sort of the linked list by value (bottom-up, no recursion, like CoreMark's).
    fn sort(&mut self) {
        let mut width = 1;
        loop {
            let mut p = self.head;
            self.head = None;
            let mut tail: Option<usize> = None;
            let mut merges = 0;
            while let Some(start) = p {
                merges += 1;
                let mut q = Some(start);
                let mut psize = 0;
                for _ in 0..width {
                    psize += 1;
                    q = q.and_then(|i| self.next[i]);
                    if q.is_none() {
                        break;
                    }
                }
                let mut qsize = width;
                let mut pp = Some(start);
                while psize > 0 || (qsize > 0 && q.is_some()) {
                    let take_p = match (pp, q) {
                        (Some(_), _) if qsize == 0 || q.is_none() => true,
                        (Some(a), Some(b)) if psize > 0 => self.value[a] <= self.value[b],
                        _ => false,
                    };
                    let e = if take_p {
                        let e = pp.unwrap_or(start);
                        pp = self.next[e];
                        psize -= 1;
                        e
                    } else {
                        let e = q.unwrap_or(start);
                        q = self.next[e];
                        qsize -= 1;
                        e
                    };
                    match tail {
                        Some(t) => self.next[t] = Some(e),
                        None => self.head = Some(e),
                    }
                    tail = Some(e);
                }
                p = q;
            }
            if let Some(t) = tail {
                self.next[t] = None;
            }
            if merges <= 1 {
                return;
            }
            width *= 2;
        }
    }

    fn checksum(&self) -> u16 {
        let mut crc = 0;
        let mut cur = self.head;
        while let Some(i) = cur {
            crc = crc16(crc, &self.value[i].to_le_bytes());
            cur = self.next[i];
        }
        crc
    }
}

fn matrix(a: &[i32], b: &[i32], c: &mut [i32], k: i32) -> u16 {
    for i in 0..MATRIX_N {
        for j in 0..MATRIX_N {
            let mut sum = 0i32;
            for x in 0..MATRIX_N {
                sum = sum.wrapping_add(a[i * MATRIX_N + x].wrapping_mul(b[x * MATRIX_N + j]));
            }
            c[i * MATRIX_N + j] = sum.wrapping_add(k);
        }
    }
    let mut crc = 0;
    for v in c.iter() {
        crc = crc16(crc, &v.to_le_bytes());
    }
    crc
}

/// Counts the kinds of numbers in text the way a lexer would: ints, decimals, exponents, junk.
fn state_machine(input: &[u8]) -> u16 {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Start,
        Int,
        Frac,
        Exp,
        Bad,
    }
    let mut counts = [0u32; 5];
    let mut state = S::Start;
    for &c in input {
        state = match (state, c) {
            (_, b',') => {
                counts[state as usize] += 1;
                S::Start
            }
            (S::Start | S::Int, b'0'..=b'9') => S::Int,
            (S::Int, b'.') => S::Frac,
            (S::Frac, b'0'..=b'9') => S::Frac,
            (S::Frac | S::Int, b'e' | b'E') => S::Exp,
            (S::Exp, b'0'..=b'9' | b'-') => S::Exp,
            _ => S::Bad,
        };
    }
    counts.iter().fold(0, |crc, n| crc16(crc, &n.to_le_bytes()))
}

fn int_iteration(rng: &mut Rng, seed: u16) -> u16 {
    let mut list = List::new(rng);
    let mut crc = seed;
    for probe in 0..16 {
        crc = crc16(
            crc,
            &(list.find(probe * 613 % 10_000).map_or(-1, |i| i as i64)).to_le_bytes(),
        );
    }
    list.reverse();
    list.sort();
    crc = crc16(crc, &list.checksum().to_le_bytes());

    let a: Vec<i32> = (0..MATRIX_N * MATRIX_N)
        .map(|_| (rng.next() % 256) as i32 - 128)
        .collect();
    let b: Vec<i32> = (0..MATRIX_N * MATRIX_N)
        .map(|_| (rng.next() % 256) as i32 - 128)
        .collect();
    let mut c = vec![0; MATRIX_N * MATRIX_N];
    crc = crc16(crc, &matrix(&a, &b, &mut c, i32::from(seed)).to_le_bytes());

    const ALPHABET: &[u8] = b"0123456789.,e-x";
    let input: Vec<u8> = (0..STATE_INPUT_LEN)
        .map(|_| ALPHABET[(rng.next() % ALPHABET.len() as u64) as usize])
        .collect();
    crc16(crc, &state_machine(&input).to_le_bytes())
}

/// One leapfrog step of five bodies; returns the system's energy.
fn nbody_iteration(pos: &mut [[f64; 3]; 5], vel: &mut [[f64; 3]; 5], mass: &[f64; 5]) -> f64 {
    const DT: f64 = 0.01;
    for i in 0..5 {
        for j in i + 1..5 {
            let d = [
                pos[i][0] - pos[j][0],
                pos[i][1] - pos[j][1],
                pos[i][2] - pos[j][2],
            ];
            let dist2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            let mag = DT / (dist2 * dist2.sqrt());
            for k in 0..3 {
                vel[i][k] -= d[k] * mass[j] * mag;
                vel[j][k] += d[k] * mass[i] * mag;
            }
        }
    }
    let mut energy = 0.0;
    for i in 0..5 {
        for k in 0..3 {
            pos[i][k] += DT * vel[i][k];
        }
        energy += 0.5 * mass[i] * (vel[i][0].powi(2) + vel[i][1].powi(2) + vel[i][2].powi(2));
    }
    energy
}

/// Naive Fibonacci: 2·fib(n) - 1 calls, each doing almost nothing else.
fn fib(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib(black_box(n - 1)) + fib(black_box(n - 2))
    }
}

/// The argument of `fib` per `calls` iteration: 21891 calls.
const FIB_N: u32 = 20;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "int".to_string());
    let iterations: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let start = Instant::now();
    let checksum = match mode.as_str() {
        "int" => {
            let mut rng = Rng(0x2545_f491_4f6c_dd1d);
            let mut crc = 0u16;
            for _ in 0..iterations {
                crc = int_iteration(&mut rng, black_box(crc));
            }
            u64::from(crc)
        }
        "float" => {
            let mut pos = [[0.0; 3]; 5];
            let mut vel = [[0.0; 3]; 5];
            let mass = [39.47, 0.037, 0.011, 0.0017, 0.002];
            for i in 0..5 {
                pos[i] = [
                    i as f64 * 1.5,
                    (i as f64 * 0.7).sin(),
                    (i as f64).cos() * 0.3,
                ];
                vel[i] = [0.0, 0.1 * i as f64, -0.05 * i as f64];
            }
            let mut energy = 0.0;
            for _ in 0..iterations * 100 {
                energy = nbody_iteration(&mut pos, &mut vel, &mass);
            }
            energy.to_bits()
        }
        "calls" => (0..iterations).fold(0u64, |sum, _| sum.wrapping_add(fib(black_box(FIB_N)))),
        _ => {
            eprintln!("usage: bench [int|float|calls] [ITERATIONS]");
            std::process::exit(2);
        }
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "mode {mode} iterations {iterations} checksum {checksum:#x} seconds {secs:.3} iter/s {:.1}",
        f64::from(iterations) / secs
    );
}
