//! Runs one program on Cella: writes the run configuration, starts QEMU with the program and
//! configuration as fw_cfg files and the host link on the second serial port (QEMU's stdio),
//! then relays the link — stdin in, stdout, stderr and the kernel log out — until the guest
//! reports how the program ended. In shell mode there is no program file: the kernel starts
//! `/bin/init` from the image, and a terminal on stdin is in raw mode for the session. QEMU
//! never outlives the runner, however the runner ends (see `end_with_runner`).

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use cella_proto::{
    Decoder, Exit, FW_CFG_CONFIG, FW_CFG_DIRS, FW_CFG_PROGRAM, LINK_SYNC, RunConfig,
    WRITEBACK_HEADER, WRITEBACK_MAGIC, WRITEBACK_SERIAL, status, to_guest, to_host,
};

use crate::cli::{self, RunOptions};
use crate::dirs::{self, Trees};
use crate::network::Network;
use crate::project::Images;
use crate::terminal;

/// The QEMU binary, overridable for unusual installs.
const QEMU: &str = "qemu-system-x86_64";
/// The isa-debug-exit device the kernel ends QEMU with.
const DEBUG_EXIT_DEVICE: &str = "isa-debug-exit,iobase=0xf4,iosize=0x04";
/// Where Debian's `ovmf` package puts the UEFI firmware: code, then the variable store
/// template (copied per run, since the firmware writes to it).
const OVMF_PAIRS: &[(&str, &str)] = &[
    (
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ),
    ("/usr/share/ovmf/OVMF.fd", ""),
];
/// The wasm binary magic and the core-module version.
const WASM_MAGIC: &[u8; 4] = b"\0asm";
const WASM_CORE_VERSION: [u8; 4] = [1, 0, 0, 0];
/// How long to wait for QEMU to end after the guest reported its exit.
const EXIT_GRACE: Duration = Duration::from_secs(5);
/// The file COM2 writes to: the kernel's fallback channel for fault reports.
const EMERGENCY_LOG: &str = "com2.log";
/// How often the runner checks on QEMU while waiting for it.
const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// Largest stdin chunk sent in one frame: small enough to keep the link responsive.
const STDIN_CHUNK: usize = 16 * 1024;
/// The status of a QEMU child that found its runner gone before it could exec: nobody reads it.
const ORPHANED: libc::c_int = 1;

/// A failure before or around the run, with the status to exit with.
pub struct Failure {
    /// What went wrong, one sentence.
    pub message: String,
    /// The runner's exit status.
    pub status: u8,
}

impl Failure {
    fn usage(message: String) -> Failure {
        Failure {
            message,
            status: status::USAGE,
        }
    }

    fn boot(message: String) -> Failure {
        Failure {
            message,
            status: status::BOOT_FAILED,
        }
    }
}

/// Checks that `program` is a readable WebAssembly core module, before anything is built.
pub fn check_program(program: &Path) -> Result<(), Failure> {
    let shown = program.display();
    let mut header = [0u8; 8];
    let mut file = fs::File::open(program).map_err(|e| {
        Failure::usage(match e.kind() {
            io::ErrorKind::NotFound => {
                format!("{shown}: no such file: give the path of a .wasm program")
            }
            _ => format!("cannot read {shown}: {e}"),
        })
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(Failure::usage(format!(
            "{shown} is a directory: give the path of a .wasm program"
        )));
    }
    let read = file.read(&mut header).unwrap_or(0);
    if read < header.len() || &header[..4] != WASM_MAGIC {
        return Err(Failure::usage(format!(
            "{shown} is not a WebAssembly module: give a .wasm file built for wasm32-wasip1"
        )));
    }
    if header[4..] != WASM_CORE_VERSION {
        return Err(Failure::usage(format!(
            "{shown} is a WebAssembly component or an unknown version: Cella runs core modules (wasm32-wasip1)"
        )));
    }
    Ok(())
}

/// argv\[0\]: the program's basename, or `init` in shell mode.
fn program_name(options: &RunOptions) -> OsString {
    match &options.program {
        Some(program) => program
            .file_name()
            .unwrap_or(program.as_os_str())
            .to_os_string(),
        None => OsString::from(SHELL_ARGV0),
    }
}

/// argv\[0\] of init in shell mode.
const SHELL_ARGV0: &str = "init";

/// The configuration the kernel reads from fw_cfg.
fn run_config(
    options: &RunOptions,
    trees: Option<&Trees>,
    interactive: bool,
    terminal: bool,
) -> Result<Vec<u8>, Failure> {
    let name = program_name(options);
    let bytes = |s: &OsString| s.as_bytes().to_vec();
    let config = RunConfig {
        args: std::iter::once(name.as_bytes().to_vec())
            .chain(options.args.iter().map(bytes))
            .collect(),
        env: options.env.iter().map(bytes).collect(),
        host_link: true,
        verbose: options.verbose,
        interactive,
        terminal,
        preopens: trees.map(|t| t.preopens.clone()).unwrap_or_default(),
        inject_fault: options.inject_fault,
        listen: options
            .listen
            .iter()
            .map(|address| address.port())
            .collect(),
        profile: options.profile,
        fs_size: options.fs_size,
        max_backtrace: options.max_backtrace,
    };
    config.encode().map_err(|error| {
        Failure::usage(format!(
            "cannot pass the arguments or environment to the program ({error:?}): remove NUL bytes"
        ))
    })
}

/// Per-run files, removed when the run ends.
struct RunDir(PathBuf);

impl RunDir {
    /// Makes this run's directory, first removing those of runs that were killed (their
    /// process is gone) before they could clean up.
    fn create(parent: &Path) -> Result<RunDir, Failure> {
        for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let pid = name.to_str().and_then(|n| n.strip_prefix("run-"));
            if pid.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        let dir = parent.join(format!("run-{}", std::process::id()));
        fs::create_dir_all(&dir)
            .map_err(|e| Failure::boot(format!("cannot create {}: {e}", dir.display())))?;
        Ok(RunDir(dir))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Guest RAM kept for the kernel and the program beyond the `--dir` trees.
const DIRS_RESERVE: u64 = 64 << 20;
/// Spare room on the write-back disk beyond its share of guest RAM.
const WRITEBACK_SLACK: u64 = 64 << 20;
/// Write-back disk bytes per byte of guest RAM (or of `--fs-size`, if larger). The archive of a full file system can be
/// far larger than the file system: every name's path may be up to 4 KiB, while a file,
/// directory or symlink is charged at least 418 bytes, so an archive entry is at most some
/// 16 times what its inode and name cost (a symlink's target counts on both sides; a
/// file's holes count against the file system's size; a hard link, archived with two
/// paths, is charged 1 KiB more). The file system is at most the RAM or `--fs-size`, so
/// the archive of a full one fits. The disk is a sparse file: only what the guest writes
/// takes host disk.
const WRITEBACK_PER_RAM_BYTE: u64 = 16;

fn qemu_command(
    options: &RunOptions,
    images: &Images,
    run_dir: &Path,
    config: &Path,
    trees: Option<&Trees>,
    network: Option<&Network>,
) -> Result<Command, Failure> {
    let mut qemu = Command::new(std::env::var_os("CELLA_QEMU").unwrap_or_else(|| QEMU.into()));
    let fw_cfg = |name: &str, file: &Path| {
        let mut arg = OsString::from(format!("name={name},file="));
        arg.push(file);
        ["-fw_cfg".into(), arg]
    };
    qemu.args([
        "-machine",
        "q35",
        "-cpu",
        "max",
        "-smp",
        "1",
        "-m",
        &options.memory,
    ])
    // No default devices: the VGA card's option ROM alone costs the firmware tens of ms.
    .arg("-nodefaults")
    .args([
        "-display",
        "none",
        "-no-reboot",
        "-monitor",
        "none",
        "-nic",
        "none",
    ])
    // COM1 is the console, for people booting by hand. The link runs over a virtio console
    // on QEMU's stdio; COM2 goes to a file, where the kernel reports a fault it could not
    // send over virtio.
    .args(["-serial", "null", "-serial"])
    .arg({
        let mut arg = OsString::from("file:");
        arg.push(run_dir.join(EMERGENCY_LOG));
        arg
    })
    .args(["-chardev", "stdio,id=link,signal=off"])
    .args(["-device", "virtio-serial-pci,id=link-bus"])
    .args(["-device", "virtconsole,chardev=link,bus=link-bus.0"])
    .args(["-device", DEBUG_EXIT_DEVICE])
    .args(fw_cfg(FW_CFG_CONFIG, config));
    // Without a program the kernel boots shell mode.
    if let Some(program) = &options.program {
        let program = fs::canonicalize(program).unwrap_or_else(|_| program.clone());
        qemu.args(fw_cfg(FW_CFG_PROGRAM, &program));
    }
    if options.icount {
        qemu.args(["-icount", "shift=0,align=off,sleep=off"]);
    }
    if let Some(network) = network {
        qemu.args(network.qemu_args());
    }
    if let Some(trees) = trees {
        let archive = run_dir.join("dirs.tar");
        fs::write(&archive, &trees.archive)
            .map_err(|e| Failure::boot(format!("cannot write {}: {e}", archive.display())))?;
        qemu.args(fw_cfg(FW_CFG_DIRS, &archive));
        // The kernel writes the trees back onto this disk; sparse, so its size costs nothing.
        // Everything the guest can hold fits, whatever its shape (see the constants).
        let disk = run_dir.join("writeback.img");
        let held = cli::memory_bytes(&options.memory).max(options.fs_size.unwrap_or(0));
        let size = held * WRITEBACK_PER_RAM_BYTE + WRITEBACK_SLACK;
        fs::File::create(&disk)
            .and_then(|file| file.set_len(size))
            .map_err(|e| Failure::boot(format!("cannot create {}: {e}", disk.display())))?;
        let mut drive = OsString::from("if=none,id=writeback,format=raw,cache=unsafe,file=");
        drive.push(&disk);
        qemu.arg("-drive").arg(drive);
        qemu.args([
            "-device",
            &format!("virtio-blk-pci,drive=writeback,serial={WRITEBACK_SERIAL}"),
        ]);
    }
    if options.uefi {
        // UEFI is asked for by name: the firmware boots the UEFI image, as by hand.
        let (code, vars) = OVMF_PAIRS
            .iter()
            .find(|(code, _)| Path::new(code).exists())
            .ok_or_else(|| {
                Failure::boot(
                    "UEFI firmware not found: install it with `apt-get install ovmf`".into(),
                )
            })?;
        qemu.arg("-drive")
            .arg(format!("if=pflash,format=raw,readonly=on,file={code}"));
        if !vars.is_empty() {
            let copy = run_dir.join("OVMF_VARS.fd");
            fs::copy(vars, &copy).map_err(|e| Failure::boot(format!("cannot copy {vars}: {e}")))?;
            let mut arg = OsString::from("if=pflash,format=raw,file=");
            arg.push(&copy);
            qemu.arg("-drive").arg(arg);
        }
        // snapshot=on: every run boots the same image and any write stays in a throwaway
        // overlay.
        let mut drive = OsString::from("format=raw,snapshot=on,file=");
        drive.push(&images.uefi);
        qemu.arg("-drive").arg(drive);
    } else {
        // Otherwise QEMU loads the kernel itself (its PVH entry) instead of the BIOS and
        // bootloader reading the image through int 13h: the same kernel, and in shell mode
        // the same ramdisk, as the BIOS image holds (see docs/boot.md).
        qemu.arg("-kernel").arg(&images.kernel);
        if options.program.is_none() {
            qemu.arg("-initrd").arg(&images.ramdisk);
        }
    }
    Ok(qemu)
}

/// Makes the process `command` starts end with the runner, however the runner ends: a
/// SIGKILL of the runner runs no code of ours (no drop, no signal handler), so it is the
/// kernel that must stop QEMU, which it does with the parent-death signal (`PR_SET_PDEATHSIG`,
/// here SIGKILL; QEMU has nothing to save). The kernel sends it when the *thread* that forked
/// the child ends, so `command` must be spawned from a thread that outlives the child.
///
/// QEMU is the only process the runner leaves running while it waits besides passt: the
/// builds it starts (cargo, llvm-strip, the image builder, clang) are waited for and end by
/// themselves, and passt ends when QEMU does (see `network`). A `CELLA_QEMU` wrapper must `exec` QEMU, so that
/// QEMU is the process holding the signal.
fn end_with_runner(command: &mut Command) {
    // Read before the fork: the child compares its parent with it.
    let runner = libc::pid_t::try_from(std::process::id()).unwrap_or(libc::pid_t::MAX);
    let pre_exec = move || {
        // SIGKILL fits an unsigned long; passed as one, since prctl is variadic.
        let signal = libc::SIGKILL as libc::c_ulong;
        // SAFETY: this runs in the child between fork and exec, where only async-signal-safe
        // calls may be made: prctl, getppid and _exit are bare system calls, and nothing here
        // allocates or takes a lock. PR_SET_PDEATHSIG takes one signal number argument.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The runner may have died between the fork and the prctl: the child was then
            // already handed to another parent, whose death it would wait for instead.
            if libc::getppid() != runner {
                libc::_exit(ORPHANED);
            }
        }
        Ok(())
    };
    // SAFETY: `pre_exec` only makes async-signal-safe calls (see above), as a closure run
    // between fork and exec must.
    unsafe {
        command.pre_exec(pre_exec);
    }
}

/// Tells the stdin relay when the program has started: bytes sent earlier could be eaten by
/// the firmware, which reads the serial ports too.
#[derive(Default)]
struct Started {
    started: Mutex<bool>,
    signal: Condvar,
}

impl Started {
    fn set(&self) {
        if let Ok(mut started) = self.started.lock() {
            *started = true;
        }
        self.signal.notify_all();
    }

    fn wait(&self) {
        let Ok(mut started) = self.started.lock() else {
            return;
        };
        while !*started {
            match self.signal.wait(started) {
                Ok(guard) => started = guard,
                Err(_) => return,
            }
        }
    }
}

/// What the guest side of the link said.
#[derive(Default)]
struct Report {
    exit: Option<Exit>,
    /// Wall time from QEMU's start to the STARTED frame.
    boot_time: Option<Duration>,
}

/// Runs the program and returns the runner's exit status.
pub fn run(options: &RunOptions, images: &Images, output_dir: &Path) -> Result<u8, Failure> {
    let trees = if options.dirs.is_empty() {
        None
    } else {
        // The kernel, the program's memory and the VFS share the guest's RAM: leave the
        // program a fair share.
        let memory = cli::memory_bytes(&options.memory);
        let limit = memory.saturating_sub(DIRS_RESERVE).min(memory / 4 * 3);
        Some(dirs::pack(&options.dirs, limit).map_err(Failure::usage)?)
    };
    // Shell mode at a terminal: the guest's line discipline replaces the host's. A program
    // at a terminal keeps the host's, but sees its stdio as a terminal, as under wasmtime.
    let at_terminal = terminal::stdin_is_terminal();
    let interactive = options.program.is_none() && at_terminal;
    let config = run_config(options, trees.as_ref(), interactive, at_terminal)?;
    let run_dir = RunDir::create(output_dir)?;
    let config_path = run_dir.0.join("config");
    fs::write(&config_path, &config)
        .map_err(|e| Failure::boot(format!("cannot write {}: {e}", config_path.display())))?;
    // Dropped before `run_dir`, which holds its log: that stops passt.
    let mut network = Network::start(&options.listen, &run_dir.0).map_err(Failure::boot)?;
    let mut qemu = qemu_command(
        options,
        images,
        &run_dir.0,
        &config_path,
        trees.as_ref(),
        network.as_ref(),
    )?;
    // Entered before QEMU starts and restored when this function returns, however it does.
    let raw_mode = if interactive {
        match terminal::RawMode::enter() {
            Ok(raw) => Some(raw),
            Err(e) => {
                eprintln!(
                    "cella: cannot put the terminal in raw mode ({e}): line editing stays the host's"
                );
                None
            }
        }
    } else {
        None
    };
    end_with_runner(&mut qemu);
    if let Some(network) = &network {
        network.hand_to(&mut qemu);
    }
    let launched = Instant::now();
    // Spawned from this thread, the main one, which lives until the run is over: the kernel
    // sends QEMU its parent-death signal when the thread that forked it ends, not the process.
    let mut child = qemu
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Failure::boot(match e.kind() {
                io::ErrorKind::NotFound => {
                    "qemu-system-x86_64 not found: install it with `apt-get install qemu-system-x86`".into()
                }
                _ => format!("cannot start QEMU: {e}"),
            })
        })?;
    if let Some(network) = network.as_mut() {
        network.qemu_started();
    }

    if raw_mode.is_some() {
        terminal::RawMode::set_child(child.id());
    }
    let started = Arc::new(Started::default());
    let (Some(link_out), Some(link_in), Some(mut qemu_err)) =
        (child.stdout.take(), child.stdin.take(), child.stderr.take())
    else {
        return Err(Failure::boot(
            "QEMU's standard streams were not piped".into(),
        ));
    };
    let exit_reported = Arc::new(AtomicBool::new(false));
    let link_in = Arc::new(Mutex::new(link_in));
    let reader = {
        let started = Arc::clone(&started);
        let exit_reported = Arc::clone(&exit_reported);
        let verbose = options.verbose;
        let credit = Credit::new(Arc::clone(&link_in));
        thread::spawn(move || {
            read_link(
                link_out,
                &started,
                &exit_reported,
                verbose,
                launched,
                Some(credit),
            )
        })
    };
    {
        let started = Arc::clone(&started);
        // Detached: it may stay blocked reading our stdin after the guest is gone.
        thread::spawn(move || relay_stdin(&link_in, &started));
    }
    let errors = thread::spawn(move || {
        let mut text = String::new();
        let _ = qemu_err.read_to_string(&mut text);
        text
    });

    let mut network_failure = None;
    let qemu_pid = child.id();
    let qemu_status = wait_for_qemu(&mut child, options.timeout, &exit_reported, || {
        network_failure = network.as_mut().and_then(|n| n.tend(qemu_pid));
        network_failure.is_some()
    });
    let mut report = reader.join().unwrap_or_default();
    if report.exit.is_none() {
        // The kernel may have reported a fault on COM2 only.
        let emergency = fs::read(run_dir.0.join(EMERGENCY_LOG)).unwrap_or_default();
        let quiet = AtomicBool::new(false);
        report.exit = read_link(
            &emergency[..],
            &Started::default(),
            &quiet,
            false,
            launched,
            None,
        )
        .exit;
    }
    let qemu_errors = errors.join().unwrap_or_default();
    started.set();
    // The terminal is the user's again before anything more is said on it.
    drop(raw_mode);

    if let Some(message) = network_failure {
        return Err(Failure::boot(message));
    }
    let Some(qemu_status) = qemu_status else {
        let seconds = options.timeout.map_or(0.0, |t| t.as_secs_f64());
        eprintln!("cella: timed out after {seconds} s; the guest was stopped");
        return Ok(status::TIMEOUT);
    };
    if let Some(boot_time) = report.boot_time.filter(|_| options.verbose) {
        eprintln!(
            "cella: QEMU start to _start: {} ms wall",
            boot_time.as_millis()
        );
    }
    let program = program_name(options);
    let program = program.to_string_lossy();
    let mut write_back_failed = false;
    match (&trees, &report.exit) {
        (Some(trees), Some(Exit::Exited(_) | Exit::Trapped(_))) => {
            if let Err(failure) = write_back(trees, &run_dir.0.join("writeback.img")) {
                eprintln!("cella: {}", failure.message);
                write_back_failed = true;
            }
        }
        (Some(_), Some(Exit::KernelFault(_))) => {
            eprintln!("cella: the kernel failed, so the --dir directories were not written back");
        }
        _ => {}
    }
    match report.exit {
        Some(exit) => {
            let text = |m: &[u8]| String::from_utf8_lossy(m).trim_end().to_string();
            match &exit {
                Exit::Exited(_) => {}
                Exit::Trapped(m) => eprintln!("cella: {program} trapped: {}", text(m)),
                Exit::LoadFailed(m) => eprintln!("cella: cannot run {program}: {}", text(m)),
                Exit::KernelFault(m) => eprintln!("cella: the Cella kernel failed: {}", text(m)),
            }
            // A lost write-back must not look like success.
            match exit.host_status() {
                0 if write_back_failed => Ok(status::BOOT_FAILED),
                code => Ok(code),
            }
        }
        None => {
            let detail = qemu_errors
                .lines()
                .find(|l| !l.trim().is_empty())
                .map(str::trim);
            Err(Failure::boot(match detail {
                Some(line) => format!("QEMU failed: {line}"),
                None => format!("the guest stopped without reporting an exit (QEMU {qemu_status})"),
            }))
        }
    }
}

/// Applies the trees the kernel left on the write-back disk to the host directories.
fn write_back(trees: &Trees, disk: &Path) -> Result<(), Failure> {
    let failed = |message: String| Failure {
        message,
        status: status::BOOT_FAILED,
    };
    let mut file =
        fs::File::open(disk).map_err(|e| failed(format!("cannot open {}: {e}", disk.display())))?;
    let mut header = [0u8; 16];
    file.read_exact(&mut header)
        .map_err(|e| failed(format!("cannot read {}: {e}", disk.display())))?;
    if &header[..8] != WRITEBACK_MAGIC {
        return Err(failed(
            "the guest did not write the --dir trees back: the host directories are unchanged"
                .into(),
        ));
    }
    let len = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
    let mut archive = vec![0u8; usize::try_from(len).unwrap_or(0)];
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(WRITEBACK_HEADER as u64))
        .and_then(|_| file.read_exact(&mut archive))
        .map_err(|e| failed(format!("the write-back disk is truncated: {e}")))?;
    dirs::write_back(&trees.roots, &archive).map_err(failed)
}

/// Waits for QEMU to end; `None` if `timeout` elapsed first or `broken` said the guest can
/// no longer run as asked. QEMU is killed then, and also when it lingers after the guest
/// reported its exit (an image booted without the isa-debug-exit device halts instead of
/// ending QEMU).
fn wait_for_qemu(
    child: &mut Child,
    timeout: Option<Duration>,
    exit_reported: &AtomicBool,
    mut broken: impl FnMut() -> bool,
) -> Option<std::process::ExitStatus> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut reported_at = None;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        let now = Instant::now();
        if reported_at.is_none() && exit_reported.load(Ordering::Acquire) {
            reported_at = Some(now);
        }
        let lingering = reported_at.is_some_and(|at| now - at > EXIT_GRACE);
        if lingering || deadline.is_some_and(|d| now >= d) || broken() {
            let _ = child.kill();
            let status = child.wait().ok();
            return if lingering { status } else { None };
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Reads the guest's side of the link until QEMU closes it: skips firmware output up to the
/// sync marker, then handles frames.
fn read_link(
    mut link: impl Read,
    started: &Started,
    exit_reported: &AtomicBool,
    verbose: bool,
    launched: Instant,
    mut credit: Option<Credit>,
) -> Report {
    let mut report = Report::default();
    let mut synced = 0usize;
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    let stdout = io::stdout();
    let stderr = io::stderr();
    loop {
        let n = match link.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(credit) = credit.as_mut() {
            credit.consumed(n);
        }
        for &byte in &buf[..n] {
            if synced < LINK_SYNC.len() {
                synced = if byte == LINK_SYNC[synced] {
                    synced + 1
                } else {
                    usize::from(byte == LINK_SYNC[0])
                };
                continue;
            }
            let Some((tag, payload)) = decoder.push(byte) else {
                continue;
            };
            // A closed stdout (`| head`) must not stop the relay: the exit still matters.
            match tag {
                to_host::STDOUT => {
                    let mut out = stdout.lock();
                    let _ = out.write_all(payload).and_then(|()| out.flush());
                }
                to_host::STDERR => {
                    let mut err = stderr.lock();
                    let _ = err.write_all(payload).and_then(|()| err.flush());
                }
                to_host::LOG if verbose => {
                    let mut err = stderr.lock();
                    let _ = err
                        .write_all(b"[kernel] ")
                        .and_then(|()| err.write_all(payload));
                    let _ = err.write_all(b"\n");
                }
                to_host::STARTED => {
                    report.boot_time = Some(launched.elapsed());
                    if verbose {
                        report_started(payload);
                    }
                    started.set();
                }
                to_host::EXIT => {
                    report.exit = Exit::decode(payload);
                    exit_reported.store(true, Ordering::Release);
                }
                _ => {}
            }
        }
    }
    report
}

/// Prints how long the kernel took from entry to the program's `_start`.
fn report_started(payload: &[u8]) {
    let word = |i: usize| {
        payload
            .get(i * 8..i * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if let (Some(entry), Some(now), Some(hz)) = (word(0), word(1), word(2)) {
        let ticks = now.saturating_sub(entry);
        let ms = if hz > 0 {
            ticks as f64 * 1000.0 / hz as f64
        } else {
            0.0
        };
        eprintln!(
            "cella: kernel entry to _start: {ticks} TSC ticks ({ms:.1} ms at {} MHz; under --icount, ticks are guest instructions)",
            hz / 1_000_000
        );
    }
}

/// Forwards our stdin to the guest as STDIN frames once the program has started, then
/// STDIN_EOF. Ends quietly when QEMU goes away.
fn relay_stdin(link: &Mutex<ChildStdin>, started: &Started) {
    started.wait();
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0u8; STDIN_CHUNK];
    let mut frame = Vec::with_capacity(STDIN_CHUNK + cella_proto::HEADER_LEN);
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        frame.clear();
        if n == 0 {
            cella_proto::encode_frame(&mut frame, to_guest::STDIN_EOF, &[]);
        } else {
            cella_proto::encode_frame(&mut frame, to_guest::STDIN, &buf[..n]);
        }
        if send(link, &frame).is_err() || n == 0 {
            return;
        }
    }
}

fn send(link: &Mutex<ChildStdin>, frame: &[u8]) -> io::Result<()> {
    let mut link = link
        .lock()
        .map_err(|_| io::Error::other("link lock poisoned"))?;
    link.write_all(frame).and_then(|()| link.flush())
}

/// Grants the guest room to send more as its output is read (see `cella_proto::LINK_WINDOW`):
/// QEMU's virtio console drops what the pipe cannot take, so the guest never has more in
/// flight than the pipe holds.
struct Credit {
    link: Arc<Mutex<ChildStdin>>,
    /// Bytes read and not yet granted back.
    pending: usize,
}

impl Credit {
    /// Granted in batches of this much, a third of the window.
    const BATCH: usize = cella_proto::LINK_WINDOW / 3;

    fn new(link: Arc<Mutex<ChildStdin>>) -> Credit {
        Credit { link, pending: 0 }
    }

    fn consumed(&mut self, bytes: usize) {
        self.pending += bytes;
        if self.pending >= Self::BATCH {
            let grant = u32::try_from(self.pending).unwrap_or(u32::MAX);
            let mut frame = Vec::new();
            cella_proto::encode_frame(&mut frame, to_guest::CREDIT, &grant.to_le_bytes());
            // A guest that is gone needs no credit.
            let _ = send(&self.link, &frame);
            self.pending -= grant as usize;
        }
    }
}
