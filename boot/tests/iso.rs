//! `./qemu.sh --iso FILE`: the ISO is written once, then booted with plain QEMU commands as
//! the README gives them — as a CD-ROM and as a disk (a USB stick), under BIOS and UEFI —
//! with a person at the serial console typing at the shell prompt, and with a program given
//! through fw_cfg. Every boot has a timeout.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use cella_proto::image::{ISO_CD_BOOT_PROGRAM, ISO_PARTS_DIR, ISO_TREE_DIR};
use common::{Reaped, Scratch, program, root, setup};

/// How long a boot gets to reach the shell prompt.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a boot gets, in all, to run what it was given and power off.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
/// UEFI firmware code and its variable store template, as Debian's `ovmf` installs them.
const OVMF: &[(&str, &str)] = &[
    (
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ),
];
/// What is typed at the prompt, and what it must print: the shell runs from the ISO's
/// ramdisk, with `/bin` from it. `exit 5` powers off through isa-debug-exit: QEMU's status
/// is then (5 << 1) | 1.
const TYPED: &[u8] = b"echo booted from the ISO; ls /bin | grep -c '^sh$'\rexit 5\r";
const TYPED_OUTPUT: &[&str] = &["\r\nbooted from the ISO\r\n", "\r\n1\r\n"];
const TYPED_STATUS: i32 = 11;

/// The ISO, written once for all tests by `cella --iso`, as `./qemu.sh --iso` does.
fn iso() -> &'static Path {
    static ISO: OnceLock<PathBuf> = OnceLock::new();
    ISO.get_or_init(|| {
        setup();
        let iso = root().join("target/cella/test.iso");
        let output = Command::new(env!("CARGO_BIN_EXE_cella"))
            .arg("--iso")
            .arg(&iso)
            .env("CELLA_ROOT", root())
            .output()
            .expect("cannot start the runner");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "cella --iso failed: {stderr}");
        assert!(stderr.contains("wrote"), "{stderr}");
        iso
    })
}

#[derive(Clone, Copy, Debug)]
enum Firmware {
    Bios,
    Uefi,
}

#[derive(Clone, Copy, Debug)]
enum Medium {
    /// `-cdrom FILE`: on q35, a SATA (AHCI) CD-ROM drive.
    Cdrom,
    /// `-cdrom FILE` on `-machine pc`: an IDE CD-ROM drive.
    IdeCdrom,
    /// `-drive file=FILE,format=raw`: the ISO written to a disk or USB stick.
    Disk,
}

/// What happens at the serial console once QEMU runs.
enum Session<'a> {
    /// Wait for the shell prompt, type this, and wait for QEMU to end.
    Type(&'a [u8]),
    /// Wait for QEMU to end.
    Run,
}

/// What a boot printed on the serial console and QEMU's exit status.
struct Boot {
    console: String,
    status: Option<i32>,
}

/// Boots the ISO with QEMU as the README shows, `extra` added to its command line, and
/// plays `session` at the serial console.
fn boot(firmware: Firmware, medium: Medium, extra: &[&str], session: Session) -> Boot {
    let scratch = Scratch::new(&format!("iso-{firmware:?}-{medium:?}"));
    let mut qemu = Command::new("qemu-system-x86_64");
    let machine = match medium {
        Medium::IdeCdrom => "pc",
        Medium::Cdrom | Medium::Disk => "q35",
    };
    qemu.args(["-machine", machine, "-cpu", "max", "-m", "512M"])
        .args(["-display", "none", "-no-reboot", "-monitor", "none"])
        .args(["-serial", "stdio"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    if let Firmware::Uefi = firmware {
        let (code, vars) = OVMF
            .iter()
            .find(|(code, _)| Path::new(code).exists())
            .expect("OVMF is installed (boot/setup.sh)");
        let copy = scratch.path("vars.fd");
        std::fs::copy(vars, &copy).expect("copy the OVMF variable store");
        qemu.arg("-drive")
            .arg(format!("if=pflash,format=raw,readonly=on,file={code}"))
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", copy.display()));
    }
    match medium {
        Medium::Cdrom | Medium::IdeCdrom => qemu.arg("-cdrom").arg(iso()),
        Medium::Disk => qemu
            .arg("-drive")
            .arg(format!("file={},format=raw,snapshot=on", iso().display())),
    };
    qemu.args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut qemu = Reaped::spawn(&mut qemu).expect("run qemu");
    let mut stdin = qemu.stdin.take().expect("stdin");
    let mut stdout = qemu.stdout.take().expect("stdout");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let reader = thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let console = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let wait_for = |text: &str| {
        let started = Instant::now();
        while !console().contains(text) {
            assert!(
                started.elapsed() < PROMPT_TIMEOUT,
                "no {text:?} within {PROMPT_TIMEOUT:?} ({firmware:?}, {medium:?}):\n{}",
                console()
            );
            thread::sleep(Duration::from_millis(100));
        }
    };
    let status = match session {
        Session::Type(typed) => {
            // A person at the serial console: wait for the prompt, then type.
            wait_for(":/$ ");
            stdin.write_all(typed).unwrap();
            qemu.wait_timeout(BOOT_TIMEOUT).map(|status| status.code())
        }
        Session::Run => qemu.wait_timeout(BOOT_TIMEOUT).map(|status| status.code()),
    };
    drop(qemu);
    reader.join().unwrap();
    Boot {
        console: console(),
        status: status.flatten(),
    }
}

/// Boots into the shell, types [`TYPED`] and checks what it printed and how QEMU ended.
fn shell_session(firmware: Firmware, medium: Medium) {
    let boot = boot(firmware, medium, &[], Session::Type(TYPED));
    for expected in TYPED_OUTPUT {
        assert!(
            boot.console.contains(expected),
            "{firmware:?} {medium:?}: no {expected:?} in\n{}",
            boot.console
        );
    }
    assert_eq!(
        boot.status,
        Some(TYPED_STATUS),
        "{firmware:?} {medium:?}:\n{}",
        boot.console
    );
}

#[test]
fn uefi_boots_the_iso_as_a_cd_rom_into_the_shell() {
    shell_session(Firmware::Uefi, Medium::Cdrom);
}

#[test]
fn bios_boots_the_iso_as_a_cd_rom_into_the_shell() {
    shell_session(Firmware::Bios, Medium::Cdrom);
}

#[test]
fn bios_boots_the_iso_from_an_ide_cd_rom_into_the_shell() {
    shell_session(Firmware::Bios, Medium::IdeCdrom);
}

#[test]
fn bios_boots_the_iso_as_a_disk_into_the_shell() {
    shell_session(Firmware::Bios, Medium::Disk);
}

#[test]
fn uefi_boots_the_iso_as_a_disk_into_the_shell() {
    shell_session(Firmware::Uefi, Medium::Disk);
}

#[test]
fn a_program_given_through_fw_cfg_runs_from_the_iso() {
    let hello = format!("name=opt/cella/program,file={}", program("hello"));
    for (firmware, medium) in [
        (Firmware::Uefi, Medium::Cdrom),
        (Firmware::Bios, Medium::Cdrom),
        (Firmware::Bios, Medium::Disk),
    ] {
        let boot = boot(firmware, medium, &["-fw_cfg", &hello], Session::Run);
        assert!(
            boot.console.contains("Hello, world!\r\n"),
            "{firmware:?} {medium:?}:\n{}",
            boot.console
        );
        // The program's status 0, through isa-debug-exit: (0 << 1) | 1.
        assert_eq!(
            boot.status,
            Some(1),
            "{firmware:?} {medium:?}:\n{}",
            boot.console
        );
    }
}

/// The system area of the probe ISO: the probe boot sector, then bytes to read back.
const PROBE_SYSTEM_AREA: usize = 32 * 1024;
/// The size of the file of bytes in the probe ISO's tree.
const PROBE_FILE: usize = 128 * 1024;

#[test]
fn the_cd_boot_program_shows_the_cd_as_a_disk_of_512_byte_sectors() {
    // An ISO whose system area is `cdprobe.s` (see there) and bytes that differ everywhere,
    // with the boot program `--iso` built as its El Torito BIOS entry: every read the probe
    // makes through the boot program's int 13h must return the ISO's own bytes.
    let boot_program = iso()
        .parent()
        .unwrap()
        .join(ISO_PARTS_DIR)
        .join(ISO_TREE_DIR)
        .join(ISO_CD_BOOT_PROGRAM);
    let scratch = Scratch::new("iso-probe");
    let tools = |command: &mut Command| {
        let output = command.output().expect("run binutils");
        assert!(output.status.success(), "{command:?}: {output:?}");
    };
    tools(
        Command::new("as")
            .args(["--32", "-o"])
            .arg(scratch.path("probe.o"))
            .arg(root().join("boot/tests/cdprobe.s")),
    );
    tools(
        Command::new("ld")
            .args([
                "-m",
                "elf_i386",
                "-Ttext",
                "0x7c00",
                "--oformat",
                "binary",
                "-o",
            ])
            .arg(scratch.path("probe.bin"))
            .arg(scratch.path("probe.o")),
    );
    let mut bytes = Bytes(0x9e37_79b9);
    let mut system_area = std::fs::read(scratch.path("probe.bin")).unwrap();
    while system_area.len() < PROBE_SYSTEM_AREA {
        system_area.push(bytes.next());
    }
    std::fs::write(scratch.path("system-area.bin"), &system_area).unwrap();
    let tree = scratch.path("tree");
    let boot_program_copy = tree.join(ISO_CD_BOOT_PROGRAM);
    std::fs::create_dir_all(boot_program_copy.parent().unwrap()).unwrap();
    std::fs::copy(&boot_program, &boot_program_copy).unwrap();
    let file: Vec<u8> = (0..PROBE_FILE).map(|_| bytes.next()).collect();
    std::fs::write(tree.join("bytes.bin"), file).unwrap();
    let probe_iso = scratch.path("probe.iso");
    tools(
        Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-o"])
            .arg(&probe_iso)
            .arg("-G")
            .arg(scratch.path("system-area.bin"))
            .args([
                "-b",
                ISO_CD_BOOT_PROGRAM,
                "-no-emul-boot",
                "-boot-load-size",
                "4",
            ])
            .arg(&tree),
    );

    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args(["-machine", "q35", "-cpu", "max", "-m", "512M"])
        .args(["-display", "none", "-no-reboot", "-monitor", "none"])
        .args(["-serial", "stdio"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-cdrom")
        .arg(&probe_iso)
        .stdout(Stdio::piped());
    let mut qemu = Reaped::spawn(&mut qemu).expect("run qemu");
    let status = qemu.wait_timeout(BOOT_TIMEOUT);
    let mut console = String::new();
    qemu.stdout
        .take()
        .unwrap()
        .read_to_string(&mut console)
        .unwrap();
    // The probe's isa-debug-exit with 0: (0 << 1) | 1.
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{console}");

    let image = std::fs::read(&probe_iso).unwrap();
    let lines: Vec<Vec<&str>> = console
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    // Extensions 1.1 with the packet functions; 512-byte sectors.
    assert!(
        lines.contains(&vec!["e", "00", "21", "aa55", "0001"]),
        "{console}"
    );
    assert!(lines.contains(&vec!["p", "00", "00", "0200"]), "{console}");
    let reads: Vec<&Vec<&str>> = lines.iter().filter(|line| line[0] == "r").collect();
    // Exiting, the probe has made all its reads; the last is beyond the CD's end.
    let (beyond_the_end, within) = reads.split_last().expect(&console);
    assert!(!within.is_empty(), "{console}");
    assert_eq!(beyond_the_end[3], "7ffffff0", "{console}");
    for read in within {
        let [_, carry, status, lba, count, hash] = read[..] else {
            panic!("{console}");
        };
        assert_eq!((carry, status), ("00", "00"), "{console}");
        let lba = usize::from_str_radix(lba, 16).unwrap();
        let count = usize::from_str_radix(count, 16).unwrap();
        let expected = image[lba * 512..(lba + count) * 512]
            .iter()
            .fold(0u32, |hash, &byte| {
                hash.rotate_left(5).wrapping_add(byte.into())
            });
        assert_eq!(
            hash,
            format!("{expected:08x}"),
            "sectors {lba}..{} read wrongly:\n{console}",
            lba + count
        );
    }
}

/// Bytes that differ everywhere (xorshift32), so a sector read from the wrong place shows.
struct Bytes(u32);

impl Bytes {
    fn next(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 as u8
    }
}

#[test]
fn iso_to_a_path_it_cannot_write_is_a_one_line_error() {
    let scratch = Scratch::new("iso-paths");
    std::fs::write(scratch.path("file"), b"").unwrap();
    for (path, reason) in [
        (scratch.path("missing/cella.iso"), "does not exist"),
        (scratch.path("file/cella.iso"), "not a directory"),
        (scratch.path(""), "is a directory"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_cella"))
            .arg("--iso")
            .arg(&path)
            .env("CELLA_ROOT", root())
            .output()
            .expect("cannot start the runner");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}: {stderr}",
            path.display()
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&*path.display().to_string()) && stderr.contains(reason),
            "{stderr}"
        );
    }
    // Nothing was left behind, not even a partial image.
    let mut left: Vec<_> = std::fs::read_dir(scratch.path(""))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["file"]);
}
