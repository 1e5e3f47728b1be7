//! `--dir` trees in the kernel: the runner's archive (see [`cella_proto::archive`]) becomes a
//! subtree of the VFS per host directory, `/0`, `/1`, ..., and at exit those subtrees are packed
//! back into an archive of the same shape for the runner to apply to the host.
//!
//! Pure logic over the VFS and the codec, so it is tested on the host.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use cella_proto::archive::{Entry, Kind, Reader, Time, Writer};
use wasi_abi::Vfs;
use wasi_abi::types::{Filetype, Timestamp};

/// The VFS path of archive path `path` (`N/rest` → `/N/rest`).
fn vfs_path(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 1);
    out.push(b'/');
    out.extend_from_slice(path);
    out
}

/// Unpacks `archive` into `vfs` under its root. Entries come parents first, as the runner
/// writes them; directory times are applied last, since creating their children changes them.
pub fn import(vfs: &Vfs, archive: &[u8], now: Timestamp) -> Result<usize, String> {
    let mut dir_times = Vec::new();
    let mut count = 0;
    for entry in Reader::new(archive) {
        let entry = entry.map_err(|e| format!("the --dir archive is damaged: {e}"))?;
        let path = vfs_path(&entry.path);
        let shown = || String::from_utf8_lossy(&entry.path).into_owned();
        let result = match entry.kind {
            Kind::Dir => vfs.create_dir(&path, now),
            Kind::File => vfs.write_file(&path, entry.data, now),
            Kind::Symlink => vfs.symlink(&entry.link, &path, now),
            Kind::HardLink => vfs.hard_link(&vfs_path(&entry.link), &path, now),
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

/// Packs the subtrees `/0` .. `/{roots - 1}` of `vfs` (including the roots themselves) into an
/// archive whose paths are `N/...`, as [`import`] reads them, handing it to `sink` piece by
/// piece: the archive is never held in memory whole, so a VFS filling most of RAM can still
/// be written back. Returns the archive's length.
pub fn export(
    vfs: &Vfs,
    roots: usize,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<u64, String> {
    let mut writer = Writer::new();
    let mut total = 0u64;
    let mut flush = |writer: &mut Writer, sink: &mut dyn FnMut(&[u8]) -> Result<(), String>| {
        let bytes = writer.drain();
        total += bytes.len() as u64;
        sink(&bytes)
    };
    let in_roots = |path: &[u8]| {
        let first = path.split(|&b| b == b'/').next().unwrap_or_default();
        core::str::from_utf8(first)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .is_some_and(|n| n < roots)
    };
    let mut piece = vec![0u8; EXPORT_PIECE];
    for exported in vfs.export() {
        if !in_roots(&exported.path) {
            continue;
        }
        let stat = &exported.stat;
        let (kind, link) = match (&exported.first_path, stat.filetype) {
            (Some(first), _) => (Kind::HardLink, first.clone()),
            (None, Filetype::Directory) => (Kind::Dir, Vec::new()),
            (None, Filetype::SymbolicLink) => (
                Kind::Symlink,
                exported.node.symlink_target().unwrap_or_default(),
            ),
            (None, _) => (Kind::File, Vec::new()),
        };
        let entry = Entry {
            path: exported.path,
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

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = 1_700_000_000_123_456_789;

    fn export_all(vfs: &Vfs, roots: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let len = export(vfs, roots, &mut |bytes| {
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
