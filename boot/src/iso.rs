//! `./qemu.sh --iso FILE`: writes Cella as a hybrid ISO 9660 image with xorriso, for QEMU's
//! `-cdrom`, VirtualBox, virt-manager or a USB stick. The image builder leaves the pieces in
//! `target/cella/iso/` (see `boot/image/src/iso.rs`); xorriso lays them out as
//!
//! * system area (sector 0): bootloader's BIOS boot sector, with an MBR partition table of
//!   * partition 1, bootloader's second stage (type [`STAGE_2_PARTITION_TYPE`], active),
//!   * partition 2, one FAT with the BIOS stages, the UEFI loader, the kernel and the ramdisk
//!     (type [`BOOT_FAT_PARTITION_TYPE`]), both appended after the ISO 9660 tree;
//! * an El Torito boot catalog with an entry for BIOS (ISOLINUX, see below) and one for
//!   UEFI, which is partition 2 itself.
//!
//! So the kernel and the ramdisk are in the image once. It boots as a CD-ROM under UEFI (the
//! firmware starts `efi/boot/bootx64.efi` from the El Torito FAT) and as a disk under BIOS
//! (bootloader's own stages, from the MBR) and under UEFI (the FAT partition).
//!
//! Cella does not boot from a CD-ROM under BIOS: bootloader's BIOS stages read their disk
//! with int13 extensions in 512-byte sectors from the drive they were started from.
//! SeaBIOS's El Torito hard-disk emulation answers only the CHS calls (the first stage stops
//! at its int13 extensions check), a no-emulation CD has 2048-byte sectors, and MEMDISK's
//! int13 copies through INT 15h AH=87, which leaves another GDT loaded: the second stage's
//! far jump to its third stage then faults. So the BIOS El Torito entry is ISOLINUX, which
//! says so on the screen and the first serial port, and how to boot the ISO instead.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use cella_proto::image::{
    BOOT_FAT_PARTITION_TYPE, ISO_BOOT_FAT, ISO_BOOT_SECTOR, ISO_STAGE_2, STAGE_2_PARTITION_TYPE,
};

use crate::project::Project;

/// The ISO writer (Debian package `xorriso`), overridable for unusual installs.
const XORRISO: &str = "xorriso";
/// The ISO 9660 volume name (what a desktop shows for the mounted medium).
const VOLUME_ID: &str = "CELLA";
/// The directory whose tree becomes the ISO 9660 file system: ISOLINUX and its
/// configuration (everything Cella's boot needs is in the partitions).
const TREE_DIR: &str = "tree";
/// ISOLINUX's directory in that tree.
const ISOLINUX_DIR: &str = "isolinux";
/// ISOLINUX, the BIOS El Torito boot image (Debian package `isolinux`); its core module, which
/// reads the configuration; and `cat.c32` with its library (package `syslinux-common`).
const ISOLINUX_FILES: &[&str] = &[
    "/usr/lib/ISOLINUX/isolinux.bin",
    "/usr/lib/syslinux/modules/bios/ldlinux.c32",
    "/usr/lib/syslinux/modules/bios/cat.c32",
    "/usr/lib/syslinux/modules/bios/libcom32.c32",
];
/// ISOLINUX's configuration: `cat.c32` shows [`ISOLINUX_MESSAGE`] on the screen and on COM1,
/// Cella's console (ISOLINUX's own `DISPLAY` and `SAY` print before it writes to the serial
/// port), then ISOLINUX's prompt waits.
const ISOLINUX_CONFIG: &str =
    "SERIAL 0 115200\nDEFAULT message\nLABEL message\n  KERNEL cat.c32\n  APPEND message.txt\n";
/// What a BIOS booting the ISO from a CD-ROM shows, in 80 columns.
const ISOLINUX_MESSAGE: &str = "
Cella boots from a CD-ROM only under UEFI firmware: bootloader 0.11's BIOS
stages cannot read a CD. Under BIOS, boot this ISO as a disk instead: a VM's
hard disk, QEMU's -drive file=cella.iso,format=raw, or a USB stick written
with dd. See \"The ISO\" in Cella's README.

";

/// A failure of `--iso`, with the status to exit with.
pub struct Failure {
    /// One sentence saying what went wrong and what to do.
    pub message: String,
    /// Whether the user named a path the ISO cannot be written to (a usage error).
    pub bad_path: bool,
}

impl Failure {
    fn build(message: String) -> Failure {
        Failure {
            message,
            bad_path: false,
        }
    }
}

/// Builds what is missing and writes the ISO at `file`; returns its size in bytes.
pub fn write(project: &Project, file: &Path) -> Result<u64, Failure> {
    // Refused before anything is built: a bad path is found in a moment.
    let partial = Partial::create(file)?;
    ensure_tools(project).map_err(Failure::build)?;
    let images = project.images().map_err(Failure::build)?;
    let tree = images.iso_parts.join(TREE_DIR);
    write_tree(&tree).map_err(Failure::build)?;
    let part = |name: &str| images.iso_parts.join(name);
    let isolinux = |file: &str| format!("{ISOLINUX_DIR}/{file}");
    let mut xorriso = Command::new(xorriso_command());
    xorriso
        .args(["-as", "mkisofs", "-quiet", "-o"])
        .arg(&partial.0)
        .args(["-V", VOLUME_ID, "-G"])
        .arg(part(ISO_BOOT_SECTOR))
        // The stage-2 partition is marked active: some BIOSes boot only such disks.
        .arg("--mbr-force-bootable")
        .args(["-append_partition", "1", &hex(STAGE_2_PARTITION_TYPE)])
        .arg(part(ISO_STAGE_2))
        .args(["-append_partition", "2", &hex(BOOT_FAT_PARTITION_TYPE)])
        .arg(part(ISO_BOOT_FAT))
        // El Torito: ISOLINUX's message for BIOS, then Cella for UEFI, whose boot image is
        // partition 2 itself, not a second copy of the FAT.
        .args(["-b", &isolinux("isolinux.bin"), "-c", &isolinux("boot.cat")])
        .args(["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"])
        .args([
            "-eltorito-alt-boot",
            "-e",
            "--interval:appended_partition_2:all::",
            "-no-emul-boot",
        ])
        .arg(&tree);
    let output = xorriso
        .output()
        .map_err(|e| Failure::build(format!("cannot run xorriso: {e}")))?;
    if !output.status.success() {
        return Err(Failure::build(format!(
            "xorriso could not write the ISO:\n{}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    partial.finish(file)
}

/// `0xNN`, as xorriso takes an MBR partition type.
fn hex(kind: u8) -> String {
    format!("{kind:#04x}")
}

fn xorriso_command() -> std::ffi::OsString {
    std::env::var_os("CELLA_XORRISO").unwrap_or_else(|| XORRISO.into())
}

/// The ISO 9660 tree: ISOLINUX, its core module and its configuration.
fn write_tree(tree: &Path) -> Result<(), String> {
    let dir = tree.join(ISOLINUX_DIR);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for file in ISOLINUX_FILES {
        let from = Path::new(file);
        let to = dir.join(from.file_name().unwrap_or_default());
        fs::copy(from, &to).map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    for (name, text) in [
        ("isolinux.cfg", ISOLINUX_CONFIG),
        ("message.txt", ISOLINUX_MESSAGE),
    ] {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Installs xorriso and ISOLINUX through `boot/setup.sh --with-iso` when they are missing
/// (as root; otherwise the script names the command to run).
fn ensure_tools(project: &Project) -> Result<(), String> {
    let found = || {
        ISOLINUX_FILES.iter().all(|file| Path::new(file).exists())
            && Command::new(xorriso_command())
                .arg("-version")
                .output()
                .is_ok_and(|output| output.status.success())
    };
    if found() {
        return Ok(());
    }
    let setup = project.root().join("boot/setup.sh");
    let _ = Command::new(&setup).arg("--with-iso").status();
    if found() {
        Ok(())
    } else {
        Err("writing an ISO needs xorriso and ISOLINUX: run `sudo boot/setup.sh --with-iso` (or `sudo apt-get install xorriso isolinux syslinux-common`), then retry".into())
    }
}

/// The ISO being written, beside its final name, removed unless [`Partial::finish`] renames
/// it into place: a failed or interrupted run leaves no half image under the user's name.
struct Partial(PathBuf);

impl Partial {
    fn create(file: &Path) -> Result<Partial, Failure> {
        let shown = file.display();
        let bad_path = |message: String| Failure {
            message,
            bad_path: true,
        };
        if file.is_dir() {
            return Err(bad_path(format!(
                "{shown} is a directory: give the ISO's file name, such as {}",
                file.join("cella.iso").display()
            )));
        }
        let name = file.file_name().ok_or_else(|| {
            bad_path(format!(
                "{shown} names no file: give a path such as cella.iso"
            ))
        })?;
        let mut partial_name = std::ffi::OsString::from(".");
        partial_name.push(name);
        partial_name.push(format!(".partial{}", std::process::id()));
        let partial = file.with_file_name(partial_name);
        fs::File::create(&partial).map_err(|e| {
            let reason = match e.kind() {
                ErrorKind::NotFound => "its directory does not exist".to_string(),
                ErrorKind::PermissionDenied => "permission denied".to_string(),
                ErrorKind::NotADirectory => "part of its path is not a directory".to_string(),
                _ => e.to_string(),
            };
            bad_path(format!(
                "cannot write {shown} ({reason}): give a path in a writable directory"
            ))
        })?;
        Ok(Partial(partial))
    }

    fn finish(self, file: &Path) -> Result<u64, Failure> {
        let size = fs::metadata(&self.0)
            .map(|m| m.len())
            .map_err(|e| Failure::build(format!("cannot read {}: {e}", self.0.display())))?;
        fs::rename(&self.0, file).map_err(|e| Failure {
            message: format!("cannot write {}: {e}", file.display()),
            bad_path: true,
        })?;
        Ok(size)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        // After a successful rename there is nothing left to remove.
        let _ = fs::remove_file(&self.0);
    }
}
