//! Pool metrics exposed everywhere (CLI summary, simulator, API; DESIGN.md §5.5).

use crate::command::Tranche;
use crate::instrument::perp_name;
use crate::nav;
use crate::state::State;
use derivpool_types::{Base, Fixed, MathError, Price, Quote, Ratio, Rounding};
use serde::Serialize;
use std::collections::BTreeMap;

/// One tranche's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrancheMetrics {
    /// Tranche NAV.
    pub nav: Quote,
    /// Shares outstanding.
    pub shares: derivpool_types::Shares,
    /// NAV per share.
    pub share_price: Price,
}

/// One perp's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerpMetrics {
    /// Long open interest.
    pub long: Base,
    /// Short open interest.
    pub short: Base,
    /// Funding rate per day.
    pub funding_rate: Ratio,
    /// Borrow rate per year.
    pub borrow_rate: Ratio,
}

/// The metrics of one pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolMetrics {
    /// NAV in the quote asset.
    pub nav: Quote,
    /// Per tranche: NAV, shares, share price.
    pub tranches: BTreeMap<&'static str, TrancheMetrics>,
    /// Net delta (options and perps), base units summed over underlyings.
    pub net_delta: Base,
    /// Net gamma.
    pub net_gamma: Ratio,
    /// Net vega per 1.00 vol.
    pub net_vega: Quote,
    /// Net standardised vega.
    pub net_std_vega: Quote,
    /// Net theta per year.
    pub net_theta: Quote,
    /// Mark value of the pool's options (negative: a liability).
    pub option_value: Quote,
    /// Utilisation (locked + reserved) / cash.
    pub utilisation: Ratio,
    /// Free liquidity.
    pub free_liquidity: Quote,
    /// Cash.
    pub cash: Quote,
    /// Locked collateral for written options.
    pub locked: Quote,
    /// Queued deposits.
    pub queued_deposits: Quote,
    /// Hedge position, base units summed over underlyings ([`crate::hedger`]).
    pub hedge_position: Base,
    /// Hedge gap: Σ target − hedge position, base units (pending orders count as not done).
    pub hedge_gap: Base,
    /// Open interest and funding per perp.
    pub perps: BTreeMap<String, PerpMetrics>,
    /// Insurance fund.
    pub insurance_fund: Quote,
    /// Bad debt absorbed.
    pub bad_debt: Quote,
    /// Fees earned.
    pub fees_earned: Quote,
    /// The breaker holding LP flows now, if any.
    pub breaker: Option<&'static str>,
    /// Bad debt paid by each layer of the waterfall.
    pub bad_debt_paid: crate::waterfall::BadDebtLayers,
    /// The pool's worst loss over the stress grid (quote).
    pub pool_stress_loss: Quote,
    /// Whether the pool's stress loss exceeds `pool_stress_maintenance` × NAV.
    pub pool_stress_breach: bool,
    /// Whether the oracle breaker holds for any of the pool's underlyings.
    pub oracle_breaker: bool,
}

/// Computes a pool's metrics at the state's time.
pub fn pool_metrics(state: &State, pool_name: &str) -> Result<PoolMetrics, MathError> {
    let pool = state.pools.get(pool_name).ok_or(MathError::Overflow {
        op: "unknown pool",
        location: std::panic::Location::caller(),
    })?;
    let nav_v = nav::nav(state, pool)?;
    let stress = Quote::from_f64(
        crate::pool_risk::stress_loss(state, pool, None),
        Rounding::Up,
    )?;
    let (senior, junior) = nav::tranche_navs(pool, nav_v)?;
    let mut tranches = BTreeMap::new();
    for (t, v) in [(Tranche::Senior, senior), (Tranche::Junior, junior)] {
        let shares = pool
            .vault
            .tranches
            .get(&t)
            .map(|s| s.shares)
            .unwrap_or_default();
        tranches.insert(
            t.as_str(),
            TrancheMetrics {
                nav: v,
                shares,
                share_price: nav::share_price(pool, t, v)?,
            },
        );
    }
    let (mut gamma, mut vega, mut std_vega, mut theta, mut value) = (
        Ratio::ZERO,
        Quote::ZERO,
        Quote::ZERO,
        Quote::ZERO,
        Quote::ZERO,
    );
    let mut perps = BTreeMap::new();
    for (u, m) in &pool.markets {
        for b in m.boards.values() {
            gamma = gamma.checked_add(b.cache.net_gamma)?;
            vega = vega.checked_add(b.cache.net_vega)?;
            std_vega = std_vega.checked_add(b.cache.net_std_vega)?;
            theta = theta.checked_add(b.cache.net_theta)?;
            value = value.checked_add(b.cache.option_value)?;
        }
        perps.insert(
            perp_name(u),
            PerpMetrics {
                long: m.perp.long_oi,
                short: m.perp.short_oi,
                funding_rate: m.perp.funding_rate,
                borrow_rate: m.perp.borrow_rate,
            },
        );
    }
    Ok(PoolMetrics {
        nav: nav_v,
        tranches,
        net_delta: nav::net_delta(pool)?,
        net_gamma: gamma,
        net_vega: vega,
        net_std_vega: std_vega,
        net_theta: theta,
        option_value: value,
        utilisation: Ratio::from_f64(nav::utilisation(state, pool)?, Rounding::Down)?,
        free_liquidity: nav::free_liquidity(state, pool)?,
        cash: pool.cash,
        locked: pool.locked,
        queued_deposits: pool.vault.queued_deposit_cash,
        hedge_position: crate::hedger::total_position(pool)?,
        hedge_gap: crate::hedger::total_gap(state, pool, nav_v)?,
        perps,
        insurance_fund: pool.insurance_fund,
        bad_debt: pool.bad_debt,
        fees_earned: pool.fees_earned,
        breaker: pool.breakers.active(state.t),
        bad_debt_paid: pool.bad_debt_paid,
        pool_stress_loss: stress,
        pool_stress_breach: stress.to_f64()
            > nav_v.to_f64() * pool.params.pool_stress_maintenance.to_f64(),
        oracle_breaker: pool
            .markets
            .keys()
            .any(|u| state.oracle.breaker_active(u, state.t)),
    })
}
