//! Host tests of the filesystem syscalls through `dispatch`, over a VFS preopened as `/` at
//! fd 3, with hostile pointers where they matter.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use super::{Fake, Harness, REALTIME_OFFSET, poll};
use crate::errno::Errno;
use crate::fdtable::{DIR_RIGHTS, FILE_RIGHTS, PREOPEN_INHERITING};
use crate::outcome::Trap;
use crate::types::{
    Dirent, Event, Eventrwflags, Eventtype, Fdflags, Fdstat, Filestat, Filetype, Fstflags,
    Lookupflags, Oflags, Rights, Subscription, SubscriptionKind,
};
use crate::vfs::Vfs;
use crate::vfs::node::{DIR_INODE_COST, INODE_COST, entry_cost};

const ROOT: u32 = 3;
const PATH: u32 = 0x1000;
const PATH2: u32 = 0x1800;
const IOV: u32 = 0x2000;
const OUT: u32 = 0x2100;
const STAT: u32 = 0x2200;
const DATA: u32 = 0x4000;
const FOLLOW: u32 = Lookupflags::SYMLINK_FOLLOW.bits();

type Res<T = ()> = core::result::Result<T, Errno>;
/// Whole entries parsed from a `fd_readdir` buffer.
type Listing = Vec<(Dirent, Vec<u8>)>;

fn res(errno: Errno) -> Res {
    match errno {
        Errno::Success => Ok(()),
        errno => Err(errno),
    }
}

/// A harness with an empty VFS preopened as `/` (fd 3).
fn harness() -> (Harness, Vfs) {
    let mut h = Harness::new();
    let vfs = Vfs::new(REALTIME_OFFSET);
    assert_eq!(h.ctx.add_preopen(b"/", vfs.root()), Ok(ROOT));
    (h, vfs)
}

impl Harness {
    /// Puts `path` at `at` and returns the (pointer, length) arguments for it.
    fn put(&mut self, at: u32, path: &[u8]) -> [u64; 2] {
        self.set_bytes(at, path);
        [at.into(), path.len() as u64]
    }

    fn open_with(
        &mut self,
        dir: u32,
        lookup: u32,
        path: &str,
        oflags: Oflags,
        base: Rights,
        fdflags: Fdflags,
    ) -> Res<u32> {
        let [ptr, len] = self.put(PATH, path.as_bytes());
        let args = [
            dir.into(),
            lookup.into(),
            ptr,
            len,
            oflags.bits().into(),
            base.bits(),
            PREOPEN_INHERITING.bits(),
            fdflags.bits().into(),
            OUT.into(),
        ];
        res(self.errno("path_open", &args)).map(|()| self.u32_at(OUT))
    }

    fn open(&mut self, path: &str, oflags: Oflags, base: Rights) -> Res<u32> {
        self.open_with(ROOT, 0, path, oflags, base, Fdflags::EMPTY)
    }

    /// Creates (or opens) `path` with every file right.
    fn create(&mut self, path: &str) -> u32 {
        self.open(path, Oflags::CREAT, FILE_RIGHTS).unwrap()
    }

    fn write_fd(&mut self, fd: u32, data: &[u8]) -> Res<u32> {
        self.set_bytes(DATA, data);
        self.set_iovecs(IOV, &[(DATA, data.len() as u32)]);
        res(self.errno("fd_write", &[fd.into(), IOV.into(), 1, OUT.into()]))
            .map(|()| self.u32_at(OUT))
    }

    fn read_fd(&mut self, fd: u32, len: u32) -> Res<Vec<u8>> {
        self.set_iovecs(IOV, &[(DATA, len)]);
        res(self.errno("fd_read", &[fd.into(), IOV.into(), 1, OUT.into()]))?;
        let n = self.u32_at(OUT);
        Ok(self.bytes(DATA, n as usize).to_vec())
    }

    fn seek(&mut self, fd: u32, offset: i64, whence: u32) -> Res<u64> {
        res(self.errno(
            "fd_seek",
            &[fd.into(), offset as u64, whence.into(), OUT.into()],
        ))
        .map(|()| self.u64_at(OUT))
    }

    /// A `path_*` call taking (fd, path, path_len).
    fn path_call(&mut self, name: &str, dir: u32, path: &str) -> Res {
        let [ptr, len] = self.put(PATH, path.as_bytes());
        res(self.errno(name, &[dir.into(), ptr, len]))
    }

    fn mkdir(&mut self, path: &str) -> Res {
        self.path_call("path_create_directory", ROOT, path)
    }

    fn unlink(&mut self, path: &str) -> Res {
        self.path_call("path_unlink_file", ROOT, path)
    }

    fn rmdir(&mut self, path: &str) -> Res {
        self.path_call("path_remove_directory", ROOT, path)
    }

    fn rename(&mut self, old: &str, new: &str) -> Res {
        let [op, ol] = self.put(PATH, old.as_bytes());
        let [np, nl] = self.put(PATH2, new.as_bytes());
        res(self.errno("path_rename", &[ROOT.into(), op, ol, ROOT.into(), np, nl]))
    }

    fn symlink(&mut self, target: &str, path: &str) -> Res {
        let [tp, tl] = self.put(PATH, target.as_bytes());
        let [pp, pl] = self.put(PATH2, path.as_bytes());
        res(self.errno("path_symlink", &[tp, tl, ROOT.into(), pp, pl]))
    }

    fn link(&mut self, flags: u32, old: &str, new: &str) -> Res {
        let [op, ol] = self.put(PATH, old.as_bytes());
        let [np, nl] = self.put(PATH2, new.as_bytes());
        res(self.errno(
            "path_link",
            &[ROOT.into(), flags.into(), op, ol, ROOT.into(), np, nl],
        ))
    }

    fn stat_at(&mut self, dir: u32, flags: u32, path: &[u8]) -> Res<Filestat> {
        let [ptr, len] = self.put(PATH, path);
        res(self.errno(
            "path_filestat_get",
            &[dir.into(), flags.into(), ptr, len, STAT.into()],
        ))
        .map(|()| self.read::<Filestat>(STAT))
    }

    fn stat(&mut self, path: &str) -> Res<Filestat> {
        self.stat_at(ROOT, 0, path.as_bytes())
    }

    fn fstat(&mut self, fd: u32) -> Res<Filestat> {
        res(self.errno("fd_filestat_get", &[fd.into(), STAT.into()]))
            .map(|()| self.read::<Filestat>(STAT))
    }

    fn fdstat(&mut self, fd: u32) -> Fdstat {
        self.ok("fd_fdstat_get", &[fd.into(), STAT.into()]);
        self.read::<Fdstat>(STAT)
    }

    fn set_rights(&mut self, fd: u32, base: Rights, inheriting: Rights) -> Res {
        res(self.errno(
            "fd_fdstat_set_rights",
            &[fd.into(), base.bits(), inheriting.bits()],
        ))
    }

    /// `fd_readdir` into a `len`-byte buffer at `DATA`: the entries parsed from the used part
    /// (whole ones only) and the number of bytes used.
    fn readdir(&mut self, fd: u32, cookie: u64, len: u32) -> Res<(Listing, u32)> {
        res(self.errno(
            "fd_readdir",
            &[fd.into(), DATA.into(), len.into(), cookie, OUT.into()],
        ))?;
        let used = self.u32_at(OUT);
        let mut entries = Vec::new();
        let mut at = 0u32;
        while at + 24 <= used {
            // Entries are packed, so a header may be unaligned: decode it by hand.
            let dirent = Dirent {
                next: self.u64_at(DATA + at),
                ino: self.u64_at(DATA + at + 8),
                namlen: self.u32_at(DATA + at + 16),
                filetype: Filetype::from_raw(self.mem[(DATA + at + 20) as usize]).unwrap(),
            };
            let end = at + 24 + dirent.namlen;
            if end > used {
                break;
            }
            let name = self.bytes(DATA + at + 24, dirent.namlen as usize).to_vec();
            entries.push((dirent, name));
            at = end;
        }
        Ok((entries, used))
    }
}

// ---- preopens ----

#[test]
fn preopen_is_described_with_its_name_and_full_directory_rights() {
    let (mut h, vfs) = harness();
    h.mem[OUT as usize..OUT as usize + 8].fill(0xff);
    h.ok("fd_prestat_get", &[ROOT.into(), OUT.into()]);
    assert_eq!(h.bytes(OUT, 8), [0, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(
        h.errno("fd_prestat_dir_name", &[ROOT.into(), PATH.into(), 0]),
        Errno::Nametoolong
    );
    h.ok("fd_prestat_dir_name", &[ROOT.into(), PATH.into(), 8]);
    assert_eq!(h.bytes(PATH, 1), b"/");
    assert_eq!(
        h.fdstat(ROOT),
        Fdstat {
            filetype: Filetype::Directory,
            flags: Fdflags::EMPTY,
            rights_base: DIR_RIGHTS,
            rights_inheriting: PREOPEN_INHERITING,
        }
    );
    assert_eq!(h.ctx.add_preopen(b"/data", vfs.root()), Ok(4));
    h.ok("fd_prestat_get", &[4, OUT.into()]);
    assert_eq!(h.u32_at(OUT + 4), 5);
    // Past the preopens: EBADF ends wasi-libc's scan.
    assert_eq!(h.errno("fd_prestat_get", &[5, OUT.into()]), Errno::Badf);
    // A directory opened later is not a preopen; a file is not a directory.
    let sub = h.open(".", Oflags::DIRECTORY, DIR_RIGHTS).unwrap();
    assert_eq!(
        h.errno("fd_prestat_get", &[sub.into(), OUT.into()]),
        Errno::Notsup
    );
    let file = h.create("f");
    assert_eq!(
        h.errno("fd_prestat_get", &[file.into(), OUT.into()]),
        Errno::Badf
    );
    assert_eq!(
        h.errno("fd_prestat_dir_name", &[file.into(), PATH.into(), 8]),
        Errno::Notdir
    );
    assert_eq!(
        h.trap("fd_prestat_dir_name", &[ROOT.into(), 0x1_0000, 8]),
        Trap::MemoryOutOfBounds
    );
}

#[test]
fn preopens_can_be_closed_and_renumbered_over() {
    let (mut h, _vfs) = harness();
    let file = h.create("f");
    assert_eq!(file, 4, "lowest free number after the preopen");
    h.ok("fd_close", &[1]);
    let second = h.create("g");
    assert_eq!(second, 5, "a closed stdout is not reused for files");
    h.ok("fd_renumber", &[file.into(), ROOT.into()]);
    assert_eq!(h.fdstat(ROOT).filetype, Filetype::RegularFile);
    assert_eq!(
        h.errno("fd_prestat_get", &[ROOT.into(), OUT.into()]),
        Errno::Badf
    );
    h.ok("fd_close", &[ROOT.into()]);
    assert_eq!(h.mkdir("x"), Err(Errno::Badf));
}

// ---- reading and writing ----

#[test]
fn create_write_seek_read_tell() {
    let (mut h, vfs) = harness();
    let fd = h.create("notes.txt");
    h.set_bytes(DATA, b"hello, world");
    h.set_iovecs(IOV, &[(DATA, 5), (DATA + 5, 0), (DATA + 5, 7)]);
    h.ok("fd_write", &[fd.into(), IOV.into(), 3, OUT.into()]);
    assert_eq!(h.u32_at(OUT), 12);
    assert_eq!(h.seek(fd, 0, 0), Ok(0));
    h.mem[DATA as usize..DATA as usize + 16].fill(0);
    h.set_iovecs(IOV, &[(DATA + 100, 3), (DATA + 200, 20)]);
    h.ok("fd_read", &[fd.into(), IOV.into(), 2, OUT.into()]);
    assert_eq!(h.u32_at(OUT), 12);
    assert_eq!(h.bytes(DATA + 100, 3), b"hel");
    assert_eq!(h.bytes(DATA + 200, 9), b"lo, world");
    assert_eq!(h.read_fd(fd, 10), Ok(vec![]), "end of file");
    h.ok("fd_tell", &[fd.into(), OUT.into()]);
    assert_eq!(h.u64_at(OUT), 12);
    assert_eq!(h.seek(fd, -5, 2), Ok(7));
    assert_eq!(h.read_fd(fd, 10).unwrap(), b"world");
    assert_eq!(h.seek(fd, -1, 1), Ok(11));
    assert_eq!(h.seek(fd, -12, 1), Err(Errno::Inval));
    assert_eq!(h.seek(fd, 100, 0), Ok(100));
    assert_eq!(h.write_fd(fd, b"!"), Ok(1));
    let st = h.fstat(fd).unwrap();
    assert_eq!(
        (st.size, st.filetype, st.nlink, st.dev),
        (101, Filetype::RegularFile, 1, 1)
    );
    assert_eq!(vfs.stat(b"notes.txt").unwrap().ino, st.ino);
    let exported: Vec<_> = vfs.walk().collect();
    let mut buf = [0xffu8; 8];
    assert_eq!(exported[0].node.read_at(95, &mut buf), 6);
    assert_eq!(&buf[..6], b"\0\0\0\0\0!", "the gap reads as zeros");
}

#[test]
fn append_mode_writes_at_the_end() {
    let (mut h, _vfs) = harness();
    let fd = h.create("log");
    h.write_fd(fd, b"one").unwrap();
    h.ok("fd_close", &[fd.into()]);
    let fd = h
        .open_with(ROOT, 0, "log", Oflags::EMPTY, FILE_RIGHTS, Fdflags::APPEND)
        .unwrap();
    assert_eq!(h.fdstat(fd).flags, Fdflags::APPEND);
    assert_eq!(h.seek(fd, 0, 0), Ok(0));
    h.write_fd(fd, b"two").unwrap();
    assert_eq!(h.seek(fd, 0, 1), Ok(6));
    h.ok("fd_fdstat_set_flags", &[fd.into(), 0]);
    assert_eq!(h.seek(fd, 0, 0), Ok(0));
    h.write_fd(fd, b"ONE").unwrap();
    h.ok(
        "fd_fdstat_set_flags",
        &[fd.into(), Fdflags::APPEND.bits().into()],
    );
    h.write_fd(fd, b"3").unwrap();
    assert_eq!(h.seek(fd, 0, 0), Ok(0));
    assert_eq!(h.read_fd(fd, 20).unwrap(), b"ONEtwo3");
}

#[test]
fn pread_and_pwrite_leave_the_offset_alone() {
    let (mut h, _vfs) = harness();
    let fd = h.create("p");
    h.write_fd(fd, b"0123456789").unwrap();
    h.seek(fd, 2, 0).unwrap();
    h.set_iovecs(IOV, &[(DATA, 3), (DATA + 10, 4)]);
    h.ok("fd_pread", &[fd.into(), IOV.into(), 2, 5, OUT.into()]);
    assert_eq!(h.u32_at(OUT), 5);
    assert_eq!(h.bytes(DATA, 3), b"567");
    assert_eq!(h.bytes(DATA + 10, 2), b"89");
    h.ok("fd_pread", &[fd.into(), IOV.into(), 2, 50, OUT.into()]);
    assert_eq!(h.u32_at(OUT), 0);
    h.set_bytes(DATA, b"xy");
    h.set_iovecs(IOV, &[(DATA, 2)]);
    h.ok("fd_pwrite", &[fd.into(), IOV.into(), 1, 12, OUT.into()]);
    assert_eq!(h.u32_at(OUT), 2);
    assert_eq!(h.seek(fd, 0, 1), Ok(2), "offset unchanged");
    assert_eq!(h.fstat(fd).unwrap().size, 14);
    h.ok("fd_pread", &[fd.into(), IOV.into(), 1, 10, OUT.into()]);
    assert_eq!(h.bytes(DATA, 2), b"\0\0");
    // Streams cannot, directories are not files, and FD_SEEK is needed.
    assert_eq!(
        h.errno("fd_pread", &[0, IOV.into(), 1, 0, OUT.into()]),
        Errno::Spipe
    );
    assert_eq!(
        h.errno("fd_pwrite", &[1, IOV.into(), 1, 0, OUT.into()]),
        Errno::Spipe
    );
    assert_eq!(
        h.errno("fd_pread", &[ROOT.into(), IOV.into(), 1, 0, OUT.into()]),
        Errno::Badf
    );
    let no_seek = h
        .open("p", Oflags::EMPTY, Rights::FD_READ | Rights::FD_WRITE)
        .unwrap();
    assert_eq!(
        h.errno("fd_pread", &[no_seek.into(), IOV.into(), 1, 0, OUT.into()]),
        Errno::Notcapable
    );
    assert_eq!(
        h.errno("fd_pwrite", &[no_seek.into(), IOV.into(), 1, 0, OUT.into()]),
        Errno::Notcapable
    );
}

/// FNV-1a, to compare large contents without keeping them.
fn checksum(hash: u64, data: &[u8]) -> u64 {
    data.iter().fold(hash, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn multi_megabyte_file_written_in_pieces_reads_back_intact() {
    const PIECE: usize = 64 * 1024 - 7;
    const TOTAL: usize = 5 * 1024 * 1024 + 123;
    let (mut h, vfs) = harness();
    h.mem = vec![0; 1 << 20];
    let fd = h.create("big.bin");
    let byte = |i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    let mut expected = 0xcbf2_9ce4_8422_2325u64;
    let mut written = 0;
    while written < TOTAL {
        let n = PIECE.min(TOTAL - written);
        let piece: Vec<u8> = (written..written + n).map(byte).collect();
        expected = checksum(expected, &piece);
        assert_eq!(h.write_fd(fd, &piece), Ok(n as u32));
        written += n;
    }
    h.ok("fd_close", &[fd.into()]);
    assert_eq!(vfs.stat(b"big.bin").unwrap().size, TOTAL as u64);
    let fd = h.open("big.bin", Oflags::EMPTY, Rights::FD_READ).unwrap();
    let mut actual = 0xcbf2_9ce4_8422_2325u64;
    let mut read = 0;
    loop {
        let chunk = h.read_fd(fd, 48 * 1024).unwrap();
        if chunk.is_empty() {
            break;
        }
        actual = checksum(actual, &chunk);
        read += chunk.len();
    }
    assert_eq!(read, TOTAL);
    assert_eq!(actual, expected);
}

#[test]
fn unlinked_file_stays_usable_through_its_fd() {
    let (mut h, _vfs) = harness();
    let fd = h.create("tmp");
    h.write_fd(fd, b"still here").unwrap();
    h.unlink("tmp").unwrap();
    assert_eq!(h.stat("tmp"), Err(Errno::Noent));
    assert_eq!(h.fstat(fd).unwrap().nlink, 0);
    h.seek(fd, 0, 0).unwrap();
    assert_eq!(h.read_fd(fd, 64).unwrap(), b"still here");
    h.ok("fd_close", &[fd.into()]);
}

// ---- path_open flags ----

#[test]
fn path_open_oflags() {
    let (mut h, _vfs) = harness();
    let fd = h.create("f");
    h.write_fd(fd, b"data").unwrap();
    assert_eq!(
        h.open("f", Oflags::CREAT | Oflags::EXCL, FILE_RIGHTS),
        Err(Errno::Exist)
    );
    assert_eq!(
        h.open("missing", Oflags::EMPTY, FILE_RIGHTS),
        Err(Errno::Noent)
    );
    assert_eq!(
        h.open("f", Oflags::DIRECTORY, FILE_RIGHTS),
        Err(Errno::Notdir)
    );
    assert_eq!(h.open("f/", Oflags::EMPTY, FILE_RIGHTS), Err(Errno::Notdir));
    for bad in [
        Oflags::DIRECTORY | Oflags::CREAT,
        Oflags::DIRECTORY | Oflags::EXCL,
        Oflags::DIRECTORY | Oflags::TRUNC,
    ] {
        assert_eq!(h.open("d", bad, FILE_RIGHTS), Err(Errno::Inval));
    }
    let [ptr, len] = h.put(PATH, b"f");
    let base = FILE_RIGHTS.bits();
    for (lookup, oflags, fdflags) in [(2u64, 0u64, 0u64), (0, 16, 0), (0, 0, 32), (0, 1 << 16, 0)] {
        let args = [3, lookup, ptr, len, oflags, base, 0, fdflags, OUT.into()];
        assert_eq!(h.errno("path_open", &args), Errno::Inval);
    }
    let synced = Fdflags::SYNC | Fdflags::DSYNC | Fdflags::RSYNC | Fdflags::NONBLOCK;
    let fd2 = h
        .open_with(ROOT, 0, "f", Oflags::TRUNC, FILE_RIGHTS, synced)
        .unwrap();
    assert_eq!(h.fdstat(fd2).flags, synced);
    assert_eq!(h.fstat(fd).unwrap().size, 0, "truncated");
    assert_eq!(
        h.read_fd(fd2, 8),
        Ok(vec![]),
        "non-blocking reads of files just work"
    );
    // A directory cannot be opened for writing or truncation.
    h.mkdir("d").unwrap();
    assert_eq!(h.open("d", Oflags::EMPTY, FILE_RIGHTS), Err(Errno::Isdir));
    assert_eq!(h.open("d", Oflags::TRUNC, Rights::EMPTY), Err(Errno::Isdir));
    assert_eq!(h.open("d", Oflags::CREAT, Rights::EMPTY), Err(Errno::Isdir));
    let dir = h.open("d", Oflags::EMPTY, Rights::FD_READ).unwrap();
    assert_eq!(h.fdstat(dir).filetype, Filetype::Directory);
    // A new name with a trailing slash cannot be a file.
    assert_eq!(
        h.open("new/", Oflags::CREAT, FILE_RIGHTS),
        Err(Errno::Isdir)
    );
}

#[test]
fn path_open_and_symlinks() {
    let (mut h, _vfs) = harness();
    let fd = h.create("target");
    h.write_fd(fd, b"T").unwrap();
    h.symlink("target", "link").unwrap();
    h.mkdir("dir").unwrap();
    h.symlink("dir", "dirlink").unwrap();
    h.symlink("nowhere", "dangling").unwrap();
    h.symlink("loop", "loop").unwrap();
    assert_eq!(h.open("link", Oflags::EMPTY, FILE_RIGHTS), Err(Errno::Loop));
    let via = h
        .open_with(
            ROOT,
            FOLLOW,
            "link",
            Oflags::EMPTY,
            FILE_RIGHTS,
            Fdflags::EMPTY,
        )
        .unwrap();
    assert_eq!(h.read_fd(via, 4).unwrap(), b"T");
    assert_eq!(
        h.open("dirlink", Oflags::DIRECTORY, DIR_RIGHTS),
        Err(Errno::Loop)
    );
    let dir = h
        .open_with(
            ROOT,
            FOLLOW,
            "dirlink",
            Oflags::DIRECTORY,
            DIR_RIGHTS,
            Fdflags::EMPTY,
        )
        .unwrap();
    assert_eq!(h.fdstat(dir).filetype, Filetype::Directory);
    assert_eq!(
        h.open("dirlink/", Oflags::DIRECTORY, DIR_RIGHTS)
            .map(|_| ()),
        Ok(())
    );
    assert_eq!(
        h.open_with(
            ROOT,
            FOLLOW,
            "dangling",
            Oflags::EMPTY,
            FILE_RIGHTS,
            Fdflags::EMPTY
        ),
        Err(Errno::Noent)
    );
    assert_eq!(
        h.open("dangling", Oflags::EMPTY, FILE_RIGHTS),
        Err(Errno::Loop)
    );
    assert_eq!(
        h.open_with(
            ROOT,
            FOLLOW,
            "loop",
            Oflags::EMPTY,
            FILE_RIGHTS,
            Fdflags::EMPTY
        ),
        Err(Errno::Loop)
    );
    assert_eq!(
        h.open("link", Oflags::CREAT | Oflags::EXCL, FILE_RIGHTS),
        Err(Errno::Exist)
    );
}

#[test]
fn paths_never_escape_the_preopen() {
    let (mut h, vfs) = harness();
    vfs.create_dir(b"sub", 0).unwrap();
    vfs.write_file(b"secret", b"s", 0).unwrap();
    vfs.symlink(b"/secret", b"sub/abs", 0).unwrap();
    vfs.symlink(b"../secret", b"sub/up", 0).unwrap();
    let sub = h.open("sub", Oflags::DIRECTORY, DIR_RIGHTS).unwrap();
    for path in ["../secret", "/secret", "./../secret", "abs/../../secret"] {
        let got = h.open_with(sub, 0, path, Oflags::EMPTY, FILE_RIGHTS, Fdflags::EMPTY);
        assert_eq!(got, Err(Errno::Notcapable), "{path}");
    }
    // `x/..` fails on the missing `x` first.
    assert_eq!(h.stat_at(sub, 0, b"nope/../..").err(), Some(Errno::Noent));
    assert_eq!(h.stat_at(sub, FOLLOW, b"up").err(), Some(Errno::Notcapable));
    assert_eq!(
        h.stat_at(sub, FOLLOW, b"abs").err(),
        Some(Errno::Notcapable)
    );
    assert_eq!(h.stat_at(ROOT, FOLLOW, b"sub/up").unwrap().size, 1);
    assert_eq!(
        h.stat_at(ROOT, FOLLOW, b"sub/abs").err(),
        Some(Errno::Notcapable)
    );
    assert_eq!(h.stat(".."), Err(Errno::Notcapable));
    assert_eq!(h.symlink("/etc/passwd", "p"), Err(Errno::Notcapable));
    assert_eq!(h.mkdir("../up"), Err(Errno::Notcapable));
    assert_eq!(h.rename("secret", "../secret"), Err(Errno::Notcapable));
    assert_eq!(h.link(0, "../secret", "l"), Err(Errno::Notcapable));
    assert_eq!(h.stat_at(ROOT, 0, b"se\0cret").err(), Some(Errno::Ilseq));
    assert_eq!(h.stat_at(ROOT, 0, b"\xc3\x28").err(), Some(Errno::Ilseq));
    assert_eq!(h.stat(""), Err(Errno::Noent));
}

// ---- rights ----

#[test]
fn file_rights_limit_file_operations() {
    let (mut h, _vfs) = harness();
    h.create("f");
    let ro = h.open("f", Oflags::EMPTY, Rights::FD_READ).unwrap();
    let stat = h.fdstat(ro);
    assert_eq!(
        (stat.rights_base, stat.filetype),
        (Rights::FD_READ, Filetype::RegularFile)
    );
    assert_eq!(h.write_fd(ro, b"x"), Err(Errno::Badf));
    assert_eq!(h.seek(ro, 1, 0), Err(Errno::Notcapable));
    assert_eq!(h.fstat(ro), Err(Errno::Notcapable));
    assert_eq!(
        h.errno("fd_tell", &[ro.into(), OUT.into()]),
        Errno::Notcapable
    );
    assert_eq!(
        h.errno("fd_filestat_set_size", &[ro.into(), 5]),
        Errno::Notcapable
    );
    assert_eq!(
        h.errno("fd_allocate", &[ro.into(), 0, 5]),
        Errno::Notcapable
    );
    assert_eq!(
        h.errno("fd_advise", &[ro.into(), 0, 5, 0]),
        Errno::Notcapable
    );
    assert_eq!(h.errno("fd_sync", &[ro.into()]), Errno::Notcapable);
    assert_eq!(h.errno("fd_datasync", &[ro.into()]), Errno::Notcapable);
    assert_eq!(
        h.errno("fd_filestat_set_times", &[ro.into(), 0, 0, 0]),
        Errno::Notcapable
    );
    assert_eq!(
        h.errno("fd_fdstat_set_flags", &[ro.into(), 0]),
        Errno::Notcapable
    );
    let wo = h
        .open("f", Oflags::EMPTY, Rights::FD_WRITE | Rights::FD_TELL)
        .unwrap();
    assert_eq!(h.read_fd(wo, 4), Err(Errno::Badf));
    assert_eq!(h.write_fd(wo, b"abc"), Ok(3));
    assert_eq!(
        h.seek(wo, 0, 1),
        Ok(3),
        "FD_TELL is enough to ask for the offset"
    );
    // Rights a file cannot use are dropped, as are rights the directory cannot hand down.
    let odd = h
        .open(
            "f",
            Oflags::EMPTY,
            Rights::FD_READ | Rights::PATH_OPEN | Rights::FD_READDIR,
        )
        .unwrap();
    assert_eq!(h.fdstat(odd).rights_base, Rights::FD_READ);
    // Narrowing is allowed, widening is not.
    assert_eq!(
        h.set_rights(ro, Rights::FD_READ | Rights::FD_WRITE, Rights::EMPTY),
        Err(Errno::Notcapable)
    );
    h.set_rights(ro, Rights::EMPTY, Rights::EMPTY).unwrap();
    assert_eq!(h.read_fd(ro, 4), Err(Errno::Badf));
    assert_eq!(
        h.set_rights(ro, Rights::FD_READ, Rights::EMPTY),
        Err(Errno::Notcapable)
    );
}

#[test]
fn directory_rights_limit_path_operations_before_touching_memory() {
    let (mut h, _vfs) = harness();
    h.create("f");
    h.mkdir("d").unwrap();
    // Drop what the directory may do, one right at a time.
    let cases: [(Rights, &str); 8] = [
        (Rights::PATH_CREATE_DIRECTORY, "path_create_directory"),
        (Rights::PATH_REMOVE_DIRECTORY, "path_remove_directory"),
        (Rights::PATH_UNLINK_FILE, "path_unlink_file"),
        (Rights::PATH_OPEN, "path_open"),
        (Rights::PATH_FILESTAT_GET, "path_filestat_get"),
        (Rights::PATH_READLINK, "path_readlink"),
        (Rights::PATH_FILESTAT_SET_TIMES, "path_filestat_set_times"),
        (Rights::FD_READDIR, "fd_readdir"),
    ];
    for (right, name) in cases {
        let sub = h
            .open("d", Oflags::DIRECTORY, DIR_RIGHTS.difference(right))
            .unwrap();
        let argc = super::FUNCTIONS[super::lookup(name).unwrap()].params.len();
        // Every pointer hostile: the missing right must be reported, not a trap.
        let mut args = vec![u64::from(u32::MAX - 1); argc];
        args[0] = sub.into();
        if matches!(
            name,
            "path_filestat_get" | "path_open" | "path_filestat_set_times"
        ) {
            args[1] = 0;
        }
        if name == "path_filestat_set_times" {
            args[6] = 0;
        }
        if name == "path_open" {
            args[4] = 0;
            args[7] = 0;
        }
        assert_eq!(h.errno(name, &args), Errno::Notcapable, "{name}");
    }
    let no_create = h
        .open(
            "d",
            Oflags::DIRECTORY,
            DIR_RIGHTS.difference(Rights::PATH_CREATE_FILE),
        )
        .unwrap();
    assert_eq!(
        h.open_with(
            no_create,
            0,
            "new",
            Oflags::CREAT,
            FILE_RIGHTS,
            Fdflags::EMPTY
        ),
        Err(Errno::Notcapable)
    );
    let no_trunc = DIR_RIGHTS.difference(Rights::PATH_FILESTAT_SET_SIZE);
    h.set_rights(ROOT, no_trunc, PREOPEN_INHERITING).unwrap();
    assert_eq!(
        h.open("f", Oflags::TRUNC, FILE_RIGHTS),
        Err(Errno::Notcapable)
    );
    assert!(h.open("f", Oflags::EMPTY, FILE_RIGHTS).is_ok());
    // Inheriting rights cap what fds opened through the directory get.
    let no_write = PREOPEN_INHERITING.difference(Rights::FD_WRITE);
    h.set_rights(ROOT, no_trunc, no_write).unwrap();
    let fd = h.open("f", Oflags::EMPTY, FILE_RIGHTS).unwrap();
    assert_eq!(
        h.fdstat(fd).rights_base,
        FILE_RIGHTS.difference(Rights::FD_WRITE)
    );
    assert_eq!(h.write_fd(fd, b"x"), Err(Errno::Badf));
    assert_eq!(
        h.set_rights(ROOT, DIR_RIGHTS, PREOPEN_INHERITING),
        Err(Errno::Notcapable)
    );
    // Renames and links need both directories' rights.
    let no_rename = h
        .open(
            "d",
            Oflags::DIRECTORY,
            DIR_RIGHTS.difference(Rights::PATH_RENAME_TARGET),
        )
        .unwrap();
    let [op, ol] = h.put(PATH, b"f");
    let [np, nl] = h.put(PATH2, b"g");
    assert_eq!(
        h.errno(
            "path_rename",
            &[ROOT.into(), op, ol, no_rename.into(), np, nl]
        ),
        Errno::Notcapable
    );
    assert_eq!(
        h.errno(
            "path_link",
            &[ROOT.into(), 0, op, ol, no_rename.into(), np, nl]
        ),
        Errno::Success,
        "linking needs PATH_LINK_TARGET, not PATH_RENAME_TARGET"
    );
    let no_symlink = h
        .open(
            "d",
            Oflags::DIRECTORY,
            DIR_RIGHTS.difference(Rights::PATH_SYMLINK),
        )
        .unwrap();
    assert_eq!(
        h.errno("path_symlink", &[op, ol, no_symlink.into(), np, nl]),
        Errno::Notcapable
    );
}

#[test]
fn directory_fds_are_not_files() {
    let (mut h, _vfs) = harness();
    h.mkdir("d").unwrap();
    let dir = h
        .open(
            "d",
            Oflags::DIRECTORY,
            DIR_RIGHTS | Rights::FD_SEEK | Rights::FD_READ,
        )
        .unwrap();
    assert_eq!(
        h.fdstat(dir).rights_base,
        DIR_RIGHTS,
        "seek and read dropped"
    );
    assert_eq!(h.read_fd(ROOT, 4), Err(Errno::Badf));
    assert_eq!(h.write_fd(ROOT, b"x"), Err(Errno::Badf));
    assert_eq!(h.seek(dir, 0, 1), Err(Errno::Notcapable));
    assert_eq!(
        h.errno("fd_filestat_set_size", &[dir.into(), 0]),
        Errno::Notcapable
    );
    assert_eq!(
        h.errno("fd_allocate", &[dir.into(), 0, 1]),
        Errno::Notcapable
    );
    h.ok("fd_sync", &[dir.into()]);
    h.ok("fd_datasync", &[dir.into()]);
    assert_eq!(h.fstat(dir).unwrap().filetype, Filetype::Directory);
    // A file is not a directory to resolve paths in.
    let file = h.create("f");
    assert_eq!(
        h.open_with(file, 0, "x", Oflags::CREAT, FILE_RIGHTS, Fdflags::EMPTY),
        Err(Errno::Notdir)
    );
    assert_eq!(
        h.path_call("path_create_directory", file, "x"),
        Err(Errno::Notdir)
    );
    assert_eq!(h.readdir(file, 0, 64).err(), Some(Errno::Notdir));
    assert_eq!(
        h.path_call("path_create_directory", 1, "x"),
        Err(Errno::Notdir)
    );
    assert_eq!(
        h.path_call("path_create_directory", 9, "x"),
        Err(Errno::Badf)
    );
}

// ---- directories ----

#[test]
fn readdir_layout_and_cookies() {
    let (mut h, vfs) = harness();
    h.mkdir("d").unwrap();
    let dir = h.open("d", Oflags::DIRECTORY, DIR_RIGHTS).unwrap();
    let d_ino = h.fstat(dir).unwrap().ino;
    h.mem[DATA as usize..DATA as usize + 256].fill(0xee);
    let (entries, used) = h.readdir(dir, 0, 256).unwrap();
    assert_eq!(used, 2 * 24 + 1 + 2);
    assert_eq!(
        h.bytes(DATA, 25),
        [
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            0, // d_next
            d_ino as u8,
            0,
            0,
            0,
            0,
            0,
            0,
            0, // d_ino
            1,
            0,
            0,
            0, // d_namlen
            3,
            0,
            0,
            0, // d_type, then padding
            b'.'
        ]
    );
    assert_eq!(
        entries[1].0.ino,
        vfs.stat(b"/").unwrap().ino,
        "'..' is the parent"
    );
    assert_eq!(entries[1].1, b"..");
    assert_eq!(h.mem[(DATA + used) as usize], 0xee, "nothing past bufused");

    for name in ["one", "two", "three"] {
        let fd = h
            .open_with(dir, 0, name, Oflags::CREAT, FILE_RIGHTS, Fdflags::EMPTY)
            .unwrap();
        h.ok("fd_close", &[fd.into()]);
    }
    let (entries, used) = h.readdir(dir, 0, 4096).unwrap();
    let names: Vec<_> = entries.iter().map(|(_, n)| n.as_slice()).collect();
    assert_eq!(names, [&b"."[..], b"..", b"one", b"two", b"three"]);
    assert_eq!(used, 5 * 24 + 1 + 2 + 3 + 3 + 5);
    let two_ino = h.stat("d/two").unwrap().ino;
    assert_eq!(entries[3].0.ino, two_ino);
    assert_eq!(entries[3].0.filetype, Filetype::RegularFile);
    // A buffer that ends inside an entry is reported full; resume from the last whole one.
    // "." and ".." take 51 bytes; "one" gets only 10 of its 27.
    let (partial, used) = h.readdir(dir, 0, 61).unwrap();
    assert_eq!(used, 61);
    assert_eq!(partial.len(), 2);
    let resume = partial[1].0.next;
    let (rest, _) = h.readdir(dir, resume, 4096).unwrap();
    let names: Vec<_> = rest.iter().map(|(_, n)| n.as_slice()).collect();
    assert_eq!(names, [&b"one"[..], b"two", b"three"]);
    // Removing and adding between calls neither repeats nor skips the survivors.
    let after_one = rest[0].0.next;
    h.unlink("d/two").unwrap();
    h.mkdir("d/four").unwrap();
    let (rest, _) = h.readdir(dir, after_one, 4096).unwrap();
    let names: Vec<_> = rest.iter().map(|(_, n)| n.as_slice()).collect();
    assert_eq!(names, [&b"three"[..], b"four"]);
    assert_eq!(rest[1].0.filetype, Filetype::Directory);
    // Zero-length buffer: nothing written, nothing used.
    assert_eq!(h.readdir(dir, 0, 0).unwrap().1, 0);
    assert_eq!(
        h.trap("fd_readdir", &[dir.into(), 0xfff0, 0x100, 0, OUT.into()]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.trap(
            "fd_readdir",
            &[dir.into(), DATA.into(), 16, 0, OUT as u64 + 1]
        ),
        Trap::Misaligned
    );
}

#[test]
fn mkdir_rmdir_unlink_errnos() {
    let (mut h, _vfs) = harness();
    h.mkdir("d").unwrap();
    h.create("d/f");
    assert_eq!(h.mkdir("d"), Err(Errno::Exist));
    assert_eq!(h.mkdir("d/f"), Err(Errno::Exist));
    assert_eq!(h.mkdir("missing/x"), Err(Errno::Noent));
    assert_eq!(h.rmdir("d"), Err(Errno::Notempty));
    assert_eq!(h.rmdir("d/f"), Err(Errno::Notdir));
    assert_eq!(h.rmdir("d/f/"), Err(Errno::Notdir));
    assert_eq!(h.unlink("d"), Err(Errno::Isdir));
    assert_eq!(h.unlink("d/"), Err(Errno::Isdir));
    assert_eq!(h.unlink("d/f/"), Err(Errno::Notdir));
    h.unlink("d/f").unwrap();
    assert_eq!(h.unlink("d/f"), Err(Errno::Noent));
    h.rmdir("d/").unwrap();
    assert_eq!(h.stat("d"), Err(Errno::Noent));
}

#[test]
fn rename_follows_posix() {
    let (mut h, _vfs) = harness();
    let fd = h.create("a");
    h.write_fd(fd, b"A").unwrap();
    h.create("b");
    h.rename("a", "b").unwrap();
    assert_eq!(h.stat("a"), Err(Errno::Noent));
    assert_eq!(h.stat("b").unwrap().size, 1);
    h.mkdir("d").unwrap();
    h.mkdir("e").unwrap();
    h.create("e/x");
    assert_eq!(h.rename("b", "d"), Err(Errno::Isdir));
    assert_eq!(h.rename("d", "b"), Err(Errno::Notdir));
    assert_eq!(h.rename("d", "e"), Err(Errno::Notempty));
    assert_eq!(h.rename("e", "e/sub"), Err(Errno::Inval));
    h.rename("e", "d").unwrap();
    assert_eq!(h.stat("d/x").unwrap().filetype, Filetype::RegularFile);
    h.rename("d/", "moved/").unwrap();
    assert_eq!(h.rename("b/", "c"), Err(Errno::Notdir));
    assert_eq!(h.rename("nothing", "c"), Err(Errno::Noent));
    // Renaming an open file keeps the fd working.
    h.rename("b", "moved/b").unwrap();
    h.seek(fd, 0, 0).unwrap();
    assert_eq!(h.read_fd(fd, 4).unwrap(), b"A");
}

#[test]
fn links_symlinks_and_readlink() {
    let (mut h, _vfs) = harness();
    let fd = h.create("file");
    h.write_fd(fd, b"xyz").unwrap();
    h.link(0, "file", "hard").unwrap();
    let a = h.stat("file").unwrap();
    let b = h.stat("hard").unwrap();
    assert_eq!((a.ino, a.nlink), (b.ino, 2));
    assert_eq!(h.link(0, "file", "hard"), Err(Errno::Exist));
    assert_eq!(h.link(0, "file", "file"), Err(Errno::Exist));
    assert_eq!(h.link(0, "file", "new/"), Err(Errno::Noent));
    assert_eq!(h.link(FOLLOW, "file", "other"), Err(Errno::Inval));
    h.mkdir("dir").unwrap();
    assert_eq!(h.link(0, "dir", "dirlink"), Err(Errno::Perm));
    h.symlink("dangling-target", "sym").unwrap();
    h.link(0, "sym", "symlink2").unwrap();
    assert_eq!(
        h.stat("symlink2").unwrap().filetype,
        Filetype::SymbolicLink,
        "the link itself is linked"
    );
    assert_eq!(h.symlink("x", "sym"), Err(Errno::Exist));
    assert_eq!(h.symlink("x", "dir/"), Err(Errno::Exist));
    assert_eq!(h.symlink("x", "nodir/"), Err(Errno::Noent));
    assert_eq!(h.symlink("", "empty"), Err(Errno::Noent));

    // readlink truncates to the buffer and never writes past it.
    let [ptr, len] = h.put(PATH, b"sym");
    h.mem[DATA as usize..DATA as usize + 32].fill(0xaa);
    h.ok("path_readlink", &[3, ptr, len, DATA.into(), 32, OUT.into()]);
    assert_eq!(h.u32_at(OUT), 15);
    assert_eq!(h.bytes(DATA, 16), b"dangling-target\xaa");
    h.mem[DATA as usize..DATA as usize + 32].fill(0xaa);
    h.ok("path_readlink", &[3, ptr, len, DATA.into(), 4, OUT.into()]);
    assert_eq!(h.u32_at(OUT), 4);
    assert_eq!(h.bytes(DATA, 5), b"dang\xaa");
    let [fptr, flen] = h.put(PATH2, b"file");
    assert_eq!(
        h.errno(
            "path_readlink",
            &[3, fptr, flen, DATA.into(), 32, OUT.into()]
        ),
        Errno::Inval
    );
    assert_eq!(
        h.trap("path_readlink", &[3, ptr, len, 0xfff0, 0x20, OUT.into()]),
        Trap::MemoryOutOfBounds
    );
    // Filestat of a link and of what it points to.
    h.symlink("file", "tofile").unwrap();
    assert_eq!(h.stat("tofile").unwrap().size, 4);
    assert_eq!(h.stat_at(ROOT, FOLLOW, b"tofile").unwrap().ino, a.ino);
}

// ---- attributes ----

#[test]
fn filestat_set_size_and_times() {
    let (mut h, _vfs) = harness();
    h.fake().mono = 777;
    let now = REALTIME_OFFSET + 777;
    let fd = h.create("f");
    let st = h.fstat(fd).unwrap();
    assert_eq!((st.atim, st.mtim, st.ctim), (now, now, now));
    h.ok("fd_filestat_set_size", &[fd.into(), 100]);
    assert_eq!(h.fstat(fd).unwrap().size, 100);
    h.ok("fd_filestat_set_size", &[fd.into(), 3]);
    assert_eq!(h.fstat(fd).unwrap().size, 3);
    assert_eq!(
        h.errno("fd_filestat_set_size", &[fd.into(), u64::MAX]),
        Errno::Fbig
    );
    let mtim = Fstflags::MTIM.bits();
    h.ok("fd_filestat_set_times", &[fd.into(), 5, 6, mtim.into()]);
    let st = h.fstat(fd).unwrap();
    assert_eq!((st.atim, st.mtim), (now, 6), "only mtim changed");
    h.fake().mono = 900;
    let both_now = (Fstflags::ATIM_NOW | Fstflags::MTIM_NOW).bits();
    h.ok("fd_filestat_set_times", &[fd.into(), 5, 6, both_now.into()]);
    let st = h.fstat(fd).unwrap();
    assert_eq!(
        (st.atim, st.mtim),
        (REALTIME_OFFSET + 900, REALTIME_OFFSET + 900)
    );
    for bad in [
        Fstflags::ATIM | Fstflags::ATIM_NOW,
        Fstflags::MTIM | Fstflags::MTIM_NOW,
        Fstflags(0x10),
    ] {
        let args = [fd.into(), 1, 2, bad.bits().into()];
        assert_eq!(h.errno("fd_filestat_set_times", &args), Errno::Inval);
        let [ptr, len] = h.put(PATH, b"f");
        let args = [3, 0, ptr, len, 1, 2, bad.bits().into()];
        assert_eq!(h.errno("path_filestat_set_times", &args), Errno::Inval);
    }
    // path_filestat_set_times on a link changes the link unless told to follow.
    h.symlink("f", "l").unwrap();
    let [ptr, len] = h.put(PATH, b"l");
    let atim = Fstflags::ATIM.bits();
    h.ok(
        "path_filestat_set_times",
        &[3, 0, ptr, len, 42, 0, atim.into()],
    );
    assert_eq!(h.stat("l").unwrap().atim, 42);
    assert_eq!(h.stat("f").unwrap().atim, REALTIME_OFFSET + 900);
    let [ptr, len] = h.put(PATH, b"l");
    h.ok(
        "path_filestat_set_times",
        &[3, FOLLOW.into(), ptr, len, 43, 0, atim.into()],
    );
    assert_eq!(h.stat("f").unwrap().atim, 43);
    // A directory's own times.
    h.ok(
        "fd_filestat_set_times",
        &[
            ROOT.into(),
            7,
            8,
            (Fstflags::ATIM | Fstflags::MTIM).bits().into(),
        ],
    );
    let st = h.fstat(ROOT).unwrap();
    assert_eq!((st.atim, st.mtim), (7, 8));
}

#[test]
fn allocate_advise_and_sync_on_files() {
    let (mut h, _vfs) = harness();
    let fd = h.create("f");
    h.ok("fd_allocate", &[fd.into(), 0, 100]);
    assert_eq!(h.fstat(fd).unwrap().size, 100);
    h.ok("fd_allocate", &[fd.into(), 10, 10]);
    assert_eq!(h.fstat(fd).unwrap().size, 100, "never shrinks");
    h.ok("fd_allocate", &[fd.into(), 90, 20]);
    assert_eq!(h.fstat(fd).unwrap().size, 110);
    assert_eq!(h.errno("fd_allocate", &[fd.into(), 0, 0]), Errno::Inval);
    assert_eq!(
        h.errno("fd_allocate", &[fd.into(), u64::MAX, 2]),
        Errno::Fbig
    );
    h.ok("fd_advise", &[fd.into(), 0, 100, 1]);
    assert_eq!(h.errno("fd_advise", &[fd.into(), 0, 100, 9]), Errno::Inval);
    h.ok("fd_sync", &[fd.into()]);
    h.ok("fd_datasync", &[fd.into()]);
    assert_eq!(
        h.errno("fd_advise", &[ROOT.into(), 0, 1, 0]),
        Errno::Notcapable
    );
}

#[test]
fn poll_reports_files_ready() {
    let (mut h, _vfs) = harness();
    let fd = h.create("f");
    h.write_fd(fd, b"0123456789").unwrap();
    h.seek(fd, 4, 0).unwrap();
    let subs = [
        Subscription {
            userdata: 1,
            kind: SubscriptionKind::FdRead(fd),
        },
        Subscription {
            userdata: 2,
            kind: SubscriptionKind::FdWrite(fd),
        },
        Subscription {
            userdata: 3,
            kind: SubscriptionKind::FdRead(ROOT),
        },
    ];
    let events = poll(&mut h, &subs).unwrap();
    let ready = |userdata, kind, nbytes| Event {
        userdata,
        error: Errno::Success,
        kind,
        nbytes,
        flags: Eventrwflags::EMPTY,
    };
    assert_eq!(events[0], ready(1, Eventtype::FdRead, 6));
    assert_eq!(events[1], ready(2, Eventtype::FdWrite, 0));
    assert_eq!(events[2].error, Errno::Badf, "a directory cannot be polled");
    assert!(h.fake().waits.is_empty());
}

// ---- hostile pointers ----

#[test]
fn hostile_pointers_trap_before_any_change() {
    let (mut h, vfs) = harness();
    let end = h.mem.len() as u64;
    // Path past the end of memory, or wrapping around.
    assert_eq!(
        h.trap("path_create_directory", &[3, end - 2, 4]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.trap("path_create_directory", &[3, u64::from(u32::MAX), 2]),
        Trap::MemoryOutOfBounds
    );
    // fd_out misaligned or out of bounds: the file must not be created.
    let [ptr, len] = h.put(PATH, b"new");
    let base = FILE_RIGHTS.bits();
    let creat = Oflags::CREAT.bits().into();
    assert_eq!(
        h.trap(
            "path_open",
            &[3, 0, ptr, len, creat, base, 0, 0, OUT as u64 + 2]
        ),
        Trap::Misaligned
    );
    assert_eq!(
        h.trap("path_open", &[3, 0, ptr, len, creat, base, 0, 0, end]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(vfs.stat(b"new").err(), Some(Errno::Noent));
    // Rename with a bad second path renames nothing.
    h.create("keep");
    let [op, ol] = h.put(PATH, b"keep");
    assert_eq!(
        h.trap("path_rename", &[3, op, ol, 3, end, 1]),
        Trap::MemoryOutOfBounds
    );
    assert!(vfs.stat(b"keep").is_ok());
    assert_eq!(
        h.trap("path_symlink", &[op, ol, 3, end - 1, 2]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.trap("path_filestat_get", &[3, 0, op, ol, STAT as u64 + 4]),
        Trap::Misaligned
    );
    // iovecs of a file read or write.
    let fd = h.create("keep");
    h.set_iovecs(IOV, &[(DATA, 4), (0xfffe, 4)]);
    assert_eq!(
        h.trap("fd_write", &[fd.into(), IOV.into(), 2, OUT.into()]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(vfs.stat(b"keep").unwrap().size, 0, "nothing half-written");
    assert_eq!(
        h.trap("fd_pread", &[fd.into(), IOV.into(), 2, 0, OUT.into()]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.trap("fd_pwrite", &[fd.into(), IOV.into(), 1, 0, end]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.trap("fd_filestat_get", &[fd.into(), end - 8]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        h.trap("fd_seek", &[fd.into(), 0, 0, OUT as u64 + 4]),
        Trap::Misaligned
    );
    // Every new syscall, every argument hostile: an errno or a trap, never a panic.
    for name in [
        "fd_filestat_set_size",
        "fd_filestat_set_times",
        "fd_pread",
        "fd_pwrite",
        "fd_readdir",
        "path_create_directory",
        "path_filestat_get",
        "path_filestat_set_times",
        "path_link",
        "path_open",
        "path_readlink",
        "path_remove_directory",
        "path_rename",
        "path_symlink",
        "path_unlink_file",
    ] {
        let argc = super::FUNCTIONS[super::lookup(name).unwrap()].params.len();
        for fill in [u64::MAX, 3, 0x8000_0000] {
            let mut args = vec![fill; argc];
            if name != "path_symlink" {
                args[0] = 3;
            }
            let _ = h.call(name, &args);
        }
    }
    let _ = Fake::default();
}

#[test]
fn a_full_file_system_is_enospc_and_frees_on_unlink() {
    let mut h = Harness::new();
    let chunk = crate::vfs::data::CHUNK_SIZE;
    // Two chunks of data, besides the root and the inodes and entries of `a` and `b`.
    let file_cost = INODE_COST + entry_cost(b"a");
    let vfs = Vfs::with_capacity(0, 2 * chunk as u64 + DIR_INODE_COST + 2 * file_cost);
    h.ctx.add_preopen(b"/", vfs.root()).unwrap();
    h.mem = vec![0; 4 * chunk];
    let fd = h.create("a");
    h.set_iovecs(IOV, &[(DATA, 3 * chunk as u32)]);
    h.ok("fd_write", &[fd.into(), IOV.into(), 1, OUT.into()]);
    assert_eq!(
        h.u32_at(OUT) as usize,
        2 * chunk,
        "a short write up to the cap"
    );
    assert_eq!(h.write_fd(fd, b"more"), Err(Errno::Nospc));
    assert_eq!(
        vfs.used_bytes(),
        vfs.capacity() - file_cost,
        "room for `b` only"
    );
    let other = h.create("b");
    assert_eq!(h.write_fd(other, b"x"), Err(Errno::Nospc));
    h.unlink("a").unwrap();
    assert_eq!(h.write_fd(other, b"x"), Err(Errno::Nospc), "still open");
    h.ok("fd_close", &[fd.into()]);
    assert_eq!(
        vfs.used_bytes(),
        DIR_INODE_COST + file_cost,
        "the root and `b`"
    );
    assert_eq!(h.write_fd(other, b"x"), Ok(1));
}

/// A file system whose size runs out through metadata alone: names, inodes, symlink
/// targets. Each is `ENOSPC`, nothing half-made stays, and removing gives the room back.
#[test]
fn names_inodes_and_symlink_targets_fill_the_file_system() {
    let mut h = Harness::new();
    let vfs = Vfs::with_capacity(0, 64 * 1024);
    h.ctx.add_preopen(b"/", vfs.root()).unwrap();
    let long = "n".repeat(200);
    let mut made = 0;
    loop {
        let name = format!("{long}{made}");
        match h.open(&name, Oflags::CREAT, FILE_RIGHTS) {
            Ok(fd) => h.ok("fd_close", &[fd.into()]),
            Err(errno) => {
                assert_eq!(errno, Errno::Nospc);
                break;
            }
        }
        made += 1;
    }
    let per_file = INODE_COST + entry_cost(format!("{long}{made}").as_bytes());
    assert!(
        made > 50 && made < 64 * 1024 / per_file as usize + 1,
        "{made} files"
    );
    assert_eq!(
        vfs.stat(format!("{long}{made}").as_bytes()).err(),
        Some(Errno::Noent)
    );
    // Fill what is left with a symlink target, so the file system is exactly full.
    let left = vfs.capacity() - vfs.used_bytes() - INODE_COST - entry_cost(b"fill");
    h.symlink(&"f".repeat(left as usize), "fill").unwrap();
    assert_eq!(vfs.used_bytes(), vfs.capacity());
    assert_eq!(h.mkdir("d"), Err(Errno::Nospc));
    assert_eq!(h.symlink("x", "s"), Err(Errno::Nospc));
    assert_eq!(vfs.stat(b"d").err(), Some(Errno::Noent));
    assert_eq!(vfs.stat(b"s").err(), Some(Errno::Noent));
    // A rename needs room only for a longer name: refused, the old name stays.
    let first = format!("{long}0");
    let same = format!("{}0", "x".repeat(200));
    assert_eq!(h.rename(&first, &same), Ok(()));
    assert_eq!(h.rename(&same, &format!("{long}0+")), Err(Errno::Nospc));
    assert!(vfs.stat(same.as_bytes()).is_ok());
    assert_eq!(
        vfs.stat(format!("{long}0+").as_bytes()).err(),
        Some(Errno::Noent)
    );
    h.rename(&same, &first).unwrap();
    h.unlink("fill").unwrap();
    for i in 0..made {
        h.unlink(&format!("{long}{i}")).unwrap();
    }
    assert_eq!(vfs.used_bytes(), DIR_INODE_COST, "only the root is charged");
    // A symlink's target counts: as many 4000-byte links fit as the size says, no more.
    let target = "t/".repeat(2000);
    let per_link = INODE_COST + entry_cost(b"s00") + target.len() as u64;
    let fit = (vfs.capacity() - DIR_INODE_COST) / per_link;
    let mut links = 0;
    while h.symlink(&target, &format!("s{links:02}")).is_ok() {
        links += 1;
    }
    assert_eq!(links, fit);
    assert_eq!(h.symlink(&target, "s99"), Err(Errno::Nospc));
    h.unlink("s00").unwrap();
    assert_eq!(h.symlink(&target, "s99"), Ok(()));
}

#[test]
fn a_full_fd_table_is_emfile_before_anything_is_created() {
    let (mut h, vfs) = harness();
    let mut opened = 0;
    while h.open(".", Oflags::DIRECTORY, DIR_RIGHTS).is_ok() {
        opened += 1;
    }
    assert_eq!(opened, crate::fdtable::MAX_FDS - 4);
    assert_eq!(
        h.open(".", Oflags::DIRECTORY, DIR_RIGHTS),
        Err(Errno::Mfile)
    );
    assert_eq!(h.open("new", Oflags::CREAT, FILE_RIGHTS), Err(Errno::Mfile));
    assert_eq!(vfs.stat(b"new").err(), Some(Errno::Noent));
    h.ok("fd_close", &[100]);
    assert_eq!(h.open("new", Oflags::CREAT, FILE_RIGHTS), Ok(100));
}
