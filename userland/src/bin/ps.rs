//! `ps`: lists every process in pid order, one a line under the header
//! `  PID  PPID STAT    MEM     TIME CMD`: STAT is R (running or ready), S (blocked), T
//! (stopped: Ctrl-Z, `kill -STOP`) or Z (ended, not yet waited for); MEM what the process holds against its memory limit (linear
//! memory, its code in the interpreter, its pipes and connections), human-readable like
//! GNU's `-h` (`640K`, `1.1M`); TIME the CPU time used as `M:SS.cc`; CMD the program's `argv[0]`.
//! It takes no options or operands. Uses Cella's `cella_process` imports.
use std::io::Write;

use cella_userland::{Tool, args, describe};

const TOOL: Tool = Tool {
    name: "ps",
    usage: "ps",
    usage_status: 1,
};
const NANOS_PER_CENTISECOND: u64 = 10_000_000;
const KIB: u64 = 1024;

/// `bytes` as GNU's `-h` shows sizes: plain below 1 KiB, then K, M, G... rounded up, with
/// one decimal below 10 (`1.1M`, `640K`, `12M`).
fn human(bytes: u64) -> String {
    if bytes < KIB {
        return bytes.to_string();
    }
    let mut unit = KIB;
    for suffix in ["K", "M", "G", "T"] {
        let next = unit.saturating_mul(KIB);
        // Tenths of this unit, rounded up.
        let tenths = (u128::from(bytes) * 10).div_ceil(u128::from(unit));
        if tenths < 100 {
            return format!("{}.{}{suffix}", tenths / 10, tenths % 10);
        }
        let whole = u128::from(bytes).div_ceil(u128::from(unit));
        if whole < 1024 || suffix == "T" {
            return format!("{whole}{suffix}");
        }
        unit = next;
    }
    unreachable!("the loop returns at T")
}

/// CPU time as `M:SS.cc` (minutes unbounded).
fn cpu_time(nanos: u64) -> String {
    let centis = nanos / NANOS_PER_CENTISECOND;
    format!(
        "{}:{:02}.{:02}",
        centis / 6000,
        centis / 100 % 60,
        centis % 100
    )
}

fn main() {
    let (_, operands) = TOOL.parse(args(), "", "");
    if let Some(extra) = operands.first() {
        TOOL.usage_error(&format!("extra operand '{extra}'"));
    }
    let mut list = cella_process::processes().unwrap_or_else(|e| {
        TOOL.fail(&format!("cannot list processes: {}", describe(&e)));
    });
    list.sort_by_key(|p| p.pid);
    let mut out = TOOL.output();
    let _ = writeln!(out, "  PID  PPID STAT    MEM     TIME CMD");
    for p in &list {
        let _ = writeln!(
            out,
            "{:>5} {:>5} {:<4} {:>6} {:>8} {}",
            p.pid,
            p.ppid,
            p.state.letter(),
            human(p.memory),
            cpu_time(p.cpu_ns),
            p.name
        );
    }
    out.exit(0);
}
