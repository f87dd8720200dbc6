//! Implied volatility to full double precision (Jäckel, "Let's Be Rational", 2015, through the
//! `implied-vol` crate's default solver).
//!
//! # Black-76
//!
//! With `D = e^(−rT)` the undiscounted price `P/D` is inverted on `(F, K, T)`. The attainable
//! discounted prices are
//!
//! ```text
//! call:  D·(F − K)⁺ ≤ P < D·F        put:  D·(K − F)⁺ ≤ P < D·K
//! ```
//!
//! A price at the lower bound (the discounted intrinsic value, to within 4 ulps of
//! `D·(F + K)` either way, to absorb rounding differences in the caller's discounting) returns
//! vol 0; the upper bound
//! is reached only as σ → ∞, so a price at or above it is an error, as is a negative price or
//! one below intrinsic. At `T = 0` only the intrinsic value is attainable.
//!
//! # Black-Scholes-Merton
//!
//! Mapped to Black-76 on the forward `F = S·e^((r−q)T)` with the same discount `e^(−rT)`.
//! The bounds are computed directly from the inputs: call `S·e^(−qT)·…` (the discounted forward,
//! named `"spot"` when q = 0), put `K·e^(−rT)` (`"discounted strike"`), intrinsic
//! `(w·(S·e^(−qT) − K·e^(−rT)))⁺`.
//!
//! Vol is per √year (0.8 = 80 %), time in years, rates continuously compounded.

use crate::black::{
    all_finite, check_finite, check_non_negative, check_positive, InputError, OptionKind,
};
use implied_vol::{DefaultSpecialFn, ImpliedBlackVolatility};

/// A price no volatility can produce, or bad inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IvError {
    /// The price is negative (or NaN / infinite: `price` then holds that value).
    #[error("price {price} is negative")]
    Negative {
        /// The price given.
        price: f64,
    },
    /// The price is below the option's intrinsic value (lower no-arbitrage bound).
    #[error("price {price} is below the intrinsic value {intrinsic}")]
    BelowIntrinsic {
        /// The price given.
        price: f64,
        /// The lower bound it breaks.
        intrinsic: f64,
    },
    /// The price is at or above the upper no-arbitrage bound (a call at or above the discounted
    /// spot or forward, a put at or above the discounted strike; only σ = ∞ reaches the
    /// bound), or, at `t = 0`, above the intrinsic value.
    #[error("price {price} is above the upper bound {bound} ({which})")]
    AboveUpperBound {
        /// The price given.
        price: f64,
        /// The bound it breaks.
        bound: f64,
        /// Which bound: `"spot"`, `"discounted forward"`, `"discounted strike"`, or
        /// `"intrinsic value at expiry"` when `t = 0`.
        which: &'static str,
    },
    /// An input other than the price is invalid.
    #[error(transparent)]
    Input(#[from] InputError),
}

/// Distance from the intrinsic value, relative to `Bounds::scale`, that still counts as "at
/// intrinsic" (4 ulps of the discounted forward plus discounted strike, the terms whose
/// difference the intrinsic value is).
const INTRINSIC_SLACK: f64 = 4.0 * f64::EPSILON;

/// Discounted bounds of one option: `[intrinsic, upper)`.
struct Bounds {
    intrinsic: f64,
    /// Discounted forward + discounted strike: the magnitude of the terms of the intrinsic value
    /// (used only in the money).
    scale: f64,
    upper: f64,
    which: &'static str,
}

/// Check the discounted `price` against the bounds `b`, then invert the undiscounted price
/// `price / discount` on `(F, K, T)`.
fn solve(
    kind: OptionKind,
    price: f64,
    b: &Bounds,
    forward: f64,
    strike: f64,
    t: f64,
    discount: f64,
) -> Result<f64, IvError> {
    // NaN and ±∞ prices: report as not a valid (non-negative finite) price.
    if !price.is_finite() {
        if price == f64::INFINITY {
            return Err(IvError::AboveUpperBound {
                price,
                bound: b.upper,
                which: b.which,
            });
        }
        return Err(IvError::Negative { price });
    }
    if price < 0.0 {
        return Err(IvError::Negative { price });
    }
    // A price within a few ulps of the intrinsic value is the intrinsic value computed with
    // different rounding (e.g. std's exp instead of libm's): vol 0, not an error (and, above it,
    // not a vol made of rounding noise).
    // Out of the money there is no intrinsic value to round: no slack.
    let slack = if b.intrinsic > 0.0 {
        INTRINSIC_SLACK * b.scale
    } else {
        0.0
    };
    if price < b.intrinsic - slack {
        return Err(IvError::BelowIntrinsic {
            price,
            intrinsic: b.intrinsic,
        });
    }
    if price <= b.intrinsic + slack {
        return Ok(0.0);
    }
    if t == 0.0 {
        return Err(IvError::AboveUpperBound {
            price,
            bound: b.intrinsic,
            which: "intrinsic value at expiry",
        });
    }
    if price >= b.upper {
        return Err(IvError::AboveUpperBound {
            price,
            bound: b.upper,
            which: b.which,
        });
    }
    // Invert the out-of-the-money side: in the money, the time value price − intrinsic is the
    // price of the opposite option (put-call parity), computed here from the same discounted
    // terms as the pricing functions, so the inversion sees the time value to full relative
    // precision rather than after the solver recomputes F − K from rounded inputs.
    let (is_call, undiscounted) = if b.intrinsic > 0.0 {
        (kind == OptionKind::Put, (price - b.intrinsic) / discount)
    } else {
        (kind == OptionKind::Call, price / discount)
    };
    if undiscounted <= 0.0 {
        return Ok(0.0);
    }
    let cap = if is_call { forward } else { strike };
    if undiscounted >= cap {
        return Err(IvError::AboveUpperBound {
            price,
            bound: b.upper,
            which: b.which,
        });
    }
    let vol = ImpliedBlackVolatility::builder()
        .option_price(undiscounted)
        .forward(forward)
        .strike(strike)
        .expiry(t)
        .is_call(is_call)
        // Inputs validated above (finite, F, K > 0, T > 0, 0 < price < cap).
        .build_unchecked()
        .calculate::<DefaultSpecialFn>();
    match vol {
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
        // Only reachable through rounding at the very top of the range.
        _ => Err(IvError::AboveUpperBound {
            price,
            bound: b.upper,
            which: b.which,
        }),
    }
}

/// The first invalid input of [`implied_vol_bsm`] (called only when one is invalid).
#[cold]
#[inline(never)]
fn invalid_bsm(spot: f64, strike: f64, t: f64, rate: f64, div: f64) -> IvError {
    let first = check_positive("spot", spot)
        .and(check_positive("strike", strike))
        .and(check_non_negative("t", t))
        .and(check_finite("rate", rate))
        .and(check_finite("div", div));
    IvError::Input(first.expect_err("called with an invalid input"))
}

/// The first invalid input of [`implied_vol_black76`] (called only when one is invalid).
#[cold]
#[inline(never)]
fn invalid_black76(forward: f64, strike: f64, t: f64, rate: f64) -> IvError {
    let first = check_positive("forward", forward)
        .and(check_positive("strike", strike))
        .and(check_non_negative("t", t))
        .and(check_finite("rate", rate));
    IvError::Input(first.expect_err("called with an invalid input"))
}

/// Implied volatility under Black-Scholes-Merton (spot `spot`, continuously compounded `rate`
/// and dividend yield `div`, `t` in years), per √year. A price at the discounted intrinsic
/// value returns 0; prices outside `[intrinsic, upper bound)` are [`IvError`]s naming the
/// bound.
pub fn implied_vol_bsm(
    kind: OptionKind,
    price: f64,
    spot: f64,
    strike: f64,
    t: f64,
    rate: f64,
    div: f64,
) -> Result<f64, IvError> {
    // One well-predicted branch on the hot path; the error path names the first bad input.
    if !(all_finite([spot, strike, t, rate, div]) & (spot > 0.0) & (strike > 0.0) & (t >= 0.0)) {
        return Err(invalid_bsm(spot, strike, t, rate, div));
    }
    let discount = libm::exp(-rate * t);
    let disc_fwd = spot * libm::exp(-div * t);
    let disc_strike = strike * discount;
    let bounds = match kind {
        OptionKind::Call => Bounds {
            intrinsic: (disc_fwd - disc_strike).max(0.0),
            scale: disc_fwd + disc_strike,
            upper: disc_fwd,
            which: if div == 0.0 {
                "spot"
            } else {
                "discounted forward"
            },
        },
        OptionKind::Put => Bounds {
            intrinsic: (disc_strike - disc_fwd).max(0.0),
            scale: disc_fwd + disc_strike,
            upper: disc_strike,
            which: "discounted strike",
        },
    };
    // The forward as the pricing functions see it: discounted forward over discount.
    let forward = disc_fwd / discount;
    if !forward.is_finite() || forward <= 0.0 {
        return Err(IvError::Input(InputError {
            field: "rate",
            value: rate,
            rule: "forward spot·e^((rate − div)·t) must be finite and > 0",
        }));
    }
    solve(kind, price, &bounds, forward, strike, t, discount)
}

/// Implied volatility under Black-76 (price discounted by e^(−rT), `t` in years), per √year.
/// A price at the discounted intrinsic value returns 0; prices outside
/// `[intrinsic, upper bound)` are [`IvError`]s naming the bound.
pub fn implied_vol_black76(
    kind: OptionKind,
    price: f64,
    forward: f64,
    strike: f64,
    t: f64,
    rate: f64,
) -> Result<f64, IvError> {
    if !(all_finite([forward, strike, t, rate]) & (forward > 0.0) & (strike > 0.0) & (t >= 0.0)) {
        return Err(invalid_black76(forward, strike, t, rate));
    }
    let discount = libm::exp(-rate * t);
    let bounds = match kind {
        OptionKind::Call => Bounds {
            intrinsic: discount * (forward - strike).max(0.0),
            scale: discount * (forward + strike),
            upper: discount * forward,
            which: "discounted forward",
        },
        OptionKind::Put => Bounds {
            intrinsic: discount * (strike - forward).max(0.0),
            scale: discount * (forward + strike),
            upper: discount * strike,
            which: "discounted strike",
        },
    };
    solve(kind, price, &bounds, forward, strike, t, discount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_infinite_prices_are_errors() {
        for p in [f64::NAN, f64::NEG_INFINITY] {
            let e = implied_vol_black76(OptionKind::Call, p, 100.0, 100.0, 1.0, 0.0).unwrap_err();
            assert!(matches!(e, IvError::Negative { .. }), "{e}");
        }
        let e = implied_vol_bsm(OptionKind::Put, f64::INFINITY, 100.0, 100.0, 1.0, 0.0, 0.0)
            .unwrap_err();
        assert!(matches!(
            e,
            IvError::AboveUpperBound {
                which: "discounted strike",
                ..
            }
        ));
        let e =
            implied_vol_bsm(OptionKind::Put, 1.0, 100.0, 100.0, f64::NAN, 0.0, 0.0).unwrap_err();
        assert!(
            matches!(e, IvError::Input(InputError { field: "t", .. })),
            "{e}"
        );
    }

    #[test]
    fn expiry_accepts_only_intrinsic() {
        assert_eq!(
            implied_vol_black76(OptionKind::Call, 10.0, 110.0, 100.0, 0.0, 0.05),
            Ok(0.0)
        );
        let e = implied_vol_black76(OptionKind::Call, 10.5, 110.0, 100.0, 0.0, 0.05).unwrap_err();
        assert!(matches!(
            e,
            IvError::AboveUpperBound {
                which: "intrinsic value at expiry",
                ..
            }
        ));
    }
}
