//! Auto-deleveraging (DESIGN.md §5.8; GMX v2 ADL, Drift): when traders' unrealised perp profit
//! in a pool exceeds `adl_trigger` (45 %) of its NAV, the most profitable and leveraged positions
//! are reduced at the oracle mark until the profit is back under `adl_target` (40 %).
//!
//! Ranking: profit × leverage, leverage = notional / max(equity, 1) with equity the account's
//! maintenance collateral plus portfolio value. A position is reduced by the fraction that removes
//! just the excess profit (or closed); its profit on that part is realised and paid by the pool.
//! Runs on `tick`, and never for an underlying whose oracle fails the trade guard rails
//! ([`crate::guards::check_trade`]): profit is not realised at a price the engine distrusts.

use crate::event::Event;
use crate::liquidation::{oi, scale, settle_all_owed};
use crate::margin::{account_health, PriceBasis};
use crate::nav;
use crate::perp;
use crate::state::State;
use derivpool_types::{mul, mul_div, Base, Fixed, MathError, Quote, Rounding, SCALE};

/// Reduces positions while traders' unrealised perp profit exceeds the trigger.
pub fn deleverage(state: &mut State, pool_name: &str) -> Result<Vec<Event>, MathError> {
    let mut events = Vec::new();
    let pool = &state.pools[pool_name];
    let nav_v = nav::nav(state, pool)?;
    if nav_v <= Quote::ZERO {
        return Ok(events);
    }
    let (trigger, target) = (pool.params.adl_trigger, pool.params.adl_target);
    // First the profits (cheap); the ranking needs each account's health, so it is computed
    // only when the total is over the trigger (rarely: most ticks stop here).
    // (account, instrument, position value, profit)
    let mut profitable: Vec<(&String, &String, Quote, Quote)> = Vec::new();
    let mut total = Quote::ZERO;
    // Per underlying of the pool (few): its perp's name, and its market and mark price when
    // profit may be realised there, i.e. never at a price the guard rails distrust (the Mango
    // exploit of 2022 was paid out at a pumped oracle): not while the breaker holds or the
    // median is far from its TWAP. Sorted by the perp's name, so that looking each up in an
    // account's positions visits them in the order a walk over the positions would.
    let mut perps: Vec<(
        String,
        Option<(&crate::state::Market, derivpool_types::Price)>,
    )> = pool
        .markets
        .iter()
        .map(|(u, m)| {
            let tradable = nav::mark_price(state, u)
                .filter(|_| crate::guards::check_trade(state, u, &m.params, state.t).is_ok())
                .map(|px| (m, px));
            (crate::instrument::perp_name(u), tradable)
        })
        .collect();
    perps.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, acc) in &state.accounts {
        let Some(ps) = acc.positions.get(pool_name) else {
            continue;
        };
        for (perp_name, tradable) in &perps {
            let Some((instrument, pos)) = ps.get_key_value(perp_name.as_str()) else {
                continue;
            };
            let Some((m, px)) = *tradable else {
                continue;
            };
            let value: Quote = mul(pos.size, px, Rounding::Down)?;
            let profit = value
                .checked_sub(pos.entry_value)?
                .checked_sub(perp::owed(&m.perp, pos)?)?;
            if profit <= Quote::ZERO {
                continue;
            }
            total = total.checked_add(profit)?;
            profitable.push((name, instrument, value, profit));
        }
    }
    if total <= nav_v.mul_ratio(trigger, Rounding::Down)? {
        return Ok(events);
    }
    let target = nav_v.mul_ratio(target, Rounding::Down)?;
    // (score, account, instrument, profit)
    let mut candidates: Vec<(f64, String, String, Quote)> = Vec::with_capacity(profitable.len());
    for (name, instrument, value, profit) in profitable {
        let h = account_health(state, name, &pool.quote_asset, PriceBasis::Median)?;
        let equity = h
            .collateral_maintenance
            .checked_add(h.portfolio_value)?
            .to_f64()
            .max(1.0);
        let leverage = value.to_f64().abs() / equity;
        candidates.push((
            profit.to_f64() * leverage,
            name.clone(),
            instrument.clone(),
            profit,
        ));
    }
    candidates.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.cmp(&b.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    let quote_asset = pool.quote_asset.clone();
    for (_, account, instrument, profit) in candidates {
        if total <= target {
            break;
        }
        let excess = total.checked_sub(target)?;
        // Fraction of the position whose profit covers the excess.
        let f = if profit <= excess {
            SCALE
        } else {
            mul_div(excess.raw(), SCALE, profit.raw(), Rounding::Up)?.min(SCALE)
        };
        for (pn, shortfall) in settle_all_owed(state, &account, &quote_asset)? {
            events.extend(crate::waterfall::absorb(state, &pn, shortfall)?);
        }
        let underlying = instrument.trim_end_matches("-PERP").to_string();
        let Some(px) = nav::mark_price(state, &underlying) else {
            continue;
        };
        let pool = state.pools.get_mut(pool_name).expect("pool exists");
        let m = pool.markets.get_mut(&underlying).expect("market");
        let acc = state.accounts.get_mut(&account).expect("account");
        let pos = acc
            .positions
            .get_mut(pool_name)
            .and_then(|ps| ps.get_mut(&instrument))
            .expect("candidate position");
        perp::add_terms(&mut m.perp, perp::terms(pos)?, -1)?;
        let (l0, s0) = oi(pos.size);
        let cut = Base::from_raw(scale(pos.size.raw(), f)?);
        let cut_entry = Quote::from_raw(scale(pos.entry_value.raw(), f)?);
        let value: Quote = mul(cut, px, Rounding::Down)?;
        let realised = value.checked_sub(cut_entry)?;
        pos.size = pos.size.checked_sub(cut)?;
        pos.entry_value = pos.entry_value.checked_sub(cut_entry)?;
        m.perp.entry_value_sum = m.perp.entry_value_sum.checked_sub(cut_entry)?;
        let (l1, s1) = oi(pos.size);
        m.perp.long_oi = m.perp.long_oi.checked_sub(l0)?.checked_add(l1)?;
        m.perp.short_oi = m.perp.short_oi.checked_sub(s0)?.checked_add(s1)?;
        perp::add_terms(&mut m.perp, perp::terms(pos)?, 1)?;
        let paid = realised.max(Quote::ZERO).min(pool.cash.max(Quote::ZERO));
        pool.cash = pool.cash.checked_sub(paid)?;
        let bal = acc
            .balances
            .entry(quote_asset.clone())
            .or_insert(Quote::ZERO);
        *bal = bal.checked_add(paid)?;
        if pos.size.is_zero() {
            let ps = acc.positions.get_mut(pool_name).expect("positions");
            ps.remove(&instrument);
            if ps.is_empty() {
                acc.positions.remove(pool_name);
            }
        }
        total = total.checked_sub(realised.max(Quote::ZERO))?;
        events.push(Event::AutoDeleveraged {
            pool: pool_name.to_string(),
            account,
            instrument,
            size: cut,
            realised_pnl: paid,
        });
    }
    Ok(events)
}
