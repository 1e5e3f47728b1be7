//! `./qemu.sh --iso FILE`: writes Cella as a hybrid ISO 9660 image with xorriso, for QEMU's
//! `-cdrom`, VirtualBox, virt-manager or a USB stick. The image builder leaves the pieces in
//! `target/cella/iso/` (see `boot/image/src/iso.rs`); xorriso lays them out as
//!
//! * system area (sector 0): bootloader's BIOS boot sector, with an MBR partition table of
//!   * partition 1, bootloader's second stage (type [`STAGE_2_PARTITION_TYPE`], active),
//!   * partition 2, one FAT with the BIOS stages, the UEFI loader, the kernel and the ramdisk
//!     (type [`BOOT_FAT_PARTITION_TYPE`]), both appended after the ISO 9660 tree;
//! * an El Torito boot catalog with an entry for BIOS, Cella's CD boot program (below), and
//!   one for UEFI, which is partition 2 itself.
//!
//! So the kernel and the ramdisk are in the image once. It boots as a disk under BIOS
//! (bootloader's own stages, from the MBR) and under UEFI (the FAT partition), and as a
//! CD-ROM under UEFI (the firmware starts `efi/boot/bootx64.efi` from the El Torito FAT).
//!
//! As a CD-ROM under BIOS it boots the same way as a disk, through `cdboot.s`: bootloader's
//! BIOS stages read their disk with int 13h extensions in 512-byte sectors, and a CD has
//! 2048-byte ones. The boot program, assembled here with binutils, hooks int 13h so that
//! the CD's drive is that disk (the ISO's bytes in 512-byte sectors), then starts
//! bootloader's boot sector from the system area. (SeaBIOS's El Torito hard-disk emulation
//! answers only CHS calls, and MEMDISK's int 13h leaves another GDT loaded, which the
//! second stage's far jump to its third stage does not survive.)

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use cella_proto::image::{
    BOOT_FAT_PARTITION_TYPE, ISO_BOOT_FAT, ISO_BOOT_SECTOR, ISO_CD_BOOT_PROGRAM, ISO_STAGE_2,
    ISO_TREE_DIR, STAGE_2_PARTITION_TYPE,
};

use crate::project::Project;

/// The ISO writer (Debian package `xorriso`), overridable for unusual installs.
const XORRISO: &str = "xorriso";
/// The assembler and linker of the CD boot program (Debian package `binutils`).
const ASSEMBLER: &str = "as";
const LINKER: &str = "ld";
/// The ISO 9660 volume name (what a desktop shows for the mounted medium).
const VOLUME_ID: &str = "CELLA";
/// The CD boot program's source, in the repository, and its object file among the parts.
const BOOT_PROGRAM_SOURCE: &str = "boot/src/cdboot.s";
const BOOT_PROGRAM_OBJECT: &str = "cdboot.o";
/// The El Torito boot catalog, as a path in the ISO.
const BOOT_CATALOG: &str = "boot/boot.cat";
/// The room the boot program has in the conventional memory it reserves; its bounce buffer
/// follows (the assembler gets this as `BOUNCE`).
const BOOT_PROGRAM_ROOM: usize = 2048;
/// The unit of El Torito's load size: the BIOS loads the boot program in 512-byte sectors.
const LOAD_SECTOR: usize = 512;

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
    // The tree holds only the CD boot program (and xorriso's boot catalog): everything
    // else Cella's boot needs is in the partitions.
    let tree = images.iso_parts.join(ISO_TREE_DIR);
    let load_sectors = write_tree(project, &images.iso_parts, &tree).map_err(Failure::build)?;
    let part = |name: &str| images.iso_parts.join(name);
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
        // El Torito: the boot program for BIOS, then Cella for UEFI, whose boot image is
        // partition 2 itself, not a second copy of the FAT.
        .args([
            "-b",
            ISO_CD_BOOT_PROGRAM,
            "-c",
            BOOT_CATALOG,
            "-no-emul-boot",
        ])
        .args(["-boot-load-size", &load_sectors.to_string()])
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

/// The ISO 9660 tree, made afresh: the CD boot program, assembled from its source. Returns
/// its El Torito load size, in 512-byte sectors.
fn write_tree(project: &Project, parts: &Path, tree: &Path) -> Result<usize, String> {
    match fs::remove_dir_all(tree) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            return Err(format!("cannot remove {}: {e}", tree.display()));
        }
        _ => {}
    }
    let program = tree.join(ISO_CD_BOOT_PROGRAM);
    let dir = program.parent().unwrap_or(tree);
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let source = project.root().join(BOOT_PROGRAM_SOURCE);
    let object = parts.join(BOOT_PROGRAM_OBJECT);
    let bounce = format!("BOUNCE={BOOT_PROGRAM_ROOM}");
    run(Command::new(ASSEMBLER)
        .args(["--32", "--defsym", &bounce, "-o"])
        .arg(&object)
        .arg(&source))?;
    run(Command::new(LINKER)
        .args(["-m", "elf_i386", "-Ttext", "0", "--oformat", "binary", "-o"])
        .arg(&program)
        .arg(&object))?;
    let size = fs::metadata(&program)
        .map_err(|e| format!("cannot read {}: {e}", program.display()))?
        .len() as usize;
    if size > BOOT_PROGRAM_ROOM {
        return Err(format!(
            "the CD boot program is {size} bytes, more than its {BOOT_PROGRAM_ROOM}: shorten {BOOT_PROGRAM_SOURCE}"
        ));
    }
    Ok(size.div_ceil(LOAD_SECTOR))
}

/// Runs a build tool; its messages become the error.
fn run(command: &mut Command) -> Result<(), String> {
    let name = command.get_program().to_string_lossy().into_owned();
    let output = command
        .output()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{name} failed on the CD boot program:\n{}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        ))
    }
}

/// Installs xorriso and binutils through `boot/setup.sh --with-iso` when they are missing
/// (as root; otherwise the script names the command to run).
fn ensure_tools(project: &Project) -> Result<(), String> {
    let works = |program: std::ffi::OsString, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .is_ok_and(|output| output.status.success())
    };
    let found = || {
        works(xorriso_command(), "-version")
            && works(ASSEMBLER.into(), "--version")
            && works(LINKER.into(), "--version")
    };
    if found() {
        return Ok(());
    }
    let setup = project.root().join("boot/setup.sh");
    let _ = Command::new(&setup).arg("--with-iso").status();
    if found() {
        Ok(())
    } else {
        Err("writing an ISO needs xorriso and binutils: run `sudo boot/setup.sh --with-iso` (or `sudo apt-get install xorriso binutils`), then retry".into())
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
