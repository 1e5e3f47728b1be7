//! Integration tests: each boots the real Cella image in QEMU through the `cella` runner
//! (what `./qemu.sh` runs) and checks a userland program's stdout, stderr and exit status.
//! Every run has a timeout, enforced by the runner and again here.

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Reaped, assert_ok, cella, cella_with, program, root, setup};

/// How long the image booted by hand gets to boot, run the typed commands and power off.
const BY_HAND_TIMEOUT: Duration = Duration::from_secs(90);

#[test]
fn hello_bios_prints_only_the_programs_output() {
    let run = cella(&[&program("hello")]);
    assert_ok(&run);
    assert_eq!(run.stdout(), "Hello, world!\n");
    assert_eq!(run.stderr, "");
}

#[test]
fn hello_uefi_prints_only_the_programs_output() {
    // OVMF writes escape codes and boot messages to the serial ports: none may reach stdout.
    let run = cella(&["--uefi", &program("hello")]);
    assert_ok(&run);
    assert_eq!(run.stdout(), "Hello, world!\n");
    assert_eq!(run.stderr, "");
}

#[test]
fn stdout_and_stderr_stay_apart() {
    for mode in [None, Some("--uefi")] {
        let mut args: Vec<&str> = mode.into_iter().collect();
        let stdio = program("stdio");
        args.push(&stdio);
        let run = cella(&args);
        assert_ok(&run);
        assert_eq!(run.stdout(), "out\n", "{mode:?}");
        assert_eq!(run.stderr, "err\n", "{mode:?}");
    }
}

#[test]
fn piped_stdin_reaches_the_program_and_ends_with_eof() {
    let run = cella_with(&[&program("cat")], b"a\nb\n", &[]);
    assert_ok(&run);
    assert_eq!(run.stdout(), "a\nb\n");

    let run = cella_with(&["--uefi", &program("cat")], b"uefi line\n", &[]);
    assert_ok(&run);
    assert_eq!(run.stdout(), "uefi line\n");

    let run = cella_with(&[&program("cat")], b"", &[]);
    assert_ok(&run);
    assert_eq!(run.stdout, b"");
}

#[test]
fn large_binary_stdin_passes_through_unchanged() {
    // Every byte value, including the console's special ones (\r, Ctrl-D, NUL), over many
    // link frames.
    // 3 MB: far more than any buffer between the guest and the runner, so a link that drops
    // or reorders under backpressure fails here.
    let input: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let run = cella_with(&[&program("cat")], &input, &[]);
    assert_ok(&run);
    assert_eq!(run.stdout.len(), input.len());
    assert!(run.stdout == input, "cat changed the bytes");
}

#[test]
fn exit_statuses_are_the_programs_low_8_bits() {
    for (code, expected) in [("0", 0), ("7", 7), ("255", 255), ("256", 0), ("300", 44)] {
        let run = cella(&[&program("exit"), code]);
        assert_eq!(run.status, expected, "exit {code}: {run:?}");
        assert_eq!(run.stdout, b"");
    }
    let run = cella(&["--uefi", &program("exit"), "42"]);
    assert_eq!(run.status, 42, "{run:?}");
}

/// The frame lines of the wasm backtrace in `stderr` (after `wasm backtrace:`).
fn backtrace(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .skip_while(|line| *line != "wasm backtrace:")
        .skip(1)
        .collect()
}

/// Whether a frame line shows a module offset (`  3:   0x1607 - module!function`).
fn has_offset(frame: &str) -> bool {
    frame
        .split_once(": ")
        .is_some_and(|(_, rest)| rest.trim_start().starts_with("0x") && rest.contains(" - "))
}

#[test]
fn traps_exit_134_and_name_the_trap() {
    for (kind, words) in [
        ("unreachable", "unreachable"),
        ("oob", "out of bounds memory access"),
        ("stack", "call stack exhausted"),
        ("hostcall", "in wasi_snapshot_preview1::fd_write"),
    ] {
        let run = cella(&[&program("trap"), kind]);
        assert_eq!(run.status, 134, "{kind}: {run:?}");
        assert!(
            run.stderr.contains("trap.wasm trapped: wasm trap: ") && run.stderr.contains(words),
            "{kind}: {}",
            run.stderr
        );
        assert_eq!(run.stdout, b"", "{kind}");
    }
    let run = cella(&["--uefi", &program("trap"), "unreachable"]);
    assert_eq!(run.status, 134, "{run:?}");
}

#[test]
fn a_trap_prints_the_wasm_backtrace_with_function_names() {
    // Rust names the module after its build (trap-HASH.wasm), in the name section.
    let frame = |line: &str, function: &str| {
        line.contains(".wasm!") && line.contains(&format!("!{function}"))
    };
    for kind in ["unreachable", "oob"] {
        let run = cella(&[&program("trap"), kind]);
        let frames = backtrace(&run.stderr);
        // trap::main, std's short-backtrace frame, __main_void, _start.
        assert!(frames.len() >= 3, "{kind}: {}", run.stderr);
        assert!(
            frames[0].starts_with("    0: trap-"),
            "{kind}: {}",
            run.stderr
        );
        assert!(frame(frames[0], "trap::main::h"), "{kind}: {}", run.stderr);
        // The instruction that trapped is unknown: no offset for frame 0, the call's for
        // every other frame.
        assert!(!has_offset(frames[0]), "{kind}: {}", run.stderr);
        assert!(
            frames[1..].iter().all(|f| has_offset(f)),
            "{kind}: {}",
            run.stderr
        );
        assert!(
            frame(frames[frames.len() - 1], "_start"),
            "{kind}: {}",
            run.stderr
        );
    }

    // A trap inside a host call: frame 0 stands at the call of fd_write.
    let run = cella(&[&program("trap"), "hostcall"]);
    let frames = backtrace(&run.stderr);
    assert!(has_offset(frames[0]), "{}", run.stderr);
    assert!(
        frames.iter().any(|f| frame(f, "trap::main::h")),
        "{}",
        run.stderr
    );
    assert!(frame(frames[frames.len() - 1], "_start"), "{}", run.stderr);

    // Stack exhaustion: 8192 nested calls, the innermost 15 and outermost 5 shown.
    let run = cella(&[&program("trap"), "stack"]);
    let frames = backtrace(&run.stderr);
    assert_eq!(frames.len(), 21, "{}", run.stderr);
    assert!(
        frames[..15]
            .iter()
            .all(|f| frame(f, "trap::recurse::h") && has_offset(f))
    );
    let elided: usize = frames[15]
        .trim()
        .strip_prefix("... ")
        .and_then(|rest| rest.strip_suffix(" frames elided ..."))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no elision line: {}", run.stderr));
    assert!((8100..=8192).contains(&(elided + 20)), "{}", run.stderr);
    assert!(
        frames[16]
            .trim_start()
            .starts_with(&format!("{}:", elided + 15)),
        "{}",
        run.stderr
    );
    assert!(
        frames.iter().any(|f| frame(f, "trap::main::h")),
        "{}",
        run.stderr
    );
    assert!(frame(frames[20], "_start"), "{}", run.stderr);
}

#[test]
fn max_backtrace_limits_the_frames_and_zero_turns_backtraces_off() {
    let run = cella(&["-D", "max-backtrace=4", &program("trap"), "stack"]);
    let frames = backtrace(&run.stderr);
    assert_eq!(frames.len(), 5, "{}", run.stderr);
    assert!(frames[3].contains("frames elided"), "{}", run.stderr);
    let run = cella(&["-Dmax-backtrace=0", &program("trap"), "unreachable"]);
    assert_eq!(run.status, 134, "{run:?}");
    assert!(run.stderr.contains("unreachable"), "{}", run.stderr);
    assert!(!run.stderr.contains("wasm backtrace"), "{}", run.stderr);
}

#[test]
fn a_c_program_trap_names_its_functions_from_clang() {
    let run = cella(&[&program("ctrap"), "oob"]);
    assert_eq!(run.status, 134, "{run:?}");
    assert!(
        run.stderr.contains("out of bounds memory access"),
        "{}",
        run.stderr
    );
    let frames = backtrace(&run.stderr);
    let names: Vec<&str> = frames
        .iter()
        .filter_map(|f| f.rsplit_once('!').map(|(_, name)| name))
        .collect();
    let at = |name: &str| names.iter().position(|n| *n == name);
    assert_eq!(at("crash_here"), Some(0), "{}", run.stderr);
    assert_eq!(at("through_here"), Some(1), "{}", run.stderr);
    assert_eq!(at("main"), Some(2), "{}", run.stderr);
    assert!(names.contains(&"_start"), "{}", run.stderr);
}

#[test]
fn argv_starts_with_the_basename_and_keeps_awkward_arguments() {
    let run = cella(&[
        &program("printargs"),
        "two words",
        "",
        "quote'\"",
        "line\nbreak",
        "--env",
    ]);
    assert_ok(&run);
    assert_eq!(
        run.stdout(),
        "printargs.wasm\ntwo words\n\nquote'\"\nline\nbreak\n--env\n"
    );
}

#[test]
fn environment_is_only_what_env_flags_give() {
    let run = cella_with(
        &[
            "--env",
            "A=two words",
            "--env=B=it's \"q\"\nnext",
            "--env",
            "EMPTY=",
            "--env",
            "FROM_HOST",
            &program("printenv"),
        ],
        b"",
        &[("FROM_HOST", "copied"), ("NOT_PASSED", "secret")],
    );
    assert_ok(&run);
    assert_eq!(
        run.stdout(),
        "A=two words\nB=it's \"q\"\nnext\nEMPTY=\nFROM_HOST=copied\n"
    );
}

#[test]
fn clocks_random_and_sleep_behave() {
    for name in ["clocks", "random"] {
        let run = cella(&[&program(name)]);
        assert_ok(&run);
        assert_eq!(run.stdout(), "ok\n", "{name}: {}", run.stderr);
    }
    let run = cella(&[&program("napms"), "300"]);
    assert_ok(&run);
    let slept: u64 = run
        .stdout()
        .trim()
        .parse()
        .expect("sleep prints milliseconds");
    assert!(
        (300..2000).contains(&slept),
        "a 300 ms sleep took {slept} ms"
    );
}

#[test]
fn missing_and_non_wasm_files_are_one_line_errors() {
    let run = cella(&["/nonexistent/prog.wasm"]);
    assert_eq!(run.status, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("no such file"), "{}", run.stderr);

    let readme = root().join("README.md");
    let run = cella(&[readme.to_str().expect("utf-8 path")]);
    assert_eq!(run.status, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("not a WebAssembly module"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, b"");
}

#[test]
fn bad_flags_are_one_line_errors_and_help_works() {
    let run = cella(&["--frobnicate", &program("hello")]);
    assert_eq!(run.status, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("--frobnicate"));

    let run = cella(&["-m", "lots", &program("hello")]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("memory size"), "{}", run.stderr);

    let run = cella(&["--help"]);
    assert_ok(&run);
    assert!(run.stdout().contains("usage: ./qemu.sh"));
}

/// A scratch file for hand-made modules, removed on drop.
struct TempWasm(PathBuf);

impl TempWasm {
    fn new(name: &str, bytes: &[u8]) -> TempWasm {
        let path =
            std::env::temp_dir().join(format!("cella-test-{}-{name}.wasm", std::process::id()));
        std::fs::write(&path, bytes).expect("write temp module");
        TempWasm(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempWasm {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A section: id, LEB128 size, contents.
fn section(id: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    leb128(&mut out, contents.len() as u64);
    out.extend_from_slice(contents);
    out
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn name(out: &mut Vec<u8>, text: &str) {
    leb128(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

const HEADER: &[u8] = b"\0asm\x01\0\0\0";

#[test]
fn modules_that_cannot_load_exit_1_with_the_reason() {
    // Imports a function from a module Cella does not provide.
    let mut imports = vec![1];
    name(&mut imports, "env");
    name(&mut imports, "launch_missiles");
    imports.extend_from_slice(&[0x00, 0x00]);
    let module = [HEADER, &section(1, &[1, 0x60, 0, 0]), &section(2, &imports)].concat();
    let unknown = TempWasm::new("import", &module);
    let run = cella(&[unknown.path()]);
    assert_eq!(run.status, 1, "{run:?}");
    assert!(
        run.stderr.contains("env::launch_missiles"),
        "{}",
        run.stderr
    );

    // A preview1 import with the wrong signature.
    let mut imports = vec![1];
    name(&mut imports, "wasi_snapshot_preview1");
    name(&mut imports, "fd_write");
    imports.extend_from_slice(&[0x00, 0x00]);
    let module = [HEADER, &section(1, &[1, 0x60, 0, 0]), &section(2, &imports)].concat();
    let wrong = TempWasm::new("signature", &module);
    let run = cella(&[wrong.path()]);
    assert_eq!(run.status, 1, "{run:?}");
    assert!(run.stderr.contains("fd_write"), "{}", run.stderr);

    // Valid, but not a command: no `_start`.
    let empty = TempWasm::new("empty", HEADER);
    let run = cella(&[empty.path()]);
    assert_eq!(run.status, 1, "{run:?}");
    assert!(run.stderr.contains("_start"), "{}", run.stderr);

    // Fails validation: a function body that returns an i32 from a () -> () function.
    let module = [
        HEADER,
        &section(1, &[1, 0x60, 0, 0]),
        &section(3, &[1, 0]),
        &section(10, &[1, 4, 0, 0x41, 0x01, 0x0b]),
    ]
    .concat();
    let invalid = TempWasm::new("invalid", &module);
    let run = cella(&[invalid.path()]);
    assert_eq!(run.status, 1, "{run:?}");
    assert!(
        run.stderr.contains("invalid WebAssembly module"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn a_30_mb_program_starts_within_seconds() {
    // hello with a 30 MB custom section appended: still a valid module, loaded through fw_cfg.
    let mut module = std::fs::read(program("hello")).expect("hello.wasm built by setup");
    let mut custom = Vec::new();
    name(&mut custom, "padding");
    custom.resize(custom.len() + 30 * 1024 * 1024, 0x5a);
    module.extend_from_slice(&section(0, &custom));
    let big = TempWasm::new("big", &module);
    let run = cella(&["--timeout", "30", big.path()]);
    assert_ok(&run);
    assert_eq!(run.stdout(), "Hello, world!\n");
    eprintln!("30 MB program: {:?} wall", run.elapsed);
}

#[test]
fn timeout_stops_the_guest_with_124() {
    let run = cella(&["--timeout", "1", &program("napms"), "60000"]);
    assert_eq!(run.status, 124, "{run:?}");
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn verbose_shows_the_kernel_log_on_stderr_only() {
    let run = cella(&["-v", &program("hello")]);
    assert_ok(&run);
    assert_eq!(run.stdout(), "Hello, world!\n");
    assert!(
        run.stderr.contains("[kernel]") && run.stderr.contains("to _start"),
        "{}",
        run.stderr
    );
}

#[test]
fn memory_flag_sets_guest_ram_and_oom_is_a_trap() {
    let small = cella(&["-m", "128M", &program("alloc"), "max"]);
    let large = cella(&["-m", "512M", &program("alloc"), "max"]);
    assert_ok(&small);
    assert_ok(&large);
    let small: u64 = small.stdout().trim().parse().expect("MiB");
    let large: u64 = large.stdout().trim().parse().expect("MiB");
    assert!(
        small < 128 && large > small,
        "128M gave {small} MiB, 512M gave {large} MiB"
    );
    // Nearly all of the RAM reaches the program: the kernel keeps a few MiB for itself.
    let run = cella(&["-m", "1G", &program("alloc"), "max"]);
    assert_ok(&run);
    let gig: u64 = run.stdout().trim().parse().expect("MiB");
    assert!(gig >= 960, "-m 1G gave the program only {gig} MiB");

    // Allocating more than the machine has: Rust aborts (a trap), the kernel survives, and
    // the program's stderr says why and what to do.
    let run = cella(&["-m", "128M", &program("alloc"), "1000"]);
    assert_eq!(run.status, 134, "{run:?}");
    assert!(run.stderr.contains("memory allocation"), "{}", run.stderr);
    assert!(
        run.stderr.contains("alloc.wasm: memory.grow to ")
            && run
                .stderr
                .contains("the machine's RAM is used up; run Cella with more, e.g. -m 1G"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_default_guest_lets_a_program_use_more_than_2_gib() {
    // wasmtime lets a wasm32 program grow to 4 GiB; so does Cella's default guest. Every
    // page is touched: the memory is really there, not merely reserved.
    let run = cella(&[&program("alloc"), "2100"]);
    assert_ok(&run);
    assert!(run.stdout().starts_with("allocated 2100 MiB"), "{run:?}");
    assert!(!run.stderr.contains("refused"), "{}", run.stderr);
}

#[test]
fn the_image_booted_by_hand_runs_the_shell_on_the_serial_console() {
    setup();
    let image = root().join("target/cella/bios.img");
    // Killed when the test ends, however it ends, instead of by `timeout`: killing `timeout`
    // would leave its QEMU running.
    let mut command = Command::new("qemu-system-x86_64");
    command
        .args(["-machine", "q35", "-cpu", "max", "-m", "256M"])
        .args([
            "-display",
            "none",
            "-no-reboot",
            "-monitor",
            "none",
            "-nic",
            "none",
            "-serial",
            "stdio",
        ])
        .args([
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-drive",
        ])
        .arg(format!("format=raw,snapshot=on,file={}", image.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut qemu = Reaped::spawn(&mut command).expect("run qemu");
    let mut stdin = qemu.stdin.take().expect("stdin");
    let mut stdout = qemu.stdout.take().expect("stdout");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    // A person at the serial console: wait for the prompt, then type.
    let text = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let started = std::time::Instant::now();
    while !text().contains("$ ") && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    stdin
        .write_all(b"echo typed on $TERM-less COM1; ls /bin | grep -c '^sh$'\rexit 5\r")
        .unwrap();
    let status = qemu
        .wait_timeout(BY_HAND_TIMEOUT)
        .expect("QEMU did not end after `exit 5`");
    reader.join().unwrap();
    let text = text();
    assert!(text.contains("\r\ntyped on -less COM1\r\n"), "{text}");
    assert!(text.contains("\r\n1\r\n"), "{text}");
    // isa-debug-exit: value v ends QEMU with status (v << 1) | 1; init passes on exit 5.
    assert_eq!(status.code(), Some(11), "{text}");
}

#[test]
fn kernel_failures_are_reported_with_status_71_not_hangs() {
    for (kind, words) in [
        ("panic", "kernel panic at"),
        ("page-fault", "page fault"),
        ("stack-overflow", "kernel stack overflow"),
    ] {
        let run = cella(&["--inject-kernel-fault", kind, &program("hello")]);
        assert_eq!(run.status, 71, "{kind}: {run:?}");
        assert!(
            run.stderr.contains("the Cella kernel failed") && run.stderr.contains(words),
            "{kind}: {}",
            run.stderr
        );
        assert_eq!(run.stdout, b"", "{kind}");
    }
    let run = cella(&[
        "--uefi",
        "--inject-kernel-fault",
        "page-fault",
        &program("hello"),
    ]);
    assert_eq!(run.status, 71, "{run:?}");
    assert!(run.stderr.contains("page fault"), "{}", run.stderr);
}

/// A `CELLA_QEMU` wrapper that boots the BIOS disk image (SeaBIOS, then bootloader loading
/// kernel and ramdisk from it) instead of letting QEMU load the kernel directly: the runner's
/// command otherwise unchanged.
fn image_booting_qemu(dir: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let image = root().join("target/cella/bios.img");
    let script = dir.join("qemu-image");
    let text = format!(
        "#!/usr/bin/env bash\nargs=()\nwhile [ $# -gt 0 ]; do\n  case $1 in\n    -kernel | -initrd) shift 2 ;;\n    *) args+=(\"$1\"); shift ;;\n  esac\ndone\nexec qemu-system-x86_64 \"${{args[@]}}\" -vga std -drive format=raw,snapshot=on,file={}\n",
        image.display()
    );
    std::fs::write(&script, text).expect("write the wrapper");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

/// The kernel's log line naming who loaded it.
fn loader(run: &common::Run) -> String {
    run.stderr
        .lines()
        .find_map(|line| {
            line.split_once("loaded by ")
                .map(|(_, who)| who.to_string())
        })
        .unwrap_or_default()
}

#[test]
fn the_runner_boots_the_kernel_directly_and_uefi_through_the_image() {
    let run = cella(&["-v", &program("hello")]);
    assert_ok(&run);
    assert_eq!(run.stdout(), "Hello, world!\n");
    assert_eq!(loader(&run), "QEMU direct boot (PVH)", "{}", run.stderr);
    let run = cella(&["-v", "--uefi", &program("hello")]);
    assert_ok(&run);
    assert_eq!(loader(&run), "bootloader", "{}", run.stderr);
}

#[test]
fn a_program_sees_the_same_machine_booted_directly_or_from_the_bios_image() {
    // Arguments, environment, stdin, a --dir tree read and written back, the exit status:
    // the same through both entries, which share everything after the boot record.
    let dir = std::env::temp_dir().join(format!("cella-entries-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wrapper = image_booting_qemu(&dir);
    let mut seen = Vec::new();
    for qemu in [None, Some(wrapper.to_str().unwrap())] {
        let data = dir.join(if qemu.is_some() { "image" } else { "direct" });
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("in.txt"), "from the host\n").unwrap();
        let env: Vec<(&str, &str)> = qemu.map(|q| ("CELLA_QEMU", q)).into_iter().collect();
        let mapped = format!("{}::/data", data.display());
        let run = |args: &[&str], stdin: &[u8]| {
            let mut all = vec!["-v", "--env", "GREETING=hi there", "--dir", &mapped];
            all.extend_from_slice(args);
            let run = cella_with(&all, stdin, &env);
            let expected = if qemu.is_some() {
                "bootloader"
            } else {
                "QEMU direct boot (PVH)"
            };
            assert_eq!(loader(&run), expected, "{}", run.stderr);
            (run.status, run.stdout())
        };
        let printargs = program("printargs");
        let printenv = program("printenv");
        let cat = program("cat");
        let cp = program("cp");
        let exit = program("exit");
        let runs = [
            run(&[&printargs, "two words", ""], b""),
            run(&[&printenv], b""),
            run(&[&cat, "/data/in.txt", "-"], b"piped in\n"),
            run(&[&cp, "/data/in.txt", "/data/out.txt"], b""),
            run(&[&exit, "9"], b""),
        ];
        let written = std::fs::read_to_string(data.join("out.txt")).unwrap_or_default();
        seen.push((runs, written));
    }
    let (runs, written) = &seen[0];
    assert!(runs[0].1.contains("two words"), "{runs:?}");
    assert!(runs[1].1.contains("GREETING=hi there"), "{runs:?}");
    assert_eq!(runs[2], (0, "from the host\npiped in\n".to_string()));
    assert_eq!(runs[4].0, 9);
    assert_eq!(written, "from the host\n");
    assert_eq!(seen[0], seen[1], "direct boot, then the BIOS image");
    std::fs::remove_dir_all(&dir).unwrap();
}
