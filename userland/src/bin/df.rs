//! `df [-hk] [FILE]...`: shows the size and use of the file system holding each FILE (`/`
//! if none), as GNU `df` does: in KiB (`-k`, the default) or human-readable (`-h`), with the
//! percentage used (rounded up). Cella has one file system, in memory: its size is its cap
//! (`./qemu.sh --fs-size`, half the RAM by default) and its use counts file data, inodes,
//! directory entries and symlink targets, as the kernel reports them through
//! `cella_process::fs_info`. Files may stop growing earlier when the machine's memory runs
//! short (programs take from the same memory).
use std::fs::File;
use std::path::Path;

use cella_userland::{Tool, args, describe, enter_working_directory, human_size};

const TOOL: Tool = Tool {
    name: "df",
    usage: "df [-hk] [FILE]...",
    usage_status: 1,
};
const KIB: u64 = 1024;
/// The name shown for Cella's file system, and where it is mounted.
const FILE_SYSTEM: &str = "cella-vfs";
const MOUNTED_ON: &str = "/";

/// The directory holding `path` (itself if it is one), open.
fn directory_of(path: &str) -> std::io::Result<File> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return File::open(path);
    }
    let parent = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(parent)
}

pub fn main() {
    enter_working_directory();
    let (options, mut operands) = TOOL.parse(args(), "hk", "");
    let human_readable = options.last().is_some_and(|(o, _)| *o == 'h');
    if operands.is_empty() {
        operands.push("/".into());
    }
    let mut out = TOOL.output();
    let header = if human_readable {
        ["Size", "Used", "Avail"]
    } else {
        ["1K-blocks", "Used", "Available"]
    };
    let mut status = 0;
    // The header comes with the first line, as in GNU: none if every FILE failed.
    let mut header_shown = false;
    for path in &operands {
        let info = directory_of(path).and_then(|dir| cella_process::fs_info(&dir));
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                TOOL.warn(&format!("{path}: {}", describe(&e)));
                status = 1;
                continue;
            }
        };
        if !header_shown {
            out.put(
                format!(
                    "{:<14} {:>10} {:>10} {:>10} {:>4} Mounted on\n",
                    "Filesystem", header[0], header[1], header[2], "Use%"
                )
                .as_bytes(),
            );
            header_shown = true;
        }
        let available = info.size.saturating_sub(info.used);
        let percent = if info.size == 0 {
            0
        } else {
            (u128::from(info.used) * 100).div_ceil(u128::from(info.size))
        };
        let show = |bytes: u64, up: bool| {
            if human_readable {
                human_size(bytes)
            } else if up {
                bytes.div_ceil(KIB).to_string()
            } else {
                (bytes / KIB).to_string()
            }
        };
        out.put(
            format!(
                "{FILE_SYSTEM:<14} {:>10} {:>10} {:>10} {:>3}% {MOUNTED_ON}\n",
                show(info.size, false),
                show(info.used, true),
                show(available, false),
                percent
            )
            .as_bytes(),
        );
    }
    out.exit(status);
}
