//! Property tests of the fixed-point layer: exact string round trips, rounding brackets the exact
//! quotient, and no input makes anything panic.

use derivpool_types::{mul_div, Fixed, MathError, Quote, Rounding};
use ethnum::I256;
use proptest::prelude::*;

fn any_raw() -> impl Strategy<Value = i128> {
    prop_oneof![
        any::<i128>(),
        -1_000_000_000_000_000_000_000_000i128..1_000_000_000_000_000_000_000_000i128,
        -1000i128..1000,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn display_then_parse_is_identity(raw in any::<i128>()) {
        let q = Quote::from_raw(raw);
        let back: Quote = q.to_string().parse().unwrap();
        prop_assert_eq!(back, q);
        let json = serde_json::to_string(&q).unwrap();
        prop_assert_eq!(serde_json::from_str::<Quote>(&json).unwrap(), q);
    }

    #[test]
    fn down_and_up_bracket_the_exact_quotient(a in any_raw(), b in any_raw(), c in any_raw()) {
        let down = mul_div(a, b, c, Rounding::Down);
        let up = mul_div(a, b, c, Rounding::Up);
        if c == 0 {
            let is_div_zero = matches!(down, Err(MathError::DivisionByZero { .. }));
            prop_assert!(is_div_zero);
            return Ok(());
        }
        let exact_num = I256::from(a) * I256::from(b);
        let cc = I256::from(c);
        match (down, up) {
            (Ok(d), Ok(u)) => {
                prop_assert!(d <= u && u - d <= 1, "down {} up {}", d, u);
                // d ≤ a·b/c ≤ u, checked without division: multiply through by c (sign-aware).
                let (lo, hi) = (I256::from(d) * cc, I256::from(u) * cc);
                if c > 0 {
                    prop_assert!(lo <= exact_num && exact_num <= hi);
                } else {
                    prop_assert!(lo >= exact_num && exact_num >= hi);
                }
                prop_assert_eq!(d == u, exact_num % cc == 0);
            }
            (Err(MathError::Overflow { .. }), _) | (_, Err(MathError::Overflow { .. })) => {
                // Only when the exact quotient is at or beyond the i128 range.
                let q = exact_num / cc;
                prop_assert!(q >= I256::from(i128::MAX) || q <= I256::from(i128::MIN));
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn parsing_any_text_never_panics(s in ".{0,64}") {
        let _ = s.parse::<Quote>();
    }

    #[test]
    fn parsing_decimal_like_text_never_panics(s in "[-+]?[0-9]{0,45}(\\.[0-9]{0,25})?") {
        if let Ok(q) = s.parse::<Quote>() {
            // Whatever parses prints back to a string that parses to the same value.
            prop_assert_eq!(q.to_string().parse::<Quote>().unwrap(), q);
        }
    }

    #[test]
    fn add_sub_are_checked_never_wrapping(a in any::<i128>(), b in any::<i128>()) {
        let (x, y) = (Quote::from_raw(a), Quote::from_raw(b));
        match x.checked_add(y) {
            Ok(s) => prop_assert_eq!(Some(s.raw()), a.checked_add(b)),
            Err(_) => prop_assert!(a.checked_add(b).is_none()),
        }
        match x.checked_sub(y) {
            Ok(s) => prop_assert_eq!(Some(s.raw()), a.checked_sub(b)),
            Err(_) => prop_assert!(a.checked_sub(b).is_none()),
        }
    }

    #[test]
    fn float_quantisation_brackets(x in -1e15f64..1e15) {
        let d = Quote::from_f64(x, Rounding::Down).unwrap();
        let u = Quote::from_f64(x, Rounding::Up).unwrap();
        prop_assert!(d <= u);
        prop_assert!(u.raw() - d.raw() <= 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Realistic fixed-point products (sizes × prices, amounts ÷ amounts) take the split path
    /// of `mul_div`; they must agree exactly with the 256-bit floor and ceiling.
    #[test]
    fn split_path_agrees_with_wide_arithmetic(
        a in -10i128.pow(27)..10i128.pow(27),
        b in -10i128.pow(27)..10i128.pow(27),
        c in prop_oneof![Just(10i128.pow(18)), 1i128..10i128.pow(24), -10i128.pow(24)..-1],
    ) {
        let p = I256::from(a) * I256::from(b);
        let cc = I256::from(c);
        let (q, r) = (p / cc, p % cc);
        let floor = if r != 0 && ((r < 0) != (cc < 0)) { q - 1 } else { q };
        let ceil = if r != 0 && ((r < 0) == (cc < 0)) { q + 1 } else { q };
        match i128::try_from(floor) {
            Ok(f) => prop_assert_eq!(mul_div(a, b, c, Rounding::Down).unwrap(), f),
            Err(_) => prop_assert!(mul_div(a, b, c, Rounding::Down).is_err()),
        }
        match i128::try_from(ceil) {
            Ok(u) => prop_assert_eq!(mul_div(a, b, c, Rounding::Up).unwrap(), u),
            Err(_) => prop_assert!(mul_div(a, b, c, Rounding::Up).is_err()),
        }
    }

    #[test]
    fn to_f64_is_within_two_ulp(raw in any::<i128>()) {
        let exact = raw as f64 / 1e18; // one rounding of the integer, one of the division
        let got = Quote::from_raw(raw).to_f64();
        prop_assert!((got - exact).abs() <= 4.0 * f64::EPSILON * exact.abs());
    }
}
