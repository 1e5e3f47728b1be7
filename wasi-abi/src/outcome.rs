//! How a syscall ends: an errno for the program, a trap of the wasm call, or the end of the
//! process. The three are kept apart so that the linker maps each to its own mechanism.

use core::fmt;

use crate::errno::Errno;
use crate::types::Timestamp;

/// What a syscall did, as the linker must act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Normal return: this errno goes back to the program (`Errno::Success` included).
    Return(Errno),
    /// `proc_exit(code)`, or a `proc_raise` of a fatal signal: the process ends with this status.
    Exit(u32),
    /// The wasm call traps (bad guest pointer, or a call the table cannot make).
    Trap(Trap),
    /// The call cannot complete yet (an empty pipe or console, a sleep, a child still
    /// running): the kernel parks the process and makes the same call again once something
    /// changed, or once the monotonic clock reaches `deadline`. Nothing was done yet, so the
    /// call may be repeated as often as needed.
    Block {
        /// When to try again at the latest; `None`: only when something changes.
        deadline: Option<Timestamp>,
    },
}

/// Why a syscall trapped instead of returning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// A guest pointer, or a pointer plus a length, reaches past the end of linear memory (or
    /// overflows while being computed).
    MemoryOutOfBounds,
    /// A guest pointer is not aligned for the type it points to, which the witx forbids.
    Misaligned,
    /// `dispatch` was given an index that is not in `FUNCTIONS`.
    UnknownFunction,
    /// `dispatch` was given a different number of arguments than the function takes.
    WrongArgumentCount,
}

impl Trap {
    /// A one-line description, worded like wasmtime's trap messages where one exists.
    pub const fn message(&self) -> &'static str {
        match self {
            Trap::MemoryOutOfBounds => "out of bounds memory access",
            Trap::Misaligned => "misaligned pointer",
            Trap::UnknownFunction => "call to an unknown WASI function",
            Trap::WrongArgumentCount => "WASI function called with the wrong number of arguments",
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Why a syscall implementation stopped early; `dispatch` turns it into an [`Outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Return this errno to the program.
    Errno(Errno),
    /// Trap the wasm call.
    Trap(Trap),
    /// End the process with this status.
    Exit(u32),
    /// Park the process and repeat the call later (see [`Outcome::Block`]).
    Block(Option<Timestamp>),
}

impl From<Errno> for Fault {
    fn from(errno: Errno) -> Self {
        Fault::Errno(errno)
    }
}

impl From<Trap> for Fault {
    fn from(trap: Trap) -> Self {
        Fault::Trap(trap)
    }
}

impl From<core::result::Result<(), Fault>> for Outcome {
    fn from(result: core::result::Result<(), Fault>) -> Self {
        match result {
            Ok(()) => Outcome::Return(Errno::Success),
            Err(Fault::Errno(errno)) => Outcome::Return(errno),
            Err(Fault::Trap(trap)) => Outcome::Trap(trap),
            Err(Fault::Exit(status)) => Outcome::Exit(status),
            Err(Fault::Block(deadline)) => Outcome::Block { deadline },
        }
    }
}

/// What a syscall implementation returns: success, or a [`Fault`].
pub type SysResult<T = ()> = core::result::Result<T, Fault>;
