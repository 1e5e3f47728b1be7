//! Shrinks the disk images `bootloader` writes. Its FAT boot partition is sized as the files'
//! total rounded up to whole MiB plus 1–2 MiB of slack, which makes a 1.4 MB kernel and loader
//! a 3–3.6 MB image. This rebuilds that partition with the same files in a FAT just large
//! enough for them, and the disk around it: the MBR (BIOS) keeps its boot code and second
//! stage and only the partition's length changes; the GPT disk (UEFI) is written anew with one
//! EFI system partition. bootloader's second stage reads FAT12, FAT16 and FAT32 alike.

use std::fs;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Sector size of the images.
const SECTOR: u64 = 512;
/// Room left in the new FAT beyond its files' clusters: directories, FATs, reserved sectors.
const FAT_OVERHEAD: u64 = 128 * 1024;
/// Cluster size the new FAT uses (and rounds each file up to).
const CLUSTER: u64 = 4096;
/// The MBR entry (1-based, as `mbrman` counts) bootloader puts the FAT partition in.
const BIOS_FAT_ENTRY: usize = 2;
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

/// A FAT volume holding `files`, no larger than they need.
pub fn write_fat(files: &Files, label: [u8; 11]) -> io::Result<Vec<u8>> {
    let clusters: u64 = files
        .iter()
        .map(|(_, data)| (data.len() as u64).div_ceil(CLUSTER).max(1))
        .sum();
    let size = (clusters * CLUSTER + FAT_OVERHEAD).div_ceil(CLUSTER) * CLUSTER;
    let mut volume = vec![0u8; size as usize];
    let options = fatfs::FormatVolumeOptions::new()
        .bytes_per_cluster(CLUSTER as u32)
        .volume_label(label);
    fatfs::format_volume(Cursor::new(&mut volume[..]), options)?;
    {
        let fs = fatfs::FileSystem::new(Cursor::new(&mut volume[..]), fatfs::FsOptions::new())?;
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
    Ok(volume)
}

/// Rewrites the BIOS (MBR) image at `path` with a compact FAT partition.
pub fn bios(path: &Path) -> io::Result<()> {
    let mut image = fs::read(path)?;
    let mut mbr = mbrman::MBR::read_from(&mut Cursor::new(&image), SECTOR as u32)
        .map_err(|e| invalid(e.to_string()))?;
    let entry = &mbr[BIOS_FAT_ENTRY];
    let start = u64::from(entry.starting_lba) * SECTOR;
    let end = start + u64::from(entry.sectors) * SECTOR;
    let partition = image
        .get_mut(start as usize..end as usize)
        .ok_or_else(|| invalid("the FAT partition lies beyond the image"))?;
    let (files, label) = read_files(partition)?;
    let volume = write_fat(&files, label)?;
    image.truncate(start as usize);
    image.extend_from_slice(&volume);
    mbr[BIOS_FAT_ENTRY].sectors =
        u32::try_from(volume.len() as u64 / SECTOR).map_err(|_| invalid("FAT too large"))?;
    let mut cursor = Cursor::new(&mut image);
    mbr.write_into(&mut cursor)
        .map_err(|e| invalid(e.to_string()))?;
    write_atomically(path, &image)
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
