//! Device drivers: the 16550 serial ports, QEMU's fw_cfg and isa-debug-exit, PCI
//! configuration access, the glue for `virtio-drivers`, the virtio network card, and the
//! host link's transport.

pub mod fw_cfg;
pub mod link;
pub mod net;
pub mod pci;
pub mod qemu_exit;
pub mod serial;
pub mod virtio;
