//! Black-Scholes-Merton (spot, rate, dividend yield) and Black-76 (forward, discounted) prices and
//! Greeks. (SKELETON: helper A replaces the bodies and documents the formulas here.)

use serde::{Deserialize, Serialize};

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionKind {
    /// Right to buy at the strike.
    Call,
    /// Right to sell at the strike.
    Put,
}

/// Price and Greeks of one option (one unit of underlying).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Greeks {
    /// Option value, in the currency of the spot/forward.
    pub price: f64,
    /// ∂V/∂S (BSM) or ∂V/∂F (Black-76).
    pub delta: f64,
    /// ∂²V/∂S² (or ∂²V/∂F²).
    pub gamma: f64,
    /// ∂V/∂σ per 1.00 of vol.
    pub vega: f64,
    /// −∂V/∂T per year of calendar time.
    pub theta: f64,
    /// ∂V/∂r per 1.00 of rate.
    pub rho: f64,
    /// ∂²V/∂S∂σ.
    pub vanna: f64,
    /// ∂²V/∂σ².
    pub volga: f64,
}

/// Inputs of a Black-Scholes-Merton valuation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BsmInputs {
    /// Call or put.
    pub kind: OptionKind,
    /// Spot price (> 0).
    pub spot: f64,
    /// Strike (> 0).
    pub strike: f64,
    /// Time to expiry in years (≥ 0).
    pub t: f64,
    /// Continuously compounded risk-free rate.
    pub rate: f64,
    /// Continuously compounded dividend yield (or carry).
    pub div: f64,
    /// Volatility (≥ 0), 0.8 = 80 %.
    pub vol: f64,
}

/// Inputs of a Black-76 valuation (price discounted by e^(−rT)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Black76Inputs {
    /// Call or put.
    pub kind: OptionKind,
    /// Forward (futures) price (> 0).
    pub forward: f64,
    /// Strike (> 0).
    pub strike: f64,
    /// Time to expiry in years (≥ 0).
    pub t: f64,
    /// Continuously compounded discount rate.
    pub rate: f64,
    /// Volatility (≥ 0).
    pub vol: f64,
}

/// An input outside the domain of the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} = {value} is invalid: {rule}")]
pub struct InputError {
    /// Which input (`spot`, `strike`, `t`, `vol`, ...).
    pub field: &'static str,
    /// The offending value.
    pub value: f64,
    /// What it must satisfy, e.g. "must be finite and > 0".
    pub rule: &'static str,
}

/// Black-Scholes-Merton price.
pub fn bsm_price(i: &BsmInputs) -> Result<f64, InputError> {
    todo!("helper A {i:?}")
}

/// Black-Scholes-Merton price and Greeks.
pub fn bsm_greeks(i: &BsmInputs) -> Result<Greeks, InputError> {
    todo!("helper A {i:?}")
}

/// Black-76 price.
pub fn black76_price(i: &Black76Inputs) -> Result<f64, InputError> {
    todo!("helper A {i:?}")
}

/// Black-76 price and Greeks (delta, gamma, vanna with respect to the forward; rho with the
/// forward held fixed, i.e. −T·price).
pub fn black76_greeks(i: &Black76Inputs) -> Result<Greeks, InputError> {
    todo!("helper A {i:?}")
}
