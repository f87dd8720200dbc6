//! Inverse (coin-settled) options as Deribit quotes them: premium in coin = Black-76 price / F
//! with r = 0.
//!
//! An inverse option on ETH/USD pays its USD payoff in ETH at the settlement price, so its value
//! in coin today is `c = B(F, K, T, σ; r = 0) / F`, where `B` is the (undiscounted) Black-76
//! price in USD and `F` the forward (Deribit's `underlying_price` for the expiry), in USD per
//! coin:
//!
//! ```text
//! call: c = N(d1) − (K/F)·N(d2)        put: c = (K/F)·N(−d2) − N(−d1)
//! d1 = ln(F/K)/(σ√T) + σ√T/2,  d2 = d1 − σ√T
//! ```
//!
//! T in years (Deribit: ACT/365 to 08:00 UTC on the expiry date), σ per √year.

use crate::black::{
    black76_greeks_inline, black76_price, Black76Inputs, Greeks, InputError, OptionKind,
};
use crate::iv::{implied_vol_black76, IvError};

#[inline]
fn inputs(kind: OptionKind, forward: f64, strike: f64, t: f64, vol: f64) -> Black76Inputs {
    Black76Inputs {
        kind,
        forward,
        strike,
        t,
        rate: 0.0,
        vol,
    }
}

/// Price in coin of an inverse option: Black-76 (r = 0) price in USD divided by the forward
/// `forward` (USD per coin). `t` in years, `vol` per √year. Errors name the invalid input.
#[inline]
pub fn inverse_price(
    kind: OptionKind,
    forward: f64,
    strike: f64,
    t: f64,
    vol: f64,
) -> Result<f64, InputError> {
    Ok(black76_price(&inputs(kind, forward, strike, t, vol))? / forward)
}

/// Greeks of an inverse option in coin (price in coin; delta as Deribit reports it, N(d1) for a
/// call; the other Greeks are the Black-76 ones divided by F).
///
/// With `B` the Black-76 (r = 0) value in USD and `F` the forward:
/// - `price`: `B/F`, coin per option (one coin of underlying).
/// - `delta`: `∂B/∂F`, i.e. `N(d1)` for a call, `N(d1) − 1` for a put: the USD value's delta,
///   in coin of underlying per option, as Deribit's `greeks.delta`. (The premium-adjusted delta
///   of a coin-margined book is `delta − price`.)
/// - `gamma`: `(∂²B/∂F²)/F`, the Black-76 gamma (change of delta per USD of F) divided by F;
///   multiply by F for Deribit's `greeks.gamma`.
/// - `vega`: `(∂B/∂σ)/F` = `∂(B/F)/∂σ`, coin per 1.00 of vol; ×F×0.01 gives Deribit's USD per
///   vol point.
/// - `theta`: `−(∂B/∂T)/F` = `−∂(B/F)/∂T`, coin per year; ×F/365 gives Deribit's USD per day.
/// - `rho`: `−T·price`, coin per 1.00 of rate with F held fixed (the model has r = 0; this is the
///   sensitivity to a discount rate applied to the coin premium).
/// - `vanna`: `(∂²B/∂F∂σ)/F`, per 1.00 of vol, in coin per USD of F.
/// - `volga`: `(∂²B/∂σ²)/F` = `∂²(B/F)/∂σ²`, coin per (1.00 of vol)².
///
/// Degenerate inputs (`t = 0` or `vol = 0`) follow [`crate::black`]'s limits. Errors name the
/// invalid input.
#[inline]
pub fn inverse_greeks(
    kind: OptionKind,
    forward: f64,
    strike: f64,
    t: f64,
    vol: f64,
) -> Result<Greeks, InputError> {
    let g = black76_greeks_inline(&inputs(kind, forward, strike, t, vol))?;
    let inv_f = 1.0 / forward;
    let price = g.price / forward;
    Ok(Greeks {
        price,
        delta: g.delta,
        gamma: g.gamma * inv_f,
        vega: g.vega * inv_f,
        theta: g.theta * inv_f,
        rho: -t * price,
        vanna: g.vanna * inv_f,
        volga: g.volga * inv_f,
    })
}

/// Implied vol (per √year) from a price in coin, on the forward `forward` (USD per coin), `t`
/// in years, r = 0. Bounds in coin: a call's price must lie in `[(1 − K/F)⁺, 1)`, a put's in
/// `[(K/F − 1)⁺, K/F)`; errors report the price and bounds in coin.
pub fn inverse_implied_vol(
    kind: OptionKind,
    price_coin: f64,
    forward: f64,
    strike: f64,
    t: f64,
) -> Result<f64, IvError> {
    let usd = price_coin * forward;
    match implied_vol_black76(kind, usd, forward, strike, t, 0.0) {
        Ok(v) => Ok(v),
        Err(IvError::Negative { .. }) => Err(IvError::Negative { price: price_coin }),
        Err(IvError::BelowIntrinsic { intrinsic, .. }) => Err(IvError::BelowIntrinsic {
            price: price_coin,
            intrinsic: intrinsic / forward,
        }),
        Err(IvError::AboveUpperBound { bound, which, .. }) => Err(IvError::AboveUpperBound {
            price: price_coin,
            bound: bound / forward,
            which,
        }),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_coin_price_below_one_and_bounds_in_coin() {
        let c = inverse_price(OptionKind::Call, 2000.0, 1500.0, 0.5, 0.8).unwrap();
        assert!(c > 0.25 && c < 1.0, "{c}");
        let e = inverse_implied_vol(OptionKind::Call, 1.2, 2000.0, 1500.0, 0.5).unwrap_err();
        match e {
            IvError::AboveUpperBound { price, bound, .. } => {
                assert_eq!(price, 1.2);
                assert!((bound - 1.0).abs() < 1e-15);
            }
            other => panic!("unexpected {other}"),
        }
        let e = inverse_implied_vol(OptionKind::Call, 0.2, 2000.0, 1500.0, 0.5).unwrap_err();
        assert!(
            matches!(e, IvError::BelowIntrinsic { intrinsic, .. } if (intrinsic - 0.25).abs() < 1e-15)
        );
        let e = inverse_greeks(OptionKind::Put, 2000.0, -1.0, 0.5, 0.8).unwrap_err();
        assert_eq!(e.field, "strike");
    }
}
