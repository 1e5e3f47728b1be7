//! The parts of Cella's shell that need no operating system: the command language
//! ([`syntax`]), word expansion ([`expand`]) and the interactive line editor ([`editor`]).
//! `userland/src/bin/sh.rs` drives them with real input, processes and files.

pub mod editor;
pub mod expand;
pub mod syntax;
