//! PCI configuration space through the legacy I/O ports (`0xcf8`/`0xcfc`), which every x86
//! PC and QEMU machine has, so no ECAM window has to be found or mapped first. Devices are
//! found with `virtio-drivers`' bus enumeration on top of this access method.

use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction};
use x86_64::instructions::port::Port;

/// The configuration address register.
const CONFIG_ADDRESS: u16 = 0xcf8;
/// The configuration data register.
const CONFIG_DATA: u16 = 0xcfc;
/// Bit 31 of the address: enable configuration cycles.
const ENABLE: u32 = 1 << 31;

/// Port-based configuration access. The address/data pair is one shared register set, so
/// every access runs with interrupts off (nothing in an interrupt handler touches PCI).
pub struct PortAccess(());

impl PortAccess {
    /// The machine's configuration space.
    pub fn new() -> PortAccess {
        PortAccess(())
    }

    fn address(device_function: DeviceFunction, register_offset: u8) -> u32 {
        ENABLE
            | u32::from(device_function.bus) << 16
            | u32::from(device_function.device & 0x1f) << 11
            | u32::from(device_function.function & 0x7) << 8
            | u32::from(register_offset & 0xfc)
    }
}

impl ConfigurationAccess for PortAccess {
    fn read_word(&self, device_function: DeviceFunction, register_offset: u8) -> u32 {
        let address = Self::address(device_function, register_offset);
        crate::arch::cpu::without_interrupts(|| {
            // SAFETY: 0xcf8/0xcfc are the PCI configuration mechanism #1 registers; writing
            // an address and reading the data touches no memory.
            unsafe {
                Port::<u32>::new(CONFIG_ADDRESS).write(address);
                Port::<u32>::new(CONFIG_DATA).read()
            }
        })
    }

    fn write_word(&mut self, device_function: DeviceFunction, register_offset: u8, data: u32) {
        let address = Self::address(device_function, register_offset);
        crate::arch::cpu::without_interrupts(|| {
            // SAFETY: as in `read_word`; the callers (virtio-drivers) write only registers
            // they own, such as the command register and BARs of a device they drive.
            unsafe {
                Port::<u32>::new(CONFIG_ADDRESS).write(address);
                Port::<u32>::new(CONFIG_DATA).write(data);
            }
        })
    }

    unsafe fn unsafe_clone(&self) -> Self {
        PortAccess(())
    }
}
