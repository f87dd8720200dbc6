//! `derivpool surface fit`: one raw SVI slice per expiry fitted to implied-vol quotes
//! (vega-weighted, `derivpool_pricing::fit_svi`), with the fit errors and the butterfly and
//! calendar checks of the result.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{bail, Result};
use csv::ByteRecord;
use derivpool_pricing::{calendar_check, fit_svi, FitError, FitResult, IvQuote, SviRaw};
use serde::Serialize;

use crate::csv_table::{self, CellError, Col, Input, Problem, RowErrors};
use crate::deribit;

/// One-line description for `derivpool surface --help`.
pub const ABOUT: &str = "Fit one raw SVI slice per expiry to implied-vol quotes";

/// Full description for `derivpool surface fit --help`.
pub const LONG_ABOUT: &str = "\
Fit one raw SVI slice per expiry to implied-vol quotes (vega-weighted least squares) and check
the fitted surface for butterfly and calendar arbitrage.

Input (--format quotes, the default): CSV with a header line, columns found by name
(case-insensitive, any order):
  t        time to expiry in years; rows with the same t form one slice
  k        log-moneyness ln(K/F); or, when there is no `k` column, both of
  strike   strike and
  forward  forward of that expiry
  iv       implied vol as a decimal (0.8 = 80 %)
  weight   optional, >= 0, multiplies the quote's vega weight (default 1)

Input (--format deribit): a Deribit option-chain dump with the columns `instrument_name`
(ETH-26MAR21-2000-C), `underlying_price` (the forward), `mark_iv` (percent; 0 = no quote,
skipped) and `timestamp` (Unix ms). Expiry is 08:00 UTC on the date in the name;
T = (expiry - timestamp) / 365 days, averaged over the quotes of the expiry. When the file holds
several snapshots only the first is fitted (rows in timestamp order up to a gap of more than 60 s
or an instrument seen twice). One quote per strike: the out-of-the-money option (calls at
K >= F, puts below) when it has a mark, else the other.

Output: a table per expiry of the SVI parameters a, b, rho, m, sigma, the RMSE and maximum error
of the fit in vol points (1 point = 0.01 vol), the number of quotes, and the butterfly check
(the minimum of Gatheral's density g(k); arbitrage when negative); then the calendar check
across the fitted slices. With --json instead:
  {\"expiries\": [{\"t\", \"a\", \"b\", \"rho\", \"m\", \"sigma\", \"rmse_vol_points\",
    \"max_error_vol_points\", \"quotes\", \"butterfly_ok\", \"min_density\"}], \"calendar_ok\": bool}
sorted by t. An expiry that cannot be fitted (for example fewer than 5 quotes) is reported with
its reason on stderr and left out of the table and the JSON; the others are fitted. Bad rows are
reported on stderr as FILE:LINE: message and skipped.

Exit status:
  0  every row was used and every expiry fitted
  1  some rows or expiries failed (reported on stderr); the rest were fitted
  2  the input could not be read: unreadable file, a required column missing from the header,
     a malformed CSV line, or no quotes at all";

/// Input formats of `surface fit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Columns t, k (or strike and forward), iv, optional weight.
    #[default]
    Quotes,
    /// A Deribit option-chain dump (instrument_name, underlying_price, mark_iv, timestamp).
    Deribit,
}

/// Arguments of `derivpool surface fit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV of implied-vol quotes; `-` reads stdin.
    #[arg(value_name = "FILE|-", default_value = "-")]
    pub file: String,
    /// Input format.
    #[arg(long, value_enum, default_value_t = Format::Quotes)]
    pub format: Format,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The quotes of one expiry, ready to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceQuotes {
    /// A name for the expiry (Deribit's `26MAR21`), if the input has one.
    pub label: Option<String>,
    /// Time to expiry in years.
    pub t: f64,
    /// The quotes.
    pub quotes: Vec<IvQuote>,
    /// The input line of each quote, for messages.
    pub lines: Vec<u64>,
}

/// One fitted expiry in the JSON output (exactly these keys).
#[derive(Debug, Serialize)]
struct JsonExpiry {
    t: f64,
    a: f64,
    b: f64,
    rho: f64,
    m: f64,
    sigma: f64,
    rmse_vol_points: f64,
    max_error_vol_points: f64,
    quotes: usize,
    butterfly_ok: bool,
    min_density: f64,
}

/// The JSON output (exactly these keys).
#[derive(Debug, Serialize)]
struct JsonFit {
    expiries: Vec<JsonExpiry>,
    calendar_ok: bool,
}

/// Runs `derivpool surface fit`.
pub fn run(args: Args) -> Result<ExitCode> {
    let mut input = Input::open(&args.file)?;
    let mut errors = RowErrors::new(&input.name);
    let (slices, rows) = match args.format {
        Format::Quotes => read_quotes(&mut input, &mut errors)?,
        Format::Deribit => deribit::read(&mut input, &mut errors)?,
    };
    if slices.is_empty() && errors.count() == 0 {
        bail!("{}: no quotes to fit", input.name);
    }

    let mut fitted: Vec<(Option<String>, FitResult)> = Vec::new();
    let mut failed_slices = 0_usize;
    for slice in &slices {
        match fit_svi(slice.t, &slice.quotes) {
            Ok(fit) => fitted.push((slice.label.clone(), fit)),
            Err(e) => {
                failed_slices += 1;
                let why = match &e {
                    FitError::BadQuote { index, reason } => match slice.lines.get(*index) {
                        Some(line) => format!("quote on line {line}: {reason}"),
                        None => e.to_string(),
                    },
                    _ => e.to_string(),
                };
                errors.note(&format!(
                    "{}: {}not fitted: {why}",
                    input.name,
                    slice_name(slice.label.as_deref(), slice.t)
                ));
            }
        }
    }
    let curve: Vec<(f64, SviRaw)> = fitted.iter().map(|(_, f)| (f.t, f.params)).collect();
    let calendar = calendar_check(&curve);
    let failed = errors.finish(rows, "rows") + failed_slices;

    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        let json = JsonFit {
            expiries: fitted
                .iter()
                .map(|(_, f)| JsonExpiry {
                    t: f.t,
                    a: f.params.a,
                    b: f.params.b,
                    rho: f.params.rho,
                    m: f.params.m,
                    sigma: f.params.sigma,
                    rmse_vol_points: f.rmse_vol_points,
                    max_error_vol_points: f.max_error_vol_points,
                    quotes: f.quotes,
                    butterfly_ok: f.butterfly.ok,
                    min_density: f.butterfly.min_density,
                })
                .collect(),
            calendar_ok: calendar.ok,
        };
        serde_json::to_writer_pretty(&mut out, &json)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &fitted)?;
        let name = |t: f64| {
            let label = fitted
                .iter()
                .find(|(_, f)| f.t == t)
                .and_then(|(l, _)| l.as_deref());
            match label {
                Some(label) => format!("{label} (t = {t:.6})"),
                None => format!("t = {t}"),
            }
        };
        writeln!(out, "{}", calendar_line(&calendar, fitted.len(), &name))?;
    }
    out.flush()?;
    Ok(csv_table::exit_code(failed))
}

/// `expiry 26MAR21 (t = 0.1214): ` or `t = 0.25: `.
fn slice_name(label: Option<&str>, t: f64) -> String {
    match label {
        Some(label) => format!("expiry {label} (t = {t:.6}): "),
        None => format!("t = {t}: "),
    }
}

/// The human-readable table of fitted slices.
fn write_table(out: &mut impl Write, fitted: &[(Option<String>, FitResult)]) -> io::Result<()> {
    let labelled = fitted.iter().any(|(label, _)| label.is_some());
    if labelled {
        write!(out, "{:<9} ", "expiry")?;
    }
    writeln!(
        out,
        "{:>10} {:>10} {:>10} {:>8} {:>9} {:>9} {:>8} {:>8} {:>6}  {:<9} {:>11}",
        "t", "a", "b", "rho", "m", "sigma", "rmse_vp", "max_vp", "quotes", "butterfly", "min_g(k)"
    )?;
    for (label, f) in fitted {
        if labelled {
            write!(out, "{:<9} ", label.as_deref().unwrap_or(""))?;
        }
        let p = f.params;
        writeln!(
            out,
            "{:>10.6} {:>10.6} {:>10.6} {:>8.4} {:>9.5} {:>9.5} {:>8.3} {:>8.3} {:>6}  {:<9} {:>11.4e}",
            f.t,
            p.a,
            p.b,
            p.rho,
            p.m,
            p.sigma,
            f.rmse_vol_points,
            f.max_error_vol_points,
            f.quotes,
            if f.butterfly.ok { "ok" } else { "ARBITRAGE" },
            f.butterfly.min_density
        )?;
    }
    Ok(())
}

/// One line describing the calendar check; `name` describes a slice by its t.
pub fn calendar_line(
    report: &derivpool_pricing::CalendarReport,
    slices: usize,
    name: &dyn Fn(f64) -> String,
) -> String {
    match (report.ok, report.worst) {
        (true, _) => {
            format!("calendar: ok (total variance non-decreasing in t across {slices} slices)")
        }
        (false, Some((t1, t2, k, excess))) => format!(
            "calendar: ARBITRAGE: total variance falls from {} to {} at k = {k:.4} \
             (w(t1) - w(t2) = {excess:.6})",
            name(t1),
            name(t2)
        ),
        (false, None) => "calendar: ARBITRAGE (total variance falls with t)".to_owned(),
    }
}

/// Where the quote columns are.
struct QuoteCols {
    t: Col,
    moneyness: Moneyness,
    iv: Col,
    weight: Option<Col>,
}

/// How a row gives its log-moneyness.
enum Moneyness {
    /// A `k` column.
    K(Col),
    /// `strike` and `forward` columns.
    StrikeForward(Col, Col),
}

/// Reads `t,k|strike+forward,iv[,weight]` rows and groups them by t.
fn read_quotes(input: &mut Input, errors: &mut RowErrors) -> Result<(Vec<SliceQuotes>, u64)> {
    let header = input.header()?;
    let moneyness = match header.optional("k")? {
        Some(k) => Moneyness::K(k),
        None => match (header.optional("strike")?, header.optional("forward")?) {
            (Some(strike), Some(forward)) => Moneyness::StrikeForward(strike, forward),
            _ => return Err(header.missing_any("\"k\" (or both \"strike\" and \"forward\")")),
        },
    };
    let cols = QuoteCols {
        t: header.required("t")?,
        moneyness,
        iv: header.required("iv")?,
        weight: header.optional("weight")?,
    };
    let width = header.width();
    let mut quotes: Vec<(f64, IvQuote, u64)> = Vec::new();
    let mut record = ByteRecord::new();
    let mut rows = 0_u64;
    while input.read(&mut record)? {
        rows += 1;
        let line = csv_table::line_of(&record);
        if let Some(message) = csv_table::width_error(&record, width) {
            errors.report(line, &message);
            continue;
        }
        match cols.parse(&record) {
            Ok((t, quote)) => quotes.push((t, quote, line)),
            Err(e) => errors.report(line, &e),
        }
    }
    quotes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut slices: Vec<SliceQuotes> = Vec::new();
    for (t, quote, line) in quotes {
        match slices.last_mut() {
            Some(slice) if slice.t == t => {
                slice.quotes.push(quote);
                slice.lines.push(line);
            }
            _ => slices.push(SliceQuotes {
                label: None,
                t,
                quotes: vec![quote],
                lines: vec![line],
            }),
        }
    }
    Ok((slices, rows))
}

impl QuoteCols {
    fn parse(&self, record: &ByteRecord) -> Result<(f64, IvQuote), CellError> {
        let t = positive(record, self.t)?;
        let k = match self.moneyness {
            Moneyness::K(col) => csv_table::number(record, col)?,
            Moneyness::StrikeForward(strike, forward) => {
                (positive(record, strike)? / positive(record, forward)?).ln()
            }
        };
        let iv = positive(record, self.iv)?;
        let weight = csv_table::optional_number(record, self.weight)?.unwrap_or(1.0);
        if let (Some(col), true) = (self.weight, weight < 0.0) {
            return Err(CellError {
                col,
                problem: Problem::Invalid(format!("{weight} must be ≥ 0")),
            });
        }
        Ok((t, IvQuote { k, iv, weight }))
    }
}

/// A number that must be > 0.
fn positive(record: &ByteRecord, col: Col) -> Result<f64, CellError> {
    let value = csv_table::number(record, col)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(CellError {
            col,
            problem: Problem::Invalid(format!("{value} must be > 0")),
        })
    }
}
