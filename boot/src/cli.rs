//! The command line of `./qemu.sh`, shaped like `wasmtime run`: options first, then the
//! program and its arguments, which are passed through untouched. Without a program, shell
//! mode: Cella boots `/bin/init` from its image with the system's file system.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::dirs::DirSpec;

/// Guest RAM when `--memory` is not given: enough for a program to grow its linear memory
/// to nearly the 4 GiB of wasm32, as wasmtime allows. QEMU takes host memory only as the
/// guest touches it, so a larger guest costs nothing until a program uses it.
pub const DEFAULT_MEMORY: &str = "4G";

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
usage: ./qemu.sh [OPTIONS] PROGRAM.wasm [ARGS...]
       ./qemu.sh [OPTIONS]
       ./qemu.sh --new DIR
       ./qemu.sh --iso FILE

Runs a WebAssembly program (wasm32-wasip1) on the Cella kernel in QEMU, like `wasmtime run`.
Without a program, boots Cella's shell: /bin/init from the disk image, with /bin (the
system's programs), an empty /tmp and the --dir trees in one file system. A terminal on
stdin is put in raw mode for the session (Cella echoes and edits lines itself; Ctrl-C goes
to the guest); piped stdin goes to the shell as it is.

options:
  --dir HOST[::GUEST]
                     preopen the host directory HOST as GUEST (default: HOST as given);
                     repeatable. What the program changes there is written back at exit.
                     In shell mode GUEST is a path below / (`data` and `./data` mean /data)
  --env NAME=VALUE   set an environment variable (repeatable); `--env NAME` copies NAME from
                     the host environment, which is otherwise not inherited. Shell mode adds
                     PATH=/bin, HOME=/ and the host's TERM unless given
  --tcplisten IP:PORT
                     forward the host's IP:PORT to the guest's PORT and hand the program a
                     listening socket on it, non-blocking, as fd 3, 4, ... right after
                     stdio (as wasmi does; in shell mode after /, and the shell passes it on
                     to commands); repeatable. IP is normally 127.0.0.1: only the host can
                     connect
  -m, --memory SIZE  guest RAM in QEMU syntax (512M, 1G); default 4G, so a program can
                     use nearly all 4 GiB of wasm32 memory; the host gives QEMU only the
                     memory the guest touches
  --fs-size SIZE     the in-memory file system's size (files, directories, names, links),
                     as tmpfs's size= (256M, 1G); default half of the guest RAM. Beyond
                     it programs get ENOSPC
  -v, --verbose      show the kernel log and boot timing on stderr
  --uefi             boot the UEFI disk image with OVMF (otherwise QEMU loads the
                     kernel itself, the fast path)
  --timeout SECONDS  stop the guest after SECONDS (exit status 124)
  --icount           deterministic guest clock: the TSC counts guest instructions
  -D max-backtrace=N show at most N frames of a trap's wasm backtrace (default 20, as
                     wasmtime); 0 runs programs without the shadow call stack backtraces
                     need (code made of calls runs up to 30% faster)
  --setup            build everything that is missing, then exit
  --new DIR          create a Rust project in DIR (package named after it) whose
                     `cargo run [-- ARGS]` builds it for wasm32-wasip1 and runs it here,
                     on this checkout, with the project's data/ preopened as `data`
  --iso FILE         write Cella as a hybrid ISO image to FILE and exit: it boots as a
                     CD-ROM under UEFI and as a disk or USB stick under BIOS and UEFI,
                     into shell mode on the first serial port (see the README)
  -h, --help         show this help

exit status: the program's (0-255) (in shell mode, init's), 134 if it trapped, 1 if it could not be loaded,
2 for a bad command line, 71 if the kernel failed, 124 on timeout, 125 if the guest did
not boot. --new: 0, or 2 if the project could not be made.
";

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the usage and exit successfully.
    Help,
    /// Build kernel, images and every userland program, then exit.
    Setup,
    /// Create a Cargo project at this directory whose `cargo run` runs on Cella.
    New(PathBuf),
    /// Write the system as a hybrid ISO image to this file.
    Iso(PathBuf),
    /// Run a program, or the shell when [`RunOptions::program`] is `None`.
    Run(RunOptions),
}

/// Options of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// The wasm file as given; `None` for shell mode.
    pub program: Option<PathBuf>,
    /// Arguments after the program (argv\[1..\]).
    pub args: Vec<OsString>,
    /// Environment entries `NAME=VALUE`, in order.
    pub env: Vec<OsString>,
    /// Preopened host directories, in order.
    pub dirs: Vec<DirSpec>,
    /// Guest RAM, QEMU syntax.
    pub memory: String,
    /// `--fs-size` in bytes; `None` for the kernel's default.
    pub fs_size: Option<u64>,
    /// Show the kernel log.
    pub verbose: bool,
    /// Boot the UEFI image.
    pub uefi: bool,
    /// Stop the guest after this long.
    pub timeout: Option<Duration>,
    /// Run QEMU with `-icount shift=0`.
    pub icount: bool,
    /// Make the kernel fail on purpose (for the tests of fault reporting).
    pub inject_fault: Option<cella_proto::InjectedFault>,
    /// `--tcplisten`: host addresses whose port QEMU forwards to the same guest port.
    pub listen: Vec<SocketAddr>,
    /// Sample the guest's instruction pointer and log the profile at the end.
    pub profile: bool,
    /// `-D max-backtrace=N`: frames a trap's backtrace shows at most; 0 for none.
    pub max_backtrace: Option<u32>,
}

/// A command-line error: one sentence saying what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

/// Parses the arguments after the program name. `host_env` looks up `--env NAME` values.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    host_env: impl Fn(&str) -> Option<OsString>,
) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let mut options = RunOptions {
        program: None,
        args: Vec::new(),
        env: Vec::new(),
        dirs: Vec::new(),
        memory: DEFAULT_MEMORY.to_string(),
        fs_size: None,
        verbose: false,
        uefi: false,
        timeout: None,
        icount: false,
        inject_fault: None,
        listen: Vec::new(),
        profile: false,
        max_backtrace: None,
    };
    // Whether an option came before: `--new` and `--iso` take none.
    let mut any_option = false;
    let program = loop {
        let Some(arg) = args.next() else {
            check_shell_dirs(&options.dirs)?;
            add_shell_env(&mut options.env, &host_env);
            return Ok(Command::Run(options));
        };
        let Some(text) = arg.to_str() else {
            break arg;
        };
        if !text.starts_with('-') || text == "-" {
            break arg;
        }
        if text == "--" {
            match args.next() {
                Some(program) => break program,
                None => return Err(UsageError("no program given after `--`".into())),
            }
        }
        // `--name=value` and `--name value` both work, as in wasmtime.
        let (name, inline) = match text.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(OsString::from(value))),
            _ => (text, None),
        };
        let mut value = |what: &str| -> Result<OsString, UsageError> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| UsageError(format!("{name} needs a value ({what})")))
        };
        let first = !any_option;
        any_option = true;
        // wasmtime's debug options: `-D name=value` or `-Dname=value`.
        if let Some(attached) = name.strip_prefix("-D") {
            let setting = match attached {
                "" => value("max-backtrace=N")?,
                attached => OsString::from(attached),
            };
            options.max_backtrace = Some(parse_max_backtrace(&setting)?);
            continue;
        }
        match name {
            "-h" | "--help" => return Ok(Command::Help),
            "--new" => {
                let dir = value("the directory of the new project")?;
                if !first || args.next().is_some() {
                    return Err(UsageError(
                        "--new takes a directory and nothing else: ./qemu.sh --new DIR".into(),
                    ));
                }
                return Ok(Command::New(PathBuf::from(dir)));
            }
            "--setup" => return Ok(Command::Setup),
            "--iso" => {
                let file = value("the ISO file to write")?;
                return iso(file, !first, args.next());
            }
            "-v" | "--verbose" => options.verbose = true,
            "--uefi" => options.uefi = true,
            "--icount" => options.icount = true,
            // Not in --help: a test hook, documented in the README's Tests section.
            "--inject-kernel-fault" => {
                let kind = value("panic, page-fault or stack-overflow")?;
                options.inject_fault = Some(
                    cella_proto::InjectedFault::from_name(kind.as_bytes()).ok_or_else(|| {
                        UsageError(
                            "--inject-kernel-fault takes panic, page-fault or stack-overflow"
                                .into(),
                        )
                    })?,
                );
            }
            // Not in --help: a benchmarking aid, documented in the README's Benchmarks.
            "--profile" => options.profile = true,
            "--tcplisten" => {
                let address = value("HOST:PORT, such as 127.0.0.1:8080")?;
                options.listen.push(parse_listen(&address)?);
            }
            "-m" | "--memory" => {
                let size = value("a size such as 512M or 1G")?;
                options.memory = parse_memory(&size)?;
            }
            "--fs-size" => {
                let size = value("a size such as 128M or 1G")?;
                options.fs_size = Some(parse_fs_size(&size)?);
            }
            "--timeout" => {
                let seconds = value("a number of seconds")?;
                options.timeout = Some(parse_timeout(&seconds)?);
            }
            "--dir" => {
                let dir = value("HOST or HOST::GUEST")?;
                options.dirs.push(DirSpec::parse(&dir));
            }
            "--env" => {
                let entry = value("NAME=VALUE or NAME")?;
                options.env.extend(parse_env(entry, &host_env)?);
            }
            _ => {
                return Err(UsageError(format!(
                    "unknown option `{text}`: see ./qemu.sh --help"
                )));
            }
        }
    };
    options.program = Some(PathBuf::from(program));
    options.args = args.collect();
    Ok(Command::Run(options))
}

/// `--iso FILE`: writes an image and runs nothing, so it stands alone: the options of a run
/// (given before it) and a program (after it) would have no effect.
fn iso(file: OsString, options_given: bool, next: Option<OsString>) -> Result<Command, UsageError> {
    if options_given || next.is_some() {
        return Err(UsageError(
            "--iso FILE writes an image and runs nothing: give it alone, as ./qemu.sh --iso cella.iso"
                .into(),
        ));
    }
    if file.is_empty() {
        return Err(UsageError(
            "--iso needs a file name, such as cella.iso".into(),
        ));
    }
    Ok(Command::Iso(PathBuf::from(file)))
}

/// In shell mode every `--dir` appears at its guest path in one file system whose `/` holds
/// the system: a guest path must name a directory below `/` and stay there.
fn check_shell_dirs(dirs: &[DirSpec]) -> Result<(), UsageError> {
    for dir in dirs {
        let parts = || dir.guest.as_bytes().split(|&b| b == b'/');
        let shown = dir.guest.to_string_lossy();
        if parts().any(|part| part == b"..") {
            return Err(UsageError(format!(
                "--dir {}::{shown}: `..` is not allowed in a guest path",
                dir.host.display()
            )));
        }
        if parts().all(|part| part.is_empty() || part == b".") && !dir.guest.is_empty() {
            return Err(UsageError(format!(
                "--dir {}::{shown}: in shell mode / holds the system; give a guest path below it, such as {}::/data",
                dir.host.display(),
                dir.host.display()
            )));
        }
    }
    Ok(())
}

/// Shell mode's environment: `PATH=/bin`, `HOME=/` and the host's `TERM` (so the shell knows
/// the terminal), each unless `--env` set it.
fn add_shell_env(env: &mut Vec<OsString>, host_env: &impl Fn(&str) -> Option<OsString>) {
    let given = |env: &[OsString], name: &str| {
        env.iter().any(|entry| {
            entry
                .as_bytes()
                .strip_prefix(name.as_bytes())
                .is_some_and(|rest| rest.first() == Some(&b'='))
        })
    };
    let defaults = [
        ("PATH", Some(OsString::from("/bin"))),
        ("HOME", Some(OsString::from("/"))),
        ("TERM", host_env("TERM")),
    ];
    for (name, value) in defaults {
        if let Some(value) = value.filter(|_| !given(env, name)) {
            let mut entry = OsString::from(format!("{name}="));
            entry.push(value);
            env.push(entry);
        }
    }
}

/// QEMU's size syntax: a number with an optional K/M/G/T suffix (MiB by default), in bytes.
fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "M"),
    };
    let number: u64 = digits.parse().ok()?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return None,
    };
    number.checked_shl(shift).filter(|b| b >> shift == number)
}

/// Accepts QEMU's `-m` syntax, at least 64 MiB (the kernel and wasmi need room).
fn parse_memory(size: &OsString) -> Result<String, UsageError> {
    const MIN_MEMORY: u64 = 64 << 20;
    let text = size.to_string_lossy();
    match parse_size(&text) {
        Some(bytes) if bytes >= MIN_MEMORY => Ok(format!("{}M", bytes >> 20)),
        _ => Err(UsageError(format!(
            "bad memory size `{text}`: give a size such as 256M, 512M or 2G (at least 64M)"
        ))),
    }
}

/// `max-backtrace=N`, the one `-D` option Cella has.
fn parse_max_backtrace(setting: &OsString) -> Result<u32, UsageError> {
    setting
        .to_str()
        .and_then(|s| s.strip_prefix("max-backtrace="))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            UsageError(format!(
                "unknown debug option `-D {}`: Cella has -D max-backtrace=N (frames, 0 for none)",
                setting.to_string_lossy()
            ))
        })
}

/// `--fs-size`: the same syntax, at least 1 MiB (the kernel caps it at what the guest's
/// memory can hold).
fn parse_fs_size(size: &OsString) -> Result<u64, UsageError> {
    const MIN_FS_SIZE: u64 = 1 << 20;
    let text = size.to_string_lossy();
    match parse_size(&text) {
        Some(bytes) if bytes >= MIN_FS_SIZE => Ok(bytes),
        _ => Err(UsageError(format!(
            "bad file system size `{text}`: give a size such as 64M or 1G (at least 1M)"
        ))),
    }
}

/// Bytes of a `-m` value, as [`parse`] normalised it (`NNNM`) or [`DEFAULT_MEMORY`]; 0 for
/// what [`parse`] would have refused.
pub fn memory_bytes(memory: &str) -> u64 {
    parse_size(memory).unwrap_or(0)
}

/// `--tcplisten`'s `IP:PORT`, with a port other than 0 (the guest listens on the same one).
fn parse_listen(address: &OsString) -> Result<SocketAddr, UsageError> {
    match address.to_str().and_then(|a| a.parse::<SocketAddr>().ok()) {
        Some(address) if address.port() != 0 => Ok(address),
        _ => Err(UsageError(format!(
            "--tcplisten takes IP:PORT with a port from 1 to 65535, such as 127.0.0.1:8080, not `{}`",
            address.to_string_lossy()
        ))),
    }
}

fn parse_timeout(seconds: &OsString) -> Result<Duration, UsageError> {
    let text = seconds.to_string_lossy();
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            UsageError(format!(
                "bad timeout `{text}`: give a positive number of seconds"
            ))
        })
}

/// `NAME=VALUE` as given, or `NAME` completed from the host (`None` if the host lacks it).
fn parse_env(
    entry: OsString,
    host_env: &impl Fn(&str) -> Option<OsString>,
) -> Result<Option<OsString>, UsageError> {
    let text = entry.to_string_lossy();
    if text.is_empty() || text.starts_with('=') {
        return Err(UsageError(format!(
            "bad --env `{text}`: give NAME=VALUE, or NAME to copy it from the host"
        )));
    }
    if text.contains('=') {
        return Ok(Some(entry));
    }
    // wasmtime copies `--env NAME` from the host; a variable the host lacks is left unset.
    Ok(host_env(&text).map(|value| {
        let mut copied = entry.clone();
        copied.push("=");
        copied.push(value);
        copied
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, UsageError> {
        let host = |name: &str| match name {
            "HOME" => Some(OsString::from("/root")),
            "TERM" => Some(OsString::from("xterm-256color")),
            _ => None,
        };
        parse(args.iter().map(OsString::from), host)
    }

    fn options(args: &[&str]) -> RunOptions {
        match run(args) {
            Ok(Command::Run(options)) => options,
            other => panic!("expected a run, got {other:?}"),
        }
    }

    #[test]
    fn options_stop_at_the_program_and_its_arguments_pass_through() {
        let o = options(&["-v", "--uefi", "prog.wasm", "-v", "--env", "X=1"]);
        assert_eq!(o.program, Some(PathBuf::from("prog.wasm")));
        assert_eq!(o.args, ["-v", "--env", "X=1"].map(OsString::from));
        assert!(o.verbose && o.uefi);
        assert!(o.env.is_empty());
        assert_eq!(o.memory, DEFAULT_MEMORY);
        // The default and every normalised -m value are sizes the runner can read back.
        assert_eq!(memory_bytes(&o.memory), 4 << 30);
        assert_eq!(
            memory_bytes(&options(&["-m", "1G", "p.wasm"]).memory),
            1 << 30
        );
    }

    #[test]
    fn env_values_keep_spaces_quotes_and_newlines_and_names_copy_from_the_host() {
        let o = options(&[
            "--env",
            "A=two words",
            "--env=B=it's \"q\"\nx",
            "--env",
            "HOME",
            "--env",
            "UNSET",
            "p.wasm",
        ]);
        assert_eq!(
            o.env,
            ["A=two words", "B=it's \"q\"\nx", "HOME=/root"].map(OsString::from)
        );
        assert!(run(&["--env", "=x", "p.wasm"]).is_err());
    }

    #[test]
    fn dirs_keep_their_order_and_guest_names() {
        let o = options(&["--dir", "out::/", "--dir=.", "p.wasm"]);
        let dirs: Vec<_> = o
            .dirs
            .iter()
            .map(|d| (d.host.clone(), d.guest.clone()))
            .collect();
        assert_eq!(
            dirs,
            [
                (PathBuf::from("out"), OsString::from("/")),
                (PathBuf::from("."), OsString::from("."))
            ]
        );
        assert!(run(&["--dir"]).is_err());
    }

    #[test]
    fn file_system_sizes_follow_qemu_syntax() {
        assert_eq!(
            options(&["--fs-size", "64M", "p.wasm"]).fs_size,
            Some(64 << 20)
        );
        assert_eq!(options(&["--fs-size=2g"]).fs_size, Some(2 << 30));
        assert_eq!(options(&["p.wasm"]).fs_size, None);
        for bad in ["0", "512K", "x", "1Q", ""] {
            assert!(
                run(&["--fs-size", bad, "p.wasm"]).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn max_backtrace_is_wasmtimes_debug_option() {
        assert_eq!(options(&["p.wasm"]).max_backtrace, None);
        assert_eq!(
            options(&["-D", "max-backtrace=0", "p.wasm"]).max_backtrace,
            Some(0)
        );
        assert_eq!(
            options(&["-Dmax-backtrace=50", "p.wasm"]).max_backtrace,
            Some(50)
        );
        for bad in ["max-backtrace=x", "max-backtrace=-1", "debug-info", ""] {
            assert!(run(&["-D", bad, "p.wasm"]).is_err(), "{bad} accepted");
        }
        assert!(run(&["-D"]).is_err());
    }

    #[test]
    fn memory_sizes_follow_qemu_syntax() {
        assert_eq!(options(&["-m", "1G", "p.wasm"]).memory, "1024M");
        assert_eq!(options(&["--memory=256", "p.wasm"]).memory, "256M");
        assert_eq!(options(&["-m", "2048m", "p.wasm"]).memory, "2048M");
        for bad in ["lots", "1X", "16M", "", "99999999999999T"] {
            assert!(run(&["-m", bad, "p.wasm"]).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn timeouts_must_be_positive_seconds() {
        assert_eq!(
            options(&["--timeout", "2.5", "p.wasm"]).timeout,
            Some(Duration::from_millis(2500))
        );
        for bad in ["0", "-1", "soon", "inf", "NaN"] {
            assert!(
                run(&["--timeout", bad, "p.wasm"]).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn tcplisten_takes_ip_and_port_and_repeats() {
        let listen = options(&[
            "--tcplisten",
            "127.0.0.1:8080",
            "--tcplisten=[::1]:80",
            "p.wasm",
        ])
        .listen;
        let ports: Vec<u16> = listen.iter().map(SocketAddr::port).collect();
        assert_eq!(ports, [8080, 80]);
        for bad in ["8080", "localhost:80", "127.0.0.1:0", "127.0.0.1:70000"] {
            assert!(
                run(&["--tcplisten", bad, "p.wasm"]).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn bad_command_lines_say_what_to_do() {
        let UsageError(message) = run(&["--frobnicate", "p.wasm"]).unwrap_err();
        assert!(
            message.contains("--frobnicate") && message.contains("--help"),
            "{message}"
        );
        assert!(run(&["--timeout"]).is_err());
        assert!(run(&["--"]).is_err());
        assert_eq!(run(&["-h", "p.wasm"]), Ok(Command::Help));
        assert_eq!(run(&["--setup"]), Ok(Command::Setup));
        assert_eq!(
            options(&["--", "-odd.wasm", "x"]).program,
            Some(PathBuf::from("-odd.wasm"))
        );
    }

    #[test]
    fn new_takes_one_directory_and_nothing_else() {
        assert_eq!(
            run(&["--new", "hello"]),
            Ok(Command::New(PathBuf::from("hello")))
        );
        assert_eq!(
            run(&["--new=../my prog"]),
            Ok(Command::New(PathBuf::from("../my prog")))
        );
        // A directory like an option is still the directory (its name is checked later).
        assert_eq!(run(&["--new", "-v"]), Ok(Command::New(PathBuf::from("-v"))));
        for bad in [
            &["--new"][..],
            &["--new", "a", "b"],
            &["--new", "a", "-v"],
            &["-v", "--new", "a"],
            &["--env", "X=1", "--new", "a"],
        ] {
            let UsageError(message) = run(bad).unwrap_err();
            assert!(message.contains("--new"), "{bad:?}: {message}");
        }
        // After the program, `--new` is one of its arguments.
        assert_eq!(
            options(&["p.wasm", "--new", "x"]).args,
            ["--new", "x"].map(OsString::from)
        );
    }

    #[test]
    fn iso_takes_a_file_and_stands_alone() {
        let iso = Ok(Command::Iso(PathBuf::from("out/cella.iso")));
        assert_eq!(run(&["--iso", "out/cella.iso"]), iso);
        assert_eq!(run(&["--iso=out/cella.iso"]), iso);
        for bad in [
            &["--iso"][..],
            &["--iso="],
            &["--iso", "c.iso", "p.wasm"],
            &["-m", "1G", "--iso", "c.iso"],
        ] {
            let UsageError(message) = run(bad).unwrap_err();
            assert!(message.contains("--iso"), "{bad:?}: {message}");
        }
    }

    #[test]
    fn no_program_is_shell_mode_with_its_default_environment() {
        let o = options(&[]);
        assert_eq!(o.program, None);
        assert!(o.args.is_empty());
        assert_eq!(
            o.env,
            ["PATH=/bin", "HOME=/", "TERM=xterm-256color"].map(OsString::from)
        );
        // Options alone are shell mode too; --env wins over the defaults.
        let o = options(&["--dir", "x::/data", "--env", "PATH=/usr/bin", "-m", "1G"]);
        assert_eq!(o.program, None);
        assert_eq!(o.memory, "1024M");
        assert_eq!(o.dirs[0].guest, OsString::from("/data"));
        assert_eq!(
            o.env,
            ["PATH=/usr/bin", "HOME=/", "TERM=xterm-256color"].map(OsString::from)
        );
        // `--env PATHX=1` does not set PATH, and a host without TERM gives none.
        let o = match parse(["--env", "PATHX=1"].map(OsString::from), |_| None) {
            Ok(Command::Run(o)) => o,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            o.env,
            ["PATHX=1", "PATH=/bin", "HOME=/"].map(OsString::from)
        );
        // A program run gets none of them.
        assert!(options(&["p.wasm"]).env.is_empty());
        // The root and `..` cannot be guest paths in shell mode, but can in a program run.
        for bad in ["x::/", "x::.", "x::./", "x::a/../b", "."] {
            let UsageError(message) = run(&["--dir", bad]).unwrap_err();
            assert!(message.contains("--dir"), "{message}");
        }
        assert!(run(&["--dir", "x::/", "p.wasm"]).is_ok());
    }
}
