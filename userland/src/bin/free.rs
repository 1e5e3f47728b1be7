//! `free [-b|-k|-m|-h]`: the machine's memory, as procps' `free` shows it: one `Mem:` line
//! with the total, what is in use and what is free for programs and files, and the bytes of
//! the kernel's heap in use (the network's connections, the file system's records, the
//! processes' bookkeeping). Sizes are in KiB unless `-b` (bytes), `-m` (MiB) or `-h`
//! (human-readable, as `ps` shows them) says otherwise. Uses Cella's `cella_process` imports.
use std::io::Write;

use cella_userland::{Tool, args, describe};

const TOOL: Tool = Tool {
    name: "free",
    usage: "free [-b|-k|-m|-h]",
    usage_status: 1,
};
const KIB: u64 = 1024;

/// How sizes are printed.
#[derive(Clone, Copy)]
enum Unit {
    Bytes,
    Kib,
    Mib,
    Human,
}

impl Unit {
    fn show(self, bytes: u64) -> String {
        match self {
            Unit::Bytes => bytes.to_string(),
            Unit::Kib => (bytes / KIB).to_string(),
            Unit::Mib => (bytes / (KIB * KIB)).to_string(),
            Unit::Human => human(bytes),
        }
    }
}

/// `bytes` with one decimal below 10 of the largest unit that keeps the number below 1024
/// (`1.5M`, `640K`, `60M`), as procps' `free -h` prints them (`B` for plain bytes).
fn human(bytes: u64) -> String {
    if bytes < KIB {
        return format!("{bytes}B");
    }
    let mut unit = KIB;
    for suffix in ["Ki", "Mi", "Gi", "Ti"] {
        let tenths = (u128::from(bytes) * 10).div_ceil(u128::from(unit));
        if tenths < 100 {
            return format!("{}.{}{suffix}", tenths / 10, tenths % 10);
        }
        let whole = u128::from(bytes).div_ceil(u128::from(unit));
        if whole < 1024 || suffix == "Ti" {
            return format!("{whole}{suffix}");
        }
        unit = unit.saturating_mul(KIB);
    }
    unreachable!("the loop returns at Ti")
}

fn main() {
    let (options, operands) = TOOL.parse(args(), "bkmh", "");
    if let Some(extra) = operands.first() {
        TOOL.usage_error(&format!("extra operand '{extra}'"));
    }
    let unit = options
        .iter()
        .fold(Unit::Kib, |_, (option, _)| match option {
            'b' => Unit::Bytes,
            'm' => Unit::Mib,
            'h' => Unit::Human,
            _ => Unit::Kib,
        });
    let info = cella_process::system_info().unwrap_or_else(|e| {
        TOOL.fail(&format!("cannot read the memory figures: {}", describe(&e)));
    });
    let used = info.total_memory.saturating_sub(info.free_memory);
    let mut out = TOOL.output();
    let _ = writeln!(
        out,
        "{:<5}{:>12}{:>12}{:>12}{:>13}",
        "", "total", "used", "free", "kernel heap"
    );
    let _ = writeln!(
        out,
        "{:<5}{:>12}{:>12}{:>12}{:>13}",
        "Mem:",
        unit.show(info.total_memory),
        unit.show(used),
        unit.show(info.free_memory),
        unit.show(info.kernel_heap_used)
    );
    out.exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_keep_one_decimal_below_ten() {
        assert_eq!(human(512), "512B");
        assert_eq!(human(1536), "1.5Ki");
        assert_eq!(human(640 * KIB), "640Ki");
        assert_eq!(human(60 * KIB * KIB), "60Mi");
        assert_eq!(human(KIB * KIB * KIB), "1.0Gi");
    }
}
