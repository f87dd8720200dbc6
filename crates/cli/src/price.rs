//! `derivpool price`: prices and Greeks of European options read from a CSV table, by
//! Black-Scholes-Merton on a spot or Black-76 on a forward (DESIGN.md §5.1).

use std::process::ExitCode;

use anyhow::Result;
use csv::ByteRecord;
use derivpool_pricing::{black76_greeks, bsm_greeks, Black76Inputs, BsmInputs, Greeks};

use crate::csv_table::{self, Input, RowErrors};
use crate::option_row::{OptionCols, OptionRow, Underlying};

/// One-line description for `derivpool --help`.
pub const ABOUT: &str = "Price European options and their Greeks from a CSV table";

/// Full description for `derivpool price --help`.
pub const LONG_ABOUT: &str = "\
Price European options and compute their Greeks from a CSV table.

Input: CSV with a header line; columns are found by name (case-insensitive, surrounding spaces
ignored) and may come in any order:
  type     call, put, c or p (any case)
  spot     spot price: the row is priced by Black-Scholes-Merton
  forward  forward (futures) price: the row is priced by Black-76, discounted at `rate`
           (each row needs exactly one of spot and forward)
  strike   strike price, same currency as spot/forward
  t        time to expiry in years (ACT/365)
  vol      volatility as a decimal (0.8 = 80 %)
  rate     optional, continuously compounded rate (default 0)
  div      optional, continuously compounded dividend yield or carry, spot rows only (default 0)
Any other columns (such as an `id`) are copied through unchanged.

Output (stdout): CSV with every input column unchanged and in order, then
  price,delta,gamma,vega,theta,rho,vanna,volga,error
price in the currency of the underlying; delta and gamma with respect to the spot (or forward);
vega and volga per 1.00 of vol; theta per year; rho per 1.00 of rate (Black-76: forward held
fixed); vanna = d(delta)/d(vol). Numbers are printed in the shortest form that reads back as the
same double.

A bad row (a missing or unparsable value, both or neither of spot and forward, an input outside
the model's domain) gets empty result cells and an `error` naming the column and the problem;
the same message is printed on stderr as FILE:LINE: message, and the other rows go on.

Exit status:
  0  every row priced
  1  some rows failed (see their `error` cells and stderr)
  2  the input could not be read: unreadable file, a required column missing from the header
     (reported as FILE:1: missing column ...), or a malformed CSV line";

/// Arguments of `derivpool price`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV table of options; `-` reads stdin.
    #[arg(value_name = "FILE|-", default_value = "-")]
    pub file: String,
}

/// Columns appended after the input columns.
const RESULT_COLUMNS: [&str; 9] = [
    "price", "delta", "gamma", "vega", "theta", "rho", "vanna", "volga", "error",
];

/// Runs `derivpool price`.
pub fn run(args: Args) -> Result<ExitCode> {
    let mut input = Input::open(&args.file)?;
    let header = input.header()?;
    let cols = OptionCols::find(&header, "vol")?;
    let width = header.width();

    let mut out = csv_table::stdout_writer();
    let mut record = ByteRecord::new();
    record.extend(header.raw.iter());
    record.extend(RESULT_COLUMNS);
    out.write_byte_record(&record)?;

    let mut errors = RowErrors::new(&input.name);
    let mut row = ByteRecord::new();
    let mut scratch = zmij::Buffer::new();
    let mut rows = 0_u64;
    while input.read(&mut row)? {
        rows += 1;
        record.clear();
        csv_table::push_input(&mut record, &row, width);
        match price_row(&cols, &row, width) {
            Ok(g) => {
                for value in [
                    g.price, g.delta, g.gamma, g.vega, g.theta, g.rho, g.vanna, g.volga,
                ] {
                    csv_table::push_f64(&mut record, &mut scratch, value);
                }
                record.push_field(b"");
            }
            Err(message) => {
                for _ in 0..RESULT_COLUMNS.len() - 1 {
                    record.push_field(b"");
                }
                record.push_field(message.as_bytes());
                errors.report(csv_table::line_of(&row), &message);
            }
        }
        out.write_byte_record(&record)?;
    }
    out.flush()?;
    Ok(csv_table::exit_code(errors.finish(rows, "rows")))
}

/// Prices one row, or says why it cannot be priced.
fn price_row(cols: &OptionCols, row: &ByteRecord, width: usize) -> Result<Greeks, String> {
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
        value: vol,
    } = cols.parse(row).map_err(|e| e.to_string())?;
    let greeks = match underlying {
        Underlying::Spot(spot) => bsm_greeks(&BsmInputs {
            kind,
            spot,
            strike,
            t,
            rate,
            div,
            vol,
        }),
        Underlying::Forward(forward) => black76_greeks(&Black76Inputs {
            kind,
            forward,
            strike,
            t,
            rate,
            vol,
        }),
    };
    greeks.map_err(|e| cols.input_error(&e))
}
