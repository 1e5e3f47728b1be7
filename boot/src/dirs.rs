//! `--dir HOST[::GUEST]` on the host side: packs the host directories into the archive the
//! kernel unpacks into its VFS, and applies the archive the kernel writes back at exit, so the
//! host directory ends up as the program left it.
//!
//! Write-back touches nothing outside the directories given: paths come out of the archive
//! already normalised (no `..`, never absolute), every parent on the way is checked to be a
//! real directory rather than a symlink, and symlinks are recreated, never followed.
//! Special files (sockets, devices, FIFOs) are skipped with a warning when packing and left
//! alone when writing back.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cella_proto::Preopen;
use cella_proto::archive::{Entry, Kind, Reader, Time, Writer};

/// One `--dir` as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSpec {
    /// The host directory.
    pub host: PathBuf,
    /// The name the program sees.
    pub guest: OsString,
}

impl DirSpec {
    /// Parses `HOST[::GUEST]`; without `::GUEST`, the guest name is HOST as given, as in
    /// `wasmtime run --dir`.
    pub fn parse(value: &OsString) -> DirSpec {
        let bytes = value.as_bytes();
        match bytes.windows(2).position(|w| w == b"::") {
            Some(at) => DirSpec {
                host: PathBuf::from(OsString::from_vec(bytes[..at].to_vec())),
                guest: OsString::from_vec(bytes[at + 2..].to_vec()),
            },
            None => DirSpec {
                host: PathBuf::from(value),
                guest: value.clone(),
            },
        }
    }
}

/// A host directory packed as one top-level tree of the archive.
#[derive(Debug)]
pub struct Root {
    /// Canonical host path.
    pub host: PathBuf,
    /// Paths (relative to `host`) of special files left out of the archive.
    skipped: BTreeSet<PathBuf>,
}

/// The packed `--dir`s of a run.
#[derive(Debug)]
pub struct Trees {
    /// The archive for fw_cfg.
    pub archive: Vec<u8>,
    /// Preopens in command-line order.
    pub preopens: Vec<Preopen>,
    /// The trees, in archive order.
    pub roots: Vec<Root>,
}

/// Packs the directories of `specs`. A directory inside another one given shares its tree,
/// so the program sees one file system, as on the host.
///
/// The trees are copied into the guest's memory, so their files may hold at most `limit`
/// bytes together; a larger tree is refused before anything is read.
pub fn pack(specs: &[DirSpec], limit: u64) -> Result<Trees, String> {
    let mut canonical = Vec::new();
    for spec in specs {
        let shown = spec.host.display();
        let path = fs::canonicalize(&spec.host).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => format!("--dir {shown}: no such directory"),
            _ => format!("--dir {shown}: {e}"),
        })?;
        if !path.is_dir() {
            return Err(format!("--dir {shown}: not a directory"));
        }
        if spec.guest.is_empty() {
            return Err(format!("--dir {shown}: the guest name after `::` is empty"));
        }
        canonical.push(path);
    }
    // Roots: the given directories that are not inside another given directory.
    let mut root_paths: Vec<PathBuf> = Vec::new();
    let mut sorted = canonical.clone();
    sorted.sort();
    for path in sorted {
        if !root_paths.iter().any(|root| path.starts_with(root)) {
            root_paths.push(path);
        }
    }
    let mut preopens = Vec::new();
    for (spec, path) in specs.iter().zip(&canonical) {
        let (index, root) = root_paths
            .iter()
            .enumerate()
            .find(|(_, root)| path.starts_with(root))
            .ok_or_else(|| format!("--dir {}: internal error: no root", spec.host.display()))?;
        let subpath = path.strip_prefix(root).unwrap_or(Path::new(""));
        preopens.push(Preopen {
            guest: spec.guest.as_bytes().to_vec(),
            root: index as u32,
            subpath: subpath.as_os_str().as_bytes().to_vec(),
        });
    }
    let mut seen = BTreeSet::new();
    let total: u64 = root_paths
        .iter()
        .map(|root| tree_size(root, &mut seen))
        .sum();
    if total > limit {
        let shown: Vec<_> = specs.iter().map(|s| s.host.display().to_string()).collect();
        return Err(format!(
            "--dir {}: the files there hold {} MiB, more than the {} MiB the guest can keep \
             in memory; give a smaller directory, or more memory with -m",
            shown.join(", --dir "),
            total >> 20,
            limit >> 20
        ));
    }
    let mut writer = Writer::new();
    let mut roots = Vec::new();
    for (index, host) in root_paths.into_iter().enumerate() {
        let mut skipped = BTreeSet::new();
        let mut links = HashMap::new();
        pack_tree(
            &mut writer,
            &host,
            Path::new(""),
            index,
            &mut skipped,
            &mut links,
        )?;
        roots.push(Root { host, skipped });
    }
    Ok(Trees {
        archive: writer.finish(),
        preopens,
        roots,
    })
}

/// Bytes of the regular files under `dir` (each inode once), without following symlinks.
fn tree_size(dir: &Path, seen: &mut BTreeSet<(u64, u64)>) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let Ok(meta) = fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if meta.is_dir() {
            total += tree_size(&entry.path(), seen);
        } else if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
            total += meta.len();
        }
    }
    total
}

fn time(system: io::Result<SystemTime>) -> Time {
    match system.map(|t| t.duration_since(UNIX_EPOCH)) {
        Ok(Ok(d)) => Time {
            secs: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
        },
        Ok(Err(before)) => {
            let d = before.duration();
            let (secs, nanos) = (d.as_secs() as i64, d.subsec_nanos());
            if nanos == 0 {
                Time {
                    secs: -secs,
                    nanos: 0,
                }
            } else {
                Time {
                    secs: -secs - 1,
                    nanos: 1_000_000_000 - nanos,
                }
            }
        }
        Err(_) => Time::default(),
    }
}

fn archive_path(index: usize, relative: &Path) -> Vec<u8> {
    let mut path = index.to_string().into_bytes();
    if !relative.as_os_str().is_empty() {
        path.push(b'/');
        path.extend_from_slice(relative.as_os_str().as_bytes());
    }
    path
}

/// Appends `host/relative` and everything under it, parents before children.
fn pack_tree(
    writer: &mut Writer,
    host: &Path,
    relative: &Path,
    index: usize,
    skipped: &mut BTreeSet<PathBuf>,
    links: &mut HashMap<(u64, u64), Vec<u8>>,
) -> Result<(), String> {
    let full = host.join(relative);
    let meta =
        fs::symlink_metadata(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    let kind = meta.file_type();
    let path = archive_path(index, relative);
    let mut entry = Entry {
        path: path.clone(),
        kind: Kind::File,
        mode: meta.mode() & 0o7777,
        mtime: time(meta.modified()),
        atime: Some(time(meta.accessed())),
        link: Vec::new(),
        data: &[],
    };
    let data;
    if kind.is_dir() {
        entry.kind = Kind::Dir;
        writer.append(&entry);
        let mut children: Vec<_> = fs::read_dir(&full)
            .map_err(|e| format!("cannot list {}: {e}", full.display()))?
            .map(|child| child.map(|c| c.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("cannot list {}: {e}", full.display()))?;
        children.sort();
        for name in children {
            pack_tree(writer, host, &relative.join(name), index, skipped, links)?;
        }
        return Ok(());
    } else if kind.is_symlink() {
        entry.kind = Kind::Symlink;
        entry.link = fs::read_link(&full)
            .map_err(|e| format!("cannot read the symlink {}: {e}", full.display()))?
            .into_os_string()
            .into_vec();
    } else if kind.is_file() {
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = links.get(&key) {
                entry.kind = Kind::HardLink;
                entry.link = first.clone();
                writer.append(&entry);
                return Ok(());
            }
            links.insert(key, path);
        }
        data = fs::read(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
        entry.data = &data;
    } else {
        eprintln!(
            "cella: warning: skipping {}: Cella has no sockets, devices or FIFOs",
            full.display()
        );
        skipped.insert(relative.to_path_buf());
        return Ok(());
    }
    writer.append(&entry);
    Ok(())
}

/// Makes each root's host directory what `archive` (the kernel's write-back) says it is.
pub fn write_back(roots: &[Root], archive: &[u8]) -> Result<(), String> {
    let mut desired: Vec<BTreeMap<PathBuf, Entry<'_>>> =
        roots.iter().map(|_| BTreeMap::new()).collect();
    for entry in Reader::new(archive) {
        let entry = entry.map_err(|e| format!("the write-back archive is damaged: {e}"))?;
        let text = entry.path.clone();
        let mut parts = text.splitn(2, |&b| b == b'/');
        let index: Option<usize> = parts
            .next()
            .and_then(|n| std::str::from_utf8(n).ok()?.parse().ok());
        let relative = PathBuf::from(OsString::from_vec(
            parts.next().unwrap_or_default().to_vec(),
        ));
        match index.and_then(|i| desired.get_mut(i)) {
            Some(tree) => {
                tree.insert(relative, entry);
            }
            None => {
                return Err(format!(
                    "the write-back archive names an unknown tree: {}",
                    String::from_utf8_lossy(&text)
                ));
            }
        }
    }
    for (root, tree) in roots.iter().zip(&desired) {
        if tree.is_empty() {
            return Err(format!(
                "the write-back archive lacks {}: nothing was changed there",
                root.host.display()
            ));
        }
        in_directory(&root.host, || apply(root, tree))?;
    }
    Ok(())
}

/// Runs `f` with `dir` as the working directory, then goes back. The write-back works
/// with paths relative to the tree's top: a guest path may be up to 4095 bytes long, and
/// with the host directory in front it would pass the host's `PATH_MAX`.
fn in_directory(dir: &Path, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let back = std::env::current_dir()
        .map_err(|e| format!("write-back: cannot tell the working directory: {e}"))?;
    std::env::set_current_dir(dir).map_err(|e| format!("write-back of {}: {e}", dir.display()))?;
    let result = f();
    std::env::set_current_dir(&back)
        .map_err(|e| format!("write-back: cannot return to {}: {e}", back.display()))?;
    result
}

/// `relative` as a path for the calls: the tree's top is `.`.
fn at(relative: &Path) -> &Path {
    if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    }
}

/// Whether every directory between the tree's top and `relative` (exclusive) is a real
/// directory. `checked` holds the directories already known to be real ones (the archive
/// lists parents first), so a deep tree costs one look per level, not one per level and
/// entry.
fn parents_are_dirs(relative: &Path, checked: &mut BTreeSet<PathBuf>) -> bool {
    let Some(parent) = relative.parent() else {
        return true;
    };
    if parent.as_os_str().is_empty() || checked.contains(parent) {
        return true;
    }
    let mut current = PathBuf::new();
    for component in parent.components() {
        current.push(component);
        if checked.contains(&current) {
            continue;
        }
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_dir() => {
                checked.insert(current.clone());
            }
            _ => return false,
        }
    }
    true
}

fn same_kind(meta: &fs::Metadata, entry: &Entry<'_>) -> bool {
    let kind = meta.file_type();
    match entry.kind {
        Kind::Dir => kind.is_dir(),
        Kind::File | Kind::HardLink => kind.is_file(),
        Kind::Symlink => kind.is_symlink(),
    }
}

fn remove(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        // remove_dir_all does not follow symlinks inside the tree.
        Ok(meta) if meta.file_type().is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn system_time(time: Time) -> SystemTime {
    if time.secs >= 0 {
        UNIX_EPOCH + Duration::new(time.secs as u64, time.nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(time.secs.unsigned_abs())
            + Duration::from_nanos(u64::from(time.nanos))
    }
}

fn set_times(path: &Path, entry: &Entry<'_>) -> io::Result<()> {
    let mtime = system_time(entry.mtime);
    let atime = entry.atime.map_or(mtime, system_time);
    let file = fs::File::open(path)?;
    file.set_times(fs::FileTimes::new().set_accessed(atime).set_modified(mtime))
}

/// Makes the working directory (`root`'s host directory) what `tree` says.
fn apply(root: &Root, tree: &BTreeMap<PathBuf, Entry<'_>>) -> Result<(), String> {
    let error = |path: &Path, e: io::Error| {
        format!("write-back of {}: {e}", root.host.join(path).display())
    };
    // 1. Remove what the program removed, or replaced by something of another kind.
    let mut existing = Vec::new();
    list(Path::new(""), &mut existing);
    for relative in existing.iter().rev() {
        if root.skipped.contains(relative)
            || root
                .skipped
                .iter()
                .any(|s| s.starts_with(relative) && s != relative)
        {
            continue;
        }
        let full = at(relative);
        let keep = match (tree.get(relative), fs::symlink_metadata(full)) {
            (Some(entry), Ok(meta)) => same_kind(&meta, entry),
            (None, Err(_)) => true,
            _ => false,
        };
        if !keep {
            remove(full).map_err(|e| error(relative, e))?;
        }
    }
    // 2. Create and update, parents first (BTreeMap order puts `a` before `a/b`).
    let mut checked = BTreeSet::new();
    for (relative, entry) in tree {
        let full = at(relative);
        if !parents_are_dirs(relative, &mut checked) {
            return Err(format!(
                "write-back of {}: a parent is not a directory on the host",
                root.host.join(relative).display()
            ));
        }
        match entry.kind {
            Kind::Dir => {
                // Not through a symlink: step 1 removed any that stood where a directory goes.
                if !fs::symlink_metadata(full).is_ok_and(|m| m.is_dir()) {
                    fs::create_dir(full).map_err(|e| error(relative, e))?;
                }
                checked.insert(relative.clone());
            }
            Kind::File => {
                let unchanged = fs::symlink_metadata(full)
                    .is_ok_and(|m| m.is_file() && m.len() == entry.data.len() as u64)
                    && fs::read(full).is_ok_and(|old| old == entry.data);
                if !unchanged {
                    // A hard-linked file is replaced, not written through, so its other host
                    // names (inside or outside the tree) keep their contents unless the
                    // archive says they are links too.
                    remove(full).map_err(|e| error(relative, e))?;
                    fs::write(full, entry.data).map_err(|e| error(relative, e))?;
                }
            }
            Kind::Symlink => {
                let target = PathBuf::from(OsString::from_vec(entry.link.clone()));
                if fs::read_link(full).ok().as_deref() != Some(target.as_path()) {
                    remove(full).map_err(|e| error(relative, e))?;
                    symlink(&target, full).map_err(|e| error(relative, e))?;
                }
            }
            Kind::HardLink => {
                let first = match entry.link.splitn(2, |&b| b == b'/').nth(1) {
                    Some(rest) => PathBuf::from(OsString::from_vec(rest.to_vec())),
                    None => {
                        let shown = root.host.join(relative);
                        return Err(format!("write-back of {}: bad hard link", shown.display()));
                    }
                };
                let same = match (fs::symlink_metadata(full), fs::symlink_metadata(&first)) {
                    (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                    _ => false,
                };
                if !same {
                    remove(full).map_err(|e| error(relative, e))?;
                    fs::hard_link(&first, full).map_err(|e| error(relative, e))?;
                }
            }
        }
        if matches!(entry.kind, Kind::File | Kind::Dir) {
            let _ = fs::set_permissions(full, fs::Permissions::from_mode(entry.mode));
        }
    }
    // 3. Times last, children before parents: writing into a directory changes its mtime.
    for (relative, entry) in tree.iter().rev() {
        if matches!(entry.kind, Kind::File | Kind::Dir) {
            let _ = set_times(at(relative), entry);
        }
    }
    Ok(())
}

/// Every path under `relative` (from the working directory), parents before children (no
/// symlinks followed).
fn list(relative: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(at(relative)) else {
        return;
    };
    let mut names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let child = relative.join(name);
        out.push(child.clone());
        if fs::symlink_metadata(&child).is_ok_and(|m| m.file_type().is_dir()) {
            list(&child, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let path =
                std::env::temp_dir().join(format!("cella-dirs-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn spec(path: &Path, guest: &str) -> DirSpec {
        DirSpec {
            host: path.to_path_buf(),
            guest: guest.into(),
        }
    }

    #[test]
    fn specs_split_at_the_first_double_colon() {
        let s = DirSpec::parse(&"a/b::/data".into());
        assert_eq!(
            (s.host, s.guest),
            (PathBuf::from("a/b"), OsString::from("/data"))
        );
        let s = DirSpec::parse(&".".into());
        assert_eq!((s.host, s.guest), (PathBuf::from("."), OsString::from(".")));
    }

    #[test]
    fn nested_dirs_share_a_tree_and_missing_ones_are_errors() {
        let scratch = Scratch::new("nested");
        fs::create_dir(scratch.0.join("inner")).unwrap();
        let trees = pack(
            &[spec(&scratch.0.join("inner"), "/in"), spec(&scratch.0, "/")],
            u64::MAX,
        )
        .unwrap();
        assert_eq!(trees.roots.len(), 1);
        assert_eq!(trees.preopens[0].subpath, b"inner");
        assert_eq!(trees.preopens[1].subpath, b"");
        assert_eq!(trees.preopens[0].guest, b"/in");
        let error = pack(&[spec(&scratch.0.join("nope"), "x")], u64::MAX).unwrap_err();
        assert!(error.contains("no such directory"), "{error}");
        fs::write(scratch.0.join("file"), b"x").unwrap();
        let error = pack(&[spec(&scratch.0.join("file"), "x")], u64::MAX).unwrap_err();
        assert!(error.contains("not a directory"), "{error}");
        // More file data than the guest's memory holds is refused before anything is read.
        fs::write(scratch.0.join("inner/big"), vec![7u8; 3 << 20]).unwrap();
        let error = pack(&[spec(&scratch.0, "/")], 2 << 20).unwrap_err();
        assert!(error.contains("3 MiB") && error.contains("-m"), "{error}");
        assert!(pack(&[spec(&scratch.0, "/")], 4 << 20).is_ok());
    }

    #[test]
    fn write_back_applies_creations_changes_renames_and_deletions() {
        let scratch = Scratch::new("apply");
        let host = scratch.0.join("tree");
        fs::create_dir_all(host.join("keep/sub")).unwrap();
        fs::write(host.join("keep/sub/same"), b"same").unwrap();
        fs::write(host.join("changed"), b"old").unwrap();
        fs::write(host.join("deleted"), b"bye").unwrap();
        fs::create_dir(host.join("gone")).unwrap();
        fs::write(host.join("gone/f"), b"x").unwrap();
        // Something outside the tree that a hostile symlink points at.
        fs::write(scratch.0.join("outside"), b"precious").unwrap();
        symlink(scratch.0.join("outside"), host.join("escape")).unwrap();

        let trees = pack(&[spec(&host, "/")], u64::MAX).unwrap();
        // The guest's view after the program ran: built from the archive it was given.
        let mut writer = Writer::new();
        for entry in Reader::new(&trees.archive) {
            let mut entry = entry.unwrap();
            match entry.path.as_slice() {
                b"0/changed" => entry.data = b"new contents",
                b"0/deleted" | b"0/gone" | b"0/gone/f" => continue,
                // The program replaced the symlink with a regular file of its own.
                b"0/escape" => {
                    entry.kind = Kind::File;
                    entry.link.clear();
                    entry.data = b"mine";
                }
                _ => {}
            }
            writer.append(&entry);
        }
        let new_time = Time {
            secs: 1_000_000_000,
            nanos: 42,
        };
        writer.append(&Entry {
            path: b"0/new dir".to_vec(),
            kind: Kind::Dir,
            mode: 0o700,
            mtime: new_time,
            atime: None,
            link: Vec::new(),
            data: &[],
        });
        writer.append(&Entry {
            path: b"0/new dir/created".to_vec(),
            kind: Kind::File,
            mode: 0o600,
            mtime: new_time,
            atime: None,
            link: Vec::new(),
            data: b"fresh",
        });
        writer.append(&Entry {
            path: b"0/twin".to_vec(),
            kind: Kind::HardLink,
            mode: 0o600,
            mtime: new_time,
            atime: None,
            link: b"0/changed".to_vec(),
            data: &[],
        });
        write_back(&trees.roots, &writer.finish()).unwrap();

        assert_eq!(fs::read(host.join("changed")).unwrap(), b"new contents");
        assert_eq!(fs::read(host.join("keep/sub/same")).unwrap(), b"same");
        assert!(!host.join("deleted").exists() && !host.join("gone").exists());
        assert_eq!(fs::read(host.join("new dir/created")).unwrap(), b"fresh");
        let meta = fs::metadata(host.join("new dir/created")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(meta.modified().unwrap(), system_time(new_time));
        assert_eq!(
            fs::metadata(host.join("new dir"))
                .unwrap()
                .modified()
                .unwrap(),
            system_time(new_time)
        );
        assert_eq!(
            fs::metadata(host.join("twin")).unwrap().ino(),
            fs::metadata(host.join("changed")).unwrap().ino()
        );
        // The symlink was replaced, and what it pointed at is untouched.
        assert!(fs::symlink_metadata(host.join("escape")).unwrap().is_file());
        assert_eq!(fs::read(scratch.0.join("outside")).unwrap(), b"precious");
    }

    #[test]
    fn unchanged_trees_are_left_alone_including_special_files() {
        let scratch = Scratch::new("same");
        fs::write(scratch.0.join("f"), b"data").unwrap();
        let socket = std::os::unix::net::UnixListener::bind(scratch.0.join("sock")).unwrap();
        let trees = pack(&[spec(&scratch.0, ".")], u64::MAX).unwrap();
        assert!(trees.roots[0].skipped.contains(Path::new("sock")));
        let before = fs::metadata(scratch.0.join("f")).unwrap().ino();
        write_back(&trees.roots, &trees.archive).unwrap();
        assert_eq!(
            fs::metadata(scratch.0.join("f")).unwrap().ino(),
            before,
            "an unchanged file was rewritten"
        );
        assert!(scratch.0.join("sock").exists(), "the socket was removed");
        drop(socket);
    }
}
