//! `--dir` trees in the kernel: the runner's archive (see [`cella_proto::archive`]) becomes a
//! subtree of the VFS per host directory, `/0`, `/1`, ..., and at exit those subtrees are packed
//! back into an archive of the same shape for the runner to apply to the host.
//!
//! In shell mode the whole VFS is one namespace, so [`mount`] puts each tree at its guest
//! path instead (`--dir /x::/data` at `/data`), and [`export_mounts`] packs the trees from
//! there into the same archive shape.
//!
//! Pure logic over the VFS and the codec, so it is tested on the host.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use cella_proto::Preopen;
use cella_proto::archive::{Entry, Kind, Reader, Time, Writer};
use wasi_abi::Vfs;
use wasi_abi::types::{Filetype, Timestamp};

/// The VFS path of archive path `path` under directory `under` (`N/rest` → `under/N/rest`).
fn vfs_path(under: &[u8], path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(under.len() + path.len() + 1);
    out.extend_from_slice(under);
    out.push(b'/');
    out.extend_from_slice(path);
    out
}

/// Unpacks `archive` into `vfs` under its root. Entries come parents first, as the runner
/// writes them; directory times are applied last, since creating their children changes them.
pub fn import(vfs: &Vfs, archive: &[u8], now: Timestamp) -> Result<usize, String> {
    import_under(vfs, archive, b"", now)
}

/// [`import`] into the existing directory `under` (a VFS path without trailing slash, empty
/// for the root).
pub fn import_under(
    vfs: &Vfs,
    archive: &[u8],
    under: &[u8],
    now: Timestamp,
) -> Result<usize, String> {
    let mut dir_times = Vec::new();
    let mut count = 0;
    for entry in Reader::new(archive) {
        let entry = entry.map_err(|e| format!("the archive is damaged: {e}"))?;
        let path = vfs_path(under, &entry.path);
        let shown = || String::from_utf8_lossy(&entry.path).into_owned();
        let result = match entry.kind {
            Kind::Dir => vfs.create_dir(&path, now),
            Kind::File => vfs.write_file(&path, entry.data, now),
            Kind::Symlink => vfs.symlink(&entry.link, &path, now),
            Kind::HardLink => vfs.hard_link(&vfs_path(under, &entry.link), &path, now),
        };
        result.map_err(|errno| format!("cannot create {} in the VFS: {errno:?}", shown()))?;
        let mtime = entry.mtime.as_nanos();
        let atime = entry.atime.map_or(mtime, Time::as_nanos);
        match entry.kind {
            Kind::Dir => dir_times.push((path.clone(), atime, mtime)),
            // A hard link shares its inode's times, set with its first name.
            Kind::HardLink => {}
            Kind::File | Kind::Symlink => {
                let _ = vfs.set_times(&path, atime, mtime, Some(mtime));
            }
        }
        if entry.kind != Kind::HardLink {
            let _ = vfs.set_mode(&path, entry.mode);
        }
        count += 1;
    }
    for (path, atime, mtime) in dir_times.iter().rev() {
        let _ = vfs.set_times(path, *atime, *mtime, Some(*mtime));
    }
    Ok(count)
}

/// Bytes of file data read from the VFS at a time while exporting.
const EXPORT_PIECE: usize = 64 * 1024;

/// The numbered trees `/0` .. `/{roots - 1}` where a program run unpacks its `--dir`s (see
/// [`import`]), as mounts for [`export_mounts`].
pub fn numbered_mounts(roots: usize) -> Vec<Mount> {
    (0..roots)
        .map(|root| Mount {
            path: format!("{root}").into_bytes(),
            root: root as u32,
        })
        .collect()
}

/// Where a `--dir` tree sits in the VFS: its path from the root (no leading slash) and its
/// number in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// VFS path of the tree's top directory, `/`-separated, without a leading slash.
    pub path: Vec<u8>,
    /// The tree's top-level number in the archive (see [`Preopen::root`]).
    pub root: u32,
}

impl Mount {
    /// The archive path of VFS path `path` if it lies in this tree.
    fn archive_path(&self, path: &[u8]) -> Option<Vec<u8>> {
        let rest = path.strip_prefix(self.path.as_slice())?;
        if !rest.is_empty() && rest.first() != Some(&b'/') {
            return None;
        }
        let mut out = format!("{}", self.root).into_bytes();
        out.extend_from_slice(rest);
        Some(out)
    }
}

/// Packs the trees at `mounts` into an archive whose paths are `N/...` (N: [`Mount::root`]), as
/// [`import`] reads them, handing it to `sink` piece by piece: the archive is never held in
/// memory whole, so a VFS filling most of RAM can still be written back. A file with several
/// names in the trees is stored once and then as hard links to that name; names outside the
/// trees do not count. Returns the archive's length.
pub fn export_mounts(
    vfs: &Vfs,
    mounts: &[Mount],
    sink: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<u64, String> {
    let mut writer = Writer::new();
    let mut total = 0u64;
    let mut flush = |writer: &mut Writer, sink: &mut dyn FnMut(&[u8]) -> Result<(), String>| {
        let bytes = writer.drain();
        total += bytes.len() as u64;
        sink(&bytes)
    };
    let mut first_paths = alloc::collections::BTreeMap::new();
    let mut piece = vec![0u8; EXPORT_PIECE];
    for exported in vfs.walk() {
        let Some(path) = mounts.iter().find_map(|m| m.archive_path(&exported.path)) else {
            continue;
        };
        let stat = &exported.stat;
        if stat.filetype == Filetype::CharacterDevice {
            // A device (`/dev/null` moved into a tree) has no content for the host.
            continue;
        }
        let first = match stat.filetype {
            Filetype::Directory => None,
            _ if stat.nlink > 1 => match first_paths.get(&exported.ino) {
                Some(first) => Some(Vec::clone(first)),
                None => {
                    first_paths.insert(exported.ino, path.clone());
                    None
                }
            },
            _ => None,
        };
        let (kind, link) = match (first, stat.filetype) {
            (Some(first), _) => (Kind::HardLink, first),
            (None, Filetype::Directory) => (Kind::Dir, Vec::new()),
            (None, Filetype::SymbolicLink) => (
                Kind::Symlink,
                exported.node.symlink_target().unwrap_or_default(),
            ),
            (None, _) => (Kind::File, Vec::new()),
        };
        let entry = Entry {
            path,
            kind,
            mode: exported.mode,
            mtime: Time::from_nanos(stat.mtim),
            atime: Some(Time::from_nanos(stat.atim)),
            link,
            data: &[],
        };
        writer.begin(&entry, stat.size);
        if kind == Kind::File {
            let mut offset = 0u64;
            while offset < stat.size {
                let want = usize::try_from(stat.size - offset)
                    .map_or(EXPORT_PIECE, |left| left.min(EXPORT_PIECE));
                let read = exported.node.read_at(offset, &mut piece[..want]);
                // A file cannot shrink while nothing runs; zeros keep the header's size true.
                piece[read..want].fill(0);
                writer.file_data(&piece[..want]);
                flush(&mut writer, sink)?;
                offset += want as u64;
            }
            writer.end_file(stat.size);
        }
        flush(&mut writer, sink)?;
    }
    let end = writer.finish();
    total += end.len() as u64;
    sink(&end)?;
    Ok(total)
}

/// Where [`mount`] unpacks the trees before moving them into place: a name no guest path may
/// use, removed once the trees are mounted.
const STAGING: &[u8] = b".cella-dirs";

/// Normalises a guest name to a VFS path from the root: `/data/x`, `data/x/`, `./data//x` all
/// give `data/x`. The root itself and `..` are refused: in shell mode a tree cannot be the
/// whole namespace, and must not climb out of it.
pub fn guest_path(guest: &[u8]) -> Result<Vec<u8>, String> {
    let shown = || String::from_utf8_lossy(guest).into_owned();
    let mut out = Vec::new();
    for part in guest.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                return Err(format!(
                    "--dir guest name `{}`: `..` is not allowed in shell mode",
                    shown()
                ));
            }
            _ => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(part);
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "--dir guest name `{}`: shell mode needs a directory below / (such as /data), since / holds the system",
            shown()
        ));
    }
    if out.split(|&b| b == b'/').next() == Some(STAGING) {
        return Err(format!("--dir guest name `{}` is reserved", shown()));
    }
    Ok(out)
}

/// Whether VFS path `inner` is `outer` or lies below it.
fn within(inner: &[u8], outer: &[u8]) -> bool {
    inner
        .strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.first() == Some(&b'/'))
}

/// Shell mode: unpacks the `--dir` trees of `archive` and puts each at its guest path, making
/// missing parent directories; an existing empty directory there (such as `/tmp`) is replaced,
/// anything else is an error. A preopen inside another one's tree (or the same tree under a
/// second name) becomes a relative symlink to it. Guest paths may not nest, so every tree can
/// be written back whole and nothing of the system's ends up in one. Returns where each tree
/// went, for [`export_mounts`].
pub fn mount(
    vfs: &Vfs,
    archive: &[u8],
    preopens: &[Preopen],
    now: Timestamp,
) -> Result<Vec<Mount>, String> {
    let paths: Vec<Vec<u8>> = preopens
        .iter()
        .map(|p| guest_path(&p.guest))
        .collect::<Result<_, _>>()?;
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[i + 1..] {
            if within(a, b) || within(b, a) {
                return Err(format!(
                    "--dir guest paths /{} and /{} overlap: in shell mode each --dir needs its own place",
                    String::from_utf8_lossy(a),
                    String::from_utf8_lossy(b)
                ));
            }
        }
    }
    let cannot = |what: &str, path: &[u8], errno| {
        format!(
            "cannot {what} /{} for --dir: {errno:?}",
            String::from_utf8_lossy(path)
        )
    };
    let root = vfs.root();
    root.create_dir(STAGING, now)
        .map_err(|e| cannot("create", STAGING, e))?;
    import_under(vfs, archive, STAGING, now)?;
    let mut mounts: Vec<Mount> = Vec::new();
    // Each tree first, at the first guest path that names it whole (the runner makes one).
    for (preopen, path) in preopens.iter().zip(&paths) {
        if !preopen.subpath.is_empty() || mounts.iter().any(|m| m.root == preopen.root) {
            continue;
        }
        make_parents(vfs, path, now)?;
        let staged = vfs_path(STAGING, format!("{}", preopen.root).as_bytes());
        root.rename(&staged, &root, path, now)
            .map_err(|errno| match errno {
                wasi_abi::Errno::Notempty | wasi_abi::Errno::Notdir | wasi_abi::Errno::Isdir => {
                    format!(
                        "--dir guest path /{} is already taken by the system",
                        String::from_utf8_lossy(path)
                    )
                }
                errno => cannot("mount", path, errno),
            })?;
        mounts.push(Mount {
            path: path.clone(),
            root: preopen.root,
        });
    }
    // Then the other names: symlinks, relative so they resolve inside the root preopen.
    for (preopen, path) in preopens.iter().zip(&paths) {
        let Some(mount) = mounts.iter().find(|m| m.root == preopen.root) else {
            return Err(format!(
                "--dir /{}: its tree has no preopen of its own",
                String::from_utf8_lossy(path)
            ));
        };
        if mount.path == *path {
            continue;
        }
        make_parents(vfs, path, now)?;
        let depth = path.iter().filter(|&&b| b == b'/').count();
        let mut target = b"../".repeat(depth);
        target.extend_from_slice(&mount.path);
        if !preopen.subpath.is_empty() {
            target.push(b'/');
            target.extend_from_slice(&preopen.subpath);
        }
        vfs.symlink(&target, path, now)
            .map_err(|errno| cannot("link", path, errno))?;
    }
    root.remove_dir(STAGING, now).map_err(|errno| match errno {
        wasi_abi::Errno::Notempty => "the --dir archive holds a tree no preopen names".into(),
        errno => cannot("remove", STAGING, errno),
    })?;
    Ok(mounts)
}

/// Creates the missing parent directories of VFS path `path`.
fn make_parents(vfs: &Vfs, path: &[u8], now: Timestamp) -> Result<(), String> {
    let mut at = 0;
    while let Some(slash) = path[at..].iter().position(|&b| b == b'/') {
        let parent = &path[..at + slash];
        match vfs.create_dir(parent, now) {
            Ok(()) | Err(wasi_abi::Errno::Exist) => {}
            Err(errno) => {
                return Err(format!(
                    "cannot create /{} for --dir: {errno:?}",
                    String::from_utf8_lossy(parent)
                ));
            }
        }
        at += slash + 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = 1_700_000_000_123_456_789;

    fn export_all(vfs: &Vfs, roots: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let len = export_mounts(vfs, &numbered_mounts(roots), &mut |bytes| {
            out.extend_from_slice(bytes);
            Ok(())
        })
        .unwrap();
        assert_eq!(len, out.len() as u64);
        out
    }

    fn sample() -> Vec<u8> {
        let mut writer = Writer::new();
        let at = |secs: i64| Time { secs, nanos: 5 };
        let mut push = |path: &str, kind: Kind, link: &str, data: &[u8], secs: i64| {
            writer.append(&Entry {
                path: path.as_bytes().to_vec(),
                kind,
                mode: if kind == Kind::Dir { 0o750 } else { 0o640 },
                mtime: at(secs),
                atime: Some(at(secs + 1)),
                link: link.as_bytes().to_vec(),
                data,
            });
        };
        push("0", Kind::Dir, "", b"", 100);
        push("0/a.txt", Kind::File, "", b"alpha", 200);
        push("0/sub", Kind::Dir, "", b"", 300);
        push("0/sub/b", Kind::File, "", &[9u8; 70_000], 400);
        push("0/ln", Kind::Symlink, "sub/b", b"", 500);
        push("0/hard", Kind::HardLink, "0/a.txt", b"", 200);
        push("1", Kind::Dir, "", b"", 600);
        writer.finish()
    }

    #[test]
    fn an_imported_tree_exports_unchanged() {
        let vfs = Vfs::new(T0);
        assert_eq!(import(&vfs, &sample(), T0), Ok(7));
        let stat = vfs.stat(b"/0/sub").unwrap();
        // Directory times survive the creation of their children.
        assert_eq!(stat.mtim, 300_000_000_005);
        assert_eq!(vfs.stat(b"/0/a.txt").unwrap().nlink, 2);
        assert_eq!(vfs.stat(b"/0/sub/b").unwrap().size, 70_000);

        let out = export_all(&vfs, 2);
        let original = sample();
        let before: Vec<Entry<'_>> = Reader::new(&original).collect::<Result<_, _>>().unwrap();
        let after: Vec<Entry<'_>> = Reader::new(&out).collect::<Result<_, _>>().unwrap();
        let key = |e: &Entry<'_>| {
            (
                e.path.clone(),
                e.kind,
                e.mode,
                e.mtime,
                e.link.clone(),
                e.data.to_vec(),
            )
        };
        let mut before: Vec<_> = before.iter().map(key).collect();
        let mut after: Vec<_> = after.iter().map(key).collect();
        before.sort();
        after.sort();
        // The export names the hard link's twin by its archive path, like the import.
        assert_eq!(after, before);
    }

    #[test]
    fn only_the_requested_roots_are_exported() {
        let vfs = Vfs::new(T0);
        import(&vfs, &sample(), T0).unwrap();
        vfs.create_dir(b"/tmp", T0).unwrap();
        vfs.write_file(b"/tmp/x", b"not mine", T0).unwrap();
        let out = export_all(&vfs, 1);
        let paths: Vec<Vec<u8>> = Reader::new(&out).map(|e| e.unwrap().path).collect();
        assert!(paths.iter().all(|p| p.starts_with(b"0")), "{paths:?}");
        assert_eq!(paths.len(), 6);
    }

    #[test]
    fn damaged_archives_are_errors() {
        let vfs = Vfs::new(T0);
        let mut bad = sample();
        bad[100] ^= 0xff;
        assert!(import(&vfs, &bad, T0).is_err());
        // A child before its parent cannot be created.
        let mut writer = Writer::new();
        writer.append(&Entry {
            path: b"0/orphan/f".to_vec(),
            kind: Kind::File,
            mode: 0o644,
            mtime: Time::default(),
            atime: None,
            link: Vec::new(),
            data: b"",
        });
        let error = import(&Vfs::new(T0), &writer.finish(), T0).unwrap_err();
        assert!(error.contains("0/orphan/f"), "{error}");
    }
}
