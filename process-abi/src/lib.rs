//! The ABI of `cella_process`, Cella's own import module for the programs that manage other
//! programs (init, the shell, `ps`, `kill`), defined once for both sides.
//!
//! - [`cella_process_functions!`] lists every function: its import name and its parameters,
//!   named and typed, in order. From that list this crate generates [`Function`] (what the
//!   kernel's linker registers, by name) and [`Call`] (a call decoded from its raw arguments);
//!   the `cella-process` crate generates its `extern` import block from the same list.
//! - [`records`] lays out the records the calls pass through the caller's memory
//!   ([`SpawnRequest`], [`PreopenEntry`], [`WaitResult`], [`ProcessRecord`], [`SystemInfo`],
//!   [`FsInfo`]):
//!   little-endian fields one after the other, each record with its size, alignment and
//!   encoding from and to bytes.
//! - The constants: signals, `wait` options, console modes, process groups, limits.
//!
//! Every function returns a WASI preview1 errno as an `i32` (0 for success); its address
//! parameters are offsets in the caller's linear memory. The crate is `no_std`, has no
//! dependencies and never panics on the bytes it decodes.

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

pub mod records;

pub use records::{
    FsInfo, Group, NAME_BYTES, PreopenEntry, ProcessRecord, ProcessState, Record, SpawnRequest,
    Status, SystemInfo, WaitResult,
};

/// Lists the module's name and its functions, for the code generated from them: calls
/// `$callback! { module = "cella_process"; FUNCTION... }` where each `FUNCTION` reads
/// `/// docs` then `Variant name(param: type, ...);`. Parameter types are `u32` (addresses,
/// lengths, flags) or `i32` (pids that may be negative); each is one wasm `i32`.
///
/// ```
/// macro_rules! names {
///     (module = $module:literal; $($(#[$doc:meta])* $variant:ident $name:ident
///         ($($param:ident : $ty:ident),*);)*) => {
///         const NAMES: &[&str] = &[$(stringify!($name)),*];
///     };
/// }
/// cella_process_abi::cella_process_functions!(names);
/// assert_eq!(NAMES[0], "spawn");
/// ```
#[macro_export]
macro_rules! cella_process_functions {
    ($callback:ident) => {
        $callback! {
            module = "cella_process";
            /// `spawn(request, pid_out)`: starts the child the [`SpawnRequest`] at `request`
            /// describes and stores its pid (a `u32`) at `pid_out`.
            Spawn spawn(request: u32, pid_out: u32);
            /// `wait(pid, options, result)`: waits for child `pid` ([`ANY_CHILD`]: any) to end,
            /// reaps it and stores a [`WaitResult`] at `result`; `options` is 0 or any of
            /// [`WAIT_NOHANG`] and [`WAIT_UNTRACED`] (also report a child that stopped).
            Wait wait(pid: i32, options: u32, result: u32);
            /// `kill(pid, signal)`: sends `signal` to process `pid`, or to every process of
            /// group `-pid` when `pid` is below -1 (0: the caller's group): [`SIGCONT`]
            /// continues it, a stop signal ([`is_stop_signal`]) stops it, any other ends it;
            /// 0 only checks.
            Kill kill(pid: i32, signal: u32);
            /// `pipe(fds_out)`: opens a pipe in the caller and stores its read fd, then its
            /// write fd (two `u32`s) at `fds_out`.
            Pipe pipe(fds_out: u32);
            /// `processes(buf, buf_len, count_out)`: fills `buf_len` bytes at `buf` with as
            /// many [`ProcessRecord`]s as fit, in pid order, and stores the number of
            /// processes (a `u32`) at `count_out`.
            Processes processes(buf: u32, buf_len: u32, count_out: u32);
            /// `console_mode(mode)`: [`CONSOLE_RAW`] or [`CONSOLE_COOKED`] console input.
            ConsoleMode console_mode(mode: u32);
            /// `set_foreground(pgid)`: makes `pgid` the process group Ctrl-C interrupts and
            /// Ctrl-Z stops.
            SetForeground set_foreground(pgid: u32);
            /// `self_pid(pid_out)`: stores the caller's pid (a `u32`) at `pid_out`.
            SelfPid self_pid(pid_out: u32);
            /// `system_info(out)`: stores a [`SystemInfo`] at `out`.
            SystemInfo system_info(out: u32);
            /// `fs_info(fd, out)`: stores at `out` the [`FsInfo`] of the file system that
            /// holds directory `fd` (as `fstatvfs` does; `ENOTDIR` for another fd).
            FsInfo fs_info(fd: u32, out: u32);
        }
    };
}

/// A wasm value type of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
}

/// A Rust parameter type of an import's signature and how its raw value arrives from wasm:
/// the `cella_process` list here and the preview1 table of `wasi-abi` both read arguments
/// through it.
pub trait Param {
    /// The wasm type of the parameter.
    const TYPE: ValType;
    /// The value from the raw 64-bit slot the interpreter passes.
    fn from_raw(raw: u64) -> Self;
    /// The value as a raw 64-bit slot (an `i32` zero-extended), which `from_raw` reads back.
    fn to_raw(self) -> u64;
}

impl Param for u32 {
    const TYPE: ValType = ValType::I32;
    fn from_raw(raw: u64) -> Self {
        // An i32 may arrive zero- or sign-extended; only its low 32 bits are the value.
        raw as u32
    }
    fn to_raw(self) -> u64 {
        u64::from(self)
    }
}

impl Param for i32 {
    const TYPE: ValType = ValType::I32;
    fn from_raw(raw: u64) -> Self {
        raw as u32 as i32
    }
    fn to_raw(self) -> u64 {
        u64::from(self as u32)
    }
}

impl Param for u64 {
    const TYPE: ValType = ValType::I64;
    fn from_raw(raw: u64) -> Self {
        raw
    }
    fn to_raw(self) -> u64 {
        self
    }
}

impl Param for i64 {
    const TYPE: ValType = ValType::I64;
    fn from_raw(raw: u64) -> Self {
        raw as i64
    }
    fn to_raw(self) -> u64 {
        self as u64
    }
}

macro_rules! define_functions {
    (module = $module:literal;
     $( $(#[$doc:meta])* $variant:ident $name:ident ( $($param:ident : $ty:ident),* ); )*) => {
        /// The import module's name.
        pub const MODULE: &str = $module;

        /// A function of the module, known by its import name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Function {
            $( $(#[$doc])* $variant, )*
        }

        impl Function {
            /// Every function of the module.
            pub const ALL: &[Function] = &[$(Function::$variant),*];

            /// Its import name.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Function::$variant => stringify!($name), )*
                }
            }

            /// Its parameters' wasm types, in order. Every function returns an `i32` errno.
            pub const fn params(self) -> &'static [ValType] {
                match self {
                    $( Function::$variant => &[$(<$ty as Param>::TYPE),*], )*
                }
            }

            /// The function imported as `name`, if the module has one.
            pub fn from_name(name: &str) -> Option<Function> {
                Function::ALL.iter().copied().find(|function| function.name() == name)
            }
        }

        /// One call and its arguments, named as in the list; addresses are still offsets in
        /// the caller's memory.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Call {
            $(
                $(#[$doc])*
                $variant {
                    $(
                        #[doc = concat!("The `", stringify!($param), "` argument.")]
                        $param: $ty,
                    )*
                },
            )*
        }

        impl Call {
            /// Decodes a call of `function` from its raw wasm arguments (only the low 32 bits
            /// of an `i32` count); `None` when their number is not the function's.
            pub fn decode(function: Function, args: &[u64]) -> Option<Call> {
                if args.len() != function.params().len() {
                    return None;
                }
                let mut args = args.iter().copied();
                Some(match function {
                    $( Function::$variant => Call::$variant {
                        $( $param: <$ty as Param>::from_raw(args.next()?), )*
                    }, )*
                })
            }

            /// The function called.
            pub fn function(&self) -> Function {
                match self {
                    $( Call::$variant { .. } => Function::$variant, )*
                }
            }
        }
    };
}

cella_process_functions!(define_functions);

/// `wait`'s `pid` for any child.
pub const ANY_CHILD: i32 = -1;
/// `wait` option: return at once, with pid 0 in the [`WaitResult`], when no child has ended.
pub const WAIT_NOHANG: u32 = 1;
/// `wait` option (POSIX's `WUNTRACED`): also report a child that has stopped since it was
/// last reported, as [`Status::Stopped`], without reaping it.
pub const WAIT_UNTRACED: u32 = 2;
/// Every `wait` option; other bits are `EINVAL`.
pub const WAIT_OPTIONS: u32 = WAIT_NOHANG | WAIT_UNTRACED;

/// `SIGINT`: what Ctrl-C sends to the foreground process group.
pub const SIGINT: u32 = 2;
/// `SIGKILL`.
pub const SIGKILL: u32 = 9;
/// `SIGTERM`: `kill`'s default signal.
pub const SIGTERM: u32 = 15;
/// `SIGCONT`: continues a stopped process; a running one is left alone.
pub const SIGCONT: u32 = 18;
/// `SIGSTOP`: stops a process (it is not scheduled until [`SIGCONT`]).
pub const SIGSTOP: u32 = 19;
/// `SIGTSTP`: what Ctrl-Z sends to the foreground process group; stops it like `SIGSTOP`.
pub const SIGTSTP: u32 = 20;
/// `SIGTTIN`: stops, as Linux's default action for it.
pub const SIGTTIN: u32 = 21;
/// `SIGTTOU`: stops, as Linux's default action for it.
pub const SIGTTOU: u32 = 22;
/// The highest signal `kill` accepts. Preview1 programs cannot handle signals: each takes
/// its default action, which for every signal but the stop signals and [`SIGCONT`] is to
/// end the process.
pub const MAX_SIGNAL: u32 = 31;

/// Whether `signal` stops its target (`SIGSTOP`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU`).
pub const fn is_stop_signal(signal: u32) -> bool {
    matches!(signal, SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU)
}

/// The signals by their Linux names (without `SIG`) and numbers, for `kill -l`, `kill -NAME`
/// and messages.
pub const SIGNAL_NAMES: &[(&str, u32)] = &[
    ("HUP", 1),
    ("INT", SIGINT),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", SIGKILL),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", SIGTERM),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", SIGCONT),
    ("STOP", SIGSTOP),
    ("TSTP", SIGTSTP),
    ("TTIN", SIGTTIN),
    ("TTOU", SIGTTOU),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// The number of signal `name` (`TERM`, `SIGTERM`, any case; `IO` is `POLL`), if there is
/// one.
pub fn signal_number(name: &str) -> Option<u32> {
    let bare = match name.get(..3) {
        Some(sig) if sig.eq_ignore_ascii_case("SIG") => name.get(3..).unwrap_or(""),
        _ => name,
    };
    let bare = if bare.eq_ignore_ascii_case("IO") {
        "POLL"
    } else {
        bare
    };
    SIGNAL_NAMES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(bare))
        .map(|&(_, number)| number)
}

/// The name of signal `number` (`TERM`), if it has one.
pub fn signal_name(number: u32) -> Option<&'static str> {
    SIGNAL_NAMES
        .iter()
        .find(|&&(_, known)| known == number)
        .map(|&(name, _)| name)
}

/// `console_mode`: the line discipline (echo, erase, lines delivered on Enter, Ctrl-C
/// interrupts the foreground group, Ctrl-D is end of file).
pub const CONSOLE_COOKED: u32 = 0;
/// `console_mode`: every byte as typed, no echo, no Ctrl-C or Ctrl-D handling.
pub const CONSOLE_RAW: u32 = 1;

/// The most bytes of argv, and of the environment, a spawn may pass (`E2BIG` beyond).
pub const MAX_STRINGS_BYTES: u32 = 1 << 20;
/// The most preopens a spawn may hand over (`EINVAL` beyond).
pub const MAX_PREOPENS: u32 = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_is_found_by_its_name_and_nothing_else_is() {
        for &function in Function::ALL {
            assert_eq!(Function::from_name(function.name()), Some(function));
        }
        assert_eq!(Function::from_name("spawn"), Some(Function::Spawn));
        assert_eq!(Function::from_name("fd_write"), None);
        assert_eq!(Function::from_name(""), None);
        assert_eq!(MODULE, "cella_process");
    }

    #[test]
    fn a_call_decodes_its_arguments_by_name_in_order() {
        let wait = Call::decode(Function::Wait, &[u64::MAX, 1, 0x1_0000_0040]);
        assert_eq!(
            wait,
            Some(Call::Wait {
                pid: -1,
                options: WAIT_NOHANG,
                result: 0x40,
            })
        );
        assert_eq!(wait.map(|call| call.function()), Some(Function::Wait));
        assert_eq!(
            Call::decode(Function::Kill, &[7, 15]),
            Some(Call::Kill { pid: 7, signal: 15 })
        );
    }

    #[test]
    fn a_value_goes_to_its_raw_slot_and_back() {
        assert_eq!(u32::MAX.to_raw(), 0xffff_ffff, "an i32 is zero-extended");
        assert_eq!((-1i32).to_raw(), 0xffff_ffff);
        assert_eq!(i32::from_raw((-7i32).to_raw()), -7);
        assert_eq!(u64::from_raw(u64::MAX.to_raw()), u64::MAX);
        assert_eq!(i64::from_raw(i64::MIN.to_raw()), i64::MIN);
    }

    #[test]
    fn a_wrong_number_of_arguments_decodes_to_nothing() {
        for &function in Function::ALL {
            let count = function.params().len();
            let args = [0u64; 8];
            assert!(
                Call::decode(function, &args[..count]).is_some(),
                "{function:?}"
            );
            assert_eq!(Call::decode(function, &args[..count + 1]), None);
            if count > 0 {
                assert_eq!(Call::decode(function, &args[..count - 1]), None);
            }
        }
    }

    #[test]
    fn signals_have_linux_names_and_numbers() {
        assert_eq!(SIGNAL_NAMES.len(), MAX_SIGNAL as usize);
        for (n, &(name, number)) in (1..).zip(SIGNAL_NAMES) {
            assert_eq!(number, n, "{name}");
            assert_eq!(signal_number(name), Some(n));
            assert_eq!(signal_name(n), Some(name));
        }
        assert_eq!(signal_number("SIGSTOP"), Some(19));
        assert_eq!(signal_number("tstp"), Some(20));
        assert_eq!(signal_number("sigcont"), Some(18));
        assert_eq!(signal_number("IO"), Some(29));
        assert_eq!(signal_number("SIG"), None);
        assert_eq!(signal_number("STOPP"), None);
        assert_eq!(signal_name(0), None);
        assert_eq!(signal_name(32), None);
        let stops: [u32; 4] = [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU];
        for signal in 0..=MAX_SIGNAL {
            assert_eq!(is_stop_signal(signal), stops.contains(&signal), "{signal}");
        }
        assert_eq!(WAIT_OPTIONS, 3);
    }

    #[test]
    fn every_parameter_is_one_wasm_i32() {
        let counts: [(Function, usize); 10] = [
            (Function::Spawn, 2),
            (Function::Wait, 3),
            (Function::Kill, 2),
            (Function::Pipe, 1),
            (Function::Processes, 3),
            (Function::ConsoleMode, 1),
            (Function::SetForeground, 1),
            (Function::SelfPid, 1),
            (Function::SystemInfo, 1),
            (Function::FsInfo, 2),
        ];
        assert_eq!(Function::ALL.len(), counts.len());
        for (function, count) in counts {
            assert_eq!(
                function.params(),
                &[ValType::I32; 3][..count],
                "{function:?}"
            );
        }
    }
}
