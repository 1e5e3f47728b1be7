//! Typed, bounds-checked access to a guest's linear memory.
//!
//! Every pointer the program hands over is a `u32` offset; every check uses checked arithmetic,
//! and a pointer that does not fit, or is misaligned for its type, becomes a [`Trap`] rather than
//! an errno, as the witx requires. Values are little-endian, as in wasm.

use core::marker::PhantomData;
use core::ops::Range;

use crate::outcome::Trap;

/// A value with a fixed preview1 layout in guest memory.
pub trait GuestType: Sized {
    /// Size in bytes, as the witx lays the type out.
    const SIZE: u32;
    /// Required alignment in bytes.
    const ALIGN: u32;
    /// Decodes from exactly `SIZE` bytes.
    fn decode(bytes: &Bytes<'_>) -> Self;
    /// Encodes into exactly `SIZE` bytes; padding is written as zero.
    fn encode(&self, out: &mut BytesMut<'_>);
}

/// A `SIZE`-byte window of guest memory being decoded; reads past it give zero, which the
/// layout tests rule out.
pub struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    /// The `N` bytes at `offset`.
    fn array<const N: usize>(&self, offset: usize) -> [u8; N] {
        let mut out = [0; N];
        if let Some(src) = offset
            .checked_add(N)
            .and_then(|end| self.0.get(offset..end))
        {
            out.copy_from_slice(src);
        }
        out
    }
    /// All `SIZE` bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.0
    }
    /// The byte at `offset`.
    pub fn u8(&self, offset: usize) -> u8 {
        u8::from_le_bytes(self.array(offset))
    }
    /// The little-endian `u16` at `offset`.
    pub fn u16(&self, offset: usize) -> u16 {
        u16::from_le_bytes(self.array(offset))
    }
    /// The little-endian `u32` at `offset`.
    pub fn u32(&self, offset: usize) -> u32 {
        u32::from_le_bytes(self.array(offset))
    }
    /// The little-endian `u64` at `offset`.
    pub fn u64(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.array(offset))
    }
}

/// A `SIZE`-byte window of guest memory being encoded.
pub struct BytesMut<'a>(&'a mut [u8]);

impl BytesMut<'_> {
    fn put(&mut self, offset: usize, src: &[u8]) {
        if let Some(dst) = offset
            .checked_add(src.len())
            .and_then(|end| self.0.get_mut(offset..end))
        {
            dst.copy_from_slice(src);
        }
    }
    /// All `SIZE` bytes, to write.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.0
    }
    /// Writes a byte at `offset`.
    pub fn u8(&mut self, offset: usize, value: u8) {
        self.put(offset, &[value]);
    }
    /// Writes a little-endian `u16` at `offset`.
    pub fn u16(&mut self, offset: usize, value: u16) {
        self.put(offset, &value.to_le_bytes());
    }
    /// Writes a little-endian `u32` at `offset`.
    pub fn u32(&mut self, offset: usize, value: u32) {
        self.put(offset, &value.to_le_bytes());
    }
    /// Writes a little-endian `u64` at `offset`.
    pub fn u64(&mut self, offset: usize, value: u64) {
        self.put(offset, &value.to_le_bytes());
    }
}

macro_rules! guest_int {
    ($($ty:ty),*) => {$(
        impl GuestType for $ty {
            const SIZE: u32 = size_of::<$ty>() as u32;
            const ALIGN: u32 = size_of::<$ty>() as u32;
            fn decode(bytes: &Bytes<'_>) -> Self {
                <$ty>::from_le_bytes(bytes.array(0))
            }
            fn encode(&self, out: &mut BytesMut<'_>) {
                out.put(0, &self.to_le_bytes());
            }
        }
    )*};
}

guest_int!(u8, u16, u32, u64);

/// A guest's linear memory, borrowed for the duration of one syscall.
pub struct GuestMemory<'a> {
    bytes: &'a mut [u8],
}

impl<'a> GuestMemory<'a> {
    /// Wraps the bytes of linear memory.
    pub fn new(bytes: &'a mut [u8]) -> Self {
        GuestMemory { bytes }
    }

    /// Size of linear memory in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether linear memory is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The byte range `ptr..ptr + len`, if it is aligned to `align` and inside memory.
    fn range(&self, ptr: u32, len: u32, align: u32) -> Result<Range<usize>, Trap> {
        if align > 1 && !ptr.is_multiple_of(align) {
            return Err(Trap::Misaligned);
        }
        let start = usize::try_from(ptr).map_err(|_| Trap::MemoryOutOfBounds)?;
        let len = usize::try_from(len).map_err(|_| Trap::MemoryOutOfBounds)?;
        let end = start.checked_add(len).ok_or(Trap::MemoryOutOfBounds)?;
        if end > self.bytes.len() {
            return Err(Trap::MemoryOutOfBounds);
        }
        Ok(start..end)
    }

    /// The `len` bytes at `ptr`.
    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Trap> {
        let range = self.range(ptr, len, 1)?;
        self.bytes.get(range).ok_or(Trap::MemoryOutOfBounds)
    }

    /// The `len` bytes at `ptr`, writable.
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Trap> {
        let range = self.range(ptr, len, 1)?;
        self.bytes.get_mut(range).ok_or(Trap::MemoryOutOfBounds)
    }

    /// Copies `data` to `ptr`.
    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Trap> {
        let len = u32::try_from(data.len()).map_err(|_| Trap::MemoryOutOfBounds)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }

    /// Reads a `T` at `ptr`.
    pub fn read<T: GuestType>(&self, ptr: u32) -> Result<T, Trap> {
        let range = self.range(ptr, T::SIZE, T::ALIGN)?;
        let bytes = self.bytes.get(range).ok_or(Trap::MemoryOutOfBounds)?;
        Ok(T::decode(&Bytes(bytes)))
    }

    /// Writes `value` at `ptr`.
    pub fn write<T: GuestType>(&mut self, ptr: u32, value: &T) -> Result<(), Trap> {
        let range = self.range(ptr, T::SIZE, T::ALIGN)?;
        let bytes = self.bytes.get_mut(range).ok_or(Trap::MemoryOutOfBounds)?;
        bytes.fill(0);
        value.encode(&mut BytesMut(bytes));
        Ok(())
    }

    /// Checks that a `T` could be written at `ptr`, so a syscall can trap before it has any
    /// side effect rather than after.
    pub fn check<T: GuestType>(&self, ptr: u32) -> Result<(), Trap> {
        self.range(ptr, T::SIZE, T::ALIGN).map(|_| ())
    }

    /// Checks that `count` values of `T` starting at `ptr` lie inside memory and are aligned,
    /// so that the elements can then be addressed without further arithmetic failing.
    pub fn array<T: GuestType>(&self, ptr: u32, count: u32) -> Result<GuestArray<T>, Trap> {
        let len = count.checked_mul(T::SIZE).ok_or(Trap::MemoryOutOfBounds)?;
        self.range(ptr, len, T::ALIGN)?;
        Ok(GuestArray {
            ptr,
            count,
            element: PhantomData,
        })
    }
}

/// A run of `T`s in guest memory whose bounds and alignment have been checked.
#[derive(Debug)]
pub struct GuestArray<T> {
    ptr: u32,
    count: u32,
    element: PhantomData<T>,
}

// Derived `Clone`/`Copy` would needlessly require `T: Copy`.
impl<T> Clone for GuestArray<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for GuestArray<T> {}

impl<T: GuestType> GuestArray<T> {
    /// Number of elements.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Guest address of element `index`, or `None` past the end.
    pub fn ptr(&self, index: u32) -> Option<u32> {
        if index >= self.count {
            return None;
        }
        index
            .checked_mul(T::SIZE)
            .and_then(|offset| self.ptr.checked_add(offset))
    }

    /// Guest addresses of every element, in order.
    pub fn ptrs(&self) -> impl Iterator<Item = u32> + use<T> {
        let array = *self;
        (0..self.count).filter_map(move |index| array.ptr(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn little_endian_round_trip() {
        let mut bytes = vec![0u8; 16];
        let mut mem = GuestMemory::new(&mut bytes);
        mem.write(8, &0x0102_0304_0506_0708u64).unwrap();
        assert_eq!(mem.read::<u32>(8), Ok(0x0506_0708));
        assert_eq!(mem.read::<u16>(14), Ok(0x0102));
        assert_eq!(bytes[8], 0x08);
    }

    #[test]
    fn bounds_and_alignment_trap() {
        let mut bytes = vec![0u8; 16];
        let mut mem = GuestMemory::new(&mut bytes);
        assert_eq!(mem.read::<u64>(16), Err(Trap::MemoryOutOfBounds));
        assert_eq!(mem.read::<u32>(12), Ok(0));
        assert_eq!(mem.read::<u32>(13), Err(Trap::Misaligned));
        assert_eq!(mem.read::<u32>(u32::MAX - 3), Err(Trap::MemoryOutOfBounds));
        assert_eq!(mem.slice(16, 0).map(<[u8]>::len), Ok(0));
        assert_eq!(mem.slice(17, 0), Err(Trap::MemoryOutOfBounds));
        assert_eq!(mem.slice(u32::MAX, u32::MAX), Err(Trap::MemoryOutOfBounds));
        assert_eq!(mem.write_bytes(15, &[1, 2]), Err(Trap::MemoryOutOfBounds));
        assert!(mem.array::<u64>(0, 2).is_ok());
        assert!(mem.array::<u64>(0, 3).is_err());
        assert_eq!(
            mem.array::<u64>(0, u32::MAX).map(|a| a.len()),
            Err(Trap::MemoryOutOfBounds)
        );
    }

    #[test]
    fn array_addresses() {
        let mut bytes = vec![0u8; 64];
        let mem = GuestMemory::new(&mut bytes);
        let array = mem.array::<u64>(8, 3).unwrap();
        assert_eq!(array.ptrs().collect::<alloc::vec::Vec<_>>(), [8, 16, 24]);
        assert_eq!(array.ptr(3), None);
    }
}
