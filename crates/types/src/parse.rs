//! Exact conversion between raw fixed-point integers and decimal strings.

use crate::{DECIMALS, SCALE};
use std::fmt;

/// Why a decimal string is not a valid fixed-point number. Each variant carries the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing to parse.
    #[error("empty decimal number")]
    Empty,
    /// Not a decimal number at all.
    #[error("{text:?} is not a decimal number: {reason}")]
    Invalid {
        /// The offending text.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More than 18 digits after the point.
    #[error("{text:?} has {decimals} decimals; at most 18 are allowed")]
    TooManyDecimals {
        /// The offending text.
        text: String,
        /// How many decimals it has.
        decimals: usize,
    },
    /// The value does not fit (about ±1.7e20).
    #[error("{text:?} is out of range (the largest magnitude is about 1.7e20)")]
    Overflow {
        /// The offending text.
        text: String,
    },
}

fn digits_value(digits: &str) -> Option<u128> {
    digits.bytes().try_fold(0u128, |acc, b| {
        acc.checked_mul(10)?.checked_add(u128::from(b - b'0'))
    })
}

/// Parses a decimal string into raw units of 10⁻¹⁸.
pub(crate) fn parse_raw(s: &str) -> Result<i128, ParseError> {
    let invalid = |reason| ParseError::Invalid {
        text: s.to_string(),
        reason,
    };
    if s.is_empty() {
        return Err(ParseError::Empty);
    }
    let (negative, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(invalid("no digits"));
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid(
            "only digits, one optional sign and one optional '.' are allowed",
        ));
    }
    if frac_part.len() > DECIMALS as usize {
        return Err(ParseError::TooManyDecimals {
            text: s.to_string(),
            decimals: frac_part.len(),
        });
    }
    let overflow = || ParseError::Overflow {
        text: s.to_string(),
    };
    let int_value = digits_value(int_part).ok_or_else(overflow)?;
    let frac_value = digits_value(frac_part).ok_or_else(overflow)?
        * 10u128.pow(DECIMALS - frac_part.len() as u32);
    let magnitude = int_value
        .checked_mul(SCALE as u128)
        .and_then(|v| v.checked_add(frac_value))
        .ok_or_else(overflow)?;
    if negative {
        if magnitude == i128::MIN.unsigned_abs() {
            Ok(i128::MIN)
        } else {
            i128::try_from(magnitude)
                .map(|v| -v)
                .map_err(|_| overflow())
        }
    } else {
        i128::try_from(magnitude).map_err(|_| overflow())
    }
}

/// Writes raw units as the shortest exact decimal string.
pub(crate) fn fmt_raw(raw: i128, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let magnitude = raw.unsigned_abs();
    let int = magnitude / SCALE as u128;
    let frac = magnitude % SCALE as u128;
    let sign = if raw < 0 { "-" } else { "" };
    if frac == 0 {
        return write!(f, "{sign}{int}");
    }
    let mut frac_digits = format!("{frac:018}");
    while frac_digits.ends_with('0') {
        frac_digits.pop();
    }
    write!(f, "{sign}{int}.{frac_digits}")
}
