//! Device drivers: the 16550 serial ports, QEMU's fw_cfg, and QEMU's isa-debug-exit.

pub mod fw_cfg;
pub mod qemu_exit;
pub mod serial;
