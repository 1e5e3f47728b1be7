//! The parts of Cella's shell that need no operating system: the command language
//! ([`syntax`]), word expansion ([`expand`]) with arithmetic ([`arith`]) and pathname
//! expansion ([`glob`]), the interactive line editor ([`editor`]) and
//! the logical paths `cd` keeps in `PWD` ([`path`]).
//! `userland/src/bin/sh.rs` drives them with real input, processes and files.

pub mod arith;
pub mod editor;
pub mod expand;
pub mod glob;
pub mod path;
pub mod syntax;
