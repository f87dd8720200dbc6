//! The option columns shared by `price` and `iv`: `type`, `spot` (Black-Scholes-Merton) or
//! `forward` (Black-76), `strike`, `t`, optional `rate` and `div`, plus one model-specific value
//! column (`vol` for `price`, `price` for `iv`).

use anyhow::Result;
use csv::ByteRecord;
use derivpool_pricing::black::ParseOptionKindError;
use derivpool_pricing::{InputError, IvError, OptionKind};

use crate::csv_table::{self, CellError, Col, Header, Problem};

/// The underlying of one row: a spot (Black-Scholes-Merton) or a forward (Black-76).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Underlying {
    /// Spot price, with the rate and dividend yield of the row.
    Spot(f64),
    /// Forward price; the price is discounted at the row's rate.
    Forward(f64),
}

/// One parsed option row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionRow {
    /// Call or put.
    pub kind: OptionKind,
    /// Spot or forward.
    pub underlying: Underlying,
    /// Strike.
    pub strike: f64,
    /// Time to expiry in years.
    pub t: f64,
    /// Continuously compounded rate (0 when absent).
    pub rate: f64,
    /// Continuously compounded dividend yield (0 when absent; only for spot rows).
    pub div: f64,
    /// The value column: `vol` for `price`, `price` for `iv`.
    pub value: f64,
}

/// Where the option columns are in the header.
#[derive(Debug, Clone, Copy)]
pub struct OptionCols {
    kind: Col,
    spot: Option<Col>,
    forward: Option<Col>,
    strike: Col,
    t: Col,
    rate: Option<Col>,
    div: Option<Col>,
    value: Col,
    /// The spot column if present, else the forward column: where a missing underlying is
    /// reported.
    underlying: Col,
}

impl OptionCols {
    /// Finds the columns; `value` names the model-specific column (`vol` or `price`).
    pub fn find(header: &Header, value: &'static str) -> Result<Self> {
        let kind = header.required("type")?;
        let spot = header.optional("spot")?;
        let forward = header.optional("forward")?;
        let Some(underlying) = spot.or(forward) else {
            return Err(header.missing_any("\"spot\" or \"forward\""));
        };
        Ok(Self {
            kind,
            spot,
            forward,
            strike: header.required("strike")?,
            t: header.required("t")?,
            rate: header.optional("rate")?,
            div: header.optional("div")?,
            value: header.required(value)?,
            underlying,
        })
    }

    /// Parses one row.
    pub fn parse(&self, record: &ByteRecord) -> Result<OptionRow, CellError> {
        let kind = parse_kind(record, self.kind)?;
        let spot = csv_table::optional_number(record, self.spot)?;
        let forward = csv_table::optional_number(record, self.forward)?;
        let underlying = match (spot, forward) {
            (Some(s), None) => Underlying::Spot(s),
            (None, Some(f)) => Underlying::Forward(f),
            (Some(_), Some(_)) => {
                return Err(CellError {
                    col: self.forward.unwrap_or(self.underlying),
                    problem: Problem::Invalid(
                        "set together with spot; give exactly one of spot and forward".to_owned(),
                    ),
                })
            }
            (None, None) => {
                let both = self.spot.is_some() && self.forward.is_some();
                return Err(CellError {
                    col: self.underlying,
                    problem: if both {
                        Problem::Invalid(
                            "missing value, and forward is empty too; give exactly one of spot \
                             and forward"
                                .to_owned(),
                        )
                    } else {
                        Problem::Missing
                    },
                });
            }
        };
        let div = csv_table::optional_number(record, self.div)?.unwrap_or(0.0);
        if let (Underlying::Forward(_), Some(col)) = (underlying, self.div) {
            if div != 0.0 {
                return Err(CellError {
                    col,
                    problem: Problem::Invalid(format!(
                        "{div} on a forward (Black-76) row; the forward already includes carry, \
                         leave div empty or 0"
                    )),
                });
            }
        }
        Ok(OptionRow {
            kind,
            underlying,
            strike: csv_table::number(record, self.strike)?,
            t: csv_table::number(record, self.t)?,
            rate: csv_table::optional_number(record, self.rate)?.unwrap_or(0.0),
            div,
            value: csv_table::number(record, self.value)?,
        })
    }

    /// Describes an input the model rejected, naming its column when the input has one.
    pub fn input_error(&self, e: &InputError) -> String {
        match self.col_named(e.field) {
            Some(col) => format!("{col}: {} is invalid: {}", e.value, e.rule),
            None => e.to_string(),
        }
    }

    /// Describes an implied-vol failure: a price outside the no-arbitrage bounds names the price
    /// column and the bound; a bad input names its column.
    pub fn iv_error(&self, e: &IvError) -> String {
        match e {
            IvError::Input(input) => self.input_error(input),
            other => format!("{}: {other}", self.value),
        }
    }

    fn col_named(&self, field: &str) -> Option<Col> {
        [
            Some(self.kind),
            self.spot,
            self.forward,
            Some(self.strike),
            Some(self.t),
            self.rate,
            self.div,
            Some(self.value),
        ]
        .into_iter()
        .flatten()
        .find(|c| c.name == field)
    }
}

/// Parses `call`, `put`, `c` or `p` in any case (`OptionKind`'s `FromStr`).
fn parse_kind(record: &ByteRecord, col: Col) -> Result<OptionKind, CellError> {
    let Some(bytes) = csv_table::text(record, col) else {
        return Err(CellError {
            col,
            problem: Problem::Missing,
        });
    };
    let text = String::from_utf8_lossy(bytes);
    text.parse().map_err(|e: ParseOptionKindError| CellError {
        col,
        problem: Problem::Invalid(e.to_string()),
    })
}
