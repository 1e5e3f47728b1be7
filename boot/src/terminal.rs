//! Raw mode for the host terminal in shell mode: the guest runs its own line discipline (echo,
//! line editing, Ctrl-C), so the host's must step aside for the session — no echo, no
//! canonical lines, no signals from Ctrl-C/Ctrl-Z/Ctrl-\, no XON/XOFF, no CR→NL on input —
//! while output post-processing stays on (`OPOST`/`ONLCR`), so the guest's `\n` still starts
//! a new line. The saved settings come back on every way out: the guard's drop (normal end
//! and errors), a panic (the runner is built with `panic = "abort"`, which skips drops), and
//! SIGTERM, SIGHUP, SIGINT and SIGQUIT, which also end QEMU.
//!
//! Why the `libc` crate rather than running `stty`: restoring the terminal when a signal
//! arrives needs a signal handler, which std cannot install, and `tcsetattr` and `kill` are
//! async-signal-safe, so the handler can restore the terminal and stop QEMU itself.

use std::io::{self, IsTerminal};
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The settings to restore, written once before raw mode is entered and read by the signal
/// handler: a plain `static mut` would do, but a `Mutex` cannot be locked in a handler, so the
/// copy the handler reads is published through [`SAVED_READY`].
static mut SAVED: MaybeUninit<libc::termios> = MaybeUninit::uninit();
/// Set once [`SAVED`] holds the terminal's settings.
static SAVED_READY: AtomicBool = AtomicBool::new(false);
/// QEMU's pid, for the signal handler to end it (0: none yet).
static CHILD: AtomicI32 = AtomicI32::new(0);
/// Serialises entering and leaving raw mode.
static LOCK: Mutex<()> = Mutex::new(());
/// The signals after which the terminal is restored before the runner dies.
const SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT];

/// Whether our stdin is a terminal (then shell mode is interactive).
pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// The terminal in raw mode until this is dropped.
pub struct RawMode(());

impl RawMode {
    /// Puts stdin's terminal in raw mode (see the module documentation).
    pub fn enter() -> io::Result<RawMode> {
        let _lock = LOCK.lock();
        let fd = io::stdin().as_raw_fd();
        let mut termios = MaybeUninit::<libc::termios>::uninit();
        // SAFETY: `termios` is a valid out-pointer for one `termios`; tcgetattr fills it
        // whole on success, which is checked before it is read.
        if unsafe { libc::tcgetattr(fd, termios.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: tcgetattr succeeded, so `termios` is initialised.
        let saved = unsafe { termios.assume_init() };
        // SAFETY: only this function writes SAVED, under LOCK, and the signal handler reads it
        // only after SAVED_READY is set (Release below, Acquire there).
        unsafe { (&raw mut SAVED).write(MaybeUninit::new(saved)) };
        SAVED_READY.store(true, Ordering::Release);
        install_handlers();
        let raw = raw(saved);
        // SAFETY: `raw` is a fully initialised termios derived from the terminal's own.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        Ok(RawMode(()))
    }

    /// Tells the signal handler which process to end with the runner: QEMU.
    pub fn set_child(pid: u32) {
        CHILD.store(i32::try_from(pid).unwrap_or(0), Ordering::Release);
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _lock = LOCK.lock();
        restore();
        SAVED_READY.store(false, Ordering::Release);
    }
}

/// `settings` in raw mode for the session: see the module documentation.
fn raw(settings: libc::termios) -> libc::termios {
    let mut raw = settings;
    raw.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::ISIG | libc::IEXTEN);
    raw.c_iflag &= !(libc::IXON | libc::ICRNL | libc::INLCR | libc::IGNCR | libc::ISTRIP);
    raw.c_iflag &= !(libc::BRKINT | libc::PARMRK);
    raw.c_oflag |= libc::OPOST | libc::ONLCR;
    // Each read returns as soon as one byte is there.
    raw.c_cc[libc::VMIN] = 1;
    raw.c_cc[libc::VTIME] = 0;
    raw
}

/// Puts the saved settings back, if any; async-signal-safe.
fn restore() {
    if !SAVED_READY.load(Ordering::Acquire) {
        return;
    }
    // SAFETY: SAVED_READY says SAVED was initialised, and it is not written again while set.
    // tcsetattr reads the termios and is async-signal-safe; fd 0 is our stdin.
    // `MaybeUninit<T>` has `T`'s layout, so the cast pointer is a valid `*const termios`.
    unsafe {
        libc::tcsetattr(
            libc::STDIN_FILENO,
            libc::TCSADRAIN,
            (&raw const SAVED).cast::<libc::termios>(),
        );
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    restore();
    let child = CHILD.load(Ordering::Acquire);
    // SAFETY: kill, signal and raise are async-signal-safe. The child is QEMU, ours; then the
    // default action is restored and the signal raised again, so the runner dies of it as it
    // would have without raw mode.
    unsafe {
        if child > 0 {
            libc::kill(child, libc::SIGKILL);
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

fn install_handlers() {
    for signal in SIGNALS {
        // SAFETY: `on_signal` only calls async-signal-safe functions and reads atomics and the
        // saved termios (see `restore`).
        unsafe {
            libc::signal(
                signal,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_mode_keeps_output_processing_and_drops_the_rest() {
        // SAFETY: termios is plain integers and arrays, for which all zeros is valid.
        let mut cooked: libc::termios = unsafe { std::mem::zeroed() };
        cooked.c_lflag = libc::ECHO | libc::ICANON | libc::ISIG | libc::IEXTEN | libc::ECHOE;
        cooked.c_iflag = libc::IXON | libc::ICRNL | libc::IUTF8;
        cooked.c_oflag = libc::OPOST | libc::ONLCR;
        let made = raw(cooked);
        assert_eq!(made.c_lflag, libc::ECHOE);
        assert_eq!(made.c_iflag, libc::IUTF8);
        assert_eq!(made.c_oflag, libc::OPOST | libc::ONLCR);
        assert_eq!((made.c_cc[libc::VMIN], made.c_cc[libc::VTIME]), (1, 0));
        // Output processing is switched on even if it was off.
        cooked.c_oflag = 0;
        assert_eq!(raw(cooked).c_oflag, libc::OPOST | libc::ONLCR);
    }
}
