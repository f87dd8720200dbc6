//! LP vault (Lyra LiquidityPool queues, Hegic-style tranches, DESIGN.md §5.4).
//!
//! - `lp_deposit` moves the LP's money in from outside into the deposit queue; `lp_withdraw`
//!   escrows the LP's shares in the withdrawal queue. Both queues are FIFO, hold at most
//!   `queue_entries_max` entries, and are processed on `tick` once an entry has waited its delay
//!   (`deposit_delay_s`, `withdrawal_delay_s`), **priced at processing**.
//! - Processing first crystallises the tranches ([`crate::nav::tranche_navs`]), so each
//!   tranche's book equals its NAV (only then: between LP flows the split of P&L is a function of
//!   the cumulative P&L alone, so mark-to-market noise cannot ratchet value from one tranche to
//!   the other), then:
//!   - deposit: `minted = ⌊amount × shares / book⌋`; at a tranche's genesis shares are minted
//!     1:1 and `dead_shares` of them go to nobody, so the share supply never returns to dust and
//!     no donation or rounding trick can inflate the share price;
//!   - withdrawal: `value = ⌊shares × book / total shares⌋`, `fee = ⌈value × withdrawal_fee_rate⌉`
//!     stays in the tranche (for the remaining LPs), the LP is paid `value − fee`, and only from
//!     free liquidity: when that is short, the entry is filled in part (`⌊shares × free /
//!     payout⌋` shares) and stays at the head of the queue.
//! - Processing pauses while a circuit breaker holds or a greek cache is stale.
//!
//! **Circuit breakers** (checked on `tick`): free liquidity under `breaker_free_liquidity` of NAV
//! (holds `breaker_liquidity_s`); a board's base-IV offset differing from its GWAV by more than
//! `breaker_iv_variance`, or a skew ratio from its GWAV by more than `breaker_skew_variance`
//! (hold `breaker_variance_s`); a settlement (holds `breaker_settlement_s`).

use crate::command::Tranche;
use crate::event::Event;
use crate::nav;
use crate::reject::Reject;
use crate::state::{QueuedDeposit, QueuedWithdrawal, State, TrancheState};
use derivpool_types::{mul_div, Fixed, MathError, Price, Quote, Rounding, Shares};

/// Queues an LP deposit.
pub fn lp_deposit(
    state: &mut State,
    pool_name: &str,
    lp: &str,
    tranche: Tranche,
    amount: Quote,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    if amount <= Quote::ZERO {
        return Err(crate::reject!(
            InvalidAmount,
            "amount must be positive, got {amount}"
        ));
    }
    let pool = state
        .pools
        .get_mut(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    if pool.vault.deposit_queue.len() as u64 >= pool.params.queue_entries_max {
        return Err(crate::reject!(
            QueueFull,
            "pool {pool_name}: the deposit queue holds {} entries already",
            pool.params.queue_entries_max
        ));
    }
    let queued = pool.vault.queued_deposit_cash.checked_add(amount)?;
    let ext = state.external.entry(pool.quote_asset.clone()).or_default();
    ext.deposited = ext.deposited.checked_add(amount)?;
    pool.vault.queued_deposit_cash = queued;
    let id = pool.vault.next_id;
    pool.vault.next_id += 1;
    pool.vault.deposit_queue.push_back(QueuedDeposit {
        id,
        lp: lp.to_string(),
        tranche,
        amount,
        t: now,
    });
    Ok(vec![Event::LpDepositQueued {
        pool: pool_name.to_string(),
        id,
        lp: lp.to_string(),
        tranche,
        amount,
        ready_t: now.saturating_add(pool.params.deposit_delay_s),
    }])
}

/// Queues an LP withdrawal, escrowing the shares.
pub fn lp_withdraw(
    state: &mut State,
    pool_name: &str,
    lp: &str,
    tranche: Tranche,
    shares: Shares,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    if shares <= Shares::ZERO {
        return Err(crate::reject!(
            InvalidAmount,
            "shares must be positive, got {shares}"
        ));
    }
    let pool = state
        .pools
        .get_mut(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    if pool.vault.withdrawal_queue.len() as u64 >= pool.params.queue_entries_max {
        return Err(crate::reject!(
            QueueFull,
            "pool {pool_name}: the withdrawal queue holds {} entries already",
            pool.params.queue_entries_max
        ));
    }
    let held = pool
        .vault
        .tranches
        .get(&tranche)
        .and_then(|t| t.holders.get(lp))
        .copied()
        .unwrap_or(Shares::ZERO);
    if held < shares {
        return Err(crate::reject!(
            InsufficientBalance,
            "LP {lp:?} holds {held} {} shares of pool {pool_name}, not {shares}",
            tranche.as_str()
        ));
    }
    let t = pool
        .vault
        .tranches
        .get_mut(&tranche)
        .expect("held shares exist");
    let left = held.checked_sub(shares)?;
    if left.is_zero() {
        t.holders.remove(lp);
    } else {
        t.holders.insert(lp.to_string(), left);
    }
    let id = pool.vault.next_id;
    pool.vault.next_id += 1;
    pool.vault.withdrawal_queue.push_back(QueuedWithdrawal {
        id,
        lp: lp.to_string(),
        tranche,
        shares,
        t: now,
    });
    Ok(vec![Event::LpWithdrawQueued {
        pool: pool_name.to_string(),
        id,
        lp: lp.to_string(),
        tranche,
        shares,
        ready_t: now.saturating_add(pool.params.withdrawal_delay_s),
    }])
}

/// Folds the P&L since the last crystallisation into the tranche books.
pub fn crystallise(state: &mut State, pool_name: &str) -> Result<Option<Event>, MathError> {
    let pool = &state.pools[pool_name];
    let nav = nav::nav(state, pool)?;
    let (senior, junior) = nav::tranche_navs(pool, nav)?;
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    let before = (book(pool, Tranche::Senior), book(pool, Tranche::Junior));
    if before == (senior, junior) {
        return Ok(None);
    }
    pool.vault.tranches.entry(Tranche::Senior).or_default().book = senior;
    pool.vault.tranches.entry(Tranche::Junior).or_default().book = junior;
    Ok(Some(Event::TranchesCrystallised {
        pool: pool_name.to_string(),
        nav,
        senior,
        junior,
    }))
}

fn book(pool: &crate::state::Pool, t: Tranche) -> Quote {
    pool.vault
        .tranches
        .get(&t)
        .map(|s| s.book)
        .unwrap_or(Quote::ZERO)
}

/// Why LP flows are paused now, if they are.
pub fn flows_paused(state: &State, pool_name: &str, now: u64) -> Option<String> {
    let pool = &state.pools[pool_name];
    if let Some(b) = pool.breakers.active(now) {
        return Some(format!("the {b} circuit breaker holds"));
    }
    for m in pool.markets.values() {
        if state.oracle.breaker_active(&m.underlying, now) {
            return Some(format!("the oracle breaker of {} holds", m.underlying));
        }
        let spot = state
            .oracle
            .spot(&m.underlying, now, m.params.spot_heartbeat_s);
        for b in m.boards.values() {
            if crate::cache::is_stale(&b.cache, now, spot, &m.params) {
                return Some(format!(
                    "the greek cache of {} {} is stale",
                    m.underlying, b.expiry
                ));
            }
        }
    }
    None
}

/// Processes every queue entry that has waited long enough (FIFO; a blocked head stops its
/// queue).
pub fn process_queues(
    state: &mut State,
    pool_name: &str,
    now: u64,
) -> Result<Vec<Event>, MathError> {
    let mut events = Vec::new();
    if flows_paused(state, pool_name, now).is_some() {
        return Ok(events);
    }
    // Crystallise only when an entry is due: the tranches' P&L split is path-independent between
    // LP flows (crystallising on every tick would ratchet mark-to-market noise into junior).
    let pool = &state.pools[pool_name];
    let due = |t: u64, delay: u64| t.saturating_add(delay) <= now;
    let any_due = pool
        .vault
        .deposit_queue
        .front()
        .is_some_and(|d| due(d.t, pool.params.deposit_delay_s))
        || pool
            .vault
            .withdrawal_queue
            .front()
            .is_some_and(|w| due(w.t, pool.params.withdrawal_delay_s));
    if !any_due {
        return Ok(events);
    }
    if let Some(e) = crystallise(state, pool_name)? {
        events.push(e);
    }
    // Deposits.
    loop {
        let pool = state.pools.get_mut(pool_name).expect("pool exists");
        let delay = pool.params.deposit_delay_s;
        let dead = pool.params.dead_shares;
        let Some(front) = pool.vault.deposit_queue.front() else {
            break;
        };
        if front.t.saturating_add(delay) > now {
            break;
        }
        let entry = front.clone();
        let t = pool.vault.tranches.entry(entry.tranche).or_default();
        let (minted, dead_minted) = if t.shares.is_zero() {
            let all = Shares::from_raw(entry.amount.raw());
            let dead_minted = dead.min(all);
            (all.checked_sub(dead_minted)?, dead_minted)
        } else if t.book <= Quote::ZERO {
            break; // a wiped-out tranche cannot price new shares; the entry waits
        } else {
            let m = mul_div(
                entry.amount.raw(),
                t.shares.raw(),
                t.book.raw(),
                Rounding::Down,
            )?;
            (Shares::from_raw(m), Shares::ZERO)
        };
        let price = share_price_of(t);
        t.book = t.book.checked_add(entry.amount)?;
        t.shares = t.shares.checked_add(minted)?.checked_add(dead_minted)?;
        t.dead_shares = t.dead_shares.checked_add(dead_minted)?;
        if !minted.is_zero() {
            let h = t.holders.entry(entry.lp.clone()).or_insert(Shares::ZERO);
            *h = h.checked_add(minted)?;
        }
        pool.cash = pool.cash.checked_add(entry.amount)?;
        pool.vault.queued_deposit_cash =
            pool.vault.queued_deposit_cash.checked_sub(entry.amount)?;
        pool.vault.deposit_queue.pop_front();
        events.push(Event::LpDepositProcessed {
            pool: pool_name.to_string(),
            id: entry.id,
            lp: entry.lp,
            tranche: entry.tranche,
            amount: entry.amount,
            shares: minted,
            dead_shares: dead_minted,
            share_price: price?,
        });
    }
    // Withdrawals.
    loop {
        let free = nav::free_liquidity(state, &state.pools[pool_name])?;
        let pool = state.pools.get_mut(pool_name).expect("pool exists");
        let delay = pool.params.withdrawal_delay_s;
        let fee_rate = pool.params.withdrawal_fee_rate;
        let Some(front) = pool.vault.withdrawal_queue.front() else {
            break;
        };
        if front.t.saturating_add(delay) > now || free <= Quote::ZERO {
            break;
        }
        let entry = front.clone();
        let t = pool
            .vault
            .tranches
            .get_mut(&entry.tranche)
            .expect("escrowed shares' tranche");
        let price = share_price_of(t)?;
        let payout_of = |shares: Shares, t: &TrancheState| -> Result<(Quote, Quote), MathError> {
            let value = if t.book <= Quote::ZERO {
                Quote::ZERO
            } else {
                Quote::from_raw(mul_div(
                    shares.raw(),
                    t.book.raw(),
                    t.shares.raw(),
                    Rounding::Down,
                )?)
            };
            let fee = value.mul_ratio(fee_rate, Rounding::Up)?.min(value);
            Ok((value.checked_sub(fee)?, fee))
        };
        let (full_payout, _) = payout_of(entry.shares, t)?;
        let burned = if full_payout <= free {
            entry.shares
        } else {
            Shares::from_raw(mul_div(
                entry.shares.raw(),
                free.raw(),
                full_payout.raw(),
                Rounding::Down,
            )?)
        };
        if burned.is_zero() {
            break;
        }
        let (paid, fee) = payout_of(burned, t)?;
        t.book = t.book.checked_sub(paid)?;
        t.shares = t.shares.checked_sub(burned)?;
        pool.cash = pool.cash.checked_sub(paid)?;
        let remaining = entry.shares.checked_sub(burned)?;
        if remaining.is_zero() {
            pool.vault.withdrawal_queue.pop_front();
        } else {
            pool.vault
                .withdrawal_queue
                .front_mut()
                .expect("front exists")
                .shares = remaining;
        }
        let quote_asset = pool.quote_asset.clone();
        let ext = state.external.entry(quote_asset).or_default();
        ext.withdrawn = ext.withdrawn.checked_add(paid)?;
        events.push(Event::LpWithdrawProcessed {
            pool: pool_name.to_string(),
            id: entry.id,
            lp: entry.lp,
            tranche: entry.tranche,
            shares_burned: burned,
            paid,
            fee,
            shares_remaining: remaining,
            share_price: price,
        });
        if !remaining.is_zero() {
            break;
        }
    }
    Ok(events)
}

fn share_price_of(t: &TrancheState) -> Result<Price, MathError> {
    if t.shares.is_zero() {
        return Ok(Price::ONE);
    }
    derivpool_types::div(t.book, t.shares, Rounding::Down)
}

/// Checks the circuit breakers of a pool and trips those whose condition holds.
pub fn check_breakers(
    state: &mut State,
    pool_name: &str,
    now: u64,
) -> Result<Vec<Event>, MathError> {
    let pool = &state.pools[pool_name];
    let nav = nav::nav(state, pool)?;
    let free = nav::free_liquidity(state, pool)?;
    let p = &pool.params;
    let mut trips: Vec<(&'static str, u64)> = Vec::new();
    if nav > Quote::ZERO && free < nav.mul_ratio(p.breaker_free_liquidity, Rounding::Down)? {
        trips.push(("liquidity", now.saturating_add(p.breaker_liquidity_s)));
    }
    let (mut iv, mut skew) = (false, false);
    for m in pool.markets.values() {
        let mp = &m.params;
        for b in m.boards.values() {
            let g = b.base_gwav.gwav(now, mp.gwav_period_s) - 1.0;
            if (b.base_iv_offset.to_f64() - g).abs() > mp.breaker_iv_variance.to_f64() {
                iv = true;
            }
            for s in b.strikes.values() {
                let g = s.skew_gwav.gwav(now, mp.gwav_period_s);
                if (s.skew_ratio.to_f64() - g).abs() > mp.breaker_skew_variance.to_f64() {
                    skew = true;
                }
            }
        }
    }
    if iv {
        trips.push(("iv_variance", now.saturating_add(p.breaker_variance_s)));
    }
    if skew {
        trips.push(("skew_variance", now.saturating_add(p.breaker_variance_s)));
    }
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    let mut events = Vec::new();
    for (name, until) in trips {
        let slot = match name {
            "liquidity" => &mut pool.breakers.liquidity_until,
            "iv_variance" => &mut pool.breakers.iv_until,
            _ => &mut pool.breakers.skew_until,
        };
        let was_active = now < *slot;
        *slot = until;
        if !was_active {
            events.push(Event::BreakerTripped {
                pool: pool_name.to_string(),
                breaker: name.to_string(),
                until,
            });
        }
    }
    Ok(events)
}
