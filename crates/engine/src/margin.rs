//! Trader margin and health (Derive standard and portfolio managers, Mango health; DESIGN.md
//! §5.6).
//!
//! **Collateral**: each balance is valued at its oracle price × a haircut — the pool's quote
//! asset at 1, an asset listed as an underlying at `collateral_haircut_initial` (0.8) for initial
//! and `collateral_haircut_maintenance` (0.9) for maintenance; other assets count 0. Collateral
//! locked in isolated short options counts at 1.
//!
//! **Portfolio value** `PV` = Σ options size × BS(spot, mark vol) + Σ perps (size × spot − entry
//! value − funding/borrow owed). Mark vols are the greek cache's GWAV vols.
//!
//! **Requirements**
//! - *Isolated* accounts (the default): per position — a perp's initial/maintenance margin
//!   ([`crate::perp::margins`]); a short option's initial requirement is
//!   `|size| × max(0, min collateral − mark)` (the isolated minimum collateral of §5.2 beyond the
//!   option's own value, which PV already counts), its maintenance requirement that ÷ 1.25.
//!   Long options need nothing.
//! - *Portfolio* accounts: per underlying, the worst loss over the scenario grid — spot shocks
//!   from −20 % to +20 % in 5 % steps, each with vol up, unchanged and down, vol multiples
//!   `up = 1 + 0.6·m`, `down = max(0, 1 − 0.3·m)`, `m = (30 days / T)^p`, p = 0.3 up to 30 days
//!   and 0.13 beyond — and the tail points (−50 %, +100 %, vol unchanged) at a damped weight
//!   (0.5); plus static charges: 2 % of spot per naked short contract, 3 % of perp notional, and
//!   the oracle confidence × gross notional when confidence exceeds its threshold.
//!   Maintenance = Σ underlyings; initial = 1.25 × maintenance.
//!
//! **Health**
//! ```text
//! maintenance health = collateral(maintenance haircuts) + PV − maintenance requirement
//! initial health     = collateral(initial haircuts) + PV − max(0, perp profit − cap)
//!                      − initial requirement,   cap = upnl_initial_cap × collateral
//! ```
//! Unrealised perp profit counts toward initial margin only up to the cap (Drift; the Mango
//! exploit of 2022 borrowed against unrealised profit). Since initial haircuts ≤ maintenance
//! haircuts and the initial requirement ≥ the maintenance one, initial health ≤ maintenance
//! health for every account (the health ordering, invariant 6). A risk-increasing command must
//! leave initial health ≥ 0; an account is liquidatable when maintenance health < 0.
//!
//! Values are computed in floats from fixed-point inputs and quantised against the trader:
//! collateral and PV round down, requirements round up.

use crate::collateral::min_collateral_per_contract;
use crate::instrument::{expiry_unix, Instrument};
use crate::params::Params;
use crate::pricing_ctx::{BoardCtx, YEAR_S};
use crate::state::{Account, State};
use derivpool_pricing::{bsm_price, BsmInputs, OptionKind};
use derivpool_types::{Fixed, MathError, Price, Quote, Rounding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How an account is margined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarginMode {
    /// Per-position rules (isolated collateral for short options, perp margins).
    #[default]
    Isolated,
    /// Worst loss over the scenario grid across all positions.
    Portfolio,
}

/// Which price of an asset margin is computed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceBasis {
    /// The median of every source's latest observation.
    Median,
    /// The median's time-weighted average over `twap_window_s`.
    Twap,
}

/// Price of `asset` on a basis (the quote asset of some pool is 1).
pub fn price(state: &State, asset: &str, basis: PriceBasis) -> Option<Price> {
    match basis {
        PriceBasis::Median => state.oracle.spot(asset, state.t, u64::MAX),
        PriceBasis::Twap => {
            let window = state
                .pools
                .values()
                .find_map(|p| p.markets.get(asset))
                .map(|m| m.params.twap_window_s)
                .unwrap_or(600);
            state
                .oracle
                .twap(asset, state.t, window)
                .or_else(|| state.oracle.spot(asset, state.t, u64::MAX))
        }
    }
}

/// An account's health in one quote asset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Collateral at initial haircuts (locked collateral included).
    pub collateral_initial: Quote,
    /// Collateral at maintenance haircuts.
    pub collateral_maintenance: Quote,
    /// Portfolio value: options at mark, perps' unrealised P&L net of what they owe.
    pub portfolio_value: Quote,
    /// Unrealised perp profit beyond the cap (removed from initial health).
    pub upnl_excess: Quote,
    /// Initial requirement.
    pub initial_requirement: Quote,
    /// Maintenance requirement.
    pub maintenance_requirement: Quote,
    /// Initial health.
    pub initial: Quote,
    /// Maintenance health.
    pub maintenance: Quote,
    /// Whether the account holds any position in this quote asset's pools.
    pub has_positions: bool,
}

/// Number of scenarios of the main grid.
fn grid(p: &Params) -> Vec<f64> {
    let max = p.scenario_spot_max.to_f64();
    let step = p.scenario_spot_step.to_f64().max(1e-6);
    let n = (max / step + 1e-9).floor() as i64;
    (-n..=n).map(|i| i as f64 * step).collect()
}

/// Vol multiples (up, down) for `days` to expiry.
pub fn vol_multiples(days: f64, p: &Params) -> (f64, f64) {
    let exponent = if days <= 30.0 { 0.3 } else { 0.13 };
    let m = libm::pow(30.0 / days.max(1.0 / 24.0), exponent);
    (
        1.0 + p.scenario_vol_up.to_f64() * m,
        (1.0 - p.scenario_vol_down.to_f64() * m).max(0.0),
    )
}

fn bs(kind: OptionKind, spot: f64, strike: f64, t: f64, rate: f64, vol: f64) -> f64 {
    bsm_price(&BsmInputs {
        kind,
        spot,
        strike,
        t: t.max(0.0),
        rate,
        div: 0.0,
        vol: vol.max(0.0),
    })
    .unwrap_or(0.0)
}

/// One position, valued for margin.
struct Valued<'a> {
    underlying: String,
    spot: f64,
    params: &'a Params,
    /// Vol multiples (up, down) for this position's term (options only).
    vol_mult: (f64, f64),
    value: f64,
    /// Option: (kind, strike, years, rate, vol, size); perp: size in `size`.
    option: Option<(OptionKind, f64, f64, f64, f64)>,
    size: f64,
    upnl: f64,
    isolated_im: f64,
    isolated_mm: f64,
}

/// Health of `account` (given as a value, so callers can test a hypothetical account) in the
/// pools of `quote_asset`, at prices on `basis`.
pub fn health_of(
    state: &State,
    account: &Account,
    mode: MarginMode,
    quote_asset: &str,
    basis: PriceBasis,
) -> Result<Health, MathError> {
    let mut valued: Vec<Valued> = Vec::new();
    let mut locked = 0.0;
    for (pool_name, positions) in &account.positions {
        let Some(pool) = state.pools.get(pool_name) else {
            continue;
        };
        if pool.quote_asset != quote_asset {
            continue;
        }
        for (name, pos) in positions {
            locked += pos.collateral.to_f64();
            let Ok(instrument) = Instrument::parse(name) else {
                continue;
            };
            let underlying = instrument.underlying().to_string();
            let Some(market) = pool.markets.get(&underlying) else {
                continue;
            };
            let Some(spot) = price(state, &underlying, basis) else {
                continue;
            };
            let spot = spot.to_f64();
            let size = pos.size.to_f64();
            let p = &market.params;
            match instrument {
                Instrument::Perp { .. } => {
                    let owed = crate::perp::owed(&market.perp, pos)?.to_f64();
                    let upnl = size * spot - pos.entry_value.to_f64();
                    let (im, mm) =
                        crate::perp::margins(pos.size, Price::from_f64(spot, Rounding::Up)?, p)?;
                    valued.push(Valued {
                        underlying,
                        spot,
                        params: p,
                        vol_mult: (1.0, 1.0),
                        value: upnl - owed,
                        option: None,
                        size,
                        upnl,
                        isolated_im: im.to_f64(),
                        isolated_mm: mm.to_f64(),
                    });
                }
                Instrument::Option {
                    expiry,
                    strike,
                    kind,
                    ..
                } => {
                    let expiry_t = expiry_unix(&expiry).unwrap_or(0);
                    let Some(board) = market.boards.get(&expiry_t) else {
                        continue;
                    };
                    let Some(s) = board.strikes.get(&strike) else {
                        continue;
                    };
                    let years = expiry_t.saturating_sub(state.t) as f64 / YEAR_S;
                    let rate = p.rate.to_f64();
                    let vol = s.greeks.mark_vol.to_f64();
                    let k = strike.to_f64();
                    let mark = bs(kind, spot, k, years, rate, vol);
                    let (im, mm) = if size < 0.0 {
                        let ctx = BoardCtx {
                            spot,
                            t_years: years,
                            rate,
                            forward: spot * libm::exp(rate * years),
                            slices: Vec::new(),
                        };
                        let per = (min_collateral_per_contract(&ctx, kind, strike, vol, p) - mark)
                            .max(0.0);
                        let im = -size * per;
                        (im, im / p.margin_initial_multiple.to_f64())
                    } else {
                        (0.0, 0.0)
                    };
                    valued.push(Valued {
                        underlying,
                        spot,
                        params: p,
                        vol_mult: if mode == MarginMode::Portfolio {
                            vol_multiples(years * 365.0, p)
                        } else {
                            (1.0, 1.0)
                        },
                        value: size * mark,
                        option: Some((kind, k, years, rate, vol)),
                        size,
                        upnl: 0.0,
                        isolated_im: im,
                        isolated_mm: mm,
                    });
                }
            }
        }
    }
    // Collateral.
    let mut coll_i = locked;
    let mut coll_m = locked;
    for (asset, bal) in &account.balances {
        let b = bal.to_f64();
        if asset == quote_asset {
            coll_i += b;
            coll_m += b;
            continue;
        }
        let listing = state
            .pools
            .values()
            .filter(|p| p.quote_asset == quote_asset)
            .find_map(|p| p.markets.get(asset));
        if let (Some(m), Some(px)) = (listing, price(state, asset, basis)) {
            let v = b * px.to_f64();
            coll_i += v * m.params.collateral_haircut_initial.to_f64();
            coll_m += v * m.params.collateral_haircut_maintenance.to_f64();
        }
    }
    let pv: f64 = valued.iter().map(|v| v.value).sum();
    let upnl_pos: f64 = valued.iter().map(|v| v.upnl.max(0.0)).sum();
    let (mut im, mut mm) = (0.0, 0.0);
    match mode {
        MarginMode::Isolated => {
            for v in &valued {
                im += v.isolated_im;
                mm += v.isolated_mm;
            }
        }
        MarginMode::Portfolio => {
            let mut by_underlying: BTreeMap<&str, Vec<&Valued>> = BTreeMap::new();
            for v in &valued {
                by_underlying.entry(&v.underlying).or_default().push(v);
            }
            for (underlying, vs) in by_underlying {
                let p = &vs[0].params;
                let spot = vs[0].spot;
                let mut worst = 0.0f64;
                for shock in grid(p) {
                    for vol_state in 0..3 {
                        let mut pnl = 0.0;
                        for v in &vs {
                            pnl += scenario_pnl(v, spot * (1.0 + shock), vol_state);
                        }
                        worst = worst.max(-pnl);
                    }
                }
                let mut tail = 0.0f64;
                for shock in [-p.scenario_tail_down.to_f64(), p.scenario_tail_up.to_f64()] {
                    let pnl: f64 = vs
                        .iter()
                        .map(|v| scenario_pnl(v, spot * (1.0 + shock), 1))
                        .sum();
                    tail = tail.max(-pnl);
                }
                let mut req = worst.max(p.scenario_tail_weight.to_f64() * tail);
                let mut gross = 0.0;
                for v in &vs {
                    gross += v.size.abs() * spot;
                    match v.option {
                        Some(_) if v.size < 0.0 => {
                            req += -v.size * spot * p.static_short_charge.to_f64()
                        }
                        None => req += v.size.abs() * spot * p.static_perp_charge.to_f64(),
                        _ => {}
                    }
                }
                let conf = state
                    .oracle
                    .confidence(underlying, state.t, p.spot_heartbeat_s);
                if conf > p.confidence_charge_threshold.to_f64() {
                    req += conf * gross;
                }
                mm += req;
                im += req * p.margin_initial_multiple.to_f64();
            }
        }
    }
    let cap = valued
        .first()
        .map(|v| v.params.upnl_initial_cap.to_f64())
        .unwrap_or(0.0)
        * coll_i.max(0.0);
    let upnl_excess = (upnl_pos - cap).max(0.0);
    let q = |x: f64, r| Quote::from_f64(x, r);
    let down = Rounding::Down;
    let up = Rounding::Up;
    let collateral_initial = q(coll_i, down)?;
    let collateral_maintenance = q(coll_m, down)?;
    let portfolio_value = q(pv, down)?;
    let upnl_excess = q(upnl_excess, up)?;
    let initial_requirement = q(im, up)?;
    let maintenance_requirement = q(mm, up)?;
    Ok(Health {
        collateral_initial,
        collateral_maintenance,
        portfolio_value,
        upnl_excess,
        initial_requirement,
        maintenance_requirement,
        initial: collateral_initial
            .checked_add(portfolio_value)?
            .checked_sub(upnl_excess)?
            .checked_sub(initial_requirement)?,
        maintenance: collateral_maintenance
            .checked_add(portfolio_value)?
            .checked_sub(maintenance_requirement)?,
        has_positions: !valued.is_empty(),
    })
}

/// P&L of one position when spot moves to `spot` and vol to state 0 (up), 1 (same), 2 (down).
fn scenario_pnl(v: &Valued<'_>, spot: f64, vol_state: u8) -> f64 {
    match v.option {
        None => v.size * (spot - v.spot),
        Some((kind, k, years, rate, vol)) => {
            let (up, down) = v.vol_mult;
            let mult = match vol_state {
                0 => up,
                1 => 1.0,
                _ => down,
            };
            v.size * bs(kind, spot, k, years, rate, vol * mult) - v.value
        }
    }
}

/// Health of a named account (its stored state).
pub fn account_health(
    state: &State,
    account: &str,
    quote_asset: &str,
    basis: PriceBasis,
) -> Result<Health, MathError> {
    match state.accounts.get(account) {
        Some(a) => health_of(state, a, a.margin, quote_asset, basis),
        None => Ok(Health::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_runs_from_minus_to_plus_twenty_percent() {
        let g = grid(&Params::default());
        assert_eq!(g.len(), 9);
        assert!((g[0] + 0.2).abs() < 1e-12 && (g[8] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn vol_shocks_grow_for_short_expiries() {
        let p = Params::default();
        let (up30, down30) = vol_multiples(30.0, &p);
        assert!((up30 - 1.6).abs() < 1e-12 && (down30 - 0.7).abs() < 1e-12);
        let (up7, _) = vol_multiples(7.0, &p);
        assert!((up7 - (1.0 + 0.6 * (30.0f64 / 7.0).powf(0.3))).abs() < 1e-12);
        let (up90, _) = vol_multiples(90.0, &p);
        assert!((up90 - (1.0 + 0.6 * (30.0f64 / 90.0).powf(0.13))).abs() < 1e-12);
    }
}
