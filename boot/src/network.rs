//! The host side of the guest's network card, for `--tcplisten`: which process forwards the
//! host's addresses to the guest, and the QEMU arguments that connect the card to it.
//!
//! The backend is QEMU's user networking (libslirp, inside QEMU, `-netdev user,hostfwd=...`).
//! libslirp listens on each host address with a backlog of 1, so a burst of simultaneous
//! connects (wrk opening 50) overflowed the host kernel's accept queue: the lost ones came
//! through on the client's SYN retransmission a second later, or never. Once QEMU listens,
//! the runner raises that backlog to [`BACKLOG`] on QEMU's own socket: it takes a copy of
//! the socket with `pidfd_getfd` (QEMU is its child) and calls `listen` on it again, which
//! Linux allows on a listening socket to change its backlog. Where that is refused (an old
//! kernel, a seccomp filter), a note says so and the run goes on.
//!
//! [passt](https://passt.top) is the other backend (`CELLA_NETWORK=passt`): a process of its
//! own, listening with a real backlog, on one end of a socket pair whose other end QEMU gets
//! (`-netdev stream`). The passt of Debian 12 (2023-03) costs more host CPU per request
//! than libslirp, and it never acknowledges the guest's SYN-ACK: a connection reaches the
//! guest's `accept` only once the client has sent something, so a server that speaks first
//! would wait forever. passt ends by itself when its end of the socket pair closes, that is
//! when QEMU ends, even if the runner was killed; the runner also stops it.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cella_proto::net::{GATEWAY, GUEST, PREFIX_LEN};

/// The environment variable that picks the backend: [`USER`] (the default) or [`PASST`].
pub const BACKEND_VARIABLE: &str = "CELLA_NETWORK";
/// The listen backlog QEMU's sockets get (Linux caps it at `net.core.somaxconn`, 4096).
const BACKLOG: libc::c_int = 4096;
/// How long after QEMU's start the runner looks for QEMU's listening sockets; QEMU opens them
/// while it starts, before the guest runs.
const BACKLOG_SEARCH: Duration = Duration::from_secs(10);
/// The passt command, and its name as a value of [`BACKEND_VARIABLE`].
const PASST: &str = "passt";
/// QEMU's user networking, as a value of [`BACKEND_VARIABLE`].
const USER: &str = "user";
/// The id of the netdev the card is attached to.
const NETDEV: &str = "net0";
/// passt's messages, in the run's directory: the last one says why it ended early.
const PASST_LOG: &str = "passt.log";

/// The guest's network for one run. Dropping it stops passt.
pub struct Network {
    /// QEMU's `-netdev` and `-device` arguments.
    args: Vec<String>,
    passt: Option<Passt>,
    /// With user networking: the addresses whose backlog is still to raise on QEMU's sockets.
    backlog_to_raise: Vec<SocketAddr>,
    /// When QEMU started, for [`BACKLOG_SEARCH`].
    qemu_started: Option<Instant>,
}

/// A running passt and QEMU's end of the socket pair.
struct Passt {
    child: Child,
    /// QEMU's end, until QEMU has it (see [`Network::qemu_started`]).
    qemu_end: Option<OwnedFd>,
    log: PathBuf,
}

impl Network {
    /// Prepares the network for `listen` (`--tcplisten`), or `None` when it is empty: checks
    /// that each address can be listened on, and starts passt unless QEMU's user networking
    /// is the backend. The error is one sentence for the user.
    pub fn start(listen: &[SocketAddr], run_dir: &Path) -> Result<Option<Network>, String> {
        if listen.is_empty() {
            return Ok(None);
        }
        for &address in listen {
            check_free(address)?;
        }
        let wanted = std::env::var(BACKEND_VARIABLE).unwrap_or_default();
        match wanted.as_str() {
            "" | USER => Ok(Some(Network {
                args: card_args(user_netdev(listen)),
                passt: None,
                backlog_to_raise: listen.to_vec(),
                qemu_started: None,
            })),
            PASST if listen.iter().any(SocketAddr::is_ipv6) => Err(format!(
                "passt cannot forward IPv6 host addresses to Cella's IPv4 guest: unset {BACKEND_VARIABLE} or give IPv4 addresses"
            )),
            PASST => match Passt::start(listen, run_dir)? {
                Some(passt) => {
                    let fd = passt.qemu_end.as_ref().map_or(-1, AsRawFd::as_raw_fd);
                    Ok(Some(Network {
                        args: card_args(format!(
                            "stream,id={NETDEV},server=off,addr.type=fd,addr.str={fd}"
                        )),
                        passt: Some(passt),
                        backlog_to_raise: Vec::new(),
                        qemu_started: None,
                    }))
                }
                None => Err(format!(
                    "passt is not installed: install it with `apt-get install passt`, or unset {BACKEND_VARIABLE}"
                )),
            },
            other => Err(format!(
                "{BACKEND_VARIABLE}={other} is not a network backend: set it to `{USER}` or `{PASST}`, or unset it"
            )),
        }
    }

    /// QEMU's arguments for the card and its backend.
    pub fn qemu_args(&self) -> &[String] {
        &self.args
    }

    /// Lets `qemu` inherit its end of the socket pair (the other fds stay close-on-exec).
    pub fn hand_to(&self, qemu: &mut Command) {
        if let Some(fd) = self.passt.as_ref().and_then(|p| p.qemu_end.as_ref()) {
            inherit(qemu, fd.as_raw_fd());
        }
    }

    /// Closes the runner's copy of QEMU's end once QEMU has its own, so that passt sees the
    /// end of the stream when QEMU ends.
    pub fn qemu_started(&mut self) {
        self.qemu_started = Some(Instant::now());
        if let Some(passt) = self.passt.as_mut() {
            passt.qemu_end = None;
        }
    }

    /// Called while QEMU (process `qemu`) runs: raises the backlog of QEMU's listening
    /// sockets once they are there, and returns why the backend stopped, if it did (passt
    /// ended: it could not listen on an address, say), in one sentence for the user.
    pub fn tend(&mut self, qemu: u32) -> Option<String> {
        if !self.backlog_to_raise.is_empty() {
            self.raise_backlog(qemu);
        }
        self.failure()
    }

    /// Raises the backlog of the sockets QEMU listens on so far; after [`BACKLOG_SEARCH`],
    /// or when the system refuses, gives up with a note.
    fn raise_backlog(&mut self, qemu: u32) {
        let result = raise_backlogs(qemu, &mut self.backlog_to_raise);
        let late = self
            .qemu_started
            .is_some_and(|started| started.elapsed() > BACKLOG_SEARCH);
        let problem = match result {
            Err(error) => Some(error.to_string()),
            Ok(()) if late && !self.backlog_to_raise.is_empty() => {
                Some("QEMU's listening socket was not found".to_string())
            }
            Ok(()) => None,
        };
        if let Some(problem) = problem {
            eprintln!(
                "cella: note: cannot raise the listen backlog of QEMU's user networking ({problem}): connections that arrive in a burst may be delayed or lost"
            );
            self.backlog_to_raise.clear();
        }
    }

    fn failure(&mut self) -> Option<String> {
        let passt = self.passt.as_mut()?;
        let status = passt.child.try_wait().ok().flatten()?;
        let log = fs::read_to_string(&passt.log).unwrap_or_default();
        // passt reports to the system logger too, and says so on stderr when it cannot.
        let last = log
            .lines()
            .map(str::trim)
            .rfind(|line| !line.is_empty() && !line.starts_with("Failed to send"))
            .unwrap_or("no message");
        Some(format!(
            "passt, which forwards the --tcplisten addresses, ended ({status}: {last}): free the addresses, or unset {BACKEND_VARIABLE} to use QEMU's user networking"
        ))
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Some(passt) = self.passt.as_mut() {
            // It has nothing to save; it would end by itself once QEMU's end is closed.
            let _ = passt.child.kill();
            let _ = passt.child.wait();
        }
    }
}

impl Passt {
    /// Starts passt forwarding `listen` (IPv4 addresses) to the same guest ports over one end
    /// of a new socket pair; `None` if passt is not installed.
    fn start(listen: &[SocketAddr], run_dir: &Path) -> Result<Option<Passt>, String> {
        let (passt_end, qemu_end) = UnixStream::pair()
            .map_err(|e| format!("cannot create a socket pair for passt: {e}"))?;
        let log = run_dir.join(PASST_LOG);
        let log_file =
            fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut command = Command::new(PASST);
        // In the foreground, quiet, IPv4 only, on the given socket (ending when it closes),
        // with the guest's static addresses, and no UDP ports or DHCP: the guest needs only
        // the TCP ports.
        command
            .args(["--foreground", "--quiet", "--ipv4-only", "--fd"])
            .arg(passt_end.as_raw_fd().to_string())
            .args(["--address", &GUEST.to_string()])
            .args(["--netmask", &PREFIX_LEN.to_string()])
            .args(["--gateway", &GATEWAY.to_string()])
            .args(["--udp-ports", "none", "--no-dhcp"]);
        for address in listen {
            command.args([
                "--tcp-ports",
                &format!("{}/{}", address.ip(), address.port()),
            ]);
        }
        inherit(&mut command, passt_end.as_raw_fd());
        let spawned = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn();
        match spawned {
            Ok(child) => Ok(Some(Passt {
                child,
                qemu_end: Some(qemu_end.into()),
                log,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot start passt: {e}")),
        }
    }
}

/// The virtio card on the netdev `netdev`.
fn card_args(netdev: String) -> Vec<String> {
    vec![
        "-netdev".into(),
        netdev,
        "-device".into(),
        format!("virtio-net-pci,netdev={NETDEV}"),
    ]
}

/// QEMU user networking with each `--tcplisten` address forwarded to the same port of the
/// guest: the guest is reachable only there (loopback, as a rule). Its default addresses are
/// the guest's configuration.
fn user_netdev(listen: &[SocketAddr]) -> String {
    let mut netdev = format!("user,id={NETDEV}");
    for address in listen {
        let port = address.port();
        match address {
            SocketAddr::V4(v4) => {
                netdev.push_str(&format!(",hostfwd=tcp:{}:{port}-{GUEST}:{port}", v4.ip()));
            }
            SocketAddr::V6(v6) => {
                netdev.push_str(&format!(",hostfwd=tcp:[{}]:{port}-{GUEST}:{port}", v6.ip()));
            }
        }
    }
    netdev
}

/// Fails with a sentence saying what to do when `address` cannot be listened on (in use,
/// not an address of this host, a privileged port). The backend listens there next.
fn check_free(address: SocketAddr) -> Result<(), String> {
    TcpListener::bind(address).map(drop).map_err(|e| {
        let advice = match e.kind() {
            std::io::ErrorKind::AddrInUse => "stop what listens there or choose another port",
            std::io::ErrorKind::AddrNotAvailable => "give an address of this host",
            std::io::ErrorKind::PermissionDenied => "choose a port above 1023",
            _ => "choose another address",
        };
        format!("cannot listen on {address} for --tcplisten ({e}): {advice}")
    })
}

/// Raises the listen backlog of QEMU's sockets (process `qemu`) bound to one of `addresses`
/// to [`BACKLOG`], and removes those from `addresses`. An error means the system does not let
/// the runner do it at all.
fn raise_backlogs(qemu: u32, addresses: &mut Vec<SocketAddr>) -> std::io::Result<()> {
    let qemu = libc::pid_t::try_from(qemu).map_err(std::io::Error::other)?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, qemu, 0) };
    let pidfd = owned(pidfd)?;
    for entry in fs::read_dir(format!("/proc/{qemu}/fd"))?.flatten() {
        let is_socket = fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let Some(target) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if !is_socket {
            continue;
        }
        // SAFETY: pidfd_getfd takes a pidfd, an fd number in that process and flags, and
        // returns a new fd of ours (close-on-exec) on the same open socket, or -1.
        let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) };
        let socket = TcpListener::from(owned(copy)?);
        let Ok(bound) = socket.local_addr() else {
            continue;
        };
        if !listening(&socket) || !addresses.contains(&bound) {
            continue;
        }
        // Linux lets `listen` on a listening socket change its backlog, and nothing else.
        // SAFETY: listen takes an fd of ours and a number.
        if unsafe { libc::listen(socket.as_raw_fd(), BACKLOG) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        addresses.retain(|&address| address != bound);
    }
    Ok(())
}

/// A system call's new fd, or its error.
fn owned(fd: libc::c_long) -> std::io::Result<OwnedFd> {
    let fd = RawFd::try_from(fd).map_err(std::io::Error::other)?;
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the system call just returned this fd, which nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether `socket` is a listening one (`SO_ACCEPTCONN`).
fn listening(socket: &TcpListener) -> bool {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes to `value`, an int, and its length to `len`.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    result == 0 && value != 0
}

/// Makes `fd` survive into the program `command` runs (it is close-on-exec here).
fn inherit(command: &mut Command, fd: RawFd) {
    let pre_exec = move || {
        // SAFETY: this runs in the child between fork and exec, where only async-signal-safe
        // calls may be made: fcntl is a bare system call, on an fd the child inherited.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: `pre_exec` only makes an async-signal-safe call, as a closure run between fork
    // and exec must.
    unsafe {
        command.pre_exec(pre_exec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_networking_forwards_each_address_to_the_guest_port() {
        let listen: Vec<SocketAddr> = ["127.0.0.1:8080", "[::1]:81"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(
            user_netdev(&listen),
            "user,id=net0,\
             hostfwd=tcp:127.0.0.1:8080-10.0.2.15:8080,hostfwd=tcp:[::1]:81-10.0.2.15:81"
        );
    }

    #[test]
    fn an_address_in_use_is_refused_with_advice() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let error = check_free(taken.local_addr().unwrap()).unwrap_err();
        assert!(error.contains("stop what listens there"), "{error}");
    }
}
