//! Wire formats shared by the Cella kernel and the host runner (`boot/`).
//!
//! Two things cross the boundary between `./qemu.sh` and the guest:
//!
//! * the **run configuration** (argv, environment, options), handed to the kernel as the
//!   QEMU fw_cfg file [`FW_CFG_CONFIG`] next to the program itself ([`FW_CFG_PROGRAM`]), so the
//!   disk image never has to be rebuilt per run;
//! * the **host link**, a framed byte stream over a serial port that carries the program's
//!   stdout and stderr, the kernel log and the final exit status out of the guest, and stdin
//!   (with a real end-of-file) into it. Each frame is `tag: u8, len: u16 LE, payload`.
//!
//! Both sides are tested here on the host, so the kernel and the runner cannot drift apart.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(test)]
extern crate std;

pub mod archive;

use alloc::vec::Vec;

/// fw_cfg file holding the Wasm program's bytes.
pub const FW_CFG_PROGRAM: &str = "opt/cella/program";
/// fw_cfg file holding the encoded [`RunConfig`].
pub const FW_CFG_CONFIG: &str = "opt/cella/config";
/// fw_cfg file holding the `--dir` trees: an [`archive`] whose top-level directories `0`,
/// `1`, ... are the host directories, in [`Preopen::root`] order.
pub const FW_CFG_DIRS: &str = "opt/cella/dirs";
/// Serial number of the virtio block device the kernel writes the `--dir` trees back to.
pub const WRITEBACK_SERIAL: &str = "cella-writeback";
/// First bytes of a write-back disk the kernel filled: then the archive's length (u64 LE),
/// then, from byte [`WRITEBACK_HEADER`], the archive.
pub const WRITEBACK_MAGIC: &[u8; 8] = b"CELLAWB1";
/// Where the archive starts on the write-back disk (one sector for the header).
pub const WRITEBACK_HEADER: usize = 512;

/// A directory the program sees as preopened: the guest name, and where its tree is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preopen {
    /// The name the program sees (`fd_prestat_dir_name`).
    pub guest: Vec<u8>,
    /// Which top-level directory of the dirs archive holds the tree.
    pub root: u32,
    /// The preopened directory's path inside that tree (empty for the tree itself); two
    /// `--dir`s where one is inside the other share one tree.
    pub subpath: Vec<u8>,
}

/// Largest payload a single link frame can carry.
pub const MAX_PAYLOAD: usize = u16::MAX as usize;
/// Bytes of a frame header: tag and little-endian length.
pub const HEADER_LEN: usize = 3;

/// Sent raw by the kernel on the link before its first frame. Firmware (OVMF under UEFI)
/// writes its own text to every serial port during boot; the runner discards everything up
/// to and including this marker, which no firmware text contains (it is not valid UTF-8).
pub const LINK_SYNC: &[u8] = b"\xff\xfeCELLA-LINK\xfe\xff";

/// Frame tags sent by the guest to the host.
pub mod to_host {
    /// Bytes the program wrote to fd 1.
    pub const STDOUT: u8 = 1;
    /// Bytes the program wrote to fd 2.
    pub const STDERR: u8 = 2;
    /// One kernel log line (without the trailing newline).
    pub const LOG: u8 = 3;
    /// The run ended: payload is an encoded [`crate::Exit`]. Always the last frame.
    pub const EXIT: u8 = 4;
    /// The kernel is about to call the program's `_start`: payload is three u64 LE values,
    /// the TSC at kernel entry, the TSC now, and the calibrated TSC frequency in Hz.
    pub const STARTED: u8 = 5;
}

/// Frame tags sent by the host to the guest.
pub mod to_guest {
    /// Bytes for the program's fd 0.
    pub const STDIN: u8 = 1;
    /// The host's stdin reached end-of-file; no more [`STDIN`] frames follow.
    pub const STDIN_EOF: u8 = 2;
    /// The host consumed more of the guest's output: payload is a u32 LE byte count the guest
    /// may send in addition (see [`crate::LINK_WINDOW`]).
    pub const CREDIT: u8 = 3;
}

/// Bytes the guest may send over a virtio link before the host grants more with
/// [`to_guest::CREDIT`]. QEMU's virtio console drops what its host side cannot take at once,
/// so the guest never has more in flight than a pipe holds (64 KiB on Linux).
pub const LINK_WINDOW: usize = 48 * 1024;
/// Largest payload the guest puts in one frame on a virtio link: a fraction of the window,
/// so output keeps flowing while credit returns.
pub const LINK_FRAME_PAYLOAD: usize = 12 * 1024;

/// Appends one frame to `out`. Payloads longer than [`MAX_PAYLOAD`] are split into several
/// frames with the same tag, which every reader of a stream tag treats as one stream.
pub fn encode_frame(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    let mut chunks = payload.chunks(MAX_PAYLOAD).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[tag, 0, 0]);
        return;
    }
    for chunk in chunks {
        let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        out.push(tag);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// Incremental frame decoder: feed it bytes as they arrive, in any split.
#[derive(Debug, Default)]
pub struct Decoder {
    header: [u8; HEADER_LEN],
    header_len: usize,
    payload: Vec<u8>,
}

impl Decoder {
    /// A decoder waiting for the first byte of a frame.
    pub const fn new() -> Self {
        Decoder {
            header: [0; HEADER_LEN],
            header_len: 0,
            payload: Vec::new(),
        }
    }

    /// Feeds one byte; returns `Some((tag, payload))` when it completes a frame.
    pub fn push(&mut self, byte: u8) -> Option<(u8, &[u8])> {
        if self.header_len < HEADER_LEN {
            self.header[self.header_len] = byte;
            self.header_len += 1;
            if self.header_len < HEADER_LEN {
                return None;
            }
            self.payload.clear();
        } else {
            self.payload.push(byte);
        }
        let len = usize::from(u16::from_le_bytes([self.header[1], self.header[2]]));
        if self.payload.len() == len {
            self.header_len = 0;
            Some((self.header[0], &self.payload))
        } else {
            None
        }
    }

    /// True between frames: no partial frame is buffered.
    pub fn is_idle(&self) -> bool {
        self.header_len == 0
    }
}

/// How a run ended, as the guest reports it in its final [`to_host::EXIT`] frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The program returned from `_start` (status 0) or called `proc_exit(status)`.
    Exited(u32),
    /// The program trapped; the message names the trap (and function, when known).
    Trapped(Vec<u8>),
    /// The module could not be loaded: not Wasm, failed validation, unknown import...
    LoadFailed(Vec<u8>),
    /// The kernel itself failed: a panic, a CPU exception or kernel memory exhaustion.
    KernelFault(Vec<u8>),
}

const EXIT_EXITED: u8 = 0;
const EXIT_TRAPPED: u8 = 1;
const EXIT_LOAD_FAILED: u8 = 2;
const EXIT_KERNEL_FAULT: u8 = 3;

/// Host exit statuses that mirror `wasmtime run` and say which side failed.
pub mod status {
    /// A Wasm trap, as wasmtime reports it on Unix (128 + SIGABRT).
    pub const TRAP: u8 = 134;
    /// The module could not be loaded or instantiated (wasmtime uses 1 as well).
    pub const LOAD_FAILED: u8 = 1;
    /// Bad command line or input file, before anything ran.
    pub const USAGE: u8 = 2;
    /// The Cella kernel panicked or took a CPU exception (EX_OSERR from sysexits.h).
    pub const KERNEL_FAULT: u8 = 71;
    /// `--timeout` elapsed (as coreutils `timeout` reports it).
    pub const TIMEOUT: u8 = 124;
    /// QEMU could not start, or the guest ended without reporting an exit.
    pub const BOOT_FAILED: u8 = 125;
}

impl Exit {
    /// The status the host runner exits with for this outcome.
    pub fn host_status(&self) -> u8 {
        match self {
            // Linux keeps the low 8 bits of an exit status; so does wasmtime on Unix.
            Exit::Exited(code) => (code & 0xff) as u8,
            Exit::Trapped(_) => status::TRAP,
            Exit::LoadFailed(_) => status::LOAD_FAILED,
            Exit::KernelFault(_) => status::KERNEL_FAULT,
        }
    }

    /// Payload of the [`to_host::EXIT`] frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Exit::Exited(code) => {
                out.push(EXIT_EXITED);
                out.extend_from_slice(&code.to_le_bytes());
            }
            Exit::Trapped(msg) | Exit::LoadFailed(msg) | Exit::KernelFault(msg) => {
                out.push(match self {
                    Exit::Trapped(_) => EXIT_TRAPPED,
                    Exit::LoadFailed(_) => EXIT_LOAD_FAILED,
                    _ => EXIT_KERNEL_FAULT,
                });
                out.extend_from_slice(msg);
            }
        }
        out
    }

    /// Parses an [`to_host::EXIT`] payload; `None` if it is malformed.
    pub fn decode(payload: &[u8]) -> Option<Exit> {
        let (&kind, rest) = payload.split_first()?;
        Some(match kind {
            EXIT_EXITED => Exit::Exited(u32::from_le_bytes(rest.try_into().ok()?)),
            EXIT_TRAPPED => Exit::Trapped(rest.to_vec()),
            EXIT_LOAD_FAILED => Exit::LoadFailed(rest.to_vec()),
            EXIT_KERNEL_FAULT => Exit::KernelFault(rest.to_vec()),
            _ => return None,
        })
    }
}

/// What the kernel needs to know about a run besides the program bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunConfig {
    /// argv, starting with argv\[0\] (the program's basename, as wasmtime gives it).
    pub args: Vec<Vec<u8>>,
    /// Environment entries, each `NAME=VALUE`.
    pub env: Vec<Vec<u8>>,
    /// Talk to the host runner over the host link rather than to a console on COM1.
    pub host_link: bool,
    /// Send kernel log records down to `debug` level rather than `info`.
    pub verbose: bool,
    /// Preopened directories, in fd order (3, 4, ...).
    pub preopens: Vec<Preopen>,
    /// A kernel failure to provoke before the program runs, to test fault reporting.
    pub inject_fault: Option<InjectedFault>,
}

/// Kernel failures the tests provoke on purpose, to check that each is reported (status 71
/// and a message) rather than hanging or rebooting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedFault {
    /// A Rust panic in the kernel.
    Panic,
    /// A read of an unmapped address: a page fault.
    PageFault,
    /// Unbounded recursion: a double fault on the kernel stack's guard page.
    StackOverflow,
}

impl InjectedFault {
    /// Every kind, with its name on the command line and in the configuration.
    pub const ALL: [(InjectedFault, &'static str); 3] = [
        (InjectedFault::Panic, "panic"),
        (InjectedFault::PageFault, "page-fault"),
        (InjectedFault::StackOverflow, "stack-overflow"),
    ];

    /// The kind called `name`.
    pub fn from_name(name: &[u8]) -> Option<InjectedFault> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.as_bytes() == name)
            .map(|(kind, _)| *kind)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("", |(_, name)| name)
    }
}

/// Why a configuration could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// An argument or environment entry contains a NUL byte, which C strings cannot carry.
    Nul,
    /// An environment entry has no `=`.
    EnvWithoutEquals,
    /// A record the decoder does not know.
    UnknownRecord,
    /// A preopen record is malformed.
    BadPreopen,
}

const REC_ARG: u8 = b'a';
const REC_ENV: u8 = b'e';
const REC_HOST_LINK: u8 = b'l';
const REC_VERBOSE: u8 = b'v';
const REC_PREOPEN: u8 = b'p';
const REC_FAULT: u8 = b'f';

impl RunConfig {
    /// Encodes the configuration as NUL-terminated records, each `kind byte, ':', bytes`.
    pub fn encode(&self) -> Result<Vec<u8>, ConfigError> {
        let mut out = Vec::new();
        let mut record = |kind: u8, bytes: &[u8]| {
            if bytes.contains(&0) {
                return Err(ConfigError::Nul);
            }
            out.extend_from_slice(&[kind, b':']);
            out.extend_from_slice(bytes);
            out.push(0);
            Ok(())
        };
        for arg in &self.args {
            record(REC_ARG, arg)?;
        }
        for var in &self.env {
            if !var.contains(&b'=') {
                return Err(ConfigError::EnvWithoutEquals);
            }
            record(REC_ENV, var)?;
        }
        if self.host_link {
            record(REC_HOST_LINK, b"")?;
        }
        if self.verbose {
            record(REC_VERBOSE, b"")?;
        }
        for preopen in &self.preopens {
            // `ROOT:SUBPATH_LEN:SUBPATH GUEST`: the length keeps any bytes apart.
            let mut bytes =
                alloc::format!("{}:{}:", preopen.root, preopen.subpath.len()).into_bytes();
            bytes.extend_from_slice(&preopen.subpath);
            bytes.extend_from_slice(&preopen.guest);
            record(REC_PREOPEN, &bytes)?;
        }
        if let Some(fault) = self.inject_fault {
            record(REC_FAULT, fault.name().as_bytes())?;
        }
        Ok(out)
    }

    /// Decodes what [`RunConfig::encode`] produced.
    pub fn decode(bytes: &[u8]) -> Result<RunConfig, ConfigError> {
        let mut config = RunConfig::default();
        let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        if body.is_empty() {
            return Ok(config);
        }
        for record in body.split(|&b| b == 0) {
            match record {
                [REC_ARG, b':', rest @ ..] => config.args.push(rest.to_vec()),
                [REC_ENV, b':', rest @ ..] if rest.contains(&b'=') => {
                    config.env.push(rest.to_vec())
                }
                [REC_ENV, b':', ..] => return Err(ConfigError::EnvWithoutEquals),
                [REC_HOST_LINK, b':'] => config.host_link = true,
                [REC_VERBOSE, b':'] => config.verbose = true,
                [REC_PREOPEN, b':', rest @ ..] => config.preopens.push(decode_preopen(rest)?),
                [REC_FAULT, b':', name @ ..] => {
                    config.inject_fault =
                        Some(InjectedFault::from_name(name).ok_or(ConfigError::UnknownRecord)?);
                }
                _ => return Err(ConfigError::UnknownRecord),
            }
        }
        Ok(config)
    }
}

fn decode_preopen(bytes: &[u8]) -> Result<Preopen, ConfigError> {
    let mut fields = bytes.splitn(3, |&b| b == b':');
    let number = |field: Option<&[u8]>| {
        field
            .and_then(|f| core::str::from_utf8(f).ok())
            .and_then(|f| f.parse::<u32>().ok())
            .ok_or(ConfigError::BadPreopen)
    };
    let root = number(fields.next())?;
    let len = number(fields.next())? as usize;
    let rest = fields.next().ok_or(ConfigError::BadPreopen)?;
    if rest.len() < len {
        return Err(ConfigError::BadPreopen);
    }
    let (subpath, guest) = rest.split_at(len);
    Ok(Preopen {
        guest: guest.to_vec(),
        root,
        subpath: subpath.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use std::vec::Vec;

    fn decode_all(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut decoder = Decoder::new();
        let mut frames = Vec::new();
        for &b in bytes {
            if let Some((tag, payload)) = decoder.push(b) {
                frames.push((tag, payload.to_vec()));
            }
        }
        assert!(decoder.is_idle(), "trailing partial frame");
        frames
    }

    #[test]
    fn frames_round_trip_including_empty_and_split_payloads() {
        let mut wire = Vec::new();
        encode_frame(&mut wire, to_host::STDOUT, b"hello\n");
        encode_frame(&mut wire, to_guest::STDIN_EOF, b"");
        let big = vec![0xab; MAX_PAYLOAD + 10];
        encode_frame(&mut wire, to_host::STDERR, &big);
        let frames = decode_all(&wire);
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[0], (to_host::STDOUT, b"hello\n".to_vec()));
        assert_eq!(frames[1], (to_guest::STDIN_EOF, Vec::new()));
        assert_eq!(frames[2].1.len(), MAX_PAYLOAD);
        assert_eq!(frames[3], (to_host::STDERR, vec![0xab; 10]));
    }

    #[test]
    fn decoder_is_not_idle_mid_frame() {
        let mut wire = Vec::new();
        encode_frame(&mut wire, to_host::LOG, b"abc");
        let mut decoder = Decoder::new();
        for &b in &wire[..4] {
            assert!(decoder.push(b).is_none());
        }
        assert!(!decoder.is_idle());
    }

    #[test]
    fn exit_round_trips_and_maps_to_statuses() {
        let cases = [
            (Exit::Exited(0), 0),
            (Exit::Exited(300), 44),
            (Exit::Trapped(b"unreachable".to_vec()), status::TRAP),
            (Exit::LoadFailed(b"bad magic".to_vec()), status::LOAD_FAILED),
            (
                Exit::KernelFault(b"page fault".to_vec()),
                status::KERNEL_FAULT,
            ),
        ];
        for (exit, host) in cases {
            assert_eq!(Exit::decode(&exit.encode()).as_ref(), Some(&exit));
            assert_eq!(exit.host_status(), host);
        }
        assert_eq!(Exit::decode(&[]), None);
        assert_eq!(Exit::decode(&[EXIT_EXITED, 1, 2]), None);
        assert_eq!(Exit::decode(&[99]), None);
    }

    #[test]
    fn config_round_trips_awkward_strings() {
        let config = RunConfig {
            args: vec![
                b"hello.wasm".to_vec(),
                b"two words".to_vec(),
                b"".to_vec(),
                b"a=b".to_vec(),
            ],
            env: vec![
                b"QUOTE=it's \"x\"".to_vec(),
                b"NL=line1\nline2".to_vec(),
                b"EMPTY=".to_vec(),
            ],
            host_link: true,
            verbose: false,
            preopens: vec![
                Preopen {
                    guest: b"/".to_vec(),
                    root: 0,
                    subpath: Vec::new(),
                },
                Preopen {
                    guest: b"data:1::x".to_vec(),
                    root: 7,
                    subpath: b"a:b/c".to_vec(),
                },
            ],
            inject_fault: Some(InjectedFault::StackOverflow),
        };
        let bytes = config.encode().unwrap();
        assert_eq!(RunConfig::decode(&bytes).unwrap(), config);
        assert_eq!(RunConfig::decode(b"").unwrap(), RunConfig::default());
    }

    #[test]
    fn config_rejects_what_c_strings_cannot_hold() {
        let nul = RunConfig {
            args: vec![b"a\0b".to_vec()],
            ..RunConfig::default()
        };
        assert_eq!(nul.encode(), Err(ConfigError::Nul));
        let no_eq = RunConfig {
            env: vec![b"NOEQUALS".to_vec()],
            ..RunConfig::default()
        };
        assert_eq!(no_eq.encode(), Err(ConfigError::EnvWithoutEquals));
        assert_eq!(
            RunConfig::decode(b"z:what\0"),
            Err(ConfigError::UnknownRecord)
        );
        assert_eq!(
            RunConfig::decode(b"e:NOEQ\0"),
            Err(ConfigError::EnvWithoutEquals)
        );
        assert_eq!(
            RunConfig::decode(b"p:0:9:short\0"),
            Err(ConfigError::BadPreopen)
        );
        assert_eq!(RunConfig::decode(b"p:x:0:\0"), Err(ConfigError::BadPreopen));
    }
}
