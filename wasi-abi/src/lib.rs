//! The platform-independent WASI preview1 layer of Cella.
//!
//! It holds the preview1 types and errno, typed access to guest memory, the fd table, the
//! in-memory file system ([`vfs`]), pipes ([`pipe`]), one function per
//! `wasi_snapshot_preview1` syscall, generic over a [`Platform`] the kernel implements
//! (clocks, entropy, console streams), and the decoding of Cella's process-control calls
//! ([`control`]). The kernel generates a host function for each preview1 function from the
//! one list of them ([`preview1_functions!`]), which calls its typed [`entry`]; [`dispatch`]
//! makes the same calls by index with raw arguments. Each answers with an [`Outcome`]: an
//! errno for the program, a trap, an exit, or a block (the call must wait: the kernel parks
//! the process and repeats the call later).
//!
//! Nothing here panics on guest input: outside tests, clippy denies `unwrap`, indexing and
//! unchecked arithmetic.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod budget;
pub mod control;
pub mod ctx;
pub mod errno;
pub mod fallible;
pub mod fdtable;
pub mod file;
pub mod memory;
pub mod outcome;
pub mod pipe;
pub mod platform;
pub mod syscalls;
#[cfg(any(test, feature = "fuzzing"))]
pub mod testing;
pub mod types;
pub mod vfs;
pub mod wake;

pub use ctx::WasiCtx;
pub use errno::{Errno, Result};
pub use outcome::{Outcome, Trap};
pub use platform::{Platform, StdinPoll, Stream};
pub use syscalls::{
    FUNCTIONS, Function, Id, MODULE, ValType, dispatch, entry, lookup, not_implemented,
};
pub use vfs::{DirHandle, Vfs};
