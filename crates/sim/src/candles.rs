//! Replay of real candles from CSV, with the mess of real exports cleaned and reported.
//!
//! Columns (header names, case-insensitive, any order, others ignored):
//! - time: `timestamp` as a UTC date-time (`2022-05-09 13:00:00`, `2022-05-09T13:00:00Z`,
//!   `2022-05-09 13:00`, `2022-05-09`) or as unix seconds/milliseconds, or `unix` in seconds or
//!   milliseconds (values above 10¹¹ are milliseconds);
//! - price: `close`, else `price`.
//!
//! Cleaning, each counted in [`CleaningReport`]: rows that cannot be read are skipped (the first
//! few with line and reason), rows are sorted oldest first (exports are often newest first),
//! repeated times keep the first row, and missing intervals (gaps longer than the file's usual
//! spacing) are bridged by log-linear interpolation when the series is put on the simulator's
//! step grid.
//!
//! Vol of a replayed path: an EWMA of squared log returns, σ²ₙ = λσ²ₙ₋₁ + (1 − λ)r²ₙ/Δ with a
//! three-day half-life, floored at 20 % — a forecaster that lags real moves, like a real desk.

use crate::market::MarketPath;
use serde::Serialize;
use thiserror::Error;

/// One candle after reading: unix seconds and price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    /// Unix seconds.
    pub t: u64,
    /// Close (or price).
    pub price: f64,
}

/// What was cleaned while reading a candle file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CleaningReport {
    /// Data rows in the file.
    pub rows: usize,
    /// Rows kept.
    pub kept: usize,
    /// Rows skipped because a field could not be read.
    pub unreadable: usize,
    /// The first few unreadable rows: `line N: reason`.
    pub unreadable_examples: Vec<String>,
    /// True when the rows were not in time order (e.g. newest first) and were sorted.
    pub reordered: bool,
    /// Rows dropped because their time repeated an earlier row's.
    pub duplicates: usize,
    /// Intervals missing between kept rows (bridged by interpolation).
    pub missing_intervals: usize,
    /// Rows whose time was unix seconds or milliseconds in a date-time column, or the other way.
    pub mixed_time_formats: usize,
    /// The usual spacing of the rows in seconds.
    pub interval_s: u64,
}

impl CleaningReport {
    /// One line for people: what was cleaned.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{} rows, {} kept", self.rows, self.kept)];
        if self.reordered {
            parts.push("sorted oldest first".into());
        }
        if self.duplicates > 0 {
            parts.push(format!("{} duplicate times dropped", self.duplicates));
        }
        if self.mixed_time_formats > 0 {
            parts.push(format!(
                "{} times in a second format read",
                self.mixed_time_formats
            ));
        }
        if self.missing_intervals > 0 {
            parts.push(format!(
                "{} missing intervals interpolated",
                self.missing_intervals
            ));
        }
        if self.unreadable > 0 {
            parts.push(format!("{} unreadable rows skipped", self.unreadable));
        }
        parts.join(", ")
    }
}

/// Why a candle file could not be used at all.
#[derive(Debug, Error, PartialEq)]
pub enum CandleError {
    /// The header lacks a needed column.
    #[error("no {0} column (expected {1})")]
    MissingColumn(&'static str, &'static str),
    /// Fewer than two usable rows.
    #[error("fewer than two usable rows ({0})")]
    TooFewRows(String),
    /// The CSV itself is malformed.
    #[error("CSV: {0}")]
    Csv(String),
}

const EXAMPLES_MAX: usize = 5;

/// Parses a UTC date-time: `YYYY-MM-DD[ T]HH:MM[:SS][.fff][Z|+00:00]` or `YYYY-MM-DD`.
pub fn parse_datetime(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or(s);
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || y < 1970 {
        return None;
    }
    let (mut hh, mut mm, mut ss) = (0, 0, 0);
    if b.len() > 10 {
        if !(b[10] == b' ' || b[10] == b'T') || b.len() < 16 || b[13] != b':' {
            return None;
        }
        hh = num(11..13)?;
        mm = num(14..16)?;
        if b.len() > 16 {
            if b[16] != b':' || b.len() < 19 {
                return None;
            }
            ss = num(17..19)?;
            let rest = &s[19..];
            if !(rest.is_empty()
                || (rest.starts_with('.') && rest[1..].bytes().all(|c| c.is_ascii_digit())))
            {
                return None;
            }
        }
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
    }
    let days = crate::time::days_from_civil(i64::from(y), m, d);
    Some(days as u64 * 86_400 + u64::from(hh) * 3600 + u64::from(mm) * 60 + u64::from(ss))
}

/// Unix seconds from a number of seconds or milliseconds (above 10¹¹: milliseconds).
fn parse_unix(s: &str) -> Option<u64> {
    let v: f64 = s.trim().parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(if v > 1e11 {
        (v / 1000.0) as u64
    } else {
        v as u64
    })
}

/// Reads candles from CSV text and cleans them (see the module docs).
pub fn read_candles(text: &str) -> Result<(Vec<Candle>, CleaningReport), CandleError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| CandleError::Csv(e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let find = |name: &str| headers.iter().position(|h| h == name);
    let (time_col, time_is_unix) = match (find("timestamp"), find("unix")) {
        (Some(i), _) => (i, false),
        (None, Some(i)) => (i, true),
        _ => {
            return Err(CandleError::MissingColumn(
                "time",
                "`timestamp` (UTC date-time) or `unix` (seconds or ms)",
            ))
        }
    };
    let price_col = find("close")
        .or_else(|| find("price"))
        .ok_or(CandleError::MissingColumn("price", "`close` or `price`"))?;
    let mut report = CleaningReport::default();
    let mut rows: Vec<Candle> = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        report.rows += 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                note_unreadable(&mut report, line, &e.to_string());
                continue;
            }
        };
        let (Some(ts), Some(px)) = (rec.get(time_col), rec.get(price_col)) else {
            note_unreadable(&mut report, line, "too few fields");
            continue;
        };
        let (primary, secondary) = if time_is_unix {
            (parse_unix(ts), parse_datetime(ts))
        } else {
            (parse_datetime(ts), parse_unix(ts))
        };
        let t = match (primary, secondary) {
            (Some(t), _) => t,
            (None, Some(t)) => {
                report.mixed_time_formats += 1;
                t
            }
            _ => {
                note_unreadable(
                    &mut report,
                    line,
                    &format!("time {ts:?} is not a date-time or unix time"),
                );
                continue;
            }
        };
        match px.parse::<f64>() {
            Ok(p) if p.is_finite() && p > 0.0 => rows.push(Candle { t, price: p }),
            _ => note_unreadable(
                &mut report,
                line,
                &format!("price {px:?} is not a positive number"),
            ),
        }
    }
    report.reordered = rows.windows(2).any(|w| w[1].t < w[0].t);
    // A stable sort keeps the file order of rows with the same time: the first one wins.
    rows.sort_by_key(|c| c.t);
    let before = rows.len();
    rows.dedup_by_key(|c| c.t);
    report.duplicates = before - rows.len();
    report.kept = rows.len();
    if rows.len() < 2 {
        return Err(CandleError::TooFewRows(report.describe()));
    }
    report.interval_s = usual_interval(&rows);
    report.missing_intervals = rows
        .windows(2)
        .map(|w| ((w[1].t - w[0].t) / report.interval_s).saturating_sub(1) as usize)
        .sum();
    Ok((rows, report))
}

fn note_unreadable(report: &mut CleaningReport, line: usize, why: &str) {
    report.unreadable += 1;
    if report.unreadable_examples.len() < EXAMPLES_MAX {
        report
            .unreadable_examples
            .push(format!("line {line}: {why}"));
    }
}

/// The most common spacing between consecutive rows (the smallest among ties).
fn usual_interval(rows: &[Candle]) -> u64 {
    let mut gaps: Vec<u64> = rows.windows(2).map(|w| w[1].t - w[0].t).collect();
    gaps.sort_unstable();
    let (mut best, mut best_n, mut i) = (gaps[0], 0, 0);
    while i < gaps.len() {
        let j = gaps[i..].iter().take_while(|g| **g == gaps[i]).count();
        if j > best_n {
            best = gaps[i];
            best_n = j;
        }
        i += j;
    }
    best.max(1)
}

/// Puts candles on a grid of `step_s` from the first candle for `steps` steps (or as many as the
/// candles cover), log-linearly interpolated, with an EWMA vol (module docs).
pub fn to_path(candles: &[Candle], step_s: u64, steps: Option<usize>) -> MarketPath {
    let t0 = candles[0].t;
    let last = candles[candles.len() - 1].t;
    let covered = ((last - t0) / step_s) as usize;
    let n = steps.map_or(covered, |s| s.min(covered)) + 1;
    let mut path = MarketPath {
        t: Vec::with_capacity(n),
        spot: Vec::with_capacity(n),
        vol: Vec::with_capacity(n),
    };
    let mut j = 0;
    for i in 0..n {
        let t = t0 + i as u64 * step_s;
        while j + 1 < candles.len() && candles[j + 1].t <= t {
            j += 1;
        }
        let a = candles[j];
        let p = if a.t == t || j + 1 == candles.len() {
            a.price
        } else {
            let b = candles[j + 1];
            let w = (t - a.t) as f64 / (b.t - a.t) as f64;
            (a.price.ln() * (1.0 - w) + b.price.ln() * w).exp()
        };
        path.t.push(t);
        path.spot.push(p);
    }
    let dt = step_s as f64 / crate::time::YEAR_S;
    let half_life_steps = (3.0 * 86_400.0 / step_s as f64).max(1.0);
    let lambda = 0.5f64.powf(1.0 / half_life_steps);
    let floor = 0.2;
    let warm = n.min((7 * 86_400 / step_s) as usize + 1);
    let mut var = path.spot[..warm]
        .windows(2)
        .map(|w| (w[1] / w[0]).ln().powi(2) / dt)
        .sum::<f64>()
        / (warm.max(2) - 1) as f64;
    if !var.is_finite() || var <= 0.0 {
        var = 0.6 * 0.6;
    }
    path.vol.push(var.sqrt().max(floor));
    for i in 1..n {
        let r = (path.spot[i] / path.spot[i - 1]).ln();
        var = lambda * var + (1.0 - lambda) * r * r / dt;
        path.vol.push(var.sqrt().max(floor));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_in_their_usual_spellings() {
        let t = 1_652_101_200; // 2022-05-09 13:00:00
        for s in [
            "2022-05-09 13:00:00",
            "2022-05-09T13:00:00Z",
            "2022-05-09T13:00:00+00:00",
            "2022-05-09 13:00",
            "2022-05-09T13:00:00.000Z",
        ] {
            assert_eq!(parse_datetime(s), Some(t), "{s}");
        }
        assert_eq!(parse_datetime("2022-05-09"), Some(t - 13 * 3600));
        for bad in [
            "2022-13-01",
            "09/05/2022",
            "2022-05-09 25:00",
            "2022-05-09x13:00",
            "",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
