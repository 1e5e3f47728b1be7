//! `date [-u] [-d @SECONDS] [+FORMAT]`: prints the time now, or SECONDS after the epoch,
//! as GNU `date` does: `Sun Dec  6 19:48:53 UTC 2026` by default, or as FORMAT says with the
//! strftime fields `%a %A %b %B %h %c %C %d %D %e %F %g %G %H %I %j %k %l %m %M %n %N %p %P
//! %r %R %s %S %t %T %u %V %w %x %X %y %Y %z %Z %%` and GNU's padding flags `-` (none), `_`
//! (spaces) and `0` (zeros). Cella keeps UTC only (preview1 has no time zones), so `-u`
//! changes nothing. Setting the clock is not possible from a program.
use std::time::{SystemTime, UNIX_EPOCH};

use cella_userland::{Tool, args};

const TOOL: Tool = Tool {
    name: "date",
    usage: "date [-u] [-d @SECONDS] [+FORMAT]",
    usage_status: 1,
};

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// GNU's format without `+FORMAT`, in the C locale.
const DEFAULT_FORMAT: &str = "%a %b %e %H:%M:%S %Z %Y";
const SECONDS_PER_DAY: i64 = 86_400;

/// A moment broken down in UTC.
struct Civil {
    seconds: i64,
    nanos: u32,
    year: i64,
    /// 1..=12.
    month: u32,
    /// 1..=31.
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// 0 = Sunday.
    weekday: u32,
    /// 0..=365.
    yearday: u32,
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days from 1970-01-01 to YEAR-MONTH-DAY (the proleptic Gregorian calendar).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

impl Civil {
    fn new(seconds: i64, nanos: u32) -> Civil {
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let in_day = seconds.rem_euclid(SECONDS_PER_DAY) as u32;
        // The inverse of `days_from_civil` (H. Hinnant's algorithm).
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        } as u32;
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Civil {
            seconds,
            nanos,
            year,
            month,
            day,
            hour: in_day / 3600,
            minute: in_day / 60 % 60,
            second: in_day % 60,
            weekday: (days + 4).rem_euclid(7) as u32,
            yearday: (days - days_from_civil(year, 1, 1)) as u32,
        }
    }

    /// The ISO 8601 week-based year and week number (`%G`, `%V`).
    fn iso_week(&self) -> (i64, u32) {
        let monday_based = (self.weekday + 6) % 7;
        let week = (self.yearday as i64 - monday_based as i64 + 10) / 7;
        let weeks_in = |year: i64| {
            let jan1 = (days_from_civil(year, 1, 1) + 4).rem_euclid(7);
            if jan1 == 4 || (jan1 == 3 && is_leap(year)) {
                53
            } else {
                52
            }
        };
        if week < 1 {
            (self.year - 1, weeks_in(self.year - 1))
        } else if week > i64::from(weeks_in(self.year)) {
            (self.year + 1, 1)
        } else {
            (self.year, week as u32)
        }
    }
}

/// How a numeric field is padded.
#[derive(Clone, Copy)]
enum Pad {
    Default,
    None,
    Spaces,
    Zeros,
}

fn number(value: i64, width: usize, default: char, pad: Pad) -> String {
    let fill = match pad {
        Pad::Default => default,
        Pad::None => return value.to_string(),
        Pad::Spaces => ' ',
        Pad::Zeros => '0',
    };
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    let room = width.saturating_sub(digits.len() + sign.len());
    if fill == '0' {
        format!("{sign}{}{digits}", "0".repeat(room))
    } else {
        format!("{}{sign}{digits}", " ".repeat(room))
    }
}

fn render(format: &str, t: &Civil) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let pad = match chars.peek() {
            Some('-') => Pad::None,
            Some('_') => Pad::Spaces,
            Some('0') => Pad::Zeros,
            _ => Pad::Default,
        };
        if !matches!(pad, Pad::Default) {
            chars.next();
        }
        let Some(field) = chars.next() else {
            out.push('%');
            break;
        };
        let twelve = if t.hour.is_multiple_of(12) {
            12
        } else {
            t.hour % 12
        };
        let n = |value: u32, width: usize| number(i64::from(value), width, '0', pad);
        let s = |value: u32, width: usize| number(i64::from(value), width, ' ', pad);
        let text = match field {
            'a' => DAYS[t.weekday as usize][..3].to_string(),
            'A' => DAYS[t.weekday as usize].to_string(),
            'b' | 'h' => MONTHS[t.month as usize - 1][..3].to_string(),
            'B' => MONTHS[t.month as usize - 1].to_string(),
            'c' => render("%a %b %e %H:%M:%S %Y", t),
            'C' => number(t.year.div_euclid(100), 2, '0', pad),
            'd' => n(t.day, 2),
            'D' | 'x' => render("%m/%d/%y", t),
            'e' => s(t.day, 2),
            'F' => render("%Y-%m-%d", t),
            'g' => number(t.iso_week().0.rem_euclid(100), 2, '0', pad),
            'G' => number(t.iso_week().0, 4, '0', pad),
            'H' => n(t.hour, 2),
            'I' => n(twelve, 2),
            'j' => n(t.yearday + 1, 3),
            'k' => s(t.hour, 2),
            'l' => s(twelve, 2),
            'm' => n(t.month, 2),
            'M' => n(t.minute, 2),
            'n' => "\n".into(),
            'N' => format!("{:09}", t.nanos),
            'p' => if t.hour < 12 { "AM" } else { "PM" }.into(),
            'P' => if t.hour < 12 { "am" } else { "pm" }.into(),
            'r' => render("%I:%M:%S %p", t),
            'R' => render("%H:%M", t),
            's' => t.seconds.to_string(),
            'S' => n(t.second, 2),
            't' => "\t".into(),
            'T' | 'X' => render("%H:%M:%S", t),
            'u' => n(if t.weekday == 0 { 7 } else { t.weekday }, 1),
            'V' => n(t.iso_week().1, 2),
            'w' => n(t.weekday, 1),
            'y' => number(t.year.rem_euclid(100), 2, '0', pad),
            'Y' => number(t.year, 1, '0', pad),
            'z' => "+0000".into(),
            'Z' => "UTC".into(),
            '%' => "%".into(),
            other => format!("%{other}"),
        };
        out.push_str(&text);
    }
    out
}

/// The moment `-d` names: only `@SECONDS` (with an optional fraction) is understood.
fn parse_date(text: &str) -> Option<(i64, u32)> {
    let number = text.trim().strip_prefix('@')?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let nanos = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().ok()?
    };
    Some((seconds, nanos))
}

pub fn main() {
    let (options, operands) = TOOL.parse(args(), "u", "d");
    let mut moment = None;
    for (option, value) in options {
        if option == 'd' {
            moment = Some(
                parse_date(&value).unwrap_or_else(|| TOOL.fail(&format!("invalid date '{value}'"))),
            );
        }
    }
    let format = match &operands[..] {
        [] => DEFAULT_FORMAT,
        [format] if format.starts_with('+') => &format[1..],
        [other] => TOOL.fail(&format!(
            "cannot set the date to '{other}': programs cannot set Cella's clock"
        )),
        [_, extra, ..] => TOOL.usage_error(&format!("extra operand '{extra}'")),
    };
    let (seconds, nanos) = moment.unwrap_or_else(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        (now.as_secs() as i64, now.subsec_nanos())
    });
    // Years stay within what the calendar arithmetic handles without overflow.
    const LIMIT: i64 = 1 << 50;
    if !(-LIMIT..=LIMIT).contains(&seconds) {
        TOOL.fail(&format!("time {seconds} is out of range"));
    }
    let mut out = TOOL.output();
    out.put(render(format, &Civil::new(seconds, nanos)).as_bytes());
    out.put(b"\n");
    out.exit(0);
}
