//! `seq [-s SEP] [FIRST [INCREMENT]] LAST`: prints the numbers from FIRST (default 1) to LAST
//! by INCREMENT (default 1), one a line or separated by SEP. Decimal arguments are computed
//! exactly and printed with as many fraction digits as FIRST and INCREMENT have, as GNU does
//! (`seq 1 0.5 2` prints `1.0 1.5 2.0`). A number may be negative (`seq -2 0`).
use cella_userland::Tool;

const TOOL: Tool = Tool {
    name: "seq",
    usage: "seq [-s SEP] [FIRST [INCREMENT]] LAST",
    usage_status: 1,
};

/// A decimal number as `mantissa / 10^digits`.
#[derive(Clone, Copy)]
struct Decimal {
    mantissa: i128,
    digits: u32,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return None;
        }
        let digits = u32::try_from(frac.len()).ok()?;
        let magnitude: i128 = format!("{int}{frac}").parse().ok()?;
        Some(Decimal {
            mantissa: if negative { -magnitude } else { magnitude },
            digits,
        })
    }

    /// The mantissa at scale `digits` (at least `self.digits`).
    fn scaled(self, digits: u32) -> Option<i128> {
        self.mantissa
            .checked_mul(10i128.checked_pow(digits - self.digits)?)
    }
}

/// `value / 10^digits` with exactly `digits` fraction digits.
fn format(value: i128, digits: u32) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{magnitude}");
    }
    let unit = 10u128.pow(digits);
    format!(
        "{sign}{}.{:0width$}",
        magnitude / unit,
        magnitude % unit,
        width = digits as usize
    )
}

pub fn main() {
    let mut separator = "\n".to_string();
    let mut operands = Vec::new();
    let mut args = cella_userland::args().into_iter();
    while let Some(arg) = args.next() {
        // A leading `-` followed by a digit or point is a negative number, not an option.
        let is_option = arg.len() > 1
            && arg.starts_with('-')
            && !arg[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.');
        if !is_option || !operands.is_empty() {
            operands.push(arg);
        } else if arg == "--" {
            operands.extend(args.by_ref());
        } else if let Some(value) = arg.strip_prefix("-s") {
            separator = if value.is_empty() {
                args.next()
                    .unwrap_or_else(|| TOOL.usage_error("option requires an argument -- 's'"))
            } else {
                value.to_string()
            };
        } else {
            let letter = arg[1..].chars().next().unwrap_or('-');
            TOOL.usage_error(&format!("invalid option -- '{letter}'"));
        }
    }
    if operands.is_empty() {
        TOOL.usage_error("missing operand");
    }
    if let Some(extra) = operands.get(3) {
        TOOL.usage_error(&format!("extra operand '{extra}'"));
    }
    let numbers: Vec<Decimal> = operands
        .iter()
        .map(|text| {
            Decimal::parse(text).unwrap_or_else(|| {
                TOOL.usage_error(&format!("invalid floating point argument: '{text}'"));
            })
        })
        .collect();
    let one = Decimal {
        mantissa: 1,
        digits: 0,
    };
    let (first, increment, last) = match numbers[..] {
        [last] => (one, one, last),
        [first, last] => (first, one, last),
        [first, increment, last, ..] => (first, increment, last),
        [] => unreachable!("operands checked above"),
    };
    if increment.mantissa == 0 {
        TOOL.usage_error(&format!("invalid Zero increment value: '{}'", operands[1]));
    }
    let shown = first.digits.max(increment.digits);
    let scale = shown.max(last.digits);
    let (Some(mut value), Some(step), Some(end)) = (
        first.scaled(scale),
        increment.scaled(scale),
        last.scaled(scale),
    ) else {
        TOOL.warn("numbers too large");
        std::process::exit(1);
    };
    let shift = 10i128.pow(scale - shown);
    let mut out = TOOL.output();
    let mut first_printed = true;
    while if step > 0 { value <= end } else { value >= end } {
        if !first_printed {
            out.put(separator.as_bytes());
        }
        out.put(format(value / shift, shown).as_bytes());
        first_printed = false;
        let Some(next) = value.checked_add(step) else {
            break;
        };
        value = next;
    }
    if !first_printed {
        out.put(b"\n");
    }
    out.exit(0);
}
