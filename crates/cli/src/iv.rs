//! `derivpool iv`: implied volatilities of European option prices read from a CSV table, by
//! Jäckel's "Let's Be Rational" under Black-Scholes-Merton or Black-76 (DESIGN.md §5.1).

use std::process::ExitCode;

use anyhow::Result;
use csv::ByteRecord;
use derivpool_pricing::{implied_vol_black76, implied_vol_bsm};

use crate::csv_table::{self, Input, RowErrors};
use crate::option_row::{OptionCols, OptionRow, Underlying};

/// One-line description for `derivpool --help`.
pub const ABOUT: &str = "Implied volatilities of European option prices from a CSV table";

/// Full description for `derivpool iv --help`.
pub const LONG_ABOUT: &str = "\
Compute the implied volatility of European option prices from a CSV table (Jäckel's
\"Let's Be Rational\", full double precision).

Input: CSV with a header line; columns are found by name (case-insensitive, surrounding spaces
ignored) and may come in any order:
  type     call, put, c or p (any case)
  spot     spot price: Black-Scholes-Merton
  forward  forward (futures) price: Black-76, price discounted at `rate`
           (each row needs exactly one of spot and forward)
  strike   strike price
  t        time to expiry in years (ACT/365)
  price    option price, same currency as spot/forward
  rate     optional, continuously compounded rate (default 0)
  div      optional, continuously compounded dividend yield or carry, spot rows only (default 0)
Any other columns are copied through unchanged, so the output of `derivpool price` can be piped
straight in.

Output (stdout): CSV with every input column unchanged and in order, then `iv,error`: the
implied vol as a decimal (0.8 = 80 %), printed in the shortest form that reads back as the same
double, or an empty `iv` and an `error` saying why no vol exists (which no-arbitrage bound the
price breaks: negative, below the intrinsic value, above the upper bound) or which input is bad.
Bad rows are also printed on stderr as FILE:LINE: message, and the other rows go on.

Exit status:
  0  every row has an implied vol
  1  some rows failed (see their `error` cells and stderr)
  2  the input could not be read: unreadable file, a required column missing from the header
     (reported as FILE:1: missing column ...), or a malformed CSV line";

/// Arguments of `derivpool iv`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV table of option prices; `-` reads stdin.
    #[arg(value_name = "FILE|-", default_value = "-")]
    pub file: String,
}

/// Runs `derivpool iv`.
pub fn run(args: Args) -> Result<ExitCode> {
    let mut input = Input::open(&args.file)?;
    let header = input.header()?;
    let cols = OptionCols::find(&header, "price")?;
    let width = header.width();

    let mut out = csv_table::stdout_writer();
    let mut record = ByteRecord::new();
    record.extend(header.raw.iter());
    record.extend(["iv", "error"]);
    out.write_byte_record(&record)?;

    let mut errors = RowErrors::new(&input.name);
    let mut row = ByteRecord::new();
    let mut scratch = zmij::Buffer::new();
    let mut rows = 0_u64;
    while input.read(&mut row)? {
        rows += 1;
        record.clear();
        csv_table::push_input(&mut record, &row, width);
        match iv_row(&cols, &row, width) {
            Ok(iv) => {
                csv_table::push_f64(&mut record, &mut scratch, iv);
                record.push_field(b"");
            }
            Err(message) => {
                record.push_field(b"");
                record.push_field(message.as_bytes());
                errors.report(csv_table::line_of(&row), &message);
            }
        }
        out.write_byte_record(&record)?;
    }
    out.flush()?;
    Ok(csv_table::exit_code(errors.finish(rows, "rows")))
}

/// The implied vol of one row, or why there is none.
fn iv_row(cols: &OptionCols, row: &ByteRecord, width: usize) -> Result<f64, String> {
    if let Some(message) = csv_table::width_error(row, width) {
        return Err(message);
    }
    let OptionRow {
        kind,
        underlying,
        strike,
        t,
        rate,
        div,
        value: price,
    } = cols.parse(row).map_err(|e| e.to_string())?;
    let iv = match underlying {
        Underlying::Spot(spot) => implied_vol_bsm(kind, price, spot, strike, t, rate, div),
        Underlying::Forward(forward) => implied_vol_black76(kind, price, forward, strike, t, rate),
    };
    iv.map_err(|e| cols.iv_error(&e))
}
