//! The other wire formats of `boot/proto`: the run configuration the kernel decodes from
//! fw_cfg, the host link's frames (the kernel decodes the runner's, the runner the
//! kernel's) and the exit report.
//!
//! Checked: no decoder panics on arbitrary bytes; what decodes encodes back to something that
//! decodes the same (the exit report to the very same bytes); configurations and frame
//! sequences built from the input survive encoding and decoding; and the frame decoder
//! accounts for every byte it was fed, however the stream is split.

#![no_main]

use arbitrary::Arbitrary;
use cella_proto::{
    Decoder, Exit, HEADER_LEN, InjectedFault, MAX_PAYLOAD, Preopen, RunConfig, encode_frame,
};
use libfuzzer_sys::fuzz_target;

/// A [`RunConfig`] from the input.
#[derive(Arbitrary, Debug)]
struct Config {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    flags: [bool; 5],
    preopens: Vec<(Vec<u8>, u32, Vec<u8>)>,
    fault: Option<u8>,
    listen: Vec<u16>,
    fs_size: Option<u64>,
    max_backtrace: Option<u32>,
}

impl Config {
    fn run_config(&self) -> RunConfig {
        let [host_link, verbose, interactive, terminal, profile] = self.flags;
        RunConfig {
            args: self.args.clone(),
            env: self.env.clone(),
            host_link,
            verbose,
            interactive,
            terminal,
            preopens: (self.preopens.iter())
                .map(|(guest, root, subpath)| Preopen {
                    guest: guest.clone(),
                    root: *root,
                    subpath: subpath.clone(),
                })
                .collect(),
            inject_fault: self
                .fault
                .map(|n| InjectedFault::ALL[usize::from(n) % InjectedFault::ALL.len()].0),
            listen: self.listen.clone(),
            profile,
            fs_size: self.fs_size,
            max_backtrace: self.max_backtrace,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Bytes for every decoder.
    raw: &'a [u8],
    config: Config,
    frames: Vec<(u8, &'a [u8])>,
    exit: (u8, u32, &'a [u8]),
}

fuzz_target!(|input: Input<'_>| {
    // The run configuration: arbitrary bytes, then one built from the input.
    if let Ok(config) = RunConfig::decode(input.raw) {
        let encoded = config.encode().expect("a decoded configuration encodes");
        assert_eq!(RunConfig::decode(&encoded), Ok(config));
    }
    let config = input.config.run_config();
    if let Ok(encoded) = config.encode() {
        assert_eq!(RunConfig::decode(&encoded), Ok(config));
    }

    // The link: arbitrary bytes give frames that re-encode to what was fed, the rest is the
    // frame in progress.
    let mut decoder = Decoder::new();
    let mut reencoded = Vec::new();
    for &byte in input.raw {
        if let Some((tag, payload)) = decoder.push(byte) {
            assert!(payload.len() <= MAX_PAYLOAD);
            encode_frame(&mut reencoded, tag, payload);
        }
    }
    assert_eq!(&input.raw[..reencoded.len()], &reencoded[..]);
    let pending = input.raw.len() - reencoded.len();
    assert_eq!(decoder.is_idle(), pending == 0);
    assert!(pending < HEADER_LEN + MAX_PAYLOAD);

    // Frames built from the input arrive whole and in order.
    let mut stream = Vec::new();
    for (tag, payload) in &input.frames {
        encode_frame(&mut stream, *tag, payload);
    }
    let mut decoder = Decoder::new();
    let mut received = Vec::new();
    for byte in stream {
        if let Some((tag, payload)) = decoder.push(byte) {
            received.push((tag, payload.to_vec()));
        }
    }
    assert!(decoder.is_idle());
    // A payload over the maximum goes as several frames with its tag.
    let mut sent = Vec::new();
    for (tag, payload) in &input.frames {
        if payload.is_empty() {
            sent.push((*tag, Vec::new()));
        }
        for chunk in payload.chunks(MAX_PAYLOAD) {
            sent.push((*tag, chunk.to_vec()));
        }
    }
    assert_eq!(received, sent);

    // The exit report.
    if let Some(exit) = Exit::decode(input.raw) {
        assert_eq!(exit.encode(), input.raw);
        let _ = exit.host_status();
    }
    let (kind, code, message) = input.exit;
    let exit = match kind % 4 {
        0 => Exit::Exited(code),
        1 => Exit::Trapped(message.to_vec()),
        2 => Exit::LoadFailed(message.to_vec()),
        _ => Exit::KernelFault(message.to_vec()),
    };
    assert_eq!(Exit::decode(&exit.encode()), Some(exit));
});
