//! Host tests of the VFS on its own: tree operations, link counts, path resolution and the
//! kernel's import/export API.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;

use super::data::CHUNK_SIZE;
use super::*;
use crate::file::WasiFile;

const T0: Timestamp = 1_000;
const T1: Timestamp = 2_000;

fn opts() -> OpenOptions {
    OpenOptions::default()
}

fn create() -> OpenOptions {
    OpenOptions {
        create: true,
        write: true,
        ..OpenOptions::default()
    }
}

fn file(dir: &DirHandle, path: &str, options: OpenOptions) -> Result<NodeRef> {
    match dir.open(path.as_bytes(), options, T1)? {
        Opened::File(node) => Ok(node),
        Opened::Dir(_) => Err(Errno::Isdir),
        Opened::Device(_) => Err(Errno::Inval),
    }
}

fn subdir(dir: &DirHandle, path: &str) -> Result<DirHandle> {
    dir.open_dir(path.as_bytes())
}

fn write(node: &NodeRef, offset: u64, data: &[u8]) {
    node.borrow_mut()
        .as_file_mut()
        .unwrap()
        .write_at(offset, data)
        .unwrap();
}

fn contents(node: &NodeRef) -> Vec<u8> {
    let node = node.borrow();
    let data = node.as_file().unwrap();
    let mut buf = vec![0; data.size() as usize];
    data.read_at(0, &mut buf);
    buf
}

/// A tree: `dir/`, `dir/sub/`, `file` ("hello"), `dir/inner` ("inner").
fn tree() -> Vfs {
    let vfs = Vfs::new(T0);
    vfs.create_dir(b"dir", T0).unwrap();
    vfs.create_dir(b"/dir/sub", T0).unwrap();
    vfs.write_file(b"file", b"hello", T0).unwrap();
    vfs.write_file(b"dir/inner", b"inner", T0).unwrap();
    vfs
}

fn stat(dir: &DirHandle, path: &str) -> Result<Filestat> {
    dir.stat(path.as_bytes(), false)
}

#[test]
fn create_write_read_and_truncate() {
    let vfs = Vfs::new(T0);
    let root = vfs.root();
    let node = file(&root, "f", create()).unwrap();
    write(&node, 0, b"abcdef");
    assert_eq!(contents(&node), b"abcdef");
    let reopened = file(&root, "f", opts()).unwrap();
    assert!(Rc::ptr_eq(&node, &reopened));
    let truncated = file(
        &root,
        "f",
        OpenOptions {
            truncate: true,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(contents(&truncated), b"");
    let st = stat(&root, "f").unwrap();
    assert_eq!(
        (st.size, st.nlink, st.filetype),
        (0, 1, Filetype::RegularFile)
    );
    assert_eq!((st.mtim, st.ctim), (T1, T1));
    assert_eq!(
        file(
            &root,
            "f",
            OpenOptions {
                exclusive: true,
                ..create()
            }
        )
        .err(),
        Some(Errno::Exist)
    );
    assert_eq!(file(&root, "missing", opts()).err(), Some(Errno::Noent));
}

#[test]
fn sparse_file_of_hundreds_of_megabytes() {
    let vfs = Vfs::new(T0);
    let node = file(&vfs.root(), "big", create()).unwrap();
    let far = 300 * 1024 * 1024;
    write(&node, far, b"end");
    write(&node, 5, b"start");
    assert_eq!(node.borrow().size(), far + 3);
    assert_eq!(node.borrow().as_file().unwrap().allocated_chunks(), 2);
    let mut buf = vec![0xffu8; 16];
    let data = node.borrow();
    let data = data.as_file().unwrap();
    assert_eq!(data.read_at(far - 13, &mut buf), 16);
    assert_eq!(&buf[..13], &[0u8; 13]);
    assert_eq!(&buf[13..], b"end");
    assert_eq!(data.read_at(CHUNK_SIZE as u64, &mut buf), 16);
    assert_eq!(buf, [0u8; 16]);
}

#[test]
fn hard_links_share_an_inode_and_count_links() {
    let vfs = tree();
    let root = vfs.root();
    root.link(b"file", &root, b"dir/alias", T1).unwrap();
    let a = stat(&root, "file").unwrap();
    let b = stat(&root, "dir/alias").unwrap();
    assert_eq!(a.ino, b.ino);
    assert_eq!((a.nlink, b.nlink), (2, 2));
    assert_eq!(a.ctim, T1);
    let alias = file(&root, "dir/alias", opts()).unwrap();
    write(&alias, 5, b"!");
    assert_eq!(contents(&file(&root, "file", opts()).unwrap()), b"hello!");
    root.unlink_file(b"file", T1).unwrap();
    assert_eq!(stat(&root, "dir/alias").unwrap().nlink, 1);
    assert_eq!(stat(&root, "file").err(), Some(Errno::Noent));
    // Directories cannot be hard-linked, and the new name must be free.
    assert_eq!(root.link(b"dir", &root, b"d2", T1), Err(Errno::Perm));
    assert_eq!(
        root.link(b"dir/alias", &root, b"dir/inner", T1),
        Err(Errno::Exist)
    );
    assert_eq!(root.link(b"dir/alias", &root, b"x/", T1), Err(Errno::Noent));
    assert_eq!(root.link(b"nothing", &root, b"x", T1), Err(Errno::Noent));
}

#[test]
fn directory_link_counts() {
    let vfs = tree();
    let root = vfs.root();
    assert_eq!(
        stat(&root, "dir").unwrap().nlink,
        3,
        "entry, '.', and sub's '..'"
    );
    root.create_dir(b"dir/sub2", T1).unwrap();
    assert_eq!(stat(&root, "dir").unwrap().nlink, 4);
    assert_eq!(stat(&root, "dir").unwrap().mtim, T1);
    root.remove_dir(b"dir/sub2", T1).unwrap();
    root.rename(b"dir/sub", &root, b"sub", T1).unwrap();
    assert_eq!(stat(&root, "dir").unwrap().nlink, 2);
    assert_eq!(
        stat(&root, ".").unwrap().nlink,
        4,
        "root: '.', '..' of dir and sub"
    );
}

#[test]
fn unlinked_file_stays_readable_while_open_then_is_freed() {
    let vfs = tree();
    let root = vfs.root();
    let node = file(&root, "file", opts()).unwrap();
    let weak = Rc::downgrade(&node);
    root.unlink_file(b"file", T1).unwrap();
    assert_eq!(contents(&node), b"hello");
    assert_eq!(node.borrow().nlink, 0);
    write(&node, 0, b"J");
    assert_eq!(contents(&node), b"Jello");
    drop(node);
    assert!(weak.upgrade().is_none(), "freed with its last handle");
}

#[test]
fn unlink_and_rmdir_errors() {
    let vfs = tree();
    let root = vfs.root();
    assert_eq!(root.unlink_file(b"dir", T1), Err(Errno::Isdir));
    assert_eq!(root.unlink_file(b"dir/", T1), Err(Errno::Isdir));
    assert_eq!(root.unlink_file(b"file/", T1), Err(Errno::Notdir));
    assert_eq!(root.unlink_file(b".", T1), Err(Errno::Isdir));
    assert_eq!(root.unlink_file(b"nope", T1), Err(Errno::Noent));
    assert_eq!(root.remove_dir(b"dir", T1), Err(Errno::Notempty));
    assert_eq!(root.remove_dir(b"file", T1), Err(Errno::Notdir));
    assert_eq!(root.remove_dir(b"file/", T1), Err(Errno::Notdir));
    assert_eq!(root.remove_dir(b".", T1), Err(Errno::Inval));
    assert_eq!(root.remove_dir(b"dir/sub/..", T1), Err(Errno::Notempty));
    root.remove_dir(b"dir/sub/", T1).unwrap();
    assert_eq!(stat(&root, "dir/sub").err(), Some(Errno::Noent));
    assert_eq!(root.create_dir(b"dir", T1), Err(Errno::Exist));
    assert_eq!(root.create_dir(b"dir/.", T1), Err(Errno::Exist));
    assert_eq!(root.create_dir(b"file/x", T1), Err(Errno::Notdir));
    root.create_dir(b"new/", T1).unwrap();
}

#[test]
fn creating_in_a_removed_directory_is_enoent() {
    let vfs = tree();
    let root = vfs.root();
    let sub = subdir(&root, "dir/sub").unwrap();
    root.remove_dir(b"dir/sub", T1).unwrap();
    assert_eq!(sub.create_dir(b"x", T1), Err(Errno::Noent));
    assert_eq!(file(&sub, "x", create()).err(), Some(Errno::Noent));
    assert_eq!(sub.symlink(b"t", b"l", T1), Err(Errno::Noent));
    assert_eq!(sub.filestat().nlink, 0);
}

#[test]
fn rename_files_and_directories() {
    let vfs = tree();
    let root = vfs.root();
    // File over file: the old target loses a link but lives on while open.
    let victim = file(&root, "dir/inner", opts()).unwrap();
    root.rename(b"file", &root, b"dir/inner", T1).unwrap();
    assert_eq!(victim.borrow().nlink, 0);
    assert_eq!(
        contents(&file(&root, "dir/inner", opts()).unwrap()),
        b"hello"
    );
    assert_eq!(stat(&root, "file").err(), Some(Errno::Noent));
    // Directory over an empty directory, then over a non-empty one.
    root.create_dir(b"empty", T1).unwrap();
    root.rename(b"dir/sub", &root, b"empty", T1).unwrap();
    assert_eq!(stat(&root, "dir/sub").err(), Some(Errno::Noent));
    assert_eq!(
        root.rename(b"empty", &root, b"dir", T1),
        Err(Errno::Notempty)
    );
    // Type mismatches.
    assert_eq!(
        root.rename(b"dir/inner", &root, b"empty", T1),
        Err(Errno::Isdir)
    );
    assert_eq!(
        root.rename(b"empty", &root, b"dir/inner", T1),
        Err(Errno::Notdir)
    );
    assert_eq!(
        root.rename(b"dir/inner/", &root, b"x", T1),
        Err(Errno::Notdir)
    );
    // Into its own subtree, or onto itself through '.'.
    root.create_dir(b"dir/deep", T1).unwrap();
    assert_eq!(
        root.rename(b"dir", &root, b"dir/deep/x", T1),
        Err(Errno::Inval)
    );
    assert_eq!(root.rename(b"dir", &root, b"dir/x", T1), Err(Errno::Inval));
    assert_eq!(root.rename(b"dir/.", &root, b"y", T1), Err(Errno::Busy));
    // Between two handles, including into a subtree seen only through the second handle.
    let deep = subdir(&root, "dir/deep").unwrap();
    assert_eq!(root.rename(b"dir", &deep, b"x", T1), Err(Errno::Inval));
    root.rename(b"empty", &deep, b"moved", T1).unwrap();
    assert_eq!(
        stat(&root, "dir/deep/moved").unwrap().filetype,
        Filetype::Directory
    );
    // Trailing slashes on directories are fine.
    root.rename(b"dir/deep/moved/", &root, b"back/", T1)
        .unwrap();
    assert!(stat(&root, "back").is_ok());
    // A missing source.
    assert_eq!(root.rename(b"gone", &root, b"x", T1), Err(Errno::Noent));
}

#[test]
fn rename_between_two_names_of_one_inode_does_nothing() {
    let vfs = tree();
    let root = vfs.root();
    root.link(b"file", &root, b"other", T1).unwrap();
    root.rename(b"file", &root, b"other", T1).unwrap();
    assert_eq!(stat(&root, "file").unwrap().nlink, 2);
    assert_eq!(stat(&root, "other").unwrap().nlink, 2);
}

#[test]
fn renamed_directory_reports_its_new_parent() {
    let vfs = tree();
    let root = vfs.root();
    root.rename(b"dir/sub", &root, b"sub", T1).unwrap();
    let sub = subdir(&root, "sub").unwrap();
    let mut entries = Vec::new();
    sub.read_dir(0, |_, ino, _, name| {
        entries.push((name.to_vec(), ino));
        true
    });
    let root_ino = root.filestat().ino;
    assert_eq!(
        entries,
        [
            (b".".to_vec(), sub.filestat().ino),
            (b"..".to_vec(), root_ino)
        ]
    );
}

#[test]
fn dot_dot_never_leaves_the_start_directory() {
    let vfs = tree();
    let root = vfs.root();
    assert_eq!(stat(&root, "..").err(), Some(Errno::Notcapable));
    assert_eq!(stat(&root, "dir/../..").err(), Some(Errno::Notcapable));
    assert_eq!(
        stat(&root, "dir/sub/../../../file").err(),
        Some(Errno::Notcapable)
    );
    assert_eq!(stat(&root, "/file").err(), Some(Errno::Notcapable));
    assert!(stat(&root, "dir/sub/../../file").is_ok());
    // A handle on a subdirectory is its own sandbox, even though the parent exists.
    let dir = subdir(&root, "dir").unwrap();
    assert!(stat(&dir, "sub/..").is_ok());
    assert_eq!(stat(&dir, "../file").err(), Some(Errno::Notcapable));
    assert_eq!(dir.create_dir(b"../escape", T1), Err(Errno::Notcapable));
    assert_eq!(dir.unlink_file(b"../file", T1), Err(Errno::Notcapable));
    assert_eq!(
        dir.rename(b"inner", &dir, b"../x", T1),
        Err(Errno::Notcapable)
    );
}

#[test]
fn symlinks_resolve_inside_the_sandbox_only() {
    let vfs = tree();
    let root = vfs.root();
    root.symlink(b"../file", b"dir/up", T1).unwrap();
    root.symlink(b"sub/../inner", b"dir/rel", T1).unwrap();
    root.symlink(b"dir/sub/", b"tosub", T1).unwrap();
    root.symlink(b"../../etc", b"dir/out", T1).unwrap();
    vfs.symlink(b"/file", b"abs", T1).unwrap();
    assert_eq!(root.stat(b"dir/up", true).unwrap().size, 5);
    assert_eq!(root.stat(b"dir/rel", true).unwrap().size, 5);
    assert_eq!(
        root.stat(b"tosub", true).unwrap().filetype,
        Filetype::Directory
    );
    assert_eq!(
        root.stat(b"tosub", false).unwrap().filetype,
        Filetype::SymbolicLink
    );
    assert_eq!(
        root.stat(b"tosub/", false).unwrap().filetype,
        Filetype::Directory
    );
    assert_eq!(root.stat(b"dir/out", true).err(), Some(Errno::Notcapable));
    assert_eq!(root.stat(b"abs", true).err(), Some(Errno::Notcapable));
    assert_eq!(
        root.stat(b"abs", false).unwrap().size,
        5,
        "the link itself is fine"
    );
    // From a handle on `dir`, a link climbing out of it is refused.
    let dir = subdir(&root, "dir").unwrap();
    assert_eq!(dir.stat(b"up", true).err(), Some(Errno::Notcapable));
    assert_eq!(dir.stat(b"rel", true).unwrap().size, 5);
    // Guests may not create absolute or empty links.
    assert_eq!(root.symlink(b"/etc", b"x", T1), Err(Errno::Notcapable));
    assert_eq!(root.symlink(b"", b"x", T1), Err(Errno::Noent));
    assert_eq!(root.readlink(b"dir/up").unwrap(), b"../file");
    assert_eq!(root.readlink(b"file"), Err(Errno::Inval));
}

#[test]
fn symlink_loops_and_hop_limit() {
    let vfs = Vfs::new(T0);
    let root = vfs.root();
    root.symlink(b"self", b"self", T1).unwrap();
    root.symlink(b"b", b"a", T1).unwrap();
    root.symlink(b"a", b"b", T1).unwrap();
    assert_eq!(root.stat(b"self", true).err(), Some(Errno::Loop));
    assert_eq!(root.stat(b"a/x", false).err(), Some(Errno::Loop));
    assert_eq!(
        file(&root, "self", opts()).err(),
        Some(Errno::Loop),
        "nofollow"
    );
    vfs.write_file(b"target", b"t", T0).unwrap();
    let mut previous = alloc::string::String::from("target");
    for hop in 0..path::MAX_SYMLINK_HOPS {
        let name = alloc::format!("l{hop}");
        root.symlink(previous.as_bytes(), name.as_bytes(), T1)
            .unwrap();
        previous = name;
    }
    assert_eq!(root.stat(previous.as_bytes(), true).unwrap().size, 1);
    root.symlink(previous.as_bytes(), b"one_more", T1).unwrap();
    assert_eq!(root.stat(b"one_more", true).err(), Some(Errno::Loop));
}

#[test]
fn trailing_slashes_dots_and_bad_paths() {
    let vfs = tree();
    let root = vfs.root();
    assert_eq!(stat(&root, "file/").err(), Some(Errno::Notdir));
    assert_eq!(stat(&root, "file///").err(), Some(Errno::Notdir));
    assert_eq!(stat(&root, "file/.").err(), Some(Errno::Notdir));
    assert_eq!(stat(&root, "file/x").err(), Some(Errno::Notdir));
    assert!(stat(&root, "dir//sub///").is_ok());
    assert!(stat(&root, "./dir/./sub/.").is_ok());
    assert_eq!(stat(&root, ".").unwrap().ino, ROOT_INO);
    let inner = stat(&root, "dir/inner").unwrap().ino;
    assert_eq!(stat(&root, "dir/.//sub/../inner").unwrap().ino, inner);
    assert_eq!(stat(&root, "").err(), Some(Errno::Noent));
    assert_eq!(stat(&root, "dir/nope/..").err(), Some(Errno::Noent));
    assert_eq!(root.stat(b"fi\0le", false).err(), Some(Errno::Ilseq));
    assert_eq!(root.stat(b"\xff", false).err(), Some(Errno::Ilseq));
    let long = vec![b'a'; 256];
    assert_eq!(root.stat(&long, false).err(), Some(Errno::Nametoolong));
    assert_eq!(root.create_dir(&long, T1), Err(Errno::Nametoolong));
    assert_eq!(
        root.stat(&vec![b'a'; 5000], false).err(),
        Some(Errno::Nametoolong)
    );
    // Creating through a trailing slash.
    assert_eq!(file(&root, "new/", create()).err(), Some(Errno::Isdir));
    assert_eq!(root.symlink(b"file", b"dangling/", T1), Err(Errno::Noent));
    assert_eq!(root.symlink(b"x", b"file/", T1), Err(Errno::Notdir));
    assert_eq!(root.symlink(b"x", b"dir/", T1), Err(Errno::Exist));
    assert_eq!(
        root.link(b"file", &root, b"dir/inner/", T1),
        Err(Errno::Notdir)
    );
}

#[test]
fn open_checks_types() {
    let vfs = tree();
    let root = vfs.root();
    root.symlink(b"dir", b"link", T1).unwrap();
    let directory = OpenOptions {
        directory: true,
        ..opts()
    };
    assert!(matches!(
        root.open(b"dir", directory, T1),
        Ok(Opened::Dir(_))
    ));
    assert!(matches!(root.open(b"dir", opts(), T1), Ok(Opened::Dir(_))));
    assert!(matches!(root.open(b".", opts(), T1), Ok(Opened::Dir(_))));
    assert_eq!(
        root.open(b"file", directory, T1).err().map(|_| ()),
        Some(())
    );
    assert!(matches!(
        root.open(b"file", directory, T1),
        Err(Errno::Notdir)
    ));
    assert!(matches!(root.open(b"dir", create(), T1), Err(Errno::Isdir)));
    let write = OpenOptions {
        write: true,
        ..opts()
    };
    assert!(matches!(root.open(b"dir", write, T1), Err(Errno::Isdir)));
    assert!(matches!(
        root.open(b"link", directory, T1),
        Err(Errno::Loop)
    ));
    let follow_dir = OpenOptions {
        follow: true,
        ..directory
    };
    assert!(matches!(
        root.open(b"link", follow_dir, T1),
        Ok(Opened::Dir(_))
    ));
}

#[test]
fn readdir_cookies_survive_changes() {
    let vfs = Vfs::new(T0);
    let root = vfs.root();
    for name in ["a", "b", "c", "d"] {
        vfs.write_file(name.as_bytes(), b"", T0).unwrap();
    }
    let list = |cookie| {
        let mut out = Vec::new();
        root.read_dir(cookie, |next, _, _, name| {
            out.push((
                next,
                alloc::string::String::from_utf8(name.to_vec()).unwrap(),
            ));
            true
        });
        out
    };
    let all = list(0);
    let names: Vec<_> = all.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, [".", "..", "a", "b", "c", "d"]);
    // Resume after "b" once "a" and "c" are gone and "e" is new.
    let after_b = all[3].0;
    root.unlink_file(b"a", T1).unwrap();
    root.unlink_file(b"c", T1).unwrap();
    vfs.write_file(b"e", b"", T1).unwrap();
    let rest: Vec<_> = list(after_b).into_iter().map(|(_, n)| n).collect();
    assert_eq!(rest, ["d", "e"]);
    assert!(list(u64::MAX).is_empty());
    let from_dot_dot: Vec<_> = list(1).into_iter().map(|(_, n)| n).collect();
    assert_eq!(from_dot_dot, ["..", "b", "d", "e"]);
}

#[test]
fn import_and_export_round_trip() {
    let vfs = Vfs::new(T0);
    vfs.create_dir(b"/etc", T0).unwrap();
    vfs.write_file(b"/etc/motd", b"hi there", T0).unwrap();
    vfs.hard_link(b"/etc/motd", b"/motd", T0).unwrap();
    vfs.symlink(b"etc/motd", b"/link", T0).unwrap();
    vfs.set_times(b"/etc/motd", 11, 22, Some(33)).unwrap();
    vfs.set_mode(b"/etc/motd", 0o600).unwrap();
    vfs.set_times(b"/link", 44, 55, None).unwrap();
    assert_eq!(vfs.create_dir(b"/no/parent", T0), Err(Errno::Noent));
    vfs.write_file(b"/etc/pieces", b"ab", T0).unwrap();
    vfs.write_at(b"/etc/pieces", 2, b"cd").unwrap();
    vfs.write_at(b"etc/pieces", 6, b"g").unwrap();
    assert_eq!(vfs.write_at(b"/etc", 0, b"x"), Err(Errno::Isdir));
    assert_eq!(vfs.write_at(b"/etc/none", 0, b"x"), Err(Errno::Noent));
    let pieces = file(&vfs.root(), "etc/pieces", opts()).unwrap();
    assert_eq!(contents(&pieces), b"abcd\0\0g");
    vfs.root().unlink_file(b"etc/pieces", T0).unwrap();
    assert_eq!(vfs.write_file(b"/etc", b"x", T0), Err(Errno::Isdir));

    let exported: Vec<_> = vfs.walk().collect();
    let paths: Vec<_> = exported.iter().map(|e| e.path.as_slice()).collect();
    assert_eq!(paths, [&b"etc"[..], b"etc/motd", b"link", b"motd"]);
    let motd = &exported[1];
    assert_eq!(motd.stat.filetype, Filetype::RegularFile);
    assert_eq!(
        (motd.stat.atim, motd.stat.mtim, motd.stat.ctim),
        (11, 22, 33)
    );
    assert_eq!((motd.stat.nlink, motd.mode), (2, 0o600));
    let mut buf = [0u8; 32];
    let n = motd.node.read_at(0, &mut buf);
    assert_eq!(&buf[..n], b"hi there");
    assert_eq!(motd.node.read_at(3, &mut buf[..2]), 2);
    assert_eq!(&buf[..2], b"th");
    let link = &exported[2];
    assert_eq!(link.node.filetype(), Filetype::SymbolicLink);
    assert_eq!(link.node.symlink_target().unwrap(), b"etc/motd");
    assert_eq!((link.stat.atim, link.stat.mtim), (44, 55));
    assert_eq!(link.node.read_at(0, &mut buf), 0);
    let second = &exported[3];
    assert_eq!(second.ino, motd.ino);
    assert_eq!(exported[0].mode, node::DEFAULT_DIR_MODE);
    assert_eq!(vfs.stat(b"/").unwrap().ino, ROOT_INO);
}

/// Every name's path from the root stays below `PATH_MAX` (the tree goes back to a host):
/// a chain of directories ends in `ENAMETOOLONG`, through fds as through paths, and a rename
/// that would push a subtree past it is refused, while one that fits updates the subtree.
#[test]
fn paths_from_the_root_stay_below_path_max() {
    let vfs = Vfs::new(T0);
    let mut dir = vfs.root();
    let mut depth = 0;
    let name = "d".repeat(99);
    while dir.create_dir(name.as_bytes(), T0).is_ok() {
        dir = subdir(&dir, &name).unwrap();
        depth += 1;
    }
    // Paths of 99, 199, ... bytes: the 41st would be 4099 long.
    assert_eq!(depth, 40);
    assert_eq!(
        dir.create_dir(&name.as_bytes()[..96], T0),
        Err(Errno::Nametoolong)
    );
    assert_eq!(
        dir.symlink(b"x", &name.as_bytes()[..96], T0),
        Err(Errno::Nametoolong)
    );
    assert!(
        dir.create_dir(&name.as_bytes()[..95], T0).is_ok(),
        "4095 bytes fit"
    );
    // Moving the chain one level down pushes its deepest path past the limit...
    let root = vfs.root();
    root.create_dir(b"x", T0).unwrap();
    let top = name.clone();
    assert_eq!(
        root.rename(
            top.as_bytes(),
            &root,
            std::format!("x/{name}").as_bytes(),
            T0
        ),
        Err(Errno::Nametoolong)
    );
    // ...while a shorter name for its top fits, and the levels below follow it.
    root.rename(top.as_bytes(), &root, b"x/s", T0).unwrap();
    let moved = subdir(&root, "x/s").unwrap();
    assert_eq!(moved.node.borrow().as_dir().unwrap().path_len, 3);
    let mut deepest = moved;
    for _ in 1..depth {
        deepest = subdir(&deepest, &name).unwrap();
    }
    assert_eq!(
        deepest.node.borrow().as_dir().unwrap().path_len,
        3 + 39 * 100
    );
    let long = "l".repeat(150);
    assert!(
        deepest.create_dir(long.as_bytes(), T0).is_ok(),
        "room freed by the move"
    );
}

#[test]
fn very_deep_tree_is_freed_without_recursion() {
    let vfs = Vfs::new(T0);
    let mut dir = vfs.root();
    // As deep as paths allow: "d", "d/d", ... up to 4095 bytes.
    for _ in 0..2048 {
        dir.create_dir(b"d", T0).unwrap();
        dir = subdir(&dir, "d").unwrap();
    }
    let weak = Rc::downgrade(&dir.node);
    drop(dir);
    drop(vfs);
    assert!(weak.upgrade().is_none());
}

/// A small deterministic generator for the random-operations test.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Checks what must hold after any sequence of operations: link counts match the names
/// the walk finds, directory counts match their subdirectories, and the file system's size
/// holds at least every inode, name and symlink target of the tree.
fn check_invariants(vfs: &Vfs) {
    let exported: Vec<_> = vfs.walk().collect();
    let mut seen = Vec::new();
    let mut metadata = node::DIR_INODE_COST;
    for entry in &exported {
        let name = entry.path.rsplit(|b| *b == b'/').next().unwrap();
        metadata += node::entry_cost(name);
        if !seen.contains(&entry.ino) {
            metadata += node::inode_cost(entry.stat.filetype, entry.stat.size);
        }
        let names = exported.iter().filter(|e| e.ino == entry.ino).count() as u64;
        if entry.stat.filetype == Filetype::Directory {
            assert_eq!(names, 1, "a directory has one name");
            let mut prefix = entry.path.clone();
            prefix.push(b'/');
            let subdirs = exported
                .iter()
                .filter(|e| e.stat.filetype == Filetype::Directory)
                .filter(|e| e.path.starts_with(&prefix) && !e.path[prefix.len()..].contains(&b'/'))
                .count() as u64;
            assert_eq!(entry.stat.nlink, 2 + subdirs, "{:?}", entry.path);
        } else {
            assert_eq!(entry.stat.nlink, names, "{:?}", entry.path);
        }
        if !seen.contains(&entry.ino) {
            seen.push(entry.ino);
        }
    }
    let root_subdirs = exported
        .iter()
        .filter(|e| e.stat.filetype == Filetype::Directory && !e.path.contains(&b'/'))
        .count() as u64;
    assert_eq!(vfs.stat(b"/").unwrap().nlink, 2 + root_subdirs);
    // Data, and files unlinked while still open, hold more.
    assert!(
        vfs.used_bytes() >= metadata,
        "{} < {metadata}",
        vfs.used_bytes()
    );
}

#[test]
fn random_operations_keep_the_tree_consistent() {
    const PATHS: [&str; 14] = [
        "a", "b", "c", "a/b", "b/c", "a/b/c", "c/a", "../a", "a/../b", "l", "a/l/", "b/",
        "a/b/../c", "l/x",
    ];
    let vfs = Vfs::new(T0);
    let root = vfs.root();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut open_files = Vec::new();
    let mut outcomes = [0usize; 2];
    for step in 0..20_000u64 {
        let path = rng.pick(&PATHS).as_bytes();
        let other = rng.pick(&PATHS).as_bytes();
        let result = match rng.next() % 9 {
            0 => root.create_dir(path, step),
            1 => root.remove_dir(path, step),
            2 => root.unlink_file(path, step),
            3 => root.rename(path, &root, other, step),
            4 => root.link(path, &root, other, step),
            5 => root.symlink(other, path, step),
            6 => root.open(path, create(), step).map(|opened| {
                if let Opened::File(node) = opened {
                    let offset = rng.next() % (3 * CHUNK_SIZE as u64);
                    write(&node, offset, b"data");
                    if rng.next().is_multiple_of(4) {
                        open_files.push(node);
                    }
                }
            }),
            7 => root.stat(path, rng.next().is_multiple_of(2)).map(|_| ()),
            _ => {
                open_files.clear();
                Ok(())
            }
        };
        outcomes[usize::from(result.is_ok())] += 1;
        if step % 500 == 0 {
            check_invariants(&vfs);
        }
    }
    check_invariants(&vfs);
    assert!(vfs.walk().count() > 20, "the walk built a real tree");
    assert!(outcomes[0] > 1000 && outcomes[1] > 1000, "{outcomes:?}");
    // Empty the tree: every chunk is given back once no fd holds a file.
    open_files.clear();
    let all: Vec<_> = vfs.walk().collect();
    for entry in all.into_iter().rev() {
        let path = entry.path.as_slice();
        match entry.stat.filetype {
            Filetype::Directory => vfs.root().remove_dir(path, T1).unwrap(),
            _ => vfs.root().unlink_file(path, T1).unwrap(),
        }
    }
    assert!(vfs.walk().next().is_none());
    assert_eq!(
        vfs.used_bytes(),
        node::DIR_INODE_COST,
        "only the root is left"
    );
    assert_eq!(vfs.stat(b"/").unwrap().nlink, 2);
}

/// Free memory as the fake machine of `memory_guard_stops_growth_before_memory_runs_out` reports it.
static FAKE_FREE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(u64::MAX);

fn fake_free() -> u64 {
    FAKE_FREE.load(core::sync::atomic::Ordering::Relaxed)
}

#[test]
fn memory_guard_stops_growth_before_memory_runs_out() {
    const KEEP: u64 = 1 << 20;
    let vfs = Vfs::new(1);
    vfs.set_memory_guard(Some(MemoryGuard {
        free: fake_free,
        keep: KEEP,
    }));
    let root = vfs.root();
    vfs.write_file(b"kept", b"data", 2).unwrap();
    // Plenty of memory: anything goes.
    FAKE_FREE.store(KEEP + (1 << 30), core::sync::atomic::Ordering::Relaxed);
    vfs.write_file(b"a", &[1u8; 100_000], 2).unwrap();
    // Memory at the floor: no new inode of any kind, no new data chunk.
    FAKE_FREE.store(KEEP, core::sync::atomic::Ordering::Relaxed);
    assert_eq!(root.create_dir(b"d", 3), Err(Errno::Nospc));
    assert_eq!(vfs.write_file(b"new", b"", 3), Err(Errno::Nospc));
    assert_eq!(root.symlink(b"kept", b"s", 3), Err(Errno::Nospc));
    assert_eq!(
        vfs.write_at(b"kept", 10 * CHUNK_SIZE as u64, b"x"),
        Err(Errno::Nospc)
    );
    // What exists stays readable and writable within its chunks; deleting still works.
    vfs.write_at(b"kept", 1, b"A").unwrap();
    root.unlink_file(b"a", 4).unwrap();
    FAKE_FREE.store(u64::MAX, core::sync::atomic::Ordering::Relaxed);
    root.create_dir(b"d", 5).unwrap();
}

#[test]
fn a_null_device_reads_empty_takes_writes_and_is_a_character_device() {
    let vfs = Vfs::new(T0);
    let root = vfs.root();
    root.create_dir(b"dev", T1).unwrap();
    root.make_device(b"dev/null", Device::Null, T1).unwrap();
    assert_eq!(
        root.make_device(b"dev/null", Device::Null, T1),
        Err(Errno::Exist)
    );
    let options = OpenOptions {
        write: true,
        truncate: true,
        ..OpenOptions::default()
    };
    let Ok(Opened::Device(node)) = root.open(b"dev/null", options, T1) else {
        panic!("/dev/null did not open as a device");
    };
    let mut device = OpenDevice::new(node);
    let mut platform = crate::syscalls::tests::Fake::default();
    assert_eq!(device.write(&mut platform, b"gone"), Ok(4));
    assert_eq!(device.read(&mut platform, &mut [0; 8]), Ok(0));
    let stat = device.filestat().unwrap();
    assert_eq!(stat.filetype, Filetype::CharacterDevice);
    assert_eq!(stat.size, 0);
    assert_eq!(root.stat(b"dev/null", true).unwrap().size, 0);
    // Not a directory, and gone like any other name.
    assert_eq!(root.open_dir(b"dev/null").err(), Some(Errno::Notdir));
    root.unlink_file(b"dev/null", T1).unwrap();
}

/// The write-back archive holds a hard link with two paths: its entry is charged for them,
/// and keeps that charge through renames.
#[test]
fn a_hard_link_is_charged_for_its_two_paths_and_keeps_that_through_renames() {
    let vfs = Vfs::new(T0);
    vfs.write_file(b"f", b"x", T0).unwrap();
    let before = vfs.used_bytes();
    vfs.hard_link(b"f", b"g", T0).unwrap();
    let link = |name: &[u8]| node::entry_cost(name) + node::HARD_LINK_COST;
    assert_eq!(vfs.used_bytes() - before, link(b"g"));
    let root = vfs.root();
    root.rename(b"g", &root, b"a-longer-name", T0).unwrap();
    assert_eq!(vfs.used_bytes() - before, link(b"a-longer-name"));
    root.rename(b"a-longer-name", &root, b"h", T0).unwrap();
    assert_eq!(vfs.used_bytes() - before, link(b"h"));
    root.unlink_file(b"h", T0).unwrap();
    assert_eq!(vfs.used_bytes(), before);
}
