//! Hands the `--dir` trees back to the runner at exit: the archive goes onto the virtio block
//! device whose serial is [`WRITEBACK_SERIAL`], after a one-sector header (see
//! [`cella_proto::WRITEBACK_MAGIC`]). The header is written last, so a disk the kernel did not
//! finish never looks complete.

use alloc::format;
use alloc::string::String;
use alloc::vec;

use cella_proto::{WRITEBACK_HEADER, WRITEBACK_MAGIC, WRITEBACK_SERIAL};
use virtio_drivers::device::blk::{SECTOR_SIZE, VirtIOBlk};
use virtio_drivers::transport::DeviceType;

use crate::drivers::virtio::{self, KernelHal};

/// Bytes per write request: large enough to amortise each request's round trip.
const CHUNK: usize = 256 * 1024;
/// Length of a virtio-blk device ID (its serial).
const DEVICE_ID_LEN: usize = 20;

/// Writes `archive` to the write-back disk.
pub fn write(archive: &[u8]) -> Result<(), String> {
    for transport in virtio::find(DeviceType::Block) {
        let mut disk = VirtIOBlk::<KernelHal, _>::new(transport)
            .map_err(|e| format!("cannot start the virtio block device: {e}"))?;
        let mut id = [0u8; DEVICE_ID_LEN];
        let len = disk.device_id(&mut id).unwrap_or(0);
        if id.get(..len) != Some(WRITEBACK_SERIAL.as_bytes()) {
            continue;
        }
        let needed = (WRITEBACK_HEADER + archive.len()) as u64;
        let capacity = disk.capacity().saturating_mul(SECTOR_SIZE as u64);
        if needed > capacity {
            return Err(format!(
                "the write-back disk holds {capacity} bytes, the trees need {needed}"
            ));
        }
        let mut buffer = vec![0u8; CHUNK];
        let mut sector = WRITEBACK_HEADER / SECTOR_SIZE;
        for chunk in archive.chunks(CHUNK) {
            // Whole sectors: the tail of the last one is zero padding.
            let len = chunk.len().div_ceil(SECTOR_SIZE) * SECTOR_SIZE;
            buffer[..chunk.len()].copy_from_slice(chunk);
            buffer[chunk.len()..len].fill(0);
            disk.write_blocks(sector, &buffer[..len])
                .map_err(|e| format!("writing the trees back failed: {e}"))?;
            sector += len / SECTOR_SIZE;
        }
        let mut header = [0u8; WRITEBACK_HEADER];
        header[..WRITEBACK_MAGIC.len()].copy_from_slice(WRITEBACK_MAGIC);
        header[WRITEBACK_MAGIC.len()..WRITEBACK_MAGIC.len() + 8]
            .copy_from_slice(&(archive.len() as u64).to_le_bytes());
        disk.write_blocks(0, &header)
            .map_err(|e| format!("writing the trees back failed: {e}"))?;
        disk.flush()
            .map_err(|e| format!("flushing the write-back disk failed: {e}"))?;
        return Ok(());
    }
    Err(format!(
        "no virtio block device `{WRITEBACK_SERIAL}` to write the trees back to"
    ))
}
