//! `sort [-nru] [FILE]...`: sorts the lines of all FILEs together (`-` or none: stdin) by
//! their bytes, as GNU sort in the C locale. `-n` compares leading numbers (blanks, a sign,
//! digits and a decimal point; no number counts as 0) with the whole line as the tie-break,
//! `-r` reverses, `-u` keeps only the first of lines that compare equal.
use std::cmp::Ordering;

use cella_userland::{Tool, args, describe, enter_working_directory, lines, read_input};

const TOOL: Tool = Tool {
    name: "sort",
    usage: "sort [-nru] [FILE]...",
    usage_status: 2,
};

/// A line's leading number as sign, integer digits without leading zeros, and fraction
/// digits without trailing zeros: enough to compare exactly however long it is.
fn number(line: &[u8]) -> (bool, &[u8], &[u8]) {
    let start = line
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(line.len());
    let mut rest = &line[start..];
    let negative = rest.first() == Some(&b'-');
    if negative {
        rest = &rest[1..];
    }
    let int_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let int = &rest[..int_len];
    let frac = match rest.get(int_len) {
        Some(b'.') => {
            let digits = &rest[int_len + 1..];
            &digits[..digits.iter().take_while(|b| b.is_ascii_digit()).count()]
        }
        _ => &[],
    };
    let int = &int[int.iter().take_while(|&&b| b == b'0').count()..];
    let frac = &frac[..frac.len() - frac.iter().rev().take_while(|&&b| b == b'0').count()];
    // -0 is 0.
    (negative && !(int.is_empty() && frac.is_empty()), int, frac)
}

fn numeric(a: &[u8], b: &[u8]) -> Ordering {
    let ((a_neg, a_int, a_frac), (b_neg, b_int, b_frac)) = (number(a), number(b));
    let magnitude = a_int
        .len()
        .cmp(&b_int.len())
        .then(a_int.cmp(b_int))
        .then(a_frac.cmp(b_frac));
    match (a_neg, b_neg) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
    }
}

fn main() {
    enter_working_directory();
    let (options, mut operands) = TOOL.parse(args(), "nru", "");
    let has = |letter: char| options.iter().any(|(o, _)| *o == letter);
    let (by_number, reverse, unique) = (has('n'), has('r'), has('u'));
    if operands.is_empty() {
        operands.push("-".into());
    }
    let mut inputs = Vec::new();
    for name in &operands {
        match read_input(name) {
            Ok(data) => inputs.push(data),
            Err(e) => {
                TOOL.warn(&format!("cannot read: {name}: {}", describe(&e)));
                std::process::exit(2);
            }
        }
    }
    let mut all: Vec<&[u8]> = inputs.iter().flat_map(|data| lines(data)).collect();
    // The key comparison; without -u the whole line breaks ties, as GNU's last resort.
    let key = |a: &&[u8], b: &&[u8]| if by_number { numeric(a, b) } else { a.cmp(b) };
    let order = |a: &&[u8], b: &&[u8]| {
        let ordering = key(a, b).then_with(|| {
            if unique || !by_number {
                Ordering::Equal
            } else {
                a.cmp(b)
            }
        });
        if reverse {
            ordering.reverse()
        } else {
            ordering
        }
    };
    all.sort_by(order);
    if unique {
        all.dedup_by(|a, b| key(a, b) == Ordering::Equal);
    }
    let mut out = TOOL.output();
    for line in all {
        out.put(line);
        out.put(b"\n");
    }
    out.exit(0);
}
