//! Dynamic delta hedging (Lyra Newport `PoolHedger`/`GMXFuturesPoolHedger`, DESIGN.md §5.10).
//!
//! Per pool and underlying the pool holds a **hedge**: a signed position in base units on an
//! external venue, with its entry value (Σ fill price × size, quote) and the size of the order
//! still pending there. The engine never talks to the venue: on `tick` it emits a
//! `hedge_order` event, a venue adapter outside the engine (`derivpool-agents`' `HedgeLoop`)
//! executes it and brings the result back as `hedge_fill` commands.
//!
//! ```text
//! delta_u   = Σ boards' cached net delta − perp skew          (the pool's delta, options + perps)
//! cap_u     = hedge_cap × NAV / spot                           (base units)
//! target    = clamp(−delta_u, −cap_u, cap_u)
//! gap       = target − (position + pending)
//! band      = hedge_band × |delta_u|                           (default 5 %)
//! threshold = hedge_threshold × NAV / spot                     (base units)
//! order when |gap| > band and |gap| ≥ hedge_order_min and
//!            (now ≥ last order + hedge_delay_s  or  |gap| > threshold)
//! ```
//!
//! **Pending orders and failed fills.** An order's size is added to `pending`; fills reduce it.
//! A fill must have the sign of `pending` and at most its size (`hedge_fill_unmatched`
//! otherwise), so a fill can never be counted twice. If `pending` is still open
//! `hedge_delay_s` after the last order (the venue failed or filled partially), the next tick
//! *replaces* it: the new order asks for `target − position` and names the order it replaces;
//! pending is set to that size, never added to the old one.
//!
//! **Money.** The hedge is an unfunded linear position (a perp on the venue): opening fills move
//! no cash. The fee of every fill is paid from pool cash to the outside world; the P&L of the
//! part a fill *reduces* is realised in cash at the fill price (perp accounting: realised =
//! closed size × fill − its share of the entry value). Cash that leaves the pool for the venue
//! is counted in the quote asset's `external.withdrawn`, cash that comes back in
//! `external.deposited`, so conservation (DESIGN.md §6.1) holds exactly. The unrealised part,
//! `position × mark − entry value` (rounded down), is in NAV ([`hedge_value`]).
//!
//! **Venue capacity.** A trade that increases the pool's |delta_u| is rejected
//! (`hedge_capacity`) when afterwards |delta_u| × spot > `hedge_venue_capacity` × NAV: more
//! delta than the venue can absorb. The trade's delta is taken from the greek cache (the same
//! per-contract deltas the cache aggregates), so the check needs no pricing.
//!
//! `static` pools never hedge (DESIGN.md §5.13): no orders, and fills are rejected by
//! [`crate::generation`].

use crate::command::{Generation, Side, TradeRequest};
use crate::event::Event;
use crate::instrument::{expiry_unix, Instrument};
use crate::nav;
use crate::params::Params;
use crate::reject::Reject;
use crate::state::{Market, Pool, State};
use derivpool_pricing::OptionKind;
use derivpool_types::{div, mul, Base, Fixed, MathError, Price, Quote, Rounding};
use serde::{Deserialize, Serialize};

/// The pool's hedge in one underlying.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hedge {
    /// Signed hedge position on the venue, base units (+ long).
    pub position: Base,
    /// Σ fill price × size of the open position (signed like it), quote.
    pub entry_value: Quote,
    /// Ordered but not yet filled, signed base units.
    pub pending: Base,
    /// Id of the latest order (0: none yet); ids count up per pool and underlying.
    pub order_id: u64,
    /// Time of the latest order (unix seconds).
    pub last_order_t: u64,
    /// P&L realised in cash by reducing fills, quote.
    pub realised_pnl: Quote,
    /// Fees paid to the venue, quote.
    pub fees_paid: Quote,
}

/// True when the pool's generation hedges (every generation but `static`).
pub fn hedges_enabled(pool: &Pool) -> bool {
    pool.generation != Generation::Static
}

/// The pool's net delta in one market from options (greek cache) and perps (it holds −skew),
/// base units; the hedge is not included.
pub fn market_delta(m: &Market) -> Result<Base, MathError> {
    let mut d = Base::ZERO;
    for b in m.boards.values() {
        d = d.checked_add(b.cache.net_delta)?;
    }
    d.checked_sub(m.perp.skew())
}

/// Unrealised value of the pool's hedges at mark: Σ position × mark − entry value (rounded
/// down), quote. A hedge in an asset with no price yet counts zero.
pub fn hedge_value(state: &State, pool: &Pool) -> Result<Quote, MathError> {
    let mut v = Quote::ZERO;
    for (u, h) in &pool.hedges {
        if h.position.is_zero() && h.entry_value.is_zero() {
            continue;
        }
        let Some(price) = nav::mark_price(state, u) else {
            continue;
        };
        let mark: Quote = mul(h.position, price, Rounding::Down)?;
        v = v.checked_add(mark.checked_sub(h.entry_value)?)?;
    }
    Ok(v)
}

/// The pool's hedge position in one underlying, base units (zero without a hedge).
pub fn position_of(pool: &Pool, underlying: &str) -> Base {
    pool.hedges
        .get(underlying)
        .map(|h| h.position)
        .unwrap_or(Base::ZERO)
}

/// Σ hedge positions over underlyings, base units (the `hedge_position` metric).
pub fn total_position(pool: &Pool) -> Result<Base, MathError> {
    pool.hedges
        .values()
        .try_fold(Base::ZERO, |acc, h| acc.checked_add(h.position))
}

/// The hedge gap: Σ over underlyings of target − hedge position (what is still pending counts
/// as not done), base units; zero for a `static` pool (the `hedge_gap` metric, DESIGN.md §5.5).
/// Markets without a price are skipped.
pub fn total_gap(state: &State, pool: &Pool, nav: Quote) -> Result<Base, MathError> {
    if !hedges_enabled(pool) || nav <= Quote::ZERO {
        return Ok(Base::ZERO);
    }
    let mut gap = Base::ZERO;
    for (u, m) in &pool.markets {
        let Some(price) = nav::mark_price(state, u) else {
            continue;
        };
        let position = pool.hedges.get(u).map(|h| h.position).unwrap_or_default();
        let t = target(market_delta(m)?, price, nav, &m.params)?;
        gap = gap.checked_add(t.checked_sub(position)?)?;
    }
    Ok(gap)
}

/// The target hedge −delta clamped to ±`hedge_cap` × NAV / price, base units.
pub fn target(delta: Base, price: Price, nav: Quote, p: &Params) -> Result<Base, MathError> {
    let cap = units_of_nav(nav, p.hedge_cap, price)?;
    Ok(delta.checked_neg()?.max(cap.checked_neg()?).min(cap))
}

/// Base units worth `fraction × nav` at `price`, rounded down.
fn units_of_nav(
    nav: Quote,
    fraction: derivpool_types::Ratio,
    price: Price,
) -> Result<Base, MathError> {
    div(
        nav.mul_ratio(fraction, Rounding::Down)?,
        price,
        Rounding::Down,
    )
}

/// What the hedger wants for one market: the clamped target and the order to send, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Target hedge position, base units.
    pub target: Base,
    /// Order to send now (signed), if any.
    pub order: Option<Base>,
    /// True when the order replaces the pending one instead of adding to it.
    pub replaces: bool,
}

/// The rebalancing rule of the module doc for one market.
pub fn decide(
    h: &Hedge,
    delta: Base,
    price: Price,
    nav: Quote,
    p: &Params,
    now: u64,
) -> Result<Decision, MathError> {
    let target = target(delta, price, nav, p)?;
    let band = delta
        .checked_abs()?
        .mul_ratio(p.hedge_band, Rounding::Down)?;
    let threshold = units_of_nav(nav, p.hedge_threshold, price)?;
    let due = h.order_id == 0 || now >= h.last_order_t.saturating_add(p.hedge_delay_s);
    let big_enough = |g: Base| -> Result<bool, MathError> {
        let a = g.checked_abs()?;
        Ok(a > band && a >= p.hedge_order_min)
    };
    if !h.pending.is_zero() && due {
        // The pending order failed or filled only in part: replace it.
        let size = target.checked_sub(h.position)?;
        let order = if big_enough(size)? { Some(size) } else { None };
        return Ok(Decision {
            target,
            order,
            replaces: true,
        });
    }
    let gap = target.checked_sub(h.position)?.checked_sub(h.pending)?;
    let urgent = gap.checked_abs()? > threshold;
    let order = if big_enough(gap)? && (due || urgent) {
        Some(gap)
    } else {
        None
    };
    Ok(Decision {
        target,
        order,
        replaces: false,
    })
}

/// Time-driven rebalancing of one pool (called from `tick` after the greek caches refresh).
/// Markets without a fresh spot price are skipped.
pub fn on_tick(state: &mut State, pool_name: &str, now: u64) -> Result<Vec<Event>, MathError> {
    let pool = &state.pools[pool_name];
    if !hedges_enabled(pool) {
        return Ok(Vec::new());
    }
    let nav_v = nav::nav(state, pool)?;
    if nav_v <= Quote::ZERO {
        return Ok(Vec::new());
    }
    let mut plans = Vec::new();
    for (u, m) in &pool.markets {
        let Some(price) = state.oracle.spot(u, now, m.params.spot_heartbeat_s) else {
            continue;
        };
        let h = pool.hedges.get(u).cloned().unwrap_or_default();
        let d = decide(&h, market_delta(m)?, price, nav_v, &m.params, now)?;
        if d.order.is_some() || d.replaces {
            plans.push((u.clone(), d));
        }
    }
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    let mut events = Vec::new();
    for (u, d) in plans {
        let h = pool.hedges.entry(u.clone()).or_default();
        let old_id = h.order_id;
        match d.order {
            Some(size) => {
                h.order_id += 1;
                h.last_order_t = now;
                h.pending = if d.replaces {
                    size
                } else {
                    h.pending.checked_add(size)?
                };
                events.push(Event::HedgeOrder {
                    pool: pool_name.to_string(),
                    underlying: u,
                    id: h.order_id,
                    size,
                    target: d.target,
                    position: h.position,
                    replaces: d.replaces.then_some(old_id),
                });
            }
            None => {
                // Replacing with nothing: the hedge is already within its band.
                h.pending = Base::ZERO;
                h.last_order_t = now;
                events.push(Event::HedgeOrderCancelled {
                    pool: pool_name.to_string(),
                    underlying: u,
                    id: old_id,
                });
            }
        }
    }
    Ok(events)
}

/// Applies a `hedge_fill`: an external trade of `size` (signed, + bought) at `price` with `fee`.
#[allow(clippy::too_many_arguments)]
pub fn fill(
    state: &mut State,
    pool_name: &str,
    venue: &str,
    underlying: &str,
    size: Base,
    price: Price,
    fee: Quote,
) -> Result<Vec<Event>, Reject> {
    let pool = state
        .pools
        .get(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    if !pool.markets.contains_key(underlying) {
        return Err(crate::reject!(
            UnknownUnderlying,
            "{underlying} is not listed in pool {pool_name}"
        ));
    }
    if size.is_zero() || price <= Price::ZERO || fee < Quote::ZERO {
        return Err(crate::reject!(
            InvalidAmount,
            "hedge fill needs a non-zero size, a positive price and a fee ≥ 0 (got {size}, {price}, {fee})"
        ));
    }
    let h = pool.hedges.get(underlying).cloned().unwrap_or_default();
    let matches = !h.pending.is_zero()
        && (h.pending.raw() > 0) == (size.raw() > 0)
        && size.checked_abs()? <= h.pending.checked_abs()?;
    if !matches {
        return Err(crate::reject!(
            HedgeFillUnmatched,
            "pool {pool_name} {underlying}: fill of {size} from {venue} does not match the pending \
             hedge order ({})",
            h.pending
        ));
    }
    // Perp accounting of the fill.
    let (s0, e0) = (h.position, h.entry_value);
    let (position, entry_value, realised) = crate::perp::apply_fill(s0, e0, size, price)?;
    let cash_change = realised.checked_sub(fee)?;
    let cash_after = pool.cash.checked_add(cash_change)?;
    if cash_after < Quote::ZERO {
        return Err(crate::reject!(
            InsufficientLiquidity,
            "pool {pool_name} holds {} and cannot pay the hedge loss and fee {}",
            pool.cash,
            cash_change.checked_neg()?
        ));
    }
    let quote_asset = pool.quote_asset.clone();
    let pending = h.pending.checked_sub(size)?;
    // External flows: money in from the venue, money out to it.
    let ext = state.external.entry(quote_asset).or_default();
    let gain = realised.max(Quote::ZERO);
    let paid = fee.checked_add(realised.min(Quote::ZERO).checked_neg()?)?;
    ext.deposited = ext.deposited.checked_add(gain)?;
    ext.withdrawn = ext.withdrawn.checked_add(paid)?;
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    pool.cash = cash_after;
    let h = pool.hedges.entry(underlying.to_string()).or_default();
    h.position = position;
    h.entry_value = entry_value;
    h.pending = pending;
    h.realised_pnl = h.realised_pnl.checked_add(realised)?;
    h.fees_paid = h.fees_paid.checked_add(fee)?;
    Ok(vec![Event::HedgeFilled {
        pool: pool_name.to_string(),
        venue: venue.to_string(),
        underlying: underlying.to_string(),
        size,
        price,
        fee,
        realised_pnl: realised,
        position,
        pending,
    }])
}

/// Rejects a trade that would leave the pool more delta in its underlying than the hedge venue
/// can absorb (module doc). Anything it cannot evaluate (unknown pool, instrument or price) is
/// left to the trade's own checks.
pub fn check_capacity(state: &State, req: &TradeRequest<'_>) -> Result<(), Reject> {
    let Some(pool) = state.pools.get(req.pool) else {
        return Ok(());
    };
    if !hedges_enabled(pool) {
        return Ok(());
    }
    let Ok(parsed) = Instrument::parse(req.instrument) else {
        return Ok(());
    };
    let Some(m) = pool.markets.get(parsed.underlying()) else {
        return Ok(());
    };
    let signed = match req.side {
        Side::Buy => req.size,
        Side::Sell => req.size.checked_neg()?,
    };
    // The pool takes the other side of the trader.
    let change: Base = match &parsed {
        Instrument::Perp { .. } => signed.checked_neg()?,
        Instrument::Option {
            expiry,
            strike,
            kind,
            ..
        } => {
            let Some(s) = expiry_unix(expiry)
                .ok()
                .and_then(|t| m.boards.get(&t))
                .and_then(|b| b.strikes.get(strike))
            else {
                return Ok(());
            };
            let per_contract = match kind {
                OptionKind::Call => s.greeks.call_delta,
                OptionKind::Put => s.greeks.put_delta,
            };
            mul(signed.checked_neg()?, per_contract, Rounding::Down)?
        }
    };
    let before = market_delta(m)?;
    let after = before.checked_add(change)?;
    if after.checked_abs()? <= before.checked_abs()? {
        return Ok(());
    }
    let Some(price) = nav::mark_price(state, &m.underlying) else {
        return Ok(());
    };
    let nav_v = nav::nav(state, pool)?;
    let notional: Quote = mul(after.checked_abs()?, price, Rounding::Up)?;
    let limit = nav_v
        .max(Quote::ZERO)
        .mul_ratio(m.params.hedge_venue_capacity, Rounding::Down)?;
    if notional > limit {
        return Err(crate::reject!(
            HedgeCapacity,
            "pool {}: {} delta would be {after} ({notional} notional), more than the hedge venue \
             can absorb ({} × NAV = {limit})",
            pool.name,
            m.underlying,
            m.params.hedge_venue_capacity
        ));
    }
    Ok(())
}
