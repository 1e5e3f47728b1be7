//! The preview1 `errno` enum and the `Result` type every syscall implementation returns.
//!
//! Numbering follows `typenames.witx` of `wasi_snapshot_preview1` exactly; the value crosses
//! to the program as a `u16`, converted once by the linker (`Errno as u16`).

use core::fmt;

/// Result of a WASI operation: the value or the errno the program will see.
pub type Result<T> = core::result::Result<T, Errno>;

macro_rules! errno_enum {
    ($( $(#[$doc:meta])* $variant:ident = $value:literal, $name:literal; )*) => {
        /// Error codes returned by preview1 functions, numbered as in the witx.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum Errno {
            $( $(#[$doc])* $variant = $value, )*
        }

        impl Errno {
            /// Every errno, in numeric order.
            pub const ALL: &'static [Errno] = &[$(Errno::$variant),*];

            /// The errno with this number, if there is one.
            pub const fn from_raw(raw: u16) -> Option<Errno> {
                match raw {
                    $( $value => Some(Errno::$variant), )*
                    _ => None,
                }
            }

            /// The witx name, upper-cased with an `E` prefix as C programs spell it (`EBADF`).
            pub const fn name(self) -> &'static str {
                match self {
                    $( Errno::$variant => $name, )*
                }
            }
        }
    };
}

errno_enum! {
    /// No error occurred.
    Success = 0, "ESUCCESS";
    /// Argument list too long.
    Toobig = 1, "E2BIG";
    /// Permission denied.
    Acces = 2, "EACCES";
    /// Address in use.
    Addrinuse = 3, "EADDRINUSE";
    /// Address not available.
    Addrnotavail = 4, "EADDRNOTAVAIL";
    /// Address family not supported.
    Afnosupport = 5, "EAFNOSUPPORT";
    /// Resource unavailable, or operation would block.
    Again = 6, "EAGAIN";
    /// Connection already in progress.
    Already = 7, "EALREADY";
    /// Bad file descriptor.
    Badf = 8, "EBADF";
    /// Bad message.
    Badmsg = 9, "EBADMSG";
    /// Device or resource busy.
    Busy = 10, "EBUSY";
    /// Operation canceled.
    Canceled = 11, "ECANCELED";
    /// No child processes.
    Child = 12, "ECHILD";
    /// Connection aborted.
    Connaborted = 13, "ECONNABORTED";
    /// Connection refused.
    Connrefused = 14, "ECONNREFUSED";
    /// Connection reset.
    Connreset = 15, "ECONNRESET";
    /// Resource deadlock would occur.
    Deadlk = 16, "EDEADLK";
    /// Destination address required.
    Destaddrreq = 17, "EDESTADDRREQ";
    /// Mathematics argument out of domain of function.
    Dom = 18, "EDOM";
    /// Reserved.
    Dquot = 19, "EDQUOT";
    /// File exists.
    Exist = 20, "EEXIST";
    /// Bad address.
    Fault = 21, "EFAULT";
    /// File too large.
    Fbig = 22, "EFBIG";
    /// Host is unreachable.
    Hostunreach = 23, "EHOSTUNREACH";
    /// Identifier removed.
    Idrm = 24, "EIDRM";
    /// Illegal byte sequence.
    Ilseq = 25, "EILSEQ";
    /// Operation in progress.
    Inprogress = 26, "EINPROGRESS";
    /// Interrupted function.
    Intr = 27, "EINTR";
    /// Invalid argument.
    Inval = 28, "EINVAL";
    /// I/O error.
    Io = 29, "EIO";
    /// Socket is connected.
    Isconn = 30, "EISCONN";
    /// Is a directory.
    Isdir = 31, "EISDIR";
    /// Too many levels of symbolic links.
    Loop = 32, "ELOOP";
    /// File descriptor value too large.
    Mfile = 33, "EMFILE";
    /// Too many links.
    Mlink = 34, "EMLINK";
    /// Message too large.
    Msgsize = 35, "EMSGSIZE";
    /// Reserved.
    Multihop = 36, "EMULTIHOP";
    /// Filename too long.
    Nametoolong = 37, "ENAMETOOLONG";
    /// Network is down.
    Netdown = 38, "ENETDOWN";
    /// Connection aborted by network.
    Netreset = 39, "ENETRESET";
    /// Network unreachable.
    Netunreach = 40, "ENETUNREACH";
    /// Too many files open in system.
    Nfile = 41, "ENFILE";
    /// No buffer space available.
    Nobufs = 42, "ENOBUFS";
    /// No such device.
    Nodev = 43, "ENODEV";
    /// No such file or directory.
    Noent = 44, "ENOENT";
    /// Executable file format error.
    Noexec = 45, "ENOEXEC";
    /// No locks available.
    Nolck = 46, "ENOLCK";
    /// Reserved.
    Nolink = 47, "ENOLINK";
    /// Not enough space.
    Nomem = 48, "ENOMEM";
    /// No message of the desired type.
    Nomsg = 49, "ENOMSG";
    /// Protocol not available.
    Noprotoopt = 50, "ENOPROTOOPT";
    /// No space left on device.
    Nospc = 51, "ENOSPC";
    /// Function not supported.
    Nosys = 52, "ENOSYS";
    /// The socket is not connected.
    Notconn = 53, "ENOTCONN";
    /// Not a directory or a symbolic link to a directory.
    Notdir = 54, "ENOTDIR";
    /// Directory not empty.
    Notempty = 55, "ENOTEMPTY";
    /// State not recoverable.
    Notrecoverable = 56, "ENOTRECOVERABLE";
    /// Not a socket.
    Notsock = 57, "ENOTSOCK";
    /// Not supported, or operation not supported on socket.
    Notsup = 58, "ENOTSUP";
    /// Inappropriate I/O control operation.
    Notty = 59, "ENOTTY";
    /// No such device or address.
    Nxio = 60, "ENXIO";
    /// Value too large to be stored in data type.
    Overflow = 61, "EOVERFLOW";
    /// Previous owner died.
    Ownerdead = 62, "EOWNERDEAD";
    /// Operation not permitted.
    Perm = 63, "EPERM";
    /// Broken pipe.
    Pipe = 64, "EPIPE";
    /// Protocol error.
    Proto = 65, "EPROTO";
    /// Protocol not supported.
    Protonosupport = 66, "EPROTONOSUPPORT";
    /// Protocol wrong type for socket.
    Prototype = 67, "EPROTOTYPE";
    /// Result too large.
    Range = 68, "ERANGE";
    /// Read-only file system.
    Rofs = 69, "EROFS";
    /// Invalid seek.
    Spipe = 70, "ESPIPE";
    /// No such process.
    Srch = 71, "ESRCH";
    /// Reserved.
    Stale = 72, "ESTALE";
    /// Connection timed out.
    Timedout = 73, "ETIMEDOUT";
    /// Text file busy.
    Txtbsy = 74, "ETXTBSY";
    /// Cross-device link.
    Xdev = 75, "EXDEV";
    /// Extension: Capabilities insufficient.
    Notcapable = 76, "ENOTCAPABLE";
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Errno;

    #[test]
    fn numbering_is_dense_and_matches_the_witx() {
        assert_eq!(Errno::ALL.len(), 77);
        for (expected, errno) in (0u16..).zip(Errno::ALL) {
            assert_eq!(*errno as u16, expected);
            assert_eq!(Errno::from_raw(expected), Some(*errno));
        }
        assert_eq!(Errno::from_raw(77), None);
        assert_eq!(Errno::Badf as u16, 8);
        assert_eq!(Errno::Inval as u16, 28);
        assert_eq!(Errno::Nosys as u16, 52);
        assert_eq!(Errno::Spipe as u16, 70);
        assert_eq!(Errno::Notcapable as u16, 76);
        assert_eq!(Errno::Toobig.name(), "E2BIG");
    }
}
