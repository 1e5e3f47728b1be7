//! The ramdisk of the disk images: the system's `/bin` for shell mode, as one archive in the
//! project's own tar format ([`cella_proto::archive`]) with a directory `bin` and a file
//! `bin/NAME` (mode 0755) for each program `NAME.wasm` given, and a hard link `bin/NAME` to
//! `bin/PROGRAM` for each of [`ramdisk::LINKS`] whose PROGRAM is given (the tools of
//! `coreutils`, and `[`), packed as one Zstandard frame
//! ([`cella_proto::ramdisk`]). The kernel unpacks it into its VFS at boot
//! (`kernel/src/initrd.rs`).
//!
//! The programs go in without their custom sections ([`without_custom_sections`]): the
//! `name` section alone is a tenth of `/bin`, and a trap in a system program then names its
//! functions by index (`userland/NAME.wasm`, run with `./qemu.sh`, keeps the names).

use std::fs;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use cella_proto::archive::{Entry, Kind, Time, Writer};
use cella_proto::ramdisk;

/// The ramdisk file beside the images (kept for inspection:
/// `zstdcat target/cella/initrd | tar tv`).
pub const FILE_NAME: &str = cella_proto::image::RAMDISK;
/// Permission bits of `/bin` and of its programs.
const EXECUTABLE: u32 = 0o755;

/// The ramdisk holding `programs` as `bin/NAME` (NAME: the file name without `.wasm`).
pub fn build(programs: &[PathBuf]) -> Result<Vec<u8>, String> {
    pack(&archive(programs)?)
}

/// `archive` as one Zstandard frame that records its size and checksum.
fn pack(archive: &[u8]) -> Result<Vec<u8>, String> {
    let failed = |e: std::io::Error| format!("cannot compress the ramdisk: {e}");
    let mut encoder = zstd::bulk::Compressor::new(ramdisk::LEVEL).map_err(failed)?;
    encoder.include_checksum(true).map_err(failed)?;
    encoder.include_contentsize(true).map_err(failed)?;
    encoder.compress(archive).map_err(failed)
}

/// The archive holding `programs` as `bin/NAME`.
fn archive(programs: &[PathBuf]) -> Result<Vec<u8>, String> {
    let mut writer = Writer::new();
    let mut names = Vec::new();
    for path in programs {
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| format!("{}: not a program file name", path.display()))?;
        let data = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let data = without_custom_sections(&data).unwrap_or(data);
        let mtime = fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(Time::default(), |d| Time {
                secs: d.as_secs() as i64,
                nanos: d.subsec_nanos(),
            });
        names.push((name.to_string(), data, mtime));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(twice) = names.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("two programs are called {}", twice[0].0));
    }
    let newest = names.iter().map(|(_, _, t)| *t).max().unwrap_or_default();
    writer.append(&entry(b"bin".to_vec(), Kind::Dir, newest, &[]));
    for (name, data, mtime) in &names {
        let path = format!("bin/{name}").into_bytes();
        writer.append(&entry(path, Kind::File, *mtime, data));
    }
    for (link_name, program) in ramdisk::LINKS {
        let Some((_, _, mtime)) = names.iter().find(|(name, _, _)| name == program) else {
            continue;
        };
        if names.iter().any(|(name, _, _)| name == link_name) {
            return Err(format!(
                "{link_name} is both a program and a link to {program}"
            ));
        }
        let mut link = entry(
            format!("bin/{link_name}").into_bytes(),
            Kind::HardLink,
            *mtime,
            &[],
        );
        link.link = format!("bin/{program}").into_bytes();
        writer.append(&link);
    }
    Ok(writer.finish())
}

/// `module` without its custom sections (section id 0: names, producers, target features),
/// which change nothing a module does; `None` when it is not a well-formed sequence of
/// sections after the WebAssembly header, which then goes in as it is.
fn without_custom_sections(module: &[u8]) -> Option<Vec<u8>> {
    const HEADER: &[u8] = b"\0asm\x01\0\0\0";
    let mut kept = module.strip_prefix(HEADER).map(|_| HEADER.to_vec())?;
    let mut at = HEADER.len();
    while let Some(&id) = module.get(at) {
        let (size, size_len) = leb128_u32(&module[at + 1..])?;
        let end = (at + 1 + size_len).checked_add(usize::try_from(size).ok()?)?;
        let section = module.get(at..end)?;
        if id != 0 {
            kept.extend_from_slice(section);
        }
        at = end;
    }
    Some(kept)
}

/// The unsigned LEB128 number (at most 5 bytes) at the start of `bytes`, and its length.
fn leb128_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for (i, &byte) in bytes.iter().enumerate().take(5) {
        value |= u32::from(byte & 0x7f).checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn entry(path: Vec<u8>, kind: Kind, mtime: Time, data: &[u8]) -> Entry<'_> {
    Entry {
        path,
        kind,
        mode: EXECUTABLE,
        mtime,
        atime: None,
        link: Vec::new(),
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cella_proto::archive::Reader;

    #[test]
    fn programs_become_bin_entries_without_their_extension() {
        let dir = std::env::temp_dir().join(format!("cella-initrd-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let sh = dir.join("sh.wasm");
        let ls = dir.join("ls.wasm");
        fs::write(&sh, b"\0asm-sh").unwrap();
        fs::write(&ls, b"\0asm-ls").unwrap();
        let multicall = dir.join("coreutils.wasm");
        fs::write(&multicall, b"\0asm-coreutils").unwrap();
        let test = dir.join("test.wasm");
        fs::write(&test, b"\0asm-test").unwrap();
        let packed = build(&[sh.clone(), ls, multicall.clone(), test]).unwrap();
        // What the kernel unpacks at boot.
        let archive = ramdisk::unpack(&packed, 1 << 20).unwrap();
        let entries: Vec<_> = Reader::new(&archive).map(|e| e.unwrap()).collect();
        let listed: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    String::from_utf8_lossy(&e.path).into_owned(),
                    e.kind,
                    e.data,
                )
            })
            .collect();
        assert_eq!(
            listed[..5],
            [
                ("bin".to_string(), Kind::Dir, &b""[..]),
                (
                    "bin/coreutils".to_string(),
                    Kind::File,
                    &b"\0asm-coreutils"[..]
                ),
                ("bin/ls".to_string(), Kind::File, &b"\0asm-ls"[..]),
                ("bin/sh".to_string(), Kind::File, &b"\0asm-sh"[..]),
                ("bin/test".to_string(), Kind::File, &b"\0asm-test"[..]),
            ]
        );
        // Every other name is a hard link: `[` to test, the tools to coreutils.
        let links: Vec<_> = entries[5..]
            .iter()
            .map(|e| {
                (
                    String::from_utf8_lossy(&e.path).into_owned(),
                    e.kind,
                    e.link.clone(),
                )
            })
            .collect();
        assert_eq!(links.len(), ramdisk::LINKS.len());
        assert!(links.iter().all(|(_, kind, _)| *kind == Kind::HardLink));
        assert_eq!(
            links[0],
            ("bin/[".to_string(), Kind::HardLink, b"bin/test".to_vec())
        );
        assert!(
            links[1..]
                .iter()
                .all(|(_, _, link)| link == b"bin/coreutils")
        );
        // Without their programs there are no links; a program called as a link is an error.
        let without = ramdisk::unpack(&build(std::slice::from_ref(&sh)).unwrap(), 1 << 20).unwrap();
        assert_eq!(Reader::new(&without).count(), 2);
        let cut = dir.join("cut.wasm");
        fs::write(&cut, b"\0asm-cut").unwrap();
        assert!(
            build(&[multicall, cut])
                .unwrap_err()
                .contains("cut is both")
        );
        assert!(entries.iter().all(|e| e.mode == 0o755));
        assert!(
            build(&[sh.clone(), sh])
                .unwrap_err()
                .contains("two programs")
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn custom_sections_are_left_out_and_anything_else_kept() {
        let header = b"\0asm\x01\0\0\0";
        let types = [1, 4, 1, 0x60, 0, 0];
        // A `name` section with a 130-byte payload: its size takes two LEB128 bytes.
        let mut name = vec![0, 0x82, 0x01, 4];
        name.extend_from_slice(b"name");
        name.resize(3 + 130, 7);
        let functions = [3, 2, 1, 0];
        let module = [&header[..], &types, &name, &functions].concat();
        assert_eq!(
            without_custom_sections(&module).unwrap(),
            [&header[..], &types, &functions].concat()
        );
        // Not a module, a section cut short, a size past the end: kept as they are.
        assert_eq!(without_custom_sections(b"\0asm-sh"), None);
        assert_eq!(without_custom_sections(&module[..module.len() - 1]), None);
        assert_eq!(
            without_custom_sections(&[&header[..], &[1, 0x80]].concat()),
            None
        );
    }
}
