//! Reading a Deribit option-chain dump (as recorded from Deribit's `get_book_summary` /
//! `ticker` data) into implied-vol quotes per expiry.
//!
//! Columns used: `instrument_name` (`ETH-26MAR21-2000-C`), `underlying_price` (the forward of
//! that expiry), `mark_iv` (percent; 0 = no quote) and `timestamp` (Unix ms). Expiry is 08:00 UTC
//! on the date in the name (DESIGN.md §3), T = (expiry − timestamp) / 365 days, k = ln(K/F).
//!
//! A dump may hold several snapshots of the chain. Only the first is used: rows are taken in
//! timestamp order until a gap of more than [`SNAPSHOT_GAP_MS_MAX`] or an instrument seen twice.
//! Per strike and expiry one quote is kept, the out-of-the-money one (a call at K ≥ F, a put at
//! K < F) when it has a mark IV, else the other.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use csv::ByteRecord;
use derivpool_pricing::{IvQuote, OptionKind};

use crate::csv_table::{self, CellError, Col, Input, Problem, RowErrors};
use crate::surface_fit::SliceQuotes;

/// Largest gap between consecutive timestamps inside one snapshot, in milliseconds.
pub const SNAPSHOT_GAP_MS_MAX: i64 = 60_000;

const MS_PER_DAY: i64 = 86_400_000;
const MS_PER_YEAR: f64 = 365.0 * 86_400_000.0;
const EXPIRY_HOUR_MS: i64 = 8 * 3_600_000;

/// One option row of the dump.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    expiry_label: String,
    expiry_ms: i64,
    strike: f64,
    kind: OptionKind,
    forward: f64,
    iv: f64,
    timestamp_ms: i64,
    line: u64,
}

/// Reads the dump and returns the first snapshot's quotes grouped by expiry, sorted by T.
/// Bad rows are reported through `errors`; notes about what was skipped go to stderr.
pub fn read(input: &mut Input, errors: &mut RowErrors) -> Result<(Vec<SliceQuotes>, u64)> {
    let header = input.header()?;
    let cols = Cols {
        name: header.required("instrument_name")?,
        forward: header.required("underlying_price")?,
        iv: header.required("mark_iv")?,
        timestamp: header.required("timestamp")?,
    };
    let width = header.width();
    let mut rows = Vec::new();
    let mut not_options = 0_usize;
    let mut record = ByteRecord::new();
    let mut count = 0_u64;
    while input.read(&mut record)? {
        count += 1;
        let line = csv_table::line_of(&record);
        if let Some(message) = csv_table::width_error(&record, width) {
            errors.report(line, &message);
            continue;
        }
        match cols.parse(&record, line) {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => not_options += 1,
            Err(e) => errors.report(line, &e),
        }
    }

    let total = rows.len();
    let snapshot = first_snapshot(rows);
    let later = total - snapshot.len();
    let mut notes = vec![format!(
        "{}: first snapshot: {} option rows",
        input.name,
        snapshot.len()
    )];
    if let (Some(first), Some(last)) = (snapshot.first(), snapshot.last()) {
        notes.push(format!(
            "from {} to {} UTC",
            utc_time(first.timestamp_ms),
            utc_time(last.timestamp_ms)
        ));
    }
    if later > 0 {
        notes.push(format!("{later} rows of later snapshots ignored"));
    }
    if not_options > 0 {
        notes.push(format!("{not_options} non-option instruments ignored"));
    }
    let no_quote = snapshot.iter().filter(|r| r.iv == 0.0).count();
    if no_quote > 0 {
        notes.push(format!("{no_quote} without a mark IV ignored"));
    }
    errors.note(&notes.join("; "));
    Ok((slices(snapshot), count))
}

/// Where the used columns are.
struct Cols {
    name: Col,
    forward: Col,
    iv: Col,
    timestamp: Col,
}

impl Cols {
    /// Parses a row; `None` for an instrument that is not an option (a future or a perpetual).
    fn parse(&self, record: &ByteRecord, line: u64) -> Result<Option<Row>, CellError> {
        let Some(name_bytes) = csv_table::text(record, self.name) else {
            return Err(CellError {
                col: self.name,
                problem: Problem::Missing,
            });
        };
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        if name.split('-').count() < 4 {
            return Ok(None);
        }
        let (expiry_label, expiry_ms, strike, kind) =
            parse_option_name(&name).map_err(|why| CellError {
                col: self.name,
                problem: Problem::Invalid(format!(
                    "\"{name}\" is not a Deribit option name like ETH-26MAR21-2000-C: {why}"
                )),
            })?;
        let forward = csv_table::number(record, self.forward)?;
        if forward <= 0.0 {
            return Err(CellError {
                col: self.forward,
                problem: Problem::Invalid(format!("{forward} must be > 0")),
            });
        }
        let iv_percent = csv_table::number(record, self.iv)?;
        if iv_percent < 0.0 {
            return Err(CellError {
                col: self.iv,
                problem: Problem::Invalid(format!("{iv_percent} must be ≥ 0 (0 = no quote)")),
            });
        }
        let timestamp = csv_table::number(record, self.timestamp)?;
        if timestamp.fract() != 0.0 || timestamp.abs() > 1e15 {
            return Err(CellError {
                col: self.timestamp,
                problem: Problem::Invalid(format!(
                    "{timestamp} is not a Unix time in whole milliseconds"
                )),
            });
        }
        Ok(Some(Row {
            name,
            expiry_label,
            expiry_ms,
            strike,
            kind,
            forward,
            iv: iv_percent / 100.0,
            // Checked above: a whole number of magnitude at most 1e15 converts exactly.
            timestamp_ms: timestamp as i64,
            line,
        }))
    }
}

/// Splits `ETH-26MAR21-2000-C` into the expiry label, expiry (Unix ms, 08:00 UTC), strike and kind.
fn parse_option_name(name: &str) -> Result<(String, i64, f64, OptionKind), String> {
    let parts: Vec<&str> = name.split('-').collect();
    let [_, date, strike, kind] = parts[..] else {
        return Err(format!(
            "{} parts separated by '-', expected 4",
            parts.len()
        ));
    };
    let expiry_ms = parse_expiry(date)?;
    // Deribit writes a decimal point in a strike as `d` (`0d625`).
    let strike: f64 = strike
        .replace('d', ".")
        .parse()
        .ok()
        .filter(|k: &f64| k.is_finite() && *k > 0.0)
        .ok_or_else(|| format!("bad strike \"{strike}\""))?;
    let kind = match kind {
        "C" | "c" => OptionKind::Call,
        "P" | "p" => OptionKind::Put,
        other => return Err(format!("bad option type \"{other}\", expected C or P")),
    };
    Ok((date.to_owned(), expiry_ms, strike, kind))
}

/// `26MAR21` (or `5MAR21`) → 08:00 UTC on that date, in Unix ms.
fn parse_expiry(date: &str) -> Result<i64, String> {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let bad = || format!("bad expiry date \"{date}\", expected like 26MAR21");
    let digits = date.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&digits) || date.len() != digits + 5 || !date.is_ascii() {
        return Err(bad());
    }
    let day: u32 = date[..digits].parse().map_err(|_| bad())?;
    let month = MONTHS
        .iter()
        .position(|m| date[digits..digits + 3].eq_ignore_ascii_case(m))
        .ok_or_else(bad)?;
    let year: i64 = date[digits + 3..].parse().map_err(|_| bad())?;
    let year = 2000 + year;
    let month = month as u32 + 1;
    if day == 0 || day > days_in_month(year, month) {
        return Err(bad());
    }
    Ok(days_from_civil(year, month, day) * MS_PER_DAY + EXPIRY_HOUR_MS)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2021-02-11 18:38:51` for a Unix time in ms.
fn utc_time(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let secs = ms.rem_euclid(MS_PER_DAY) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The rows of the first snapshot, in timestamp order.
fn first_snapshot(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by_key(|r| r.timestamp_ms);
    let mut seen = BTreeSet::new();
    let mut end = rows.len();
    for (i, row) in rows.iter().enumerate() {
        let gap = i > 0 && row.timestamp_ms - rows[i - 1].timestamp_ms > SNAPSHOT_GAP_MS_MAX;
        if gap || !seen.insert(row.name.as_str()) {
            end = i;
            break;
        }
    }
    rows.truncate(end);
    rows
}

/// One quote per (expiry, strike), out of the money preferred, grouped by expiry and sorted by T.
fn slices(rows: Vec<Row>) -> Vec<SliceQuotes> {
    // (expiry, strike bits) -> (call, put); strikes are positive so their bits sort like them.
    let mut by_strike: BTreeMap<(i64, u64), (Option<Row>, Option<Row>)> = BTreeMap::new();
    for row in rows.into_iter().filter(|r| r.iv > 0.0) {
        let entry = by_strike
            .entry((row.expiry_ms, row.strike.to_bits()))
            .or_default();
        match row.kind {
            OptionKind::Call => entry.0 = Some(row),
            OptionKind::Put => entry.1 = Some(row),
        }
    }
    let mut by_expiry: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
    for ((expiry_ms, _), (call, put)) in by_strike {
        let call_otm = call.as_ref().is_some_and(|c| c.strike >= c.forward);
        let put_otm = put.as_ref().is_some_and(|p| p.strike < p.forward);
        let chosen = match (call, put) {
            (Some(c), _) if call_otm => c,
            (_, Some(p)) if put_otm => p,
            (Some(c), _) => c,
            (None, Some(p)) => p,
            (None, None) => continue,
        };
        by_expiry.entry(expiry_ms).or_default().push(chosen);
    }
    by_expiry
        .into_iter()
        .map(|(expiry_ms, rows)| {
            let t_mean = rows
                .iter()
                .map(|r| (expiry_ms - r.timestamp_ms) as f64 / MS_PER_YEAR)
                .sum::<f64>()
                / rows.len() as f64;
            SliceQuotes {
                label: rows.first().map(|r| r.expiry_label.clone()),
                t: t_mean,
                quotes: rows
                    .iter()
                    .map(|r| IvQuote {
                        k: (r.strike / r.forward).ln(),
                        iv: r.iv,
                        weight: 1.0,
                    })
                    .collect(),
                lines: rows.iter().map(|r| r.line).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_0800_utc_on_the_named_date() {
        // 2021-03-26 08:00:00 UTC
        assert_eq!(parse_expiry("26MAR21"), Ok(1_616_745_600_000));
        assert_eq!(parse_expiry("5APR24"), Ok(1_712_304_000_000));
        assert!(parse_expiry("30FEB21").is_err());
        assert!(parse_expiry("26MRZ21").is_err());
        assert!(parse_expiry("").is_err());
        assert!(parse_expiry("é6MAR21").is_err());
    }

    #[test]
    fn option_names_parse_with_decimal_strikes() {
        let (label, _, strike, kind) = parse_option_name("XRP_USDC-5APR24-0d625-P").unwrap();
        assert_eq!(
            (label.as_str(), strike, kind),
            ("5APR24", 0.625, OptionKind::Put)
        );
        assert!(parse_option_name("ETH-26MAR21-2000-X").is_err());
        assert!(parse_option_name("ETH-26MAR21--1-C").is_err());
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1000, 0, 18_669, 20_000, 60_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m as u32, d as u32), days);
        }
        assert_eq!(utc_time(1_613_068_731_977), "2021-02-11 18:38:51");
    }
}
