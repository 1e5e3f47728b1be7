//! The `log` backend: records go to [`console::log_line`] (LOG frames on the link, text on
//! COM2 otherwise). Until the run configuration says which, records are kept in memory.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};
use spin::Mutex;

use crate::{console, time};

struct Logger;

static LOGGER: Logger = Logger;

/// Records logged before the output was chosen, and whether it has been.
struct State {
    ready: bool,
    pending: Vec<(Level, String)>,
}

static STATE: Mutex<State> = Mutex::new(State {
    ready: false,
    pending: Vec::new(),
});

/// Installs the logger, buffering everything down to `debug` until [`start`].
pub fn init() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LevelFilter::Debug);
}

/// Chooses the level (`debug` when `verbose`, else `info`) and sends the buffered records.
/// Call after [`console::set_link`].
pub fn start(verbose: bool) {
    let level = if verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    let pending = {
        let mut state = STATE.lock();
        state.ready = true;
        core::mem::take(&mut state.pending)
    };
    log::set_max_level(level);
    for (record_level, line) in pending {
        if record_level <= level {
            console::log_line(line.as_bytes());
        }
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) || crate::fault::in_progress() {
            return;
        }
        let now = time::monotonic_ns();
        let mut line = String::new();
        let _ = write!(
            line,
            "[{:>4}.{:06}] {:<5} {}: {}",
            now / 1_000_000_000,
            now % 1_000_000_000 / 1000,
            record.level(),
            record.target(),
            record.args()
        );
        let mut state = STATE.lock();
        if state.ready {
            drop(state);
            console::log_line(line.as_bytes());
        } else {
            state.pending.push((record.level(), line));
        }
    }

    fn flush(&self) {}
}
