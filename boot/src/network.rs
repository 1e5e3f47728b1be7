//! The host side of the guest's network card, for `--tcplisten`: which process forwards the
//! host's addresses to the guest, and the QEMU arguments that connect the card to it.
//!
//! The backend is [passt](https://passt.top) when it is installed: a process of its own that
//! listens on the host addresses with a real backlog and speaks to QEMU over a socket pair
//! (`-netdev stream`), one end each. QEMU's user networking (libslirp, inside QEMU) accepts
//! host connections with a listen backlog of 1, so a burst of simultaneous connects loses
//! some to the host kernel's full accept queue: they come through on the client's SYN
//! retransmission a second later, or never. It remains the fallback, with a note, when passt
//! is missing, for IPv6 host addresses (the guest has IPv4 only, and passt forwards an IPv6
//! connection as IPv6), and on request (`CELLA_NETWORK=user`).
//!
//! passt ends by itself when its end of the socket pair closes, that is when QEMU ends, even
//! if the runner was killed; the runner also stops it when the run is over.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cella_proto::net::{GATEWAY, GUEST, PREFIX_LEN};

/// The environment variable that picks the backend: [`PASST`] (the default) or [`USER`].
pub const BACKEND_VARIABLE: &str = "CELLA_NETWORK";
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
        let use_passt = match wanted.as_str() {
            "" | PASST => true,
            USER => false,
            other => {
                return Err(format!(
                    "{BACKEND_VARIABLE}={other} is not a network backend: set it to `{PASST}` or `{USER}`, or unset it"
                ));
            }
        };
        if use_passt && listen.iter().any(SocketAddr::is_ipv6) {
            eprintln!(
                "cella: note: passt cannot forward IPv6 host addresses to Cella's IPv4 guest, so --tcplisten uses QEMU's user networking (it may drop connections that arrive in a burst)"
            );
        } else if use_passt {
            match Passt::start(listen, run_dir)? {
                Some(passt) => {
                    let fd = passt.qemu_end.as_ref().map_or(-1, AsRawFd::as_raw_fd);
                    return Ok(Some(Network {
                        args: card_args(format!(
                            "stream,id={NETDEV},server=off,addr.type=fd,addr.str={fd}"
                        )),
                        passt: Some(passt),
                    }));
                }
                None => eprintln!(
                    "cella: note: passt is not installed, so --tcplisten uses QEMU's user networking, which may drop connections that arrive in a burst: install it with `apt-get install passt`"
                ),
            }
        }
        Ok(Some(Network {
            args: card_args(user_netdev(listen)),
            passt: None,
        }))
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
        if let Some(passt) = self.passt.as_mut() {
            passt.qemu_end = None;
        }
    }

    /// Why the backend stopped while the guest runs, if it did: passt ended (it could not
    /// listen on an address, say). One sentence for the user.
    pub fn failure(&mut self) -> Option<String> {
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
            "passt, which forwards the --tcplisten addresses, ended ({status}: {last}): free the addresses, or set {BACKEND_VARIABLE}={USER} to use QEMU's user networking"
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
        let log_file = fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
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
            command.args(["--tcp-ports", &format!("{}/{}", address.ip(), address.port())]);
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
