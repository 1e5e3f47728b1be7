//! TCP sockets as file descriptors: the listeners programs get for the `--tcplisten` ports,
//! and the connections `sock_accept` hands out, each a [`WasiFile`] over a socket of the
//! stack. Every call first lets the stack catch up ([`Stack::refresh`]), answers without
//! waiting (`EAGAIN` when it would have to: `wasi-abi` turns that into a blocked process
//! unless the fd is non-blocking), and leaves sending to the stack's next run.
//!
//! A listener or connection handed to a child process is shared: the port stops listening,
//! and the connection closes, when the last fd on it is gone.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{RecvError, Socket, State};
use wasi_abi::budget::{Budget, Charge};
use wasi_abi::file::{Readiness, WasiFile};
use wasi_abi::types::{Filetype, Sdflags};
use wasi_abi::{Errno, Platform, Result};

use super::{CONNECTION_BYTES, STACK, Stack};

/// The share (one in this many) of a process's memory limit that connections it accepts may
/// not take: room for the program's own memory, which grows with its connections too (a
/// server keeps buffers for each). Past it `sock_accept` says `ENOMEM` and the connection
/// waits in the queue, rather than the program's next allocation failing.
const ACCEPT_HEADROOM: u64 = 4;

/// A listener on the `listen` port `port` for the program's fd table, or `None` when the
/// machine has no network or the port is not in the list. The port listens from now on.
pub fn listener(port: u16) -> Option<Box<dyn WasiFile>> {
    let mut guard = STACK.lock();
    let stack = guard.as_mut()?;
    let index = stack.ports.iter().position(|p| p.number == port)?;
    Some(Box::new(TcpListener::hold(stack, index)))
}

/// Runs `f` on the stack after letting it catch up; `ENETDOWN` if there is none (it never
/// goes away once up, so this cannot happen to an existing socket).
fn with_stack<T>(f: impl FnOnce(&mut Stack) -> Result<T>) -> Result<T> {
    let mut guard = STACK.lock();
    let stack = guard.as_mut().ok_or(Errno::Netdown)?;
    stack.refresh();
    f(stack)
}

/// A listening socket: an index into the stack's ports.
struct TcpListener {
    port: usize,
}

impl TcpListener {
    fn hold(stack: &mut Stack, port: usize) -> TcpListener {
        if let Some(held) = stack.ports.get_mut(port) {
            held.holders = held.holders.saturating_add(1);
            if held.holders == 1 {
                stack.tend_ports();
                stack.unsent = true;
            }
        }
        TcpListener { port }
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        if let Some(stack) = STACK.lock().as_mut()
            && let Some(port) = stack.ports.get_mut(self.port)
        {
            port.holders = port.holders.saturating_sub(1);
            if port.holders == 0 {
                stack.close_port(self.port);
            }
        }
    }
}

impl WasiFile for TcpListener {
    fn filetype(&self) -> Filetype {
        Filetype::SocketStream
    }

    fn accept(
        &mut self,
        _platform: &mut dyn Platform,
        owner: &Rc<Budget>,
    ) -> Result<Box<dyn WasiFile>> {
        with_stack(|stack| {
            if stack
                .ports
                .get(self.port)
                .is_none_or(|p| p.ready.is_empty())
            {
                return Err(Errno::Again);
            }
            // The connection's buffers are the acceptor's from now on (it stays queued if
            // they would pass the acceptor's limit, its headroom kept). They were allocated
            // when it arrived, under the network's own floor, so the machine's floor is not
            // asked again: a floor above the network's would leave connections queued that
            // no one can accept, behind which new ones wait.
            let bytes = CONNECTION_BYTES as u64;
            if owner.room() < bytes.saturating_add(owner.limit() / ACCEPT_HEADROOM) {
                return Err(Errno::Nomem);
            }
            let charge = Rc::new(owner.charge_within_limit(bytes)?);
            while let Some(handle) = stack
                .ports
                .get_mut(self.port)
                .and_then(|p| p.ready.pop_front())
            {
                // A connection reset before it was accepted is dropped, as Linux does.
                if stack.sockets.get::<Socket>(handle).state() == State::Closed {
                    stack.discard(handle);
                    continue;
                }
                stack.tend_ports();
                let connection = Arc::new(Connection {
                    handle,
                    peer_finished: AtomicBool::new(false),
                    read_shut: AtomicBool::new(false),
                    write_shut: AtomicBool::new(false),
                });
                return Ok(Box::new(TcpStream(connection, charge)) as Box<dyn WasiFile>);
            }
            Err(Errno::Again)
        })
    }

    fn read(&mut self, _platform: &mut dyn Platform, _buf: &mut [u8]) -> Result<usize> {
        Err(Errno::Notconn)
    }

    fn write(&mut self, _platform: &mut dyn Platform, _data: &[u8]) -> Result<usize> {
        Err(Errno::Notconn)
    }

    fn shutdown(&mut self, _platform: &mut dyn Platform, _how: Sdflags) -> Result<()> {
        Err(Errno::Notconn)
    }

    fn read_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        with_stack(|stack| {
            let queued = stack
                .ports
                .get(self.port)
                .map_or(0, |port| port.ready.len());
            Ok(match queued {
                0 => Readiness::Pending,
                queued => Readiness::Ready {
                    nbytes: queued as u64,
                    hangup: false,
                },
            })
        })
    }

    fn write_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        Ok(Readiness::Pending)
    }

    fn duplicate(&self) -> Option<Box<dyn WasiFile>> {
        let mut guard = STACK.lock();
        let stack = guard.as_mut()?;
        Some(Box::new(TcpListener::hold(stack, self.port)))
    }
}

/// One accepted connection, shared by the fds on it.
struct Connection {
    handle: SocketHandle,
    /// The peer ended its side (seen before the socket may have forgotten it).
    peer_finished: AtomicBool,
    /// `sock_shutdown(RD)`: reads see the end.
    read_shut: AtomicBool,
    /// `sock_shutdown(WR)`: writes are `EPIPE`.
    write_shut: AtomicBool,
}

impl Connection {
    /// The connection's socket, noting whether the peer has ended its side.
    fn socket<'a>(&self, stack: &'a mut Stack) -> &'a mut Socket<'static> {
        let socket = stack.sockets.get_mut::<Socket>(self.handle);
        if matches!(
            socket.state(),
            State::CloseWait | State::LastAck | State::Closing | State::TimeWait
        ) {
            self.peer_finished.store(true, Ordering::Relaxed);
        }
        socket
    }

    /// Why the socket can no longer carry data: the peer reset it, or it was closed.
    fn broken(&self, socket: &Socket, closed: Errno) -> Errno {
        if socket.state() == State::Closed && !self.peer_finished.load(Ordering::Relaxed) {
            Errno::Connreset
        } else {
            closed
        }
    }

    fn receive(&self, stack: &mut Stack, buf: &mut [u8], peek: bool) -> Result<usize> {
        if self.read_shut.load(Ordering::Relaxed) {
            return Ok(0);
        }
        let socket = self.socket(stack);
        let received = if peek {
            socket.peek_slice(buf)
        } else {
            socket.recv_slice(buf)
        };
        match received {
            Ok(0) if !buf.is_empty() => Err(Errno::Again),
            // Room freed in the window reaches the peer with the next segment (the answer,
            // usually) or the stack's next run: no frame of its own just for that.
            Ok(count) => Ok(count),
            Err(RecvError::Finished) => {
                self.peer_finished.store(true, Ordering::Relaxed);
                Ok(0)
            }
            Err(RecvError::InvalidState) => match self.broken(socket, Errno::Notconn) {
                Errno::Notconn => Ok(0),
                errno => Err(errno),
            },
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(stack) = STACK.lock().as_mut() {
            stack.close(self.handle);
        }
    }
}

/// An fd on an accepted connection.
/// A connection as an fd holds it, with its buffers' charge to the process that accepted
/// it (shared by the fds a spawn hands on).
struct TcpStream(Arc<Connection>, Rc<Charge>);

impl WasiFile for TcpStream {
    fn filetype(&self) -> Filetype {
        Filetype::SocketStream
    }

    fn read(&mut self, _platform: &mut dyn Platform, buf: &mut [u8]) -> Result<usize> {
        with_stack(|stack| self.0.receive(stack, buf, false))
    }

    fn peek(&mut self, _platform: &mut dyn Platform, buf: &mut [u8]) -> Result<usize> {
        with_stack(|stack| self.0.receive(stack, buf, true))
    }

    fn write(&mut self, _platform: &mut dyn Platform, data: &[u8]) -> Result<usize> {
        with_stack(|stack| {
            if self.0.write_shut.load(Ordering::Relaxed) {
                return Err(Errno::Pipe);
            }
            let socket = self.0.socket(stack);
            match socket.send_slice(data) {
                Ok(0) if !data.is_empty() => Err(Errno::Again),
                Ok(count) => {
                    stack.unsent = true;
                    Ok(count)
                }
                Err(_) => Err(self.0.broken(socket, Errno::Pipe)),
            }
        })
    }

    fn shutdown(&mut self, _platform: &mut dyn Platform, how: Sdflags) -> Result<()> {
        with_stack(|stack| {
            if how.contains(Sdflags::RD) {
                self.0.read_shut.store(true, Ordering::Relaxed);
            }
            if how.contains(Sdflags::WR) && !self.0.write_shut.swap(true, Ordering::Relaxed) {
                self.0.socket(stack).close();
                stack.unsent = true;
            }
            Ok(())
        })
    }

    fn read_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        with_stack(|stack| {
            let read_shut = self.0.read_shut.load(Ordering::Relaxed);
            let socket = self.0.socket(stack);
            Ok(if socket.can_recv() && !read_shut {
                Readiness::Ready {
                    nbytes: socket.recv_queue() as u64,
                    hangup: false,
                }
            } else if !socket.may_recv() || read_shut {
                Readiness::Ready {
                    nbytes: 0,
                    hangup: true,
                }
            } else {
                Readiness::Pending
            })
        })
    }

    fn write_readiness(&mut self, _platform: &mut dyn Platform) -> Result<Readiness> {
        with_stack(|stack| {
            let socket = self.0.socket(stack);
            Ok(if socket.can_send() {
                Readiness::Ready {
                    nbytes: socket.send_capacity().saturating_sub(socket.send_queue()) as u64,
                    hangup: false,
                }
            } else if !socket.may_send() || self.0.write_shut.load(Ordering::Relaxed) {
                Readiness::Ready {
                    nbytes: 0,
                    hangup: true,
                }
            } else {
                Readiness::Pending
            })
        })
    }

    fn duplicate(&self) -> Option<Box<dyn WasiFile>> {
        Some(Box::new(TcpStream(self.0.clone(), Rc::clone(&self.1))))
    }
}
