//! Minimum collateral of a trader's short option, isolated margin (Lyra v1 OptionToken
//! `getMinCollateral`, DESIGN.md §5.2).
//!
//! ```text
//! shocked spot  = spot × 1.2 (calls) or spot × 0.8 (puts)
//! vol shock     = 2.5 with ≤ 14 days left, 1.8 with ≥ 56 days, linear in between
//! per contract  = min(max(BS(shocked spot, vol × shock), floor × spot), full cover)
//! full cover    = spot for a call (one unit of the underlying), the strike for a put
//! ```
//!
//! The per-contract amount is rounded up (the trader locks it). Portfolio-margined accounts use
//! the margin issue's scenario grid instead.

use crate::params::Params;
use crate::pricing_ctx::BoardCtx;
use derivpool_pricing::{bsm_price, BsmInputs, OptionKind};
use derivpool_types::{Fixed, Price};

/// Vol multiple for `days` to expiry.
pub fn vol_shock(days: f64, p: &Params) -> f64 {
    let near = p.short_vol_shock_near.to_f64();
    let far = p.short_vol_shock_far.to_f64();
    if days <= 14.0 {
        near
    } else if days >= 56.0 {
        far
    } else {
        near + (far - near) * (days - 14.0) / 42.0
    }
}

/// Minimum collateral per short contract, in quote (float; the caller rounds up).
pub fn min_collateral_per_contract(
    ctx: &BoardCtx,
    kind: OptionKind,
    strike: Price,
    vol: f64,
    p: &Params,
) -> f64 {
    min_collateral_at(ctx.spot, ctx.t_years, ctx.rate, kind, strike, vol, p)
}

/// [`min_collateral_per_contract`] from its inputs: `spot`, `t_years` to expiry (the vol shock's
/// days are `t_years × 365`) and the `rate`. The shocked value is the Black-Scholes price at
/// the shocked spot and vol (what [`BoardCtx::greeks`] would price, without the Greeks).
pub fn min_collateral_at(
    spot: f64,
    t_years: f64,
    rate: f64,
    kind: OptionKind,
    strike: Price,
    vol: f64,
    p: &Params,
) -> f64 {
    let (spot_shock, full_cover) = match kind {
        OptionKind::Call => (p.short_call_spot_shock.to_f64(), spot),
        OptionKind::Put => (p.short_put_spot_shock.to_f64(), strike.to_f64()),
    };
    let price = bsm_price(&BsmInputs {
        kind,
        spot: spot * spot_shock,
        strike: strike.to_f64(),
        t: t_years,
        rate,
        div: 0.0,
        vol: vol * vol_shock(t_years * 365.0, p),
    })
    .unwrap_or(0.0);
    let floor = p.short_collateral_floor.to_f64() * spot;
    price.max(floor).min(full_cover)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(days: f64) -> BoardCtx {
        BoardCtx {
            spot: 100.0,
            t_years: days / 365.0,
            rate: 0.0,
            forward: 100.0,
            slices: vec![],
        }
    }

    #[test]
    fn vol_shock_eases_from_near_to_far() {
        let p = Params::default();
        assert_eq!(vol_shock(7.0, &p), 2.5);
        assert!((vol_shock(35.0, &p) - 2.15).abs() < 1e-12);
        assert_eq!(vol_shock(90.0, &p), 1.8);
    }

    #[test]
    fn collateral_is_floored_and_capped_at_full_cover() {
        let p = Params::default();
        let c = ctx(30.0);
        // Deep OTM call: the floor (5 % of spot) binds.
        let otm = min_collateral_per_contract(&c, OptionKind::Call, Price::from_int(400), 0.5, &p);
        assert!((otm - 5.0).abs() < 1e-9, "{otm}");
        // Deep ITM put on a huge vol: capped at the strike.
        let itm = min_collateral_per_contract(&c, OptionKind::Put, Price::from_int(90), 5.0, &p);
        assert!(itm <= 90.0 && itm > 50.0, "{itm}");
        // ATM call: the shocked Black-Scholes value, more than the unshocked one.
        let atm = min_collateral_per_contract(&c, OptionKind::Call, Price::from_int(100), 0.5, &p);
        let plain = c.greeks(OptionKind::Call, Price::from_int(100), 0.5).price;
        assert!(atm > plain * 2.0 && atm < 100.0, "{atm} vs {plain}");
    }
}
