//! The pieces of the hybrid ISO that `./qemu.sh --iso` writes with xorriso (see the runner's
//! `iso.rs` for how they are laid out), taken from the finished disk images:
//!
//! * the BIOS image's boot sector, bootloader's first stage, as the ISO's system area;
//! * its second stage partition, as the ISO's partition 1;
//! * one FAT volume holding the files of both boot partitions, as partition 2 and as the El
//!   Torito EFI boot image. bootloader's BIOS stages look for `boot-stage-3`, `boot-stage-4`,
//!   `kernel-x86_64` and `ramdisk` in the root directory of the FAT after their own
//!   partition; its UEFI loader runs as `efi/boot/bootx64.efi` and reads `kernel-x86_64` and
//!   `ramdisk` from the volume it was started from. Both find what they need in the union,
//!   which holds the kernel and the ramdisk once.

use std::fs;
use std::io::Cursor;
use std::path::Path;

use cella_proto::image::{
    BOOT_FAT_PARTITION_TYPE, ISO_BOOT_FAT, ISO_BOOT_SECTOR, ISO_STAGE_2, STAGE_2_PARTITION_TYPE,
};

use crate::compact::{self, Files};

/// Sector size of the disk images.
const SECTOR: usize = 512;
/// Where the partition table starts in the boot sector, and its length (four entries).
const PARTITION_TABLE: usize = 446;
const PARTITION_TABLE_LEN: usize = 64;

/// Writes the ISO's pieces into `dir` from the BIOS and UEFI images.
pub fn write_parts(bios: &Path, uefi: &Path, dir: &Path) -> Result<(), String> {
    let bios_image = fs::read(bios).map_err(|e| format!("cannot read {}: {e}", bios.display()))?;
    let mbr = mbrman::MBR::read_from(&mut Cursor::new(&bios_image), SECTOR as u32)
        .map_err(|e| format!("{}: no MBR: {e}", bios.display()))?;
    let partition = |number: usize, kind: u8| -> Result<&[u8], String> {
        let entry = &mbr[number];
        if entry.sys != kind {
            return Err(format!(
                "{}: partition {number} has type {:#04x}, not {kind:#04x}: bootloader's BIOS layout changed",
                bios.display(),
                entry.sys
            ));
        }
        let start = entry.starting_lba as usize * SECTOR;
        let end = start + entry.sectors as usize * SECTOR;
        bios_image.get(start..end).ok_or_else(|| {
            format!(
                "{}: partition {number} lies beyond the image",
                bios.display()
            )
        })
    };
    let stage_2 = partition(1, STAGE_2_PARTITION_TYPE)?;
    let mut bios_fat = partition(2, BOOT_FAT_PARTITION_TYPE)?.to_vec();
    let (bios_files, label) = compact::read_files(&mut bios_fat)
        .map_err(|e| format!("{}: cannot read the FAT: {e}", bios.display()))?;

    let mut uefi_image =
        fs::read(uefi).map_err(|e| format!("cannot read {}: {e}", uefi.display()))?;
    let (start, len) = compact::esp_bounds(&mut uefi_image)
        .map_err(|e| format!("{}: no EFI system partition: {e}", uefi.display()))?;
    let esp = uefi_image
        .get_mut(start as usize..(start + len) as usize)
        .ok_or_else(|| format!("{}: the partition lies beyond the image", uefi.display()))?;
    let (uefi_files, _) = compact::read_files(esp)
        .map_err(|e| format!("{}: cannot read the FAT: {e}", uefi.display()))?;

    let fat = compact::write_fat(&union(bios_files, uefi_files)?, label)
        .map_err(|e| format!("cannot build the ISO's FAT: {e}"))?;
    let mut boot_sector = bios_image
        .get(..SECTOR)
        .ok_or("the BIOS image has no boot sector")?
        .to_vec();
    boot_sector[PARTITION_TABLE..PARTITION_TABLE + PARTITION_TABLE_LEN].fill(0);

    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, bytes) in [
        (ISO_BOOT_SECTOR, &boot_sector[..]),
        (ISO_STAGE_2, stage_2),
        (ISO_BOOT_FAT, &fat[..]),
    ] {
        let path = dir.join(name);
        compact::write_atomically(&path, bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The files of both volumes, each path once: a path both hold must hold the same bytes.
fn union(mut files: Files, other: Files) -> Result<Files, String> {
    for (path, data) in other {
        match files.iter().find(|(known, _)| *known == path) {
            Some((_, known)) if *known == data => {}
            Some(_) => {
                return Err(format!(
                    "the BIOS and UEFI boot partitions hold different {path}: they cannot share one FAT"
                ));
            }
            None => files.push((path, data)),
        }
    }
    // A directory comes before the files and directories in it (write_fat creates them in
    // order): sorting by path puts `efi/` before `efi/boot/` before `efi/boot/bootx64.efi`.
    files.sort_by(|(a, _), (b, _)| a.cmp(b));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, data: &[u8]) -> (String, Vec<u8>) {
        (path.to_string(), data.to_vec())
    }

    #[test]
    fn shared_files_appear_once_and_directories_precede_their_contents() {
        let bios = vec![file("kernel-x86_64", b"k"), file("boot-stage-3", b"3")];
        let uefi = vec![
            file("efi/boot/bootx64.efi", b"e"),
            file("efi/", b""),
            file("efi/boot/", b""),
            file("kernel-x86_64", b"k"),
        ];
        let paths: Vec<String> = union(bios, uefi)
            .unwrap()
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        assert_eq!(
            paths,
            [
                "boot-stage-3",
                "efi/",
                "efi/boot/",
                "efi/boot/bootx64.efi",
                "kernel-x86_64"
            ]
        );
    }

    #[test]
    fn a_file_that_differs_between_the_volumes_is_an_error() {
        let message =
            union(vec![file("ramdisk", b"one")], vec![file("ramdisk", b"two")]).unwrap_err();
        assert!(message.contains("ramdisk"), "{message}");
    }
}
