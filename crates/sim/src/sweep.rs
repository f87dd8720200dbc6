//! Parameter sweeps: a grid of pool parameters × seeds, run in parallel on all cores, one row
//! per run and a summary per parameter value (mean LP return, its 5 % quantile, probability of a
//! senior loss).
//!
//! The 5 % quantile is the order statistic at rank ⌊0.05·(n − 1)⌋ of the sorted returns (the
//! lower empirical quantile, so that with few runs it is the worst run, not an interpolation).

use crate::runner::{run, SimConfig, SimError};
use crate::summary::Summary;
use derivpool_engine::params::{ParamOverrides, ParamValue};
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One parameter axis: name and values (as decimal strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    /// Parameter name.
    pub name: String,
    /// Values.
    pub values: Vec<String>,
}

/// Parses `name=v1,v2,v3`.
pub fn parse_axis(s: &str) -> Result<Axis, String> {
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=V1,V2,..."))?;
    let values: Vec<String> = values
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if name.trim().is_empty() || values.is_empty() {
        return Err(format!("{s:?}: expected NAME=V1,V2,..."));
    }
    Ok(Axis {
        name: name.trim().to_string(),
        values,
    })
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRun {
    /// The parameter values of this run, in axis order.
    pub values: Vec<String>,
    /// Seed.
    pub seed: u64,
    /// The run's summary.
    pub summary: Summary,
}

/// Every combination of the axes' values (the first axis varies slowest).
pub fn grid(axes: &[Axis]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for a in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                a.values.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push(v.clone());
                    p
                })
            })
            .collect();
    }
    out
}

/// Runs the grid × `seeds` (seeds `base.seed`, `base.seed + 1`, …) on `threads` threads.
/// Results are in grid order, then seed order, whatever the threads did.
pub fn sweep(
    base: &SimConfig,
    axes: &[Axis],
    seeds: u64,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<SweepRun>, SimError> {
    let combos = grid(axes);
    let jobs: Vec<(Vec<String>, u64)> = combos
        .iter()
        .flat_map(|c| (0..seeds).map(move |s| (c.clone(), base.seed + s)))
        .collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<SweepRun, SimError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1).min(jobs.len().max(1)) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((values, seed)) = jobs.get(k) else {
                    break;
                };
                let mut cfg = base.clone();
                cfg.seed = *seed;
                let mut params = cfg.params.0.clone();
                for (a, v) in axes.iter().zip(values) {
                    params.insert(a.name.clone(), ParamValue(v.clone()));
                }
                cfg.params = ParamOverrides(params);
                let r = run(&cfg, &mut |_, _| {}).map(|out| SweepRun {
                    values: values.clone(),
                    seed: *seed,
                    summary: out.summary,
                });
                results.lock().expect("no worker panicked")[k] = Some(r);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
            });
        }
    });
    results
        .into_inner()
        .expect("no worker panicked")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

/// Outcome columns of the per-run CSV.
pub const OUTCOME_COLUMNS: &[&str] = &[
    "lp_return",
    "senior_return",
    "junior_return",
    "senior_max_drawdown",
    "junior_max_drawdown",
    "senior_loss",
    "nav_end",
    "trades",
    "fees",
    "liquidations",
    "bad_debt",
    "insurance_fund",
    "rejected",
    "invariant_violations",
    "state_hash",
];

/// One CSV row per run: the parameter values, the seed, then [`OUTCOME_COLUMNS`].
pub fn runs_csv(axes: &[Axis], runs: &[SweepRun]) -> String {
    let mut s = String::new();
    for a in axes {
        let _ = write!(s, "{},", a.name);
    }
    s.push_str("seed,");
    s.push_str(&OUTCOME_COLUMNS.join(","));
    s.push('\n');
    for r in runs {
        for v in &r.values {
            let _ = write!(s, "{v},");
        }
        let m = &r.summary;
        let (sen, jun) = (&m.tranches["senior"], &m.tranches["junior"]);
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.seed,
            m.lp_return,
            sen.ret,
            jun.ret,
            sen.max_drawdown,
            jun.max_drawdown,
            m.senior_loss,
            sen.nav_end + jun.nav_end,
            m.trades,
            m.fees,
            m.liquidations,
            m.bad_debt.get("total").copied().unwrap_or(0.0),
            m.insurance_fund,
            m.rejected,
            m.invariant_violations,
            m.state_hash
        );
    }
    s
}

/// The distribution of outcomes for one parameter value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ValueSummary {
    /// Parameter name.
    pub param: String,
    /// Value.
    pub value: String,
    /// Runs with this value.
    pub runs: usize,
    /// Mean LP return.
    pub mean_lp_return: f64,
    /// 5 % quantile of LP return.
    pub q05_lp_return: f64,
    /// Share of runs in which the senior tranche lost.
    pub p_senior_loss: f64,
    /// Mean junior max drawdown.
    pub mean_junior_max_drawdown: f64,
    /// Mean trades per run.
    pub mean_trades: f64,
}

/// The lower empirical q-quantile (module docs).
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((q * (v.len() - 1) as f64).floor() as usize).min(v.len() - 1)]
}

/// One summary per axis and value.
pub fn summarise(axes: &[Axis], runs: &[SweepRun]) -> Vec<ValueSummary> {
    let mut out = Vec::new();
    for (ai, a) in axes.iter().enumerate() {
        for v in &a.values {
            let sel: Vec<&SweepRun> = runs.iter().filter(|r| &r.values[ai] == v).collect();
            let n = sel.len();
            let rets: Vec<f64> = sel.iter().map(|r| r.summary.lp_return).collect();
            let mean = |f: &dyn Fn(&SweepRun) -> f64| {
                sel.iter().map(|r| f(r)).sum::<f64>() / n.max(1) as f64
            };
            out.push(ValueSummary {
                param: a.name.clone(),
                value: v.clone(),
                runs: n,
                mean_lp_return: mean(&|r| r.summary.lp_return),
                q05_lp_return: quantile(&rets, 0.05),
                p_senior_loss: mean(&|r| f64::from(u8::from(r.summary.senior_loss))),
                mean_junior_max_drawdown: mean(&|r| r.summary.tranches["junior"].max_drawdown),
                mean_trades: mean(&|r| r.summary.trades as f64),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_and_the_grid_is_a_product() {
        let a = parse_axis("vega_fee_coefficient=50,100,200").unwrap();
        assert_eq!(a.values, ["50", "100", "200"]);
        let b = parse_axis("junior_weight=2,3").unwrap();
        let g = grid(&[a, b]);
        assert_eq!(g.len(), 6);
        assert_eq!(g[0], ["50", "2"]);
        assert_eq!(g[5], ["200", "3"]);
        assert!(parse_axis("novalues=").is_err());
        assert!(parse_axis("noequals").is_err());
    }

    #[test]
    fn quantile_is_the_lower_order_statistic() {
        let xs: Vec<f64> = (0..21).map(f64::from).rev().collect();
        assert_eq!(quantile(&xs, 0.05), 1.0);
        assert_eq!(quantile(&xs, 0.0), 0.0);
        assert_eq!(quantile(&[3.0], 0.05), 3.0);
    }
}
