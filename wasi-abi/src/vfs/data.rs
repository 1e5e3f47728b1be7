//! The contents of a regular file, stored sparsely in fixed-size chunks.
//!
//! Only chunks that were written hold memory; the rest of the file (holes, and everything past
//! a size extended by truncation or `fd_allocate`) reads as zeros. Shrinking a file frees the
//! chunks past its new end, so a large file costs memory only for the data it really holds.
//! The file system's [`Budget`] (its size) is charged every chunk up to the file's size,
//! holes included: file data cannot take the whole kernel heap, and what goes back to the
//! host (holes as zeros) is bounded by the size.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec::Vec;

use crate::budget::Budget;
use crate::errno::{Errno, Result};
use crate::fallible::infallible;

/// Bytes per chunk: large enough that a multi-megabyte file is a few dozen map entries, small
/// enough that a sparse write does not allocate much more than it stores.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// [`CHUNK_SIZE`] as a file offset.
const CHUNK: u64 = CHUNK_SIZE as u64;

/// Largest size a file may reach: offsets are `i64` in `fd_seek`, as in Linux's `off_t`.
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;

/// Sparse file data: its size and the chunks written so far, keyed by chunk index.
pub struct FileData {
    size: u64,
    chunks: BTreeMap<u64, Box<[u8]>>,
    budget: Rc<Budget>,
}

impl Drop for FileData {
    fn drop(&mut self) {
        self.budget.give(size_bytes(self.size));
    }
}

/// What a file of `size` bytes is charged: every chunk up to its end, holes included. A
/// hole takes no memory, but the file system's size must bound what goes back to the host,
/// and the write-back archive holds a hole as zeros.
fn size_bytes(size: u64) -> u64 {
    size.div_ceil(CHUNK).saturating_mul(CHUNK)
}

/// A chunk of zeros (already charged with the file's size), or `ENOSPC` if the machine's
/// memory is short (`budget`'s guard) or the allocator cannot provide one (rather than
/// aborting the kernel on a guest's request).
fn zeroed_chunk(budget: &Budget) -> Result<Box<[u8]>> {
    budget.check_memory(CHUNK)?;
    let mut chunk = Vec::new();
    if chunk.try_reserve_exact(CHUNK_SIZE).is_err() {
        return Err(Errno::Nospc);
    }
    chunk.resize(CHUNK_SIZE, 0);
    Ok(chunk.into_boxed_slice())
}

/// Splits a file offset into a chunk index and the offset inside that chunk.
fn split(offset: u64) -> (u64, usize) {
    let index = offset.checked_div(CHUNK).unwrap_or(0);
    let within = offset.checked_rem(CHUNK).unwrap_or(0);
    // `within < CHUNK_SIZE`, which fits a usize.
    (index, usize::try_from(within).unwrap_or(0))
}

impl FileData {
    /// An empty file whose chunks are charged to `budget`.
    pub fn new(budget: Rc<Budget>) -> Self {
        FileData {
            size: 0,
            chunks: BTreeMap::new(),
            budget,
        }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of chunks holding memory (for tests and accounting).
    pub fn allocated_chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Copies bytes from `offset` into `buf`, up to the end of the file; returns how many.
    /// Holes read as zeros.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> usize {
        let available = self.size.saturating_sub(offset);
        let len = usize::try_from(available).map_or(buf.len(), |a| a.min(buf.len()));
        let mut done = 0usize;
        while done < len {
            let position = offset.saturating_add(done as u64);
            let (index, within) = split(position);
            let piece = CHUNK_SIZE
                .saturating_sub(within)
                .min(len.saturating_sub(done));
            let end = done.saturating_add(piece);
            let Some(dst) = buf.get_mut(done..end) else {
                break;
            };
            match self
                .chunks
                .get(&index)
                .and_then(|chunk| chunk.get(within..within.saturating_add(piece)))
            {
                Some(src) => dst.copy_from_slice(src),
                None => dst.fill(0),
            }
            done = end;
        }
        done
    }

    /// Charges the file for growing to `size` (holes included), or `ENOSPC`; returns the
    /// bytes taken. The machine's memory is not asked: a hole takes none.
    fn charge_growth(&self, size: u64) -> Result<u64> {
        let extra = size_bytes(size).saturating_sub(size_bytes(self.size));
        self.budget.take_within_limit(extra)?;
        Ok(extra)
    }

    /// Writes `data` at `offset`, extending the file if needed; returns `data.len()`.
    /// `EFBIG` past [`MAX_FILE_SIZE`]; `ENOSPC` when the file system or memory runs out (the
    /// data written up to then stays, and the size covers it).
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<usize> {
        u64::try_from(data.len())
            .ok()
            .and_then(|len| offset.checked_add(len))
            .filter(|end| *end <= MAX_FILE_SIZE)
            .ok_or(Errno::Fbig)?;
        let mut done = 0usize;
        while done < data.len() {
            let position = offset.saturating_add(done as u64);
            let (index, within) = split(position);
            let piece = CHUNK_SIZE
                .saturating_sub(within)
                .min(data.len().saturating_sub(done));
            let src = data
                .get(done..done.saturating_add(piece))
                .ok_or(Errno::Inval)?;
            let end = position.saturating_add(piece as u64);
            let taken = match self.charge_growth(end) {
                Ok(taken) => taken,
                Err(errno) if done == 0 => return Err(errno),
                Err(_) => break,
            };
            let chunk = match self.chunks.get_mut(&index) {
                Some(chunk) => chunk,
                None => {
                    let chunk = match zeroed_chunk(&self.budget) {
                        Ok(chunk) => chunk,
                        Err(errno) => {
                            self.budget.give(taken);
                            if done == 0 {
                                return Err(errno);
                            }
                            break;
                        }
                    };
                    // The map's node is the one allocation here that cannot fail softly: a
                    // fixed size, one per several chunks, and chunks are capped by `Space`.
                    infallible(|| self.chunks.entry(index).or_insert(chunk))
                }
            };
            if let Some(dst) = chunk.get_mut(within..within.saturating_add(piece)) {
                dst.copy_from_slice(src);
            }
            done = done.saturating_add(piece);
            self.size = self.size.max(offset.saturating_add(done as u64));
        }
        Ok(done)
    }

    /// Sets the size: shrinking frees the chunks past the end and zeroes the tail of the last
    /// one (so a later extension reads zeros), growing leaves a hole (which counts against
    /// the file system's size: `ENOSPC` beyond it). `EFBIG` past the limit.
    pub fn set_size(&mut self, size: u64) -> Result<()> {
        if size > MAX_FILE_SIZE {
            return Err(Errno::Fbig);
        }
        if size > self.size {
            self.charge_growth(size)?;
        }
        if size < self.size {
            self.budget
                .give(size_bytes(self.size).saturating_sub(size_bytes(size)));
            let (index, within) = split(size);
            let first_free = if within == 0 {
                index
            } else {
                index.saturating_add(1)
            };
            // Everything from `first_free` on goes, one chunk at a time: `split_off` would
            // allocate a new map, and a truncation must not be able to fail for memory.
            while self
                .chunks
                .last_key_value()
                .is_some_and(|(last, _)| *last >= first_free)
            {
                self.chunks.pop_last();
            }
            if within != 0
                && let Some(tail) = self
                    .chunks
                    .get_mut(&index)
                    .and_then(|chunk| chunk.get_mut(within..))
            {
                tail.fill(0);
            }
        }
        self.size = size;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn unlimited() -> FileData {
        FileData::new(Budget::new(u64::MAX, Errno::Nospc))
    }

    #[test]
    fn holes_read_as_zeros_and_cost_nothing() {
        let mut data = unlimited();
        let far = 10 * CHUNK + 5;
        assert_eq!(data.write_at(far, b"xyz"), Ok(3));
        assert_eq!(data.size(), far + 3);
        assert_eq!(data.allocated_chunks(), 1);
        let mut buf = vec![0xaau8; 8];
        assert_eq!(data.read_at(far - 4, &mut buf), 7);
        assert_eq!(&buf[..7], b"\0\0\0\0xyz");
        assert_eq!(buf[7], 0xaa, "nothing past the end");
        assert_eq!(data.read_at(far + 3, &mut buf), 0);
        assert_eq!(data.read_at(u64::MAX, &mut buf), 0);
    }

    #[test]
    fn writes_spanning_chunks() {
        let mut data = unlimited();
        let payload: Vec<u8> = (0..3 * CHUNK_SIZE + 17).map(|i| (i % 251) as u8).collect();
        assert_eq!(data.write_at(CHUNK - 3, &payload), Ok(payload.len()));
        assert_eq!(data.allocated_chunks(), 5);
        let mut back = vec![0u8; payload.len()];
        assert_eq!(data.read_at(CHUNK - 3, &mut back), payload.len());
        assert_eq!(back, payload);
    }

    #[test]
    fn shrinking_frees_and_zeroes_the_tail() {
        let mut data = unlimited();
        data.write_at(0, &vec![7u8; 3 * CHUNK_SIZE]).unwrap();
        data.set_size(CHUNK + 10).unwrap();
        assert_eq!(data.allocated_chunks(), 2);
        data.set_size(3 * CHUNK).unwrap();
        assert_eq!(data.allocated_chunks(), 2, "growing leaves a hole");
        let mut buf = vec![0xffu8; 20];
        assert_eq!(data.read_at(CHUNK, &mut buf), 20);
        assert_eq!(&buf[..10], &[7u8; 10]);
        assert_eq!(
            &buf[10..],
            &[0u8; 10],
            "old bytes past the cut do not come back"
        );
        data.set_size(CHUNK).unwrap();
        assert_eq!(data.allocated_chunks(), 1);
        data.set_size(0).unwrap();
        assert_eq!(data.allocated_chunks(), 0);
    }

    #[test]
    fn space_is_accounted_and_capped() {
        let space = Budget::new(3 * CHUNK, Errno::Nospc);
        let mut a = FileData::new(Rc::clone(&space));
        let mut b = FileData::new(Rc::clone(&space));
        assert_eq!(
            a.write_at(0, &vec![1u8; 2 * CHUNK_SIZE]),
            Ok(2 * CHUNK_SIZE)
        );
        assert_eq!(space.used(), 2 * CHUNK);
        // Room for one more chunk: a write over two gets half done, then ENOSPC.
        assert_eq!(b.write_at(0, &vec![2u8; 2 * CHUNK_SIZE]), Ok(CHUNK_SIZE));
        assert_eq!(b.size(), CHUNK);
        assert_eq!(b.write_at(CHUNK, b"x"), Err(Errno::Nospc));
        // Rewriting allocated chunks needs no room; growing does, holes included.
        assert_eq!(b.write_at(5, b"y"), Ok(1));
        assert_eq!(b.set_size(100 * CHUNK), Err(Errno::Nospc));
        assert_eq!(b.size(), CHUNK, "a refused growth changes nothing");
        assert_eq!(b.write_at(10 * CHUNK, b"far"), Err(Errno::Nospc));
        a.set_size(1).unwrap();
        assert_eq!(space.used(), 2 * CHUNK);
        b.set_size(2 * CHUNK).unwrap();
        assert_eq!(space.used(), 3 * CHUNK, "a hole counts");
        assert_eq!(b.allocated_chunks(), 1, "but takes no memory");
        drop(b);
        assert_eq!(space.used(), CHUNK);
        space.set_limit(u64::MAX);
        assert_eq!(space.limit(), u64::MAX);
        drop(a);
        assert_eq!(space.used(), 0);
    }

    #[test]
    fn size_limit_is_efbig() {
        let mut data = unlimited();
        assert_eq!(data.write_at(MAX_FILE_SIZE, b"x"), Err(Errno::Fbig));
        assert_eq!(data.write_at(u64::MAX, b"x"), Err(Errno::Fbig));
        assert_eq!(data.set_size(MAX_FILE_SIZE + 1), Err(Errno::Fbig));
        assert_eq!(data.write_at(MAX_FILE_SIZE, b""), Ok(0));
        assert_eq!(data.size(), 0, "an empty write does not extend");
        data.set_size(MAX_FILE_SIZE).unwrap();
        assert_eq!(data.allocated_chunks(), 0);
    }
}
