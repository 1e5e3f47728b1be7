//! Host tests of the socket syscalls through `dispatch`, over a fake TCP stack: a listener
//! with a queue of connections, each connection's two directions shared with the test,
//! which plays the peer. A listener is handed over as wasmi's `--tcplisten` does: fd 3.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use std::rc::Rc;

use super::{Harness, poll};
use crate::budget::{Budget, Charge};
use crate::errno::{Errno, Result};
use crate::fdtable::{FdEntry, LISTENER_RIGHTS, STREAM_RIGHTS};
use crate::file::{Readiness, Stdio, WasiFile};
use crate::outcome::{Outcome, Trap};
use crate::platform::Platform;
use crate::syscalls::{dispatch, lookup};
use crate::types::{
    Event, Eventrwflags, Eventtype, Fdflags, Fdstat, Filetype, Riflags, Rights, Sdflags,
    Subscription, SubscriptionKind,
};

const LISTENER: u64 = 3;
const IOV: u32 = 0x2000;
const OUT: u32 = 0x2100;
const FLAGS_OUT: u32 = 0x2104;
const STAT: u32 = 0x2200;
const DATA: u32 = 0x4000;
/// Past the end of the harness's 64 KiB memory.
const OUT_OF_BOUNDS: u64 = 0x1_0000;

/// One connection as the peer sees it.
#[derive(Default)]
struct Peer {
    /// Bytes the peer sent, not yet received by the program.
    incoming: VecDeque<u8>,
    /// Bytes the program sent.
    outgoing: Vec<u8>,
    /// The peer sent its end of stream.
    peer_done: bool,
    /// The peer reset the connection.
    reset: bool,
    /// Room in the send buffer.
    room: usize,
    /// The program shut down its receiving / sending side.
    shut_read: bool,
    shut_write: bool,
    /// The program's fd was closed.
    closed: bool,
}

type Shared = Rc<RefCell<Peer>>;

/// A connected socket of the fake stack.
struct Stream(
    Shared,
    #[allow(dead_code, reason = "held for its drop")] Charge,
);

/// What the fake stack charges the acceptor for a connection.
const CONNECTION_BYTES: u64 = 48 * 1024;

impl Drop for Stream {
    fn drop(&mut self) {
        self.0.borrow_mut().closed = true;
    }
}

impl Stream {
    /// Copies the queued incoming bytes that fit into `buf`, leaving them queued.
    fn look(&self, buf: &mut [u8]) -> Result<usize> {
        let peer = self.0.borrow();
        if peer.reset {
            return Err(Errno::Connreset);
        }
        if peer.incoming.is_empty() {
            return if peer.peer_done || peer.shut_read {
                Ok(0)
            } else {
                Err(Errno::Again)
            };
        }
        let n = buf.len().min(peer.incoming.len());
        for (dst, src) in buf.iter_mut().zip(peer.incoming.iter()) {
            *dst = *src;
        }
        Ok(n)
    }
}

impl WasiFile for Stream {
    fn filetype(&self) -> Filetype {
        Filetype::SocketStream
    }

    fn read(&mut self, _: &mut dyn Platform, buf: &mut [u8]) -> Result<usize> {
        let n = self.look(buf)?;
        self.0.borrow_mut().incoming.drain(..n);
        Ok(n)
    }

    fn peek(&mut self, _: &mut dyn Platform, buf: &mut [u8]) -> Result<usize> {
        self.look(buf)
    }

    fn write(&mut self, _: &mut dyn Platform, data: &[u8]) -> Result<usize> {
        let mut peer = self.0.borrow_mut();
        if peer.reset {
            return Err(Errno::Connreset);
        }
        if peer.shut_write {
            return Err(Errno::Pipe);
        }
        let n = data.len().min(peer.room);
        if n == 0 {
            return Err(Errno::Again);
        }
        peer.room -= n;
        peer.outgoing.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn shutdown(&mut self, _: &mut dyn Platform, how: Sdflags) -> Result<()> {
        let mut peer = self.0.borrow_mut();
        peer.shut_read |= how.contains(Sdflags::RD);
        peer.shut_write |= how.contains(Sdflags::WR);
        Ok(())
    }

    fn read_readiness(&mut self, _: &mut dyn Platform) -> Result<Readiness> {
        let peer = self.0.borrow();
        Ok(
            if !peer.incoming.is_empty() || peer.peer_done || peer.reset {
                Readiness::Ready {
                    nbytes: peer.incoming.len() as u64,
                    hangup: peer.peer_done || peer.reset,
                }
            } else {
                Readiness::Pending
            },
        )
    }

    fn write_readiness(&mut self, _: &mut dyn Platform) -> Result<Readiness> {
        let peer = self.0.borrow();
        Ok(if peer.room > 0 {
            Readiness::Ready {
                nbytes: peer.room as u64,
                hangup: false,
            }
        } else {
            Readiness::Pending
        })
    }
}

/// The fake stack's listening socket: connections the test queued, oldest first.
#[derive(Clone, Default)]
struct Listener(Rc<RefCell<VecDeque<Shared>>>);

impl Listener {
    /// Queues a connection whose send buffer has `room` bytes; returns the peer's side.
    fn connect(&self, room: usize) -> Shared {
        let peer = Rc::new(RefCell::new(Peer {
            room,
            ..Peer::default()
        }));
        self.0.borrow_mut().push_back(peer.clone());
        peer
    }

    fn queued(&self) -> usize {
        self.0.borrow().len()
    }
}

impl WasiFile for Listener {
    fn filetype(&self) -> Filetype {
        Filetype::SocketStream
    }

    fn accept(&mut self, _: &mut dyn Platform, owner: &Rc<Budget>) -> Result<Box<dyn WasiFile>> {
        if self.queued() == 0 {
            return Err(Errno::Again);
        }
        let charge = owner.charge(CONNECTION_BYTES)?;
        let peer = self.0.borrow_mut().pop_front().ok_or(Errno::Again)?;
        Ok(Box::new(Stream(peer, charge)))
    }

    fn read(&mut self, _: &mut dyn Platform, _: &mut [u8]) -> Result<usize> {
        Err(Errno::Notconn)
    }

    fn shutdown(&mut self, _: &mut dyn Platform, _: Sdflags) -> Result<()> {
        Err(Errno::Notconn)
    }

    fn read_readiness(&mut self, _: &mut dyn Platform) -> Result<Readiness> {
        Ok(match self.queued() {
            0 => Readiness::Pending,
            n => Readiness::Ready {
                nbytes: n as u64,
                hangup: false,
            },
        })
    }

    fn write_readiness(&mut self, _: &mut dyn Platform) -> Result<Readiness> {
        Ok(Readiness::Pending)
    }

    fn duplicate(&self) -> Option<Box<dyn WasiFile>> {
        Some(Box::new(self.clone()))
    }
}

/// A harness whose fd 3 is a fresh listener.
fn listening() -> (Harness, Listener) {
    let mut h = Harness::new();
    let listener = Listener::default();
    let fd = h.ctx.add_listener(Box::new(listener.clone())).unwrap();
    assert_eq!(u64::from(fd), LISTENER);
    (h, listener)
}

/// One attempt at a call, without the harness's waiting: what the kernel sees first.
fn once(h: &mut Harness, name: &str, args: &[u64]) -> Outcome {
    dispatch(&mut h.ctx, &mut h.mem, lookup(name).unwrap(), args)
}

fn accept(h: &mut Harness, flags: Fdflags) -> core::result::Result<u64, Errno> {
    match h.errno("sock_accept", &[LISTENER, flags.bits().into(), OUT.into()]) {
        Errno::Success => Ok(h.u32_at(OUT).into()),
        errno => Err(errno),
    }
}

fn fdstat(h: &mut Harness, fd: u64) -> Fdstat {
    h.ok("fd_fdstat_get", &[fd, STAT.into()]);
    h.read::<Fdstat>(STAT)
}

/// `sock_recv` into one buffer of `len` at DATA; the bytes received.
fn recv(
    h: &mut Harness,
    fd: u64,
    len: u32,
    flags: Riflags,
) -> core::result::Result<Vec<u8>, Errno> {
    h.set_iovecs(IOV, &[(DATA, len)]);
    let args = [
        fd,
        IOV.into(),
        1,
        flags.bits().into(),
        OUT.into(),
        FLAGS_OUT.into(),
    ];
    match h.errno("sock_recv", &args) {
        Errno::Success => {
            assert_eq!(h.bytes(FLAGS_OUT, 2), [0, 0], "no output flag on a stream");
            Ok(h.bytes(DATA, h.u32_at(OUT) as usize).to_vec())
        }
        errno => Err(errno),
    }
}

fn send_args(fd: u64) -> [u64; 5] {
    [fd, IOV.into(), 1, 0, OUT.into()]
}

/// `sock_send` of `data` from DATA; the count sent.
fn send(h: &mut Harness, fd: u64, data: &[u8]) -> core::result::Result<u32, Errno> {
    h.set_bytes(DATA, data);
    h.set_iovecs(IOV, &[(DATA, data.len() as u32)]);
    match h.errno("sock_send", &send_args(fd)) {
        Errno::Success => Ok(h.u32_at(OUT)),
        errno => Err(errno),
    }
}

#[test]
fn a_listener_comes_right_after_stdio_as_a_nonblocking_socket() {
    let (mut h, _listener) = listening();
    let stat = fdstat(&mut h, LISTENER);
    assert_eq!(stat.filetype, Filetype::SocketStream);
    // As wasmi and wasmtime hand it over: Go's runtime polls it only when it says NONBLOCK.
    assert_eq!(stat.flags, Fdflags::NONBLOCK);
    assert_eq!(stat.rights_base, LISTENER_RIGHTS);
    // wasi-libc's preopen scan stops at the first EBADF, as it does under wasmtime.
    assert_eq!(
        h.errno("fd_prestat_get", &[LISTENER, OUT.into()]),
        Errno::Badf
    );
    // A listener is no stream: reading it fails, as on Linux.
    h.set_iovecs(IOV, &[(DATA, 8)]);
    assert_eq!(
        h.errno("fd_read", &[LISTENER, IOV.into(), 1, OUT.into()]),
        Errno::Badf
    );
}

#[test]
fn accept_without_a_connection_is_eagain_until_the_listener_is_made_blocking() {
    let (mut h, listener) = listening();
    let args = [LISTENER, 0, OUT.into()];
    assert_eq!(
        once(&mut h, "sock_accept", &args),
        Outcome::Return(Errno::Again),
        "a listener as handed over does not block"
    );
    h.ok("fd_fdstat_set_flags", &[LISTENER, 0]);
    assert_eq!(
        once(&mut h, "sock_accept", &args),
        Outcome::Block { deadline: None }
    );
    h.ok(
        "fd_fdstat_set_flags",
        &[LISTENER, Fdflags::NONBLOCK.bits().into()],
    );
    assert_eq!(accept(&mut h, Fdflags::EMPTY), Err(Errno::Again));

    listener.connect(100);
    listener.connect(100);
    let first = accept(&mut h, Fdflags::EMPTY).unwrap();
    assert_eq!(first, 4);
    let stat = fdstat(&mut h, first);
    assert_eq!(stat.filetype, Filetype::SocketStream);
    assert_eq!(stat.flags, Fdflags::EMPTY);
    assert_eq!(stat.rights_base, STREAM_RIGHTS);
    // accept4(SOCK_NONBLOCK): the new fd gets the flag.
    let second = accept(&mut h, Fdflags::NONBLOCK).unwrap();
    assert_eq!(fdstat(&mut h, second).flags, Fdflags::NONBLOCK);
    assert_eq!(listener.queued(), 0);
}

#[test]
fn accept_checks_the_fd_the_flags_and_the_output_before_taking_a_connection() {
    let (mut h, listener) = listening();
    listener.connect(10);
    assert_eq!(
        h.errno("sock_accept", &[9, 0, OUT.into()]),
        Errno::Badf,
        "closed fd"
    );
    assert_eq!(h.errno("sock_accept", &[1, 0, OUT.into()]), Errno::Notsock);
    let append = Fdflags::APPEND.bits().into();
    assert_eq!(
        h.errno("sock_accept", &[LISTENER, append, OUT.into()]),
        Errno::Inval
    );
    assert_eq!(
        h.errno("sock_accept", &[LISTENER, 1 << 20, OUT.into()]),
        Errno::Inval
    );
    assert_eq!(
        h.trap("sock_accept", &[LISTENER, 0, OUT_OF_BOUNDS]),
        Trap::MemoryOutOfBounds
    );
    assert_eq!(
        listener.queued(),
        1,
        "a failed accept leaves the connection queued"
    );

    // A full fd table is EMFILE, and the connection waits for a later accept.
    while h
        .ctx
        .fds()
        .insert(FdEntry::new(Stdio::Stdout.boxed(), Rights::FD_WRITE))
        .is_ok()
    {}
    assert_eq!(accept(&mut h, Fdflags::EMPTY), Err(Errno::Mfile));
    assert_eq!(listener.queued(), 1);
    h.ok("fd_close", &[100]);
    assert_eq!(accept(&mut h, Fdflags::EMPTY), Ok(100));
}

#[test]
fn connections_are_charged_to_the_acceptor_and_refused_past_its_limit() {
    let (mut h, listener) = listening();
    listener.connect(10);
    listener.connect(10);
    let account = h.ctx.account().clone();
    account.set_limit(account.used() + CONNECTION_BYTES + crate::fdtable::FD_BYTES);
    let first = accept(&mut h, Fdflags::EMPTY).unwrap();
    assert_eq!(account.room(), 0);
    assert_eq!(accept(&mut h, Fdflags::EMPTY), Err(Errno::Nomem));
    assert_eq!(listener.queued(), 1, "the refused connection stays queued");
    h.ok("fd_close", &[first]);
    assert!(
        accept(&mut h, Fdflags::EMPTY).is_ok(),
        "closing gave the room back"
    );
}

#[test]
fn a_directory_or_a_console_is_not_a_socket() {
    let (mut h, _listener) = listening();
    h.ctx
        .add_preopen(b"/", crate::vfs::Vfs::new(0).root())
        .unwrap();
    for fd in [0, 1, 4] {
        assert_eq!(h.errno("sock_accept", &[fd, 0, OUT.into()]), Errno::Notsock);
        assert_eq!(h.errno("sock_shutdown", &[fd, 3]), Errno::Notsock);
        assert_eq!(
            h.errno("sock_send", &[fd, IOV.into(), 0, 0, OUT.into()]),
            Errno::Notsock
        );
        let recv_args = [fd, IOV.into(), 0, 0, OUT.into(), FLAGS_OUT.into()];
        assert_eq!(h.errno("sock_recv", &recv_args), Errno::Notsock);
    }
}

#[test]
fn recv_takes_what_is_there_peek_leaves_it_and_the_end_reads_zero() {
    let (mut h, listener) = listening();
    let peer = listener.connect(100);
    let fd = accept(&mut h, Fdflags::EMPTY).unwrap();
    peer.borrow_mut().incoming.extend(b"GET / HTTP/1.1\r\n");
    assert_eq!(recv(&mut h, fd, 3, Riflags::RECV_PEEK).unwrap(), b"GET");
    assert_eq!(recv(&mut h, fd, 3, Riflags::RECV_PEEK).unwrap(), b"GET");
    // Two iovecs: the first filled, the second takes the rest that is there.
    h.set_iovecs(IOV, &[(DATA, 4), (DATA + 0x100, 64)]);
    let args = [fd, IOV.into(), 2, 0, OUT.into(), FLAGS_OUT.into()];
    h.ok("sock_recv", &args);
    assert_eq!(h.u32_at(OUT), 16);
    assert_eq!(h.bytes(DATA, 4), b"GET ");
    assert_eq!(h.bytes(DATA + 0x100, 12), b"/ HTTP/1.1\r\n");
    // Nothing there: a blocking recv waits, a non-blocking one is EAGAIN.
    let args = [fd, IOV.into(), 1, 0, OUT.into(), FLAGS_OUT.into()];
    assert_eq!(
        once(&mut h, "sock_recv", &args),
        Outcome::Block { deadline: None }
    );
    h.ok(
        "fd_fdstat_set_flags",
        &[fd, Fdflags::NONBLOCK.bits().into()],
    );
    assert_eq!(recv(&mut h, fd, 8, Riflags::EMPTY), Err(Errno::Again));
    // The peer's end of stream reads as 0, by sock_recv and fd_read alike.
    peer.borrow_mut().peer_done = true;
    assert_eq!(recv(&mut h, fd, 8, Riflags::EMPTY), Ok(vec![]));
    h.set_iovecs(IOV, &[(DATA, 8)]);
    h.ok("fd_read", &[fd, IOV.into(), 1, OUT.into()]);
    assert_eq!(h.u32_at(OUT), 0);
    // WAITALL is accepted; an undefined flag is not.
    assert_eq!(recv(&mut h, fd, 8, Riflags::RECV_WAITALL), Ok(vec![]));
    assert_eq!(
        h.errno(
            "sock_recv",
            &[fd, IOV.into(), 1, 4, OUT.into(), FLAGS_OUT.into()]
        ),
        Errno::Inval
    );
}

#[test]
fn recv_traps_on_bad_buffers_without_consuming() {
    let (mut h, listener) = listening();
    let peer = listener.connect(100);
    let fd = accept(&mut h, Fdflags::EMPTY).unwrap();
    peer.borrow_mut().incoming.extend(b"data");
    h.set_iovecs(IOV, &[(DATA, 4), (0xfff0, 0x100)]);
    let args = [fd, IOV.into(), 2, 0, OUT.into(), FLAGS_OUT.into()];
    assert_eq!(h.trap("sock_recv", &args), Trap::MemoryOutOfBounds);
    h.set_iovecs(IOV, &[(DATA, 4)]);
    let args = [fd, IOV.into(), 1, 0, OUT.into(), OUT_OF_BOUNDS];
    assert_eq!(h.trap("sock_recv", &args), Trap::MemoryOutOfBounds);
    let args = [fd, IOV.into(), 1, 0, OUT.into(), (FLAGS_OUT + 1).into()];
    assert_eq!(h.trap("sock_recv", &args), Trap::Misaligned);
    assert_eq!(peer.borrow().incoming.len(), 4, "nothing was consumed");
    assert_eq!(recv(&mut h, fd, 4, Riflags::EMPTY).unwrap(), b"data");
}

#[test]
fn a_reset_connection_is_econnreset() {
    let (mut h, listener) = listening();
    let peer = listener.connect(100);
    let fd = accept(&mut h, Fdflags::EMPTY).unwrap();
    peer.borrow_mut().reset = true;
    assert_eq!(recv(&mut h, fd, 8, Riflags::EMPTY), Err(Errno::Connreset));
    assert_eq!(send(&mut h, fd, b"x"), Err(Errno::Connreset));
}

#[test]
fn send_takes_what_fits_and_blocks_when_nothing_does() {
    let (mut h, listener) = listening();
    let peer = listener.connect(10);
    let fd = accept(&mut h, Fdflags::EMPTY).unwrap();
    assert_eq!(send(&mut h, fd, b"HTTP/1.1 200 OK\r\n"), Ok(10));
    assert_eq!(peer.borrow().outgoing, b"HTTP/1.1 2");
    // Backpressure: a full buffer blocks the writer until the peer reads.
    h.set_iovecs(IOV, &[(DATA, 4)]);
    assert_eq!(
        once(&mut h, "sock_send", &send_args(fd)),
        Outcome::Block { deadline: None }
    );
    assert_eq!(
        once(&mut h, "fd_write", &[fd, IOV.into(), 1, OUT.into()]),
        Outcome::Block { deadline: None }
    );
    peer.borrow_mut().room = 4;
    h.set_bytes(DATA, b"00 O");
    h.ok("fd_write", &[fd, IOV.into(), 1, OUT.into()]);
    assert_eq!(peer.borrow().outgoing, b"HTTP/1.1 200 O");
    h.ok(
        "fd_fdstat_set_flags",
        &[fd, Fdflags::NONBLOCK.bits().into()],
    );
    assert_eq!(send(&mut h, fd, b"K"), Err(Errno::Again));
    // si_flags has no defined bit.
    assert_eq!(
        h.errno("sock_send", &[fd, IOV.into(), 1, 1, OUT.into()]),
        Errno::Inval
    );
    assert_eq!(
        h.trap("sock_send", &[fd, IOV.into(), 1, 0, OUT_OF_BOUNDS]),
        Trap::MemoryOutOfBounds
    );
}

#[test]
fn shutdown_ends_a_direction_and_close_releases_the_connection() {
    let (mut h, listener) = listening();
    let peer = listener.connect(100);
    let fd = accept(&mut h, Fdflags::EMPTY).unwrap();
    assert_eq!(h.errno("sock_shutdown", &[fd, 0]), Errno::Inval);
    assert_eq!(h.errno("sock_shutdown", &[fd, 4]), Errno::Inval);
    assert_eq!(h.errno("sock_shutdown", &[LISTENER, 3]), Errno::Notconn);
    h.ok("sock_shutdown", &[fd, Sdflags::WR.bits().into()]);
    assert!(peer.borrow().shut_write && !peer.borrow().shut_read);
    assert_eq!(send(&mut h, fd, b"late"), Err(Errno::Pipe));
    h.ok("sock_shutdown", &[fd, Sdflags::RD.bits().into()]);
    assert_eq!(recv(&mut h, fd, 8, Riflags::EMPTY), Ok(vec![]));
    assert!(!peer.borrow().closed);
    h.ok("fd_close", &[fd]);
    assert!(peer.borrow().closed);
    assert_eq!(h.errno("sock_shutdown", &[fd, 3]), Errno::Badf);
}

#[test]
fn poll_reports_a_waiting_connection_and_readable_or_writable_streams() {
    let (mut h, listener) = listening();
    let sub = |userdata: u64, kind| Subscription { userdata, kind };
    let peer = listener.connect(0);
    let fd = accept(&mut h, Fdflags::EMPTY).unwrap() as u32;
    listener.connect(0);
    let events = poll(
        &mut h,
        &[
            sub(1, SubscriptionKind::FdRead(LISTENER as u32)),
            sub(2, SubscriptionKind::FdRead(fd)),
            sub(3, SubscriptionKind::FdWrite(fd)),
        ],
    )
    .unwrap();
    assert_eq!(
        events,
        [Event {
            userdata: 1,
            error: Errno::Success,
            kind: Eventtype::FdRead,
            nbytes: 1,
            flags: Eventrwflags::EMPTY,
        }]
    );
    // Nothing ready: the poll blocks until something changes.
    h.write(0x3000, &sub(2, SubscriptionKind::FdRead(fd)));
    let args = [0x3000, 0x3100, 1, OUT.into()];
    assert_eq!(
        once(&mut h, "poll_oneoff", &args),
        Outcome::Block { deadline: None }
    );
    peer.borrow_mut().incoming.extend(b"abc");
    peer.borrow_mut().peer_done = true;
    peer.borrow_mut().room = 5;
    let events = poll(
        &mut h,
        &[
            sub(2, SubscriptionKind::FdRead(fd)),
            sub(3, SubscriptionKind::FdWrite(fd)),
        ],
    )
    .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[0].nbytes, events[0].flags),
        (3, Eventrwflags::FD_READWRITE_HANGUP)
    );
    assert_eq!((events[1].kind, events[1].nbytes), (Eventtype::FdWrite, 5));
}

#[test]
fn a_child_gets_the_callers_listener() {
    use crate::control::{Group, Spawn, child_fds};
    let (h, listener) = listening();
    let request = Spawn {
        program_fd: 0,
        args: vec![b"httpd".to_vec()],
        env: vec![],
        stdio: [0, 1, 2],
        preopens: vec![(3, Vec::new())],
        group: Group::Caller,
        memory_limit: 0,
        fuel_limit: 0,
        max_fds: 0,
    };
    let mut table = child_fds(&h.ctx, &request).unwrap();
    let entry = table.get_mut(3).unwrap();
    assert_eq!(entry.filetype(), Filetype::SocketStream);
    assert_eq!(entry.rights_base, LISTENER_RIGHTS);
    listener.connect(1);
    let mut fake = super::Fake::default();
    assert!(
        entry
            .file_mut()
            .unwrap()
            .accept(&mut fake, &Budget::new(u64::MAX, Errno::Nomem))
            .is_ok()
    );
}
