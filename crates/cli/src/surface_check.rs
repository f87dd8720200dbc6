//! `derivpool surface check`: butterfly arbitrage per row of raw SVI parameters (Gatheral's
//! density g(k) ≥ 0 on a grid) and calendar arbitrage across the rows read as one surface
//! (total variance non-decreasing in t at every k).

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use csv::ByteRecord;
use derivpool_pricing::{calendar_check, ButterflyReport, SviRaw};
use serde::Serialize;

use crate::csv_table::{self, CellError, Col, Input, Problem, RowErrors};
use crate::surface_fit::calendar_line;

/// One-line description for `derivpool surface --help`.
pub const ABOUT: &str = "Check rows of raw SVI parameters for butterfly and calendar arbitrage";

/// Full description for `derivpool surface check --help`.
pub const LONG_ABOUT: &str = "\
Check rows of raw SVI parameters for butterfly arbitrage (per row) and calendar arbitrage (across
the rows read as one surface, sorted by t).

Input: CSV with a header line, columns found by name (case-insensitive, any order):
  t      time to expiry in years (> 0)
  a, b, rho, m, sigma   raw SVI parameters of total variance against k = ln(K/F):
         w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))
         with b >= 0, |rho| < 1, sigma > 0 and a + b sigma sqrt(1 - rho^2) >= 0
Other columns are copied through unchanged.

Output (stdout): CSV with every input column, then `butterfly_ok,min_density,k_at_min`:
butterfly_ok is true or false, min_density the minimum of Gatheral's density g(k) on the grid
(negative = butterfly arbitrage) and k_at_min where it occurs. A bad row (a missing or
unparsable number, invalid parameters) gets empty result cells and is reported on stderr as
FILE:LINE: message. The calendar check of the valid rows is printed on stderr as one line
starting with `calendar:` (so that stdout stays CSV). With --json instead:
  {\"slices\": [{\"t\", \"butterfly_ok\", \"min_density\", \"k_at_min\"}], \"calendar_ok\": bool}
with one entry per valid row, in input order.

Exit status:
  0  every row is valid and free of butterfly arbitrage, and there is no calendar arbitrage
  1  arbitrage was found or some rows are bad (see stderr)
  2  the input could not be read: unreadable file, a required column missing from the header,
     or a malformed CSV line";

/// Arguments of `derivpool surface check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV of SVI parameters per row; `-` reads stdin.
    #[arg(value_name = "FILE|-", default_value = "-")]
    pub file: String,
    /// Print JSON instead of CSV.
    #[arg(long)]
    pub json: bool,
}

/// One slice in the JSON output (exactly these keys).
#[derive(Debug, Serialize)]
struct JsonSlice {
    t: f64,
    butterfly_ok: bool,
    min_density: f64,
    k_at_min: f64,
}

/// The JSON output (exactly these keys).
#[derive(Debug, Serialize)]
struct JsonCheck {
    slices: Vec<JsonSlice>,
    calendar_ok: bool,
}

/// Where the parameter columns are.
struct SviCols {
    t: Col,
    a: Col,
    b: Col,
    rho: Col,
    m: Col,
    sigma: Col,
}

/// Runs `derivpool surface check`.
pub fn run(args: Args) -> Result<ExitCode> {
    let mut input = Input::open(&args.file)?;
    let header = input.header()?;
    let cols = SviCols {
        t: header.required("t")?,
        a: header.required("a")?,
        b: header.required("b")?,
        rho: header.required("rho")?,
        m: header.required("m")?,
        sigma: header.required("sigma")?,
    };
    let width = header.width();
    let mut errors = RowErrors::new(&input.name);
    let mut csv_out = (!args.json).then(csv_table::stdout_writer);
    let mut record = ByteRecord::new();
    if let Some(out) = csv_out.as_mut() {
        record.extend(header.raw.iter());
        record.extend(["butterfly_ok", "min_density", "k_at_min"]);
        out.write_byte_record(&record)?;
    }

    let mut slices: Vec<(f64, SviRaw, ButterflyReport)> = Vec::new();
    let mut row = ByteRecord::new();
    let mut scratch = zmij::Buffer::new();
    let mut rows = 0_u64;
    while input.read(&mut row)? {
        rows += 1;
        let checked = match csv_table::width_error(&row, width) {
            Some(message) => Err(message),
            None => cols.parse(&row).map_err(|e| e.to_string()),
        };
        let result = checked.map(|(t, params)| {
            let report = params.butterfly_check();
            slices.push((t, params, report));
            report
        });
        if let Err(message) = &result {
            errors.report(csv_table::line_of(&row), message);
        }
        if let Some(out) = csv_out.as_mut() {
            record.clear();
            csv_table::push_input(&mut record, &row, width);
            match result {
                Ok(report) => {
                    record.push_field(if report.ok { b"true" } else { b"false" });
                    csv_table::push_f64(&mut record, &mut scratch, report.min_density);
                    csv_table::push_f64(&mut record, &mut scratch, report.k_at_min);
                }
                Err(_) => record.extend([""; 3]),
            }
            out.write_byte_record(&record)?;
        }
    }
    if let Some(mut out) = csv_out {
        out.flush()?;
    }

    let mut curve: Vec<(f64, SviRaw)> = slices.iter().map(|(t, p, _)| (*t, *p)).collect();
    curve.sort_by(|x, y| x.0.total_cmp(&y.0));
    let calendar = calendar_check(&curve);
    let butterfly_failures = slices.iter().filter(|(_, _, r)| !r.ok).count();
    errors.note(&calendar_line(&calendar, curve.len(), &|t| {
        format!("t = {t}")
    }));
    if butterfly_failures > 0 {
        errors.note(&format!(
            "butterfly: ARBITRAGE in {butterfly_failures} of {} slices",
            slices.len()
        ));
    }
    let bad_rows = errors.finish(rows, "rows");

    if args.json {
        let json = JsonCheck {
            slices: slices
                .iter()
                .map(|(t, _, r)| JsonSlice {
                    t: *t,
                    butterfly_ok: r.ok,
                    min_density: r.min_density,
                    k_at_min: r.k_at_min,
                })
                .collect(),
            calendar_ok: calendar.ok,
        };
        let mut out = io::BufWriter::new(io::stdout().lock());
        serde_json::to_writer_pretty(&mut out, &json)?;
        writeln!(out)?;
        out.flush()?;
    }
    Ok(csv_table::exit_code(
        bad_rows + butterfly_failures + usize::from(!calendar.ok),
    ))
}

impl SviCols {
    /// Parses and validates one row's maturity and parameters.
    fn parse(&self, record: &ByteRecord) -> Result<(f64, SviRaw), CellError> {
        let t = csv_table::number(record, self.t)?;
        if t <= 0.0 {
            return Err(CellError {
                col: self.t,
                problem: Problem::Invalid(format!("{t} must be > 0")),
            });
        }
        let params = SviRaw {
            a: csv_table::number(record, self.a)?,
            b: csv_table::number(record, self.b)?,
            rho: csv_table::number(record, self.rho)?,
            m: csv_table::number(record, self.m)?,
            sigma: csv_table::number(record, self.sigma)?,
        };
        params.validate().map_err(|e| {
            let col = [self.a, self.b, self.rho, self.m, self.sigma]
                .into_iter()
                .find(|c| c.name == e.field)
                .unwrap_or(self.a);
            CellError {
                col,
                problem: Problem::Invalid(e.to_string()),
            }
        })?;
        Ok((t, params))
    }
}
