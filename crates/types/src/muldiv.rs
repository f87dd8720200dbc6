//! The one multiply-divide of the project: `a × b / c` with a 256-bit intermediate and an
//! explicit rounding direction.
//!
//! Division by 10¹⁸ (the scale of every fixed-point type: each `mul` of two amounts) has its own
//! path: the exact 256-bit product `|a|·|b|` from four 64 × 64-bit multiplications, then two
//! steps of schoolbook division by the 64-bit divisor, each done with a precomputed reciprocal
//! (Möller and Granlund, "Improved division by invariant integers", IEEE TC 2011, algorithm 4:
//! two multiplications and two corrections per step instead of a hardware or software division).
//!
//! For other divisors, when `a × b` fits in an `i128` the product and quotient stay in `i128`.
//! Otherwise one factor is split by the divisor (`b = q·c + r`, so `a·b/c = a·q + a·r/c` with
//! `a·q` an integer) and, if both partial products fit, the result is still exact in `i128`.
//! Only when neither split fits does the computation go through `ethnum::I256`, where the
//! product of two `i128`s is always exact. The quotient must fit back into an `i128`.

use ethnum::I256;
use std::panic::Location;

/// Direction in which an inexact result is rounded, on the number line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Toward −∞ (floor). What a user receives.
    Down,
    /// Toward +∞ (ceiling). What a user pays.
    Up,
}

/// An arithmetic failure on fixed-point values, with the source location of the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MathError {
    /// The result does not fit in an `i128`.
    #[error("arithmetic overflow in {op} at {location}")]
    Overflow {
        /// The operation (`add`, `sub`, `mul_div`, ...).
        op: &'static str,
        /// Where it was called.
        location: &'static Location<'static>,
    },
    /// A division by zero.
    #[error("division by zero in {op} at {location}")]
    DivisionByZero {
        /// The operation.
        op: &'static str,
        /// Where it was called.
        location: &'static Location<'static>,
    },
    /// A float that is NaN or infinite was to be quantised.
    #[error("non-finite number {value} in {op} at {location}")]
    NotFinite {
        /// The operation.
        op: &'static str,
        /// The value, as text.
        value: String,
        /// Where it was called.
        location: &'static Location<'static>,
    },
}

impl MathError {
    #[track_caller]
    pub(crate) fn overflow(op: &'static str) -> Self {
        MathError::Overflow {
            op,
            location: Location::caller(),
        }
    }
}

/// Floor or ceiling of `n / d` for `i128`, given that `d != 0` and the quotient exists.
#[inline]
fn div_round_i128(n: i128, d: i128, rounding: Rounding) -> Option<i128> {
    // Both in i64 (a zero position, small amounts): hardware division, same floor and ceiling.
    if let (Ok(n), Ok(d)) = (i64::try_from(n), i64::try_from(d)) {
        if let (Some(q), Some(r)) = (n.checked_div(d), n.checked_rem(d)) {
            // |q| ≤ 2^63, so the step cannot overflow an i128.
            return Some(
                i128::from(q) + i128::from(round_step(r != 0, (r < 0) != (d < 0), rounding)),
            );
        }
    }
    let q = n.checked_div(d)?;
    // One 128-bit division, not two: |q·d| ≤ |n|, so the product cannot overflow.
    let r = n - q * d;
    q.checked_add(i128::from(round_step(r != 0, (r < 0) != (d < 0), rounding)))
}

/// What rounding adds to a truncated quotient: nothing when it is exact, else −1 to floor a
/// negative exact quotient (truncation rounded it up) or +1 to ceil a positive one.
#[inline]
fn round_step(inexact: bool, exact_negative: bool, rounding: Rounding) -> i8 {
    match (inexact, rounding, exact_negative) {
        (true, Rounding::Down, true) => -1,
        (true, Rounding::Up, false) => 1,
        _ => 0,
    }
}

/// `a × b / c`, rounded as asked, with a 256-bit intermediate.
///
/// Errors: [`MathError::DivisionByZero`] when `c = 0`, [`MathError::Overflow`] when the rounded
/// quotient does not fit in an `i128`. Both carry the caller's location.
#[track_caller]
#[inline]
pub fn mul_div(a: i128, b: i128, c: i128, rounding: Rounding) -> Result<i128, MathError> {
    if c == 0 {
        return Err(MathError::DivisionByZero {
            op: "mul_div",
            location: Location::caller(),
        });
    }
    if c == crate::SCALE {
        return mul_div_scale(a, b, rounding).ok_or_else(|| MathError::overflow("mul_div"));
    }
    if let Some(p) = a.checked_mul(b) {
        return div_round_i128(p, c, rounding).ok_or_else(|| MathError::overflow("mul_div"));
    }
    // Split one factor by the divisor: with b = q·c + r (truncated), a·b/c = a·q + a·r/c, and
    // a·q is an integer, so rounding a·r/c rounds the whole quotient exactly. This keeps
    // price × size style products (raw values ~1e17 × 4e22) in i128 arithmetic.
    for (x, y) in [(a, b), (b, a)] {
        // (i128::MIN / −1 does not exist: that split is skipped.)
        let Some(q) = y.checked_div(c) else { continue };
        let r = y - q * c;
        if let (Some(whole), Some(part)) = (x.checked_mul(q), x.checked_mul(r)) {
            if let Some(v) = div_round_i128(part, c, rounding).and_then(|p| whole.checked_add(p)) {
                return Ok(v);
            }
        }
    }
    let p = I256::from(a) * I256::from(b);
    let d = I256::from(c);
    let q = p / d;
    let r = p % d;
    let q = q + I256::from(round_step(r != 0, (r < 0) != (d < 0), rounding));
    i128::try_from(q).map_err(|_| MathError::overflow("mul_div"))
}

/// The divisor 10¹⁸ shifted so that its top bit is set (10¹⁸ < 2⁶⁰: 4 leading zeros).
const SCALE_SHIFT: u32 = (crate::SCALE as u64).leading_zeros();
const SCALE_NORM: u64 = (crate::SCALE as u64) << SCALE_SHIFT;
/// Reciprocal of the normalised divisor: ⌊(2¹²⁸ − 1) / d⌋ − 2⁶⁴.
const SCALE_RECIP: u64 = (u128::MAX / SCALE_NORM as u128 - (1u128 << 64)) as u64;

/// `(hi, lo)` with `hi·2¹²⁸ + lo = a·b`: the exact 256-bit product of two `u128`s.
#[inline]
fn wide_mul(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = ((a >> 64) as u64 as u128, a as u64 as u128);
    let (b1, b0) = ((b >> 64) as u64 as u128, b as u64 as u128);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    // Below 3·2⁶⁴: cannot overflow.
    let mid = (p00 >> 64) + (p01 as u64 as u128) + (p10 as u64 as u128);
    let lo = (mid << 64) | (p00 as u64 as u128);
    // Below 2²⁵⁶ / 2¹²⁸: cannot overflow.
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// `(u1·2⁶⁴ + u0) / d` and the remainder, for a normalised `d` (top bit set) with reciprocal
/// `v` = ⌊(2¹²⁸ − 1)/d⌋ − 2⁶⁴, given `u1 < d` (so the quotient fits in 64 bits). Möller and
/// Granlund 2011, algorithm 4.
#[inline]
fn div_2by1(u1: u64, u0: u64, d: u64, v: u64) -> (u64, u64) {
    let q = (v as u128 * u1 as u128).wrapping_add(((u1 as u128) << 64) | u0 as u128);
    let (mut q1, q0) = (((q >> 64) as u64).wrapping_add(1), q as u64);
    let mut r = u0.wrapping_sub(q1.wrapping_mul(d));
    if r > q0 {
        q1 = q1.wrapping_sub(1);
        r = r.wrapping_add(d);
    }
    if r >= d {
        q1 += 1;
        r -= d;
    }
    (q1, r)
}

/// `a × b / 10¹⁸` rounded as asked; `None` when the result does not fit in an `i128`.
#[inline]
fn mul_div_scale(a: i128, b: i128, rounding: Rounding) -> Option<i128> {
    let (hi, lo) = wide_mul(a.unsigned_abs(), b.unsigned_abs());
    // |a·b| ≥ 2¹⁸⁷ gives a quotient ≥ 2¹⁸⁷ / 10¹⁸ > 2¹²⁷: out of range for either sign.
    if hi >> 59 != 0 {
        return None;
    }
    // Normalise (shift the dividend with the divisor); the dividend now has three 64-bit limbs
    // n2 n1 n0 with n2 < 2⁶³ ≤ d, so each step's quotient fits in 64 bits.
    let (n2, n1, n0) = (
        ((hi << SCALE_SHIFT) | (lo >> (128 - SCALE_SHIFT))) as u64,
        (lo >> (64 - SCALE_SHIFT)) as u64,
        (lo as u64) << SCALE_SHIFT,
    );
    let (q1, r1) = div_2by1(n2, n1, SCALE_NORM, SCALE_RECIP);
    let (q0, r0) = div_2by1(r1, n0, SCALE_NORM, SCALE_RECIP);
    let magnitude = ((q1 as u128) << 64) | q0 as u128;
    let inexact = r0 != 0;
    if (a < 0) != (b < 0) {
        // −(magnitude + fraction): down adds the fraction's unit, up drops it.
        let m = magnitude + u128::from(inexact && rounding == Rounding::Down);
        0i128.checked_sub_unsigned(m)
    } else {
        let m = magnitude + u128::from(inexact && rounding == Rounding::Up);
        i128::try_from(m).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rounds_each_sign_toward_its_named_direction() {
        // (a, b, c, down, up)
        let table: &[(i128, i128, i128, i128, i128)] = &[
            (7, 1, 2, 3, 4),
            (-7, 1, 2, -4, -3),
            (7, 1, -2, -4, -3),
            (-7, -1, 2, 3, 4),
            (6, 1, 2, 3, 3),
            (0, 5, 3, 0, 0),
        ];
        for &(a, b, c, down, up) in table {
            assert_eq!(
                mul_div(a, b, c, Rounding::Down).unwrap(),
                down,
                "{a}*{b}/{c} down"
            );
            assert_eq!(
                mul_div(a, b, c, Rounding::Up).unwrap(),
                up,
                "{a}*{b}/{c} up"
            );
        }
    }

    #[test]
    fn wide_intermediate_keeps_exact_results() {
        let big = i128::MAX / 3;
        assert_eq!(mul_div(big, 6, 6, Rounding::Down).unwrap(), big);
        assert_eq!(mul_div(big, big, big, Rounding::Up).unwrap(), big);
        assert_eq!(
            mul_div(i128::MIN, i128::MIN, i128::MIN, Rounding::Down).unwrap(),
            i128::MIN
        );
    }

    #[test]
    fn overflow_and_zero_division_name_the_caller() {
        let e = mul_div(i128::MAX, 2, 1, Rounding::Down).unwrap_err();
        assert!(matches!(e, MathError::Overflow { op: "mul_div", .. }));
        assert!(e.to_string().contains("muldiv.rs"), "{e}");
        let e = mul_div(1, 1, 0, Rounding::Up).unwrap_err();
        assert!(matches!(e, MathError::DivisionByZero { .. }));
        let e = mul_div(i128::MIN, 1, -1, Rounding::Up).unwrap_err();
        assert!(matches!(e, MathError::Overflow { .. }));
        // The product overflows and the split of i128::MIN by −1 does not exist (this panicked).
        let e = mul_div(2, i128::MIN, -1, Rounding::Down).unwrap_err();
        assert!(matches!(e, MathError::Overflow { .. }));
        assert_eq!(mul_div(-1, i128::MIN, -1, Rounding::Down), Ok(i128::MIN));
    }

    /// `a·b/c` rounded, computed only in 256 bits (the path every input could take).
    fn wide(a: i128, b: i128, c: i128, rounding: Rounding) -> Option<i128> {
        let (p, d) = (I256::from(a) * I256::from(b), I256::from(c));
        let (q, r) = (p / d, p % d);
        let q = match (r != 0, (r < 0) != (d < 0), rounding) {
            (true, true, Rounding::Down) => q - 1,
            (true, false, Rounding::Up) => q + 1,
            _ => q,
        };
        i128::try_from(q).ok()
    }

    fn any_operand() -> impl Strategy<Value = i128> {
        prop_oneof![
            any::<i128>(),
            any::<i64>().prop_map(i128::from),
            (-1_000_000i128..1_000_000),
            (any::<i64>(), 0u32..20).prop_map(|(x, k)| i128::from(x) * 10i128.pow(k)),
            Just(i128::MIN),
            Just(i128::MAX),
        ]
    }

    #[test]
    fn the_scale_path_meets_the_ends_of_the_range() {
        let s = crate::SCALE;
        // Quotients of exactly i128::MAX and i128::MIN, and one past them.
        for r in [Rounding::Down, Rounding::Up] {
            assert_eq!(mul_div(i128::MAX, s, s, r), Ok(i128::MAX));
            assert_eq!(mul_div(i128::MIN, s, s, r), Ok(i128::MIN));
            assert_eq!(mul_div(s, i128::MIN, s, r), Ok(i128::MIN));
            assert!(mul_div(i128::MIN, -s, s, r).is_err());
            assert!(mul_div(i128::MAX, s + 1, s, r).is_err());
            assert!(mul_div(i128::MIN, i128::MIN, s, r).is_err());
        }
        // i128::MIN · (10¹⁸ + 1) / 10¹⁸ = i128::MIN − 170.14…: below the range either way.
        assert!(mul_div(i128::MIN, s + 1, s, Rounding::Up).is_err());
        // −1 · 1 / 10¹⁸ = −10⁻¹⁸: −1 down, 0 up; and the positive mirror.
        assert_eq!(mul_div(-1, 1, s, Rounding::Down), Ok(-1));
        assert_eq!(mul_div(-1, 1, s, Rounding::Up), Ok(0));
        assert_eq!(mul_div(1, 1, s, Rounding::Down), Ok(0));
        assert_eq!(mul_div(1, 1, s, Rounding::Up), Ok(1));
        assert_eq!(mul_div(0, i128::MIN, s, Rounding::Up), Ok(0));
    }

    #[test]
    fn one_division_step_equals_the_u128_division() {
        let (d, v) = (SCALE_NORM, SCALE_RECIP);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            // xorshift: spread over the whole range, plus the extremes below.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u1 = x % d;
            let u0 = x.rotate_left(29);
            for (u1, u0) in [
                (u1, u0),
                (d - 1, u64::MAX),
                (0, 0),
                (d - 1, 0),
                (0, u64::MAX),
            ] {
                let n = ((u1 as u128) << 64) | u0 as u128;
                let (q, r) = div_2by1(u1, u0, d, v);
                assert_eq!(
                    (q as u128, r as u128),
                    (n / d as u128, n % d as u128),
                    "{u1} {u0}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn the_scale_path_equals_the_256_bit_quotient(
            a in any_operand(),
            b in any_operand(),
            up in any::<bool>(),
        ) {
            let rounding = if up { Rounding::Up } else { Rounding::Down };
            let s = crate::SCALE;
            prop_assert_eq!(mul_div(a, b, s, rounding).ok(), wide(a, b, s, rounding));
            // Around the edge of the range: products near 2¹²⁷ · 10¹⁸.
            let near = (i128::MAX / s).saturating_add(a % 1000);
            prop_assert_eq!(mul_div(near, b, s, rounding).ok(), wide(near, b, s, rounding));
        }

        #[test]
        fn every_path_equals_the_256_bit_quotient(
            a in any_operand(),
            b in any_operand(),
            c in prop_oneof![any_operand(), Just(crate::SCALE), Just(-crate::SCALE), Just(1), Just(-1)],
            up in any::<bool>(),
        ) {
            prop_assume!(c != 0);
            let rounding = if up { Rounding::Up } else { Rounding::Down };
            prop_assert_eq!(mul_div(a, b, c, rounding).ok(), wide(a, b, c, rounding));
        }
    }
}
