//! Instrument names as Deribit writes them, which traders know: `BTC-27DEC24-50000-C`,
//! `ETH-26MAR21-2000-P`, `BTC-PERP`. Expiries are 08:00 UTC on the named date.

use derivpool_pricing::OptionKind;
use derivpool_types::Price;
use std::fmt;

/// A parsed instrument name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instrument {
    /// A European option.
    Option {
        /// Underlying asset.
        underlying: String,
        /// Expiry code, e.g. `27DEC24`.
        expiry: String,
        /// Strike price.
        strike: Price,
        /// Call or put.
        kind: OptionKind,
    },
    /// The perpetual future on an underlying.
    Perp {
        /// Underlying asset.
        underlying: String,
    },
}

/// Why a name is not an instrument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name:?} is not an instrument name ({reason}); expected e.g. BTC-27DEC24-50000-C or BTC-PERP"
)]
pub struct InstrumentError {
    /// The name given.
    pub name: String,
    /// What is wrong.
    pub reason: String,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds of 08:00 UTC on the date of an expiry code like `27DEC24` or `1JAN25`.
pub fn expiry_unix(code: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("expiry {code:?}: {why}");
    let digits = code.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 2 || code.len() != digits + 5 {
        return Err(bad("expected DDMMMYY, e.g. 27DEC24"));
    }
    let day: i64 = code[..digits].parse().map_err(|_| bad("bad day"))?;
    // `get`, not indexing: a multi-byte character may straddle the month's end, and bad input
    // is a reject, never a panic.
    let month_code = code
        .get(digits..digits + 3)
        .ok_or_else(|| bad("bad month"))?;
    let month = MONTHS
        .iter()
        .position(|m| *m == month_code)
        .ok_or_else(|| bad("bad month"))? as i64
        + 1;
    let year: i64 = code
        .get(digits + 3..)
        .ok_or_else(|| bad("bad year"))?
        .parse()
        .map_err(|_| bad("bad year"))
        .map(|y: i64| 2000 + y)?;
    let month_days = [
        31,
        28 + i64::from(year % 4 == 0),
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day < 1 || day > month_days[(month - 1) as usize] {
        return Err(bad("no such day"));
    }
    let days = days_from_civil(year, month, day);
    Ok((days * 86_400 + 8 * 3_600) as u64)
}

/// A parsed instrument name that borrows its parts from the name: the same parse as
/// [`Instrument::parse`] (same checks, same errors) without allocating, plus the expiry time
/// the check computes anyway. Hot paths (margin, liquidation, quotes) parse position names on
/// every evaluation, so they use this form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentRef<'a> {
    /// A European option.
    Option {
        /// Underlying asset.
        underlying: &'a str,
        /// Expiry code, e.g. `27DEC24`.
        expiry: &'a str,
        /// Expiry time, 08:00 UTC on the expiry date (unix seconds; [`expiry_unix`]).
        expiry_t: u64,
        /// Strike price.
        strike: Price,
        /// Call or put.
        kind: OptionKind,
    },
    /// The perpetual future on an underlying.
    Perp {
        /// Underlying asset.
        underlying: &'a str,
    },
}

impl<'a> InstrumentRef<'a> {
    /// Parses a name; the expiry code is validated. Accepts and rejects exactly the names
    /// [`Instrument::parse`] does, with the same errors.
    pub fn parse(name: &'a str) -> Result<InstrumentRef<'a>, InstrumentError> {
        let err = |reason: String| InstrumentError {
            name: name.to_string(),
            reason,
        };
        // Split on '-' into at most four parts (a fifth means the name is malformed).
        let bytes = name.as_bytes();
        let mut dashes = [0usize; 4];
        let mut n = 0;
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'-' {
                if n == dashes.len() {
                    return Err(err("wrong number of parts".into()));
                }
                dashes[n] = i;
                n += 1;
            }
        }
        // '-' is ASCII, so every split point is a char boundary.
        match n {
            1 if Self::perp_underlying(name).is_some() => Ok(InstrumentRef::Perp {
                underlying: &name[..dashes[0]],
            }),
            3 if dashes[0] > 0 => {
                let underlying = &name[..dashes[0]];
                let expiry = &name[dashes[0] + 1..dashes[1]];
                let strike = &name[dashes[1] + 1..dashes[2]];
                let kind = &name[dashes[2] + 1..];
                let expiry_t = expiry_unix(expiry).map_err(err)?;
                let strike: Price = strike.parse().map_err(|e| err(format!("strike: {e}")))?;
                if strike <= Price::ZERO {
                    return Err(err("strike must be positive".into()));
                }
                let kind = match kind {
                    "C" => OptionKind::Call,
                    "P" => OptionKind::Put,
                    other => return Err(err(format!("{other:?} is neither C nor P"))),
                };
                Ok(InstrumentRef::Option {
                    underlying,
                    expiry,
                    expiry_t,
                    strike,
                    kind,
                })
            }
            _ => Err(err("wrong number of parts".into())),
        }
    }

    /// The underlying of a perp name (`UNDERLYING-PERP`, the underlying non-empty and without
    /// a dash), without building the whole [`InstrumentRef`].
    pub fn perp_underlying(name: &'a str) -> Option<&'a str> {
        name.strip_suffix("-PERP")
            .filter(|u| !u.is_empty() && !u.contains('-'))
    }

    /// The underlying, strike and kind of an option name, without validating its expiry code
    /// (a cheaper [`InstrumentRef::parse`] for bounds that may count a position the full parse
    /// would refuse): `None` unless the name has four parts, a positive strike and kind `C` or
    /// `P`.
    pub fn option_terms(name: &'a str) -> Option<(&'a str, Price, OptionKind)> {
        let bytes = name.as_bytes();
        let first = bytes.iter().position(|b| *b == b'-')?;
        let last = bytes.iter().rposition(|b| *b == b'-')?;
        let kind = match &bytes[last + 1..] {
            b"C" => OptionKind::Call,
            b"P" => OptionKind::Put,
            _ => return None,
        };
        // The strike sits between the last two dashes; the expiry between the first two.
        let second = bytes[..last].iter().rposition(|b| *b == b'-')?;
        if first == 0 || second <= first || bytes[first + 1..second].contains(&b'-') {
            return None;
        }
        let strike: Price = name[second + 1..last].parse().ok()?;
        (strike > Price::ZERO).then_some((&name[..first], strike, kind))
    }

    /// The underlying asset.
    pub fn underlying(&self) -> &'a str {
        match *self {
            InstrumentRef::Option { underlying, .. } | InstrumentRef::Perp { underlying } => {
                underlying
            }
        }
    }

    /// The owned form.
    pub fn to_instrument(&self) -> Instrument {
        match *self {
            InstrumentRef::Option {
                underlying,
                expiry,
                strike,
                kind,
                ..
            } => Instrument::Option {
                underlying: underlying.to_string(),
                expiry: expiry.to_string(),
                strike,
                kind,
            },
            InstrumentRef::Perp { underlying } => Instrument::Perp {
                underlying: underlying.to_string(),
            },
        }
    }
}

impl Instrument {
    /// Parses a name; the expiry code is validated.
    pub fn parse(name: &str) -> Result<Instrument, InstrumentError> {
        InstrumentRef::parse(name).map(|i| i.to_instrument())
    }

    /// The underlying asset.
    pub fn underlying(&self) -> &str {
        match self {
            Instrument::Option { underlying, .. } | Instrument::Perp { underlying } => underlying,
        }
    }
}

/// Name of an option series.
pub fn option_name(underlying: &str, expiry: &str, strike: Price, kind: OptionKind) -> String {
    let k = match kind {
        OptionKind::Call => "C",
        OptionKind::Put => "P",
    };
    format!("{underlying}-{expiry}-{strike}-{k}")
}

/// Name of a perp.
pub fn perp_name(underlying: &str) -> String {
    format!("{underlying}-PERP")
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instrument::Option {
                underlying,
                expiry,
                strike,
                kind,
            } => f.write_str(&option_name(underlying, expiry, *strike, *kind)),
            Instrument::Perp { underlying } => f.write_str(&perp_name(underlying)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_codes_are_0800_utc() {
        // 2021-03-26 08:00:00 UTC = 1616745600 (Deribit ETH-26MAR21 expiry).
        assert_eq!(expiry_unix("26MAR21").unwrap(), 1_616_745_600);
        assert_eq!(expiry_unix("27DEC24").unwrap(), 1_735_286_400);
        assert_eq!(expiry_unix("1JAN25").unwrap(), 1_735_718_400);
        for bad in [
            "32DEC24",
            "27DEX24",
            "DEC24",
            "29FEB23",
            "127DEC24",
            "27DEC2024",
        ] {
            assert!(expiry_unix(bad).is_err(), "{bad}");
        }
        assert!(expiry_unix("29FEB24").is_ok());
    }

    #[test]
    fn names_parse_and_print_back() {
        for name in [
            "BTC-27DEC24-50000-C",
            "ETH-26MAR21-2000-P",
            "BTC-PERP",
            "ETH-1JAN25-1850.5-C",
        ] {
            assert_eq!(Instrument::parse(name).unwrap().to_string(), name);
        }
        for bad in [
            "BTC",
            "BTC-27DEC24-50000-X",
            "BTC-27DEC24--C",
            "-PERP",
            "BTC-27DEC24-0-C",
        ] {
            assert!(Instrument::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn option_terms_agree_with_the_full_parse_but_skip_the_expiry() {
        for name in [
            "BTC-27DEC24-40000-C",
            "ETH-3JAN25-1800.5-P",
            "BTC-PERP",
            "BTC-27DEC24-40000",
            "BTC-27DEC24-40000-X",
            "BTC-27DEC24-0-C",
            "BTC-27DEC24--5-P",
            "-27DEC24-40000-C",
            "BTC-27DEC24-40000-C-D",
            "BTC-27DEC24-4e4-C",
            "",
            "---",
        ] {
            let full = InstrumentRef::parse(name).ok().and_then(|i| match i {
                InstrumentRef::Option {
                    underlying,
                    strike,
                    kind,
                    ..
                } => Some((underlying, strike, kind)),
                InstrumentRef::Perp { .. } => None,
            });
            assert_eq!(InstrumentRef::option_terms(name), full, "{name}");
        }
        // The expiry is not validated.
        assert_eq!(
            InstrumentRef::option_terms("BTC-31FEB24-40000-P"),
            Some(("BTC", Price::from_int(40000), OptionKind::Put))
        );
        assert!(InstrumentRef::parse("BTC-31FEB24-40000-P").is_err());
        assert!(InstrumentRef::option_terms("BTC--40000-C").is_some());
        assert!(InstrumentRef::parse("BTC--40000-C").is_err());
    }
}
