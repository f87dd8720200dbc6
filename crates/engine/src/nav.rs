//! Pool valuation (DESIGN.md §5.4, §5.5): NAV, tranche NAVs, free liquidity and utilisation.
//!
//! ```text
//! NAV          = cash + Σ boards option_value + perp value          (queued deposits are outside
//!                                                                    cash; reserved settlements are
//!                                                                    paid at settlement)
//!              + hedge value = Σ hedge position × mark − entry value  (crate::hedger)
//! perp value   = −Σ traders' unrealised P&L + funding and borrow traders owe but have not paid
//!              = −(skew × price − Σ entry values) + (skew × F − Σ size·Fᵢ) + borrow owed
//! locked       = Σ strikes' cover for written options
//! reserved     = Σ perps |skew| × price                  (the pool's perp exposure)
//! free         = cash − locked − reserved
//! utilisation  = (locked + reserved) / cash
//! ```
//!
//! Option liabilities are marked at the greek cache's GWAV-smoothed vols, so that one trade
//! cannot move the pool's value. Perps are marked at the oracle median of the latest
//! observations (ignoring the heartbeat: a mark needs a price even when trading would not).
//!
//! **Tranches** (Hegic-style first loss). Each tranche has a book value: its claim at the last
//! crystallisation. The pool's P&L since then, `NAV − Σ books`, is shared: a gain by weight ×
//! book (junior weight 2 per unit of capital, senior 1), a loss junior first and senior only
//! once junior's book is gone. Crystallising (when LP flows are processed) folds the shares into
//! the books; between flows the split depends only on the cumulative P&L, not on its path. Junior's gain share is rounded down; senior receives the rest.

use crate::command::Tranche;
use crate::reject::Reject;
use crate::state::{Pool, State};
use derivpool_types::{mul, mul_div, Base, Fixed, MathError, Price, Quote, Rounding};

/// Latest price of an asset for marks (median of every source's latest observation).
pub fn mark_price(state: &State, asset: &str) -> Option<Price> {
    state.oracle.spot(asset, state.t, u64::MAX)
}

/// The pool's reserved perp notional: Σ |skew| × mark price.
pub fn perp_reserved(state: &State, pool: &Pool) -> Result<Quote, MathError> {
    let mut total = Quote::ZERO;
    for m in pool.markets.values() {
        let skew = m.perp.skew().checked_abs()?;
        if skew.is_zero() {
            continue;
        }
        if let Some(p) = mark_price(state, &m.underlying) {
            total = total.checked_add(mul(skew, p, Rounding::Up)?)?;
        }
    }
    Ok(total)
}

/// Value of the pool's side of a perp: −Σ trader unrealised P&L plus what traders owe.
pub fn perp_value(state: &State, pool: &Pool, underlying: &str) -> Result<Quote, MathError> {
    let m = &pool.markets[underlying];
    let perp = &m.perp;
    let skew = perp.skew();
    let Some(price) = mark_price(state, underlying) else {
        return Ok(Quote::ZERO);
    };
    let mark: Quote = mul(skew, price, Rounding::Up)?;
    let traders_upnl = mark.checked_sub(perp.entry_value_sum)?;
    let funding_owed = mul::<_, _, Quote>(skew, perp.funding_index, Rounding::Down)?
        .checked_sub(perp.funding_weight_sum)?;
    let borrow_owed =
        mul::<_, _, Quote>(perp.borrow_notional_sum, perp.borrow_index, Rounding::Down)?
            .checked_sub(perp.borrow_weight_sum)?;
    traders_upnl
        .checked_neg()?
        .checked_add(funding_owed)?
        .checked_add(borrow_owed)
}

/// Pool NAV in its quote asset.
pub fn nav(state: &State, pool: &Pool) -> Result<Quote, MathError> {
    let mut v = pool.cash;
    for (u, m) in &pool.markets {
        for b in m.boards.values() {
            v = v.checked_add(b.cache.option_value)?;
        }
        if !m.perp.long_oi.is_zero() || !m.perp.short_oi.is_zero() {
            v = v.checked_add(perp_value(state, pool, u)?)?;
        }
    }
    v = v.checked_add(crate::hedger::hedge_value(state, pool)?)?;
    Ok(v)
}

/// Free liquidity: cash − locked − reserved.
pub fn free_liquidity(state: &State, pool: &Pool) -> Result<Quote, MathError> {
    pool.cash
        .checked_sub(pool.locked)?
        .checked_sub(perp_reserved(state, pool)?)
}

/// Utilisation (locked + reserved) / cash, as a float for metrics.
pub fn utilisation(state: &State, pool: &Pool) -> Result<f64, MathError> {
    let used = pool.locked.checked_add(perp_reserved(state, pool)?)?;
    Ok(if pool.cash > Quote::ZERO {
        used.to_f64() / pool.cash.to_f64()
    } else if used.is_zero() {
        0.0
    } else {
        1.0
    })
}

/// Tranche NAVs (senior, junior) for a pool NAV.
pub fn tranche_navs(pool: &Pool, nav: Quote) -> Result<(Quote, Quote), MathError> {
    let book = |t: Tranche| {
        pool.vault
            .tranches
            .get(&t)
            .map(|s| s.book)
            .unwrap_or(Quote::ZERO)
    };
    let (bs, bj) = (book(Tranche::Senior), book(Tranche::Junior));
    let pnl = nav.checked_sub(bs.checked_add(bj)?)?;
    if pnl >= Quote::ZERO {
        let wj = bj.mul_ratio(pool.params.junior_weight, Rounding::Down)?;
        let weight_sum = wj.checked_add(bs)?;
        let junior_gain = if weight_sum.is_zero() {
            Quote::ZERO
        } else {
            Quote::from_raw(mul_div(
                pnl.raw(),
                wj.raw(),
                weight_sum.raw(),
                Rounding::Down,
            )?)
        };
        // With no capital at all, gains stay unallocated in senior (the pool's residual).
        Ok((
            bs.checked_add(pnl.checked_sub(junior_gain)?)?,
            bj.checked_add(junior_gain)?,
        ))
    } else {
        let loss = pnl.checked_neg()?;
        let junior_loss = loss.min(bj.max(Quote::ZERO));
        Ok((
            bs.checked_sub(loss.checked_sub(junior_loss)?)?,
            bj.checked_sub(junior_loss)?,
        ))
    }
}

/// Share price of a tranche (quote per share), rounded down; 1 before genesis.
pub fn share_price(pool: &Pool, tranche: Tranche, tranche_nav: Quote) -> Result<Price, MathError> {
    let shares = pool
        .vault
        .tranches
        .get(&tranche)
        .map(|s| s.shares)
        .unwrap_or_default();
    if shares.is_zero() {
        return Ok(Price::ONE);
    }
    derivpool_types::div(tranche_nav, shares, Rounding::Down)
}

/// Rejects any trade against a pool with no LP shares yet.
pub fn check_capital(pool: &Pool) -> Result<(), Reject> {
    let has_shares = pool.vault.tranches.values().any(|t| !t.shares.is_zero());
    if has_shares {
        Ok(())
    } else {
        Err(crate::reject!(
            EmptyPool,
            "pool {} has no LP capital yet",
            pool.name
        ))
    }
}

/// Rejects new risk when junior capital is below `junior_min_ratio` of senior.
pub fn check_junior(pool: &Pool) -> Result<(), Reject> {
    let book = |t: Tranche| {
        pool.vault
            .tranches
            .get(&t)
            .map(|s| s.book)
            .unwrap_or(Quote::ZERO)
    };
    let (bs, bj) = (book(Tranche::Senior), book(Tranche::Junior));
    let floor = bs.mul_ratio(pool.params.junior_min_ratio, Rounding::Up)?;
    if bs > Quote::ZERO && bj < floor {
        return Err(crate::reject!(
            JuniorTooThin,
            "pool {}: junior capital {bj} is below {} × senior ({floor})",
            pool.name,
            pool.params.junior_min_ratio
        ));
    }
    if bs.checked_add(bj)? <= Quote::ZERO {
        return Err(crate::reject!(
            EmptyPool,
            "pool {} has no LP capital",
            pool.name
        ));
    }
    Ok(())
}

/// Pool-wide net delta from options (cache) and perps (the pool holds −skew), base units.
pub fn net_delta(pool: &Pool) -> Result<Base, MathError> {
    let mut d = Base::ZERO;
    for m in pool.markets.values() {
        for b in m.boards.values() {
            d = d.checked_add(b.cache.net_delta)?;
        }
        d = d.checked_sub(m.perp.skew())?;
    }
    Ok(d)
}
