//! Perpetual futures against the pool (Synthetix perps v2 fill price and velocity funding, GMX v2
//! kinked borrow fee; DESIGN.md §5.3).
//!
//! **Fill price**: `oracle × (1 + (skew_before + skew_after) / (2 × skew_scale))`, skew = long −
//! short open interest in base units. Opening and closing the same size at once fills both legs
//! at the same price, so a round trip pays the taker fee (`perp_fee_rate` × notional) and the
//! rounding, and never profits. Fill prices round up for buys and down for sells.
//!
//! **Funding** (velocity): the daily rate drifts by `max_funding_velocity × clamp(skew /
//! skew_scale, −1, 1)` per day, capped at ±`max_funding_rate`; the cumulative index per unit
//! grows by the average rate over the interval × days × price. A position owes
//! `size × (index − index at entry)` (longs pay when positive); the pool, holding −skew, is the
//! other side, so funding paid equals funding received.
//!
//! **Borrow fee** to the pool on each position's entry notional at a kinked rate of perp
//! utilisation u = reserved / pool value (GMX): `base × u` below the kink (optimal 75 %), rising
//! linearly to `borrow_rate_max` at u = 1. Owed = |entry value| × (index − index at entry).
//!
//! What a position owes is settled (paid to or by the pool) whenever it trades; the NAV counts
//! the unpaid part. Both are rounded against the trader.
//!
//! **Caps**: each side's open-interest notional ≤ `perp_open_interest_cap` × NAV; the pool's
//! reserved notional |skew| × price ≤ `reserve_factor` × NAV (checked when |skew| grows).
//!
//! **Margin** per position: initial
//! `|size| × price × (perp_initial_margin + perp_margin_size_factor × |size| / skew_scale)`,
//! maintenance the same with `perp_maintenance_margin` ([`margins`]); the account's health
//! ([`crate::margin`]) sums them (isolated accounts) or replaces them by the scenario grid
//! (portfolio accounts). A risk-increasing trade must leave initial health ≥ 0. A loss larger
//! than the balance is bad debt for the loss waterfall ([`crate::waterfall`]).

use crate::command::{Side, TradeRequest};
use crate::event::Event;
use crate::nav;
use crate::params::Params;
use crate::reject::Reject;
use crate::state::{Perp, Position, State};
use derivpool_types::{
    div, mul, mul_div, Base, Fixed, MathError, Price, Quote, Ratio, Rounding, SCALE,
};

/// Seconds per day.
const DAY_S: i128 = 86_400;
/// Seconds per ACT/365 year.
const YEAR_S: i128 = 365 * 86_400;

/// Borrow rate per year at perp utilisation `u` (GMX kinked curve).
pub fn borrow_rate(u: Ratio, p: &Params) -> Result<Ratio, MathError> {
    let kink = p.borrow_optimal_utilisation;
    let u = u.max(Ratio::ZERO).min(Ratio::ONE);
    let at_kink = kink.mul_ratio(p.borrow_rate_base, Rounding::Up)?;
    if u <= kink {
        return u.mul_ratio(p.borrow_rate_base, Rounding::Up);
    }
    let span = Ratio::ONE.checked_sub(kink)?;
    if span.is_zero() {
        return Ok(p.borrow_rate_max);
    }
    let over: Ratio = div(u.checked_sub(kink)?, span, Rounding::Up)?;
    let rise = p
        .borrow_rate_max
        .checked_sub(at_kink)?
        .mul_ratio(over, Rounding::Up)?;
    at_kink.checked_add(rise)
}

/// Moves funding and borrow indexes to `now` at `price`, with perp utilisation `u`.
pub fn accrue(
    perp: &mut Perp,
    p: &Params,
    price: Price,
    u: Ratio,
    now: u64,
) -> Result<(), MathError> {
    if perp.accrued_t == 0 || now <= perp.accrued_t {
        perp.accrued_t = perp.accrued_t.max(now);
        perp.borrow_rate = borrow_rate(u, p)?;
        return Ok(());
    }
    let elapsed = i128::from(now - perp.accrued_t);
    let days = Ratio::from_raw(mul_div(elapsed, SCALE, DAY_S, Rounding::Down)?);
    let skew_frac: Ratio = div(perp.skew(), p.skew_scale, Rounding::Down)?;
    let skew_frac = skew_frac.max(Ratio::from_int(-1)).min(Ratio::ONE);
    let velocity = p
        .max_funding_velocity
        .mul_ratio(skew_frac, Rounding::Down)?;
    let cap = p.max_funding_rate;
    let new_rate = perp
        .funding_rate
        .checked_add(velocity.mul_ratio(days, Rounding::Down)?)?
        .max(cap.checked_neg()?)
        .min(cap);
    let avg = Ratio::from_raw(
        perp.funding_rate
            .raw()
            .checked_add(new_rate.raw())
            .ok_or(MathError::Overflow {
                op: "funding",
                location: std::panic::Location::caller(),
            })?
            .div_euclid(2),
    );
    let per_unit: Price = mul(
        mul::<_, _, Ratio>(avg, days, Rounding::Down)?,
        price,
        Rounding::Down,
    )?;
    perp.funding_index = perp.funding_index.checked_add(per_unit)?;
    perp.funding_rate = new_rate;
    let years = Ratio::from_raw(mul_div(elapsed, SCALE, YEAR_S, Rounding::Down)?);
    perp.borrow_index = perp
        .borrow_index
        .checked_add(perp.borrow_rate.mul_ratio(years, Rounding::Up)?)?;
    perp.borrow_rate = borrow_rate(u, p)?;
    perp.accrued_t = now;
    Ok(())
}

/// What a position owes the pool now (funding + borrow; negative: the pool owes it), rounded
/// up (against the trader).
pub fn owed(perp: &Perp, pos: &Position) -> Result<Quote, MathError> {
    let (funding, borrow) = owed_parts(perp, pos)?;
    funding.checked_add(borrow)
}

/// (funding, borrow) a position owes, each rounded up.
pub fn owed_parts(perp: &Perp, pos: &Position) -> Result<(Quote, Quote), MathError> {
    let funding: Quote = mul(
        pos.size,
        perp.funding_index.checked_sub(pos.funding_index)?,
        Rounding::Up,
    )?;
    let borrow: Quote = mul(
        pos.entry_value.checked_abs()?,
        perp.borrow_index.checked_sub(pos.borrow_index)?,
        Rounding::Up,
    )?;
    Ok((funding, borrow))
}

/// A position's terms in the perp aggregates (funding weight, borrow notional, borrow weight).
pub(crate) fn terms(pos: &Position) -> Result<(Quote, Quote, Quote), MathError> {
    let notional = pos.entry_value.checked_abs()?;
    Ok((
        mul(pos.size, pos.funding_index, Rounding::Down)?,
        notional,
        mul(notional, pos.borrow_index, Rounding::Down)?,
    ))
}

pub(crate) fn add_terms(
    perp: &mut Perp,
    t: (Quote, Quote, Quote),
    sign: i8,
) -> Result<(), MathError> {
    if sign > 0 {
        perp.funding_weight_sum = perp.funding_weight_sum.checked_add(t.0)?;
        perp.borrow_notional_sum = perp.borrow_notional_sum.checked_add(t.1)?;
        perp.borrow_weight_sum = perp.borrow_weight_sum.checked_add(t.2)?;
    } else {
        perp.funding_weight_sum = perp.funding_weight_sum.checked_sub(t.0)?;
        perp.borrow_notional_sum = perp.borrow_notional_sum.checked_sub(t.1)?;
        perp.borrow_weight_sum = perp.borrow_weight_sum.checked_sub(t.2)?;
    }
    Ok(())
}

/// Margin requirement fraction for a position of `size`.
fn margin_fraction(base: Ratio, size: Base, p: &Params) -> Result<Ratio, MathError> {
    let extra: Ratio = div(size.checked_abs()?, p.skew_scale, Rounding::Up)?;
    base.checked_add(extra.mul_ratio(p.perp_margin_size_factor, Rounding::Up)?)
}

/// Initial and maintenance margin of a position at `price`.
pub fn margins(size: Base, price: Price, p: &Params) -> Result<(Quote, Quote), MathError> {
    let notional: Quote = mul(size.checked_abs()?, price, Rounding::Up)?;
    Ok((
        notional.mul_ratio(
            margin_fraction(p.perp_initial_margin, size, p)?,
            Rounding::Up,
        )?,
        notional.mul_ratio(
            margin_fraction(p.perp_maintenance_margin, size, p)?,
            Rounding::Up,
        )?,
    ))
}

/// Perp utilisation of a pool for the borrow curve: reserved / NAV.
pub fn pool_perp_utilisation(state: &State, pool_name: &str) -> Result<Ratio, MathError> {
    let pool = &state.pools[pool_name];
    let reserved = nav::perp_reserved(state, pool)?;
    let v = nav::nav(state, pool)?;
    if v <= Quote::ZERO {
        return Ok(if reserved.is_zero() {
            Ratio::ZERO
        } else {
            Ratio::ONE
        });
    }
    div(reserved, v, Rounding::Up)
}

/// Accrues every perp of a pool to `now` (no-op for markets without a mark price).
pub fn accrue_pool(state: &mut State, pool_name: &str, now: u64) -> Result<Vec<Event>, MathError> {
    let u = pool_perp_utilisation(state, pool_name)?;
    let prices: Vec<(String, Option<Price>)> = state.pools[pool_name]
        .markets
        .keys()
        .map(|k| (k.clone(), nav::mark_price(state, k)))
        .collect();
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    let mut events = Vec::new();
    for (underlying, price) in prices {
        let Some(price) = price else { continue };
        let m = pool.markets.get_mut(&underlying).expect("market exists");
        let before = (m.perp.funding_index, m.perp.accrued_t);
        accrue(&mut m.perp, &m.params, price, u, now)?;
        if (m.perp.funding_index, m.perp.accrued_t) != before {
            events.push(Event::FundingAccrued {
                pool: pool_name.to_string(),
                instrument: crate::instrument::perp_name(&underlying),
                funding_rate: m.perp.funding_rate,
                funding_index: m.perp.funding_index,
                borrow_rate: m.perp.borrow_rate,
            });
        }
    }
    Ok(events)
}

/// Linear-position accounting of a fill of `delta` (signed) at `price` on a position of size
/// `s0` with entry value `e0`: returns (new size, new entry value, realised P&L). The reduced
/// part releases its share of the entry value (rounded up) against the exit value (rounded
/// down), so rounding is against the position's holder; a flip re-enters the rest at `price`.
/// Used for trader perps and the pool's hedge.
pub fn apply_fill(
    s0: Base,
    e0: Quote,
    delta: Base,
    price: Price,
) -> Result<(Base, Quote, Quote), MathError> {
    let reducing = !s0.is_zero() && (s0.raw() > 0) != (delta.raw() > 0);
    if !reducing {
        return Ok((
            s0.checked_add(delta)?,
            e0.checked_add(mul(delta, price, Rounding::Up)?)?,
            Quote::ZERO,
        ));
    }
    let closed = delta.checked_abs()?.min(s0.checked_abs()?);
    let closed_signed = if delta.raw() > 0 {
        closed
    } else {
        closed.checked_neg()?
    };
    let e_rel = Quote::from_raw(mul_div(
        e0.raw(),
        closed.raw(),
        s0.checked_abs()?.raw(),
        Rounding::Up,
    )?);
    let exit: Quote = mul(closed_signed.checked_neg()?, price, Rounding::Down)?;
    let realised = exit.checked_sub(e_rel)?;
    let rest = delta.checked_sub(closed_signed)?;
    if rest.is_zero() {
        Ok((
            s0.checked_add(closed_signed)?,
            e0.checked_sub(e_rel)?,
            realised,
        ))
    } else {
        Ok((rest, mul(rest, price, Rounding::Up)?, realised))
    }
}

/// Applies a perp trade: accrue, settle what the position owes, fill, check caps and margin.
/// All checks happen on a working copy of the state, so a reject changes nothing.
pub fn trade(
    state: &mut State,
    req: &TradeRequest<'_>,
    underlying: &str,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    let TradeRequest {
        pool: pool_name,
        account,
        side,
        size,
        limit_price,
        ..
    } = *req;
    if size <= Base::ZERO {
        return Err(crate::reject!(
            InvalidAmount,
            "size must be positive, got {size}"
        ));
    }
    let instrument = crate::instrument::perp_name(underlying);
    let pool = state
        .pools
        .get(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    let market = pool.markets.get(underlying).ok_or_else(|| {
        crate::reject!(
            UnknownInstrument,
            "{instrument} is not listed in pool {pool_name}"
        )
    })?;
    let p = market.params.clone();
    nav::check_capital(pool)?;
    let quote_asset = pool.quote_asset.clone();
    let price = state
        .oracle
        .spot(underlying, now, p.spot_heartbeat_s)
        .ok_or_else(|| crate::reject!(StaleOracle, "no fresh oracle price for {underlying}"))?;
    let pos_before = state
        .accounts
        .get(account)
        .and_then(|a| a.positions.get(pool_name))
        .and_then(|m| m.get(&instrument))
        .map(|p| p.size)
        .unwrap_or_default();
    let after = pos_before.checked_add(if side == Side::Buy {
        size
    } else {
        size.checked_neg()?
    })?;
    if after.checked_abs()? > pos_before.checked_abs()?
        || after.raw().signum() * pos_before.raw().signum() < 0
    {
        crate::guards::check_trade(state, underlying, &p, now)?;
    }
    let nav_before = nav::nav(state, pool)?;
    let u = pool_perp_utilisation(state, pool_name)?;

    // Work on copies of the perp, the position and the balance.
    let mut perp = market.perp.clone();
    accrue(&mut perp, &p, price, u, now)?;
    let mut pos = state
        .accounts
        .get(account)
        .and_then(|a| a.positions.get(pool_name))
        .and_then(|m| m.get(&instrument))
        .cloned()
        .unwrap_or_default();
    let mut balance = state
        .accounts
        .get(account)
        .and_then(|a| a.balances.get(&quote_asset))
        .copied()
        .unwrap_or(Quote::ZERO);
    let mut pool_cash_change = Quote::ZERO;
    let mut shortfall = Quote::ZERO;
    add_terms(&mut perp, terms(&pos)?, -1)?;

    // Settle what the position owes.
    let (funding_due, borrow_due) = owed_parts(&perp, &pos)?;
    let due = funding_due.checked_add(borrow_due)?;
    pay(&mut balance, &mut pool_cash_change, &mut shortfall, due)?;
    pos.funding_index = perp.funding_index;
    pos.borrow_index = perp.borrow_index;
    perp.funding_paid_to_pool = perp.funding_paid_to_pool.checked_add(funding_due)?;
    perp.borrow_paid_to_pool = perp.borrow_paid_to_pool.checked_add(borrow_due)?;

    // Fill.
    let delta = if side == Side::Buy {
        size
    } else {
        size.checked_neg()?
    };
    let skew_before = perp.skew();
    let skew_after = skew_before.checked_add(delta)?;
    let premium: Ratio = div(
        skew_before.checked_add(skew_after)?,
        p.skew_scale.checked_add(p.skew_scale)?,
        if side == Side::Buy {
            Rounding::Up
        } else {
            Rounding::Down
        },
    )?;
    let fill: Price = price.mul_ratio(
        Ratio::ONE.checked_add(premium)?,
        if side == Side::Buy {
            Rounding::Up
        } else {
            Rounding::Down
        },
    )?;
    if fill <= Price::ZERO {
        return Err(crate::reject!(
            InvalidAmount,
            "{instrument}: fill price {fill} is not positive"
        ));
    }
    if let Some(limit) = limit_price {
        let crossed = match side {
            Side::Buy => fill > limit,
            Side::Sell => fill < limit,
        };
        if crossed {
            return Err(crate::reject!(
                LimitPriceCrossed,
                "{instrument}: fill price {fill} is worse than limit_price {limit}"
            ));
        }
    }
    let notional: Quote = mul(size, fill, Rounding::Up)?;
    let fee = notional.mul_ratio(p.perp_fee_rate, Rounding::Up)?;
    pay(&mut balance, &mut pool_cash_change, &mut shortfall, fee)?;

    // Position update.
    let s0 = pos.size;
    let e0 = pos.entry_value;
    let (size1, entry1, realised) = apply_fill(s0, e0, delta, fill)?;
    pos.size = size1;
    pos.entry_value = entry1;
    // Realised P&L: a gain is paid by the pool, a loss is paid to it (as far as the balance goes).
    pay(
        &mut balance,
        &mut pool_cash_change,
        &mut shortfall,
        realised.checked_neg()?,
    )?;
    perp.entry_value_sum = perp
        .entry_value_sum
        .checked_sub(e0)?
        .checked_add(pos.entry_value)?;
    let oi = |s: Base| -> (Base, Base) {
        if s.raw() > 0 {
            (s, Base::ZERO)
        } else {
            (Base::ZERO, Base::from_raw(-s.raw()))
        }
    };
    let (l0, sh0) = oi(s0);
    let (l1, sh1) = oi(pos.size);
    perp.long_oi = perp.long_oi.checked_sub(l0)?.checked_add(l1)?;
    perp.short_oi = perp.short_oi.checked_sub(sh0)?.checked_add(sh1)?;
    add_terms(&mut perp, terms(&pos)?, 1)?;
    // The borrow rate follows the utilisation this trade leaves.
    let reserved_after: Quote = mul(perp.skew().checked_abs()?, price, Rounding::Up)?;
    let u_after = if nav_before > Quote::ZERO {
        div(reserved_after, nav_before, Rounding::Up)?
    } else {
        Ratio::ONE
    };
    perp.borrow_rate = borrow_rate(u_after, &p)?;

    // Caps and margin for risk-increasing trades.
    let flipped = !s0.is_zero() && !pos.size.is_zero() && (s0.raw() > 0) != (pos.size.raw() > 0);
    let increasing = flipped || pos.size.checked_abs()? > s0.checked_abs()?;
    if increasing {
        let cap: Quote = nav_before.mul_ratio(p.perp_open_interest_cap, Rounding::Down)?;
        let (side_oi, side_name) = if delta.raw() > 0 {
            (perp.long_oi, "long")
        } else {
            (perp.short_oi, "short")
        };
        let side_notional: Quote = mul(side_oi, price, Rounding::Up)?;
        if side_notional > cap {
            return Err(crate::reject!(
                OpenInterestCap,
                "{instrument}: {side_name} open interest would be {side_notional}, above the cap {cap}"
            ));
        }
        if skew_after.checked_abs()? > skew_before.checked_abs()? {
            let reserved: Quote = mul(skew_after.checked_abs()?, price, Rounding::Up)?;
            let limit = nav_before.mul_ratio(p.reserve_factor, Rounding::Down)?;
            if reserved > limit {
                return Err(crate::reject!(
                    ReserveFactor,
                    "{instrument}: reserved notional would be {reserved}, above {} × NAV = {limit}",
                    p.reserve_factor
                ));
            }
            let pool = &state.pools[pool_name];
            crate::pool_risk::check_stress(
                state,
                pool,
                underlying,
                None,
                delta.to_f64(),
                nav_before,
            )?;
        }
        if !shortfall.is_zero() {
            return Err(crate::reject!(
                InsufficientCollateral,
                "account {account:?} cannot pay {shortfall} it owes on {instrument}"
            ));
        }
    }

    if state.pools[pool_name].cash.checked_add(pool_cash_change)? < Quote::ZERO {
        return Err(crate::reject!(
            InsufficientLiquidity,
            "pool {pool_name} cannot pay {} to account {account:?}",
            pool_cash_change.checked_neg()?
        ));
    }

    // Commit the working copies; then check margin on the committed state and roll back if it
    // fails (the margin function reads the whole account).
    let snapshot_perp = state.pools[pool_name].markets[underlying].perp.clone();
    let snapshot_account = state.accounts.get(account).cloned();
    let snapshot_cash = state.pools[pool_name].cash;
    let snapshot_fees = state.pools[pool_name].fees_earned;
    {
        let pool = state.pools.get_mut(pool_name).expect("pool exists");
        pool.cash = pool.cash.checked_add(pool_cash_change)?;
        pool.fees_earned = pool.fees_earned.checked_add(fee)?;
        pool.markets.get_mut(underlying).expect("market").perp = perp;
        let acc = state.accounts.entry(account.to_string()).or_default();
        acc.balances.insert(quote_asset.clone(), balance);
        let positions = acc.positions.entry(pool_name.to_string()).or_default();
        if pos.size.is_zero() {
            positions.remove(&instrument);
        } else {
            positions.insert(instrument.clone(), pos.clone());
        }
        if positions.is_empty() {
            acc.positions.remove(pool_name);
        }
    }
    if increasing {
        let h = crate::margin::account_health(
            state,
            account,
            &quote_asset,
            crate::margin::PriceBasis::Median,
        )?;
        if h.initial < Quote::ZERO {
            let pool = state.pools.get_mut(pool_name).expect("pool exists");
            pool.cash = snapshot_cash;
            pool.fees_earned = snapshot_fees;
            pool.markets.get_mut(underlying).expect("market").perp = snapshot_perp;
            match snapshot_account {
                Some(a) => {
                    state.accounts.insert(account.to_string(), a);
                }
                None => {
                    state.accounts.remove(account);
                }
            }
            return Err(crate::reject!(
                InsufficientCollateral,
                "account {account:?}: initial health would be {} (collateral {}, portfolio value \
                 {}, initial requirement {})",
                h.initial,
                h.collateral_initial,
                h.portfolio_value,
                h.initial_requirement
            ));
        }
    }
    let mut events = crate::waterfall::absorb(state, pool_name, shortfall)?;
    events.insert(
        0,
        Event::PerpTraded {
            pool: pool_name.to_string(),
            account: account.to_string(),
            instrument,
            side,
            size,
            fill_price: fill,
            fee,
            realised_pnl: realised,
            funding_settled: due,
            position: pos.size,
        },
    );
    Ok(events)
}

/// Moves `amount` from the trader's balance to the pool (negative: from the pool to the
/// trader). What the balance cannot cover is a shortfall the pool absorbs.
pub(crate) fn pay(
    balance: &mut Quote,
    pool_cash_change: &mut Quote,
    shortfall: &mut Quote,
    amount: Quote,
) -> Result<(), MathError> {
    if amount <= Quote::ZERO {
        let gain = amount.checked_neg()?;
        *balance = balance.checked_add(gain)?;
        *pool_cash_change = pool_cash_change.checked_sub(gain)?;
        return Ok(());
    }
    let paid = amount.min(Quote::ZERO.max(*balance));
    *balance = balance.checked_sub(paid)?;
    *pool_cash_change = pool_cash_change.checked_add(paid)?;
    *shortfall = shortfall.checked_add(amount.checked_sub(paid)?)?;
    Ok(())
}
