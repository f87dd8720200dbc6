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

/// The common case in one pass without allocation: an optional sign, at most 19 integer digits
/// and at most 18 decimals (whose magnitude cannot overflow). `None` sends everything else —
/// errors included — to [`parse_raw_general`], so results and errors are those of the general
/// path.
#[inline]
fn parse_raw_fast(s: &[u8]) -> Option<i128> {
    let (negative, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mut int: u64 = 0;
    let mut i = 0;
    while i < body.len() && body[i].is_ascii_digit() {
        if i == 19 {
            return None;
        }
        int = int * 10 + u64::from(body[i] - b'0');
        i += 1;
    }
    let int_len = i;
    let mut frac: u64 = 0;
    let mut frac_len = 0usize;
    if i < body.len() {
        if body[i] != b'.' {
            return None;
        }
        i += 1;
        while i < body.len() {
            let b = body[i];
            if !b.is_ascii_digit() || frac_len == DECIMALS as usize {
                return None;
            }
            frac = frac * 10 + u64::from(b - b'0');
            frac_len += 1;
            i += 1;
        }
    }
    if int_len == 0 && frac_len == 0 {
        return None;
    }
    // < 10^19 · 10^18 + 10^18 < 2^127: no overflow.
    let magnitude =
        i128::from(int) * SCALE + i128::from(frac) * POW10[DECIMALS as usize - frac_len];
    Some(if negative { -magnitude } else { magnitude })
}

/// 10^k for k in 0..=19.
const POW10: [i128; 20] = {
    let mut t = [1i128; 20];
    let mut k = 1;
    while k < 20 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// Parses a decimal string into raw units of 10⁻¹⁸.
pub(crate) fn parse_raw(s: &str) -> Result<i128, ParseError> {
    match parse_raw_fast(s.as_bytes()) {
        Some(v) => Ok(v),
        None => parse_raw_general(s),
    }
}

/// Parses any decimal string (the reference path: every error is decided here).
fn parse_raw_general(s: &str) -> Result<i128, ParseError> {
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

/// Two ASCII digits of each number 0..100.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the decimal digits of `n` so that they end just before `end`; returns where they start.
#[inline]
fn write_u64_back(mut n: u64, buf: &mut [u8], mut end: usize) -> usize {
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        end -= 2;
        buf[end..end + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    }
    if n >= 10 {
        let d = n as usize * 2;
        end -= 2;
        buf[end..end + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    } else {
        end -= 1;
        buf[end] = b'0' + n as u8;
    }
    end
}

/// Longest text of a raw value: sign, 21 integer digits, point, 18 decimals.
const RAW_TEXT_MAX: usize = 41;

/// Writes raw units as the shortest exact decimal string into the end of `buf`; returns where
/// the text starts. Integer digit loops on `u64` (the `u128` formatter is much slower).
fn raw_text(raw: i128, buf: &mut [u8; RAW_TEXT_MAX]) -> usize {
    const SCALE_U64: u64 = SCALE as u64;
    let magnitude = raw.unsigned_abs();
    let (int_hi, int_lo, frac) = if let Ok(m) = u64::try_from(magnitude) {
        (0u64, m / SCALE_U64, m % SCALE_U64)
    } else {
        let int = magnitude / SCALE as u128;
        let frac = (magnitude - int * SCALE as u128) as u64;
        match u64::try_from(int) {
            Ok(int) => (0, int, frac),
            Err(_) => {
                // int < 2^127 / 10^18 < 1.8·10^20: two u64 chunks of 19 digits.
                const CHUNK: u128 = 10_000_000_000_000_000_000;
                ((int / CHUNK) as u64, (int % CHUNK) as u64, frac)
            }
        }
    };
    let mut end = RAW_TEXT_MAX;
    if frac != 0 {
        // Strip the trailing zeros (at most 17) in steps of 16, 8, 4, 2 and 1.
        let (mut f, mut width) = (frac, DECIMALS as usize);
        for (p, k) in [
            (10_000_000_000_000_000u64, 16),
            (100_000_000, 8),
            (10_000, 4),
            (100, 2),
            (10, 1),
        ] {
            if f % p == 0 {
                f /= p;
                width -= k;
            }
        }
        let start = write_u64_back(f, buf, end);
        let lead = end - width;
        buf[lead..start].fill(b'0');
        end = lead - 1;
        buf[end] = b'.';
    }
    let mut start = if int_hi > 0 {
        let lo_start = write_u64_back(int_lo, buf, end);
        let lead = end - 19;
        buf[lead..lo_start].fill(b'0');
        write_u64_back(int_hi, buf, lead)
    } else {
        write_u64_back(int_lo, buf, end)
    };
    if raw < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    start
}

/// Appends raw units as the shortest exact decimal string (the text of `Display`) to `out`,
/// without allocating beyond `out`'s growth.
pub fn append_raw_text(raw: i128, out: &mut Vec<u8>) {
    let mut buf = [0u8; RAW_TEXT_MAX];
    let start = raw_text(raw, &mut buf);
    out.extend_from_slice(&buf[start..]);
}

/// Writes raw units as the shortest exact decimal string.
pub(crate) fn fmt_raw(raw: i128, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut buf = [0u8; RAW_TEXT_MAX];
    let start = raw_text(raw, &mut buf);
    // Only ASCII digits, '-' and '.' were written.
    f.write_str(std::str::from_utf8(&buf[start..]).map_err(|_| fmt::Error)?)
}

/// The original formatter, kept as the reference of the property tests.
#[cfg(test)]
fn fmt_raw_reference(raw: i128, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Display through the fast and the reference formatter.
    struct Fast(i128);
    struct Reference(i128);
    impl fmt::Display for Fast {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt_raw(self.0, f)
        }
    }
    impl fmt::Display for Reference {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt_raw_reference(self.0, f)
        }
    }

    fn same_text(raw: i128) {
        assert_eq!(
            Fast(raw).to_string(),
            Reference(raw).to_string(),
            "raw {raw}"
        );
        // Formatter flags are ignored by both.
        assert_eq!(
            format!("{:>60}", Fast(raw)),
            format!("{:>60}", Reference(raw)),
            "raw {raw}"
        );
    }

    fn same_parse(s: &str) {
        assert_eq!(parse_raw(s), parse_raw_general(s), "text {s:?}");
    }

    #[test]
    fn formatter_edge_cases() {
        let s = SCALE;
        let u64_max = i128::from(u64::MAX);
        for raw in [
            0,
            1,
            -1,
            9,
            10,
            99,
            100,
            s - 1,
            s,
            s + 1,
            -s,
            -s - 1,
            10 * s,
            s / 2,
            s / 10,
            123_456_789 * s + 5,
            u64_max - 1,
            u64_max,
            u64_max + 1,
            -u64_max,
            -u64_max - 1,
            // Integer parts around one and two u64 chunks of 19 digits.
            9_999_999_999_999_999_999 * s,
            10_000_000_000_000_000_000 * s,
            10_000_000_000_000_000_000 * s + 1,
            10_000_000_000_000_000_001 * s + 100,
            18_446_744_073_709_551_615 * s + 7,
            18_446_744_073_709_551_616 * s,
            i128::MAX,
            i128::MAX - 1,
            i128::MIN,
            i128::MIN + 1,
        ] {
            same_text(raw);
        }
        for k in 0..38 {
            let p = 10i128.pow(k);
            for raw in [p, p - 1, p + 1, -p, 3 * p, 7 * p + 1] {
                same_text(raw);
            }
        }
    }

    #[test]
    fn parser_edge_cases() {
        for s in [
            "",
            "-",
            "+",
            ".",
            "-.",
            "5.",
            ".5",
            "+.5",
            "-0",
            "-0.0",
            "0",
            "00000000000000000000000001",
            "1.000000000000000000",
            "1.0000000000000000001",
            "0.000000000000000001",
            "-0.000000000000000001",
            "9999999999999999999",
            "9999999999999999999.999999999999999999",
            "-9999999999999999999.999999999999999999",
            "10000000000000000000",
            "18446744073709551615",
            "18446744073709551616",
            "170141183460469231731.687303715884105727",
            "170141183460469231731.687303715884105728",
            "-170141183460469231731.687303715884105728",
            "-170141183460469231731.687303715884105729",
            "1e5",
            "1.2.3",
            "--1",
            "+-1",
            " 1",
            "1 ",
            "٣",
            "1_000",
            "0x10",
            "12a",
            "a12",
            "1.a",
        ] {
            same_parse(s);
        }
    }

    fn any_raw() -> impl Strategy<Value = i128> {
        prop_oneof![
            any::<i128>(),
            any::<i64>().prop_map(i128::from),
            any::<u64>().prop_map(i128::from),
            (-1_000_000i128..1_000_000).prop_map(|x| x * SCALE),
            (any::<i64>(), 0u32..19).prop_map(|(x, k)| i128::from(x) * 10i128.pow(k)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn fast_formatter_equals_the_reference(raw in any_raw()) {
            prop_assert_eq!(Fast(raw).to_string(), Reference(raw).to_string());
        }

        #[test]
        fn appended_text_equals_the_reference(raw in any_raw(), prefix in "[a-z]{0,3}") {
            let mut out = prefix.clone().into_bytes();
            append_raw_text(raw, &mut out);
            prop_assert_eq!(String::from_utf8(out).unwrap(), format!("{prefix}{}", Reference(raw)));
        }

        #[test]
        fn fast_parser_equals_the_general_one_on_printed_values(raw in any_raw()) {
            let text = Reference(raw).to_string();
            prop_assert_eq!(parse_raw(&text), Ok(raw));
            prop_assert_eq!(parse_raw(&text), parse_raw_general(&text));
        }

        #[test]
        fn fast_parser_equals_the_general_one_on_any_text(s in "[-+]?[0-9]{0,22}(\\.[0-9]{0,20})?[.0-9a]?") {
            prop_assert_eq!(parse_raw(&s), parse_raw_general(&s));
        }

        #[test]
        fn fast_parser_equals_the_general_one_on_junk(s in "\\PC{0,30}") {
            prop_assert_eq!(parse_raw(&s), parse_raw_general(&s));
        }
    }
}
