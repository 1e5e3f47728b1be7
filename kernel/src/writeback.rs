//! Hands the `--dir` trees back to the runner at exit: the archive goes onto the virtio block
//! device whose serial is [`WRITEBACK_SERIAL`], after a one-sector header (see
//! [`cella_proto::WRITEBACK_MAGIC`]). The archive is written as it is made, through a buffer
//! of [`CHUNK`] bytes, and the header last, so a disk the kernel did not finish never looks
//! complete.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use cella_proto::{WRITEBACK_HEADER, WRITEBACK_MAGIC, WRITEBACK_SERIAL};
use virtio_drivers::device::blk::{SECTOR_SIZE, VirtIOBlk};
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::pci::PciTransport;

use crate::drivers::virtio::{self, KernelHal};

/// Bytes per write request: large enough to amortise each request's round trip.
const CHUNK: usize = 256 * 1024;
/// Length of a virtio-blk device ID (its serial).
const DEVICE_ID_LEN: usize = 20;

/// The write-back disk, being filled.
pub struct Disk {
    device: VirtIOBlk<KernelHal, PciTransport>,
    /// Bytes the device holds.
    capacity: u64,
    /// The next sector to write.
    sector: usize,
    /// Bytes not yet written (less than a chunk).
    buffer: Vec<u8>,
    /// Archive bytes taken so far.
    total: u64,
}

impl Disk {
    /// Finds the runner's write-back disk.
    pub fn open() -> Result<Disk, String> {
        for transport in virtio::find(DeviceType::Block) {
            let mut device = VirtIOBlk::<KernelHal, _>::new(transport)
                .map_err(|e| format!("cannot start the virtio block device: {e}"))?;
            let mut id = [0u8; DEVICE_ID_LEN];
            let len = device.device_id(&mut id).unwrap_or(0);
            if id.get(..len) != Some(WRITEBACK_SERIAL.as_bytes()) {
                continue;
            }
            let capacity = device.capacity().saturating_mul(SECTOR_SIZE as u64);
            return Ok(Disk {
                device,
                capacity,
                sector: WRITEBACK_HEADER / SECTOR_SIZE,
                buffer: Vec::with_capacity(CHUNK),
                total: 0,
            });
        }
        Err(format!(
            "no virtio block device `{WRITEBACK_SERIAL}` to write the trees back to"
        ))
    }

    /// Appends archive bytes.
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        self.total += bytes.len() as u64;
        if WRITEBACK_HEADER as u64 + self.total > self.capacity {
            return Err(format!(
                "the write-back disk holds {} bytes, the trees need more",
                self.capacity
            ));
        }
        while !bytes.is_empty() {
            let take = bytes.len().min(CHUNK - self.buffer.len());
            self.buffer.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buffer.len() == CHUNK {
                self.write_buffer()?;
            }
        }
        Ok(())
    }

    /// Writes the buffer as whole sectors, the tail of the last one zero.
    fn write_buffer(&mut self) -> Result<(), String> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let len = self.buffer.len().div_ceil(SECTOR_SIZE) * SECTOR_SIZE;
        self.buffer.resize(len, 0);
        self.device
            .write_blocks(self.sector, &self.buffer)
            .map_err(|e| format!("writing the trees back failed: {e}"))?;
        self.sector += len / SECTOR_SIZE;
        self.buffer.clear();
        Ok(())
    }

    /// Writes what is buffered, then the header that makes the archive count.
    pub fn finish(mut self) -> Result<u64, String> {
        self.write_buffer()?;
        let mut header = vec![0u8; WRITEBACK_HEADER];
        header[..WRITEBACK_MAGIC.len()].copy_from_slice(WRITEBACK_MAGIC);
        header[WRITEBACK_MAGIC.len()..WRITEBACK_MAGIC.len() + 8]
            .copy_from_slice(&self.total.to_le_bytes());
        self.device
            .write_blocks(0, &header)
            .map_err(|e| format!("writing the trees back failed: {e}"))?;
        self.device
            .flush()
            .map_err(|e| format!("flushing the write-back disk failed: {e}"))?;
        Ok(self.total)
    }
}
