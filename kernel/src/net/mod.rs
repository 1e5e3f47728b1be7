//! The network stack: smoltcp over the virtio network card, with the static configuration
//! the runner gives the host side too ([`cella_proto::net`]: the guest is 10.0.2.15/24, the
//! gateway 10.0.2.2), and the TCP ports of the run configuration's `listen` list
//! (`--tcplisten`), which programs get as listening sockets ([`tcp`]).
//!
//! The stack runs when there is work: [`poll`] once per turn of the scheduler loop, and from
//! the socket calls themselves when a frame waits on the card or a socket has data to send,
//! so a program that never blocks still gets its answers out at once. [`next_poll`] bounds
//! how long an idle CPU may halt.
//!
//! A frame's arrival wakes a halted CPU through the card's interrupt, when the firmware
//! routed one to the PIC; the stack still looks every [`IRQ_POLL_NS`] in case one was
//! missed. Without an interrupt, received frames are found by polling: every
//! [`FAST_POLL_NS`] for [`FAST_WINDOW_NS`] after the last frame, then every
//! [`SLOW_POLL_NS`], so a quiet machine stays quiet and a busy connection stays quick.
//!
//! smoltcp has no listen backlog: a listening socket becomes the connection. Each port keeps
//! a pool of [`LISTEN_POOL`] sockets listening, and incoming frames are taken one at a time
//! so the pool is refilled between two SYNs: a burst of connections finds a listener for
//! each, up to [`MAX_QUEUED`] waiting to be accepted per port and [`MAX_SOCKETS`] in all
//! (beyond, a SYN is answered with a reset, as Linux does with `tcp_abort_on_overflow`).
// Frames come from the network and socket calls from programs: nothing here (nor in `tcp`)
// panics on them.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod tcp;

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use cella_proto::net::{GATEWAY, GUEST, PREFIX_LEN};
use smoltcp::iface::{Config, Interface, PollIngressSingleResult, SocketHandle, SocketSet};
use smoltcp::phy::{Device, TxToken};
use smoltcp::socket::tcp::{Socket, SocketBuffer, State};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, HardwareAddress, IpCidr,
};
use spin::Mutex;

use crate::drivers::{self, net::NetCard};
use crate::{entropy, mm, time};

pub use tcp::listener;

/// Receive polling period right after traffic, for how long after the last frame, and when
/// quiet.
const FAST_POLL_NS: u64 = 1_000_000;
const FAST_WINDOW_NS: u64 = 500_000_000;
const SLOW_POLL_NS: u64 = 10_000_000;
/// The safety-net polling period when the card interrupts.
const IRQ_POLL_NS: u64 = 50_000_000;
/// Bytes of each connection's receive buffer (its TCP window) and send buffer.
const RX_BUFFER: usize = 16 * 1024;
const TX_BUFFER: usize = 32 * 1024;
/// What a connection is charged to the process that accepts it: its two buffers.
pub const CONNECTION_BYTES: usize = RX_BUFFER + TX_BUFFER;
/// Sockets kept listening on each open port.
const LISTEN_POOL: usize = 8;
/// Connections per port that may wait (half-open or established) to be accepted.
const MAX_QUEUED: usize = 1024;
/// Sockets in all: listening, connected, or closing.
const MAX_SOCKETS: usize = 2048;
/// Free memory a new socket must leave to the rest of the system.
const KEEP_FREE: usize = crate::mm::KERNEL_RESERVE;
/// A connection with unacknowledged data and no word from the peer this long is reset
/// (a peer that vanished).
const PEER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a closed connection may take to finish its goodbyes before it is reset.
const LINGER_NS: u64 = 60_000_000_000;

/// A port of the `listen` list.
struct Port {
    number: u16,
    /// Listener fds open on it, in all processes: it listens only while there is one.
    holders: usize,
    /// Sockets listening or half-open (SYN received).
    pending: Vec<SocketHandle>,
    /// Established connections not accepted yet, oldest first.
    ready: VecDeque<SocketHandle>,
}

/// The interface, its card and its sockets.
struct Stack {
    card: NetCard,
    iface: Interface,
    sockets: SocketSet<'static>,
    /// Sockets in `sockets`.
    count: usize,
    ports: Vec<Port>,
    /// Connections the programs closed, finishing their goodbyes, with when they were closed.
    closing: Vec<(SocketHandle, u64)>,
    /// A socket has something to send (data, a window update, a FIN) since the last poll.
    unsent: bool,
    /// Monotonic time of the last frame received.
    last_frame_ns: u64,
}

static STACK: Mutex<Option<Stack>> = Mutex::new(None);

fn now() -> Instant {
    Instant::from_micros((time::monotonic_ns() / 1000) as i64)
}

/// Brings the interface up on the first virtio network card, if the machine has one, with
/// `ports` to listen on once a program holds their listener.
pub fn init(ports: &[u16]) {
    let Some(mut card) = NetCard::open() else {
        if !ports.is_empty() {
            log::warn!("no virtio network card: ports {ports:?} stay closed");
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
        let _ = addresses.push(IpCidr::new(GUEST.into(), PREFIX_LEN));
    });
    if iface.routes_mut().add_default_ipv4_route(GATEWAY).is_err() {
        log::warn!("network: no room for the default route");
    }
    log::debug!("network: {mac:02x?} as {GUEST}/{PREFIX_LEN} via {GATEWAY}; TCP ports {ports:?}");
    announce(&mut card, EthernetAddress(mac));
    let ports = ports
        .iter()
        .map(|&number| Port {
            number,
            holders: 0,
            pending: Vec::new(),
            ready: VecDeque::new(),
        })
        .collect();
    *STACK.lock() = Some(Stack {
        card,
        iface,
        sockets: SocketSet::new(Vec::new()),
        count: 0,
        ports,
        closing: Vec::new(),
        unsent: false,
        last_frame_ns: 0,
    });
}

/// Announces the guest's address with a gratuitous ARP request (RFC 5227's announcement), so
/// that the host side knows the guest's MAC before the first connection arrives: passt
/// addresses its frames to the MAC it has seen the guest use, and a guest that only ever
/// answers would never be reached.
fn announce(card: &mut NetCard, mac: EthernetAddress) {
    let ethernet = EthernetRepr {
        src_addr: mac,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    };
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: mac,
        source_protocol_addr: GUEST,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: GUEST,
    };
    let Some(token) = card.transmit(now()) else {
        log::warn!("network: no room to announce {GUEST}");
        return;
    };
    let len = ethernet.buffer_len().saturating_add(arp.buffer_len());
    token.consume(len, |buffer| {
        if let Ok(mut frame) = EthernetFrame::new_checked(buffer) {
            ethernet.emit(&mut frame);
            arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        }
    });
}

/// Moves frames between the card and the sockets. Cheap when nothing happened: call it on
/// every turn of the scheduler loop.
pub fn poll() {
    if let Some(stack) = STACK.lock().as_mut() {
        stack.poll();
    }
}

/// The monotonic time by which [`poll`] must run again: a TCP timer, or the next look for
/// received frames. `None` without a network.
pub fn next_poll() -> Option<u64> {
    let mut guard = STACK.lock();
    let stack = guard.as_mut()?;
    let now_ns = time::monotonic_ns();
    if drivers::net::interrupted() || stack.unsent {
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

impl Stack {
    /// Runs the stack if there is anything for it to do: a frame on the card or something
    /// to send. The socket calls start with this.
    fn refresh(&mut self) {
        if self.unsent || drivers::net::interrupted() || self.card.has_frame() {
            self.poll();
        }
    }

    /// Takes every received frame, one at a time, keeping the listening pools full, then
    /// sends what the sockets have queued and lets go of finished connections.
    fn poll(&mut self) {
        self.card.take_interrupt();
        let timestamp = now();
        if self.card.has_frame() {
            self.last_frame_ns = time::monotonic_ns();
        }
        self.iface.poll_maintenance(timestamp);
        loop {
            match self
                .iface
                .poll_ingress_single(timestamp, &mut self.card, &mut self.sockets)
            {
                PollIngressSingleResult::None => break,
                PollIngressSingleResult::PacketProcessed => {}
                PollIngressSingleResult::SocketStateChanged => self.tend_ports(),
            }
        }
        self.tend_ports();
        self.unsent = false;
        self.iface
            .poll_egress(timestamp, &mut self.card, &mut self.sockets);
        self.reap();
    }

    /// For each open port: queues the connections that got established, drops the ones
    /// reset during their handshake, and refills the listening pool.
    fn tend_ports(&mut self) {
        let Stack {
            sockets,
            count,
            ports,
            ..
        } = self;
        for port in ports.iter_mut().filter(|port| port.holders > 0) {
            let mut listening: usize = 0;
            port.pending
                .retain(|&handle| match sockets.get::<Socket>(handle).state() {
                    State::Listen => {
                        listening = listening.saturating_add(1);
                        true
                    }
                    State::SynReceived => true,
                    State::Closed => {
                        sockets.remove(handle);
                        *count = count.saturating_sub(1);
                        false
                    }
                    _ => {
                        port.ready.push_back(handle);
                        false
                    }
                });
            while listening < LISTEN_POOL
                && port.pending.len().saturating_add(port.ready.len()) < MAX_QUEUED
            {
                let Some(handle) = Self::new_socket(sockets, count) else {
                    break;
                };
                let number = port.number;
                if let Err(error) = sockets.get_mut::<Socket>(handle).listen(number) {
                    log::warn!("network: cannot listen on port {number}: {error}");
                    sockets.remove(handle);
                    *count = count.saturating_sub(1);
                    break;
                }
                port.pending.push(handle);
                listening = listening.saturating_add(1);
            }
        }
    }

    /// A fresh socket in `sockets`, which holds `count`, unless the socket limit or memory
    /// says no.
    fn new_socket(sockets: &mut SocketSet<'static>, count: &mut usize) -> Option<SocketHandle> {
        if *count >= MAX_SOCKETS || mm::available_bytes() < KEEP_FREE + CONNECTION_BYTES {
            return None;
        }
        let mut socket = Socket::new(
            SocketBuffer::new(vec![0; RX_BUFFER]),
            SocketBuffer::new(vec![0; TX_BUFFER]),
        );
        // Answers go out as soon as they are written (the stack batches a program's
        // writes until its next socket call anyway), as a server sets TCP_NODELAY.
        socket.set_nagle_enabled(false);
        socket.set_timeout(Some(PEER_TIMEOUT));
        *count = count.saturating_add(1);
        Some(sockets.add(socket))
    }

    /// Ends a connection the programs are done with: a graceful close (FIN once the queued
    /// data is out) unless data it received was never read, which resets it as Linux does.
    fn close(&mut self, handle: SocketHandle) {
        let socket = self.sockets.get_mut::<Socket>(handle);
        if socket.recv_queue() > 0 {
            socket.abort();
        } else {
            socket.close();
        }
        self.closing.push((handle, time::monotonic_ns()));
        self.unsent = true;
    }

    /// Stops listening on a port nobody holds any more: its queued connections are reset.
    fn close_port(&mut self, index: usize) {
        let Some(port) = self.ports.get_mut(index) else {
            return;
        };
        let handles: Vec<SocketHandle> =
            port.pending.drain(..).chain(port.ready.drain(..)).collect();
        for handle in handles {
            self.discard(handle);
        }
    }

    /// Resets a connection no program has (or will have) and lets it go at the next reap.
    fn discard(&mut self, handle: SocketHandle) {
        self.sockets.get_mut::<Socket>(handle).abort();
        self.closing.push((handle, 0));
        self.unsent = true;
    }

    /// Removes closing connections that are done (or took too long: they are reset first).
    fn reap(&mut self) {
        let now_ns = time::monotonic_ns();
        let sockets = &mut self.sockets;
        let before = self.closing.len();
        self.closing.retain(|&(handle, since)| {
            let socket = sockets.get_mut::<Socket>(handle);
            match socket.state() {
                State::Closed | State::TimeWait => {
                    sockets.remove(handle);
                    false
                }
                _ if now_ns.saturating_sub(since) > LINGER_NS => {
                    socket.abort();
                    true
                }
                _ => true,
            }
        });
        let reaped = before.saturating_sub(self.closing.len());
        self.count = self.count.saturating_sub(reaped);
    }
}
