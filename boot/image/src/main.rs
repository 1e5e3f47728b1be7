//! `cella-image KERNEL OUT_DIR [PROGRAM.wasm...]`: writes `OUT_DIR/bios.img` and
//! `OUT_DIR/uefi.img`, each a bootable disk holding the kernel ELF and, when programs are
//! given, a ramdisk with them (see [`initrd`]), made by `bootloader` and then compacted (see
//! [`compact`]). The ramdisk holds the system's `/bin` for shell mode; a program run with
//! `./qemu.sh PROGRAM.wasm` never goes into the image: the runner hands it to the kernel per
//! run through QEMU's fw_cfg.
//!
//! Last, it writes the pieces of the hybrid ISO into `OUT_DIR/iso/` (see [`iso`]), which
//! `./qemu.sh --iso` assembles with xorriso.
//!
//! Each image is written beside its final name and renamed into place, so a runner that
//! starts QEMU while another one rebuilds never sees half an image.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bootloader::{BiosBoot, BootConfig, UefiBoot};
use cella_proto::image::{BIOS_IMAGE, ISO_PARTS_DIR, UEFI_IMAGE};

mod compact;
mod initrd;
mod iso;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [kernel, out_dir, programs @ ..] = args.as_slice() else {
        eprintln!("usage: cella-image KERNEL_ELF OUT_DIR [PROGRAM.wasm...]");
        return ExitCode::from(2);
    };
    match build(kernel, out_dir, programs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cella-image: {message}");
            ExitCode::FAILURE
        }
    }
}

fn build(kernel: &Path, out_dir: &Path, programs: &[PathBuf]) -> Result<(), String> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    // The bootloader stays silent: the serial ports belong to the program and the host link.
    let mut config = BootConfig::default();
    config.serial_logging = false;
    config.frame_buffer_logging = false;

    let ramdisk = if programs.is_empty() {
        None
    } else {
        let path = out_dir.join(initrd::FILE_NAME);
        let temp = compact::temp_path(&path);
        let bytes = initrd::build(programs)?;
        std::fs::write(&temp, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
        rename(&temp, &path)?;
        Some(path)
    };

    let bios = out_dir.join(BIOS_IMAGE);
    let temp = compact::temp_path(&bios);
    let mut builder = BiosBoot::new(kernel);
    builder.set_boot_config(&config);
    if let Some(ramdisk) = &ramdisk {
        builder.set_ramdisk(ramdisk);
    }
    builder
        .create_disk_image(&temp)
        .map_err(|e| format!("cannot build the BIOS image: {e:#}"))?;
    compact::bios(&temp).map_err(|e| format!("cannot compact the BIOS image: {e}"))?;
    rename(&temp, &bios)?;

    let uefi = out_dir.join(UEFI_IMAGE);
    let temp = compact::temp_path(&uefi);
    let mut builder = UefiBoot::new(kernel);
    builder.set_boot_config(&config);
    if let Some(ramdisk) = &ramdisk {
        builder.set_ramdisk(ramdisk);
    }
    builder
        .create_disk_image(&temp)
        .map_err(|e| format!("cannot build the UEFI image: {e:#}"))?;
    compact::uefi(&temp).map_err(|e| format!("cannot compact the UEFI image: {e}"))?;
    rename(&temp, &uefi)?;

    iso::write_parts(&bios, &uefi, &out_dir.join(ISO_PARTS_DIR))
}

fn rename(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::rename(from, to).map_err(|e| format!("cannot write {}: {e}", to.display()))
}
