//! Wasm backtraces for an interpreter that keeps none.
//!
//! wasmi, the kernel's interpreter, drops its call stack when code traps and has no API to
//! walk it. So the kernel rewrites each module as it loads it ([`instrument()`]): every
//! defined function gets a shadow call stack frame in a small extra linear memory, pushed on
//! entry and popped at every exit, holding where the function stands (entered, or at which
//! call). After a trap the kernel reads that memory and its depth back through two exports
//! with reserved names, and [`report`] turns the frames into wasmtime's backtrace lines,
//! with the function names of the module's `name` section ([`names`]), demangled.
//!
//! Everything here reads hostile bytes: a malformed module is refused (the kernel then loads
//! it as it is, and wasmi says what is wrong with it), a malformed name section yields the
//! names read before the fault, and nothing panics. Outside tests, clippy denies `unwrap`,
//! indexing and unchecked arithmetic.

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

pub mod instrument;
pub mod names;
pub mod report;

pub use instrument::{
    CodeMap, DEPTH_EXPORT, FRAMES_EXPORT, Instrumented, NotInstrumented, instrument,
};
pub use names::Names;
pub use report::{DEFAULT_MAX_FRAMES, Frame, Innermost, Stack, frames, write_backtrace};
