//! `tr [-cdst] SET1 [SET2]`: copies stdin to stdout, translating the bytes of SET1 into the
//! bytes of SET2 at the same place, deleting those of SET1 (`-d`), squeezing runs of a
//! byte of the last set given into one (`-s`), with SET1 complemented (`-c`) or cut to
//! SET2's length (`-t`), as POSIX and GNU `tr` do. Sets are bytes, with `\\ \n \t \r \a \b
//! \f \v \NNN` escapes, ranges `a-z`, classes `[:alpha:]` (all twelve), `[=c=]`, and in SET2
//! `[c*N]` (N copies; octal with a leading 0) and `[c*]` (as many as SET1 needs). A SET2
//! shorter than SET1 is padded with its last byte.
use std::io::{self, Read};

use cella_userland::{Tool, args, char_class};

const TOOL: Tool = Tool {
    name: "tr",
    usage: "tr [-cdst] SET1 [SET2]",
    usage_status: 1,
};
const BUFFER: usize = 64 * 1024;

/// A set as written, expanded: its bytes, and where a `[c*]` of SET2 stands (the byte and
/// the index it fills from).
struct Set {
    bytes: Vec<u8>,
    fill: Option<(u8, usize)>,
}

/// The byte an escape at `text[at..]` (after the `\`) stands for, and its length.
fn escape(text: &[u8], at: usize) -> (u8, usize) {
    let Some(&code) = text.get(at) else {
        // A lone trailing backslash is itself.
        return (b'\\', 0);
    };
    let simple = match code {
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'v' => 0x0b,
        b'0'..=b'7' => {
            let digits = text[at..]
                .iter()
                .take(3)
                .take_while(|b| (b'0'..=b'7').contains(b))
                .count();
            let value = text[at..at + digits]
                .iter()
                .fold(0u32, |v, &d| v * 8 + u32::from(d - b'0'));
            // Three digits above \377 take two, as GNU does.
            return match u8::try_from(value) {
                Ok(byte) => (byte, digits),
                Err(_) => (
                    text[at..at + 2].iter().fold(0, |v, &d| v * 8 + (d - b'0')),
                    2,
                ),
            };
        }
        other => other,
    };
    (simple, 1)
}

/// The bytes `text` (a SET operand) stands for, one unit at a time: a plain or escaped byte.
fn units(text: &[u8]) -> Vec<(u8, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(&byte) = text.get(at) {
        at += 1;
        if byte == b'\\' {
            let (value, length) = escape(text, at);
            at += length;
            out.push((value, true));
        } else {
            out.push((byte, false));
        }
    }
    out
}

fn parse_set(text: &str, second: bool) -> Set {
    let units = units(text.as_bytes());
    let literal = |i: usize, c: u8| units.get(i) == Some(&(c, false));
    let mut set = Set {
        bytes: Vec::new(),
        fill: None,
    };
    let mut i = 0;
    while let Some(&(byte, _)) = units.get(i) {
        if literal(i, b'[') && literal(i + 1, b':') {
            let end = (i + 2..units.len()).find(|&j| literal(j, b':') && literal(j + 1, b']'));
            if let Some(end) = end {
                let name: String = units[i + 2..end].iter().map(|&(b, _)| b as char).collect();
                let test = char_class(&name)
                    .unwrap_or_else(|| TOOL.fail(&format!("invalid character class '{name}'")));
                set.bytes.extend((0..=255u8).filter(|&b| test(b as char)));
                i = end + 2;
                continue;
            }
        }
        if literal(i, b'[') && literal(i + 2, b'=') && literal(i + 3, b'=') && literal(i + 4, b']')
        {
            set.bytes.push(units[i + 1].0);
            i += 5;
            continue;
        }
        if second && literal(i, b'[') && literal(i + 2, b'*') {
            let end = (i + 3..units.len()).find(|&j| literal(j, b']'));
            if let Some(end) = end {
                let repeated = units[i + 1].0;
                let count: String = units[i + 3..end].iter().map(|&(b, _)| b as char).collect();
                if count.is_empty() {
                    set.fill = Some((repeated, set.bytes.len()));
                } else {
                    let radix = if count.starts_with('0') { 8 } else { 10 };
                    let n = usize::from_str_radix(&count, radix).unwrap_or_else(|_| {
                        TOOL.fail(&format!(
                            "invalid repeat count '{count}' in [c*n] construct"
                        ))
                    });
                    set.bytes.extend(std::iter::repeat_n(repeated, n));
                }
                i = end + 1;
                continue;
            }
        }
        if literal(i + 1, b'-') && i + 2 < units.len() {
            let high = units[i + 2].0;
            if high < byte {
                TOOL.fail(&format!(
                    "range-endpoints of '{}-{}' are in reverse collating sequence order",
                    byte.escape_ascii(),
                    high.escape_ascii()
                ));
            }
            set.bytes.extend(byte..=high);
            i += 3;
            continue;
        }
        set.bytes.push(byte);
        i += 1;
    }
    set
}

/// What `tr` does to each byte.
struct Plan {
    /// The byte each byte becomes.
    map: [u8; 256],
    delete: [bool; 256],
    squeeze: [bool; 256],
}

fn membership(bytes: &[u8], complement: bool) -> [bool; 256] {
    let mut member = [complement; 256];
    for &b in bytes {
        member[usize::from(b)] = !complement;
    }
    member
}

fn plan(options: &[(char, String)], operands: &[String]) -> Plan {
    let has = |letter: char| options.iter().any(|(o, _)| *o == letter);
    let (complement, delete, squeeze, truncate) = (has('c'), has('d'), has('s'), has('t'));
    let (min, max) = match (delete, squeeze) {
        (true, false) => (1, 1),
        (false, true) => (1, 2),
        _ => (2, 2),
    };
    if operands.is_empty() {
        TOOL.usage_error("missing operand");
    }
    if operands.len() < min {
        let why = if delete {
            "Two strings must be given when both deleting and squeezing repeats."
        } else {
            "Two strings must be given when translating."
        };
        TOOL.usage_error(&format!("missing operand after '{}'. {why}", operands[0]));
    }
    if let Some(extra) = operands.get(max) {
        TOOL.usage_error(&format!("extra operand '{extra}'"));
    }
    let translating = !delete && operands.len() == 2;
    let set1 = parse_set(&operands[0], false);
    let mut plan = Plan {
        map: std::array::from_fn(|b| b as u8),
        delete: [false; 256],
        squeeze: [false; 256],
    };
    if delete {
        plan.delete = membership(&set1.bytes, complement);
    }
    let mut from = set1.bytes;
    if complement {
        let member = membership(&from, false);
        from = (0..=255u8).filter(|&b| !member[usize::from(b)]).collect();
    }
    let set2 = operands.get(1).map(|text| parse_set(text, true));
    if let Some(mut set2) = set2 {
        if translating {
            if let Some((byte, at)) = set2.fill {
                let room = from.len().saturating_sub(set2.bytes.len());
                set2.bytes.splice(at..at, std::iter::repeat_n(byte, room));
            }
            if truncate {
                from.truncate(set2.bytes.len());
            } else if let Some(&last) = set2.bytes.last() {
                let room = from.len().saturating_sub(set2.bytes.len());
                set2.bytes.extend(std::iter::repeat_n(last, room));
            } else if !from.is_empty() {
                TOOL.fail("when not truncating set1, string2 must be non-empty");
            }
            for (&f, &t) in from.iter().zip(&set2.bytes) {
                plan.map[usize::from(f)] = t;
            }
        }
        if squeeze {
            plan.squeeze = membership(&set2.bytes, false);
        }
    } else if squeeze {
        plan.squeeze = membership(&from, false);
    }
    plan
}

pub fn main() {
    let (options, operands) = TOOL.parse(args(), "cCdst", "");
    let options: Vec<(char, String)> = options
        .into_iter()
        .map(|(o, v)| (if o == 'C' { 'c' } else { o }, v))
        .collect();
    let plan = plan(&options, &operands);
    let mut out = TOOL.output();
    let mut buf = vec![0u8; BUFFER];
    let mut converted = Vec::with_capacity(BUFFER);
    let mut last: Option<u8> = None;
    let mut stdin = io::stdin().lock();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                out.flush_now();
                TOOL.fail(&format!("read error: {}", cella_userland::describe(&e)));
            }
        };
        converted.clear();
        for &byte in &buf[..n] {
            if plan.delete[usize::from(byte)] {
                continue;
            }
            let byte = plan.map[usize::from(byte)];
            if plan.squeeze[usize::from(byte)] && last == Some(byte) {
                continue;
            }
            last = Some(byte);
            converted.push(byte);
        }
        out.put(&converted);
    }
    out.exit(0);
}
