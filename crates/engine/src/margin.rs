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
//!
//! **Evaluation.** [`health_of`] sums positions in the account's order (pool, then instrument
//! name) and prices each asset once per evaluation; [`health_with`] evaluates an account with a
//! hypothetical balance or position change (a trade's or withdrawal's "after") without copying
//! it, with exactly the result of the changed copy. [`surely_healthy`] is a cheap sufficient test
//! (no option priced) that maintenance health is ≥ 0, used by the liquidation scan.

use crate::instrument::InstrumentRef;
use crate::params::Params;
use crate::pricing_ctx::YEAR_S;
use crate::state::{Account, Position, State};
use derivpool_pricing::{bsm_price, BsmInputs, OptionKind};
use derivpool_types::{Base, Fixed, MathError, Price, Quote, Rounding};
use serde::{Deserialize, Serialize};

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

/// The spot shocks of the main grid: `i × step` for `i` in `−n..=n`, `n = ⌊max / step⌋`.
fn grid_points(p: &Params) -> impl Iterator<Item = f64> {
    let max = p.scenario_spot_max.to_f64();
    let step = p.scenario_spot_step.to_f64().max(1e-6);
    let n = (max / step + 1e-9).floor() as i64;
    (-n..=n).map(move |i| i as f64 * step)
}

/// The spot shocks of the main grid, as a list.
#[cfg(test)]
fn grid(p: &Params) -> Vec<f64> {
    grid_points(p).collect()
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

#[inline]
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

/// One position, valued for the portfolio grid.
struct Valued<'a> {
    underlying: &'a str,
    spot: f64,
    params: &'a Params,
    /// Vol multiples (up, down) for this position's term (options only).
    vol_mult: (f64, f64),
    value: f64,
    /// Option: (kind, strike, years, rate, vol); perp: `None`.
    option: Option<(OptionKind, f64, f64, f64, f64)>,
    size: f64,
}

/// A change to an account that [`health_with`] evaluates as if it had been made, without
/// copying the account: the health is exactly that of the changed copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hypothetical<'a> {
    /// Sets the free balance of an asset (added when absent).
    pub balance: Option<(&'a str, Quote)>,
    /// Sets the size and collateral of a position (added, with default other fields, when
    /// absent).
    pub position: Option<HypotheticalPosition<'a>>,
}

/// A position's size and collateral, set by a [`Hypothetical`].
#[derive(Debug, Clone, Copy)]
pub struct HypotheticalPosition<'a> {
    /// Pool.
    pub pool: &'a str,
    /// Instrument name.
    pub instrument: &'a str,
    /// New size.
    pub size: Base,
    /// New locked collateral.
    pub collateral: Quote,
}

impl HypotheticalPosition<'_> {
    fn apply(&self, old: Option<&Position>) -> Position {
        Position {
            size: self.size,
            collateral: self.collateral,
            ..old.cloned().unwrap_or_default()
        }
    }
}

/// Calls `f(pool, instrument, position)` for every position of `account` with `edit` applied,
/// in the order of the edited account's maps (pool name, then instrument name).
fn for_each_position<'a, E>(
    account: &'a Account,
    edit: Option<HypotheticalPosition<'a>>,
    mut f: impl FnMut(&'a str, &'a str, &Position) -> Result<(), E>,
) -> Result<(), E> {
    let mut pending = edit;
    for (pool_name, positions) in &account.positions {
        if let Some(e) = pending {
            if e.pool < pool_name.as_str() {
                f(e.pool, e.instrument, &e.apply(None))?;
                pending = None;
            } else if e.pool == pool_name {
                pending = None;
                let mut done = false;
                for (name, pos) in positions {
                    if !done && e.instrument <= name.as_str() {
                        done = true;
                        if e.instrument == name {
                            f(pool_name, name, &e.apply(Some(pos)))?;
                            continue;
                        }
                        f(pool_name, e.instrument, &e.apply(None))?;
                    }
                    f(pool_name, name, pos)?;
                }
                if !done {
                    f(pool_name, e.instrument, &e.apply(None))?;
                }
                continue;
            }
        }
        for (name, pos) in positions {
            f(pool_name, name, pos)?;
        }
    }
    if let Some(e) = pending {
        f(e.pool, e.instrument, &e.apply(None))?;
    }
    Ok(())
}

/// Calls `f(asset, balance)` for every balance of `account` with `edit` applied, in asset order.
fn for_each_balance<'a>(
    account: &'a Account,
    edit: Option<(&'a str, Quote)>,
    mut f: impl FnMut(&'a str, Quote),
) {
    let mut pending = edit;
    for (asset, bal) in &account.balances {
        if let Some((e_asset, e_bal)) = pending {
            if e_asset <= asset.as_str() {
                pending = None;
                f(e_asset, e_bal);
                if e_asset == asset {
                    continue;
                }
            }
        }
        f(asset, *bal);
    }
    if let Some((e_asset, e_bal)) = pending {
        f(e_asset, e_bal);
    }
}

/// Prices looked up during one health evaluation, each asset once (the state does not change
/// during it, so a repeated lookup would give the same price).
#[derive(Clone)]
pub(crate) struct PriceCache<'a> {
    state: &'a State,
    basis: PriceBasis,
    entries: [(&'a str, Option<Price>); 4],
    len: usize,
}

impl<'a> PriceCache<'a> {
    pub(crate) fn new(state: &'a State, basis: PriceBasis) -> Self {
        PriceCache {
            state,
            basis,
            entries: [("", None); 4],
            len: 0,
        }
    }

    /// A cache holding the price of every listed underlying already (the first four), for
    /// many evaluations on the same state: each copy starts with them looked up.
    pub(crate) fn of_listed(state: &'a State, basis: PriceBasis) -> Self {
        let mut cache = PriceCache::new(state, basis);
        for pool in state.pools.values() {
            for underlying in pool.markets.keys() {
                cache.get(underlying);
            }
        }
        cache
    }

    fn get(&mut self, asset: &'a str) -> Option<Price> {
        if let Some((_, p)) = self.entries[..self.len].iter().find(|(a, _)| *a == asset) {
            return *p;
        }
        let p = price(self.state, asset, self.basis);
        if self.len < self.entries.len() {
            self.entries[self.len] = (asset, p);
            self.len += 1;
        }
        p
    }
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
    health_with(
        state,
        account,
        &Hypothetical::default(),
        mode,
        quote_asset,
        basis,
    )
}

/// Health of `account` with the change `edit` applied, exactly as [`health_of`] of the changed
/// copy (the same positions and balances in the same order, so the same float sums).
pub fn health_with<'a>(
    state: &'a State,
    account: &'a Account,
    edit: &Hypothetical<'a>,
    mode: MarginMode,
    quote_asset: &str,
    basis: PriceBasis,
) -> Result<Health, MathError> {
    let portfolio = mode == MarginMode::Portfolio;
    let mut prices = PriceCache::new(state, basis);
    // Sums in position order, as `Iterator::sum` would form them (it starts from −0.0).
    let mut locked = 0.0;
    let mut pv = -0.0;
    let mut upnl_pos = -0.0;
    let (mut im, mut mm) = (0.0, 0.0);
    let mut count = 0usize;
    let mut first_params: Option<&Params> = None;
    // Portfolio accounts keep their positions for the grid; isolated ones need only the sums.
    let mut valued: Vec<Valued<'a>> = Vec::new();
    let mut current_pool: Option<(&str, Option<&'a crate::state::Pool>)> = None;
    for_each_position(account, edit.position, |pool_name, name, pos| {
        let pool = match current_pool {
            Some((n, p)) if n == pool_name => p,
            _ => {
                let p = state
                    .pools
                    .get(pool_name)
                    .filter(|p| p.quote_asset == quote_asset);
                current_pool = Some((pool_name, p));
                p
            }
        };
        let Some(pool) = pool else {
            return Ok(());
        };
        locked += pos.collateral.to_f64();
        let Ok(instrument) = InstrumentRef::parse(name) else {
            return Ok(());
        };
        let underlying = instrument.underlying();
        let Some(market) = pool.markets.get(underlying) else {
            return Ok(());
        };
        let Some(spot) = prices.get(underlying) else {
            return Ok(());
        };
        let spot = spot.to_f64();
        let size = pos.size.to_f64();
        let p = &market.params;
        let (value, upnl, isolated_im, isolated_mm) = match instrument {
            InstrumentRef::Perp { .. } => {
                let owed = crate::perp::owed(&market.perp, pos)?.to_f64();
                let upnl = size * spot - pos.entry_value.to_f64();
                let (i, m) =
                    crate::perp::margins(pos.size, Price::from_f64(spot, Rounding::Up)?, p)?;
                if portfolio {
                    valued.push(Valued {
                        underlying,
                        spot,
                        params: p,
                        vol_mult: (1.0, 1.0),
                        value: upnl - owed,
                        option: None,
                        size,
                    });
                }
                (upnl - owed, upnl, i.to_f64(), m.to_f64())
            }
            InstrumentRef::Option {
                expiry_t,
                strike,
                kind,
                ..
            } => {
                let Some(board) = market.boards.get(&expiry_t) else {
                    return Ok(());
                };
                let Some(s) = board.strikes.get(&strike) else {
                    return Ok(());
                };
                let years = expiry_t.saturating_sub(state.t) as f64 / YEAR_S;
                let rate = p.rate.to_f64();
                let vol = s.greeks.mark_vol.to_f64();
                let k = strike.to_f64();
                let mark = bs(kind, spot, k, years, rate, vol);
                let (i, m) = if size < 0.0 && !portfolio {
                    let per =
                        (min_collateral(spot, years, rate, kind, strike, vol, p) - mark).max(0.0);
                    let i = -size * per;
                    (i, i / p.margin_initial_multiple.to_f64())
                } else {
                    (0.0, 0.0)
                };
                if portfolio {
                    valued.push(Valued {
                        underlying,
                        spot,
                        params: p,
                        vol_mult: vol_multiples(years * 365.0, p),
                        value: size * mark,
                        option: Some((kind, k, years, rate, vol)),
                        size,
                    });
                }
                (size * mark, 0.0, i, m)
            }
        };
        pv += value;
        upnl_pos += f64::max(upnl, 0.0);
        if !portfolio {
            im += isolated_im;
            mm += isolated_mm;
        }
        count += 1;
        first_params.get_or_insert(p);
        Ok::<(), MathError>(())
    })?;
    let (coll_i, coll_m) = collateral(
        state,
        account,
        edit.balance,
        quote_asset,
        locked,
        &mut prices,
    );
    if portfolio {
        // Group by underlying in name order, keeping position order within each group (a
        // stable sort), as a map from underlying to its positions would.
        valued.sort_by(|a, b| a.underlying.cmp(b.underlying));
        for vs in valued.chunk_by(|a, b| a.underlying == b.underlying) {
            let req = grid_requirement(state, vs);
            mm += req;
            im += req * vs[0].params.margin_initial_multiple.to_f64();
        }
    }
    let cap = first_params
        .map(|p| p.upnl_initial_cap.to_f64())
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
        has_positions: count > 0,
    })
}

/// Collateral at (initial, maintenance) haircuts: `locked` plus every balance (with `edit`
/// applied) valued in `quote_asset`, in asset order.
fn collateral<'a>(
    state: &'a State,
    account: &'a Account,
    edit: Option<(&'a str, Quote)>,
    quote_asset: &str,
    locked: f64,
    prices: &mut PriceCache<'a>,
) -> (f64, f64) {
    let mut coll_i = locked;
    let mut coll_m = locked;
    for_each_balance(account, edit, |asset, bal| {
        let b = bal.to_f64();
        if asset == quote_asset {
            coll_i += b;
            coll_m += b;
            return;
        }
        let listing = state
            .pools
            .values()
            .filter(|p| p.quote_asset == quote_asset)
            .find_map(|p| p.markets.get(asset));
        if let Some(m) = listing {
            if let Some(px) = prices.get(asset) {
                let v = b * px.to_f64();
                coll_i += v * m.params.collateral_haircut_initial.to_f64();
                coll_m += v * m.params.collateral_haircut_maintenance.to_f64();
            }
        }
    });
    (coll_i, coll_m)
}

/// A cheap sufficient test, without pricing any option, that [`health_of`] of `account` (its
/// own margin mode) on `basis` succeeds with maintenance health ≥ 0 or no position, so that the
/// account cannot be liquidatable. `false` says nothing.
///
/// It holds for an isolated account in the pools of `quote_asset`, on markets with a rate ≥ 0,
/// `margin_initial_multiple` ≥ 1 and `skew_scale` > 0, whose amounts are far from overflow, when
/// its collateral at maintenance haircuts (locked collateral included) covers every written
/// option in full — one unit of spot per written call, the strike per written put — and every
/// perp's losses, funding, borrow and maintenance margin, with room to spare:
///
/// ```text
/// collateral + Σ_perps (n·S − entry − n·ΔF − |entry|·ΔB − |n|·S·(mm + |n|/skew_scale × size factor))
///            − Σ_shorts |size| × cover × (1 + 10⁻⁶)
///   ≥  10⁻⁶ × (collateral + Σ magnitudes of every term) + 10⁻⁶
/// ```
///
/// (ΔF, ΔB: the market's funding and borrow indexes less the position's.)
///
/// Why: a long option adds size × BS ≥ 0 and needs nothing. A short adds −n × mark to the
/// portfolio value and n × max(0, m − mark) / multiple to the maintenance requirement, where the
/// minimum collateral m is capped at the cover and, with a rate ≥ 0, the mark is at most the
/// cover too (a call is worth less than its spot, a put less than its strike); with a multiple
/// ≥ 1 the two together are at most n × max(mark, m) ≤ n × cover. A perp's terms are those of
/// `health_of` in floats (its fixed-point owed amounts and margin differ from them by units of
/// 10⁻¹⁸). So maintenance health ≥ the left side, and the room on the right absorbs float sums
/// and quantisation (relative errors near 10⁻¹⁴). The magnitude bounds (every BS value is below
/// 2 × (spot + strike) when the rate is ≥ 0) keep every quantisation and sum of `health_of` far
/// inside the fixed-point range, so it cannot fail either. A property test gives accounts just
/// less collateral than they need and checks that none is taken.
pub fn surely_healthy(
    state: &State,
    account: &Account,
    quote_asset: &str,
    basis: PriceBasis,
) -> bool {
    surely_healthy_with(state, account, quote_asset, PriceCache::new(state, basis))
}

/// [`surely_healthy`] with prices on `prices`' basis, some perhaps looked up already
/// ([`PriceCache::of_listed`]: the scan looks each underlying up once, not once per account).
pub(crate) fn surely_healthy_with<'a>(
    state: &'a State,
    account: &'a Account,
    quote_asset: &str,
    mut prices: PriceCache<'a>,
) -> bool {
    /// Far inside the fixed-point range (about 1.7e20 quote).
    const SMALL: f64 = 1e18;
    if account.margin != MarginMode::Isolated {
        return false;
    }
    /// Relative room for float error in the sums of `health_of`.
    const ROOM: f64 = 1e-6;
    // The market and spot of the underlying of the previous option position (an account's
    // options are mostly on one underlying): looked up, and its parameters checked, once.
    let mut last_market: Option<(&str, Option<(&Params, f64)>)>;
    let mut locked = 0.0;
    let mut value_bound = 0.0;
    let mut short_cover = 0.0;
    let mut perp_net = 0.0;
    for (pool_name, positions) in &account.positions {
        let Some(pool) = state
            .pools
            .get(pool_name)
            .filter(|p| p.quote_asset == quote_asset)
        else {
            continue;
        };
        // Markets are per pool.
        last_market = None;
        for (name, pos) in positions {
            locked += pos.collateral.to_f64();
            if name.ends_with("-PERP") {
                // A name `health_of` does not read as a perp is skipped by it, and here.
                let Some(underlying) = InstrumentRef::perp_underlying(name) else {
                    continue;
                };
                let (Some(market), Some(spot)) =
                    (pool.markets.get(underlying), prices.get(underlying))
                else {
                    continue;
                };
                let p = &market.params;
                if p.skew_scale <= Base::ZERO {
                    return false;
                }
                let (n, s) = (pos.size.to_f64(), spot.to_f64());
                let entry = pos.entry_value.to_f64();
                let funding = n * (market.perp.funding_index.to_f64() - pos.funding_index.to_f64());
                let borrow =
                    entry.abs() * (market.perp.borrow_index.to_f64() - pos.borrow_index.to_f64());
                let fraction = p.perp_maintenance_margin.to_f64()
                    + n.abs() / p.skew_scale.to_f64() * p.perp_margin_size_factor.to_f64();
                let requirement = n.abs() * s * fraction;
                perp_net += n * s - entry - funding - borrow - requirement;
                value_bound +=
                    n.abs() * s + entry.abs() + funding.abs() + borrow.abs() + requirement.abs();
                continue;
            }
            // The expiry is not checked: a position whose name `health_of` refuses (and
            // skips) is counted here, which can only make the bound stricter.
            let Some((underlying, strike, kind)) = InstrumentRef::option_terms(name) else {
                continue;
            };
            let terms = match last_market {
                Some((u, terms)) if u == underlying => terms,
                _ => {
                    let terms = match (pool.markets.get(underlying), prices.get(underlying)) {
                        (Some(market), Some(spot)) => Some((&market.params, spot.to_f64())),
                        _ => None,
                    };
                    if let Some((p, _)) = terms {
                        let cap = p.upnl_initial_cap.to_f64();
                        if p.rate < derivpool_types::Ratio::ZERO
                            || !(0.0..=1e3).contains(&cap)
                            || p.margin_initial_multiple < derivpool_types::Ratio::ONE
                        {
                            return false;
                        }
                    }
                    last_market = Some((underlying, terms));
                    terms
                }
            };
            let Some((_, spot)) = terms else {
                continue;
            };
            let size = pos.size.to_f64();
            let strike = strike.to_f64();
            value_bound += size.abs() * 2.0 * (spot + strike);
            if size < 0.0 {
                let cover = match kind {
                    OptionKind::Call => spot,
                    OptionKind::Put => strike,
                };
                short_cover += -size * cover * (1.0 + ROOM);
            }
        }
    }
    let (coll_i, coll_m) = collateral(state, account, None, quote_asset, locked, &mut prices);
    (0.0..SMALL).contains(&coll_m)
        && coll_i.abs() < SMALL
        && value_bound < SMALL
        && coll_m + perp_net - short_cover >= ROOM * (coll_m + value_bound) + ROOM
}

/// Minimum collateral of a short option per contract ([`crate::collateral`]) at `spot` with
/// `years` to expiry.
fn min_collateral(
    spot: f64,
    years: f64,
    rate: f64,
    kind: OptionKind,
    strike: Price,
    vol: f64,
    p: &Params,
) -> f64 {
    crate::collateral::min_collateral_at(spot, years, rate, kind, strike, vol, p)
}

/// The maintenance requirement of one underlying's positions `vs` (non-empty, in position
/// order) on the scenario grid: the worst loss, the damped tail, the static charges and the
/// confidence charge.
fn grid_requirement(state: &State, vs: &[Valued<'_>]) -> f64 {
    let p = vs[0].params;
    let spot = vs[0].spot;
    let underlying = vs[0].underlying;
    let mut worst = 0.0f64;
    for shock in grid_points(p) {
        for vol_state in 0..3 {
            if shock == 0.0 && vol_state == 1 {
                // Spot and vol unchanged: every option is repriced at exactly its mark
                // (size × mark − value = 0) and every perp at its spot, so the P&L is ±0 and
                // cannot raise `worst` (≥ 0).
                continue;
            }
            let mut pnl = 0.0;
            for v in vs {
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
    for v in vs {
        gross += v.size.abs() * spot;
        match v.option {
            Some(_) if v.size < 0.0 => req += -v.size * spot * p.static_short_charge.to_f64(),
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
    req
}

/// P&L of one position when spot moves to `spot` and vol to state 0 (up), 1 (same), 2 (down).
#[inline]
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
