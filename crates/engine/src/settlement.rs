//! Settlement at expiry (Lyra ShortCollateral/OptionMarket settlement, DESIGN.md §5.11, §5.9).
//!
//! The settlement price of a board is the last oracle median observed **at or before** expiry,
//! no older than `settlement_price_max_age_s` (1 h) at expiry. Every oracle update before expiry
//! records the median as the board's candidate; at the first `tick` at or after expiry:
//!
//! - with a good candidate the board settles: each trader long receives
//!   `⌊size × payoff⌋` from the pool, each trader short pays `⌈|size| × payoff⌉` out of its locked
//!   collateral, then out of its free balance (any part neither can cover is a shortfall the pool absorbs and counts
//!   in `bad_debt` and goes through the loss waterfall) and gets the rest of its collateral back; the pool's locks are released;
//!   payoff = max(S − K, 0) for calls and max(K − S, 0) for puts. Payouts are credited at once
//!   (the strongest form of "reserved"). The settlement breaker then holds LP flows for
//!   `breaker_settlement_s` (6 h), and the settled board is removed.
//! - without one the board waits (a `settlement_waiting` event); the margin issue adds a bounded
//!   governance override.

use crate::event::Event;
use crate::instrument::option_name;
use crate::state::State;
use derivpool_pricing::OptionKind;
use derivpool_types::{mul, Base, Fixed, MathError, Price, Quote, Rounding};

/// Records the current median as the settlement candidate of every unexpired board of `asset`.
pub fn record_candidates(state: &mut State, asset: &str, now: u64) {
    let medians: Vec<(String, String, Option<Price>)> = state
        .pools
        .iter()
        .filter_map(|(name, pool)| {
            pool.markets.get(asset).map(|m| {
                (
                    name.clone(),
                    asset.to_string(),
                    state.oracle.spot(asset, now, m.params.spot_heartbeat_s),
                )
            })
        })
        .collect();
    for (pool_name, asset, median) in medians {
        let Some(median) = median else { continue };
        let market = state
            .pools
            .get_mut(&pool_name)
            .and_then(|p| p.markets.get_mut(&asset))
            .expect("market exists");
        for board in market.boards.values_mut() {
            if now <= board.expiry_t {
                board.settle_candidate = Some((now, median));
            }
        }
    }
}

fn payoff(kind: OptionKind, strike: Price, spot: Price) -> Result<Price, MathError> {
    let diff = match kind {
        OptionKind::Call => spot.checked_sub(strike)?,
        OptionKind::Put => strike.checked_sub(spot)?,
    };
    Ok(diff.max(Price::ZERO))
}

/// Settles every board of a pool that has expired and has a settlement price.
pub fn settle_due(state: &mut State, pool_name: &str, now: u64) -> Result<Vec<Event>, MathError> {
    let mut events = Vec::new();
    let due: Vec<(String, u64)> = state.pools[pool_name]
        .markets
        .iter()
        .flat_map(|(u, m)| {
            m.boards
                .iter()
                .filter(|(t, _)| **t <= now)
                .map(move |(t, _)| (u.clone(), *t))
        })
        .collect();
    for (underlying, expiry_t) in due {
        let pool = &state.pools[pool_name];
        let market = &pool.markets[&underlying];
        let board = &market.boards[&expiry_t];
        let max_age = market.params.settlement_price_max_age_s;
        let price = match board.settle_candidate {
            Some((t, p)) if t <= expiry_t && expiry_t - t <= max_age => (t, p),
            _ => {
                events.push(Event::SettlementWaiting {
                    pool: pool_name.to_string(),
                    underlying: underlying.clone(),
                    expiry: board.expiry.clone(),
                });
                continue;
            }
        };
        events.extend(settle_board(
            state,
            pool_name,
            &underlying,
            expiry_t,
            price,
            now,
        )?);
    }
    Ok(events)
}

fn settle_board(
    state: &mut State,
    pool_name: &str,
    underlying: &str,
    expiry_t: u64,
    (price_t, price): (u64, Price),
    now: u64,
) -> Result<Vec<Event>, MathError> {
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    let quote_asset = pool.quote_asset.clone();
    let breaker_s = pool.params.breaker_settlement_s;
    let market = pool.markets.get_mut(underlying).expect("market exists");
    let board = market.boards.remove(&expiry_t).expect("board exists");
    let mut series: Vec<(String, OptionKind, Price)> = Vec::new();
    for k in board.strikes.keys() {
        for kind in [OptionKind::Call, OptionKind::Put] {
            series.push((option_name(underlying, &board.expiry, *k, kind), kind, *k));
        }
    }
    let released: Quote = board
        .strikes
        .values()
        .map(|s| s.pool_locked)
        .try_fold(Quote::ZERO, |acc, l| acc.checked_add(l))?;
    pool.locked = pool.locked.checked_sub(released)?;
    let mut events = vec![Event::BoardSettled {
        pool: pool_name.to_string(),
        underlying: underlying.to_string(),
        expiry: board.expiry.clone(),
        price,
        price_t,
    }];
    // First pass: what shorts pay in and what longs are owed.
    let mut settled: Vec<(String, String, crate::state::Position, Price)> = Vec::new();
    // Only the accounts holding one of the series are touched (the account map shares
    // unchanged accounts between state copies).
    let holders: Vec<String> = state
        .accounts
        .iter()
        .filter(|(_, a)| {
            a.positions
                .get(pool_name)
                .is_some_and(|p| series.iter().any(|(name, _, _)| p.contains_key(name)))
        })
        .map(|(n, _)| n.clone())
        .collect();
    for account_name in holders {
        let account = state
            .accounts
            .get_mut(&account_name)
            .expect("account exists");
        let Some(positions) = account.positions.get_mut(pool_name) else {
            continue;
        };
        for (name, kind, strike) in &series {
            if let Some(pos) = positions.remove(name) {
                settled.push((
                    account_name.clone(),
                    name.clone(),
                    pos,
                    payoff(*kind, *strike, price)?,
                ));
            }
        }
        if positions.is_empty() {
            account.positions.remove(pool_name);
        }
    }
    let mut owed_to_longs = Quote::ZERO;
    let mut paid_by_shorts = Quote::ZERO;
    for (_, _, pos, per_unit) in &settled {
        if pos.size > Base::ZERO {
            owed_to_longs = owed_to_longs.checked_add(mul(pos.size, *per_unit, Rounding::Down)?)?;
        } else {
            // Collateral first; balances are added below, once per account, only for the bound.
            let owed: Quote = mul(pos.size.checked_neg()?, *per_unit, Rounding::Up)?;
            paid_by_shorts = paid_by_shorts.checked_add(owed.min(pos.collateral))?;
        }
    }
    // Longs are paid in full when the pool can; otherwise pro rata (rounded down) from what it
    // has, and the unpaid part is reported as each position's shortfall.
    let available = state.pools[pool_name].cash.checked_add(paid_by_shorts)?;
    let haircut = owed_to_longs > available;
    let mut pool_cash_change = Quote::ZERO;
    let mut shortfall_total = Quote::ZERO;
    for (account_name, name, pos, per_unit) in settled {
        let account = state
            .accounts
            .get_mut(&account_name)
            .expect("account exists");
        let (credit, payout, released, shortfall) = if pos.size > Base::ZERO {
            let due: Quote = mul(pos.size, per_unit, Rounding::Down)?;
            let pay = if haircut {
                Quote::from_raw(derivpool_types::mul_div(
                    due.raw(),
                    available.raw(),
                    owed_to_longs.raw(),
                    Rounding::Down,
                )?)
            } else {
                due
            };
            pool_cash_change = pool_cash_change.checked_sub(pay)?;
            (pay, pay, Quote::ZERO, due.checked_sub(pay)?)
        } else {
            // A short pays out of its locked collateral (not in the balance) first, then out of
            // its free balance (portfolio accounts lock nothing); the rest of the collateral
            // comes back. Only what neither covers is the pool's loss.
            let owed: Quote = mul(pos.size.checked_neg()?, per_unit, Rounding::Up)?;
            let from_collateral = owed.min(pos.collateral);
            let balance = account
                .balances
                .get(&quote_asset)
                .copied()
                .unwrap_or(Quote::ZERO);
            let from_balance = owed
                .checked_sub(from_collateral)?
                .min(balance.max(Quote::ZERO));
            let paid = from_collateral.checked_add(from_balance)?;
            pool_cash_change = pool_cash_change.checked_add(paid)?;
            let rest = pos.collateral.checked_sub(from_collateral)?;
            let short = owed.checked_sub(paid)?;
            shortfall_total = shortfall_total.checked_add(short)?;
            (
                rest.checked_sub(from_balance)?,
                paid.checked_neg()?,
                rest,
                short,
            )
        };
        let bal = account
            .balances
            .entry(quote_asset.clone())
            .or_insert(Quote::ZERO);
        *bal = bal.checked_add(credit)?;
        events.push(Event::PositionSettled {
            pool: pool_name.to_string(),
            account: account_name,
            instrument: name,
            size: pos.size,
            payout,
            collateral_released: released,
            shortfall,
        });
    }
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    pool.cash = pool.cash.checked_add(pool_cash_change)?;
    let until = now.saturating_add(breaker_s);
    pool.breakers.settlement_until = pool.breakers.settlement_until.max(until);
    events.push(Event::BreakerTripped {
        pool: pool_name.to_string(),
        breaker: "settlement".into(),
        until,
    });
    events.extend(crate::waterfall::absorb(state, pool_name, shortfall_total)?);
    Ok(events)
}

/// The bounded settlement override: a board that expired without a settlement price may be
/// given one `settlement_override_delay_s` after expiry, within `settlement_override_band` of the
/// last median recorded at or before expiry.
pub fn override_price(
    state: &mut State,
    pool_name: &str,
    underlying: &str,
    expiry: &str,
    price: Price,
    now: u64,
) -> Result<Vec<Event>, crate::reject::Reject> {
    let expiry_t = crate::instrument::expiry_unix(expiry)
        .map_err(|e| crate::reject::Reject::new(crate::reject::RejectCode::InvalidExpiry, e))?;
    let pool = state
        .pools
        .get(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    let market = pool.markets.get(underlying).ok_or_else(|| {
        crate::reject!(
            UnknownUnderlying,
            "{underlying} is not listed in pool {pool_name}"
        )
    })?;
    let board = market.boards.get(&expiry_t).ok_or_else(|| {
        crate::reject!(
            UnknownInstrument,
            "no {underlying} board for {expiry} in pool {pool_name}"
        )
    })?;
    let p = &market.params;
    let waiting = match board.settle_candidate {
        Some((t, _)) => expiry_t - t.min(expiry_t) > p.settlement_price_max_age_s,
        None => true,
    };
    if now < expiry_t.saturating_add(p.settlement_override_delay_s) || !waiting {
        return Err(crate::reject!(
            OverrideNotAllowed,
            "{underlying} {expiry}: an override needs an expired board without a settlement price, \
             {} s after expiry",
            p.settlement_override_delay_s
        ));
    }
    let reference = state
        .oracle
        .medians
        .get(underlying)
        .and_then(|h| h.iter().rev().find(|(t, _)| *t <= expiry_t).map(|x| x.1))
        .or(board.settle_candidate.map(|x| x.1))
        .ok_or_else(|| {
            crate::reject!(
                OverrideNotAllowed,
                "{underlying} has no median before expiry to bound an override"
            )
        })?;
    let off = (price.to_f64() / reference.to_f64() - 1.0).abs();
    if price <= Price::ZERO || off > p.settlement_override_band.to_f64() {
        return Err(crate::reject!(
            OverrideNotAllowed,
            "{underlying} {expiry}: override {price} is {:.2} % from the last median before expiry \
             {reference} (band {} %)",
            off * 100.0,
            p.settlement_override_band.to_f64() * 100.0
        ));
    }
    let mut events = vec![Event::SettlementOverridden {
        pool: pool_name.to_string(),
        underlying: underlying.to_string(),
        expiry: expiry.to_string(),
        price,
    }];
    events.extend(settle_board(
        state,
        pool_name,
        underlying,
        expiry_t,
        (now, price),
        now,
    )?);
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payoffs() {
        let k = Price::from_int(100);
        assert_eq!(
            payoff(OptionKind::Call, k, Price::from_int(130)).unwrap(),
            Price::from_int(30)
        );
        assert_eq!(
            payoff(OptionKind::Call, k, Price::from_int(70)).unwrap(),
            Price::ZERO
        );
        assert_eq!(
            payoff(OptionKind::Put, k, Price::from_int(70)).unwrap(),
            Price::from_int(30)
        );
        assert_eq!(
            payoff(OptionKind::Put, k, Price::from_int(130)).unwrap(),
            Price::ZERO
        );
    }
}
