//! The system's file system in shell mode: the ramdisk of the disk image (an archive in
//! [`cella_proto::archive`] format holding `bin/NAME` for each system program, packed as a
//! Zstandard frame by `boot/image/src/initrd.rs`, see [`cella_proto::ramdisk`]) unpacked
//! into the VFS as `/bin`, an empty writable `/tmp`, `/dev/null`, and
//! the `--dir` trees at their guest paths (see [`dirs::mount`]). The whole VFS is then one
//! namespace, preopened as `/` for `/bin/init`.
//!
//! Pure logic over the VFS and the codec, so it is tested on the host.
// The ramdisk and the `--dir` trees come from the host: nothing here panics on them.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use cella_proto::Preopen;
use cella_proto::archive::Reader;
use cella_proto::ramdisk;
use wasi_abi::Vfs;
use wasi_abi::types::Timestamp;
use wasi_abi::vfs::{Device, OpenOptions, Opened};

use crate::dirs::{self, Mount};

/// The only top-level directory the ramdisk may hold.
const BIN: &[u8] = b"bin";
/// The program started first in shell mode.
pub const INIT: &[u8] = b"/bin/init";
/// Permission bits of `/tmp`: writable by all, sticky.
const TMP_MODE: u32 = 0o1777;

/// The system's programs as the image carries them: the packed ramdisk, and how many bytes
/// its archive may take once unpacked (the decoder's window included).
#[derive(Debug, Clone, Copy)]
pub struct Ramdisk<'a> {
    /// The Zstandard frame of the archive.
    pub packed: &'a [u8],
    /// The most memory unpacking may take.
    pub limit: usize,
}

/// Builds the system's file system in `vfs`: `/bin` from `ramdisk` (when the image has one),
/// `/tmp`, and the `--dir` trees of `trees` at the guest paths of `preopens`. Returns where
/// the trees went, for [`dirs::export_mounts`] at exit.
pub fn build(
    vfs: &Vfs,
    ramdisk: Option<Ramdisk<'_>>,
    trees: Option<&[u8]>,
    preopens: &[Preopen],
    now: Timestamp,
) -> Result<Vec<Mount>, String> {
    if let Some(Ramdisk { packed, limit }) = ramdisk {
        // The image was damaged, cut short, or built by another tool: say so, and how to
        // get a good one.
        let ramdisk = ramdisk::unpack(packed, limit).map_err(|e| {
            format!("cannot unpack the image's ramdisk ({e}): rebuild the image with ./qemu.sh")
        })?;
        let ramdisk = ramdisk.as_slice();
        for entry in Reader::new(ramdisk) {
            let entry = entry.map_err(|e| format!("the ramdisk is damaged: {e}"))?;
            if entry.path.split(|&b| b == b'/').next() != Some(BIN) {
                return Err(format!(
                    "the ramdisk holds {}, outside bin/",
                    String::from_utf8_lossy(&entry.path)
                ));
            }
        }
        dirs::import(vfs, ramdisk, now).map_err(|e| format!("cannot unpack the ramdisk: {e}"))?;
    }
    let mounts = match trees {
        Some(trees) => dirs::mount(vfs, trees, preopens, now)?,
        None => Vec::new(),
    };
    // A `--dir` may stand in for /tmp; otherwise it is a fresh empty directory.
    match vfs.create_dir(b"/tmp", now) {
        Ok(()) => {
            let _ = vfs.set_mode(b"/tmp", TMP_MODE);
        }
        Err(wasi_abi::Errno::Exist) => {}
        Err(errno) => return Err(format!("cannot create /tmp: {errno:?}")),
    }
    // /dev/null, unless a `--dir` took /dev.
    if vfs.create_dir(b"/dev", now).is_ok() {
        vfs.root()
            .make_device(b"dev/null", Device::Null, now)
            .map_err(|errno| format!("cannot create /dev/null: {errno:?}"))?;
    }
    Ok(mounts)
}

/// The bytes of `/bin/init` (or another program at VFS path `path`).
pub fn program(vfs: &Vfs, path: &[u8]) -> Result<Vec<u8>, String> {
    let shown = || String::from_utf8_lossy(path).into_owned();
    let relative = path.strip_prefix(b"/").unwrap_or(path);
    let options = OpenOptions {
        follow: true,
        ..OpenOptions::default()
    };
    let node = match vfs.root().open(relative, options, 0) {
        Ok(Opened::File(node)) => node,
        Ok(Opened::Dir(_)) => return Err(format!("{} is a directory", shown())),
        Ok(Opened::Device(_)) => return Err(format!("{} is a device", shown())),
        Err(errno) => return Err(format!("cannot open {}: {errno:?}", shown())),
    };
    let node = node.borrow();
    let file = node
        .as_file()
        .ok_or_else(|| format!("{} is not a regular file", shown()))?;
    let size = usize::try_from(file.size()).map_err(|_| format!("{} is too large", shown()))?;
    let mut bytes = vec![0u8; size];
    let read = file.read_at(0, &mut bytes);
    bytes.truncate(read);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cella_proto::archive::{Entry, Kind, Time, Writer};

    const T0: Timestamp = 1_700_000_000_000_000_000;

    fn archive(entries: &[(&str, Kind, &str, &[u8])]) -> Vec<u8> {
        let mut writer = Writer::new();
        for (path, kind, link, data) in entries {
            writer.append(&Entry {
                path: path.as_bytes().to_vec(),
                kind: *kind,
                mode: if *kind == Kind::Dir { 0o755 } else { 0o644 },
                mtime: Time {
                    secs: 1000,
                    nanos: 0,
                },
                atime: None,
                link: link.as_bytes().to_vec(),
                data,
            });
        }
        writer.finish()
    }

    /// The most the tests' ramdisks may unpack to.
    const LIMIT: usize = 1 << 20;

    /// `archive` packed as the image builder packs the ramdisk.
    fn pack(archive: &[u8]) -> Vec<u8> {
        let mut encoder = zstd::bulk::Compressor::new(ramdisk::LEVEL).unwrap();
        encoder.include_checksum(true).unwrap();
        encoder.include_contentsize(true).unwrap();
        encoder.compress(archive).unwrap()
    }

    fn packed() -> Vec<u8> {
        pack(&archive(&[
            ("bin", Kind::Dir, "", b""),
            ("bin/init", Kind::File, "", b"\0asm init"),
            ("bin/ls", Kind::File, "", b"\0asm ls"),
        ]))
    }

    fn disk(packed: &[u8]) -> Option<Ramdisk<'_>> {
        Some(Ramdisk {
            packed,
            limit: LIMIT,
        })
    }

    fn preopen(guest: &str, root: u32, subpath: &str) -> Preopen {
        Preopen {
            guest: guest.as_bytes().to_vec(),
            root,
            subpath: subpath.as_bytes().to_vec(),
        }
    }

    fn two_trees() -> Vec<u8> {
        archive(&[
            ("0", Kind::Dir, "", b""),
            ("0/a.txt", Kind::File, "", b"alpha"),
            ("0/sub", Kind::Dir, "", b""),
            ("0/sub/b", Kind::File, "", b"beta"),
            ("0/hard", Kind::HardLink, "0/a.txt", b""),
            ("1", Kind::Dir, "", b""),
            ("1/c", Kind::File, "", b"gamma"),
        ])
    }

    fn export(vfs: &Vfs, mounts: &[Mount]) -> Vec<(String, Kind, String, Vec<u8>)> {
        let mut out = Vec::new();
        dirs::export_mounts(vfs, mounts, &mut |bytes| {
            out.extend_from_slice(bytes);
            Ok(())
        })
        .unwrap();
        let mut entries: Vec<_> = Reader::new(&out)
            .map(|e| {
                let e = e.unwrap();
                (
                    String::from_utf8(e.path).unwrap(),
                    e.kind,
                    String::from_utf8(e.link).unwrap(),
                    e.data.to_vec(),
                )
            })
            .collect();
        entries.sort();
        entries
    }

    #[test]
    fn bin_and_tmp_make_the_system_and_init_is_readable() {
        let vfs = Vfs::new(T0);
        assert_eq!(build(&vfs, disk(&packed()), None, &[], T0), Ok(Vec::new()));
        assert_eq!(program(&vfs, INIT).unwrap(), b"\0asm init");
        assert_eq!(program(&vfs, b"/bin/ls").unwrap(), b"\0asm ls");
        assert!(program(&vfs, b"/bin/sh").unwrap_err().contains("/bin/sh"));
        assert!(program(&vfs, b"/bin").unwrap_err().contains("directory"));
        assert_eq!(
            vfs.stat(b"/tmp").unwrap().filetype,
            wasi_abi::types::Filetype::Directory
        );
        // Without a ramdisk (an image built without programs) there is no init.
        let bare = Vfs::new(T0);
        build(&bare, None, None, &[], T0).unwrap();
        assert!(program(&bare, INIT).is_err());
    }

    #[test]
    fn a_ramdisk_with_anything_but_bin_is_refused() {
        let bad = archive(&[("etc", Kind::Dir, "", b"")]);
        let error = build(&Vfs::new(T0), disk(&pack(&bad)), None, &[], T0).unwrap_err();
        assert!(error.contains("etc"), "{error}");
        // The archive inside a good frame is damaged.
        let mut damaged = archive(&[("bin/init", Kind::File, "", b"\0asm init")]);
        damaged[10] ^= 0xff;
        let error = build(&Vfs::new(T0), disk(&pack(&damaged)), None, &[], T0).unwrap_err();
        assert!(error.contains("the ramdisk is damaged"), "{error}");
    }

    #[test]
    fn a_damaged_or_cut_ramdisk_is_a_message_that_says_what_to_do() {
        let packed = packed();
        let mut cases = vec![
            packed[..packed.len() / 2].to_vec(),
            packed[..packed.len() - 1].to_vec(),
            // Not packed at all: an archive as images before compression carried it.
            archive(&[("bin/init", Kind::File, "", b"\0asm init")]),
        ];
        let mut flipped = packed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        cases.push(flipped);
        for case in cases {
            let vfs = Vfs::new(T0);
            let error = build(&vfs, disk(&case), None, &[], T0).unwrap_err();
            assert!(
                error.starts_with("cannot unpack the image's ramdisk (")
                    && error.ends_with("rebuild the image with ./qemu.sh"),
                "{error}"
            );
            assert!(program(&vfs, INIT).is_err());
        }
        // More than the memory allows.
        let tight = Ramdisk {
            packed: &packed,
            limit: 512,
        };
        let error = build(&Vfs::new(T0), Some(tight), None, &[], T0).unwrap_err();
        assert!(error.contains("more than 0 KiB"), "{error}");
    }

    #[test]
    fn trees_appear_at_their_guest_paths_and_export_as_numbered_roots() {
        let vfs = Vfs::new(T0);
        let preopens = [
            preopen("/data/x", 0, ""),
            preopen("./work", 1, ""),
            preopen("nested/deeper", 0, "sub"),
            preopen("tmp", 1, ""),
        ];
        // `work` and `tmp` name the same tree twice: fine, the second is a symlink.
        let mounts = build(&vfs, disk(&packed()), Some(&two_trees()), &preopens, T0).unwrap();
        assert_eq!(
            mounts,
            [
                Mount {
                    path: b"data/x".to_vec(),
                    root: 0
                },
                Mount {
                    path: b"work".to_vec(),
                    root: 1
                },
            ]
        );
        assert_eq!(program(&vfs, b"/data/x/a.txt").unwrap(), b"alpha");
        assert_eq!(program(&vfs, b"/work/c").unwrap(), b"gamma");
        assert_eq!(program(&vfs, b"/nested/deeper/b").unwrap(), b"beta");
        assert_eq!(program(&vfs, b"/tmp/c").unwrap(), b"gamma");
        assert!(vfs.stat(b"/.cella-dirs").is_err());

        // Changes inside the trees go back; the system and the symlinks do not.
        vfs.write_file(b"/data/x/new", b"made in the guest", T0)
            .unwrap();
        vfs.write_file(b"/bin/other", b"not a tree", T0).unwrap();
        let exported = export(&vfs, &mounts);
        let paths: Vec<&str> = exported.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            [
                "0", "0/a.txt", "0/hard", "0/new", "0/sub", "0/sub/b", "1", "1/c"
            ]
        );
        let hard = exported.iter().find(|e| e.0 == "0/hard").unwrap();
        assert_eq!((hard.1, hard.2.as_str()), (Kind::HardLink, "0/a.txt"));
    }

    #[test]
    fn a_hard_link_from_outside_a_tree_exports_as_a_file() {
        let vfs = Vfs::new(T0);
        let preopens = [preopen("/a", 0, ""), preopen("/b", 1, "")];
        let mounts = build(&vfs, None, Some(&two_trees()), &preopens, T0).unwrap();
        vfs.write_file(b"/tmp/first", b"shared", T0).unwrap();
        vfs.hard_link(b"/tmp/first", b"/b/second", T0).unwrap();
        let exported = export(&vfs, &mounts);
        let second = exported.iter().find(|e| e.0 == "1/second").unwrap();
        assert_eq!(
            (second.1, second.3.as_slice()),
            (Kind::File, &b"shared"[..])
        );
    }

    #[test]
    fn guest_paths_that_cannot_be_mounted_are_errors() {
        let trees = two_trees();
        let cases: [(&[Preopen], &str); 6] = [
            // A tree no preopen names (the runner never sends one).
            (&[preopen("/w", 1, "")], "no preopen"),
            (&[preopen("/", 0, ""), preopen("b", 1, "")], "below /"),
            (&[preopen(".", 0, ""), preopen("b", 1, "")], "below /"),
            (&[preopen("/a/../b", 0, ""), preopen("c", 1, "")], "`..`"),
            (&[preopen("/a", 0, ""), preopen("/a/b", 1, "")], "overlap"),
            (
                &[preopen("/bin", 0, ""), preopen("/b", 1, "")],
                "taken by the system",
            ),
        ];
        for (preopens, expected) in cases {
            let vfs = Vfs::new(T0);
            let error = build(&vfs, disk(&packed()), Some(&trees), preopens, T0).unwrap_err();
            assert!(error.contains(expected), "{preopens:?}: {error}");
        }
    }
}
