//! The tar (POSIX ustar + pax) archives that carry `--dir` trees between the host and the
//! guest: the runner packs each host directory into one, the kernel unpacks it into its VFS,
//! and at exit the kernel packs the VFS back for the runner to apply to the host.
//!
//! One `no_std` codec serves both sides, so they cannot disagree; the tests check it against
//! the `tar` crate in both directions, so the archives are ordinary tar files
//! (`tar tvf` lists them). The reader also accepts GNU long names (`L`/`K`), as written by
//! GNU tar and the `tar` crate.
//!
//! Supported entry kinds: regular files, directories, symlinks and hard links. Times are kept
//! to the nanosecond through pax `mtime`/`atime` records; paths of any length through pax
//! `path`/`linkpath`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A regular file; its bytes follow.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to [`Entry::link`].
    Symlink,
    /// Another name for the earlier entry at [`Entry::link`].
    HardLink,
}

/// A point in time: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Time {
    /// Whole seconds (negative before 1970).
    pub secs: i64,
    /// Nanoseconds, 0..1_000_000_000.
    pub nanos: u32,
}

impl Time {
    /// Nanoseconds since the epoch, clamped to 0 for earlier times (WASI timestamps are u64).
    pub fn as_nanos(self) -> u64 {
        u64::try_from(self.secs)
            .ok()
            .and_then(|s| s.checked_mul(1_000_000_000))
            .and_then(|ns| ns.checked_add(u64::from(self.nanos)))
            .unwrap_or(if self.secs < 0 { 0 } else { u64::MAX })
    }

    /// The time `ns` nanoseconds after the epoch.
    pub fn from_nanos(ns: u64) -> Time {
        Time {
            secs: (ns / 1_000_000_000) as i64,
            nanos: (ns % 1_000_000_000) as u32,
        }
    }
}

/// One archive member. `data` is empty except for files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path relative to the archive root, `/`-separated, without a trailing slash.
    pub path: Vec<u8>,
    /// What it is.
    pub kind: Kind,
    /// Permission bits (the low 12 bits of `st_mode`).
    pub mode: u32,
    /// Modification time.
    pub mtime: Time,
    /// Access time, when the archive records one.
    pub atime: Option<Time>,
    /// Symlink target, or the earlier path a hard link names.
    pub link: Vec<u8>,
    /// File contents.
    pub data: &'a [u8],
}

/// Why an archive could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveError {
    /// The archive ends inside a header or a member's data.
    Truncated,
    /// A header's checksum does not match.
    BadChecksum(u64),
    /// A numeric header field or pax record is malformed.
    BadField(&'static str, u64),
    /// An entry type this codec does not handle (devices, FIFOs...).
    Unsupported(u8, Vec<u8>),
    /// A path that is absolute or climbs out of the archive root.
    UnsafePath(Vec<u8>),
}

impl core::fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ArchiveError::Truncated => write!(f, "the archive is truncated"),
            ArchiveError::BadChecksum(at) => write!(f, "bad header checksum at byte {at}"),
            ArchiveError::BadField(field, at) => write!(f, "bad {field} field at byte {at}"),
            ArchiveError::Unsupported(kind, path) => write!(
                f,
                "unsupported entry type {:?} for {}",
                char::from(*kind),
                String::from_utf8_lossy(path)
            ),
            ArchiveError::UnsafePath(path) => {
                write!(f, "unsafe path {}", String::from_utf8_lossy(path))
            }
        }
    }
}

// Header field offsets and sizes (POSIX ustar).
const NAME: (usize, usize) = (0, 100);
const MODE: (usize, usize) = (100, 8);
const UID: (usize, usize) = (108, 8);
const GID: (usize, usize) = (116, 8);
const SIZE: (usize, usize) = (124, 12);
const MTIME: (usize, usize) = (136, 12);
const CHECKSUM: (usize, usize) = (148, 8);
const TYPEFLAG: usize = 156;
const LINKNAME: (usize, usize) = (157, 100);
const MAGIC: (usize, usize) = (257, 8);
const PREFIX: (usize, usize) = (345, 155);
const USTAR_MAGIC: &[u8; 8] = b"ustar\x0000";
/// The largest size or mtime the 12-byte octal fields hold (11 digits: 8 GiB, or 2242-03-16
/// as a time); larger ones go in pax records.
const USTAR_NUMBER_MAX: u64 = 0o77777777777;

const TYPE_FILE: u8 = b'0';
const TYPE_FILE_OLD: u8 = 0;
const TYPE_CONTIGUOUS: u8 = b'7';
const TYPE_HARDLINK: u8 = b'1';
const TYPE_SYMLINK: u8 = b'2';
const TYPE_DIR: u8 = b'5';
const TYPE_PAX: u8 = b'x';
const TYPE_PAX_GLOBAL: u8 = b'g';
const TYPE_GNU_LONGNAME: u8 = b'L';
const TYPE_GNU_LONGLINK: u8 = b'K';

fn field(header: &[u8; BLOCK], (at, len): (usize, usize)) -> &[u8] {
    // The fields above all lie within a block.
    header.get(at..at.saturating_add(len)).unwrap_or_default()
}

/// Copies as much of `bytes` as fits into a field.
fn put(header: &mut [u8; BLOCK], (at, len): (usize, usize), bytes: &[u8]) {
    for (slot, &b) in header.iter_mut().skip(at).take(len).zip(bytes) {
        *slot = b;
    }
}

/// `bytes` up to its first NUL, if any.
fn until_nul(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == 0).next().unwrap_or_default()
}

/// `bytes` split around the first `separator`, if there is one.
fn split_once(bytes: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let mut parts = bytes.splitn(2, |&b| b == separator);
    Some((parts.next()?, parts.next()?))
}

/// A NUL-terminated string field.
fn text(header: &[u8; BLOCK], range: (usize, usize)) -> &[u8] {
    until_nul(field(header, range))
}

/// An octal field, or GNU base-256 when the top bit of the first byte is set.
fn number(
    header: &[u8; BLOCK],
    range: (usize, usize),
    name: &'static str,
    at: u64,
) -> Result<u64, ArchiveError> {
    let bytes = field(header, range);
    if let Some((&first, rest)) = bytes.split_first().filter(|&(&b, _)| b & 0x80 != 0) {
        let mut value: u64 = u64::from(first & 0x7f);
        for &b in rest {
            value = value
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(b)))
                .ok_or(ArchiveError::BadField(name, at))?;
        }
        return Ok(value);
    }
    let mut value: u64 = 0;
    let mut seen = false;
    for &b in bytes {
        match char::from(b).to_digit(8) {
            Some(digit) => {
                seen = true;
                value = value
                    .checked_mul(8)
                    .and_then(|v| v.checked_add(u64::from(digit)))
                    .ok_or(ArchiveError::BadField(name, at))?;
            }
            None => match b {
                b' ' | 0 if !seen => {}
                b' ' | 0 => break,
                _ => return Err(ArchiveError::BadField(name, at)),
            },
        }
    }
    Ok(value)
}

fn checksum(header: &[u8; BLOCK]) -> u64 {
    // The checksum field itself counts as spaces.
    let mut blanked = *header;
    put(&mut blanked, CHECKSUM, &[b' '; CHECKSUM.1]);
    blanked.iter().map(|&b| u64::from(b)).sum()
}

/// The zero bytes that fill `len` bytes up to a whole number of blocks: -`len` mod `BLOCK`.
fn padding(len: u64) -> u64 {
    const BLOCK_LEN: u64 = BLOCK as u64;
    len.wrapping_neg() % BLOCK_LEN
}

/// Parses a pax time `SECS[.FRACTION]`.
fn parse_time(value: &[u8]) -> Option<Time> {
    let (negative, value) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, value),
    };
    let (whole, fraction) = split_once(value, b'.').unwrap_or((value, &[]));
    if whole.is_empty() || !whole.iter().chain(fraction).all(u8::is_ascii_digit) {
        return None;
    }
    // The magnitude as u64: "-9223372036854775808" is a time (i64::MIN) although its digits
    // are not an i64.
    let magnitude: u64 = core::str::from_utf8(whole).ok()?.parse().ok()?;
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let digit = fraction.get(i).and_then(|&d| char::from(d).to_digit(10));
        nanos = nanos.checked_mul(10)?.checked_add(digit.unwrap_or(0))?;
    }
    if !negative {
        return Some(Time {
            secs: i64::try_from(magnitude).ok()?,
            nanos,
        });
    }
    let secs = 0i64.checked_sub_unsigned(magnitude)?;
    Some(if nanos == 0 {
        Time { secs, nanos: 0 }
    } else {
        // -1.25 is 1.25 s before the epoch: seconds -2, plus 0.75 s.
        Time {
            secs: secs.checked_sub(1)?,
            nanos: 1_000_000_000u32.checked_sub(nanos)?,
        }
    })
}

fn format_time(time: Time) -> String {
    if time.secs < 0 && time.nanos > 0 {
        let nanos = 1_000_000_000u32.saturating_sub(time.nanos);
        let secs = time.secs.saturating_add(1).saturating_neg();
        format!("-{secs}.{nanos:09}")
    } else {
        format!("{}.{:09}", time.secs, time.nanos)
    }
}

/// Overrides collected from pax and GNU headers for the next entry.
#[derive(Default)]
struct Pending {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    mtime: Option<Time>,
    atime: Option<Time>,
}

/// Reads the entries of an archive held in memory, borrowing file contents from it.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Reader<'a> {
    /// A reader over a whole archive.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            bytes,
            pos: 0,
            done: false,
        }
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], ArchiveError> {
        let len = usize::try_from(len).map_err(|_| ArchiveError::Truncated)?;
        let data = self
            .bytes
            .get(self.pos..self.pos.checked_add(len).ok_or(ArchiveError::Truncated)?);
        let data = data.ok_or(ArchiveError::Truncated)?;
        let padding = usize::try_from(padding(len as u64)).map_err(|_| ArchiveError::Truncated)?;
        self.pos = self
            .pos
            .saturating_add(len)
            .saturating_add(padding)
            .min(self.bytes.len());
        Ok(data)
    }

    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ArchiveError> {
        let mut pending = Pending::default();
        loop {
            let at = self.pos as u64;
            let header = self.bytes.get(self.pos..).and_then(<[u8]>::first_chunk);
            let Some(header) = header else {
                // No end-of-archive blocks: accept a clean end between members.
                return if self.pos >= self.bytes.len() {
                    Ok(None)
                } else {
                    Err(ArchiveError::Truncated)
                };
            };
            if header.iter().all(|&b| b == 0) {
                return Ok(None);
            }
            // The header lay within the archive: this cannot saturate.
            self.pos = self.pos.saturating_add(BLOCK);
            let stored = number(header, CHECKSUM, "checksum", at)?;
            if stored != checksum(header) {
                return Err(ArchiveError::BadChecksum(at));
            }
            let size = match pending.size {
                Some(size) => size,
                None => number(header, SIZE, "size", at)?,
            };
            let typeflag = header[TYPEFLAG];
            match typeflag {
                TYPE_PAX => {
                    let records = self.take(size)?;
                    parse_pax(records, &mut pending, at)?;
                    continue;
                }
                TYPE_PAX_GLOBAL => {
                    self.take(size)?;
                    continue;
                }
                TYPE_GNU_LONGNAME | TYPE_GNU_LONGLINK => {
                    let data = self.take(size)?;
                    let value = until_nul(data).to_vec();
                    if typeflag == TYPE_GNU_LONGNAME {
                        pending.path = Some(value);
                    } else {
                        pending.link = Some(value);
                    }
                    continue;
                }
                _ => {}
            }
            let path = pending.path.take().unwrap_or_else(|| {
                let name = text(header, NAME);
                let prefix = text(header, PREFIX);
                if field(header, MAGIC).get(..6) == USTAR_MAGIC.get(..6) && !prefix.is_empty() {
                    [prefix, b"/", name].concat()
                } else {
                    name.to_vec()
                }
            });
            let path = normalize(&path)?;
            let link = pending
                .link
                .take()
                .unwrap_or_else(|| text(header, LINKNAME).to_vec());
            let kind = match typeflag {
                // An empty path (`.`, `./`) is the tree's root: only a directory can be it.
                TYPE_DIR => Kind::Dir,
                _ if path.is_empty() => return Err(ArchiveError::Unsupported(typeflag, path)),
                TYPE_FILE | TYPE_FILE_OLD | TYPE_CONTIGUOUS => Kind::File,
                TYPE_SYMLINK => Kind::Symlink,
                TYPE_HARDLINK => Kind::HardLink,
                other => return Err(ArchiveError::Unsupported(other, path)),
            };
            let link = match kind {
                Kind::HardLink => normalize(&link)?,
                _ => link,
            };
            let data = match kind {
                Kind::File => self.take(size)?,
                // Other kinds carry no data, but skip any a writer put there.
                _ => {
                    self.take(size)?;
                    &[][..]
                }
            };
            let mode = number(header, MODE, "mode", at)? as u32 & 0o7777;
            let mtime = match pending.mtime {
                Some(time) => time,
                None => Time {
                    // Base-256 holds more than an i64 of seconds.
                    secs: i64::try_from(number(header, MTIME, "mtime", at)?)
                        .map_err(|_| ArchiveError::BadField("mtime", at))?,
                    nanos: 0,
                },
            };
            return Ok(Some(Entry {
                path,
                kind,
                mode,
                mtime,
                atime: pending.atime,
                link,
                data,
            }));
        }
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Entry<'a>, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_entry().transpose();
        if !matches!(next, Some(Ok(_))) {
            self.done = true;
        }
        next
    }
}

fn parse_pax(mut records: &[u8], pending: &mut Pending, at: u64) -> Result<(), ArchiveError> {
    let bad = ArchiveError::BadField("pax record", at);
    while !records.is_empty() {
        if records.iter().all(|&b| b == 0) {
            break;
        }
        let (digits, _) = split_once(records, b' ').ok_or(bad.clone())?;
        let len: usize = core::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(bad.clone())?;
        // LEN counts the whole record, itself and the space included.
        let (record, rest) = records.split_at_checked(len).ok_or(bad.clone())?;
        let (_, record) = split_once(record, b' ').ok_or(bad.clone())?;
        let record = record.strip_suffix(b"\n").ok_or(bad.clone())?;
        let (key, value) = split_once(record, b'=').ok_or(bad.clone())?;
        match key {
            b"path" => pending.path = Some(value.to_vec()),
            b"linkpath" => pending.link = Some(value.to_vec()),
            b"size" => {
                let size = core::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse().ok());
                pending.size = Some(size.ok_or(bad.clone())?);
            }
            b"mtime" => pending.mtime = Some(parse_time(value).ok_or(bad.clone())?),
            b"atime" => pending.atime = Some(parse_time(value).ok_or(bad.clone())?),
            _ => {}
        }
        records = rest;
    }
    Ok(())
}

/// Strips `./` components and trailing slashes; refuses absolute paths and `..`.
fn normalize(path: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::with_capacity(path.len());
    if path.first() == Some(&b'/') {
        return Err(ArchiveError::UnsafePath(path.to_vec()));
    }
    for component in path.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err(ArchiveError::UnsafePath(path.to_vec())),
            name => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(name);
            }
        }
    }
    Ok(out)
}

/// Writes an archive into memory.
#[derive(Default)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// An empty archive.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Appends `entry` (its `data` only for files).
    pub fn append(&mut self, entry: &Entry<'_>) {
        let size = if entry.kind == Kind::File {
            entry.data.len() as u64
        } else {
            0
        };
        self.begin(entry, size);
        if entry.kind == Kind::File {
            self.data(entry.data);
        }
    }

    /// Writes the headers of `entry` (ignoring its `data`) for a file of `size` bytes, whose
    /// contents then follow through [`Writer::file_data`] and [`Writer::end_file`]: a file
    /// is streamed without being held in memory whole.
    pub fn begin(&mut self, entry: &Entry<'_>, size: u64) {
        let typeflag = match entry.kind {
            Kind::File => TYPE_FILE,
            Kind::Dir => TYPE_DIR,
            Kind::Symlink => TYPE_SYMLINK,
            Kind::HardLink => TYPE_HARDLINK,
        };
        let size = if entry.kind == Kind::File { size } else { 0 };
        let mut path = entry.path.clone();
        if entry.kind == Kind::Dir {
            // The root's own entry (an empty path) is `./`, as `tar -C DIR .` writes it.
            if path.is_empty() {
                path.push(b'.');
            }
            path.push(b'/');
        }
        // A pax header carries what ustar cannot: long or non-ASCII names, nanoseconds,
        // access times, sizes of 8 GiB and more.
        let mut pax = Vec::new();
        let long = |name: &[u8]| name.len() >= 100 || !name.is_ascii();
        if long(&path) {
            pax_record(&mut pax, "path", &path);
        }
        if long(&entry.link) {
            pax_record(&mut pax, "linkpath", &entry.link);
        }
        if size >= USTAR_NUMBER_MAX {
            pax_record(&mut pax, "size", format!("{size}").as_bytes());
        }
        let mtime = entry.mtime.secs.max(0) as u64;
        if entry.mtime.nanos != 0 || entry.mtime.secs < 0 || mtime > USTAR_NUMBER_MAX {
            pax_record(&mut pax, "mtime", format_time(entry.mtime).as_bytes());
        }
        if let Some(atime) = entry.atime {
            pax_record(&mut pax, "atime", format_time(atime).as_bytes());
        }
        if !pax.is_empty() {
            let name = b"PaxHeader";
            self.header(name, b"", TYPE_PAX, 0o644, pax.len() as u64, 0);
            self.data(&pax);
        }
        self.header(
            &path,
            &entry.link,
            typeflag,
            entry.mode & 0o7777,
            size,
            mtime,
        );
    }

    /// Appends a piece of the file begun with [`Writer::begin`].
    pub fn file_data(&mut self, piece: &[u8]) {
        self.out.extend_from_slice(piece);
    }

    /// Ends a file of `size` bytes begun with [`Writer::begin`]: pads it to a whole block.
    pub fn end_file(&mut self, size: u64) {
        let padding = padding(size) as usize;
        self.out.extend(core::iter::repeat_n(0, padding));
    }

    /// Takes the bytes written so far, leaving the writer empty but mid-archive: for writing
    /// an archive out as it is made.
    pub fn drain(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    fn header(&mut self, path: &[u8], link: &[u8], typeflag: u8, mode: u32, size: u64, mtime: u64) {
        let mut header = [0u8; BLOCK];
        // Names that do not fit went into the pax header; keep a readable prefix here.
        put(&mut header, NAME, path);
        put(&mut header, LINKNAME, link);
        octal(&mut header, MODE, u64::from(mode));
        octal(&mut header, UID, 0);
        octal(&mut header, GID, 0);
        octal(&mut header, SIZE, size.min(USTAR_NUMBER_MAX));
        octal(&mut header, MTIME, mtime.min(USTAR_NUMBER_MAX));
        header[TYPEFLAG] = typeflag;
        put(&mut header, MAGIC, USTAR_MAGIC);
        let sum = checksum(&header);
        // Six octal digits, NUL, space: the traditional layout.
        let (at, len) = CHECKSUM;
        let octal_len = len.saturating_sub(1);
        octal(&mut header, (at, octal_len), sum);
        put(&mut header, (at.saturating_add(octal_len), 1), b" ");
        self.out.extend_from_slice(&header);
    }

    fn data(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
        let padding = padding(data.len() as u64) as usize;
        self.out.extend(core::iter::repeat_n(0, padding));
    }

    /// Bytes written so far (without the end-of-archive blocks).
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Ends the archive with its two zero blocks and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend([0; 2 * BLOCK]);
        self.out
    }
}

/// Writes `value` as zero-padded octal filling the field but its last byte (a NUL).
fn octal(header: &mut [u8; BLOCK], (at, len): (usize, usize), value: u64) {
    let width = len.saturating_sub(1);
    let digits = format!("{value:0width$o}");
    // The low digits, should `value` not fit (callers clamp it).
    let digits = digits.as_bytes();
    let low = digits.get(digits.len().saturating_sub(width)..);
    put(header, (at, width), low.unwrap_or_default());
    put(header, (at.saturating_add(width), 1), &[0]);
}

/// Appends one pax record, `LEN KEY=VALUE\n`, where LEN counts itself.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len().saturating_add(value.len()).saturating_add(3); // space, '=', newline
    let mut len = body.saturating_add(1);
    while format!("{len}").len().saturating_add(body) != len {
        len = len.saturating_add(1);
    }
    out.extend_from_slice(format!("{len} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use std::io::Read;

    fn entry(path: &str, kind: Kind, data: &'static [u8]) -> Entry<'static> {
        Entry {
            path: path.as_bytes().to_vec(),
            kind,
            mode: if kind == Kind::Dir { 0o755 } else { 0o644 },
            mtime: Time {
                secs: 1_700_000_000,
                nanos: 123_456_789,
            },
            atime: Some(Time {
                secs: 1_700_000_100,
                nanos: 0,
            }),
            link: Vec::new(),
            data,
        }
    }

    fn sample() -> Vec<Entry<'static>> {
        let long = "d/".repeat(80) + "long-file-name.txt";
        let mut link = entry("d/link", Kind::Symlink, b"");
        link.link = b"../target with spaces".to_vec();
        let mut hard = entry("hard", Kind::HardLink, b"");
        hard.link = b"d/file.txt".to_vec();
        let mut old = entry("old", Kind::File, b"x");
        old.mtime = Time { secs: 12, nanos: 0 };
        old.atime = None;
        vec![
            entry("d", Kind::Dir, b""),
            entry("d/file.txt", Kind::File, b"hello\n"),
            entry("d/empty", Kind::File, b""),
            entry("d/block", Kind::File, &[7u8; 512]),
            entry(&long, Kind::File, b"deep"),
            entry("caf\u{e9}", Kind::File, b"utf-8 name"),
            link,
            hard,
            old,
        ]
    }

    #[test]
    fn archives_round_trip_through_our_reader() {
        let mut writer = Writer::new();
        for e in sample() {
            writer.append(&e);
        }
        let bytes = writer.finish();
        assert_eq!(bytes.len() % BLOCK, 0);
        let read: Vec<Entry<'_>> = Reader::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(read, sample());
    }

    #[test]
    fn the_tar_crate_reads_what_we_write() {
        let mut writer = Writer::new();
        for e in sample() {
            writer.append(&e);
        }
        let bytes = writer.finish();
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for member in archive.entries().unwrap() {
            let mut member = member.unwrap();
            let path = member.path_bytes().into_owned();
            let kind = member.header().entry_type();
            let link = member.link_name_bytes().map(|l| l.into_owned());
            let mut data = Vec::new();
            member.read_to_end(&mut data).unwrap();
            seen.push((path, kind, link, data));
        }
        let long = ("d/".repeat(80) + "long-file-name.txt").into_bytes();
        assert_eq!(seen.len(), sample().len());
        assert_eq!(seen[1].0, b"d/file.txt");
        assert_eq!(seen[1].3, b"hello\n");
        assert_eq!(seen[4].0, long);
        assert_eq!(seen[6].1, tar::EntryType::Symlink);
        assert_eq!(seen[6].2.as_deref(), Some(&b"../target with spaces"[..]));
        assert_eq!(seen[7].1, tar::EntryType::Link);
    }

    #[test]
    fn we_read_what_the_tar_crate_writes_including_gnu_long_names() {
        let mut builder = tar::Builder::new(Vec::new());
        let long = "x/".repeat(70) + "file";
        for (path, data) in [("a.txt", &b"alpha"[..]), (long.as_str(), &b"long"[..])] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(1_600_000_000);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, data).unwrap();
        }
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder.append_link(&mut header, "s", "a.txt").unwrap();
        let bytes = builder.into_inner().unwrap();
        let read: Vec<Entry<'_>> = Reader::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(
            (read[0].path.as_slice(), read[0].data, read[0].mode),
            (&b"a.txt"[..], &b"alpha"[..], 0o600)
        );
        assert_eq!(
            read[0].mtime,
            Time {
                secs: 1_600_000_000,
                nanos: 0
            }
        );
        assert_eq!(
            (read[1].path.clone(), read[1].data),
            (long.into_bytes(), &b"long"[..])
        );
        assert_eq!(
            (read[2].kind, read[2].link.as_slice()),
            (Kind::Symlink, &b"a.txt"[..])
        );
    }

    #[test]
    fn a_streamed_archive_is_the_same_as_a_whole_one() {
        let mut whole = Writer::new();
        let mut streamed = Writer::new();
        let mut out = Vec::new();
        for e in sample() {
            whole.append(&e);
            streamed.begin(&e, e.data.len() as u64);
            for piece in e.data.chunks(100) {
                streamed.file_data(piece);
                out.extend(streamed.drain());
            }
            if e.kind == Kind::File {
                streamed.end_file(e.data.len() as u64);
            }
        }
        out.extend(streamed.finish());
        assert_eq!(out, whole.finish());
    }

    #[test]
    fn hostile_archives_are_errors_not_panics() {
        let mut writer = Writer::new();
        writer.append(&entry("f", Kind::File, b"0123456789"));
        let good = writer.finish();
        // Truncated in the data.
        let cut = &good[..BLOCK + 4];
        assert_eq!(
            Reader::new(cut).collect::<Result<Vec<_>, _>>(),
            Err(ArchiveError::Truncated)
        );
        // A flipped byte breaks the checksum.
        let mut bad = good.clone();
        bad[3] ^= 1;
        assert!(matches!(
            Reader::new(&bad).next(),
            Some(Err(ArchiveError::BadChecksum(0)))
        ));
        // Escaping paths.
        for path in ["../up", "/abs", "a/../../b"] {
            let mut w = Writer::new();
            w.append(&entry(path, Kind::File, b""));
            let bytes = w.finish();
            assert!(
                matches!(
                    Reader::new(&bytes).next(),
                    Some(Err(ArchiveError::UnsafePath(_)))
                ),
                "{path}"
            );
        }
        // Random garbage never panics.
        let mut seed = 0x1234_5678_u32;
        for _ in 0..200 {
            let mut junk = good.clone();
            for _ in 0..8 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let at = (seed as usize >> 8) % junk.len();
                junk[at] = (seed >> 3) as u8;
            }
            let _ = Reader::new(&junk).count();
        }
        // An empty input is an empty archive.
        assert_eq!(Reader::new(&[]).count(), 0);
    }

    #[test]
    fn the_root_is_a_directory_entry_and_nothing_else() {
        // The root's entry (`./`) writes out and reads back (the fuzzer found `/` here).
        let mut writer = Writer::new();
        writer.append(&entry("", Kind::Dir, b""));
        let bytes = writer.finish();
        let read: Vec<Entry<'_>> = Reader::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(read, vec![entry("", Kind::Dir, b"")]);
        // A file, symlink or hard link cannot be the root.
        for kind in [Kind::File, Kind::Symlink, Kind::HardLink] {
            let mut other = entry(".", kind, b"");
            other.link = b"x".to_vec();
            let mut writer = Writer::new();
            writer.append(&other);
            let bytes = writer.finish();
            assert!(
                matches!(
                    Reader::new(&bytes).next(),
                    Some(Err(ArchiveError::Unsupported(_, _)))
                ),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn times_before_the_epoch_and_nanoseconds_survive() {
        for time in [
            Time {
                secs: -2,
                nanos: 750_000_000,
            },
            Time { secs: -5, nanos: 0 },
            Time { secs: 3, nanos: 1 },
            // Found by `fuzz/` (target `tar`): i64::MIN was written as a pax time the reader
            // refused, its digits being no i64.
            Time {
                secs: i64::MIN,
                nanos: 0,
            },
            Time {
                secs: i64::MIN,
                nanos: 1,
            },
            Time {
                secs: i64::MAX,
                nanos: 999_999_999,
            },
        ] {
            assert_eq!(
                parse_time(format_time(time).as_bytes()),
                Some(time),
                "{time:?}"
            );
        }
        assert_eq!(Time::from_nanos(1_500_000_000).as_nanos(), 1_500_000_000);
        assert_eq!(Time { secs: -1, nanos: 0 }.as_nanos(), 0);
        // Beyond i64 either way: no time.
        assert_eq!(parse_time(b"-9223372036854775808.5"), None);
        assert_eq!(parse_time(b"9223372036854775808"), None);
    }

    #[test]
    fn whole_second_times_past_the_ustar_field_survive() {
        // Found by `fuzz/` (target `tar`): a time after 2242 with no nanoseconds went into
        // the 11-digit octal field alone, clamped, and came back as 2242-03-16. A guest
        // can set such times (`path_filestat_set_times` takes any u64), and the write-back
        // lost them.
        let mut late = entry("late", Kind::File, b"x");
        for secs in [0o77777777777, 0o100000000000, i64::MAX] {
            late.mtime = Time { secs, nanos: 0 };
            late.atime = Some(late.mtime);
            let mut writer = Writer::new();
            writer.append(&late);
            let bytes = writer.finish();
            let read: Vec<Entry<'_>> = Reader::new(&bytes).collect::<Result<_, _>>().unwrap();
            assert_eq!(read, [late.clone()], "{secs}");
        }
        let latest = Time::from_nanos(u64::MAX / 1_000_000_000 * 1_000_000_000);
        late.mtime = latest;
        let mut writer = Writer::new();
        writer.append(&late);
        let bytes = writer.finish();
        assert_eq!(Reader::new(&bytes).next().unwrap().unwrap().mtime, latest);
    }
}
