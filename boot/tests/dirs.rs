//! Integration tests of `--dir`: programs in Cella read a host directory, change it, and the
//! host directory is checked afterwards for the write-back.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;

use common::{Run, Scratch, assert_ok, cella, program};

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `files` with `ops` (split at `--`) over `--dir tree::/data` of `scratch`.
fn files(scratch: &Scratch, extra: &[&str], ops: &[&str]) -> Run {
    let dir = scratch.arg("tree", "/data");
    let files = program("files");
    let mut args = vec!["--dir", &dir];
    args.extend_from_slice(extra);
    args.push(&files);
    args.extend_from_slice(ops);
    cella(&args)
}

fn sample_tree(scratch: &Scratch) {
    let tree = scratch.path("tree");
    fs::create_dir_all(tree.join("sub/deeper")).unwrap();
    fs::write(tree.join("a.txt"), "alpha\n").unwrap();
    fs::write(tree.join("sub/b.txt"), "beta\n").unwrap();
    fs::write(tree.join("sub/deeper/c.txt"), "gamma\n").unwrap();
    fs::write(tree.join("doomed"), "bye\n").unwrap();
    symlink("sub/b.txt", tree.join("link-to-b")).unwrap();
    fs::hard_link(tree.join("a.txt"), tree.join("a-twin")).unwrap();
}

#[test]
fn a_program_sees_the_host_tree_and_its_changes_are_written_back() {
    for mode in [None, Some("--uefi")] {
        let scratch = Scratch::new(if mode.is_some() { "uefi" } else { "bios" });
        sample_tree(&scratch);
        let run = files(
            &scratch,
            &mode.into_iter().collect::<Vec<_>>(),
            &[
                "ls",
                "/data",
                "--",
                "cat",
                "/data/link-to-b",
                "--",
                "cat",
                "/data/a-twin",
                "--",
                "write",
                "/data/new.txt",
                "made in Cella",
                "--",
                "append",
                "/data/a.txt",
                "more\n",
                "--",
                "mv",
                "/data/sub",
                "/data/renamed",
                "--",
                "rm",
                "/data/doomed",
                "--",
                "mkdir",
                "/data/x/y/z",
                "--",
                "ln",
                "-s",
                "renamed/deeper/c.txt",
                "c-link",
                "--",
                "ln",
                "/data/new.txt",
                "/data/new-twin",
            ],
        );
        assert_ok(&run);
        assert_eq!(
            run.stdout(),
            "dir sub -\nfile a-twin 6\nfile a.txt 6\nfile doomed 4\nlink link-to-b -\nbeta\nalpha\n",
            "{mode:?}"
        );
        let tree = scratch.path("tree");
        assert_eq!(read(&tree.join("new.txt")), "made in Cella");
        // Appending through one name shows through the other: they stayed one inode.
        assert_eq!(read(&tree.join("a.txt")), "alpha\nmore\n");
        assert_eq!(read(&tree.join("a-twin")), "alpha\nmore\n");
        let (a, twin) = (
            fs::metadata(tree.join("a.txt")).unwrap(),
            fs::metadata(tree.join("a-twin")).unwrap(),
        );
        assert_eq!((a.ino(), a.nlink()), (twin.ino(), 2));
        assert_eq!(
            fs::metadata(tree.join("new-twin")).unwrap().ino(),
            fs::metadata(tree.join("new.txt")).unwrap().ino()
        );
        assert!(!tree.join("sub").exists() && !tree.join("doomed").exists());
        assert_eq!(read(&tree.join("renamed/deeper/c.txt")), "gamma\n");
        assert!(tree.join("x/y/z").is_dir());
        assert_eq!(
            fs::read_link(tree.join("c-link")).unwrap(),
            Path::new("renamed/deeper/c.txt")
        );
        // A symlink made by the host still points where it did (now dangling, as on Linux).
        assert_eq!(
            fs::read_link(tree.join("link-to-b")).unwrap(),
            Path::new("sub/b.txt")
        );
    }
}

#[test]
fn changes_are_written_back_even_when_the_program_fails_or_traps() {
    let scratch = Scratch::new("fail");
    sample_tree(&scratch);
    let run = files(
        &scratch,
        &[],
        &["write", "/data/before-trap", "kept", "--", "abort"],
    );
    assert_eq!(run.status, 134, "{run:?}");
    assert_eq!(read(&scratch.path("tree/before-trap")), "kept");

    let run = files(
        &scratch,
        &[],
        &["rm", "/data/a.txt", "--", "cat", "/data/nonexistent"],
    );
    assert_eq!(run.status, 1, "{run:?}");
    assert!(
        run.stdout().contains("error: cat /data/nonexistent"),
        "{}",
        run.stdout()
    );
    assert!(!scratch.path("tree/a.txt").exists());
    assert_eq!(read(&scratch.path("tree/a-twin")), "alpha\n");
}

#[test]
fn nothing_outside_the_directory_is_reachable_or_touched() {
    let scratch = Scratch::new("escape");
    sample_tree(&scratch);
    fs::write(scratch.path("secret"), "outside\n").unwrap();
    // Host symlinks that point out of the tree, absolutely and relatively.
    symlink(scratch.path("secret"), scratch.path("tree/abs-escape")).unwrap();
    symlink("../secret", scratch.path("tree/rel-escape")).unwrap();
    let run = files(
        &scratch,
        &[],
        &[
            "cat",
            "/data/../secret",
            "--",
            "cat",
            "/data/abs-escape",
            "--",
            "cat",
            "/data/rel-escape",
            "--",
            "write",
            "/data/rel-escape",
            "overwritten",
            "--",
            "write",
            "/data/../planted",
            "x",
            "--",
            "ln",
            "-s",
            "../../etc",
            "sneaky",
            "--",
            "cat",
            "/data/sneaky/passwd",
        ],
    );
    assert_eq!(run.status, 1, "{run:?}");
    assert!(
        !run.stdout().contains("outside"),
        "a read escaped: {}",
        run.stdout()
    );
    assert_eq!(
        run.stdout()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        6,
        "{}",
        run.stdout()
    );
    assert_eq!(read(&scratch.path("secret")), "outside\n");
    assert!(!scratch.path("planted").exists());
    // The escaping symlinks are still symlinks with their targets.
    assert_eq!(
        fs::read_link(scratch.path("tree/rel-escape")).unwrap(),
        Path::new("../secret")
    );
}

#[test]
fn a_c_program_with_wasi_libc_works_on_a_dir() {
    let scratch = Scratch::new("c");
    let tree = scratch.path("tree");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("input.txt"), "one\ntwo\nthree\n").unwrap();
    fs::write(tree.join("old-name"), "x").unwrap();
    fs::write(tree.join("remove-me"), "y").unwrap();
    let dir = scratch.arg("tree", "/work");
    let run = cella(&["--dir", &dir, &program("cfiles"), "/work"]);
    assert_ok(&run);
    assert_eq!(
        run.stdout(),
        "file input.txt 14\ndir made 0\nfile new-name 1\nfile output.txt 23\n"
    );
    assert_eq!(read(&tree.join("output.txt")), "1: three\n2: two\n3: one\n");
    assert!(tree.join("made/deeper").is_dir() && !tree.join("remove-me").exists());
    assert_eq!(read(&tree.join("new-name")), "x");
}

#[test]
fn a_large_file_is_written_read_back_and_reaches_the_host_intact() {
    let scratch = Scratch::new("large");
    fs::create_dir(scratch.path("tree")).unwrap();
    let run = files(
        &scratch,
        &[],
        &["big", "/data/blob", "16", "--", "sum", "/data/blob"],
    );
    assert_ok(&run);
    let sums: Vec<&str> = run
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    assert_eq!(sums.len(), 2, "{}", run.stdout());
    assert_eq!(
        sums[0], sums[1],
        "the checksum read back differs from the one written"
    );
    let blob = fs::read(scratch.path("tree/blob")).unwrap();
    assert_eq!(blob.len(), 16 << 20);
    // The same pattern and FNV-1a checksum as the program computes.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, chunk) in blob.chunks(1 << 20).enumerate() {
        for (j, &byte) in chunk.iter().enumerate() {
            assert_eq!(
                byte,
                (i * 31 + j * 7 + (j >> 11)) as u8,
                "byte {j} of MiB {i}"
            );
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x100_0000_01b3);
        }
    }
    assert_eq!(format!("{hash:016x}"), sums[0]);

    // Loaded again: the program reads what the host has.
    let run = files(&scratch, &[], &["sum", "/data/blob"]);
    assert_ok(&run);
    assert_eq!(run.stdout().trim(), sums[0]);
}

#[test]
fn bad_dirs_are_one_line_errors_and_special_files_are_skipped() {
    let scratch = Scratch::new("bad");
    let run = cella(&["--dir", &scratch.arg("missing", "/x"), &program("hello")]);
    assert_eq!(run.status, 2, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("no such directory"), "{}", run.stderr);
    fs::write(scratch.path("plain"), "x").unwrap();
    let run = cella(&["--dir", &scratch.arg("plain", "/x"), &program("hello")]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("not a directory"), "{}", run.stderr);

    // More than a 64M guest can hold (a sparse file: its size is what counts).
    fs::create_dir(scratch.path("huge")).unwrap();
    fs::File::create(scratch.path("huge/blob"))
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    let run = cella(&[
        "-m",
        "64M",
        "--dir",
        &scratch.arg("huge", "/h"),
        &program("hello"),
    ]);
    assert_eq!(run.status, 2, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("100 MiB") && run.stderr.contains("-m"),
        "{}",
        run.stderr
    );

    fs::create_dir(scratch.path("tree")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(scratch.path("tree/sock")).unwrap();
    let run = files(
        &scratch,
        &[],
        &["ls", "/data", "--", "write", "/data/f", "ok"],
    );
    assert_ok(&run);
    assert_eq!(run.stdout(), "");
    assert!(
        run.stderr.contains("skipping") && run.stderr.contains("sock"),
        "{}",
        run.stderr
    );
    assert!(
        scratch.path("tree/sock").exists(),
        "the socket was removed by the write-back"
    );
    assert_eq!(read(&scratch.path("tree/f")), "ok");
}

#[test]
fn two_dirs_and_a_nested_one_share_one_view() {
    let scratch = Scratch::new("two");
    sample_tree(&scratch);
    fs::create_dir(scratch.path("other")).unwrap();
    let tree = scratch.arg("tree", "/data");
    let sub = scratch.arg("tree/sub", "/sub");
    let other = scratch.arg("other", "/other");
    let files = program("files");
    let run = cella(&[
        "--dir",
        &tree,
        "--dir",
        &sub,
        "--dir",
        &other,
        &files,
        "write",
        "/sub/via-sub",
        "1",
        "--",
        "cat",
        "/data/sub/via-sub",
        "--",
        "write",
        "/other/o",
        "2",
    ]);
    assert_ok(&run);
    assert_eq!(run.stdout(), "1");
    assert_eq!(read(&scratch.path("tree/sub/via-sub")), "1");
    assert_eq!(read(&scratch.path("other/o")), "2");
}

#[test]
fn filling_memory_with_files_is_enospc_and_what_fits_is_written_back() {
    // A program writing more than a 64 MiB guest holds: the file system says ENOSPC (the
    // program reports the error and goes on), the kernel survives, and the part that fit
    // reaches the host whole even though the VFS then fills most of the guest's memory.
    let scratch = Scratch::new("full");
    fs::create_dir(scratch.path("tree")).unwrap();
    let run = files(
        &scratch,
        &["-m", "64M"],
        &["big", "/data/blob", "60", "--", "write", "/data/after", "x"],
    );
    assert_eq!(run.status, 1, "{run:?}");
    let stdout = run.stdout();
    assert!(
        stdout.contains("error: big /data/blob 60: No space left on device"),
        "{stdout}"
    );
    let size = fs::metadata(scratch.path("tree/blob")).unwrap().len();
    assert!(
        size > 16 << 20 && size < 60 << 20 && size.is_multiple_of(1 << 16),
        "{size} bytes written back"
    );
}
