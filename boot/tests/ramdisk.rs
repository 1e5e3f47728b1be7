//! The packed ramdisk of `/bin` as the kernel meets it in a disk image booted by hand: a
//! damaged or cut one ends shell mode with a message saying to rebuild the image, on the
//! console, and QEMU powers off — no panic, no hang. (That an intact one works is what every
//! shell-mode test shows.) Every boot has a timeout.

mod common;

use std::fs;
use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::{Reaped, Scratch, root, setup};

/// How long a boot gets to report the damage and power off.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
/// What the kernel prints for a ramdisk it cannot unpack.
const MESSAGE: &str = "cannot unpack the image's ramdisk (";
const ADVICE: &str = "rebuild the image with ./qemu.sh";

/// A copy of the BIOS image whose ramdisk (stored whole in the FAT) `damage` changed, and
/// what booting it printed on the console and how QEMU ended.
fn boot_damaged(name: &str, damage: impl Fn(&mut [u8])) -> (String, Option<i32>) {
    setup();
    let out = root().join("target/cella");
    let mut image = fs::read(out.join("bios.img")).expect("read bios.img");
    let ramdisk = fs::read(out.join("initrd")).expect("read the ramdisk");
    let at = image
        .windows(ramdisk.len())
        .position(|window| window == ramdisk.as_slice())
        .expect("the ramdisk lies whole in the image");
    damage(&mut image[at..at + ramdisk.len()]);
    let scratch = Scratch::new(name);
    let path = scratch.path("bios.img");
    fs::write(&path, &image).expect("write the damaged image");

    let mut qemu = Reaped::spawn(
        Command::new("qemu-system-x86_64")
            .args([
                "-machine", "q35", "-cpu", "max", "-m", "256M", "-display", "none",
            ])
            .args(["-no-reboot", "-monitor", "none", "-serial", "stdio"])
            .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            .arg("-drive")
            .arg(format!("format=raw,snapshot=on,file={}", path.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )
    .expect("start QEMU");
    let mut stdout = qemu.stdout.take().expect("QEMU's stdout");
    let reader = thread::spawn(move || {
        let mut console = Vec::new();
        let _ = stdout.read_to_end(&mut console);
        String::from_utf8_lossy(&console).into_owned()
    });
    let status = qemu.wait_timeout(BOOT_TIMEOUT);
    if status.is_none() {
        let _ = qemu.kill();
        let _ = qemu.wait();
    }
    let console = reader.join().expect("the console reader");
    (console, status.and_then(|status| status.code()))
}

fn assert_refused(console: &str, status: Option<i32>) {
    assert!(status.is_some(), "QEMU did not power off: {console}");
    assert!(
        console.contains(MESSAGE) && console.contains(ADVICE),
        "no message about the ramdisk: {console}"
    );
    assert!(!console.contains("panicked"), "{console}");
}

#[test]
fn a_ramdisk_cut_short_is_refused_with_a_message() {
    // The second half of the frame zeroed: its blocks end early.
    let (console, status) = boot_damaged("cut", |ramdisk| {
        let half = ramdisk.len() / 2;
        ramdisk[half..].fill(0);
    });
    assert_refused(&console, status);
}

#[test]
fn a_ramdisk_with_flipped_bytes_is_refused_with_a_message() {
    // Bytes flipped every 4 KiB past the frame's header.
    let (console, status) = boot_damaged("flipped", |ramdisk| {
        for byte in ramdisk.iter_mut().skip(64).step_by(4096) {
            *byte ^= 0x5a;
        }
    });
    assert_refused(&console, status);
}
