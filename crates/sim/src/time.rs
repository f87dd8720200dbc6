//! Time: step lengths (`1h`, `5m`), UTC calendar dates and the simulator's weekly expiries.
//!
//! Expiries follow Deribit: Fridays at 08:00 UTC, named like `27DEC24`.

use thiserror::Error;

/// Seconds per hour.
pub const HOUR_S: u64 = 3_600;
/// Seconds per day.
pub const DAY_S: u64 = 86_400;
/// Seconds per year (ACT/365).
pub const YEAR_S: f64 = 365.0 * 86_400.0;

/// A step length that could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("step {0:?}: expected a positive number followed by s, m, h or d (e.g. 1h, 5m)")]
pub struct StepError(pub String);

/// Parses a step length like `1h`, `5m`, `30s` or `1d` into seconds.
pub fn parse_step(s: &str) -> Result<u64, StepError> {
    let s = s.trim();
    let err = || StepError(s.to_string());
    let unit = s.chars().last().ok_or_else(err)?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => HOUR_S,
        'd' => DAY_S,
        _ => return Err(err()),
    };
    let n: u64 = s[..s.len() - 1].parse().map_err(|_| err())?;
    if n == 0 {
        return Err(err());
    }
    n.checked_mul(mult).ok_or_else(err)
}

/// Formats a step length back (`3600` → `1h`).
pub fn format_step(step_s: u64) -> String {
    if step_s.is_multiple_of(DAY_S) {
        format!("{}d", step_s / DAY_S)
    } else if step_s.is_multiple_of(HOUR_S) {
        format!("{}h", step_s / HOUR_S)
    } else if step_s.is_multiple_of(60) {
        format!("{}m", step_s / 60)
    } else {
        format!("{step_s}s")
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1–12, day 1–31) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD HH:MM:SS` of unix seconds (UTC).
pub fn format_utc(t: u64) -> String {
    let mut out = String::with_capacity(19);
    let _ = write_utc(&mut out, t);
    out
}

/// Writes [`format_utc`] of `t` into `out` (no intermediate string).
pub fn write_utc(out: &mut impl std::fmt::Write, t: u64) -> std::fmt::Result {
    let (y, m, d) = civil_from_days((t / DAY_S) as i64);
    let s = t % DAY_S;
    write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// The Deribit expiry code of the date of `t` (e.g. `27DEC24`).
pub fn expiry_code(t: u64) -> String {
    let (y, m, d) = civil_from_days((t / DAY_S) as i64);
    format!("{d}{}{:02}", MONTHS[m as usize - 1], y.rem_euclid(100))
}

/// The first Friday 08:00 UTC strictly after `t`.
pub fn next_friday_expiry(t: u64) -> u64 {
    // 1970-01-01 (day 0) was a Thursday, so day n is a Friday when n % 7 == 1.
    let day = t / DAY_S;
    let mut d = day;
    loop {
        let e = d * DAY_S + 8 * HOUR_S;
        if d % 7 == 1 && e > t {
            return e;
        }
        d += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_and_print() {
        assert_eq!(parse_step("1h"), Ok(3600));
        assert_eq!(parse_step("5m"), Ok(300));
        assert_eq!(parse_step("30s"), Ok(30));
        assert_eq!(parse_step("2d"), Ok(172_800));
        assert!(parse_step("0h").is_err());
        assert!(parse_step("h").is_err());
        assert!(parse_step("5x").is_err());
        assert_eq!(format_step(300), "5m");
        assert_eq!(format_step(3600), "1h");
    }

    #[test]
    fn calendar_round_trips_and_fridays() {
        for z in [-1000, 0, 19_000, 20_000, 20_089] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        // 2024-12-27 was a Friday.
        let t = days_from_civil(2024, 12, 20) as u64 * DAY_S + 9 * HOUR_S;
        let e = next_friday_expiry(t);
        assert_eq!(expiry_code(e), "27DEC24");
        assert_eq!(format_utc(e), "2024-12-27 08:00:00");
    }
}
