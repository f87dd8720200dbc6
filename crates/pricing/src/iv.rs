//! Implied volatility (Jäckel, "Let's Be Rational", through the `implied-vol` crate).
//! (SKELETON: helper A replaces the bodies.)

use crate::black::{InputError, OptionKind};

/// A price no volatility can produce, or bad inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IvError {
    /// The price is negative.
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
    /// The price is above the upper no-arbitrage bound (a call above the discounted spot or
    /// forward, a put above the discounted strike).
    #[error("price {price} is above the upper bound {bound} ({which})")]
    AboveUpperBound {
        /// The price given.
        price: f64,
        /// The bound it breaks.
        bound: f64,
        /// Which bound: `"spot"`, `"discounted forward"` or `"discounted strike"`.
        which: &'static str,
    },
    /// An input other than the price is invalid.
    #[error(transparent)]
    Input(#[from] InputError),
}

/// Implied volatility under Black-Scholes-Merton.
pub fn implied_vol_bsm(
    kind: OptionKind,
    price: f64,
    spot: f64,
    strike: f64,
    t: f64,
    rate: f64,
    div: f64,
) -> Result<f64, IvError> {
    todo!("helper A {kind:?} {price} {spot} {strike} {t} {rate} {div}")
}

/// Implied volatility under Black-76 (price discounted by e^(−rT)).
pub fn implied_vol_black76(
    kind: OptionKind,
    price: f64,
    forward: f64,
    strike: f64,
    t: f64,
    rate: f64,
) -> Result<f64, IvError> {
    todo!("helper A {kind:?} {price} {forward} {strike} {t} {rate}")
}
