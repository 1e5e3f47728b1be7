//! The preview1 syscall table and what is generated from it.
//!
//! [`preview1_functions!`](crate::preview1_functions) lists every `wasi_snapshot_preview1`
//! function once, in witx order, with its wasm parameters named and typed. From that one list
//! this module generates [`FUNCTIONS`] (for the linker to check imports), [`Id`] (each
//! function's index in it), [`entry`] (each function with typed arguments, which the
//! kernel's typed host functions call) and [`dispatch`] (a call by index with raw arguments:
//! the tests, the fuzzer and the repeat of a blocked call use it). The kernel generates its
//! host functions from the same list. Each entry calls the function of the same name in one
//! of the submodules. Entries marked `=> nosys` are not implemented yet and return `ENOSYS`;
//! `=> noreturn` marks `proc_exit`, the only function without an errno result.

mod args_env;
mod clock;
mod fd;
mod path;
mod poll;
mod proc;
mod random;
mod sock;

#[cfg(test)]
pub(crate) mod tests;

use cella_process_abi::Param;

use crate::ctx::WasiCtx;
use crate::memory::GuestMemory;
use crate::outcome::{Outcome, Trap};
use crate::platform::Platform;

use self::args_env::{args_get, args_sizes_get, environ_get, environ_sizes_get};
use self::clock::{clock_res_get, clock_time_get};
use self::fd::{
    fd_advise, fd_allocate, fd_close, fd_datasync, fd_fdstat_get, fd_fdstat_set_flags,
    fd_fdstat_set_rights, fd_filestat_get, fd_filestat_set_size, fd_filestat_set_times, fd_pread,
    fd_prestat_dir_name, fd_prestat_get, fd_pwrite, fd_read, fd_renumber, fd_seek, fd_sync,
    fd_tell, fd_write,
};
use self::path::{
    fd_readdir, path_create_directory, path_filestat_get, path_filestat_set_times, path_link,
    path_open, path_readlink, path_remove_directory, path_rename, path_symlink, path_unlink_file,
};
use self::poll::poll_oneoff;
use self::proc::{proc_exit, proc_raise, sched_yield};
use self::random::random_get;
use self::sock::{sock_accept, sock_recv, sock_send, sock_shutdown};

/// The import module name programs use for these functions.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// A wasm value type of a syscall parameter: one definition for both import modules.
pub use cella_process_abi::ValType;

/// One preview1 function as the linker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    /// Name, exactly as in the witx.
    pub name: &'static str,
    /// Parameter types, in order.
    pub params: &'static [ValType],
    /// Whether it returns an `i32` errno; false only for `proc_exit`.
    pub returns_errno: bool,
    /// Whether it does anything yet; unimplemented functions return `ENOSYS`.
    pub implemented: bool,
}

macro_rules! returns_errno {
    () => {
        true
    };
    (nosys) => {
        true
    };
    (noreturn) => {
        false
    };
}

macro_rules! implemented {
    () => {
        true
    };
    (nosys) => {
        false
    };
    (noreturn) => {
        true
    };
}

macro_rules! call {
    ($name:ident, $ctx:ident, $mem:ident, ($($param:ident),*)) => {
        Outcome::from(super::$name($ctx, $mem, $($param),*))
    };
    ($name:ident, $ctx:ident, $mem:ident, ($($param:ident),*), noreturn) => {
        Outcome::from(super::$name($ctx, $mem, $($param),*))
    };
    ($name:ident, $ctx:ident, $mem:ident, ($($param:ident),*), nosys) => {{
        let _ = ($ctx, $mem, $($param),*);
        Outcome::Return($crate::errno::Errno::Nosys)
    }};
}

macro_rules! syscall_table {
    ($( $name:ident ( $($param:ident : $ty:ty),* ) $(=> $kind:ident)? ; )*) => {
        /// Every preview1 function, in witx order; [`dispatch`] takes an index into it.
        pub const FUNCTIONS: &[Function] = &[$(
            Function {
                name: stringify!($name),
                params: &[$(<$ty as Param>::TYPE),*],
                returns_errno: returns_errno!($($kind)?),
                implemented: implemented!($($kind)?),
            },
        )*];

        /// The functions of [`FUNCTIONS`] by name: `Id::fd_write as usize` is the index of
        /// `fd_write` there.
        #[allow(non_camel_case_types, reason = "variants are the witx function names")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Id {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                $name,
            )*
        }

        const IDS: &[Id] = &[$(Id::$name,)*];

        /// Every preview1 function with its arguments typed as in the witx (`u32` for an
        /// `i32`, `u64` or `i64` for an `i64`), for a linker whose host functions receive
        /// them so. `memory` is the caller's whole linear memory (empty if it has none).
        #[allow(
            clippy::too_many_arguments,
            reason = "each takes the witx signature's arguments"
        )]
        pub mod entry {
            use super::*;

            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                #[inline]
                pub fn $name<P: Platform>(
                    ctx: &mut WasiCtx<P>,
                    memory: &mut [u8],
                    $($param: $ty),*
                ) -> Outcome {
                    let mem = &mut GuestMemory::new(memory);
                    call!($name, ctx, mem, ($($param),*) $(, $kind)?)
                }
            )*
        }

        /// Runs function `index` of [`FUNCTIONS`] with raw wasm arguments: `i32` parameters
        /// may come zero- or sign-extended (only the low 32 bits count), `i64` ones as they
        /// are. `memory` is the caller's whole linear memory.
        pub fn dispatch<P: Platform>(
            ctx: &mut WasiCtx<P>,
            memory: &mut [u8],
            index: usize,
            args: &[u64],
        ) -> Outcome {
            let (Some(function), Some(id)) = (FUNCTIONS.get(index), IDS.get(index)) else {
                return Outcome::Trap(Trap::UnknownFunction);
            };
            if args.len() != function.params.len() {
                return Outcome::Trap(Trap::WrongArgumentCount);
            }
            let mut args = args.iter().copied();
            match id {
                $(Id::$name => {
                    $(let $param = <$ty as Param>::from_raw(args.next().unwrap_or(0));)*
                    entry::$name(ctx, memory, $($param),*)
                })*
            }
        }
    };
}

crate::preview1_functions!(syscall_table);

/// Lists every `wasi_snapshot_preview1` function, for the code generated from them: calls
/// `$callback! { FUNCTION... }` where each `FUNCTION` reads `name(param: type, ...);`, in
/// witx order, optionally followed by `=> nosys` (not implemented: `ENOSYS`) or
/// `=> noreturn` (`proc_exit`: no errno result) before the `;`. Parameter types are `u32`
/// for a wasm `i32`, `u64` or `i64` for a wasm `i64`. Every function is implemented by the
/// function of the same name in `wasi_abi::entry`.
///
/// ```
/// macro_rules! names {
///     ($($name:ident ($($param:ident : $ty:ty),*) $(=> $kind:ident)?;)*) => {
///         const NAMES: &[&str] = &[$(stringify!($name)),*];
///     };
/// }
/// wasi_abi::preview1_functions!(names);
/// assert_eq!(NAMES[0], "args_get");
/// ```
#[macro_export]
macro_rules! preview1_functions {
    ($callback:ident) => {
        $callback! {
            args_get(argv: u32, argv_buf: u32);
            args_sizes_get(argc_out: u32, argv_buf_size_out: u32);
            environ_get(environ: u32, environ_buf: u32);
            environ_sizes_get(environc_out: u32, environ_buf_size_out: u32);
            clock_res_get(id: u32, resolution_out: u32);
            clock_time_get(id: u32, precision: u64, time_out: u32);
            fd_advise(fd: u32, offset: u64, len: u64, advice: u32);
            fd_allocate(fd: u32, offset: u64, len: u64);
            fd_close(fd: u32);
            fd_datasync(fd: u32);
            fd_fdstat_get(fd: u32, stat_out: u32);
            fd_fdstat_set_flags(fd: u32, flags: u32);
            fd_fdstat_set_rights(fd: u32, fs_rights_base: u64, fs_rights_inheriting: u64);
            fd_filestat_get(fd: u32, filestat_out: u32);
            fd_filestat_set_size(fd: u32, size: u64);
            fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, fst_flags: u32);
            fd_pread(fd: u32, iovs: u32, iovs_len: u32, offset: u64, nread_out: u32);
            fd_prestat_get(fd: u32, prestat_out: u32);
            fd_prestat_dir_name(fd: u32, path: u32, path_len: u32);
            fd_pwrite(fd: u32, iovs: u32, iovs_len: u32, offset: u64, nwritten_out: u32);
            fd_read(fd: u32, iovs: u32, iovs_len: u32, nread_out: u32);
            fd_readdir(fd: u32, buf: u32, buf_len: u32, cookie: u64, bufused_out: u32);
            fd_renumber(fd: u32, to: u32);
            fd_seek(fd: u32, offset: i64, whence: u32, newoffset_out: u32);
            fd_sync(fd: u32);
            fd_tell(fd: u32, offset_out: u32);
            fd_write(fd: u32, iovs: u32, iovs_len: u32, nwritten_out: u32);
            path_create_directory(fd: u32, path: u32, path_len: u32);
            path_filestat_get(fd: u32, flags: u32, path: u32, path_len: u32, filestat_out: u32);
            path_filestat_set_times(
                fd: u32, flags: u32, path: u32, path_len: u32, atim: u64, mtim: u64, fst_flags: u32
            );
            path_link(
                old_fd: u32, old_flags: u32, old_path: u32, old_path_len: u32,
                new_fd: u32, new_path: u32, new_path_len: u32
            );
            path_open(
                fd: u32, dirflags: u32, path: u32, path_len: u32, oflags: u32,
                fs_rights_base: u64, fs_rights_inheriting: u64, fdflags: u32, fd_out: u32
            );
            path_readlink(
                fd: u32, path: u32, path_len: u32, buf: u32, buf_len: u32, bufused_out: u32
            );
            path_remove_directory(fd: u32, path: u32, path_len: u32);
            path_rename(
                fd: u32, old_path: u32, old_path_len: u32, new_fd: u32, new_path: u32, new_path_len: u32
            );
            path_symlink(
                old_path: u32, old_path_len: u32, fd: u32, new_path: u32, new_path_len: u32
            );
            path_unlink_file(fd: u32, path: u32, path_len: u32);
            poll_oneoff(subscriptions: u32, events: u32, nsubscriptions: u32, nevents_out: u32);
            proc_exit(rval: u32) => noreturn;
            proc_raise(sig: u32);
            sched_yield();
            random_get(buf: u32, buf_len: u32);
            sock_accept(fd: u32, flags: u32, fd_out: u32);
            sock_recv(
                fd: u32, ri_data: u32, ri_data_len: u32, ri_flags: u32,
                ro_datalen_out: u32, ro_flags_out: u32
            );
            sock_send(
                fd: u32, si_data: u32, si_data_len: u32, si_flags: u32, so_datalen_out: u32
            );
            sock_shutdown(fd: u32, how: u32);
        }
    };
}

/// The index in [`FUNCTIONS`] of the function called `name`, for resolving imports.
pub fn lookup(name: &str) -> Option<usize> {
    FUNCTIONS.iter().position(|function| function.name == name)
}

/// Names of the functions that only return `ENOSYS` so far (for the README).
pub fn not_implemented() -> impl Iterator<Item = &'static str> {
    FUNCTIONS
        .iter()
        .filter(|function| !function.implemented)
        .map(|function| function.name)
}
