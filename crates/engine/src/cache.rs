//! Greek cache (Lyra OptionGreekCache, DESIGN.md §5.5).
//!
//! Per strike the cache keeps the pool's call and put positions and per-contract marks and
//! Greeks quantised at the last refresh ([`CachedGreeks`]). Per board it keeps the aggregates
//!
//! ```text
//! net_delta  = Σ_strikes ⌊calls·Δc⌋ + ⌊puts·Δp⌋
//! net_gamma  = Σ ⌊(calls + puts)·Γ⌋          net_vega = Σ ⌊(calls + puts)·ν⌋
//! net_std_vega = Σ ⌊(calls + puts)·ν·√(30/max(days,7))·0.01⌋
//! net_theta  = Σ ⌊calls·Θc⌋ + ⌊puts·Θp⌋      option_value = Σ ⌊calls·Cmark⌋ + ⌊puts·Pmark⌋
//! ```
//!
//! with every term rounded down (⌊·⌋). A trade replaces the terms its leg touches (O(1):
//! subtract the old terms, add the new; the other leg's terms are unchanged and cancel), so the
//! incremental aggregates always equal a recomputation from positions (invariant 7). A refresh (on `tick`) recomputes each strike's
//! Greeks at the GWAV-smoothed mark vol `(oracle vol + (GWAV(1 + base offset) − 1)) × GWAV(skew)`
//! and the current spot, and re-locks the pool's collateral for written calls at that spot.
//!
//! The cache is stale `greek_cache_max_age_s` (3 h) after its refresh or after a spot move of
//! more than `greek_cache_max_spot_move` (5 %); a stale cache blocks LP flows and opening trades.

use crate::params::Params;
use crate::pricing_ctx::{trading_vol, BoardCtx};
use crate::state::{Board, BoardCache, CachedGreeks, ScenarioAnchor, Strike};
use derivpool_pricing::OptionKind;
use derivpool_types::{mul, Base, Fixed, MathError, Price, Quote, Ratio, Rounding};

/// One strike's terms of the board aggregates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Contribution {
    /// Delta term.
    pub delta: Base,
    /// Gamma term.
    pub gamma: Ratio,
    /// Vega term.
    pub vega: Quote,
    /// Standardised vega term.
    pub std_vega: Quote,
    /// Theta term.
    pub theta: Quote,
    /// Mark value term.
    pub value: Quote,
}

/// The terms a strike contributes to its board's aggregates.
pub fn contribution(s: &Strike) -> Result<Contribution, MathError> {
    if s.pool_holds_nothing() {
        // Every term is a product with a zero position.
        return Ok(Contribution::default());
    }
    let calls = leg_terms(s, OptionKind::Call)?;
    let puts = leg_terms(s, OptionKind::Put)?;
    let both = shared_terms(s)?;
    Ok(Contribution {
        delta: calls.delta.checked_add(puts.delta)?,
        theta: calls.theta.checked_add(puts.theta)?,
        value: calls.value.checked_add(puts.value)?,
        ..both
    })
}

/// The terms of one leg (calls or puts): delta, theta and value.
pub fn leg_terms(s: &Strike, kind: OptionKind) -> Result<Contribution, MathError> {
    let g = &s.greeks;
    let (pos, delta, theta, price) = match kind {
        OptionKind::Call => (s.pool_calls, g.call_delta, g.call_theta, g.call_price),
        OptionKind::Put => (s.pool_puts, g.put_delta, g.put_theta, g.put_price),
    };
    let d = Rounding::Down;
    Ok(Contribution {
        delta: mul(pos, delta, d)?,
        theta: mul(pos, theta, d)?,
        value: mul(pos, price, d)?,
        ..Contribution::default()
    })
}

/// The terms shared by both legs (gamma, vega and standardised vega act on calls + puts).
pub fn shared_terms(s: &Strike) -> Result<Contribution, MathError> {
    let g = &s.greeks;
    let both = s.pool_calls.checked_add(s.pool_puts)?;
    let d = Rounding::Down;
    Ok(Contribution {
        gamma: mul(both, g.gamma, d)?,
        vega: mul(both, g.vega, d)?,
        std_vega: mul(both, g.std_vega, d)?,
        ..Contribution::default()
    })
}

/// The terms that change when one leg's position changes: that leg's terms plus the shared ones.
pub fn trade_terms(s: &Strike, kind: OptionKind) -> Result<Contribution, MathError> {
    let leg = leg_terms(s, kind)?;
    Ok(Contribution {
        delta: leg.delta,
        theta: leg.theta,
        value: leg.value,
        ..shared_terms(s)?
    })
}

/// `cache − old + new`, term by term.
pub fn replace_contribution(
    cache: &mut BoardCache,
    old: &Contribution,
    new: &Contribution,
) -> Result<(), MathError> {
    cache.net_delta = cache
        .net_delta
        .checked_sub(old.delta)?
        .checked_add(new.delta)?;
    cache.net_gamma = cache
        .net_gamma
        .checked_sub(old.gamma)?
        .checked_add(new.gamma)?;
    cache.net_vega = cache
        .net_vega
        .checked_sub(old.vega)?
        .checked_add(new.vega)?;
    cache.net_std_vega = cache
        .net_std_vega
        .checked_sub(old.std_vega)?
        .checked_add(new.std_vega)?;
    cache.net_theta = cache
        .net_theta
        .checked_sub(old.theta)?
        .checked_add(new.theta)?;
    cache.option_value = cache
        .option_value
        .checked_sub(old.value)?
        .checked_add(new.value)?;
    Ok(())
}

/// The board aggregates recomputed from scratch (refresh time and spot kept).
pub fn recompute(board: &Board) -> Result<BoardCache, MathError> {
    let mut cache = BoardCache {
        refreshed_t: board.cache.refreshed_t,
        refreshed_spot: board.cache.refreshed_spot,
        ..BoardCache::default()
    };
    for s in board.strikes.values() {
        replace_contribution(&mut cache, &Contribution::default(), &contribution(s)?)?;
    }
    Ok(cache)
}

/// Collateral the pool reserves for its short positions at a strike: a written call is covered
/// by `spot` per contract, a written put by its strike (cash-secured).
pub fn pool_lock(s: &Strike, spot: Price) -> Result<Quote, MathError> {
    let short_calls = Base::ZERO.max(s.pool_calls.checked_neg()?);
    let short_puts = Base::ZERO.max(s.pool_puts.checked_neg()?);
    mul::<_, _, Quote>(short_calls, spot, Rounding::Up)?.checked_add(mul(
        short_puts,
        s.strike,
        Rounding::Up,
    )?)
}

/// The board's GWAV-smoothed base offset, `GWAV(1 + base offset) − 1` (the same for every
/// strike of the board).
pub fn base_offset(board: &Board, now: u64, params: &Params) -> f64 {
    board.base_gwav.gwav(now, params.gwav_period_s) - 1.0
}

/// The GWAV-smoothed mark vol of a strike, given its board's [`base_offset`]:
/// `(oracle vol + base) × GWAV(skew)`.
pub fn mark_vol(base: f64, s: &Strike, ctx: &BoardCtx, now: u64, params: &Params) -> f64 {
    let skew = s.skew_gwav.gwav(now, params.gwav_period_s);
    (ctx.oracle_vol(s.strike) + base) * skew
}

/// Per-contract marks and Greeks at `vol`, quantised (values that the pool owes are marked up:
/// prices round up).
pub fn cached_greeks(ctx: &BoardCtx, strike: Price, vol: f64) -> Result<CachedGreeks, MathError> {
    let (c, p) = ctx.greeks_call_put(strike, vol);
    let d = Rounding::Down;
    Ok(CachedGreeks {
        call_price: Price::from_f64(c.price, Rounding::Up)?,
        put_price: Price::from_f64(p.price, Rounding::Up)?,
        call_delta: Ratio::from_f64(c.delta, d)?,
        put_delta: Ratio::from_f64(p.delta, d)?,
        gamma: Ratio::from_f64(c.gamma, d)?,
        std_vega: Quote::from_f64(ctx.std_vega(c.vega), d)?,
        vega: Quote::from_f64(c.vega, d)?,
        call_theta: Quote::from_f64(c.theta, d)?,
        put_theta: Quote::from_f64(p.theta, d)?,
        mark_vol: Ratio::from_f64(vol, d)?,
    })
}

/// Whether a strike's stress-scenario values need re-pricing at a refresh (spot `spot`, mark
/// vol `vol`, time `now`): never priced, priced for another scenario grid, or priced where
///
/// ```text
/// |spot / anchor spot − 1| > scenario_refresh_move   or   |vol − anchor vol| > scenario_refresh_vol
/// or  now − anchor t > min(greek_cache_max_age_s, (expiry − anchor t) / 10)
/// ```
///
/// (the last keeps values close to expiry, where they decay fastest, at most a tenth of the
/// remaining life old). With both thresholds 0 every refresh re-prices.
pub fn scenarios_due(
    s: &Strike,
    scenario_count: usize,
    spot: Price,
    vol: f64,
    now: u64,
    expiry_t: u64,
    params: &Params,
) -> bool {
    let a = &s.scenario_anchor;
    if a.t == 0 || s.scenario_call.len() != scenario_count || a.spot <= Price::ZERO {
        return true;
    }
    let age = now.saturating_sub(a.t);
    let age_limit = params
        .greek_cache_max_age_s
        .min(expiry_t.saturating_sub(a.t) / 10);
    let moved = (spot.to_f64() / a.spot.to_f64() - 1.0).abs();
    let vol_moved = (vol - a.vol.to_f64()).abs();
    age > age_limit
        || moved > params.scenario_refresh_move.to_f64()
        || vol_moved > params.scenario_refresh_vol.to_f64()
        || (params.scenario_refresh_move == Ratio::ZERO
            && params.scenario_refresh_vol == Ratio::ZERO)
}

/// The mark vol a refresh prices a strike at: [`mark_vol`], floored at 10⁻⁶.
pub fn refresh_vol(base: f64, s: &Strike, ctx: &BoardCtx, now: u64, params: &Params) -> f64 {
    mark_vol(base, s, ctx, now, params).max(1e-6)
}

/// Recomputes a board's Greeks at mark vols and the given context, and the stress-scenario
/// values of the strikes where they are due; returns the change in the pool's locked
/// collateral.
pub fn refresh_board(
    board: &mut Board,
    ctx: &BoardCtx,
    now: u64,
    params: &Params,
) -> Result<Quote, MathError> {
    let (lock_change, due) = refresh_greeks(board, ctx, now, params)?;
    for (k, anchor) in due {
        let values = crate::pool_risk::values_at(k, board.expiry_t, &anchor, params)?;
        let s = board.strikes.get_mut(&k).expect("strike listed");
        s.set_scenario_values(values, anchor);
    }
    Ok(lock_change)
}

/// [`refresh_board`] without pricing the stress-scenario values: returns the change in the
/// pool's locked collateral and the strikes the pool holds whose values are due, with the anchor
/// to price them at (the refresh time, the refreshed spot, the strike's new mark vol). Values
/// due where the pool holds nothing are dropped (priced when a trade needs them).
pub fn refresh_greeks(
    board: &mut Board,
    ctx: &BoardCtx,
    now: u64,
    params: &Params,
) -> Result<(Quote, Vec<(Price, ScenarioAnchor)>), MathError> {
    let spot = Price::from_f64(ctx.spot, Rounding::Up)?;
    board.cache.refreshed_t = now;
    board.cache.refreshed_spot = spot;
    let scenario_count = crate::pool_risk::scenario_count(params);
    let mut lock_change = Quote::ZERO;
    let mut due = Vec::new();
    let base = base_offset(board, now, params);
    let expiry_t = board.expiry_t;
    for s in board.strikes.values_mut() {
        let vol = refresh_vol(base, s, ctx, now, params);
        s.greeks = cached_greeks(ctx, s.strike, vol)?;
        if scenarios_due(s, scenario_count, spot, vol, now, expiry_t, params) {
            if s.pool_holds_nothing() {
                s.set_scenario_values(Default::default(), ScenarioAnchor::default());
            } else {
                let anchor = ScenarioAnchor {
                    t: now,
                    spot,
                    vol: s.greeks.mark_vol,
                };
                due.push((s.strike, anchor));
            }
        }
        let lock = pool_lock(s, spot)?;
        lock_change = lock_change.checked_add(lock.checked_sub(s.pool_locked)?)?;
        s.pool_locked = lock;
    }
    let fresh = recompute(board)?;
    board.cache = fresh;
    Ok((lock_change, due))
}

/// Whether a board's cache is stale at `now` given the current spot.
pub fn is_stale(cache: &BoardCache, now: u64, spot: Option<Price>, params: &Params) -> bool {
    if cache.refreshed_t == 0
        || now.saturating_sub(cache.refreshed_t) > params.greek_cache_max_age_s
    {
        return true;
    }
    match spot {
        None => true,
        Some(s) => {
            let r = cache.refreshed_spot.to_f64();
            r <= 0.0 || (s.to_f64() / r - 1.0).abs() > params.greek_cache_max_spot_move.to_f64()
        }
    }
}

/// Trading vol for a strike at the board's current inventory.
pub fn current_trading_vol(board: &Board, s: &Strike, ctx: &BoardCtx) -> f64 {
    trading_vol(ctx.oracle_vol(s.strike), board.base_iv_offset, s.skew_ratio)
}
