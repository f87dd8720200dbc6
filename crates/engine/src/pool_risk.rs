//! Pool risk limits: the pool itself is margined (DESIGN.md §5.7).
//!
//! The pool's book — options it holds or wrote, its side of each perp (−skew), and (with the
//! hedging issue) its hedge — is stressed on the same scenario grid as trader portfolios
//! ([`crate::margin`]): spot −20 % … +20 % in 5 % steps × vol up/unchanged/down, and the tail
//! points at a damped weight. Per-contract option values under each scenario are kept per
//! strike as a risk array (as clearing houses publish SPAN arrays), so a trade's check costs
//! only `positions × scenarios` multiply-adds:
//!
//! ```text
//! loss_u(s)        = −Σ positions × (value in scenario s − value unshocked)
//!                    − (−skew + hedge) × spot × shock_s
//! pool stress loss = Σ_underlyings max(max over the grid of loss_u, tail_weight × max over tails)
//! ```
//!
//! Both values of a strike come from the same array, priced at its anchor (spot, mark vol,
//! time). A greek-cache refresh re-prices a strike's array when the spot has moved more than
//! `scenario_refresh_move` (1 %) or its mark vol more than `scenario_refresh_vol` (1 vol point)
//! since the anchor, or the anchor is older than the cache's max age (3 h) or a tenth of the
//! remaining life ([`crate::cache::scenarios_due`]); with both thresholds 0 every refresh
//! re-prices. The re-pricing is most of a refresh's cost: the option shocks move with the
//! anchor, so between re-pricings the grid is centred up to 1 % away from spot (its steps are
//! 5 %). A strike the pool holds nothing at keeps no array (about half the strikes of a
//! simulated year): the trade or liquidation that gives the pool a position there prices it at
//! the board's last refresh ([`anchored_values`], the function the eager path uses, so the two
//! agree), and a quote prices it on the fly without storing it.
//!
//! Limits, each a reject for new risk:
//! - stress loss after the trade ≤ `pool_stress_new_risk` (35 %) × NAV, unless the trade lowers
//!   it (`pool_risk_limit`); above `pool_stress_maintenance` (50 %) the metric reports a breach;
//! - utilisation after the trade ≤ `utilisation_cap` (80 %) (`utilisation_cap`);
//! - collateral locked for one expiry ≤ `expiry_exposure_cap` × NAV and for one strike ≤
//!   `strike_exposure_cap` × NAV (`exposure_cap`).

use crate::margin::vol_multiples;
use crate::params::Params;
use crate::pricing_ctx::BoardCtx;
use crate::pricing_ctx::YEAR_S;
use crate::state::{Board, Market, Pool, RiskArray, ScenarioAnchor, State, Strike};
use derivpool_pricing::{BsmGrid, GridSpot, OptionKind};
use derivpool_types::{Fixed, MathError, Price, Quote, Ratio, Rounding};

/// An option position change: (expiry time, strike, kind, Δ contracts for the pool).
pub type OptionChange = (u64, Price, OptionKind, f64);

/// A change in one market: (underlying, option position change, Δ skew in base units).
pub type MarketChange<'a> = (&'a str, Option<OptionChange>, f64);

/// Spot shocks on each side of 0: `⌊scenario_spot_max / scenario_spot_step⌋`.
fn shocks_per_side(p: &Params) -> i64 {
    let max = p.scenario_spot_max.to_f64();
    let step = p.scenario_spot_step.to_f64().max(1e-6);
    (max / step + 1e-9).floor() as i64
}

/// Number of scenarios: `(2n + 1) × 3` grid points and 2 tails.
pub fn scenario_count(p: &Params) -> usize {
    (2 * shocks_per_side(p) as usize + 1) * 3 + 2
}

/// Index of the unshocked scenario (spot shock 0, vol unchanged): the value the scenario
/// values were priced at, against which their P&L is measured.
pub fn base_index(p: &Params) -> usize {
    shocks_per_side(p) as usize * 3 + 1
}

/// The scenarios: (spot shock, vol state 0 = up, 1 = same, 2 = down, is tail).
pub fn scenarios(p: &Params) -> Vec<(f64, u8, bool)> {
    let step = p.scenario_spot_step.to_f64().max(1e-6);
    let n = shocks_per_side(p);
    let mut v = Vec::with_capacity(scenario_count(p));
    for i in -n..=n {
        for vs in 0..3 {
            v.push((i as f64 * step, vs, false));
        }
    }
    v.push((-p.scenario_tail_down.to_f64(), 1, true));
    v.push((p.scenario_tail_up.to_f64(), 1, true));
    v
}

/// Per-contract (call, put) values at a strike in each scenario, quantised up.
///
/// Each scenario's spot `S·(1 + shock)` is taken once (one logarithm) and its call and put are
/// priced together ([`BsmGrid`]: one exponential for both), bit-identical to pricing each
/// contract on its own; an invalid point is worth 0.
pub fn scenario_values(
    ctx: &BoardCtx,
    strike: Price,
    vol: f64,
    p: &Params,
) -> Result<(Vec<Price>, Vec<Price>), MathError> {
    let (up, down) = vol_multiples(ctx.days(), p);
    let sc = scenarios(p);
    let mut calls = Vec::with_capacity(sc.len());
    let mut puts = Vec::with_capacity(sc.len());
    let Ok(grid) = BsmGrid::new(strike.to_f64(), ctx.t_years, ctx.rate, 0.0) else {
        calls.resize(sc.len(), Price::ZERO);
        puts.resize(sc.len(), Price::ZERO);
        return Ok((calls, puts));
    };
    let mut at: Option<(f64, GridSpot)> = None;
    for (shock, vs, _) in sc {
        let point = match at {
            Some((s, point)) if s == shock => point,
            _ => {
                let point = grid.at_spot(ctx.spot * (1.0 + shock));
                at = Some((shock, point));
                point
            }
        };
        let (c, put) = grid.call_put(&point, vol * [up, 1.0, down][vs as usize]);
        calls.push(Price::from_f64(c, Rounding::Up)?);
        puts.push(Price::from_f64(put, Rounding::Up)?);
    }
    Ok((calls, puts))
}

/// A strike's call and put values under every stress scenario.
pub type ScenarioValues = (RiskArray, RiskArray);

/// A strike's call and put values under every stress scenario, and where they were priced.
pub type AnchoredValues = (RiskArray, RiskArray, ScenarioAnchor);

/// The scenario values of `strike` (expiring at `expiry_t`) priced at `anchor`: its spot, its
/// mark vol and the time to expiry from its time.
pub fn values_at(
    strike: Price,
    expiry_t: u64,
    anchor: &ScenarioAnchor,
    p: &Params,
) -> Result<ScenarioValues, MathError> {
    let spot = anchor.spot.to_f64();
    let t_years = expiry_t.saturating_sub(anchor.t) as f64 / YEAR_S;
    let rate = p.rate.to_f64();
    let ctx = BoardCtx {
        spot,
        t_years,
        rate,
        forward: spot * libm::exp(rate * t_years),
        slices: Vec::new(),
    };
    let (calls, puts) = scenario_values(&ctx, strike, anchor.vol.to_f64().max(1e-6), p)?;
    Ok((calls.into(), puts.into()))
}

/// A strike's scenario values priced at its board's last refresh (the refresh time, the
/// refreshed spot and the strike's cached mark vol, all as stored), with that anchor; `None`
/// before the board's first refresh. Eager (at a refresh) and lazy (for a trade) pricing both go
/// through [`values_at`], so they give the same values.
pub fn anchored_values(
    board: &Board,
    s: &Strike,
    p: &Params,
) -> Result<Option<AnchoredValues>, MathError> {
    let t = board.cache.refreshed_t;
    if t == 0 {
        return Ok(None);
    }
    let anchor = ScenarioAnchor {
        t,
        spot: board.cache.refreshed_spot,
        vol: s.greeks.mark_vol,
    };
    let (calls, puts) = values_at(s.strike, board.expiry_t, &anchor, p)?;
    Ok(Some((calls, puts, anchor)))
}

/// Stress-scenario values a tick's refresh found due at a strike the pool holds: which strike,
/// and the anchor to price them at. The tick prices them last ([`write_due`]): nothing else in
/// a tick reads them, so they can be priced ahead on another thread ([`price_due_ahead`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DueValues {
    /// Pool.
    pub pool: String,
    /// Underlying.
    pub underlying: String,
    /// The board's expiry.
    pub expiry_t: u64,
    /// Strike.
    pub strike: Price,
    /// Where the values are priced.
    pub anchor: ScenarioAnchor,
}

/// The scenario values a tick at `now` will find due, priced from the state as the tick starts:
/// every board the tick's refresh can price (fresh spot and vol), every strike the pool holds
/// whose values are due at the mark vol the refresh will give it ([`crate::cache::refresh_vol`],
/// [`crate::cache::scenarios_due`]). Run on the helper while the tick runs; [`write_due`] uses
/// an entry only if the refresh asked for exactly it (same strike, same anchor), so a guess that
/// missed costs time, never a different result.
///
/// The pricing is shared out with `helper` when there is one ([`crate::helper::Helper::map`]).
pub fn price_due_ahead(
    state: &State,
    now: u64,
    helper: Option<&crate::helper::Helper>,
) -> Vec<(DueValues, ScenarioValues)> {
    let mut plan: Vec<(DueValues, &Params)> = Vec::new();
    for (pool_name, pool) in &state.pools {
        for (underlying, market) in &pool.markets {
            let p = &market.params;
            for board in market.boards.values() {
                let Ok(ctx) = BoardCtx::for_board(&state.oracle, p, underlying, board, now) else {
                    continue;
                };
                plan.extend(due_at_refresh(board, &ctx, now, p).into_iter().map(
                    |(strike, anchor)| {
                        let due = DueValues {
                            pool: pool_name.clone(),
                            underlying: underlying.clone(),
                            expiry_t: board.expiry_t,
                            strike,
                            anchor,
                        };
                        (due, p)
                    },
                ));
            }
        }
    }
    let price = |(due, p): &(DueValues, &Params)| {
        values_at(due.strike, due.expiry_t, &due.anchor, p)
            .ok()
            .map(|values| (due.clone(), values))
    };
    crate::helper::map(helper, &plan, 1, &price)
        .into_iter()
        .flatten()
        .collect()
}

/// The strikes of `board` the pool holds whose values a refresh in `ctx` at `now` will find due,
/// with the anchor it will give them (the refresh's spot and the strike's new mark vol, as
/// [`crate::cache::refresh_greeks`] stores them).
fn due_at_refresh(
    board: &Board,
    ctx: &BoardCtx,
    now: u64,
    p: &Params,
) -> Vec<(Price, ScenarioAnchor)> {
    let Ok(spot) = Price::from_f64(ctx.spot, Rounding::Up) else {
        return Vec::new();
    };
    let base = crate::cache::base_offset(board, now, p);
    let count = scenario_count(p);
    let mut due = Vec::new();
    for s in board.strikes.values().filter(|s| !s.pool_holds_nothing()) {
        let vol = crate::cache::refresh_vol(base, s, ctx, now, p);
        if !crate::cache::scenarios_due(s, count, spot, vol, now, board.expiry_t, p) {
            continue;
        }
        if let Ok(vol) = Ratio::from_f64(vol, Rounding::Down) {
            due.push((s.strike, ScenarioAnchor { t: now, spot, vol }));
        }
    }
    due
}

/// Stores the scenario values of every entry of `due` (in order): the one priced `ahead` for
/// exactly that entry if there is one, else priced now.
pub fn write_due(
    state: &mut State,
    due: Vec<DueValues>,
    mut ahead: Vec<(DueValues, ScenarioValues)>,
) -> Result<(), MathError> {
    for d in due {
        let Some(market) = state
            .pools
            .get_mut(&d.pool)
            .and_then(|pool| pool.markets.get_mut(&d.underlying))
        else {
            continue;
        };
        let values = match ahead.iter().position(|(a, _)| *a == d) {
            Some(i) => ahead.swap_remove(i).1,
            None => values_at(d.strike, d.expiry_t, &d.anchor, &market.params)?,
        };
        if let Some(s) = market
            .boards
            .get_mut(&d.expiry_t)
            .and_then(|b| b.strikes.get_mut(&d.strike))
        {
            s.set_scenario_values(values, d.anchor);
        }
    }
    Ok(())
}

/// Prices the scenario values of every strike of `pool` where the pool holds a position but
/// has none (a strike's values are dropped at a refresh while the pool holds nothing there, and
/// priced when a trade or a liquidation gives it a position). Called after every command that
/// can change the pool's option positions.
pub fn price_missing(pool: &mut Pool) -> Result<(), MathError> {
    for m in pool.markets.values_mut() {
        let count = scenario_count(&m.params);
        for b in m.boards.values_mut() {
            let missing: Vec<Price> = b
                .strikes
                .values()
                .filter(|s| s.scenario_call.len() != count && !s.pool_holds_nothing())
                .map(|s| s.strike)
                .collect();
            for k in missing {
                if let Some((calls, puts, anchor)) = anchored_values(b, &b.strikes[&k], &m.params)?
                {
                    let s = b.strikes.get_mut(&k).expect("strike listed");
                    s.set_scenario_values((calls, puts), anchor);
                }
            }
        }
    }
    Ok(())
}

/// Scenario P&L vector of the pool's book in one market, with an optional extra option
/// position `(expiry_t, strike, kind, Δ contracts)` and perp skew change `Δskew` (base units).
pub fn market_pnl(
    market: &Market,
    sc: &[(f64, u8, bool)],
    spot: f64,
    extra: Option<OptionChange>,
    skew_change: f64,
) -> Vec<f64> {
    let mut pnl = vec![0.0; sc.len()];
    let base = base_index(&market.params);
    for (expiry_t, b) in &market.boards {
        for (k, s) in &b.strikes {
            let mut calls = s.pool_calls.to_f64();
            let mut puts = s.pool_puts.to_f64();
            if let Some((e, ek, kind, d)) = extra {
                if e == *expiry_t && ek == *k {
                    match kind {
                        OptionKind::Call => calls += d,
                        OptionKind::Put => puts += d,
                    }
                }
            }
            if calls == 0.0 && puts == 0.0 {
                continue;
            }
            // Values are kept for every strike the pool holds; priced here only if a position
            // arrived without them (or for an extra position at an unheld strike).
            let lazy = if s.scenario_call.len() == sc.len() {
                None
            } else {
                anchored_values(b, s, &market.params).ok().flatten()
            };
            let (cv, pv) = match &lazy {
                Some((c, p, _)) => (c, p),
                None => (&s.scenario_call, &s.scenario_put),
            };
            if cv.len() != sc.len() {
                continue;
            }
            let (cv, pv) = (cv.floats(), pv.floats());
            let (cm, pm) = (cv[base], pv[base]);
            for (x, (c, p)) in pnl.iter_mut().zip(cv.iter().zip(pv)) {
                *x += calls * (c - cm) + puts * (p - pm);
            }
        }
    }
    // The pool holds −skew of the perp.
    let pool_perp = -(market.perp.skew().to_f64() + skew_change);
    for (i, (shock, _, _)) in sc.iter().enumerate() {
        pnl[i] += pool_perp * spot * shock;
    }
    pnl
}

/// Worst loss of a scenario P&L vector (grid and damped tails), ≥ 0.
pub fn worst_loss(pnl: &[f64], sc: &[(f64, u8, bool)], p: &Params) -> f64 {
    let (mut grid, mut tail) = (0.0f64, 0.0f64);
    for (x, (_, _, is_tail)) in pnl.iter().zip(sc) {
        if *is_tail {
            tail = tail.max(-x);
        } else {
            grid = grid.max(-x);
        }
    }
    grid.max(p.scenario_tail_weight.to_f64() * tail)
}

/// The pool's stress loss, with an optional change in one market (its underlying, an option
/// position change, a skew change).
pub fn stress_loss(state: &State, pool: &Pool, change: Option<MarketChange<'_>>) -> f64 {
    let mut total = 0.0;
    for (u, m) in &pool.markets {
        let Some(spot) = crate::nav::mark_price(state, u) else {
            continue;
        };
        let (extra, skew) = match change {
            Some((cu, extra, skew)) if cu == u => (extra, skew),
            _ => (None, 0.0),
        };
        // The hedge is a linear position like the pool's perp side (−skew): pass it as −Δskew.
        let hedge = crate::hedger::position_of(pool, u).to_f64();
        let sc = scenarios(&m.params);
        total += worst_loss(
            &market_pnl(m, &sc, spot.to_f64(), extra, skew - hedge),
            &sc,
            &m.params,
        );
    }
    total
}

/// Rejects new risk that would push the pool's stress loss over its limit (unless the change
/// lowers it). One pass over the book: the change is added to the affected market's vector.
pub fn check_stress(
    state: &State,
    pool: &Pool,
    underlying: &str,
    extra: Option<OptionChange>,
    skew_change: f64,
    nav_after: Quote,
) -> Result<(), crate::reject::Reject> {
    let (mut before, mut after) = (0.0, 0.0);
    for (u, m) in &pool.markets {
        let Some(spot) = crate::nav::mark_price(state, u) else {
            continue;
        };
        let spot = spot.to_f64();
        let sc = scenarios(&m.params);
        let pnl = market_pnl(
            m,
            &sc,
            spot,
            None,
            -crate::hedger::position_of(pool, u).to_f64(),
        );
        let loss = worst_loss(&pnl, &sc, &m.params);
        before += loss;
        if u != underlying {
            after += loss;
            continue;
        }
        let mut changed = pnl;
        if let Some((e, k, kind, d)) = extra {
            if let Some(s) = m.boards.get(&e).and_then(|b| b.strikes.get(&k)) {
                let b = &m.boards[&e];
                let lazy = if s.scenario_call.len() == sc.len() {
                    None
                } else {
                    anchored_values(b, s, &m.params).ok().flatten()
                };
                let (calls, puts) = match &lazy {
                    Some((c, p, _)) => (c, p),
                    None => (&s.scenario_call, &s.scenario_put),
                };
                let values = match kind {
                    OptionKind::Call => calls,
                    OptionKind::Put => puts,
                };
                if values.len() == sc.len() {
                    let values = values.floats();
                    let mark = values[base_index(&m.params)];
                    for (x, v) in changed.iter_mut().zip(values) {
                        *x += d * (v - mark);
                    }
                }
            }
        }
        for (x, (shock, _, _)) in changed.iter_mut().zip(&sc) {
            *x -= skew_change * spot * shock;
        }
        after += worst_loss(&changed, &sc, &m.params);
    }
    let limit = nav_after.to_f64() * pool.params.pool_stress_new_risk.to_f64();
    if after > limit && after > before {
        return Err(crate::reject!(
            PoolRiskLimit,
            "pool {}: its worst scenario loss would be {after:.2}, above {} × NAV = {limit:.2}",
            pool.name,
            pool.params.pool_stress_new_risk
        ));
    }
    Ok(())
}
