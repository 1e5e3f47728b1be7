//! Pure calendar arithmetic for the real-time clock: CMOS register decoding (BCD, 12-hour
//! clock) and civil date → Unix time. No hardware access, so it is unit-tested on the host.

/// Seconds in a day.
const SECONDS_PER_DAY: u64 = 86_400;
/// Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar.
const UNIX_EPOCH_DAYS: i64 = 719_468;
/// Days in a 400-year Gregorian cycle.
const DAYS_PER_ERA: i64 = 146_097;
/// Bit 7 of the CMOS hour register: PM, when the RTC runs a 12-hour clock.
const RTC_HOUR_PM: u8 = 0x80;

/// A calendar date and time of day (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    /// Full year, e.g. 2026.
    pub year: i64,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59 (60 for a leap second, which is folded into the next minute).
    pub second: u8,
}

/// The CMOS RTC registers as read, before decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRtc {
    /// Register 0x00.
    pub second: u8,
    /// Register 0x02.
    pub minute: u8,
    /// Register 0x04 (bit 7 is PM in 12-hour mode).
    pub hour: u8,
    /// Register 0x07.
    pub day: u8,
    /// Register 0x08.
    pub month: u8,
    /// Register 0x09: year within the century.
    pub year: u8,
    /// The century register (0x32), if the machine has one.
    pub century: Option<u8>,
    /// Status register B bit 2: values are binary rather than BCD.
    pub binary: bool,
    /// Status register B bit 1: the hour is 0–23 rather than 1–12 with a PM bit.
    pub hour_24: bool,
}

/// Converts a packed BCD byte (0x59 → 59).
pub const fn bcd_to_binary(bcd: u8) -> u8 {
    (bcd >> 4) * 10 + (bcd & 0x0f)
}

impl RawRtc {
    /// Decodes the registers into a date; `None` if a field is out of range (a broken RTC).
    pub fn decode(&self) -> Option<DateTime> {
        let field = |raw: u8| if self.binary { raw } else { bcd_to_binary(raw) };
        let pm = !self.hour_24 && self.hour & RTC_HOUR_PM != 0;
        let mut hour = field(self.hour & !RTC_HOUR_PM);
        if !self.hour_24 {
            // 12 AM is midnight (0) and 12 PM is noon (12).
            hour %= 12;
            if pm {
                hour += 12;
            }
        }
        let century = match self.century.map(field) {
            Some(c @ 19..=99) => i64::from(c),
            // No century register (or garbage in it): the RTC cannot predate this kernel.
            _ => 20,
        };
        let date = DateTime {
            year: century * 100 + i64::from(field(self.year)),
            month: field(self.month),
            day: field(self.day),
            hour,
            minute: field(self.minute),
            second: field(self.second),
        };
        date.is_valid().then_some(date)
    }
}

impl DateTime {
    fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
    }

    /// Seconds since the Unix epoch; `None` before 1970.
    pub fn unix_seconds(&self) -> Option<u64> {
        let days = days_from_civil(self.year, self.month, self.day);
        let seconds = days * SECONDS_PER_DAY as i64
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        u64::try_from(seconds).ok()
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (negative before the epoch).
///
/// Counts in eras of 400 years starting on March 1st, so that the leap day is the last day
/// of a counting year and month lengths follow a fixed pattern.
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let month = i64::from(month);
    let day = i64::from(day);
    // Years start in March: January and February belong to the previous year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400); // 0..=399
    let month_from_march = (month + 9) % 12; // March = 0 ... February = 11
    // Month lengths from March repeat as 31,30,31,30,31 | 31,30,31,30,31 | 31,28/29:
    // (153 * m + 2) / 5 is the number of days before month m.
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - UNIX_EPOCH_DAYS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_from_civil_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1970, 1, 2), 1);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 1, 1), 10_957);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1900, 3, 1), -25_508);
        assert_eq!(days_from_civil(2038, 1, 19), 24_855);
        assert_eq!(days_from_civil(2100, 3, 1), 47_541);
    }

    #[test]
    fn consecutive_days_have_consecutive_numbers() {
        const MONTH_DAYS: [u8; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let mut expected = days_from_civil(1899, 12, 31) + 1;
        for year in 1900..2401 {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            for (index, &len) in MONTH_DAYS.iter().enumerate() {
                let len = if index == 1 && leap { 29 } else { len };
                for day in 1..=len {
                    assert_eq!(days_from_civil(year, index as u8 + 1, day), expected);
                    expected += 1;
                }
            }
        }
    }

    #[test]
    fn unix_seconds_of_a_known_instant() {
        // 2009-02-13 23:31:30 UTC is Unix time 1234567890.
        let date = DateTime {
            year: 2009,
            month: 2,
            day: 13,
            hour: 23,
            minute: 31,
            second: 30,
        };
        assert_eq!(date.unix_seconds(), Some(1_234_567_890));
        let before = DateTime {
            year: 1969,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 59,
        };
        assert_eq!(before.unix_seconds(), None);
    }

    #[test]
    fn rtc_decodes_bcd_12_hour_and_century() {
        let raw = RawRtc {
            second: 0x30,
            minute: 0x31,
            hour: 0x80 | 0x11, // 11 PM
            day: 0x13,
            month: 0x02,
            year: 0x09,
            century: Some(0x20),
            binary: false,
            hour_24: false,
        };
        let date = raw.decode().unwrap();
        assert_eq!(date.unix_seconds(), Some(1_234_567_890));
        let midnight = RawRtc { hour: 0x12, ..raw }.decode().unwrap();
        assert_eq!(midnight.hour, 0);
        let noon = RawRtc {
            hour: 0x80 | 0x12,
            ..raw
        }
        .decode()
        .unwrap();
        assert_eq!(noon.hour, 12);
    }

    #[test]
    fn rtc_decodes_binary_24_hour_without_century() {
        let raw = RawRtc {
            second: 59,
            minute: 59,
            hour: 23,
            day: 31,
            month: 12,
            year: 26,
            century: None,
            binary: true,
            hour_24: true,
        };
        let date = raw.decode().unwrap();
        assert_eq!((date.year, date.hour), (2026, 23));
        assert_eq!(RawRtc { month: 13, ..raw }.decode(), None);
        assert_eq!(bcd_to_binary(0x59), 59);
    }
}
