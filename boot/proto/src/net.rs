//! The guest's IPv4 configuration: static, known to both sides. The kernel configures its
//! interface with it; the runner gives it to the network backend (QEMU's user networking
//! uses the same addresses by default; passt is told them), so forwarded connections reach
//! the guest and its answers find the way back.

use core::net::Ipv4Addr;

/// The guest's address.
pub const GUEST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The length of the guest's network prefix (a /24).
pub const PREFIX_LEN: u8 = 24;
/// The host side: the gateway, and the source of connections forwarded from the host.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
