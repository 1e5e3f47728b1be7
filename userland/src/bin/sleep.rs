//! `sleep NUMBER[SUFFIX]...`: pauses for the sum of the NUMBERs, like GNU sleep. A NUMBER is
//! a decimal (`0.5`, `.25`, `2.`) or `inf`/`infinity`, in seconds, or with a suffix `s`, `m`
//! (minutes), `h` (hours) or `d` (days). Times are added in whole nanoseconds, so `0.1` is
//! exactly 100 ms. Options are refused (a negative NUMBER reads as one, as in GNU).
use std::time::Duration;

use cella_userland::{Tool, args};

const TOOL: Tool = Tool {
    name: "sleep",
    usage: "sleep NUMBER[SUFFIX]...",
    usage_status: 1,
};
const NANOS_PER_SEC: u128 = 1_000_000_000;
/// Fraction digits below a nanosecond are dropped.
const FRACTION_DIGITS: usize = 9;

/// The interval `text` names, in nanoseconds; `u128::MAX` for infinity.
fn interval(text: &str) -> Option<u128> {
    let lower = text.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(u128::MAX);
    }
    let (number, unit) = match text.as_bytes().last()? {
        b's' => (&text[..text.len() - 1], 1),
        b'm' => (&text[..text.len() - 1], 60),
        b'h' => (&text[..text.len() - 1], 60 * 60),
        b'd' => (&text[..text.len() - 1], 24 * 60 * 60),
        _ => (text, 1),
    };
    let number = number.strip_prefix('+').unwrap_or(number);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    // Leading zeros cannot overflow; other digits past u128 are an absurd interval anyway.
    let int = int.trim_start_matches('0');
    let whole: u128 = if int.is_empty() {
        0
    } else {
        int.parse().unwrap_or(u128::MAX)
    };
    let frac = &frac[..frac.len().min(FRACTION_DIGITS)];
    let nanos: u128 = format!("{frac:0<FRACTION_DIGITS$}").parse().ok()?;
    Some(
        whole
            .saturating_mul(NANOS_PER_SEC)
            .saturating_add(nanos)
            .saturating_mul(unit),
    )
}

fn main() {
    let (_, operands) = TOOL.parse(args(), "", "");
    if operands.is_empty() {
        TOOL.usage_error("missing operand");
    }
    let mut total: u128 = 0;
    for operand in &operands {
        match interval(operand) {
            Some(nanos) => total = total.saturating_add(nanos),
            None => TOOL.usage_error(&format!("invalid time interval '{operand}'")),
        }
    }
    // Sleep in steps a Duration surely holds; `inf` (u128::MAX) never ends.
    let step = u128::from(u64::MAX);
    while total > 0 {
        let now = total.min(step);
        let secs = u64::try_from(now / NANOS_PER_SEC).unwrap_or(u64::MAX);
        let nanos = u32::try_from(now % NANOS_PER_SEC).unwrap_or(0);
        std::thread::sleep(Duration::new(secs, nanos));
        if total != u128::MAX {
            total -= now;
        }
    }
}
