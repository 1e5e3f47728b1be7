//! The tar codec of `boot/proto`, which reads archives from both sides of the machine: the
//! kernel unpacks the runner's `--dir` trees, and the runner applies the archive a guest
//! program's changes come back in.
//!
//! Three checks per input: the reader on arbitrary bytes (no panic, and whatever it accepts
//! writes out and reads back the same); entries built from the input, written and read back,
//! come out exactly as they went in; and that archive, damaged by the input, is read as the
//! arbitrary bytes are.

#![no_main]

use arbitrary::Unstructured;
use cella_proto::archive::{BLOCK, Entry, Kind, Reader, Time, Writer};
use libfuzzer_sys::fuzz_target;

/// A path the reader keeps as it is: non-empty names without `/`, NUL, `.` or `..`.
fn clean_path(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let names: Vec<Vec<u8>> = u.arbitrary()?;
    let mut path = Vec::new();
    for name in names {
        let name: Vec<u8> = name.into_iter().filter(|&b| b != b'/' && b != 0).collect();
        if name.is_empty() || name == b"." || name == b".." {
            continue;
        }
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&name);
    }
    if path.is_empty() {
        path.push(b'f');
    }
    Ok(path)
}

fn time(u: &mut Unstructured<'_>) -> arbitrary::Result<Time> {
    Ok(Time {
        secs: u.arbitrary()?,
        nanos: u.int_in_range(0..=999_999_999)?,
    })
}

/// An entry as the write-back produces them: any kind, mode, times and content.
fn entry<'a>(u: &mut Unstructured<'a>) -> arbitrary::Result<Entry<'a>> {
    let kind = *u.choose(&[Kind::File, Kind::Dir, Kind::Symlink, Kind::HardLink])?;
    let link = match kind {
        Kind::Symlink => {
            let target: Vec<u8> = u.arbitrary()?;
            target.into_iter().filter(|&b| b != 0).collect()
        }
        Kind::HardLink => clean_path(u)?,
        Kind::File | Kind::Dir => Vec::new(),
    };
    Ok(Entry {
        path: clean_path(u)?,
        kind,
        mode: u.arbitrary::<u32>()? & 0o7777,
        mtime: time(u)?,
        atime: if u.arbitrary()? { Some(time(u)?) } else { None },
        link,
        data: if kind == Kind::File {
            u.arbitrary()?
        } else {
            &[]
        },
    })
}

fn write(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut writer = Writer::new();
    for entry in entries {
        writer.append(entry);
    }
    writer.finish()
}

/// Reads `bytes` as an archive (which must not panic); what the reader accepts must write
/// out and read back the same.
fn read_and_rewrite(bytes: &[u8]) {
    let mut accepted = Vec::new();
    for entry in Reader::new(bytes) {
        match entry {
            Ok(entry) => accepted.push(entry),
            Err(error) => {
                let _ = error.to_string();
                break;
            }
        }
    }
    // Names with a NUL cannot be written to a ustar header; the reader keeps them from pax
    // records only, and no side of Cella makes such names.
    accepted.retain(|entry| !entry.path.contains(&0) && !entry.link.contains(&0));
    let archive = write(&accepted);
    let again: Vec<Entry<'_>> = Reader::new(&archive)
        .collect::<Result<_, _>>()
        .expect("a rewritten archive reads back");
    assert_eq!(again, accepted);
}

fuzz_target!(|bytes: &[u8]| {
    read_and_rewrite(bytes);

    // Entries built from the input, written and read back.
    let mut u = Unstructured::new(bytes);
    let mut entries = Vec::new();
    for _ in 0..u.int_in_range(0..=8).unwrap_or(0) {
        match entry(&mut u) {
            Ok(entry) => entries.push(entry),
            Err(_) => break,
        }
    }
    let mut archive = write(&entries);
    let read: Vec<Entry<'_>> = Reader::new(&archive)
        .collect::<Result<_, _>>()
        .expect("a written archive reads back");
    assert_eq!(read, entries);

    // That archive damaged by the rest of the input, its headers' checksums made right again
    // (or not): arbitrary bytes alone seldom get a header past its checksum.
    let flips: Vec<(u16, u8)> = u.arbitrary().unwrap_or_default();
    for (at, byte) in flips {
        let at = usize::from(at) % archive.len();
        archive[at] = byte;
    }
    if u.arbitrary().unwrap_or(true) {
        fix_checksums(&mut archive);
    }
    read_and_rewrite(&archive);
});

/// Stores the right checksum in every block that looks like a ustar header.
fn fix_checksums(archive: &mut [u8]) {
    for block in archive.chunks_exact_mut(BLOCK) {
        if &block[257..263] != b"ustar\0" {
            continue;
        }
        block[148..156].fill(b' ');
        let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
        block[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    }
}
