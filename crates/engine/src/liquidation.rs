//! Liquidation (Derive's Dutch-auction liquidations, DESIGN.md §5.8).
//!
//! An account is **liquidatable** iff its maintenance health is < 0 both at the oracle median and
//! at the median's TWAP ([`crate::guards`]): one bad print liquidates nobody, a real move is acted
//! on within minutes. `liquidatable_since` starts the auction clock (set by the first `tick` or
//! `liquidate` that sees the account under water; cleared when it recovers). The tick's scan
//! skips the health evaluation of accounts that cannot be under water
//! ([`crate::margin::surely_healthy`]: isolated, with written options covered in full and perps
//! with room to spare) and writes only the accounts whose mark changes. The scan only reads the
//! state the tick starts from, so it can run on a helper thread ([`judge_with`],
//! [`crate::helper`]).
//!
//! **Auction.** The liquidator buys a fraction f of the account — f of every position in the
//! pools of that quote asset, f of every collateral balance and f of locked collateral — for
//! `bid × f × E`, where E = maintenance collateral + portfolio value (the account's equity) and
//! the bid falls linearly from `liquidation_start` (95 %) to `liquidation_end` (70 %) over
//! `liquidation_auction_s` (15 min) since the account became liquidatable. The discount
//! `D = (1 − bid) × f × E` is the penalty: the liquidator keeps 40 % of it and pays 30 % to the
//! insurance fund and 30 % to the pool.
//!
//! **Partial, just enough.** With maintenance health H < 0, after selling f the account's health
//! is about `(1 − f)·H + bid·f·E`, which is ≥ 0 for `f* = −H / (bid·E − H)`; the liquidator takes
//! `f = min(1, f* × (1 + liquidation_buffer))`, or less if `max_size` (base units of the largest
//! position) says so. Each step strictly improves health (bid·E > 0 > H).
//!
//! **Rules**: liquidatee ≠ liquidator; the liquidator must end with initial health ≥ 0; it may
//! not hold a position opposite to one it takes over (a transfer never nets); a healthy account
//! is never liquidated.
//!
//! **Bankruptcy.** When E ≤ 0 no bid is possible: every position is closed against the pool at
//! mark, locked collateral returns to the balance, and the quote deficit is bad debt for the
//! waterfall ([`crate::waterfall`]). (Non-quote collateral stays with the account and is not
//! seized: the deficit is measured in the quote asset.)

use crate::cache::{self, replace_contribution, trade_terms};
use crate::event::Event;
use crate::instrument::{expiry_unix, Instrument};
use crate::margin::{self, account_health, health_of, PriceBasis};
use crate::perp;
use crate::reject::Reject;
use crate::state::{Account, Position, State};
use derivpool_pricing::OptionKind;
use derivpool_types::{mul, mul_div, Base, Fixed, MathError, Quote, Ratio, Rounding};

/// Scale of the fraction f in raw units (f = raw / 10¹⁸).
const ONE: i128 = derivpool_types::SCALE;

/// Whether `account` is liquidatable now (under maintenance at the median and at the TWAP).
pub fn is_liquidatable(state: &State, account: &str, quote_asset: &str) -> Result<bool, MathError> {
    match state.accounts.get(account) {
        Some(a) => account_is_liquidatable(state, a, quote_asset),
        None => Ok(false),
    }
}

/// [`is_liquidatable`] of an account given by value.
fn account_is_liquidatable(
    state: &State,
    acc: &Account,
    quote_asset: &str,
) -> Result<bool, MathError> {
    account_is_liquidatable_with(
        state,
        acc,
        quote_asset,
        margin::PriceCache::new(state, PriceBasis::Median),
    )
}

/// [`account_is_liquidatable`] with median prices from `prices` (the scan looks each
/// underlying up once).
fn account_is_liquidatable_with<'a>(
    state: &'a State,
    acc: &'a Account,
    quote_asset: &str,
    prices: margin::PriceCache<'a>,
) -> Result<bool, MathError> {
    if margin::surely_healthy_with(state, acc, quote_asset, prices) {
        return Ok(false);
    }
    let at_median = health_of(state, acc, acc.margin, quote_asset, PriceBasis::Median)?;
    if !at_median.has_positions || at_median.maintenance >= Quote::ZERO {
        return Ok(false);
    }
    let at_twap = health_of(state, acc, acc.margin, quote_asset, PriceBasis::Twap)?;
    Ok(at_twap.maintenance < Quote::ZERO)
}

/// A change of one account's `liquidatable_since` found by [`judge`]: (account, new value).
pub type Mark = (String, Option<u64>);

/// Marks or clears `liquidatable_since` for every account with positions (run on `tick`):
/// [`judge`], then [`write_marks`].
pub fn scan(state: &mut State, now: u64) -> Result<(), MathError> {
    let marks = judge(state, now)?;
    write_marks(state, marks);
    Ok(())
}

/// The scan's judgement of every account with positions, without writing it: the accounts
/// whose `liquidatable_since` changes (set to `now`, or kept, when liquidatable; cleared when
/// not). Health reads no account's `liquidatable_since`, so judging every account before
/// writing any gives the same marks as writing each as it is judged; only accounts whose mark
/// changes are listed, so an unchanged account stays shared with the state the tick copied.
pub fn judge(state: &State, now: u64) -> Result<Vec<Mark>, MathError> {
    judge_with(state, now, None)
}

/// [`judge`], with the accounts shared out between this thread and a helper's
/// ([`crate::helper::Helper::map`]); the same marks in the same order, and the first error in
/// account order.
pub fn judge_with(
    state: &State,
    now: u64,
    helper: Option<&crate::helper::Helper>,
) -> Result<Vec<Mark>, MathError> {
    let quote_assets = state.quote_assets();
    let accounts: Vec<(&String, &Account)> = state
        .accounts
        .iter()
        .filter(|(_, acc)| !acc.positions.is_empty())
        .collect();
    let prices = margin::PriceCache::of_listed(state, PriceBasis::Median);
    let judge_one = |(name, acc): &(&String, &Account)| -> Result<Option<Mark>, MathError> {
        let mut under = false;
        for q in &quote_assets {
            under |= account_is_liquidatable_with(state, acc, q, prices.clone())?;
        }
        let since = if under {
            Some(acc.liquidatable_since.unwrap_or(now))
        } else {
            None
        };
        Ok((since != acc.liquidatable_since).then(|| ((*name).clone(), since)))
    };
    crate::helper::map(helper, &accounts, ACCOUNTS_PER_SHARE, &judge_one)
        .into_iter()
        .filter_map(Result::transpose)
        .collect()
}

/// Accounts judged as one piece of work when a helper shares the scan.
const ACCOUNTS_PER_SHARE: usize = 8;

/// Writes marks found by [`judge`] (an account that no longer exists is skipped).
pub fn write_marks(state: &mut State, marks: Vec<Mark>) {
    for (name, since) in marks {
        if let Some(acc) = state.accounts.get_mut(&name) {
            acc.liquidatable_since = since;
        }
    }
}

/// The auction bid per unit of equity at `now`.
pub fn bid(p: &crate::params::Params, since: u64, now: u64) -> Ratio {
    let start = p.liquidation_start.to_f64();
    let end = p.liquidation_end.to_f64();
    let progress =
        (now.saturating_sub(since) as f64 / p.liquidation_auction_s.max(1) as f64).min(1.0);
    Ratio::from_f64(start - (start - end) * progress, Rounding::Down).unwrap_or(p.liquidation_end)
}

/// Settles what every perp position of `account` in pools of `quote_asset` owes, so that indexes
/// are current before a transfer or a close. Returns the shortfall per pool.
pub(crate) fn settle_all_owed(
    state: &mut State,
    account: &str,
    quote_asset: &str,
) -> Result<Vec<(String, Quote)>, MathError> {
    let mut shortfalls = Vec::new();
    let pools: Vec<String> = state
        .accounts
        .get(account)
        .map(|a| a.positions.keys().cloned().collect())
        .unwrap_or_default();
    for pool_name in pools {
        let Some(pool) = state.pools.get_mut(&pool_name) else {
            continue;
        };
        if pool.quote_asset != quote_asset {
            continue;
        }
        let acc = state.accounts.get_mut(account).expect("account exists");
        let positions = acc.positions.get_mut(&pool_name).expect("pool positions");
        let mut balance = acc
            .balances
            .get(quote_asset)
            .copied()
            .unwrap_or(Quote::ZERO);
        let (mut cash_change, mut shortfall) = (Quote::ZERO, Quote::ZERO);
        for (name, pos) in positions.iter_mut() {
            let Some(u) = name.strip_suffix("-PERP") else {
                continue;
            };
            let Some(m) = pool.markets.get_mut(u) else {
                continue;
            };
            perp::add_terms(&mut m.perp, perp::terms(pos)?, -1)?;
            let (f, b) = perp::owed_parts(&m.perp, pos)?;
            perp::pay(
                &mut balance,
                &mut cash_change,
                &mut shortfall,
                f.checked_add(b)?,
            )?;
            m.perp.funding_paid_to_pool = m.perp.funding_paid_to_pool.checked_add(f)?;
            m.perp.borrow_paid_to_pool = m.perp.borrow_paid_to_pool.checked_add(b)?;
            pos.funding_index = m.perp.funding_index;
            pos.borrow_index = m.perp.borrow_index;
            perp::add_terms(&mut m.perp, perp::terms(pos)?, 1)?;
        }
        acc.balances.insert(quote_asset.to_string(), balance);
        pool.cash = pool.cash.checked_add(cash_change)?;
        shortfalls.push((pool_name, shortfall));
    }
    Ok(shortfalls)
}

pub(crate) fn scale(x: i128, f_raw: i128) -> Result<i128, MathError> {
    // Toward zero: the liquidatee keeps the rounding remainder of what it sells.
    let r = if x >= 0 { Rounding::Down } else { Rounding::Up };
    mul_div(x, f_raw, ONE, r)
}

pub(crate) fn oi(s: Base) -> (Base, Base) {
    if s > Base::ZERO {
        (s, Base::ZERO)
    } else {
        (Base::ZERO, Base::from_raw(-s.raw()))
    }
}

/// The `liquidate` command.
pub fn liquidate(
    state: &mut State,
    pool_name: &str,
    liquidator: &str,
    account: &str,
    max_size: Option<Base>,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    if liquidator == account {
        return Err(crate::reject!(
            SelfLiquidation,
            "account {account:?} cannot liquidate itself"
        ));
    }
    let pool = state
        .pools
        .get(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    let quote_asset = pool.quote_asset.clone();
    let p = pool.params.clone();
    let acc = state
        .accounts
        .get(account)
        .ok_or_else(|| crate::reject!(NotLiquidatable, "account {account:?} does not exist"))?;
    // Fresh prices for every underlying the account holds.
    for (pn, ps) in &acc.positions {
        for name in ps.keys() {
            if let Ok(i) = Instrument::parse(name) {
                let u = i.underlying();
                let hb = state
                    .pools
                    .get(pn)
                    .and_then(|p| p.markets.get(u))
                    .map(|m| m.params.spot_heartbeat_s)
                    .unwrap_or(60);
                if state.oracle.spot(u, now, hb).is_none() {
                    return Err(crate::reject!(
                        StaleOracle,
                        "no fresh oracle price for {u}: cannot liquidate"
                    ));
                }
            }
        }
    }
    let h = account_health(state, account, &quote_asset, PriceBasis::Median)?;
    if !h.has_positions || h.maintenance >= Quote::ZERO {
        return Err(crate::reject!(
            NotLiquidatable,
            "account {account:?} is healthy at the oracle median (maintenance health {})",
            h.maintenance
        ));
    }
    let ht = account_health(state, account, &quote_asset, PriceBasis::Twap)?;
    if ht.maintenance >= Quote::ZERO {
        return Err(crate::reject!(
            NotLiquidatable,
            "account {account:?} is under maintenance at the median but healthy at the TWAP \
             (maintenance health {}): one print liquidates nobody",
            ht.maintenance
        ));
    }
    let since = acc.liquidatable_since.unwrap_or(now);
    let equity = h.collateral_maintenance.checked_add(h.portfolio_value)?;
    let snapshot = state.clone();
    let result = if equity <= Quote::ZERO {
        bankrupt(state, pool_name, account, &quote_asset, now)
    } else {
        auction(
            state,
            pool_name,
            liquidator,
            account,
            &quote_asset,
            max_size,
            since,
            h.maintenance,
            equity,
            &p,
            now,
        )
    };
    if result.is_err() {
        *state = snapshot;
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn auction(
    state: &mut State,
    pool_name: &str,
    liquidator: &str,
    account: &str,
    quote_asset: &str,
    max_size: Option<Base>,
    since: u64,
    health: Quote,
    equity: Quote,
    p: &crate::params::Params,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    let bid_factor = bid(p, since, now);
    let bid_equity = equity.mul_ratio(bid_factor, Rounding::Down)?;
    let need = health.checked_neg()?;
    let f_star = mul_div(
        need.raw(),
        ONE,
        bid_equity.checked_add(need)?.raw(),
        Rounding::Up,
    )?;
    let mut f = mul_div(f_star, ONE + p.liquidation_buffer.raw(), ONE, Rounding::Up)?.min(ONE);
    if let Some(max) = max_size {
        let largest = state.accounts[account]
            .positions
            .iter()
            .filter(|(pn, _)| {
                state
                    .pools
                    .get(*pn)
                    .is_some_and(|pp| pp.quote_asset == quote_asset)
            })
            .flat_map(|(_, ps)| ps.values().map(|x| x.size.raw().abs()))
            .max()
            .unwrap_or(0);
        if largest > 0 {
            f = f.min(mul_div(max.raw(), ONE, largest, Rounding::Down)?);
        }
    }
    if f <= 0 {
        return Err(crate::reject!(
            InvalidAmount,
            "max_size {max_size:?} allows no liquidation"
        ));
    }
    let mut events = Vec::new();
    for (pool, shortfall) in settle_all_owed(state, account, quote_asset)?
        .into_iter()
        .chain(settle_all_owed(state, liquidator, quote_asset)?)
    {
        events.extend(crate::waterfall::absorb(state, &pool, shortfall)?);
    }
    // Transfer f of positions.
    let mut taker = state.accounts.get(liquidator).cloned().unwrap_or_default();
    let mut giver = state.accounts[account].clone();
    for (pn, ps) in giver.positions.iter_mut() {
        let Some(pool) = state.pools.get_mut(pn) else {
            continue;
        };
        if pool.quote_asset != quote_asset {
            continue;
        }
        for (name, pos) in ps.iter_mut() {
            let moved = Position {
                size: Base::from_raw(scale(pos.size.raw(), f)?),
                collateral: Quote::from_raw(scale(pos.collateral.raw(), f)?),
                entry_value: Quote::from_raw(scale(pos.entry_value.raw(), f)?),
                funding_index: pos.funding_index,
                borrow_index: pos.borrow_index,
            };
            if moved.size.is_zero() {
                continue;
            }
            let theirs = taker
                .positions
                .entry(pn.clone())
                .or_default()
                .entry(name.clone())
                .or_default();
            if !theirs.size.is_zero() && (theirs.size.raw() > 0) != (moved.size.raw() > 0) {
                return Err(crate::reject!(
                    LiquidatorConflict,
                    "liquidator {liquidator:?} holds {} {name}, opposite to the position it would take over",
                    theirs.size
                ));
            }
            let perp_market = name
                .strip_suffix("-PERP")
                .and_then(|u| pool.markets.get_mut(u));
            if let Some(m) = perp_market {
                for x in [&*pos, &*theirs] {
                    perp::add_terms(&mut m.perp, perp::terms(x)?, -1)?;
                }
                let (l0, s0) = oi(pos.size);
                let (l1, s1) = oi(theirs.size);
                m.perp.long_oi = m.perp.long_oi.checked_sub(l0)?.checked_sub(l1)?;
                m.perp.short_oi = m.perp.short_oi.checked_sub(s0)?.checked_sub(s1)?;
            }
            pos.size = pos.size.checked_sub(moved.size)?;
            pos.collateral = pos.collateral.checked_sub(moved.collateral)?;
            pos.entry_value = pos.entry_value.checked_sub(moved.entry_value)?;
            theirs.size = theirs.size.checked_add(moved.size)?;
            theirs.collateral = theirs.collateral.checked_add(moved.collateral)?;
            theirs.entry_value = theirs.entry_value.checked_add(moved.entry_value)?;
            theirs.funding_index = moved.funding_index;
            theirs.borrow_index = moved.borrow_index;
            if let Some(m) = name
                .strip_suffix("-PERP")
                .and_then(|u| pool.markets.get_mut(u))
            {
                for x in [&*pos, &*theirs] {
                    perp::add_terms(&mut m.perp, perp::terms(x)?, 1)?;
                }
                let (l0, s0) = oi(pos.size);
                let (l1, s1) = oi(theirs.size);
                m.perp.long_oi = m.perp.long_oi.checked_add(l0)?.checked_add(l1)?;
                m.perp.short_oi = m.perp.short_oi.checked_add(s0)?.checked_add(s1)?;
            }
        }
        ps.retain(|_, x| !x.size.is_zero());
    }
    giver.positions.retain(|_, ps| !ps.is_empty());
    // Transfer f of every balance.
    for (asset, bal) in giver.balances.iter_mut() {
        let moved = Quote::from_raw(scale(bal.raw(), f)?);
        *bal = bal.checked_sub(moved)?;
        let t = taker.balances.entry(asset.clone()).or_insert(Quote::ZERO);
        *t = t.checked_add(moved)?;
    }
    // Payment and penalty split.
    let f_ratio = Ratio::from_raw(f);
    let bought = equity.mul_ratio(f_ratio, Rounding::Down)?;
    let price_paid = bought.mul_ratio(bid_factor, Rounding::Up)?;
    let discount = bought.checked_sub(price_paid)?;
    let to_insurance = discount.mul_ratio(p.penalty_insurance_share, Rounding::Up)?;
    let to_pool = discount
        .checked_sub(discount.mul_ratio(p.penalty_liquidator_share, Rounding::Down)?)?
        .checked_sub(to_insurance)?
        .max(Quote::ZERO);
    let pay_total = price_paid.checked_add(to_insurance)?.checked_add(to_pool)?;
    let tb = taker
        .balances
        .entry(quote_asset.to_string())
        .or_insert(Quote::ZERO);
    *tb = tb.checked_sub(pay_total)?;
    let gb = giver
        .balances
        .entry(quote_asset.to_string())
        .or_insert(Quote::ZERO);
    *gb = gb.checked_add(price_paid)?;
    giver.liquidatable_since = Some(since);
    state.accounts.insert(account.to_string(), giver);
    state.accounts.insert(liquidator.to_string(), taker);
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    pool.insurance_fund = pool.insurance_fund.checked_add(to_insurance)?;
    pool.cash = pool.cash.checked_add(to_pool)?;
    // The liquidator must end healthy; the liquidatee must be better off.
    let lh = account_health(state, liquidator, quote_asset, PriceBasis::Median)?;
    if lh.initial < Quote::ZERO || state.accounts[liquidator].balances[quote_asset] < Quote::ZERO {
        return Err(crate::reject!(
            LiquidatorUnhealthy,
            "liquidator {liquidator:?} would end with initial health {} (it must pay {pay_total})",
            lh.initial
        ));
    }
    let after = account_health(state, account, quote_asset, PriceBasis::Median)?;
    debug_assert!(
        after.maintenance > health,
        "a liquidation step must improve health: {health} → {}",
        after.maintenance
    );
    if after.maintenance >= Quote::ZERO || !after.has_positions {
        state
            .accounts
            .get_mut(account)
            .expect("account")
            .liquidatable_since = None;
    }
    events.push(Event::Liquidated {
        pool: pool_name.to_string(),
        liquidator: liquidator.to_string(),
        account: account.to_string(),
        fraction: f_ratio,
        bid: bid_factor,
        equity,
        paid_to_account: price_paid,
        to_liquidator: discount.checked_sub(to_insurance)?.checked_sub(to_pool)?,
        to_insurance_fund: to_insurance,
        to_pool,
        health_before: health,
        health_after: after.maintenance,
        bankrupt: false,
    });
    Ok(events)
}

/// Closes every position of a bankrupt account against the pool at mark and runs the deficit
/// through the waterfall.
fn bankrupt(
    state: &mut State,
    pool_name: &str,
    account: &str,
    quote_asset: &str,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    let mut events = Vec::new();
    // Crystallise first, so that the tranche books include the gains the pool marked on this
    // account's losses; the bad debt then falls on junior first, as the waterfall declares.
    let pools_held: Vec<String> = state.accounts[account].positions.keys().cloned().collect();
    for pn in &pools_held {
        if let Some(e) = crate::vault::crystallise(state, pn)? {
            events.push(e);
        }
    }
    let mut shortfall_by_pool: Vec<(String, Quote)> = settle_all_owed(state, account, quote_asset)?;
    let health_before =
        account_health(state, account, quote_asset, PriceBasis::Median)?.maintenance;
    let pools: Vec<String> = state.accounts[account].positions.keys().cloned().collect();
    for pn in pools {
        if state
            .pools
            .get(&pn)
            .is_none_or(|p| p.quote_asset != quote_asset)
        {
            continue;
        }
        let positions = state
            .accounts
            .get_mut(account)
            .expect("account")
            .positions
            .remove(&pn)
            .unwrap_or_default();
        let mut balance = state.accounts[account]
            .balances
            .get(quote_asset)
            .copied()
            .unwrap_or(Quote::ZERO);
        let (mut cash_change, mut shortfall) = (Quote::ZERO, Quote::ZERO);
        for (name, pos) in positions {
            balance = balance.checked_add(pos.collateral)?;
            let pool = state.pools.get_mut(&pn).expect("pool");
            match Instrument::parse(&name).map_err(|e| crate::reject!(UnknownInstrument, "{e}"))? {
                Instrument::Perp { underlying } => {
                    let price = state
                        .oracle
                        .spot(&underlying, now, u64::MAX)
                        .unwrap_or_default();
                    let m = pool.markets.get_mut(&underlying).expect("market");
                    perp::add_terms(&mut m.perp, perp::terms(&pos)?, -1)?;
                    let (l, s) = oi(pos.size);
                    m.perp.long_oi = m.perp.long_oi.checked_sub(l)?;
                    m.perp.short_oi = m.perp.short_oi.checked_sub(s)?;
                    m.perp.entry_value_sum = m.perp.entry_value_sum.checked_sub(pos.entry_value)?;
                    let value: Quote = mul(pos.size, price, Rounding::Down)?;
                    let pnl = value.checked_sub(pos.entry_value)?;
                    perp::pay(
                        &mut balance,
                        &mut cash_change,
                        &mut shortfall,
                        pnl.checked_neg()?,
                    )?;
                }
                Instrument::Option {
                    underlying,
                    expiry,
                    strike,
                    kind,
                } => {
                    let market = pool.markets.get_mut(&underlying).expect("market");
                    let expiry_t = expiry_unix(&expiry).unwrap_or(0);
                    let spot = state
                        .oracle
                        .spot(&underlying, now, u64::MAX)
                        .unwrap_or_default();
                    let board = market
                        .boards
                        .get_mut(&expiry_t)
                        .expect("board of a held series");
                    let s = board
                        .strikes
                        .get_mut(&strike)
                        .expect("strike of a held series");
                    let mark = match kind {
                        OptionKind::Call => s.greeks.call_price,
                        OptionKind::Put => s.greeks.put_price,
                    };
                    let old = trade_terms(s, kind)?;
                    match kind {
                        OptionKind::Call => s.pool_calls = s.pool_calls.checked_add(pos.size)?,
                        OptionKind::Put => s.pool_puts = s.pool_puts.checked_add(pos.size)?,
                    }
                    let lock = cache::pool_lock(s, spot)?;
                    let lock_change = lock.checked_sub(s.pool_locked)?;
                    s.pool_locked = lock;
                    let new = trade_terms(s, kind)?;
                    replace_contribution(&mut board.cache, &old, &new)?;
                    pool.locked = pool.locked.checked_add(lock_change)?;
                    // The trader's side is worth size × mark: a long is paid it, a short owes it.
                    let value: Quote = mul(pos.size, mark, Rounding::Down)?;
                    perp::pay(
                        &mut balance,
                        &mut cash_change,
                        &mut shortfall,
                        value.checked_neg()?,
                    )?;
                }
            }
        }
        let pool = state.pools.get_mut(&pn).expect("pool");
        pool.cash = pool.cash.checked_add(cash_change)?;
        state
            .accounts
            .get_mut(account)
            .expect("account")
            .balances
            .insert(quote_asset.to_string(), balance);
        shortfall_by_pool.push((pn, shortfall));
    }
    for (pn, s) in shortfall_by_pool {
        events.extend(crate::waterfall::absorb(state, &pn, s)?);
    }
    state
        .accounts
        .get_mut(account)
        .expect("account")
        .liquidatable_since = None;
    events.insert(
        0,
        Event::Liquidated {
            pool: pool_name.to_string(),
            liquidator: String::new(),
            account: account.to_string(),
            fraction: Ratio::ONE,
            bid: Ratio::ZERO,
            equity: Quote::ZERO,
            paid_to_account: Quote::ZERO,
            to_liquidator: Quote::ZERO,
            to_insurance_fund: Quote::ZERO,
            to_pool: Quote::ZERO,
            health_before,
            health_after: Quote::ZERO,
            bankrupt: true,
        },
    );
    Ok(events)
}
