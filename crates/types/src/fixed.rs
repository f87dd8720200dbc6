//! The fixed-point newtypes and their checked arithmetic.

use crate::muldiv::{mul_div, MathError, Rounding};
use crate::parse::{fmt_raw, parse_raw, ParseError};
use crate::SCALE;
use std::fmt;
use std::panic::Location;
use std::str::FromStr;

/// Common interface of the fixed-point newtypes: a raw `i128` count of 10⁻¹⁸ units.
pub trait Fixed: Copy + Ord + fmt::Debug + fmt::Display {
    /// Wraps a raw value (10⁻¹⁸ units).
    fn from_raw(raw: i128) -> Self;
    /// The raw value (10⁻¹⁸ units).
    fn raw(self) -> i128;

    /// Appends the value's text (as `Display` writes it: the shortest exact decimal) to `out`.
    #[inline]
    fn append_text(self, out: &mut Vec<u8>) {
        crate::parse::append_raw_text(self.raw(), out);
    }

    /// `self + other`, or an overflow error naming the caller.
    #[track_caller]
    #[inline]
    fn checked_add(self, other: Self) -> Result<Self, MathError> {
        self.raw()
            .checked_add(other.raw())
            .map(Self::from_raw)
            .ok_or_else(|| MathError::overflow("add"))
    }

    /// `self − other`, or an overflow error naming the caller.
    #[track_caller]
    #[inline]
    fn checked_sub(self, other: Self) -> Result<Self, MathError> {
        self.raw()
            .checked_sub(other.raw())
            .map(Self::from_raw)
            .ok_or_else(|| MathError::overflow("sub"))
    }

    /// `−self`, or an overflow error (only for the most negative value).
    #[track_caller]
    #[inline]
    fn checked_neg(self) -> Result<Self, MathError> {
        self.raw()
            .checked_neg()
            .map(Self::from_raw)
            .ok_or_else(|| MathError::overflow("neg"))
    }

    /// `|self|`, or an overflow error (only for the most negative value).
    #[track_caller]
    #[inline]
    fn checked_abs(self) -> Result<Self, MathError> {
        self.raw()
            .checked_abs()
            .map(Self::from_raw)
            .ok_or_else(|| MathError::overflow("abs"))
    }

    /// `self × r`, rounded as asked (a scaling by a dimensionless ratio keeps the unit).
    #[track_caller]
    #[inline]
    fn mul_ratio(self, r: Ratio, rounding: Rounding) -> Result<Self, MathError> {
        mul(self, r, rounding)
    }

    /// `self / r`, rounded as asked.
    #[track_caller]
    #[inline]
    fn div_ratio(self, r: Ratio, rounding: Rounding) -> Result<Self, MathError> {
        div(self, r, rounding)
    }

    /// The value as a float (for pricing models and display only, never back into state
    /// without [`Fixed::from_f64`]).
    #[inline]
    fn to_f64(self) -> f64 {
        // i128 → f64 through two hardware conversions of the 64-bit halves (the software i128
        // conversion is slow), then one correctly rounded division: within 2 ulp of the value.
        let raw = self.raw();
        let v = ((raw >> 64) as i64 as f64) * 18_446_744_073_709_551_616.0 + (raw as u64) as f64;
        v / SCALE as f64
    }

    /// Quantises a float with a named rounding direction. NaN, infinities and values out of
    /// range are errors.
    #[track_caller]
    fn from_f64(x: f64, rounding: Rounding) -> Result<Self, MathError> {
        if !x.is_finite() {
            return Err(MathError::NotFinite {
                op: "from_f64",
                value: x.to_string(),
                location: Location::caller(),
            });
        }
        let scaled = x * SCALE as f64;
        // At or beyond 2^52 every double is an integer: floor and ceil are the identity there
        // (most quantised amounts are that large: 2^52 raw units are 0.0045).
        let rounded = if scaled.abs() >= 4_503_599_627_370_496.0 {
            scaled
        } else {
            match rounding {
                Rounding::Down => scaled.floor(),
                Rounding::Up => scaled.ceil(),
            }
        };
        // 2^127 as f64; anything at or beyond it does not fit.
        const LIMIT: f64 = 1.7014118346046923e38;
        if !(-LIMIT..LIMIT).contains(&rounded) {
            return Err(MathError::overflow("from_f64"));
        }
        Ok(Self::from_raw(integral_f64_to_i128(rounded)))
    }

    /// True when the value is zero.
    #[inline]
    fn is_zero(self) -> bool {
        self.raw() == 0
    }
    /// True when the value is below zero.
    #[inline]
    fn is_negative(self) -> bool {
        self.raw() < 0
    }
    /// True when the value is above zero.
    #[inline]
    fn is_positive(self) -> bool {
        self.raw() > 0
    }
}

/// An integer-valued double in (−2^127, 2^127) as an `i128`, exactly: below 2^63 through the
/// hardware conversion to `i64`, above it from the bits (mantissa shifted by the exponent),
/// instead of the slow software `f64 → i128` conversion. Equal to `x as i128` on that domain.
#[inline]
pub(crate) fn integral_f64_to_i128(x: f64) -> i128 {
    if x.abs() < 9_223_372_036_854_775_808.0 {
        return x as i64 as i128;
    }
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1075;
    let mantissa = ((bits & ((1u64 << 52) - 1)) | (1u64 << 52)) as i128;
    // |x| ≥ 2^63, so the exponent is ≥ 11 and the shift is exact (|x| < 2^127 fits; −2^127
    // shifts to i128::MIN, which the wrapping negation leaves as it is, as it should).
    let magnitude = mantissa << exponent;
    if x < 0.0 {
        magnitude.wrapping_neg()
    } else {
        magnitude
    }
}

/// `a × b` in the output unit chosen by the caller, rounded as asked:
/// `raw(out) = round(raw(a) × raw(b) / 10¹⁸)`.
#[track_caller]
#[inline]
pub fn mul<A: Fixed, B: Fixed, O: Fixed>(a: A, b: B, rounding: Rounding) -> Result<O, MathError> {
    mul_div(a.raw(), b.raw(), SCALE, rounding).map(O::from_raw)
}

/// `a / b` in the output unit chosen by the caller, rounded as asked:
/// `raw(out) = round(raw(a) × 10¹⁸ / raw(b))`.
#[track_caller]
#[inline]
pub fn div<A: Fixed, B: Fixed, O: Fixed>(a: A, b: B, rounding: Rounding) -> Result<O, MathError> {
    mul_div(a.raw(), SCALE, b.raw(), rounding).map(O::from_raw)
}

macro_rules! fixed_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(i128);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);
            /// One (10¹⁸ raw units).
            pub const ONE: Self = Self(SCALE);
            /// The smallest positive value (one raw unit, 10⁻¹⁸).
            pub const UNIT: Self = Self(1);
            /// The largest value.
            pub const MAX: Self = Self(i128::MAX);

            /// A whole number.
            pub const fn from_int(n: i64) -> Self {
                Self(n as i128 * SCALE)
            }
            /// Wraps a raw value (10⁻¹⁸ units).
            pub const fn from_raw_const(raw: i128) -> Self {
                Self(raw)
            }
            /// The smaller of two values.
            pub fn min(self, other: Self) -> Self {
                Ord::min(self, other)
            }
            /// The larger of two values.
            pub fn max(self, other: Self) -> Self {
                Ord::max(self, other)
            }
        }

        impl Fixed for $name {
            #[inline]
            fn from_raw(raw: i128) -> Self {
                Self(raw)
            }
            #[inline]
            fn raw(self) -> i128 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt_raw(self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "("))?;
                fmt_raw(self.0, f)?;
                write!(f, ")")
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                parse_raw(s).map(Self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(DecimalVisitor).map(Self)
            }
        }
    };
}

/// Accepts decimal strings and JSON integers; refuses binary floats.
struct DecimalVisitor;

impl serde::de::Visitor<'_> for DecimalVisitor {
    type Value = i128;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number as a string, e.g. \"1250.5\"")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i128, E> {
        parse_raw(v).map_err(E::custom)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i128, E> {
        i128::from(v)
            .checked_mul(SCALE)
            .ok_or_else(|| E::custom(format!("{v} is out of range")))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i128, E> {
        i128::from(v)
            .checked_mul(SCALE)
            .ok_or_else(|| E::custom(format!("{v} is out of range")))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i128, E> {
        Err(E::custom(format!(
            "{v} is a binary float; decimal numbers must be JSON strings, e.g. \"{v}\""
        )))
    }
}

fixed_type!(
    /// An amount of the pool's quote asset (e.g. USDC): collateral, premium, fees, NAV.
    Quote
);
fixed_type!(
    /// An amount of an underlying asset, or a position size in underlying units (an option
    /// contract is one unit).
    Base
);
fixed_type!(
    /// A price in quote per unit of base: spot, strike, mark, fill.
    Price
);
fixed_type!(
    /// A dimensionless number: a rate, a volatility, a fraction, a weight, a haircut.
    Ratio
);
fixed_type!(
    /// LP shares of a tranche.
    Shares
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast quantisation equals the plain one (`floor`/`ceil` then `as i128`) everywhere:
    /// small values that need rounding, the 2^52 and 2^63 boundaries, and huge values.
    #[test]
    fn from_f64_equals_the_plain_conversion() {
        use proptest::prelude::*;
        let plain = |x: f64, r: Rounding| -> Option<i128> {
            let scaled = x * SCALE as f64;
            let rounded = match r {
                Rounding::Down => scaled.floor(),
                Rounding::Up => scaled.ceil(),
            };
            (-1.7014118346046923e38..1.7014118346046923e38)
                .contains(&rounded)
                .then_some(rounded as i128)
        };
        let check = |x: f64| {
            for r in [Rounding::Down, Rounding::Up] {
                assert_eq!(
                    Price::from_f64(x, r).ok().map(|p| p.raw()),
                    plain(x, r),
                    "x = {x:e} ({r:?})"
                );
            }
        };
        for e in [-30, -18, -5, 0, 1, 4, 5, 19, 20] {
            for m in [1.0, 1.5, 3.999_999_999_999_9, -1.0, -2.5] {
                check(m * 10f64.powi(e));
            }
        }
        for boundary in [2f64.powi(52), 2f64.powi(63), 2f64.powi(126), 2f64.powi(127)] {
            for scaled in [
                boundary,
                boundary * (1.0 - f64::EPSILON),
                boundary * (1.0 + f64::EPSILON),
            ] {
                check(scaled / SCALE as f64);
                check(-scaled / SCALE as f64);
            }
        }
        proptest!(ProptestConfig::with_cases(20_000), |(m in -1.0f64..1.0, e in -20i32..21)| {
            check(m * 10f64.powi(e));
        });
        proptest!(ProptestConfig::with_cases(20_000), |(bits in any::<u64>())| {
            let x = f64::from_bits(bits);
            if x.is_finite() {
                check(x);
            }
        });
    }

    #[test]
    fn parse_and_display_table() {
        let table = [
            ("0", "0"),
            ("1250.5", "1250.5"),
            ("-0.000000000000000001", "-0.000000000000000001"),
            (".5", "0.5"),
            ("+7.", "7"),
            ("00012.3400", "12.34"),
            ("-0", "0"),
        ];
        for (input, shown) in table {
            let q: Quote = input.parse().unwrap();
            assert_eq!(q.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn parse_errors_carry_the_text() {
        assert_eq!("".parse::<Quote>(), Err(ParseError::Empty));
        let e = "1.0000000000000000001".parse::<Price>().unwrap_err();
        assert!(matches!(
            e,
            ParseError::TooManyDecimals { decimals: 19, .. }
        ));
        let e = "12a".parse::<Price>().unwrap_err();
        assert!(e.to_string().contains("\"12a\""), "{e}");
        for bad in ["-", ".", "1.2.3", " 1", "1e5", "--1", "0x10"] {
            assert!(bad.parse::<Base>().is_err(), "{bad} parsed");
        }
        let e = "170141183460469231732".parse::<Quote>().unwrap_err();
        assert!(matches!(e, ParseError::Overflow { .. }), "{e}");
    }

    #[test]
    fn extremes_round_trip() {
        for raw in [i128::MIN, i128::MAX, 0, 1, -1] {
            let q = Quote::from_raw(raw);
            assert_eq!(q.to_string().parse::<Quote>().unwrap(), q);
        }
    }

    #[test]
    fn typed_products_choose_their_unit() {
        let size: Base = "0.1".parse().unwrap();
        let price: Price = "3".parse().unwrap();
        let notional: Quote = mul(size, price, Rounding::Down).unwrap();
        assert_eq!(notional, "0.3".parse().unwrap());
        let third: Ratio = div(Quote::ONE, Quote::from_int(3), Rounding::Down).unwrap();
        assert_eq!(third.raw(), 333_333_333_333_333_333);
        let third_up: Ratio = div(Quote::ONE, Quote::from_int(3), Rounding::Up).unwrap();
        assert_eq!(third_up.raw(), 333_333_333_333_333_334);
    }

    #[test]
    fn checked_add_reports_overflow_location() {
        let e = Quote::MAX.checked_add(Quote::UNIT).unwrap_err();
        assert!(e.to_string().contains("fixed.rs"), "{e}");
    }

    #[test]
    fn floats_are_quantised_in_the_named_direction() {
        let down = Quote::from_f64(0.1, Rounding::Down).unwrap();
        let up = Quote::from_f64(0.1, Rounding::Up).unwrap();
        assert!(down <= up && up.raw() - down.raw() <= 1);
        assert!(Quote::from_f64(f64::NAN, Rounding::Down).is_err());
        assert!(Quote::from_f64(1e21, Rounding::Down).is_err());
        assert_eq!(Quote::from_int(-3).to_f64(), -3.0);
    }

    #[test]
    fn serde_uses_strings_and_refuses_floats() {
        let q: Quote = serde_json::from_str("\"12.5\"").unwrap();
        assert_eq!(serde_json::to_string(&q).unwrap(), "\"12.5\"");
        let q: Quote = serde_json::from_str("3").unwrap();
        assert_eq!(q, Quote::from_int(3));
        let e = serde_json::from_str::<Quote>("1.5").unwrap_err();
        assert!(e.to_string().contains("JSON strings"), "{e}");
    }
}
