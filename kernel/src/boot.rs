//! The kernel's entry point and boot sequence: machine set-up, then the program from
//! fw_cfg, run with the console or the host link — or, without a program, shell mode:
//! `/bin/init` from the image's ramdisk with the whole file system as `/` (see [`shell`]),
//! or a banner when the image has no init.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::arch::global_asm;

use bootloader_api::config::{BootloaderConfig, Mapping};
use bootloader_api::info::MemoryRegionKind;
use bootloader_api::{BootInfo, entry_point};
use cella_proto::{Exit, FW_CFG_CONFIG, FW_CFG_DIRS, FW_CFG_PROGRAM, InjectedFault, RunConfig};
use wasi_abi::{DirHandle, Errno, Vfs, WasiCtx};

use crate::arch::{self, cpu};
use crate::drivers::fw_cfg::{self, FwCfg};
use crate::drivers::{qemu_exit, serial};
use crate::platform::KernelPlatform;
use crate::process::System;
use crate::ram::UsableRam;
use crate::wasm::{self, End, NotStarted, Task};
use crate::{
    console, dirs, entropy, fault, initrd, limits, logger, mm, net, profile, time, writeback,
};
/// Size of the kernel stack the bootloader sets up (with a guard page below it): wasmi runs
/// on it, and a fuel slice's worth of `memory.grow`s may leave their frames there (see
/// `wasm::GROW_FUEL`).
pub const KERNEL_STACK_SIZE: u64 = 4 * 1024 * 1024;

/// How the bootloader loads the kernel: all of physical memory mapped (the heap and fw_cfg
/// DMA use it) and the kernel stack for wasmi.
pub static BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    config.mappings.physical_memory = Some(Mapping::Dynamic);
    config.kernel_stack_size = KERNEL_STACK_SIZE;
    config
};

entry_point!(kernel_main, config = &BOOTLOADER_CONFIG);

// SSE on, for both entries: the kernel is built for SSE2 floating point
// (kernel/x86_64-cella-none.json), and neither bootloader 0.11's BIOS stages nor QEMU's
// direct boot turn it on. `cella_enable_sse` clears CR0.EM, sets CR0.MP, CR4.OSFXSR and
// CR4.OSXMMEXCPT, and loads the MXCSR WebAssembly needs (all exceptions masked, round to
// nearest, no flush-to-zero), whatever the firmware left there; it clobbers only RAX. It
// runs before any Rust code: `cella_entry` is bootloader's ELF entry (kernel/build.rs names
// it), which goes on to `entry_point!`'s `_start` with the boot information still in RDI;
// the PVH stub (`arch::pvh`) calls it once on its stack.
global_asm!(
    ".pushsection .text.cella_entry, \"ax\"",
    ".global cella_enable_sse",
    "cella_enable_sse:",
    "  mov rax, cr0",
    "  and rax, ~(1 << 2)",
    "  or rax, 1 << 1",
    "  mov cr0, rax",
    "  mov rax, cr4",
    "  or rax, (1 << 9) | (1 << 10)",
    "  mov cr4, rax",
    "  push {mxcsr}",
    "  ldmxcsr [rsp]",
    "  add rsp, 8",
    "  ret",
    ".global cella_entry",
    "cella_entry:",
    "  call cella_enable_sse",
    "  jmp _start",
    ".popsection",
    mxcsr = const cpu::MXCSR_DEFAULT,
);

/// What the kernel needs from whoever loaded it. Both entries make one: bootloader 0.11's
/// (disk images booted by firmware, [`kernel_main`]) and QEMU's direct boot (`arch::pvh`),
/// so that nothing after [`start`] knows how the machine booted.
pub struct BootRecord {
    /// The TSC at entry: monotonic time 0.
    pub entry_tsc: u64,
    /// Virtual address of physical address 0, where all physical memory is mapped.
    pub physical_offset: u64,
    /// RAM the kernel may use: not the kernel image, its page tables or the ramdisk.
    pub usable: UsableRam,
    /// The ramdisk (the system's `/bin`, see [`initrd`]), if one was loaded.
    pub ramdisk: Option<&'static [u8]>,
    /// The top of the kernel stack (of [`KERNEL_STACK_SIZE`], with a guard page below).
    pub stack_top: u64,
    /// Who loaded the kernel, for the log.
    pub loader: &'static str,
}

/// [`BootRecord::loader`] of each entry.
pub const LOADER_BOOTLOADER: &str = "bootloader";
pub const LOADER_DIRECT: &str = "QEMU direct boot (PVH)";

/// bootloader 0.11's entry, for the disk images and the ISO.
fn kernel_main(boot_info: &'static mut BootInfo) -> ! {
    let entry_tsc = cpu::rdtsc();
    let Some(physical_offset) = boot_info.physical_memory_offset.into_option() else {
        panic!("the bootloader did not map physical memory");
    };
    let usable = UsableRam::from_map(
        boot_info
            .memory_regions
            .iter()
            .filter(|region| region.kind == MemoryRegionKind::Usable)
            .map(|region| (region.start, region.end)),
        &[],
    );
    start(BootRecord {
        entry_tsc,
        physical_offset,
        usable,
        ramdisk: ramdisk(boot_info),
        stack_top: cpu::stack_pointer(),
        loader: LOADER_BOOTLOADER,
    })
}

/// The boot sequence after either entry: machine set-up, then the program from fw_cfg, or
/// shell mode.
pub fn start(record: BootRecord) -> ! {
    fault::set_kernel_stack(record.stack_top, KERNEL_STACK_SIZE);
    arch::init();
    // Until the UARTs are initialised, reports go out through the firmware's settings.
    mm::init(record.physical_offset, record.usable.ranges());
    serial::init();
    logger::init();
    arch::pic::init();
    time::init(record.entry_tsc);
    entropy::init();
    let ramdisk = record.ramdisk;
    log::info!("loaded by {}", record.loader);

    let (config, program, trees) = load_run();
    let Some(program) = program else {
        shell(config, trees, ramdisk);
    };
    let config = config.unwrap_or_else(|message| bad_config(message));
    set_console(&config);
    logger::start(config.verbose);
    let stats = mm::stats();
    log::info!(
        "Cella {}: {} MiB of memory ({} KiB used), program {} KiB, booted in {} ms",
        env!("CARGO_PKG_VERSION"),
        stats.total >> 20,
        stats.used() >> 10,
        program.len() >> 10,
        time::monotonic_ns() / 1_000_000
    );
    let vfs = new_vfs();
    let preopens = match trees.map(|trees| mount(&vfs, &trees, &config)).transpose() {
        Ok(preopens) => preopens.unwrap_or_default(),
        Err(message) => console::finish(&Exit::LoadFailed(message.into_bytes())),
    };
    size_vfs(&vfs, &config);
    if let Some(fault) = config.inject_fault {
        inject(fault);
    }
    net::init(&config.listen);
    wasm::set_max_backtrace(config.max_backtrace);
    if config.profile {
        profile::start();
    }
    log_memory("before the program");
    let exit = run_program(&program, &config, preopens, true, u64::MAX);
    profile::report();
    drop(program);
    // Everything the program had is freed by now: the figures should match the first ones.
    log_memory("after the program");
    // A program that ran changed what it changed, even if it then trapped; one that never
    // loaded changed nothing.
    if !config.preopens.is_empty() && matches!(exit, Exit::Exited(_) | Exit::Trapped(_)) {
        write_back(&vfs, &config);
    }
    console::finish(&exit)
}

/// Ends the run on a run configuration the kernel cannot read. The runner may be waiting on
/// the link: the message goes there and to the console.
fn bad_config(message: String) -> ! {
    console::print(message.as_bytes());
    console::print(b"\n");
    console::set_link(true);
    logger::start(false);
    console::finish(&Exit::LoadFailed(message.into_bytes()))
}

/// Chooses the console: the host link or COM1. On the link, stdin is the host's: a pipe or
/// file, or a terminal — which in shell mode the runner put in raw mode, so the kernel's line
/// discipline does the echo and editing, and for a program stays the host's to edit. On
/// COM1 a person types.
fn set_console(config: &RunConfig) {
    console::set_link(config.host_link);
    let discipline = !config.host_link || config.interactive;
    console::set_terminal(discipline || config.terminal, discipline);
}

/// Runs `program` as pid 1 with the arguments, environment, preopens and listening sockets
/// of `config`, until it ends. The sockets come right after stdio when `listeners_first`
/// (wasmi's and wasmtime's `--tcplisten` order), else after the directories (for init: a
/// socket at fd 3 would end wasi-libc's preopen scan before "/"). `memory_limit` bounds
/// what the program (and every process it starts) holds.
fn run_program(
    program: &[u8],
    config: &RunConfig,
    preopens: Vec<(Vec<u8>, DirHandle)>,
    listeners_first: bool,
    memory_limit: u64,
) -> Exit {
    match start_program(program, config, preopens, listeners_first, memory_limit) {
        Ok(exit) | Err(exit) => exit,
    }
}

/// [`run_program`]'s body: `Err` when the program cannot start.
fn start_program(
    program: &[u8],
    config: &RunConfig,
    preopens: Vec<(Vec<u8>, DirHandle)>,
    listeners_first: bool,
    memory_limit: u64,
) -> Result<Exit, Exit> {
    let loaded = wasm::load(program, memory_limit)
        .map_err(|message| Exit::LoadFailed(message.into_bytes()))?;
    let mut wasi = WasiCtx::new(
        KernelPlatform::new(),
        config.args.clone(),
        config.env.clone(),
    );
    if listeners_first {
        add_listeners(&mut wasi, config)?;
    }
    for (name, dir) in preopens {
        if let Err(errno) = wasi.add_preopen(&name, dir) {
            let message = format!(
                "cannot preopen {}: {errno:?}",
                String::from_utf8_lossy(&name)
            );
            return Err(Exit::LoadFailed(message.into_bytes()));
        }
    }
    if !listeners_first {
        add_listeners(&mut wasi, config)?;
    }
    wasi.account().set_limit(memory_limit);
    let task = match Task::new(loaded, wasi) {
        Ok(task) => task,
        Err(NotStarted::Trapped(message)) => return Err(Exit::Trapped(message.into_bytes())),
        Err(NotStarted::Invalid(message)) => return Err(Exit::LoadFailed(message.into_bytes())),
        Err(NotStarted::NoMemory) => {
            let message =
                "the machine has no memory for the program's code: give QEMU more with -m";
            return Err(Exit::LoadFailed(message.into()));
        }
    };
    let name = config.args.first().cloned().unwrap_or_default();
    Ok(match System::new(task, &name, false).run() {
        End::Exited(status) => Exit::Exited(status),
        End::Trapped(message) => Exit::Trapped(message.into_bytes()),
        End::FuelExhausted => Exit::Trapped(b"fuel limit exhausted".to_vec()),
    })
}

/// Hands the program a listening socket for each port of `config.listen`, in order, each
/// non-blocking as wasmi hands them (see [`WasiCtx::add_listener`]).
fn add_listeners(wasi: &mut WasiCtx<KernelPlatform>, config: &RunConfig) -> Result<(), Exit> {
    for &port in &config.listen {
        let added = net::listener(port)
            .ok_or(Errno::Netdown)
            .and_then(|listener| wasi.add_listener(listener));
        if let Err(errno) = added {
            let message = format!("cannot listen on port {port}: {errno:?}");
            return Err(Exit::LoadFailed(message.into_bytes()));
        }
    }
    Ok(())
}

/// The ramdisk the bootloader loaded from the image (the system's `/bin`, see [`initrd`]),
/// if the image has one.
fn ramdisk(boot_info: &BootInfo) -> Option<&'static [u8]> {
    let address = boot_info.ramdisk_addr.into_option()?;
    let len = usize::try_from(boot_info.ramdisk_len).ok()?;
    if len == 0 {
        return None;
    }
    // SAFETY: bootloader 0.11 maps the ramdisk into the kernel's address space at
    // `ramdisk_addr` (a virtual address), `ramdisk_len` bytes, readable, for good: its frames
    // are reported as `MemoryRegionKind::Bootloader`, which `mm` never hands out, and its
    // level-4 entries are taken, which `mm` never maps over. Nothing writes to it.
    Some(unsafe { core::slice::from_raw_parts(address as *const u8, len) })
}

/// The VFS, without a size or a memory guard until [`size_vfs`], so that the `--dir` trees
/// and `/bin` always fit (the runner has checked that the trees fit the guest's memory).
fn new_vfs() -> Vfs {
    Vfs::new(time::realtime_ns())
}

/// Gives the VFS its size once the system's own files are in — `--fs-size`, or half of the
/// RAM; what is there already stays, even beyond it — and makes its files stop growing
/// (ENOSPC) where programs stop, leaving the kernel its reserve (see `limits`).
fn size_vfs(vfs: &Vfs, config: &RunConfig) {
    let size = config.fs_size.unwrap_or_else(limits::default_fs_size);
    vfs.set_capacity(size);
    vfs.set_memory_guard(Some(limits::guard()));
    log::debug!(
        "file system: {} KiB of {} KiB used",
        vfs.used_bytes() >> 10,
        size >> 10
    );
}

/// Shell mode, entered when fw_cfg carries no program: builds the system's file system and
/// runs `/bin/init` with it preopened as `/`. Booted by hand from an image without
/// `/bin/init`, prints the banner and halts.
fn shell(config: Result<RunConfig, String>, trees: Option<Vec<u8>>, ramdisk: Option<&[u8]>) -> ! {
    let config = shell_config(config.unwrap_or_else(|message| bad_config(message)));
    if ramdisk.is_none() && !config.host_link {
        banner();
        qemu_exit::exit(qemu_exit::SUCCESS);
    }
    set_console(&config);
    logger::start(config.verbose);
    limits::keep_recovery_reserve();
    let vfs = new_vfs();
    let (root, mounts) = match system_root(&vfs, ramdisk, trees.as_deref(), &config) {
        Ok(system) => system,
        Err(message) => console::finish(&Exit::LoadFailed(message.into_bytes())),
    };
    size_vfs(&vfs, &config);
    let init = match initrd::program(&vfs, initrd::INIT) {
        Ok(init) => init,
        Err(_) if !config.host_link => {
            banner();
            qemu_exit::exit(qemu_exit::SUCCESS);
        }
        Err(message) => console::finish(&Exit::LoadFailed(
            format!("shell mode needs /bin/init in the image's ramdisk: {message}").into_bytes(),
        )),
    };
    log::info!(
        "Cella {}: shell mode, /bin from a {} KiB ramdisk, {} --dir trees, booted in {} ms",
        env!("CARGO_PKG_VERSION"),
        ramdisk.map_or(0, <[u8]>::len) >> 10,
        mounts.len(),
        time::monotonic_ns() / 1_000_000
    );
    net::init(&config.listen);
    wasm::set_max_backtrace(config.max_backtrace);
    if config.profile {
        profile::start();
    }
    // init is pid 1 with the whole file system as "/"; everything else it starts.
    let root = alloc::vec![(b"/".to_vec(), root)];
    let exit = run_program(
        &init,
        &config,
        root,
        false,
        limits::default_process_memory(),
    );
    profile::report();
    drop(init);
    if matches!(exit, Exit::Exited(_) | Exit::Trapped(_)) {
        write_back_mounts(&vfs, &mounts);
    }
    console::finish(&exit)
}

/// The configuration of `/bin/init`: as the runner gave it, or when the image was booted by
/// hand (no configuration, so no argv), `init` with `PATH=/bin` and `HOME=/`.
pub fn shell_config(mut config: RunConfig) -> RunConfig {
    if config.args.is_empty() {
        config.args.push(b"init".to_vec());
        if config.env.is_empty() {
            config.env = alloc::vec![b"PATH=/bin".to_vec(), b"HOME=/".to_vec()];
        }
    }
    config
}

/// Builds the system's file system in `vfs` — `/bin` from the ramdisk, an empty `/tmp`, and
/// the `--dir` trees of `trees` at their guest paths (`config.preopens`) — and returns its
/// root, to preopen as "/" for init, with where the trees went, for [`write_back_mounts`].
pub fn system_root(
    vfs: &Vfs,
    ramdisk: Option<&[u8]>,
    trees: Option<&[u8]>,
    config: &RunConfig,
) -> Result<(DirHandle, Vec<dirs::Mount>), String> {
    let started = time::monotonic_ns();
    let ramdisk = ramdisk.map(|packed| initrd::Ramdisk {
        packed,
        limit: limits::ramdisk_limit(),
    });
    let mounts = initrd::build(vfs, ramdisk, trees, &config.preopens, time::realtime_ns())?;
    log::debug!(
        "system file system: {} KiB of files, built in {} ms",
        vfs.used_bytes() >> 10,
        (time::monotonic_ns() - started) / 1_000_000
    );
    Ok((vfs.root(), mounts))
}

/// Packs the `--dir` trees at `mounts` (where [`system_root`] or `mount` put them) and writes
/// them to the write-back disk as they are packed (a no-op without trees). A failure is
/// logged, and the runner, finding no archive, says the host directories were left unchanged.
pub fn write_back_mounts(vfs: &Vfs, mounts: &[dirs::Mount]) {
    if mounts.is_empty() {
        return;
    }
    let started = time::monotonic_ns();
    let written = writeback::Disk::open().and_then(|mut disk| {
        dirs::export_mounts(vfs, mounts, &mut |bytes| disk.write(bytes))?;
        disk.finish()
    });
    match written {
        Ok(bytes) => log::debug!(
            "--dir trees: {} KiB written back in {} ms",
            bytes >> 10,
            (time::monotonic_ns() - started) / 1_000_000
        ),
        Err(message) => log::error!("{message}"),
    }
}

/// Fails on purpose, as the runner's `--inject-kernel-fault` asks: the tests check that each
/// failure is reported with status 71 instead of hanging, rebooting or triple-faulting.
fn inject(fault: InjectedFault) {
    log::warn!("injecting a kernel fault: {}", fault.name());
    match fault {
        InjectedFault::Panic => panic!("injected by --inject-kernel-fault"),
        InjectedFault::PageFault => cpu::read_unmapped(),
        InjectedFault::StackOverflow => {
            #[allow(unconditional_recursion, reason = "overflowing the stack is the point")]
            fn recurse(depth: u64) -> u64 {
                // black_box keeps the recursion from becoming a loop.
                core::hint::black_box(depth).wrapping_add(recurse(core::hint::black_box(depth + 1)))
            }
            recurse(0);
        }
    }
}

/// Unpacks the `--dir` trees into the VFS and opens the preopened directories.
fn mount(vfs: &Vfs, trees: &[u8], config: &RunConfig) -> Result<Vec<(Vec<u8>, DirHandle)>, String> {
    let started = time::monotonic_ns();
    let count = dirs::import(vfs, trees, time::realtime_ns())?;
    log::debug!(
        "--dir trees: {count} entries, {} KiB of files, unpacked in {} ms",
        vfs.used_bytes() >> 10,
        (time::monotonic_ns() - started) / 1_000_000
    );
    config
        .preopens
        .iter()
        .map(|preopen| {
            // Relative to the VFS root: an absolute path is a capability escape for open_dir.
            let mut path = format!("{}", preopen.root).into_bytes();
            if !preopen.subpath.is_empty() {
                path.push(b'/');
                path.extend_from_slice(&preopen.subpath);
            }
            let dir = vfs.root().open_dir(&path).map_err(|errno| {
                format!(
                    "cannot open --dir {}: {errno:?}",
                    String::from_utf8_lossy(&preopen.guest)
                )
            })?;
            Ok((preopen.guest.clone(), dir))
        })
        .collect()
}

/// A program run's write-back: its `--dir` trees are the numbered ones (see `mount`).
fn write_back(vfs: &Vfs, config: &RunConfig) {
    let roots = config
        .preopens
        .iter()
        .map(|p| p.root as usize + 1)
        .max()
        .unwrap_or(0);
    write_back_mounts(vfs, &dirs::numbered_mounts(roots));
}

/// What fw_cfg carries for a run.
type Run = (Result<RunConfig, String>, Option<Vec<u8>>, Option<Vec<u8>>);

/// Reads the run configuration, the program and the `--dir` trees from fw_cfg. A missing
/// configuration is the default one (console mode), a missing program is `None`.
fn load_run() -> Run {
    let Some(device) = FwCfg::probe() else {
        log::info!("no fw_cfg device");
        return (Ok(RunConfig::default()), None, None);
    };
    if !device.has_dma() {
        log::warn!("fw_cfg has no DMA interface: loading through the slow port interface");
    }
    let read = |name: &str| -> Result<Option<Vec<u8>>, fw_cfg::Error> {
        device.find(name).map(|file| device.read(file)).transpose()
    };
    let config = match read(FW_CFG_CONFIG) {
        Ok(Some(bytes)) => RunConfig::decode(&bytes)
            .map_err(|error| format!("invalid run configuration in fw_cfg: {error:?}")),
        Ok(None) => Ok(RunConfig::default()),
        Err(error) => Err(format!("cannot read the run configuration: {error:?}")),
    };
    let started = time::monotonic_ns();
    let program = match read(FW_CFG_PROGRAM) {
        Ok(program) => program,
        Err(error) => {
            let message = format!("cannot read the program from fw_cfg: {error:?}");
            return (
                config.and(Err(message.clone())).or(Err(message)),
                None,
                None,
            );
        }
    };
    let trees = match read(FW_CFG_DIRS) {
        Ok(trees) => trees,
        Err(error) => {
            let message = format!("cannot read the --dir trees from fw_cfg: {error:?}");
            return (Err(message), program, None);
        }
    };
    if let Some(program) = &program {
        log::debug!(
            "fw_cfg: program of {} bytes loaded in {} us",
            program.len(),
            (time::monotonic_ns() - started) / 1000
        );
    }
    (config, program, trees)
}

fn log_memory(when: &str) {
    let stats = mm::stats();
    log::debug!(
        "memory {when}: {} KiB free frames, heap {} of {} KiB used, {} medium blocks ({} KiB), {} large blocks ({} KiB mapped), {} KiB page tables",
        stats.free_frames >> 10,
        stats.heap_used >> 10,
        stats.heap_size >> 10,
        stats.medium_count,
        stats.medium >> 10,
        stats.block_count,
        stats.blocks >> 10,
        stats.page_tables >> 10,
    );
}

fn banner() {
    let total = mm::stats().total;
    let text = format!(
        "\nCella {version} - a micro-OS that runs WebAssembly (wasm32-wasip1) programs\n\
         {memory} MiB of memory for programs. No program was given, and this image has\n\
         no /bin/init to start a shell with.\n\n\
         Run one with:   ./qemu.sh PROGRAM.wasm [ARGS...]\n\
         or by hand:     qemu-system-x86_64 ... -fw_cfg name={path},file=PROGRAM.wasm\n\n\
         Halting.\n",
        version = env!("CARGO_PKG_VERSION"),
        memory = total >> 20,
        path = FW_CFG_PROGRAM,
    );
    console::print(text.as_bytes());
    logger::start(false);
    serial::flush(serial::Com::Com1);
    serial::flush(serial::Com::Com2);
}
