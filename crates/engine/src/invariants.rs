//! Invariants of DESIGN.md §6, checked after every command in tests and debug builds (a
//! violation panics there) and on demand in release ([`crate::Engine::verify`]).
//!
//! 1. **Conservation**, per asset: Σ account balances + Σ collateral locked in positions (pool
//!    quote asset) + Σ pools' cash, queued deposits and insurance fund = external deposits −
//!    external withdrawals, exactly.
//! 2. **Zero sum**: for every option series Σ trader positions + the pool's position = 0; for
//!    every perp Σ trader positions = long OI − short OI (the pool holds the opposite).
//! 5. **Solvency bookkeeping**: the pool's cash is never negative; queued deposit cash equals the
//!    queue; a tranche's shares equal its holders' + dead + escrowed shares.
//! 6. **Health ordering**: for every account with positions, initial requirement ≥ maintenance
//!    requirement and initial health ≤ maintenance health ([`crate::margin`]).
//! 7. **Aggregates**: open interest, entry values and funding/borrow weights equal the sums over
//!    positions; each board's greek cache equals its recomputation from positions; the pool's
//!    locked collateral equals the sum of its strikes' locks.
//!
//! Invariant 3 (rounding against the user), 4 (share price) and 8 (determinism) are properties of
//! sequences and are tested as such (`tests/properties.rs`).

use crate::cache;
use crate::command::Tranche;
use crate::instrument::{option_name, perp_name};
use crate::state::State;
use derivpool_pricing::OptionKind;
use derivpool_types::{mul, Base, Fixed, Quote, Rounding, Shares};
use std::collections::BTreeMap;

/// Every violation found, as human-readable lines (empty when all hold).
pub fn check(state: &State) -> Vec<String> {
    let mut v = Vec::new();
    conservation(state, &mut v);
    positions(state, &mut v);
    vaults(state, &mut v);
    health_ordering(state, &mut v);
    v
}

/// Invariant 6: initial requirement ≥ maintenance requirement and initial health ≤ maintenance
/// health, for every account with positions.
fn health_ordering(state: &State, v: &mut Vec<String>) {
    let quote_assets = state.quote_assets();
    for (name, acc) in &state.accounts {
        if acc.positions.is_empty() {
            continue;
        }
        for q in &quote_assets {
            match crate::margin::health_of(
                state,
                acc,
                acc.margin,
                q,
                crate::margin::PriceBasis::Median,
            ) {
                Ok(h) => {
                    if h.initial_requirement < h.maintenance_requirement
                        || h.initial > h.maintenance
                    {
                        v.push(format!("{name} ({q}): health ordering broken: {h:?}"));
                    }
                }
                Err(e) => v.push(format!("{name}: health failed: {e}")),
            }
        }
    }
}

fn conservation(state: &State, v: &mut Vec<String>) {
    let mut held: BTreeMap<&str, i128> = BTreeMap::new();
    for acc in state.accounts.values() {
        for (asset, bal) in &acc.balances {
            *held.entry(asset).or_default() += bal.raw();
        }
        for (pool_name, ps) in &acc.positions {
            let Some(pool) = state.pools.get(pool_name) else {
                v.push(format!("position in unknown pool {pool_name}"));
                continue;
            };
            for p in ps.values() {
                *held.entry(&pool.quote_asset).or_default() += p.collateral.raw();
            }
        }
    }
    for pool in state.pools.values() {
        *held.entry(&pool.quote_asset).or_default() +=
            pool.cash.raw() + pool.vault.queued_deposit_cash.raw() + pool.insurance_fund.raw();
    }
    let mut assets: Vec<&str> = held.keys().copied().collect();
    assets.extend(state.external.keys().map(String::as_str));
    assets.sort_unstable();
    assets.dedup();
    for asset in assets {
        let inside = held.get(asset).copied().unwrap_or(0);
        let ext = state.external.get(asset).copied().unwrap_or_default();
        let net = ext.deposited.raw() - ext.withdrawn.raw();
        if inside != net {
            v.push(format!(
                "conservation of {asset}: held inside {} != deposited − withdrawn {}",
                Quote::from_raw(inside),
                Quote::from_raw(net)
            ));
        }
    }
}

fn positions(state: &State, v: &mut Vec<String>) {
    for pool in state.pools.values() {
        let mut trader_sum: BTreeMap<String, i128> = BTreeMap::new();
        let mut perp_terms: BTreeMap<String, [i128; 6]> = BTreeMap::new();
        for acc in state.accounts.values() {
            let Some(ps) = acc.positions.get(&pool.name) else {
                continue;
            };
            for (name, p) in ps {
                *trader_sum.entry(name.clone()).or_default() += p.size.raw();
                if name.ends_with("-PERP") {
                    let t = perp_terms.entry(name.clone()).or_default();
                    t[0] += p.size.raw().max(0);
                    t[1] += (-p.size.raw()).max(0);
                    t[2] += p.entry_value.raw();
                    t[3] += mul::<_, _, Quote>(p.size, p.funding_index, Rounding::Down)
                        .map(|q| q.raw())
                        .unwrap_or(i128::MIN);
                    let notional = p.entry_value.raw().abs();
                    t[4] += notional;
                    t[5] += mul::<_, _, Quote>(
                        Quote::from_raw(notional),
                        p.borrow_index,
                        Rounding::Down,
                    )
                    .map(|q| q.raw())
                    .unwrap_or(i128::MIN);
                }
            }
        }
        let mut locked = Quote::ZERO;
        for (u, m) in &pool.markets {
            let perp = &m.perp;
            let name = perp_name(u);
            let t = perp_terms.remove(&name).unwrap_or_default();
            let want = [
                perp.long_oi.raw(),
                perp.short_oi.raw(),
                perp.entry_value_sum.raw(),
                perp.funding_weight_sum.raw(),
                perp.borrow_notional_sum.raw(),
                perp.borrow_weight_sum.raw(),
            ];
            if t != want {
                v.push(format!(
                    "{} {name}: aggregates {want:?} != sums over positions {t:?}",
                    pool.name
                ));
            }
            trader_sum.remove(&name);
            for b in m.boards.values() {
                for s in b.strikes.values() {
                    for (kind, pool_pos) in [
                        (OptionKind::Call, s.pool_calls),
                        (OptionKind::Put, s.pool_puts),
                    ] {
                        let series = option_name(u, &b.expiry, s.strike, kind);
                        let traders = trader_sum.remove(&series).unwrap_or(0);
                        if traders + pool_pos.raw() != 0 {
                            v.push(format!(
                                "{} {series}: traders hold {} but the pool holds {pool_pos}",
                                pool.name,
                                Base::from_raw(traders)
                            ));
                        }
                    }
                    locked = locked.checked_add(s.pool_locked).unwrap_or(Quote::MAX);
                }
                match cache::recompute(b) {
                    Ok(c) if c == b.cache => {}
                    Ok(c) => v.push(format!(
                        "{} {u} {}: greek cache {:?} != recomputed {c:?}",
                        pool.name, b.expiry, b.cache
                    )),
                    Err(e) => v.push(format!(
                        "{} {u} {}: recompute failed: {e}",
                        pool.name, b.expiry
                    )),
                }
            }
        }
        for (series, size) in trader_sum {
            if size != 0 {
                v.push(format!(
                    "{} {series}: traders hold positions in no listed series",
                    pool.name
                ));
            }
        }
        if locked != pool.locked {
            v.push(format!(
                "{}: locked {} != Σ strike locks {locked}",
                pool.name, pool.locked
            ));
        }
    }
}

fn vaults(state: &State, v: &mut Vec<String>) {
    for pool in state.pools.values() {
        if pool.cash < Quote::ZERO {
            v.push(format!("{}: cash {} is negative", pool.name, pool.cash));
        }
        let queued: i128 = pool
            .vault
            .deposit_queue
            .iter()
            .map(|d| d.amount.raw())
            .sum();
        if queued != pool.vault.queued_deposit_cash.raw() {
            v.push(format!(
                "{}: queued deposit cash differs from the queue",
                pool.name
            ));
        }
        for tranche in Tranche::ALL {
            let Some(t) = pool.vault.tranches.get(&tranche) else {
                continue;
            };
            let escrowed: i128 = pool
                .vault
                .withdrawal_queue
                .iter()
                .filter(|w| w.tranche == tranche)
                .map(|w| w.shares.raw())
                .sum();
            let held: i128 = t.holders.values().map(|s| s.raw()).sum();
            if held + escrowed + t.dead_shares.raw() != t.shares.raw() {
                v.push(format!(
                    "{} {}: shares {} != holders {} + escrowed {} + dead {}",
                    pool.name,
                    tranche.as_str(),
                    t.shares,
                    Shares::from_raw(held),
                    Shares::from_raw(escrowed),
                    t.dead_shares
                ));
            }
        }
    }
}
