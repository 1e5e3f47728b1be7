//! `ls [-1al] [FILE]...`: lists directories and files like GNU ls in the C locale, one name
//! a line (as GNU does when stdout is not a terminal; `-1` is accepted). `-a` includes dot
//! files and `.`/`..`; `-l` prints `MODE LINKS SIZE DATE NAME [-> TARGET]`, GNU's long
//! format without the owner and group columns and the `total` line, which WASI does not
//! have (nor permissions: the mode shows `rw-r--r--` for files, `rwxr-xr-x` for directories).
//! Dates are UTC. A missing operand is reported and makes the exit status 2.
use std::fs;
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use cella_userland::{Output, Tool, args, describe, enter_working_directory, stat};

const TOOL: Tool = Tool {
    name: "ls",
    usage: "ls [-1al] [FILE]...",
    usage_status: 2,
};
/// GNU shows the year instead of the time for dates more than half a Gregorian year away.
const HALF_YEAR_SECS: i64 = 31_556_952 / 2;
const NANOS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// One line of output: the name shown and, with `-l`, what is known about it.
struct Entry {
    name: String,
    long: Option<Long>,
}

struct Long {
    mode: String,
    links: u64,
    size: u64,
    mtime_secs: i64,
    target: Option<String>,
}

fn long_info(path: &Path) -> io::Result<Long> {
    let st = stat(path, false)?;
    let (kind, perms) = match st.filetype {
        wasi::FILETYPE_DIRECTORY => ('d', "rwxr-xr-x"),
        wasi::FILETYPE_SYMBOLIC_LINK => ('l', "rwxrwxrwx"),
        wasi::FILETYPE_CHARACTER_DEVICE => ('c', "rw-rw-rw-"),
        wasi::FILETYPE_BLOCK_DEVICE => ('b', "rw-rw----"),
        wasi::FILETYPE_SOCKET_DGRAM | wasi::FILETYPE_SOCKET_STREAM => ('s', "rwxr-xr-x"),
        _ => ('-', "rw-r--r--"),
    };
    let target = if kind == 'l' {
        Some(fs::read_link(path)?.to_string_lossy().into_owned())
    } else {
        None
    };
    Ok(Long {
        mode: format!("{kind}{perms}"),
        links: st.nlink,
        size: st.size,
        mtime_secs: i64::try_from(st.mtim / NANOS_PER_SEC).unwrap_or(i64::MAX),
        target,
    })
}

/// Days since 1970-01-01 as (year, month 1..=12, day), Howard Hinnant's `civil_from_days`.
fn civil(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, usize::try_from(month).unwrap_or(1), day)
}

/// `Nov 25 08:40` for recent dates, `Sep  9  2001` for others, as GNU's default style.
fn date(secs: i64, now: i64) -> String {
    let (year, month, day) = civil(secs.div_euclid(SECS_PER_DAY));
    let of_day = secs.rem_euclid(SECS_PER_DAY);
    let month = MONTHS[month - 1];
    if secs > now - HALF_YEAR_SECS && secs <= now + HALF_YEAR_SECS {
        format!(
            "{month} {day:>2} {:02}:{:02}",
            of_day / 3600,
            of_day / 60 % 60
        )
    } else {
        format!("{month} {day:>2}  {year}")
    }
}

fn print(out: &mut Output, entries: &[Entry]) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let longs = entries.iter().filter_map(|e| e.long.as_ref());
    let links_width = longs
        .clone()
        .map(|l| l.links.to_string().len())
        .max()
        .unwrap_or(1);
    let size_width = longs.map(|l| l.size.to_string().len()).max().unwrap_or(1);
    for entry in entries {
        match &entry.long {
            None => out.put(format!("{}\n", entry.name).as_bytes()),
            Some(l) => {
                let line = format!(
                    "{} {:>links_width$} {:>size_width$} {} {}",
                    l.mode,
                    l.links,
                    l.size,
                    date(l.mtime_secs, now),
                    entry.name
                );
                out.put(line.as_bytes());
                if let Some(target) = &l.target {
                    out.put(format!(" -> {target}").as_bytes());
                }
                out.put(b"\n");
            }
        }
    }
}

/// The entries of directory `dir`, sorted by bytes; `None` after reporting an error.
fn list(dir: &str, all: bool, long: bool) -> Option<Vec<Entry>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) => {
            TOOL.warn(&format!("cannot open directory '{dir}': {}", describe(&e)));
            return None;
        }
    };
    let mut names: Vec<String> = if all {
        vec![".".into(), "..".into()]
    } else {
        Vec::new()
    };
    for entry in read {
        match entry {
            Ok(entry) => names.push(entry.file_name().to_string_lossy().into_owned()),
            Err(e) => TOOL.warn(&format!("reading directory '{dir}': {}", describe(&e))),
        }
    }
    names.retain(|name| all || !name.starts_with('.'));
    names.sort();
    let mut entries = Vec::new();
    for name in names {
        let path = Path::new(dir).join(&name);
        let long = if long {
            // `..` of a preopened directory lies outside what the program can see.
            match long_info(&path).or_else(|e| {
                if name == ".." {
                    long_info(Path::new(dir))
                } else {
                    Err(e)
                }
            }) {
                Ok(info) => Some(info),
                Err(e) => {
                    TOOL.warn(&format!(
                        "cannot access '{}': {}",
                        path.display(),
                        describe(&e)
                    ));
                    continue;
                }
            }
        } else {
            None
        };
        entries.push(Entry { name, long });
    }
    Some(entries)
}

fn main() {
    enter_working_directory();
    let (options, mut operands) = TOOL.parse(args(), "1al", "");
    let all = options.iter().any(|(o, _)| *o == 'a');
    let long = options.iter().any(|(o, _)| *o == 'l');
    if operands.is_empty() {
        operands.push(".".into());
    }
    let mut status = 0;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for operand in &operands {
        // Without -l a symlink operand is followed, as GNU does; with -l it is shown itself.
        let meta = if long {
            fs::symlink_metadata(operand)
        } else {
            fs::metadata(operand).or_else(|_| fs::symlink_metadata(operand))
        };
        match meta {
            Ok(meta) if meta.is_dir() && !(long && meta.file_type().is_symlink()) => {
                dirs.push(operand.clone())
            }
            Ok(_) => files.push(operand.clone()),
            Err(e) => {
                TOOL.warn(&format!("cannot access '{operand}': {}", describe(&e)));
                status = 2;
            }
        }
    }
    files.sort();
    dirs.sort();
    let mut out = TOOL.output();
    let mut file_entries = Vec::new();
    for name in files {
        let long = if long {
            match long_info(Path::new(&name)) {
                Ok(info) => Some(info),
                Err(e) => {
                    TOOL.warn(&format!("cannot access '{name}': {}", describe(&e)));
                    status = 2;
                    continue;
                }
            }
        } else {
            None
        };
        file_entries.push(Entry { name, long });
    }
    print(&mut out, &file_entries);
    let headers = operands.len() > 1;
    let mut first = file_entries.is_empty();
    for dir in &dirs {
        let Some(entries) = list(dir, all, long) else {
            status = 2;
            continue;
        };
        if headers {
            if !first {
                out.put(b"\n");
            }
            out.put(format!("{dir}:\n").as_bytes());
        }
        first = false;
        print(&mut out, &entries);
    }
    out.exit(status);
}
