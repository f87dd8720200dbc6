//! Option fee stack (Lyra v1 OptionMarketPricer; Premia v3 utilisation markup; DESIGN.md §5.2).
//!
//! ```text
//! tw(T)            = 1 for T ≤ 42 days, rising linearly to tw_max (2) at 112 days, flat after
//! option_price_fee = c1 × tw(T) × premium
//! spot_fee         = c2 × tw(T) × spot × size
//! vega_fee         = vega_fee_coefficient × vol × |post-trade net std vega| / post-trade NAV × size
//!                    (only when the trade increases the pool's |net std vega|)
//! utilisation_fee  = premium × (C(u) − 1),  C(u) = 1 + max × max(0, (u − kink)/(1 − kink)),
//!                    u = utilisation after the trade
//! ```
//!
//! Every fee is computed in floats and rounded up (the trader pays it). A sell's total fee is
//! capped at its premium, so a seller never pays to sell.

use crate::params::Params;
use derivpool_types::Fixed;

/// Fee time weight tw(T) for `days` to expiry.
pub fn time_weight(days: f64, p: &Params) -> f64 {
    let start = p.fee_time_weight_start_days as f64;
    let end = (p.fee_time_weight_end_days as f64).max(start + 1e-9);
    let max = p.fee_time_weight_max.to_f64();
    if days <= start {
        1.0
    } else if days >= end {
        max
    } else {
        1.0 + (max - 1.0) * (days - start) / (end - start)
    }
}

/// Utilisation markup factor C(u).
pub fn utilisation_markup(u: f64, p: &Params) -> f64 {
    let kink = p.utilisation_markup_kink.to_f64();
    let max = p.utilisation_markup_max.to_f64();
    let over = ((u - kink) / (1.0 - kink)).clamp(0.0, 1.0);
    1.0 + max * over
}

/// Inputs of the fee stack.
#[derive(Debug, Clone, Copy)]
pub struct FeeInputs {
    /// Premium at the trading vol (quote).
    pub premium: f64,
    /// Spot.
    pub spot: f64,
    /// Contracts.
    pub size: f64,
    /// Days to expiry.
    pub days: f64,
    /// Trading vol after the trade.
    pub vol: f64,
    /// Pool's net std vega before the trade (market).
    pub net_std_vega_before: f64,
    /// Pool's net std vega after the trade.
    pub net_std_vega_after: f64,
    /// Pool NAV after the trade (before fees).
    pub nav_after: f64,
    /// Pool utilisation after the trade.
    pub utilisation_after: f64,
}

/// The fees as floats: (option price fee, spot fee, vega fee, utilisation fee).
pub fn fees(i: &FeeInputs, p: &Params) -> (f64, f64, f64, f64) {
    let tw = time_weight(i.days, p);
    let option_fee = p.option_price_fee_coefficient.to_f64() * tw * i.premium;
    let spot_fee = p.spot_fee_coefficient.to_f64() * tw * i.spot * i.size;
    let vega_fee = if i.net_std_vega_after.abs() > i.net_std_vega_before.abs() && i.nav_after > 0.0
    {
        p.vega_fee_coefficient.to_f64() * i.vol * i.net_std_vega_after.abs() / i.nav_after * i.size
    } else {
        0.0
    };
    let util_fee = i.premium * (utilisation_markup(i.utilisation_after, p) - 1.0);
    (option_fee, spot_fee, vega_fee, util_fee)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_weight_is_flat_then_linear_then_flat() {
        let p = Params::default();
        assert_eq!(time_weight(10.0, &p), 1.0);
        assert_eq!(time_weight(42.0, &p), 1.0);
        assert!((time_weight(77.0, &p) - 1.5).abs() < 1e-12);
        assert_eq!(time_weight(112.0, &p), 2.0);
        assert_eq!(time_weight(400.0, &p), 2.0);
    }

    #[test]
    fn markup_rises_from_kink_to_max() {
        let p = Params::default();
        assert_eq!(utilisation_markup(0.2, &p), 1.0);
        assert!((utilisation_markup(0.75, &p) - 1.1).abs() < 1e-12);
        assert!((utilisation_markup(1.0, &p) - 1.2).abs() < 1e-12);
    }

    #[test]
    fn vega_fee_only_when_the_trade_adds_vega() {
        let p = Params::default();
        let base = FeeInputs {
            premium: 1000.0,
            spot: 40_000.0,
            size: 1.0,
            days: 30.0,
            vol: 0.6,
            net_std_vega_before: -500.0,
            net_std_vega_after: -600.0,
            nav_after: 1_000_000.0,
            utilisation_after: 0.1,
        };
        let (o, s, v, u) = fees(&base, &p);
        assert!((o - 10.0).abs() < 1e-9);
        assert!((s - 400.0).abs() < 1e-9);
        assert!((v - 100.0 * 0.6 * 600.0 / 1e6).abs() < 1e-12);
        assert_eq!(u, 0.0);
        let reducing = FeeInputs {
            net_std_vega_after: -400.0,
            ..base
        };
        assert_eq!(fees(&reducing, &p).2, 0.0);
    }
}
