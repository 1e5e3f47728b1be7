//! Shrinks the disk images `bootloader` writes. Its FAT boot partition is sized as the files'
//! total rounded up to whole MiB plus 1–2 MiB of slack, which makes a 1.4 MB kernel and loader
//! a 3–3.6 MB image. This rebuilds that partition with the same files in a FAT just large
//! enough for them, and the disk around it: the MBR (BIOS) keeps its boot code, and its
//! second stage without the zeros that pad it to 480 KiB (see [`stage_2_len`]); the GPT disk
//! (UEFI) is written anew with one EFI system partition. bootloader's second stage reads
//! FAT12, FAT16 and FAT32 alike.

use std::fs;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Sector size of the images.
const SECTOR: u64 = 512;
/// Cluster size the new FAT uses (and rounds each file up to).
const CLUSTER: u64 = 4096;
/// Entries of the new FAT's root directory (FAT12 and FAT16 give it a fixed size): room for
/// its few files, each taking up to three entries with its long name, and to spare.
const ROOT_ENTRIES: u16 = 64;
/// Bytes of a directory entry.
const DIR_ENTRY: u64 = 32;
/// The MBR entries (1-based, as `mbrman` counts) bootloader puts its second stage and the
/// FAT partition in.
const BIOS_STAGE_2_ENTRY: usize = 1;
const BIOS_FAT_ENTRY: usize = 2;
/// Zeros after the BIOS image's FAT partition: bootloader's second stage reads each file in
/// 16 KiB pieces, the last one whole even past the file's end, and int13 fails on sectors
/// beyond the disk.
const STAGE_2_READ_AHEAD: usize = 16 * 1024;
/// The last two bytes of bootloader's second stage: its linker script puts this marker at
/// the end of real-mode memory (0x7fffd), which pads the stage with zeros to 480 KiB.
const STAGE_2_END_MARKER: [u8; 2] = 0xdead_u16.to_le_bytes();
/// Bytes reserved around the partition for the GPT headers and tables (both copies).
const GPT_RESERVE: u64 = 64 * 1024;

/// A file of the boot partition: its path and contents.
pub type Files = Vec<(String, Vec<u8>)>;

pub fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Every file of the FAT volume in `partition`, with paths from its root (a directory,
/// ending in `/`, before its files), and the volume's label.
pub fn read_files(partition: &mut [u8]) -> io::Result<(Files, [u8; 11])> {
    let fs = fatfs::FileSystem::new(Cursor::new(partition), fatfs::FsOptions::new())?;
    let mut label = [b' '; 11];
    let name = fs.volume_label_as_bytes();
    label[..name.len().min(11)].copy_from_slice(&name[..name.len().min(11)]);
    let mut files = Vec::new();
    let mut pending = vec![(String::new(), fs.root_dir())];
    while let Some((prefix, dir)) = pending.pop() {
        for entry in dir.iter() {
            let entry = entry?;
            let name = entry.file_name();
            if name == "." || name == ".." {
                continue;
            }
            let path = format!("{prefix}{name}");
            if entry.is_dir() {
                files.push((format!("{path}/"), Vec::new()));
                pending.push((format!("{path}/"), entry.to_dir()));
            } else {
                let mut data = Vec::new();
                entry.to_file().read_to_end(&mut data)?;
                files.push((path, data));
            }
        }
    }
    Ok((files, label))
}

/// A FAT volume holding `files`, no larger than they need: their clusters, the FATs, the
/// root directory and the boot sector.
pub fn write_fat(files: &Files, label: [u8; 11]) -> io::Result<Vec<u8>> {
    let clusters: u64 = files
        .iter()
        .map(|(_, data)| (data.len() as u64).div_ceil(CLUSTER).max(1))
        .sum();
    // FAT16's two bytes an entry (FAT12 takes less); FAT32 (from 65525 clusters, 256 MiB)
    // needs more reserved sectors, which the loop below adds.
    let fat = ((clusters + 2) * 2).div_ceil(SECTOR) * SECTOR;
    let root = (u64::from(ROOT_ENTRIES) * DIR_ENTRY).div_ceil(SECTOR) * SECTOR;
    let mut size = SECTOR + 2 * fat + root + clusters * CLUSTER;
    loop {
        let mut volume = vec![0u8; size as usize];
        let options = fatfs::FormatVolumeOptions::new()
            .bytes_per_cluster(CLUSTER as u32)
            .max_root_dir_entries(ROOT_ENTRIES)
            .volume_label(label);
        fatfs::format_volume(Cursor::new(&mut volume[..]), options)?;
        {
            let fs = fatfs::FileSystem::new(Cursor::new(&mut volume[..]), fatfs::FsOptions::new())?;
            // fatfs lays out the FATs its own way: grow the volume until the files fit.
            if u64::from(fs.stats()?.total_clusters()) < clusters {
                size += CLUSTER;
                continue;
            }
            let root = fs.root_dir();
            // Parents come before their children: `read_files` lists a directory first.
            for (path, data) in files {
                match path.strip_suffix('/') {
                    Some(dir) => {
                        root.create_dir(dir)?;
                    }
                    None => root.create_file(path)?.write_all(data)?,
                }
            }
        }
        return Ok(volume);
    }
}

/// The bytes of bootloader's second stage partition that its first stage must load: up to
/// the end of its last sector that is not all zeros. Past it, up to the end marker, its
/// linker script only pads real-mode memory (its `.bss` lies before `.rodata`, so no
/// variable is left there, and the loaded length ends at its `_second_stage_end`). The
/// first stage loads as many sectors as the partition has.
pub fn stage_2_len(stage_2: &[u8]) -> io::Result<usize> {
    // The partition is the stage rounded up to whole sectors (with zeros).
    let end = stage_2
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    let body = stage_2[..end]
        .strip_suffix(&STAGE_2_END_MARKER)
        .ok_or_else(|| {
            invalid("the second stage does not end in its marker: bootloader changed")
        })?;
    let used = body
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    Ok(used.div_ceil(SECTOR as usize) * SECTOR as usize)
}

/// Rewrites the BIOS (MBR) image at `path` with its second stage trimmed and a compact FAT
/// partition right after it.
pub fn bios(path: &Path) -> io::Result<()> {
    let image = fs::read(path)?;
    let mut mbr = mbrman::MBR::read_from(&mut Cursor::new(&image), SECTOR as u32)
        .map_err(|e| invalid(e.to_string()))?;
    let bounds = |entry: &mbrman::MBRPartitionEntry| {
        let start = u64::from(entry.starting_lba) * SECTOR;
        start as usize..(start + u64::from(entry.sectors) * SECTOR) as usize
    };
    let stage_2_at = bounds(&mbr[BIOS_STAGE_2_ENTRY]);
    let stage_2 = image
        .get(stage_2_at.clone())
        .ok_or_else(|| invalid("the second stage lies beyond the image"))?;
    let stage_2 = &stage_2[..stage_2_len(stage_2)?];
    let mut partition = image
        .get(bounds(&mbr[BIOS_FAT_ENTRY]))
        .ok_or_else(|| invalid("the FAT partition lies beyond the image"))?
        .to_vec();
    let (files, label) = read_files(&mut partition)?;
    let volume = write_fat(&files, label)?;

    let sectors = |bytes: usize| {
        u32::try_from(bytes as u64 / SECTOR).map_err(|_| invalid("partition too large"))
    };
    let mut compact = image[..stage_2_at.start].to_vec();
    compact.extend_from_slice(stage_2);
    mbr[BIOS_STAGE_2_ENTRY].sectors = sectors(stage_2.len())?;
    mbr[BIOS_FAT_ENTRY].starting_lba = sectors(compact.len())?;
    mbr[BIOS_FAT_ENTRY].sectors = sectors(volume.len())?;
    compact.extend_from_slice(&volume);
    compact.resize(compact.len() + STAGE_2_READ_AHEAD, 0);
    let mut cursor = Cursor::new(&mut compact);
    mbr.write_into(&mut cursor)
        .map_err(|e| invalid(e.to_string()))?;
    write_atomically(path, &compact)
}

/// Rewrites the UEFI (GPT) image at `path` with a compact EFI system partition.
pub fn uefi(path: &Path) -> io::Result<()> {
    let block = gpt::disk::LogicalBlockSize::Lb512;
    let mut image = fs::read(path)?;
    let (start, len) = esp_bounds(&mut image)?;
    let partition = image
        .get_mut(start as usize..(start + len) as usize)
        .ok_or_else(|| invalid("the partition lies beyond the image"))?;
    let (files, label) = read_files(partition)?;
    let volume = write_fat(&files, label)?;

    let mut disk = Cursor::new(vec![0u8; (volume.len() as u64 + GPT_RESERVE) as usize]);
    let disk_size = disk.get_ref().len() as u64;
    let protective = gpt::mbr::ProtectiveMBR::with_lb_size(
        u32::try_from(disk_size / SECTOR - 1).unwrap_or(u32::MAX),
    );
    protective.overwrite_lba0(&mut disk)?;
    let start = {
        let mut table = gpt::GptConfig::new()
            .writable(true)
            .initialized(false)
            .logical_block_size(block)
            .create_from_device(Box::new(&mut disk), None)?;
        table.update_partitions(Default::default())?;
        let id = table
            .add_partition(
                "boot",
                volume.len() as u64,
                gpt::partition_types::EFI,
                0,
                None,
            )
            .map_err(|e| invalid(e.to_string()))?;
        let start = table
            .partitions()
            .get(&id)
            .ok_or_else(|| invalid("the new partition vanished"))?
            .bytes_start(block)?;
        table.write()?;
        start
    };
    disk.seek(SeekFrom::Start(start))?;
    disk.write_all(&volume)?;
    write_atomically(path, disk.get_ref())
}

/// Where the EFI system partition of a UEFI image lies: its first byte and its length.
pub fn esp_bounds(image: &mut [u8]) -> io::Result<(u64, u64)> {
    let block = gpt::disk::LogicalBlockSize::Lb512;
    let disk = gpt::GptConfig::new()
        .writable(false)
        .logical_block_size(block)
        .open_from_device(Box::new(Cursor::new(image)))?;
    let partition = disk
        .partitions()
        .values()
        .next()
        .ok_or_else(|| invalid("the GPT has no partition"))?;
    Ok((partition.bytes_start(block)?, partition.bytes_len(block)?))
}

pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(path);
    fs::write(&temp, bytes)?;
    fs::rename(&temp, path)
}

/// Where this process writes `path` before renaming it into place: a name of its own, as
/// runners started at once (parallel tests) may all find the images stale and build them.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".tmp{}", std::process::id()));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_stage_keeps_its_code_and_data_and_loses_the_padding() {
        // Code, zeros of its `.bss`, read-only data, then padding up to the end marker and
        // to a whole sector.
        let mut stage = vec![0x90u8; 700];
        stage.extend_from_slice(&[0; 900]);
        stage.extend_from_slice(&[0x41; 10]);
        stage.resize(20_000, 0);
        stage.extend_from_slice(&STAGE_2_END_MARKER);
        stage.resize(stage.len().div_ceil(512) * 512, 0);
        // 1610 bytes in use: four sectors, the `.bss` zeros among them.
        assert_eq!(stage_2_len(&stage).unwrap(), 2048);
        let without_marker = vec![0x90u8; 4096];
        assert!(stage_2_len(&without_marker).is_err());
    }

    #[test]
    fn the_fat_holds_its_files_in_little_more_than_their_clusters() {
        let files: Files = vec![
            ("efi/".into(), Vec::new()),
            ("efi/boot/".into(), Vec::new()),
            ("efi/boot/bootx64.efi".into(), vec![1; 150_000]),
            (
                "kernel-x86_64".into(),
                (0..2_000_000u32).map(|i| i as u8).collect(),
            ),
            ("ramdisk".into(), vec![3; 340_000]),
        ];
        let label = *b"CELLA      ";
        let mut volume = write_fat(&files, label).unwrap();
        let clusters: u64 = files
            .iter()
            .map(|(_, data)| (data.len() as u64).div_ceil(CLUSTER).max(1))
            .sum();
        let slack = volume.len() as u64 - clusters * CLUSTER;
        assert!(slack <= 8 * 1024, "{slack} bytes beyond the clusters");
        let (mut read, read_label) = read_files(&mut volume).unwrap();
        read.sort();
        let mut expected = files.clone();
        expected.sort();
        assert!(read == expected);
        assert_eq!(read_label, label);
    }
}
