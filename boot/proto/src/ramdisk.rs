//! The ramdisk of the disk images, which holds the system's `/bin` for shell mode: an
//! [`archive`](crate::archive) of `bin/NAME` files, compressed as one Zstandard frame.
//!
//! The image builder (`boot/image`) packs it with libzstd at [`LEVEL`]; the kernel unpacks
//! it at boot with [`unpack`] (a pure-Rust decoder, `ruzstd`). The programs of `/bin` are
//! built from the same Rust std and libraries, so most of their code repeats across files:
//! a window that spans the whole archive finds those repeats, where deflate's 32 KiB window
//! cannot (2.75 MB of programs: 0.34 MB with Zstandard, 1.03 MB with gzip -9).
//!
//! Being an ordinary Zstandard frame, a ramdisk can be listed on the host with
//! `zstdcat target/cella/initrd | tar tv`.
//!
//! The frame comes from the image, which a user may have built or damaged by hand: any
//! input gives the decoded archive or an [`UnpackError`], never a panic, and nothing grows
//! beyond the limit the caller gives.

use alloc::vec::Vec;
use core::fmt;

use ruzstd::decoding::errors::FrameDecoderError;
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// The Zstandard level the image builder packs the ramdisk at: the highest without
/// `--ultra`; the kernel's decoding speed does not depend on it.
pub const LEVEL: i32 = 19;

/// The program of `/bin` that holds several tools and runs as the one named by `argv[0]`
/// (`userland/src/bin/coreutils.rs`).
pub const MULTICALL: &str = "coreutils";
/// Names in `/bin` that are hard links to another program there, as (name, program): `[`,
/// which is `test`, and the tools [`MULTICALL`] runs as. The image builder makes each
/// `bin/NAME` a hard link to `bin/PROGRAM` when PROGRAM is in `/bin`, and a program of its
/// own called NAME stays out of `/bin`. `coreutils.rs` declares the same tools (a test of
/// the runner's `project.rs` checks).
pub const LINKS: &[(&str, &str)] = &[
    ("[", "test"),
    ("basename", MULTICALL),
    ("cp", MULTICALL),
    ("cut", MULTICALL),
    ("date", MULTICALL),
    ("df", MULTICALL),
    ("dirname", MULTICALL),
    ("du", MULTICALL),
    ("find", MULTICALL),
    ("ln", MULTICALL),
    ("mkdir", MULTICALL),
    ("mv", MULTICALL),
    ("printf", MULTICALL),
    ("rm", MULTICALL),
    ("seq", MULTICALL),
    ("tee", MULTICALL),
    ("touch", MULTICALL),
    ("tr", MULTICALL),
    ("uname", MULTICALL),
    ("uniq", MULTICALL),
    ("which", MULTICALL),
    ("xargs", MULTICALL),
    ("yes", MULTICALL),
];

/// How many bytes the kernel decodes between two checks of the limit.
const STEP: usize = 256 * 1024;

/// Why a ramdisk could not be unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnpackError {
    /// The bytes are not one Zstandard frame, or the frame is damaged or cut short. (Which
    /// of the decoder's errors it was helps no one who can only rebuild the image, and
    /// formatting them would take the kernel tens of KiB.)
    Damaged,
    /// The frame decodes to more than the caller allows (bytes allowed).
    TooLarge(usize),
    /// The frame's checksum does not match what it decoded to.
    Checksum,
    /// Bytes follow the frame.
    Trailing,
}

impl fmt::Display for UnpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnpackError::Damaged => f.write_str("it is not a whole Zstandard frame"),
            UnpackError::TooLarge(limit) => {
                write!(f, "it unpacks to more than {} KiB", limit >> 10)
            }
            UnpackError::Checksum => f.write_str("its checksum does not match its contents"),
            UnpackError::Trailing => f.write_str("bytes follow its Zstandard frame"),
        }
    }
}

/// The archive in the Zstandard frame `packed`, if neither it nor the frame's window (what
/// the decoder keeps of the output) is larger than `limit` bytes: unpacking takes at most
/// about twice `limit`.
pub fn unpack(packed: &[u8], limit: usize) -> Result<Vec<u8>, UnpackError> {
    let mut input = packed;
    let mut decoder = FrameDecoder::new();
    decoder.set_max_window_size(u64::try_from(limit).unwrap_or(u64::MAX));
    decoder.init(&mut input).map_err(|error| match error {
        FrameDecoderError::WindowSizeTooBig { .. } => UnpackError::TooLarge(limit),
        _ => UnpackError::Damaged,
    })?;
    let declared = decoder.content_size();
    let mut archive = Vec::new();
    if declared > 0 {
        let size = usize::try_from(declared)
            .ok()
            .filter(|&size| size <= limit)
            .ok_or(UnpackError::TooLarge(limit))?;
        archive
            .try_reserve_exact(size)
            .map_err(|_| UnpackError::TooLarge(limit))?;
    }
    loop {
        let before = input.len();
        let finished = decoder
            .decode_blocks(&mut input, BlockDecodingStrategy::UptoBytes(STEP))
            .map_err(|_| UnpackError::Damaged)?;
        let ready = decoder.can_collect();
        if archive.len().saturating_add(ready) > limit {
            return Err(UnpackError::TooLarge(limit));
        }
        archive
            .try_reserve(ready)
            .map_err(|_| UnpackError::TooLarge(limit))?;
        decoder
            .collect_to_writer(&mut archive)
            .map_err(|_| UnpackError::Damaged)?;
        if finished {
            break;
        }
        if input.len() == before {
            // Not a byte consumed and the frame not over: it is cut short.
            return Err(UnpackError::Damaged);
        }
    }
    if let (Some(expected), Some(actual)) = (
        decoder.get_checksum_from_data(),
        decoder.get_calculated_checksum(),
    ) && expected != actual
    {
        return Err(UnpackError::Checksum);
    }
    if declared > 0 && u64::try_from(archive.len()).ok() != Some(declared) {
        return Err(UnpackError::Damaged);
    }
    if !input.is_empty() {
        return Err(UnpackError::Trailing);
    }
    Ok(archive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    /// A stand-in for `/bin`: programs that share most of their bytes, as Rust programs
    /// built from one std do, and a little that is their own.
    fn archive() -> Vec<u8> {
        let common: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut bytes = Vec::new();
        for program in 0..6u8 {
            bytes.extend_from_slice(&common);
            bytes.extend((0..3000u32).map(|i| (i as u8).wrapping_mul(program + 3)));
        }
        bytes
    }

    /// `bytes` packed as the image builder packs the ramdisk.
    fn pack(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = zstd::bulk::Compressor::new(LEVEL).unwrap();
        encoder.include_checksum(true).unwrap();
        encoder.include_contentsize(true).unwrap();
        encoder.compress(bytes).unwrap()
    }

    /// Whether `packed` unpacks to `expected` within `limit` (without printing megabytes
    /// when not).
    fn unpacks_to(packed: &[u8], limit: usize, expected: &[u8]) -> bool {
        match unpack(packed, limit) {
            Ok(bytes) => bytes == expected,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn a_packed_archive_unpacks_to_itself() {
        let archive = archive();
        let packed = pack(&archive);
        assert!(packed.len() * 4 < archive.len(), "{} bytes", packed.len());
        assert!(unpacks_to(&packed, archive.len(), &archive));
        // One byte less allowed than it needs: refused before decoding.
        assert_eq!(
            unpack(&packed, archive.len() - 1),
            Err(UnpackError::TooLarge(archive.len() - 1))
        );
    }

    #[test]
    fn a_frame_without_its_size_is_bounded_while_it_decodes() {
        let archive = archive();
        let mut encoder = zstd::bulk::Compressor::new(3).unwrap();
        encoder.include_contentsize(false).unwrap();
        // A window (128 KiB) below the limits below: the output is what exceeds them.
        encoder
            .set_parameter(zstd::zstd_safe::CParameter::WindowLog(17))
            .unwrap();
        let packed = encoder.compress(&archive).unwrap();
        assert!(unpacks_to(&packed, archive.len(), &archive));
        let limit = archive.len() / 2;
        assert_eq!(unpack(&packed, limit), Err(UnpackError::TooLarge(limit)));
    }

    #[test]
    fn every_cut_of_the_frame_is_an_error() {
        let archive = archive();
        let packed = pack(&archive);
        for len in 0..packed.len() {
            let result = unpack(&packed[..len], archive.len());
            assert!(
                result == Err(UnpackError::Damaged),
                "cut at {len}: {result:?}"
            );
        }
    }

    #[test]
    fn damage_anywhere_is_an_error_or_changes_nothing() {
        let archive = archive();
        let packed = pack(&archive);
        for at in 0..packed.len() {
            for flip in [0x01u8, 0xff] {
                let mut damaged = packed.clone();
                damaged[at] ^= flip;
                match unpack(&damaged, archive.len()) {
                    Ok(bytes) => assert!(bytes == archive, "byte {at} ^ {flip:#x}"),
                    Err(error) => assert!(!error.to_string().is_empty()),
                }
            }
        }
    }

    #[test]
    fn what_is_not_one_frame_is_refused() {
        let archive = archive();
        // The archive itself, unpacked: not a Zstandard frame.
        let error = unpack(&archive, archive.len()).unwrap_err();
        assert_eq!(error, UnpackError::Damaged);
        assert_eq!(error.to_string(), "it is not a whole Zstandard frame");
        assert_eq!(unpack(&[], 100), Err(UnpackError::Damaged));
        let mut two = pack(&archive);
        two.extend_from_slice(&pack(b"more"));
        assert_eq!(unpack(&two, 2 * archive.len()), Err(UnpackError::Trailing));
        // A frame that asks for a window beyond the limit (1 GiB here) is refused unread.
        let mut huge = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x68];
        huge.extend_from_slice(&[0; 16]);
        assert_eq!(unpack(&huge, 1 << 20), Err(UnpackError::TooLarge(1 << 20)));
    }

    #[test]
    fn a_wrong_checksum_is_caught() {
        let archive = archive();
        let mut packed = pack(&archive);
        let last = packed.len() - 1;
        packed[last] ^= 1;
        assert_eq!(unpack(&packed, archive.len()), Err(UnpackError::Checksum));
    }
}
