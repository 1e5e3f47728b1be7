//! The network stack: smoltcp over the virtio network card, with QEMU user networking's
//! static configuration (the guest is 10.0.2.15/24, the gateway 10.0.2.2), driven by the
//! scheduler loop: [`poll`] once per turn, and [`next_poll`] bounds how long an idle CPU
//! may halt.
//!
//! A frame's arrival wakes a halted CPU through the card's interrupt, when the firmware
//! routed one to the PIC; the stack still looks every [`IRQ_POLL_NS`] in case one was
//! missed. Without an interrupt, received frames are found by polling: every
//! [`FAST_POLL_NS`] for [`FAST_WINDOW_NS`] after the last frame, then every
//! [`SLOW_POLL_NS`], so a quiet machine stays quiet and a busy connection stays quick.
//!
//! For now the only service is a self-test: on each port of the run configuration's
//! `listen` list, a TCP echo (what a connection sends comes back), while the program runs.

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};
use spin::Mutex;

use crate::drivers::{self, net::NetCard};
use crate::{entropy, time};

/// The guest's address under QEMU user networking, its prefix and the gateway.
const GUEST_ADDRESS: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
const PREFIX_LEN: u8 = 24;
const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);
/// Receive polling period right after traffic, for how long after the last frame, and when
/// quiet.
const FAST_POLL_NS: u64 = 1_000_000;
const FAST_WINDOW_NS: u64 = 500_000_000;
const SLOW_POLL_NS: u64 = 10_000_000;
/// The safety-net polling period when the card interrupts.
const IRQ_POLL_NS: u64 = 50_000_000;
/// Bytes of each echo socket's receive and send buffers.
const ECHO_BUFFER: usize = 16 * 1024;

/// The interface, its card and its sockets.
struct Stack {
    card: NetCard,
    iface: Interface,
    sockets: SocketSet<'static>,
    /// The echo listeners: port and socket.
    echo: Vec<(u16, SocketHandle)>,
    /// Monotonic time of the last frame received.
    last_frame_ns: u64,
}

static STACK: Mutex<Option<Stack>> = Mutex::new(None);

fn now() -> Instant {
    Instant::from_micros((time::monotonic_ns() / 1000) as i64)
}

/// Brings the interface up on the first virtio network card, if the machine has one, with
/// a TCP echo listening on each of `echo_ports`.
pub fn init(echo_ports: &[u16]) {
    let Some(mut card) = NetCard::open() else {
        if !echo_ports.is_empty() {
            log::warn!("no virtio network card: ports {echo_ports:?} stay closed");
        }
        return;
    };
    let mac = card.mac();
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    let mut seed = [0u8; 8];
    entropy::fill(&mut seed);
    config.random_seed = u64::from_le_bytes(seed);
    let mut iface = Interface::new(config, &mut card, now());
    iface.update_ip_addrs(|addresses| {
        let _ = addresses.push(IpCidr::new(GUEST_ADDRESS.into(), PREFIX_LEN));
    });
    if iface.routes_mut().add_default_ipv4_route(GATEWAY).is_err() {
        log::warn!("network: no room for the default route");
    }
    let mut sockets = SocketSet::new(Vec::new());
    let echo = echo_ports
        .iter()
        .map(|&port| {
            let socket = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; ECHO_BUFFER]),
                tcp::SocketBuffer::new(vec![0; ECHO_BUFFER]),
            );
            (port, sockets.add(socket))
        })
        .collect();
    log::debug!(
        "network: {mac:02x?} as {GUEST_ADDRESS}/{PREFIX_LEN} via {GATEWAY}; echo on {echo_ports:?}"
    );
    *STACK.lock() = Some(Stack {
        card,
        iface,
        sockets,
        echo,
        last_frame_ns: 0,
    });
}

/// Moves frames between the card and the sockets, and serves the echo. Cheap when nothing
/// happened: call it on every turn of the scheduler loop.
pub fn poll() {
    let mut guard = STACK.lock();
    let Some(stack) = guard.as_mut() else {
        return;
    };
    stack.card.take_interrupt();
    if stack.card.has_frame() {
        stack.last_frame_ns = time::monotonic_ns();
    }
    let Stack {
        card,
        iface,
        sockets,
        echo,
        ..
    } = stack;
    iface.poll(now(), card, sockets);
    let mut echoed = false;
    for &(port, handle) in echo.iter() {
        echoed |= serve_echo(sockets.get_mut::<tcp::Socket>(handle), port);
    }
    if echoed {
        // Send the echo now rather than on the next turn.
        iface.poll(now(), card, sockets);
    }
}

/// One turn of an echo socket: listen again once a connection ended, send back what came,
/// close when the peer did. Returns whether it queued anything to send.
fn serve_echo(socket: &mut tcp::Socket, port: u16) -> bool {
    if !socket.is_open() {
        if let Err(error) = socket.listen(port) {
            log::warn!("network: cannot listen on port {port}: {error}");
        }
        return false;
    }
    let mut queued = false;
    let mut chunk = [0u8; 1024];
    while socket.can_recv() && socket.can_send() {
        let room = socket.send_capacity() - socket.send_queue();
        let take = room.min(chunk.len());
        match socket.recv_slice(&mut chunk[..take]) {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                let _ = socket.send_slice(&chunk[..read]);
                queued = true;
            }
        }
    }
    if !socket.may_recv() && socket.state() == tcp::State::CloseWait {
        socket.close();
        queued = true;
    }
    queued
}

/// The monotonic time by which [`poll`] must run again: a TCP timer, or the next look for
/// received frames. `None` without a network.
pub fn next_poll() -> Option<u64> {
    let mut guard = STACK.lock();
    let stack = guard.as_mut()?;
    let now_ns = time::monotonic_ns();
    if drivers::net::interrupted() {
        return Some(now_ns);
    }
    let period = if stack.card.has_interrupt() {
        IRQ_POLL_NS
    } else if now_ns.saturating_sub(stack.last_frame_ns) < FAST_WINDOW_NS {
        FAST_POLL_NS
    } else {
        SLOW_POLL_NS
    };
    let timers = stack
        .iface
        .poll_delay(now(), &stack.sockets)
        .map_or(u64::MAX, |delay| delay.total_micros().saturating_mul(1000));
    Some(now_ns.saturating_add(period.min(timers)))
}
