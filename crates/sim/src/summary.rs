//! What a run measured: one [`Row`] per step (`timeseries.csv`) and the [`Summary`]
//! (`summary.json`).
//!
//! Per tranche: `return` = share price at the end / at the start − 1 (LP flows do not move it);
//! `max_drawdown` = max over steps of 1 − share price / running peak; `senior_loss` is true when
//! the senior tranche's share price ended below where it started.

use crate::agents::Agent;
use crate::candles::CleaningReport;
use crate::exec::{Exec, Stats};
use crate::market::MarketPath;
use crate::runner::SimConfig;
use crate::time::{format_step, format_utc, DAY_S};
use derivpool_engine::metrics::PoolMetrics;
use derivpool_types::Fixed;
use serde::Serialize;
use std::collections::BTreeMap;

/// One step of the time series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Row {
    /// Unix seconds.
    pub t: u64,
    /// True spot.
    pub spot: f64,
    /// Median of the oracle's latest reports.
    pub oracle: f64,
    /// 1 when the oracle posted this step, 0 in an outage.
    pub oracle_live: f64,
    /// True vol.
    pub vol: f64,
    /// Pool NAV.
    pub nav: f64,
    /// Senior tranche NAV.
    pub senior_nav: f64,
    /// Junior tranche NAV.
    pub junior_nav: f64,
    /// Senior share price.
    pub senior_share_price: f64,
    /// Junior share price.
    pub junior_share_price: f64,
    /// Net delta (base units).
    pub delta: f64,
    /// Net gamma.
    pub gamma: f64,
    /// Net vega per 1.00 vol.
    pub vega: f64,
    /// Hedge position (base units).
    pub hedge_position: f64,
    /// Utilisation.
    pub utilisation: f64,
    /// Free liquidity.
    pub free_liquidity: f64,
    /// Perp funding rate per day.
    pub funding_rate: f64,
    /// Perp long open interest (base units).
    pub long_oi: f64,
    /// Perp short open interest (base units).
    pub short_oi: f64,
    /// Option trades so far.
    pub option_trades: f64,
    /// Perp trades so far.
    pub perp_trades: f64,
    /// Liquidations so far.
    pub liquidations: f64,
    /// Bad debt absorbed so far.
    pub bad_debt: f64,
    /// Insurance fund.
    pub insurance_fund: f64,
    /// Rejected commands so far.
    pub rejects: f64,
}

/// Below this many shares outstanding a tranche counts as empty (only dead shares left).
pub const HELD_SHARES_MIN: f64 = 1.0;

/// Reads one column of a row.
pub type RowField = fn(&Row) -> f64;

/// CSV columns in order, with their accessors.
pub const COLUMNS: &[(&str, RowField)] = &[
    ("spot", |r| r.spot),
    ("oracle", |r| r.oracle),
    ("oracle_live", |r| r.oracle_live),
    ("vol", |r| r.vol),
    ("nav", |r| r.nav),
    ("senior_nav", |r| r.senior_nav),
    ("junior_nav", |r| r.junior_nav),
    ("senior_share_price", |r| r.senior_share_price),
    ("junior_share_price", |r| r.junior_share_price),
    ("delta", |r| r.delta),
    ("gamma", |r| r.gamma),
    ("vega", |r| r.vega),
    ("hedge_position", |r| r.hedge_position),
    ("utilisation", |r| r.utilisation),
    ("free_liquidity", |r| r.free_liquidity),
    ("funding_rate", |r| r.funding_rate),
    ("long_oi", |r| r.long_oi),
    ("short_oi", |r| r.short_oi),
    ("option_trades", |r| r.option_trades),
    ("perp_trades", |r| r.perp_trades),
    ("liquidations", |r| r.liquidations),
    ("bad_debt", |r| r.bad_debt),
    ("insurance_fund", |r| r.insurance_fund),
    ("rejects", |r| r.rejects),
];

impl Row {
    /// The row of step `i`.
    pub fn new(
        t: u64,
        path: &MarketPath,
        i: usize,
        oracle: f64,
        live: bool,
        m: Option<&PoolMetrics>,
        stats: &Stats,
    ) -> Row {
        let mut r = Row {
            t,
            spot: path.spot[i],
            oracle,
            oracle_live: if live { 1.0 } else { 0.0 },
            vol: path.vol[i],
            nav: 0.0,
            senior_nav: 0.0,
            junior_nav: 0.0,
            senior_share_price: 0.0,
            junior_share_price: 0.0,
            delta: 0.0,
            gamma: 0.0,
            vega: 0.0,
            hedge_position: 0.0,
            utilisation: 0.0,
            free_liquidity: 0.0,
            funding_rate: 0.0,
            long_oi: 0.0,
            short_oi: 0.0,
            option_trades: stats.option_trades as f64,
            perp_trades: stats.perp_trades as f64,
            liquidations: stats.liquidations as f64,
            bad_debt: 0.0,
            insurance_fund: 0.0,
            rejects: stats.rejected as f64,
        };
        if let Some(m) = m {
            r.nav = m.nav.to_f64();
            // A tranche whose LPs have all left holds only its dead shares: its "share price" is
            // then the residue over 0.001 shares, not a price anyone holds; leave it out (NaN).
            let price_of = |t: &derivpool_engine::metrics::TrancheMetrics| {
                if t.shares.to_f64() >= HELD_SHARES_MIN {
                    t.share_price.to_f64()
                } else {
                    f64::NAN
                }
            };
            if let Some(s) = m.tranches.get("senior") {
                r.senior_nav = s.nav.to_f64();
                r.senior_share_price = price_of(s);
            }
            if let Some(j) = m.tranches.get("junior") {
                r.junior_nav = j.nav.to_f64();
                r.junior_share_price = price_of(j);
            }
            r.delta = m.net_delta.to_f64();
            r.gamma = m.net_gamma.to_f64();
            r.vega = m.net_vega.to_f64();
            r.hedge_position = m.hedge_position.to_f64();
            r.utilisation = m.utilisation.to_f64();
            r.free_liquidity = m.free_liquidity.to_f64();
            if let Some(p) = m.perps.values().next() {
                r.funding_rate = p.funding_rate.to_f64();
                r.long_oi = p.long.to_f64();
                r.short_oi = p.short.to_f64();
            }
            r.bad_debt = m.bad_debt.to_f64();
            r.insurance_fund = m.insurance_fund.to_f64();
        }
        r
    }
}

/// Max drawdown of a series: max over i of 1 − xᵢ / maxⱼ≤ᵢ xⱼ (positive values only).
pub fn max_drawdown(xs: impl IntoIterator<Item = f64>) -> f64 {
    let (mut peak, mut dd) = (0.0f64, 0.0f64);
    for x in xs {
        if x.is_nan() || x <= 0.0 {
            continue;
        }
        peak = peak.max(x);
        dd = dd.max(1.0 - x / peak);
    }
    dd
}

/// The return index of a share-price series (1 at the start): it moves by p(t)/p(t−1) only
/// between consecutive steps that both have a price, so the time a tranche had no LPs (NaN)
/// adds nothing, and a tranche re-opened at another share price continues the index.
pub fn chained_index(prices: &[f64]) -> Vec<f64> {
    let mut idx = 1.0;
    let mut prev = f64::NAN;
    prices
        .iter()
        .map(|&p| {
            let ok = |x: f64| x.is_finite() && x > 0.0;
            if ok(p) && ok(prev) {
                idx *= p / prev;
            }
            prev = p;
            idx
        })
        .collect()
}

/// Rounds to 6 decimals (ratios) so the JSON stays readable; deterministic.
fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Rounds to cents (money).
fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One tranche's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrancheOutcome {
    /// NAV at the first step.
    pub nav_start: f64,
    /// NAV at the end.
    pub nav_end: f64,
    /// Share price at the first step.
    pub share_price_start: f64,
    /// Share price at the end.
    pub share_price_end: f64,
    /// Share-price return.
    #[serde(rename = "return")]
    pub ret: f64,
    /// Max share-price drawdown.
    pub max_drawdown: f64,
    /// Whether the senior tranche lost (the same flag in both tranches, for tables).
    pub senior_loss: bool,
    /// True when every LP of the tranche had left by the end (return and drawdown then cover
    /// the time it had LPs).
    pub emptied: bool,
}

/// The run's summary (`summary.json`). Same seed and options: byte-identical JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Pool generation.
    pub generation: String,
    /// Days simulated.
    pub days: f64,
    /// Step length (`1h`).
    pub step: String,
    /// Steps simulated.
    pub steps: usize,
    /// First step (UTC).
    pub start: String,
    /// Last step (UTC).
    pub end: String,
    /// Agents by kind (keeper included).
    pub agents: BTreeMap<&'static str, usize>,
    /// Pool parameter overrides.
    pub params: BTreeMap<String, String>,
    /// Engine state hash at the end (what `derivpool replay commands.jsonl` reproduces).
    pub state_hash: String,
    /// How many invariant checks ran.
    pub invariant_checks: u64,
    /// Invariant violations found.
    pub invariant_violations: u64,
    /// The first few violations.
    pub invariant_violation_examples: Vec<String>,
    /// Commands in the log.
    pub commands: u64,
    /// Commands rejected.
    pub rejected: u64,
    /// Rejects by code.
    pub rejects: BTreeMap<&'static str, u64>,
    /// Rejects by agent kind, then code (who hit which rule).
    pub rejects_by_agent: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// Trades applied (options + perps).
    pub trades: u64,
    /// Option trades applied.
    pub option_trades: u64,
    /// Perp trades applied.
    pub perp_trades: u64,
    /// Option premium traded.
    pub option_premium: f64,
    /// Perp notional traded.
    pub perp_notional: f64,
    /// Fees paid by traders.
    pub fees: f64,
    /// LP deposits queued.
    pub lp_deposits: u64,
    /// LP withdrawals queued.
    pub lp_withdrawals: u64,
    /// Value paid to withdrawing LPs.
    pub lp_withdrawn_value: f64,
    /// Liquidations.
    pub liquidations: u64,
    /// Bad debt paid by layer.
    pub bad_debt: BTreeMap<String, f64>,
    /// Insurance fund at the end.
    pub insurance_fund: f64,
    /// Boards settled.
    pub settlements: u64,
    /// Hedge orders the engine emitted.
    pub hedge_orders: u64,
    /// Hedge fills booked.
    pub hedge_fills: u64,
    /// Hedge position at the end (base units).
    pub hedge_position: f64,
    /// Positions reduced by auto-deleveraging.
    pub adl: u64,
    /// Breakers tripped, by name.
    pub breakers: BTreeMap<String, u64>,
    /// Per tranche outcome.
    pub tranches: BTreeMap<&'static str, TrancheOutcome>,
    /// LP return over both tranches: NAV-at-start-weighted tranche returns.
    pub lp_return: f64,
    /// Whether the senior tranche lost.
    pub senior_loss: bool,
    /// Spot at the start.
    pub spot_start: f64,
    /// Spot at the end.
    pub spot_end: f64,
    /// Worst return of the true price over any day.
    pub worst_day_return: f64,
    /// Replay: what was cleaned in the candle file.
    pub cleaning: Option<CleaningReport>,
}

impl Summary {
    /// Builds the summary of a finished run.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        cfg: &SimConfig,
        path: &MarketPath,
        rows: &[Row],
        ex: &Exec,
        end: Option<&PoolMetrics>,
        n_agents: usize,
        agents: &[Box<dyn Agent>],
        (checks, violations, examples): (u64, u64, Vec<String>),
    ) -> Summary {
        let st = &ex.stats;
        let steps = rows.len().saturating_sub(1);
        let first = rows.first().copied().expect("a run has rows");
        let end_row = Row::new(
            rows.last().map_or(0, |r| r.t),
            path,
            path.len() - 1,
            0.0,
            true,
            end,
            st,
        );
        let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
        kinds.insert("keeper", n_agents - agents.len());
        for a in agents {
            *kinds.entry(a.kind()).or_default() += 1;
        }
        let tranche = |nav0: f64, nav1: f64, prices: &[f64]| {
            let valid = || prices.iter().copied().filter(|x| x.is_finite() && *x > 0.0);
            let sp0 = valid().next().unwrap_or(0.0);
            let sp1 = valid().next_back().unwrap_or(0.0);
            let index = chained_index(prices);
            TrancheOutcome {
                nav_start: r2(nav0),
                nav_end: r2(nav1),
                share_price_start: r6(sp0),
                share_price_end: r6(sp1),
                ret: r6(index.last().copied().unwrap_or(1.0) - 1.0),
                max_drawdown: r6(max_drawdown(index.iter().copied())),
                senior_loss: false,
                emptied: prices.last().is_none_or(|x| x.is_nan()),
            }
        };
        let series =
            |f: fn(&Row) -> f64| -> Vec<f64> { rows.iter().map(f).chain([f(&end_row)]).collect() };
        let mut senior = tranche(
            first.senior_nav,
            end_row.senior_nav,
            &series(|r| r.senior_share_price),
        );
        let mut junior = tranche(
            first.junior_nav,
            end_row.junior_nav,
            &series(|r| r.junior_share_price),
        );
        let senior_loss = senior.ret < -1e-9;
        senior.senior_loss = senior_loss;
        junior.senior_loss = senior_loss;
        let w = first.senior_nav + first.junior_nav;
        let lp_return = if w > 0.0 {
            r6((senior.ret * first.senior_nav + junior.ret * first.junior_nav) / w)
        } else {
            0.0
        };
        let mut bad_debt: BTreeMap<String, f64> = ["insurance_fund", "junior", "senior"]
            .into_iter()
            .map(|k| (k.to_string(), 0.0))
            .collect();
        for (k, v) in &st.bad_debt {
            bad_debt.insert(k.clone(), r2(*v));
        }
        bad_debt.insert("total".into(), r2(end_row.bad_debt));
        let per_day = (DAY_S / cfg.step_s).max(1) as usize;
        let worst_day = (per_day..path.len())
            .map(|i| path.spot[i] / path.spot[i - per_day] - 1.0)
            .fold(0.0f64, f64::min);
        let mut tranches = BTreeMap::new();
        tranches.insert("senior", senior);
        tranches.insert("junior", junior);
        Summary {
            scenario: cfg.scenario.as_str().into(),
            seed: cfg.seed,
            generation: serde_json::to_value(cfg.generation)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            days: r6(steps as f64 * cfg.step_s as f64 / DAY_S as f64),
            step: format_step(cfg.step_s),
            steps,
            start: format_utc(first.t),
            end: format_utc(end_row.t),
            agents: kinds,
            params: cfg
                .params
                .0
                .iter()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect(),
            state_hash: ex.engine.state_hash(),
            invariant_checks: checks,
            invariant_violations: violations,
            invariant_violation_examples: examples,
            commands: st.commands,
            rejected: st.rejected,
            rejects: st.rejects.clone(),
            rejects_by_agent: st.rejects_by_agent.clone(),
            trades: st.option_trades + st.perp_trades,
            option_trades: st.option_trades,
            perp_trades: st.perp_trades,
            option_premium: r2(st.option_premium),
            perp_notional: r2(st.perp_notional),
            fees: r2(st.fees),
            lp_deposits: st.lp_deposits,
            lp_withdrawals: st.lp_withdrawals,
            lp_withdrawn_value: r2(st.lp_withdrawn_value),
            liquidations: st.liquidations,
            bad_debt,
            insurance_fund: r2(end_row.insurance_fund),
            settlements: st.settlements,
            hedge_orders: st.hedge_orders,
            hedge_fills: st.hedge_fills,
            hedge_position: r6(end_row.hedge_position),
            adl: st.adl,
            breakers: st.breakers.clone(),
            tranches,
            lp_return,
            senior_loss,
            spot_start: r2(path.spot[0]),
            spot_end: r2(path.spot[path.len() - 1]),
            worst_day_return: r6(worst_day),
            cleaning: cfg.cleaning.clone(),
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("summaries serialise");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_skips_empty_steps_and_continues_across_a_reopening() {
        let nan = f64::NAN;
        let idx = chained_index(&[1.0, 1.1, nan, nan, 500.0, 550.0]);
        assert!((idx[5] - 1.21).abs() < 1e-12, "{idx:?}");
        assert!((max_drawdown(chained_index(&[1.0, 2.0, 1.0, nan, 3.0, 3.0])) - 0.5).abs() < 1e-12);
    }
}
