//! `printf FORMAT [ARGUMENT]...`: prints ARGUMENTs under the control of FORMAT, as POSIX
//! and GNU `printf` do. Conversions `%s %b %c %d %i %u %o %x %X %%` with flags `- + space #
//! 0`, a width and a precision (either may be `*`, taken from the arguments); escapes `\\
//! \" \a \b \e \f \n \r \t \v \NNN \xHH` in FORMAT; `%b` expands them in its argument too
//! (octal as `\0NNN`), where `\c` ends all output. FORMAT is reused while arguments remain;
//! missing ones read as empty or 0. A numeric argument may be decimal, `0` octal, `0x` hex
//! or `'c` (the character's code); one that is not (wholly) a number is reported, and makes
//! the exit status 1.
use cella_userland::{Output, Tool, args};

const TOOL: Tool = Tool {
    name: "printf",
    usage: "printf FORMAT [ARGUMENT]...",
    usage_status: 1,
};

/// Arguments in order, and whether a conversion went wrong.
struct Arguments {
    args: Vec<String>,
    next: usize,
    failed: bool,
}

impl Arguments {
    fn take(&mut self) -> Option<&str> {
        let arg = self.args.get(self.next)?;
        self.next += 1;
        Some(arg)
    }

    /// The next argument as an integer (0 if none is left or it is not one).
    fn integer(&mut self) -> i128 {
        let Some(text) = self.take().map(String::from) else {
            return 0;
        };
        let (value, whole) = parse_integer(&text);
        if !whole {
            let message = if value.is_some() {
                "value not completely converted"
            } else {
                "expected a numeric value"
            };
            TOOL.warn(&format!("'{text}': {message}"));
            self.failed = true;
        }
        value.unwrap_or(0)
    }
}

/// The integer `text` starts with, and whether that is all of it.
fn parse_integer(text: &str) -> (Option<i128>, bool) {
    let trimmed = text.trim_start();
    if let Some(quoted) = trimmed.strip_prefix(['\'', '"']) {
        return (Some(quoted.chars().next().map_or(0, |c| c as i128)), true);
    }
    let (negative, unsigned) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let (radix, digits) = if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        (16, hex)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (8, &unsigned[1..])
    } else {
        (10, unsigned)
    };
    let length = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let Ok(magnitude) = i128::from_str_radix(&digits[..length], radix) else {
        // `0x` alone, or no digits: a leading octal `0` is still a number.
        let zero = radix == 8 || (radix == 16 && length == 0 && !unsigned.is_empty());
        return (zero.then_some(0), false);
    };
    let value = if negative { -magnitude } else { magnitude };
    (Some(value), length == digits.len())
}

/// How a backslash escape reads: in FORMAT, or in a `%b` argument (octal after `\0`, `\c`).
#[derive(Clone, Copy, PartialEq)]
enum Escapes {
    Format,
    Argument,
}

/// Expands the escape at `text[at..]` (after the `\`) into `out`; returns its length, or
/// `None` for `\c` in an argument, which ends all output.
fn escape(text: &[u8], at: usize, kind: Escapes, out: &mut Vec<u8>) -> Option<usize> {
    let Some(&code) = text.get(at) else {
        out.push(b'\\');
        return Some(0);
    };
    let simple = match code {
        b'\\' => b'\\',
        b'"' => b'"',
        b'a' => 0x07,
        b'b' => 0x08,
        b'e' => 0x1b,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        b'\'' if kind == Escapes::Format => b'\'',
        b'c' if kind == Escapes::Argument => return None,
        b'x' => {
            let digits = text[at + 1..]
                .iter()
                .take(2)
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            if digits == 0 {
                out.extend_from_slice(b"\\x");
                return Some(1);
            }
            let hex = std::str::from_utf8(&text[at + 1..at + 1 + digits]).unwrap_or("0");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            return Some(1 + digits);
        }
        b'0'..=b'7' => {
            // In an argument octal is `\0NNN` (the 0 does not count); in FORMAT `\NNN`.
            let skip = usize::from(kind == Escapes::Argument && code == b'0');
            let digits = text[at + skip..]
                .iter()
                .take(3)
                .take_while(|b| (b'0'..=b'7').contains(b))
                .count();
            let value = text[at + skip..at + skip + digits]
                .iter()
                .fold(0u32, |v, &d| v * 8 + u32::from(d - b'0'));
            out.push(value as u8);
            return Some(skip + digits);
        }
        _ => {
            out.push(b'\\');
            return Some(0);
        }
    };
    out.push(simple);
    Some(1)
}

/// One conversion's flags, width and precision.
#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alternate: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

impl Spec {
    /// `body` padded to the width.
    fn pad(&self, body: &[u8], out: &mut Vec<u8>) {
        let room = self.width.saturating_sub(body.len());
        if !self.left {
            out.extend(std::iter::repeat_n(b' ', room));
        }
        out.extend_from_slice(body);
        if self.left {
            out.extend(std::iter::repeat_n(b' ', room));
        }
    }

    /// `value` converted as `conversion` (`d i u o x X`).
    fn number(&self, value: i128, conversion: u8, out: &mut Vec<u8>) {
        let unsigned = conversion != b'd' && conversion != b'i';
        // Unsigned conversions see a negative value as C's 64-bit unsigned would.
        let magnitude = if unsigned && value < 0 {
            u128::from(value as u64)
        } else {
            value.unsigned_abs()
        };
        let mut digits = match conversion {
            b'o' => format!("{magnitude:o}"),
            b'x' => format!("{magnitude:x}"),
            b'X' => format!("{magnitude:X}"),
            _ => magnitude.to_string(),
        };
        if let Some(precision) = self.precision {
            if precision == 0 && magnitude == 0 {
                digits.clear();
            }
            while digits.len() < precision {
                digits.insert(0, '0');
            }
        }
        let mut prefix = String::new();
        if !unsigned {
            if value < 0 {
                prefix.push('-');
            } else if self.plus {
                prefix.push('+');
            } else if self.space {
                prefix.push(' ');
            }
        }
        if self.alternate {
            match conversion {
                b'o' if !digits.starts_with('0') => digits.insert(0, '0'),
                b'x' if magnitude != 0 => prefix.push_str("0x"),
                b'X' if magnitude != 0 => prefix.push_str("0X"),
                _ => {}
            }
        }
        if self.zero && !self.left && self.precision.is_none() {
            while prefix.len() + digits.len() < self.width {
                digits.insert(0, '0');
            }
        }
        self.pad(format!("{prefix}{digits}").as_bytes(), out);
    }
}

/// Prints FORMAT once into `out`: false if `\c` ended all output, an error for a bad
/// conversion (what came before it is in `out`, and is printed, as GNU does).
fn print_once(format: &[u8], args: &mut Arguments, out: &mut Vec<u8>) -> Result<bool, String> {
    let mut at = 0;
    while let Some(&byte) = format.get(at) {
        at += 1;
        if byte == b'\\' {
            at += escape(format, at, Escapes::Format, out).unwrap_or(0);
            continue;
        }
        if byte != b'%' {
            out.push(byte);
            continue;
        }
        let start = at - 1;
        let mut spec = Spec::default();
        while let Some(&flag) = format.get(at) {
            match flag {
                b'-' => spec.left = true,
                b'+' => spec.plus = true,
                b' ' => spec.space = true,
                b'#' => spec.alternate = true,
                b'0' => spec.zero = true,
                _ => break,
            }
            at += 1;
        }
        let number = |at: &mut usize, args: &mut Arguments| -> Option<i128> {
            if format.get(*at) == Some(&b'*') {
                *at += 1;
                return Some(args.integer());
            }
            let digits = format[*at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let text = std::str::from_utf8(&format[*at..*at + digits]).unwrap_or("");
            *at += digits;
            (digits > 0).then(|| text.parse().unwrap_or(i128::from(u32::MAX)))
        };
        if let Some(width) = number(&mut at, args) {
            spec.left |= width < 0;
            spec.width = usize::try_from(width.unsigned_abs()).unwrap_or(usize::MAX);
        }
        if format.get(at) == Some(&b'.') {
            at += 1;
            let precision = number(&mut at, args).unwrap_or(0);
            // A negative precision from `*` is taken as none, as in C.
            spec.precision = usize::try_from(precision).ok();
        }
        let Some(&conversion) = format.get(at) else {
            let text = String::from_utf8_lossy(&format[start..]);
            return Err(format!("{text}: invalid conversion specification"));
        };
        at += 1;
        match conversion {
            b'%' if at == start + 2 => out.push(b'%'),
            b's' => {
                let arg = args.take().unwrap_or("").as_bytes();
                let shown = spec.precision.map_or(arg, |p| &arg[..p.min(arg.len())]);
                spec.pad(shown, out);
            }
            b'b' => {
                let arg = args.take().unwrap_or("").as_bytes().to_vec();
                let mut expanded = Vec::new();
                let mut i = 0;
                let mut ended = false;
                while let Some(&b) = arg.get(i) {
                    i += 1;
                    if b != b'\\' {
                        expanded.push(b);
                        continue;
                    }
                    match escape(&arg, i, Escapes::Argument, &mut expanded) {
                        Some(length) => i += length,
                        None => {
                            ended = true;
                            break;
                        }
                    }
                }
                let shown = spec
                    .precision
                    .map_or(&expanded[..], |p| &expanded[..p.min(expanded.len())]);
                spec.pad(shown, out);
                if ended {
                    return Ok(false);
                }
            }
            b'c' => {
                let arg = args.take().unwrap_or("").as_bytes();
                spec.pad(&arg[..arg.len().min(1)], out);
            }
            b'd' | b'i' | b'u' | b'o' | b'x' | b'X' => {
                let value = args.integer();
                spec.number(value, conversion, out);
            }
            _ => {
                let text = String::from_utf8_lossy(&format[start..at]);
                return Err(format!("{text}: invalid conversion specification"));
            }
        }
    }
    Ok(true)
}

pub fn main() {
    let mut operands = args();
    if operands.first().is_some_and(|first| first == "--") {
        operands.remove(0);
    }
    if operands.is_empty() {
        TOOL.usage_error("missing operand");
    }
    let format = operands.remove(0).into_bytes();
    let mut args = Arguments {
        args: operands,
        next: 0,
        failed: false,
    };
    let mut out: Output = TOOL.output();
    let mut text = Vec::new();
    loop {
        let before = args.next;
        let more = print_once(&format, &mut args, &mut text);
        out.put(&text);
        let more = more.unwrap_or_else(|message| {
            out.flush_now();
            TOOL.fail(&message)
        });
        text.clear();
        // Reuse FORMAT while it takes arguments and some are left.
        if !more || args.next == before || args.next >= args.args.len() {
            break;
        }
    }
    out.exit(i32::from(args.failed));
}
