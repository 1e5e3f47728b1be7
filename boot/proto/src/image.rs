//! What the image builder (`boot/image`) leaves in the runner's output directory
//! (`target/cella/`), by name, for the runner to boot or to assemble into an ISO.

/// The BIOS disk image: bootloader's boot sector, its second stage in partition 1 and a FAT
/// boot partition (third stage, kernel, ramdisk) in partition 2.
pub const BIOS_IMAGE: &str = "bios.img";
/// The UEFI disk image: a GPT disk with one EFI system partition.
pub const UEFI_IMAGE: &str = "uefi.img";
/// The kernel as the images hold it (stripped), which the runner also boots directly
/// (QEMU's `-kernel`).
pub const KERNEL: &str = "kernel";
/// The images' ramdisk (the system's `/bin`), which the runner also passes with `-initrd`.
pub const RAMDISK: &str = "initrd";

/// The directory, beside the images, of the pieces `./qemu.sh --iso` hands to xorriso.
pub const ISO_PARTS_DIR: &str = "iso";
/// The BIOS image's boot sector (bootloader's first stage), its partition table cleared:
/// the ISO's system area, whose partition table xorriso writes.
pub const ISO_BOOT_SECTOR: &str = "boot-sector.bin";
/// The BIOS image's second stage partition, as the ISO's partition 1.
pub const ISO_STAGE_2: &str = "stage-2.img";
/// One FAT volume with the files of both boot partitions: the BIOS stages, the UEFI loader
/// (`efi/boot/bootx64.efi`), and the kernel and ramdisk once. It is the ISO's partition 2
/// and its El Torito EFI boot image.
pub const ISO_BOOT_FAT: &str = "boot.fat";
/// The directory, among those pieces, whose tree the runner makes the ISO 9660 file system.
pub const ISO_TREE_DIR: &str = "tree";
/// The BIOS CD boot program (`boot/src/cdboot.s`, assembled by the runner), as a path in
/// that tree and in the ISO: the El Torito BIOS boot image.
pub const ISO_CD_BOOT_PROGRAM: &str = "boot/cdboot.bin";

/// The MBR partition type bootloader's first stage loads its second stage from (partition 1).
pub const STAGE_2_PARTITION_TYPE: u8 = 0x20;
/// The MBR partition type of the FAT boot partition (FAT32 with LBA, as bootloader writes
/// it; its second stage reads any FAT whose type is FAT12, FAT16 or FAT32, from the entry
/// right after the second stage's).
pub const BOOT_FAT_PARTITION_TYPE: u8 = 0x0c;
