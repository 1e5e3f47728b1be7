//! What Cella's fuzz targets share: the machine a fuzzed process runs on (the fake platform
//! of `wasi-abi`'s tests, a populated VFS, an fd table with preopens and a pipe), and the
//! checks that the VFS is still whole after a program did its worst to it.
//!
//! The targets themselves are in `fuzz_targets/`; `fuzz/run.sh` builds and runs them.

use std::sync::OnceLock;

use cella_proto::archive::{Entry, Kind, Reader, Time, Writer};
use wasi_abi::WasiCtx;
use wasi_abi::control;
use wasi_abi::memory::GuestMemory;
use wasi_abi::testing::{Fake, REALTIME_OFFSET};
use wasi_abi::types::{Filestat, Filetype};
use wasi_abi::vfs::{Device, Vfs};

/// Bytes of guest linear memory: one wasm page, as small as a real program's.
pub const MEMORY_SIZE: usize = 64 * 1024;

/// File data the VFS may hold. Small, so that programs hitting `ENOSPC` are part of what gets
/// explored, and so that a run never grows past libFuzzer's memory limit through files.
pub const VFS_CAPACITY: u64 = 1 << 20;

/// The preopened `/`.
pub const ROOT_FD: u32 = 3;

/// A file system like a small real one: nested directories, files with and without data,
/// symlinks (relative, dangling, climbing, looping), a hard link and a device.
pub fn populated_vfs() -> Vfs {
    let vfs = Vfs::with_capacity(REALTIME_OFFSET, VFS_CAPACITY);
    let now = REALTIME_OFFSET;
    for dir in [&b"dir"[..], b"dir/sub", b"empty", b"dev"] {
        vfs.create_dir(dir, now).expect("directory");
    }
    let files: [(&[u8], &[u8]); 4] = [
        (b"file", b"hello, world\n"),
        (b"dir/data", &[0x5a; 5000]),
        (b"dir/sub/deep", b"x"),
        (b"dir/empty-file", b""),
    ];
    for (path, contents) in files {
        vfs.write_file(path, contents, now).expect("file");
    }
    let links: [(&[u8], &[u8]); 5] = [
        (b"file", b"link"),
        (b"..", b"dir/up"),
        (b"missing", b"dangling"),
        (b"loop", b"loop"),
        (b"sub/deep", b"dir/deep-link"),
    ];
    for (target, path) in links {
        vfs.symlink(target, path, now).expect("symlink");
    }
    vfs.hard_link(b"file", b"dir/hard", now).expect("hard link");
    vfs.root()
        .make_device(b"dev/null", Device::Null, now)
        .expect("device");
    vfs
}

/// A process over `vfs`: argv and environment, stdio on the fake console (stdin holding
/// `stdin`, then at end of file), `/` preopened as fd 3, `dir` as `data` at fd 4, and a pipe
/// at fds 5 (read end) and 6 (write end).
pub fn process(vfs: &Vfs, stdin: &[u8]) -> WasiCtx<Fake> {
    let fake = Fake {
        stdin: stdin.iter().copied().collect(),
        stdin_eof: true,
        ..Fake::default()
    };
    let args = vec![b"prog".to_vec(), b"--flag".to_vec(), vec![0xff, 0x00, b'x']];
    let env = vec![b"PATH=/bin".to_vec(), b"HOME=/".to_vec()];
    let mut ctx = WasiCtx::new(fake, args, env);
    ctx.add_preopen(b"/", vfs.root()).expect("preopen /");
    let dir = vfs.root().open_dir(b"dir").expect("dir");
    ctx.add_preopen(b"data", dir).expect("preopen data");
    let mut scratch = [0u8; 8];
    control::open_pipe(&mut ctx, &mut GuestMemory::new(&mut scratch), 0).expect("pipe");
    ctx
}

/// Walks the whole VFS as the kernel does at exit and checks what it finds: each name is a
/// clean relative path, stats agree with the inode, files read back exactly their size, and
/// every directory lists its entries. Then, unless the tree is still the one
/// [`populated_vfs`] made, packs it into a tar archive as the `--dir` write-back does and
/// checks that the archive reads back to the same tree.
pub fn check_vfs(vfs: &Vfs) {
    // The archive is most of a run's time (its checksums are instrumented byte by byte), and
    // most runs leave the tree as it was: that one's archive is checked once.
    static PRISTINE: OnceLock<Vec<Outline>> = OnceLock::new();
    let pristine = PRISTINE.get_or_init(|| {
        let tree = walk(&populated_vfs());
        round_trip(&tree);
        tree.into_iter().map(|node| node.outline).collect()
    });
    let tree = walk(vfs);
    if !tree.iter().map(|node| &node.outline).eq(pristine) {
        round_trip(&tree);
    }
}

/// A VFS node as far as its write-back archive goes: name, attributes and mode.
type Outline = (Vec<u8>, Filestat, u32);

/// One name in the VFS, as the write-back archives it.
struct Node {
    outline: Outline,
    kind: Kind,
    /// A symlink's target, or the first name of a file or symlink with several.
    link: Vec<u8>,
    /// A file's contents; `None` if larger than [`MAX_ARCHIVED`].
    data: Option<Vec<u8>>,
}

/// The largest file [`check_vfs`] archives; sparse files can be exabytes.
const MAX_ARCHIVED: usize = 4 << 20;

/// Every name in `vfs`, checked (see [`check_vfs`]), in the write-back's order and form.
fn walk(vfs: &Vfs) -> Vec<Node> {
    assert!(vfs.used_bytes() <= vfs.capacity(), "VFS over its capacity");
    let mut nodes = Vec::new();
    let mut first_paths = std::collections::BTreeMap::new();
    for node in vfs.walk() {
        let path = &node.path;
        assert!(!path.is_empty() && !path.contains(&0), "bad name {path:?}");
        assert!(
            path.len() < 4096,
            "a path from the root past PATH_MAX: {path:?}"
        );
        assert!(
            path.split(|&b| b == b'/')
                .all(|name| !matches!(name, b"" | b"." | b"..")),
            "bad name {path:?}"
        );
        let stat = node.stat;
        assert_eq!(stat.filetype, node.node.filetype(), "{path:?}");
        assert!(stat.nlink >= 1, "{path:?} has no link");
        assert_eq!(vfs.stat(path).map(|s| s.ino), Ok(node.ino), "{path:?}");
        let (kind, link, data) = match stat.filetype {
            Filetype::Directory => {
                let dir = vfs.root().open_dir(path).expect("exported directory opens");
                let mut names = 0usize;
                dir.read_dir(0, |_, _, _, _| {
                    names += 1;
                    true
                });
                assert!(names >= 2, "{path:?} lists no . and ..");
                (Kind::Dir, Vec::new(), Some(Vec::new()))
            }
            Filetype::SymbolicLink => {
                let target = node.node.symlink_target().expect("symlink target");
                assert_eq!(target.len() as u64, stat.size, "{path:?}");
                (Kind::Symlink, target, Some(Vec::new()))
            }
            Filetype::RegularFile => {
                // A sparse file may be far larger than memory: its last byte must read, and
                // nothing after it; the whole of it only when it is small.
                let size = stat.size;
                let mut byte = [0u8; 1];
                assert_eq!(
                    node.node.read_at(size, &mut byte),
                    0,
                    "{path:?} past its end"
                );
                if size > 0 {
                    assert_eq!(
                        node.node.read_at(size - 1, &mut byte),
                        1,
                        "{path:?} at its end"
                    );
                }
                let data = usize::try_from(size)
                    .ok()
                    .filter(|&size| size <= MAX_ARCHIVED);
                let data = data.map(|size| {
                    let mut data = vec![0u8; size + 1];
                    let read = node.node.read_at(0, &mut data);
                    assert_eq!(read, size, "{path:?} reads back {read} of {size} bytes");
                    data.truncate(size);
                    data
                });
                (Kind::File, Vec::new(), data)
            }
            // Devices have no content to write back.
            _ => continue,
        };
        // A second name of a file or symlink goes as a hard link to the first, as the
        // kernel's write-back stores it.
        let (kind, link, data) = match first_paths.get(&node.ino) {
            Some(first) if kind != Kind::Dir => {
                (Kind::HardLink, Vec::clone(first), Some(Vec::new()))
            }
            _ => {
                first_paths.insert(node.ino, path.clone());
                (kind, link, data)
            }
        };
        nodes.push(Node {
            outline: (node.path, stat, node.mode),
            kind,
            link,
            data,
        });
    }
    nodes
}

/// Writes `tree` as an archive and checks that it reads back the same (unless it holds a file
/// too large to hold in memory).
fn round_trip(tree: &[Node]) {
    let mut writer = Writer::new();
    for node in tree {
        let Some(data) = &node.data else {
            return;
        };
        let (path, stat, mode) = &node.outline;
        writer.append(&Entry {
            path: path.clone(),
            kind: node.kind,
            mode: *mode & 0o7777,
            mtime: Time::from_nanos(stat.mtim),
            atime: Some(Time::from_nanos(stat.atim)),
            link: node.link.clone(),
            data,
        });
    }
    let archive = writer.finish();
    let read: Vec<Entry<'_>> = Reader::new(&archive)
        .collect::<Result<_, _>>()
        .expect("the write-back archive of a VFS reads back");
    assert_eq!(read.len(), tree.len());
    for (entry, node) in read.iter().zip(tree) {
        let (path, stat, mode) = &node.outline;
        assert_eq!(&entry.path, path);
        assert_eq!(entry.kind, node.kind, "{path:?}");
        assert_eq!(entry.mode, mode & 0o7777, "{path:?}");
        assert_eq!(entry.mtime.as_nanos(), stat.mtim, "mtime of {path:?}");
        assert_eq!(
            entry.atime.map(Time::as_nanos),
            Some(stat.atim),
            "atime of {path:?}"
        );
        assert_eq!(entry.link, node.link, "{path:?}");
        assert_eq!(Some(entry.data), node.data.as_deref(), "{path:?}");
    }
}
