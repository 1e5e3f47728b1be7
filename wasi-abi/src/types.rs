//! Preview1 types and constants (`typenames.witx`), with the guest-memory layouts of the
//! structs the syscalls exchange.

use crate::errno::Errno;
use crate::memory::{Bytes, BytesMut, GuestType};

/// Declares a C-like enum of preview1 values with a checked conversion from the raw number.
macro_rules! wasi_enum {
    ($(#[$meta:meta])* $name:ident : $repr:ty {
        $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )*
        }

        impl $name {
            /// The value with this number, if the witx defines one.
            pub const fn from_raw(raw: $repr) -> Option<Self> {
                match raw {
                    $( $value => Some($name::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

/// Declares a preview1 flags type as a transparent newtype with named bits.
macro_rules! wasi_flags {
    ($(#[$meta:meta])* $name:ident : $repr:ty {
        $( $(#[$fmeta:meta])* $flag:ident = $bit:literal, )*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub $repr);

        impl $name {
            $( $(#[$fmeta])* pub const $flag: $name = $name(1 << $bit); )*
            /// No bits set.
            pub const EMPTY: $name = $name(0);
            /// Every bit the witx defines.
            pub const ALL: $name = $name(0 $(| (1 << $bit))*);

            /// The raw bits.
            pub const fn bits(self) -> $repr {
                self.0
            }
            /// The flags, if no undefined bit is set.
            pub const fn from_bits(bits: $repr) -> Option<Self> {
                if bits & !Self::ALL.0 == 0 { Some($name(bits)) } else { None }
            }
            /// Whether every bit of `other` is set in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }
            /// Bits set in either.
            pub const fn union(self, other: Self) -> Self {
                $name(self.0 | other.0)
            }
            /// Bits of `self` not in `other`.
            pub const fn difference(self, other: Self) -> Self {
                $name(self.0 & !other.0)
            }
        }

        impl core::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, other: Self) -> Self {
                self.union(other)
            }
        }
    };
}

/// A file descriptor number.
pub type Fd = u32;
/// A point in time or a duration, in nanoseconds.
pub type Timestamp = u64;
/// A file size or offset in bytes.
pub type Filesize = u64;

wasi_enum! {
    /// Identifiers for clocks.
    ClockId: u32 {
        /// Wall-clock time since the Unix epoch.
        Realtime = 0,
        /// A clock that only moves forward, from an unspecified start.
        Monotonic = 1,
        /// CPU time consumed by the process.
        ProcessCputimeId = 2,
        /// CPU time consumed by the thread.
        ThreadCputimeId = 3,
    }
}

wasi_enum! {
    /// The type of a file descriptor or file.
    Filetype: u8 {
        /// Unknown, or something else.
        Unknown = 0,
        /// A block device inode.
        BlockDevice = 1,
        /// A character device inode.
        CharacterDevice = 2,
        /// A directory inode.
        Directory = 3,
        /// A regular file inode.
        RegularFile = 4,
        /// A datagram socket.
        SocketDgram = 5,
        /// A byte-stream socket.
        SocketStream = 6,
        /// A symbolic link inode.
        SymbolicLink = 7,
    }
}

wasi_enum! {
    /// The position relative to which to set the offset of a file descriptor.
    Whence: u8 {
        /// Seek relative to the start of the file.
        Set = 0,
        /// Seek relative to the current position.
        Cur = 1,
        /// Seek relative to the end of the file.
        End = 2,
    }
}

wasi_enum! {
    /// File or memory access pattern advisory information.
    Advice: u8 {
        /// No particular advice.
        Normal = 0,
        /// Sequential access.
        Sequential = 1,
        /// Random access.
        Random = 2,
        /// Will be accessed soon.
        Willneed = 3,
        /// Will not be accessed soon.
        Dontneed = 4,
        /// Will be accessed only once.
        Noreuse = 5,
    }
}

wasi_enum! {
    /// Type of a subscription to an event, or of its occurrence.
    Eventtype: u8 {
        /// The clock reached the subscription's timestamp.
        Clock = 0,
        /// The fd has data to read.
        FdRead = 1,
        /// The fd can accept a write.
        FdWrite = 2,
    }
}

wasi_enum! {
    /// Signal condition numbers (not the same as Linux's from 16 on).
    Signal: u8 {
        /// No signal; reserved.
        None = 0,
        /// Hangup.
        Hup = 1,
        /// Terminal interrupt.
        Int = 2,
        /// Terminal quit.
        Quit = 3,
        /// Illegal instruction.
        Ill = 4,
        /// Trace/breakpoint trap.
        Trap = 5,
        /// Process abort.
        Abrt = 6,
        /// Access to an undefined portion of a memory object.
        Bus = 7,
        /// Erroneous arithmetic operation.
        Fpe = 8,
        /// Kill.
        Kill = 9,
        /// User-defined signal 1.
        Usr1 = 10,
        /// Invalid memory reference.
        Segv = 11,
        /// User-defined signal 2.
        Usr2 = 12,
        /// Write on a pipe with no one to read it.
        Pipe = 13,
        /// Alarm clock.
        Alrm = 14,
        /// Termination.
        Term = 15,
        /// Child process terminated, stopped, or continued.
        Chld = 16,
        /// Continue executing, if stopped.
        Cont = 17,
        /// Stop executing.
        Stop = 18,
        /// Terminal stop.
        Tstp = 19,
        /// Background process attempting read.
        Ttin = 20,
        /// Background process attempting write.
        Ttou = 21,
        /// High bandwidth data available at a socket.
        Urg = 22,
        /// CPU time limit exceeded.
        Xcpu = 23,
        /// File size limit exceeded.
        Xfsz = 24,
        /// Virtual timer expired.
        Vtalrm = 25,
        /// Profiling timer expired.
        Prof = 26,
        /// Window changed.
        Winch = 27,
        /// I/O possible.
        Poll = 28,
        /// Power failure.
        Pwr = 29,
        /// Bad system call.
        Sys = 30,
    }
}

wasi_enum! {
    /// Kinds of preopened resource.
    Preopentype: u8 {
        /// A pre-opened directory.
        Dir = 0,
    }
}

wasi_flags! {
    /// File descriptor flags.
    Fdflags: u16 {
        /// Writes append to the end of the file.
        APPEND = 0,
        /// Write according to synchronized I/O data integrity completion.
        DSYNC = 1,
        /// Non-blocking mode.
        NONBLOCK = 2,
        /// Synchronized read I/O operations.
        RSYNC = 3,
        /// Write according to synchronized I/O file integrity completion.
        SYNC = 4,
    }
}

wasi_flags! {
    /// File descriptor rights, determining which actions may be performed.
    Rights: u64 {
        /// `fd_datasync`.
        FD_DATASYNC = 0,
        /// `fd_read`, `sock_recv`.
        FD_READ = 1,
        /// `fd_seek` (implies `FD_TELL`).
        FD_SEEK = 2,
        /// `fd_fdstat_set_flags`.
        FD_FDSTAT_SET_FLAGS = 3,
        /// `fd_sync`.
        FD_SYNC = 4,
        /// `fd_tell`, or `fd_seek` that does not move the offset.
        FD_TELL = 5,
        /// `fd_write`, `sock_send`.
        FD_WRITE = 6,
        /// `fd_advise`.
        FD_ADVISE = 7,
        /// `fd_allocate`.
        FD_ALLOCATE = 8,
        /// `path_create_directory`.
        PATH_CREATE_DIRECTORY = 9,
        /// `path_open` with `oflags::creat`.
        PATH_CREATE_FILE = 10,
        /// `path_link` with the fd as source directory.
        PATH_LINK_SOURCE = 11,
        /// `path_link` with the fd as target directory.
        PATH_LINK_TARGET = 12,
        /// `path_open`.
        PATH_OPEN = 13,
        /// `fd_readdir`.
        FD_READDIR = 14,
        /// `path_readlink`.
        PATH_READLINK = 15,
        /// `path_rename` with the fd as source directory.
        PATH_RENAME_SOURCE = 16,
        /// `path_rename` with the fd as target directory.
        PATH_RENAME_TARGET = 17,
        /// `path_filestat_get`.
        PATH_FILESTAT_GET = 18,
        /// Changing a path's size (`path_open` with `oflags::trunc`).
        PATH_FILESTAT_SET_SIZE = 19,
        /// `path_filestat_set_times`.
        PATH_FILESTAT_SET_TIMES = 20,
        /// `fd_filestat_get`.
        FD_FILESTAT_GET = 21,
        /// `fd_filestat_set_size`.
        FD_FILESTAT_SET_SIZE = 22,
        /// `fd_filestat_set_times`.
        FD_FILESTAT_SET_TIMES = 23,
        /// `path_symlink`.
        PATH_SYMLINK = 24,
        /// `path_remove_directory`.
        PATH_REMOVE_DIRECTORY = 25,
        /// `path_unlink_file`.
        PATH_UNLINK_FILE = 26,
        /// `poll_oneoff` subscriptions of type `fd_read`/`fd_write`.
        POLL_FD_READWRITE = 27,
        /// `sock_shutdown`.
        SOCK_SHUTDOWN = 28,
        /// `sock_accept`.
        SOCK_ACCEPT = 29,
    }
}

wasi_flags! {
    /// Flags on a clock subscription.
    Subclockflags: u16 {
        /// The timeout is an absolute time on the clock rather than relative to now.
        SUBSCRIPTION_CLOCK_ABSTIME = 0,
    }
}

wasi_flags! {
    /// Flags on an `fd_read`/`fd_write` event.
    Eventrwflags: u16 {
        /// The peer of this socket has closed or disconnected (or stdin reached end of file).
        FD_READWRITE_HANGUP = 0,
    }
}

wasi_flags! {
    /// Which file time attributes to adjust.
    Fstflags: u16 {
        /// Set the access time to the given value.
        ATIM = 0,
        /// Set the access time to now.
        ATIM_NOW = 1,
        /// Set the modification time to the given value.
        MTIM = 2,
        /// Set the modification time to now.
        MTIM_NOW = 3,
    }
}

wasi_flags! {
    /// Flags determining the method of how paths are resolved.
    Lookupflags: u32 {
        /// Follow a trailing symbolic link.
        SYMLINK_FOLLOW = 0,
    }
}

wasi_flags! {
    /// Open flags used by `path_open`.
    Oflags: u16 {
        /// Create the file if it does not exist.
        CREAT = 0,
        /// Fail if not a directory.
        DIRECTORY = 1,
        /// Fail if the file already exists.
        EXCL = 2,
        /// Truncate the file to size 0.
        TRUNC = 3,
    }
}

wasi_flags! {
    /// Flags provided to `sock_recv`.
    Riflags: u16 {
        /// Return data without removing it from the queue.
        RECV_PEEK = 0,
        /// Wait for the full request.
        RECV_WAITALL = 1,
    }
}

wasi_flags! {
    /// Flags returned by `sock_recv`.
    Roflags: u16 {
        /// Message data was truncated.
        RECV_DATA_TRUNCATED = 0,
    }
}

wasi_flags! {
    /// Which channels of a socket to shut down.
    Sdflags: u8 {
        /// Disable further receive operations.
        RD = 0,
        /// Disable further send operations.
        WR = 1,
    }
}

/// Offsets of struct fields in guest memory, from `typenames.witx` with C layout rules.
mod layout {
    pub const IOVEC_BUF: usize = 0;
    pub const IOVEC_BUF_LEN: usize = 4;

    pub const FDSTAT_FILETYPE: usize = 0;
    pub const FDSTAT_FLAGS: usize = 2;
    pub const FDSTAT_RIGHTS_BASE: usize = 8;
    pub const FDSTAT_RIGHTS_INHERITING: usize = 16;

    pub const FILESTAT_DEV: usize = 0;
    pub const FILESTAT_INO: usize = 8;
    pub const FILESTAT_FILETYPE: usize = 16;
    pub const FILESTAT_NLINK: usize = 24;
    pub const FILESTAT_SIZE: usize = 32;
    pub const FILESTAT_ATIM: usize = 40;
    pub const FILESTAT_MTIM: usize = 48;
    pub const FILESTAT_CTIM: usize = 56;

    pub const PRESTAT_TAG: usize = 0;
    pub const PRESTAT_DIR_NAME_LEN: usize = 4;

    pub const SUBSCRIPTION_USERDATA: usize = 0;
    pub const SUBSCRIPTION_TAG: usize = 8;
    /// Start of the union `subscription_u` contents (8-aligned after the tag byte).
    pub const SUBSCRIPTION_CONTENTS: usize = 16;
    pub const SUBSCRIPTION_CLOCK_ID: usize = SUBSCRIPTION_CONTENTS;
    pub const SUBSCRIPTION_CLOCK_TIMEOUT: usize = SUBSCRIPTION_CONTENTS + 8;
    pub const SUBSCRIPTION_CLOCK_PRECISION: usize = SUBSCRIPTION_CONTENTS + 16;
    pub const SUBSCRIPTION_CLOCK_FLAGS: usize = SUBSCRIPTION_CONTENTS + 24;
    pub const SUBSCRIPTION_FD: usize = SUBSCRIPTION_CONTENTS;

    pub const EVENT_USERDATA: usize = 0;
    pub const EVENT_ERROR: usize = 8;
    pub const EVENT_TYPE: usize = 10;
    pub const EVENT_NBYTES: usize = 16;
    pub const EVENT_FLAGS: usize = 24;

    pub const DIRENT_NEXT: usize = 0;
    pub const DIRENT_INO: usize = 8;
    pub const DIRENT_NAMLEN: usize = 16;
    pub const DIRENT_TYPE: usize = 20;
}

/// A region of guest memory (`iovec` and `ciovec` share this layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iovec {
    /// Address of the buffer.
    pub buf: u32,
    /// Length of the buffer.
    pub buf_len: u32,
}

impl GuestType for Iovec {
    const SIZE: u32 = 8;
    const ALIGN: u32 = 4;
    fn decode(bytes: &Bytes<'_>) -> Self {
        Iovec {
            buf: bytes.u32(layout::IOVEC_BUF),
            buf_len: bytes.u32(layout::IOVEC_BUF_LEN),
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        out.u32(layout::IOVEC_BUF, self.buf);
        out.u32(layout::IOVEC_BUF_LEN, self.buf_len);
    }
}

/// File descriptor attributes (`fdstat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fdstat {
    /// File type.
    pub filetype: Filetype,
    /// File descriptor flags.
    pub flags: Fdflags,
    /// Rights that apply to this fd.
    pub rights_base: Rights,
    /// Maximum rights of fds opened through this one.
    pub rights_inheriting: Rights,
}

impl GuestType for Fdstat {
    const SIZE: u32 = 24;
    const ALIGN: u32 = 8;
    fn decode(bytes: &Bytes<'_>) -> Self {
        Fdstat {
            filetype: Filetype::from_raw(bytes.u8(layout::FDSTAT_FILETYPE))
                .unwrap_or(Filetype::Unknown),
            flags: Fdflags(bytes.u16(layout::FDSTAT_FLAGS)),
            rights_base: Rights(bytes.u64(layout::FDSTAT_RIGHTS_BASE)),
            rights_inheriting: Rights(bytes.u64(layout::FDSTAT_RIGHTS_INHERITING)),
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        out.u8(layout::FDSTAT_FILETYPE, self.filetype as u8);
        out.u16(layout::FDSTAT_FLAGS, self.flags.bits());
        out.u64(layout::FDSTAT_RIGHTS_BASE, self.rights_base.bits());
        out.u64(
            layout::FDSTAT_RIGHTS_INHERITING,
            self.rights_inheriting.bits(),
        );
    }
}

/// File attributes (`filestat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filestat {
    /// Device ID of the device containing the file.
    pub dev: u64,
    /// File serial number.
    pub ino: u64,
    /// File type.
    pub filetype: Filetype,
    /// Number of hard links.
    pub nlink: u64,
    /// Size in bytes (for regular files and symbolic links).
    pub size: Filesize,
    /// Last data access time.
    pub atim: Timestamp,
    /// Last data modification time.
    pub mtim: Timestamp,
    /// Last file status change time.
    pub ctim: Timestamp,
}

impl Filestat {
    /// A filestat carrying only a file type, every other field zero (how wasmtime describes
    /// stdio).
    pub const fn of_type(filetype: Filetype) -> Self {
        Filestat {
            dev: 0,
            ino: 0,
            filetype,
            nlink: 0,
            size: 0,
            atim: 0,
            mtim: 0,
            ctim: 0,
        }
    }
}

impl GuestType for Filestat {
    const SIZE: u32 = 64;
    const ALIGN: u32 = 8;
    fn decode(bytes: &Bytes<'_>) -> Self {
        Filestat {
            dev: bytes.u64(layout::FILESTAT_DEV),
            ino: bytes.u64(layout::FILESTAT_INO),
            filetype: Filetype::from_raw(bytes.u8(layout::FILESTAT_FILETYPE))
                .unwrap_or(Filetype::Unknown),
            nlink: bytes.u64(layout::FILESTAT_NLINK),
            size: bytes.u64(layout::FILESTAT_SIZE),
            atim: bytes.u64(layout::FILESTAT_ATIM),
            mtim: bytes.u64(layout::FILESTAT_MTIM),
            ctim: bytes.u64(layout::FILESTAT_CTIM),
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        out.u64(layout::FILESTAT_DEV, self.dev);
        out.u64(layout::FILESTAT_INO, self.ino);
        out.u8(layout::FILESTAT_FILETYPE, self.filetype as u8);
        out.u64(layout::FILESTAT_NLINK, self.nlink);
        out.u64(layout::FILESTAT_SIZE, self.size);
        out.u64(layout::FILESTAT_ATIM, self.atim);
        out.u64(layout::FILESTAT_MTIM, self.mtim);
        out.u64(layout::FILESTAT_CTIM, self.ctim);
    }
}

/// Information about a pre-opened capability (`prestat`); only directories exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrestatDir {
    /// Length of the directory name, for `fd_prestat_dir_name`.
    pub name_len: u32,
}

impl GuestType for PrestatDir {
    const SIZE: u32 = 8;
    const ALIGN: u32 = 4;
    fn decode(bytes: &Bytes<'_>) -> Self {
        PrestatDir {
            name_len: bytes.u32(layout::PRESTAT_DIR_NAME_LEN),
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        out.u8(layout::PRESTAT_TAG, Preopentype::Dir as u8);
        out.u32(layout::PRESTAT_DIR_NAME_LEN, self.name_len);
    }
}

/// The contents of a clock subscription, raw as the program wrote them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionClock {
    /// Raw clock id (validated by `poll_oneoff`).
    pub id: u32,
    /// Absolute or relative timestamp, per `flags`.
    pub timeout: Timestamp,
    /// How much the event may be delayed.
    pub precision: Timestamp,
    /// Raw `subclockflags` (validated by `poll_oneoff`).
    pub flags: u16,
}

/// What a subscription waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionKind {
    /// A clock deadline.
    Clock(SubscriptionClock),
    /// An fd becoming readable.
    FdRead(Fd),
    /// An fd becoming writable.
    FdWrite(Fd),
    /// A tag the witx does not define.
    Unknown(u8),
}

/// A subscription to an event (`subscription`, 48 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// Copied into the corresponding event.
    pub userdata: u64,
    /// What to wait for.
    pub kind: SubscriptionKind,
}

impl GuestType for Subscription {
    const SIZE: u32 = 48;
    const ALIGN: u32 = 8;
    fn decode(bytes: &Bytes<'_>) -> Self {
        let tag = bytes.u8(layout::SUBSCRIPTION_TAG);
        let kind = match Eventtype::from_raw(tag) {
            Some(Eventtype::Clock) => SubscriptionKind::Clock(SubscriptionClock {
                id: bytes.u32(layout::SUBSCRIPTION_CLOCK_ID),
                timeout: bytes.u64(layout::SUBSCRIPTION_CLOCK_TIMEOUT),
                precision: bytes.u64(layout::SUBSCRIPTION_CLOCK_PRECISION),
                flags: bytes.u16(layout::SUBSCRIPTION_CLOCK_FLAGS),
            }),
            Some(Eventtype::FdRead) => SubscriptionKind::FdRead(bytes.u32(layout::SUBSCRIPTION_FD)),
            Some(Eventtype::FdWrite) => {
                SubscriptionKind::FdWrite(bytes.u32(layout::SUBSCRIPTION_FD))
            }
            None => SubscriptionKind::Unknown(tag),
        };
        Subscription {
            userdata: bytes.u64(layout::SUBSCRIPTION_USERDATA),
            kind,
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        out.u64(layout::SUBSCRIPTION_USERDATA, self.userdata);
        match self.kind {
            SubscriptionKind::Clock(clock) => {
                out.u8(layout::SUBSCRIPTION_TAG, Eventtype::Clock as u8);
                out.u32(layout::SUBSCRIPTION_CLOCK_ID, clock.id);
                out.u64(layout::SUBSCRIPTION_CLOCK_TIMEOUT, clock.timeout);
                out.u64(layout::SUBSCRIPTION_CLOCK_PRECISION, clock.precision);
                out.u16(layout::SUBSCRIPTION_CLOCK_FLAGS, clock.flags);
            }
            SubscriptionKind::FdRead(fd) => {
                out.u8(layout::SUBSCRIPTION_TAG, Eventtype::FdRead as u8);
                out.u32(layout::SUBSCRIPTION_FD, fd);
            }
            SubscriptionKind::FdWrite(fd) => {
                out.u8(layout::SUBSCRIPTION_TAG, Eventtype::FdWrite as u8);
                out.u32(layout::SUBSCRIPTION_FD, fd);
            }
            SubscriptionKind::Unknown(tag) => out.u8(layout::SUBSCRIPTION_TAG, tag),
        }
    }
}

/// An event that occurred (`event`, 32 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The subscription's userdata.
    pub userdata: u64,
    /// Error for this subscription alone.
    pub error: Errno,
    /// Which kind of subscription fired.
    pub kind: Eventtype,
    /// For fd events: bytes available to read or room to write.
    pub nbytes: Filesize,
    /// For fd events: state flags.
    pub flags: Eventrwflags,
}

impl GuestType for Event {
    const SIZE: u32 = 32;
    const ALIGN: u32 = 8;
    fn decode(bytes: &Bytes<'_>) -> Self {
        Event {
            userdata: bytes.u64(layout::EVENT_USERDATA),
            error: Errno::from_raw(bytes.u16(layout::EVENT_ERROR)).unwrap_or(Errno::Inval),
            kind: Eventtype::from_raw(bytes.u8(layout::EVENT_TYPE)).unwrap_or(Eventtype::Clock),
            nbytes: bytes.u64(layout::EVENT_NBYTES),
            flags: Eventrwflags(bytes.u16(layout::EVENT_FLAGS)),
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        out.u64(layout::EVENT_USERDATA, self.userdata);
        out.u16(layout::EVENT_ERROR, self.error as u16);
        out.u8(layout::EVENT_TYPE, self.kind as u8);
        out.u64(layout::EVENT_NBYTES, self.nbytes);
        out.u16(layout::EVENT_FLAGS, self.flags.bits());
    }
}

/// A directory entry header (`dirent`, 24 bytes; the name follows it in the buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dirent {
    /// Cookie of the next entry.
    pub next: u64,
    /// Serial number of the file.
    pub ino: u64,
    /// Length of the name that follows.
    pub namlen: u32,
    /// Type of the file.
    pub filetype: Filetype,
}

impl GuestType for Dirent {
    const SIZE: u32 = 24;
    const ALIGN: u32 = 8;
    fn decode(bytes: &Bytes<'_>) -> Self {
        Dirent {
            next: bytes.u64(layout::DIRENT_NEXT),
            ino: bytes.u64(layout::DIRENT_INO),
            namlen: bytes.u32(layout::DIRENT_NAMLEN),
            filetype: Filetype::from_raw(bytes.u8(layout::DIRENT_TYPE))
                .unwrap_or(Filetype::Unknown),
        }
    }
    fn encode(&self, out: &mut BytesMut<'_>) {
        out.u64(layout::DIRENT_NEXT, self.next);
        out.u64(layout::DIRENT_INO, self.ino);
        out.u32(layout::DIRENT_NAMLEN, self.namlen);
        out.u8(layout::DIRENT_TYPE, self.filetype as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::GuestMemory;
    use alloc::vec;

    #[test]
    fn flag_values_match_the_witx() {
        assert_eq!(Fdflags::NONBLOCK.bits(), 4);
        assert_eq!(Fdflags::ALL.bits(), 0x1f);
        assert_eq!(Rights::FD_WRITE.bits(), 0x40);
        assert_eq!(Rights::SOCK_ACCEPT.bits(), 1 << 29);
        assert_eq!(Rights::ALL.bits(), (1 << 30) - 1);
        assert_eq!(Fdflags::from_bits(0x20), None);
        assert_eq!(Signal::from_raw(30), Some(Signal::Sys));
        assert_eq!(Signal::from_raw(31), None);
        assert_eq!(ClockId::from_raw(4), None);
    }

    #[test]
    fn struct_layouts_are_byte_exact() {
        let mut bytes = vec![0xaau8; 64];
        let mut mem = GuestMemory::new(&mut bytes);
        let fdstat = Fdstat {
            filetype: Filetype::CharacterDevice,
            flags: Fdflags(0x0102),
            rights_base: Rights(0x0807_0605_0403_0201),
            rights_inheriting: Rights(0x1817_1615_1413_1211),
        };
        mem.write(0, &fdstat).unwrap();
        assert_eq!(mem.read::<Fdstat>(0), Ok(fdstat));
        assert_eq!(
            bytes[..24],
            [
                2, 0, 2, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
                0x17, 0x18
            ]
        );

        let mut bytes = vec![0u8; 48];
        let mut mem = GuestMemory::new(&mut bytes);
        let event = Event {
            userdata: 0x1122_3344_5566_7788,
            error: Errno::Badf,
            kind: Eventtype::FdRead,
            nbytes: 5,
            flags: Eventrwflags::FD_READWRITE_HANGUP,
        };
        mem.write(8, &event).unwrap();
        assert_eq!(mem.read::<Event>(8), Ok(event));
        assert_eq!(&bytes[8..16], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&bytes[16..20], &[8, 0, 1, 0]);
        assert_eq!(bytes[24], 5);
        assert_eq!(bytes[32], 1);

        let mut bytes = vec![0u8; 48];
        bytes[8] = 0; // clock
        bytes[16..20].copy_from_slice(&1u32.to_le_bytes());
        bytes[24..32].copy_from_slice(&500u64.to_le_bytes());
        bytes[32..40].copy_from_slice(&7u64.to_le_bytes());
        bytes[40..42].copy_from_slice(&1u16.to_le_bytes());
        let mem = GuestMemory::new(&mut bytes);
        assert_eq!(
            mem.read::<Subscription>(0).unwrap().kind,
            SubscriptionKind::Clock(SubscriptionClock {
                id: 1,
                timeout: 500,
                precision: 7,
                flags: 1
            })
        );

        let mut bytes = vec![0u8; 64];
        let mut mem = GuestMemory::new(&mut bytes);
        mem.write(0, &Filestat::of_type(Filetype::RegularFile))
            .unwrap();
        assert_eq!(bytes[16], 4);
        let mut bytes = vec![0xffu8; 8];
        let mut mem = GuestMemory::new(&mut bytes);
        mem.write(0, &PrestatDir { name_len: 3 }).unwrap();
        assert_eq!(bytes, [0, 0, 0, 0, 3, 0, 0, 0]);
    }
}
