//! Loss waterfall (DESIGN.md §5.8): bad debt — a loss a trader cannot pay — is paid, in this
//! order, by
//!
//! 1. the account's remaining collateral (already used by the time a shortfall exists),
//! 2. the **insurance fund** (moved into the pool's cash),
//! 3. the **junior** tranche, up to its NAV,
//! 4. the **senior** tranche.
//!
//! Layers 3 and 4 are the pool's NAV loss, shared by the tranche rule of [`crate::nav`] (junior
//! first); the tranches are crystallised at once so the loss stays where the waterfall put it.
//! Every layer that pays is a `bad_debt_paid` event and accumulates in the pool's
//! [`BadDebtLayers`] metric.

use crate::command::Tranche;
use crate::event::Event;
use crate::nav;
use crate::state::State;
use derivpool_types::{Fixed, MathError, Quote};
use serde::{Deserialize, Serialize};

/// Bad debt paid so far, by layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadDebtLayers {
    /// Paid by the insurance fund.
    pub insurance_fund: Quote,
    /// Borne by the junior tranche.
    pub junior: Quote,
    /// Borne by the senior tranche.
    pub senior: Quote,
}

/// Runs a shortfall of `amount` (already missing from the pool's cash) through the waterfall.
pub fn absorb(state: &mut State, pool_name: &str, amount: Quote) -> Result<Vec<Event>, MathError> {
    let mut events = Vec::new();
    if amount <= Quote::ZERO {
        return Ok(events);
    }
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    pool.bad_debt = pool.bad_debt.checked_add(amount)?;
    let from_fund = amount.min(pool.insurance_fund.max(Quote::ZERO));
    if from_fund > Quote::ZERO {
        pool.insurance_fund = pool.insurance_fund.checked_sub(from_fund)?;
        pool.cash = pool.cash.checked_add(from_fund)?;
        pool.bad_debt_paid.insurance_fund =
            pool.bad_debt_paid.insurance_fund.checked_add(from_fund)?;
        events.push(paid(pool_name, "insurance_fund", from_fund));
    }
    let rest = amount.checked_sub(from_fund)?;
    if rest > Quote::ZERO {
        // The NAV already lacks `rest`; the tranche rule put it on junior first. Split it the
        // same way against the tranche NAVs as they were before the loss.
        let pool = &state.pools[pool_name];
        let nav_now = nav::nav(state, pool)?;
        let (_, junior_before) = nav::tranche_navs(pool, nav_now.checked_add(rest)?)?;
        let junior = rest.min(junior_before.max(Quote::ZERO));
        let senior = rest.checked_sub(junior)?;
        let pool = state.pools.get_mut(pool_name).expect("pool exists");
        if junior > Quote::ZERO {
            pool.bad_debt_paid.junior = pool.bad_debt_paid.junior.checked_add(junior)?;
            events.push(paid(pool_name, Tranche::Junior.as_str(), junior));
        }
        if senior > Quote::ZERO {
            pool.bad_debt_paid.senior = pool.bad_debt_paid.senior.checked_add(senior)?;
            events.push(paid(pool_name, Tranche::Senior.as_str(), senior));
        }
        if let Some(e) = crate::vault::crystallise(state, pool_name)? {
            events.push(e);
        }
    }
    Ok(events)
}

fn paid(pool: &str, layer: &str, amount: Quote) -> Event {
    Event::BadDebtPaid {
        pool: pool.to_string(),
        layer: layer.to_string(),
        amount,
    }
}
