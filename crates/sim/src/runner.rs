//! The run loop: one pool, one market path, the oracle and the agents, step by step.
//!
//! Setup (before the path starts): create the pool, list the underlying and the first boards,
//! let every agent set up (LP deposits, trader collateral), then tick hourly at the starting
//! price for the deposit delay so that LP capital is in the pool when the path begins.
//!
//! Each step at time t: the oracle posts spot (and vol slices every ≥ 10 minutes), the operator
//! lists the next weekly boards (three by default, nine strikes each), the keeper ticks, the pool's metrics are read
//! once, every other agent acts in a shuffled order, and a time-series row is recorded.

use crate::agents::lp::LpAgent;
use crate::agents::ops::{
    bound_text, Hedger, Keeper, Liquidator, RiskAgentDriver, COUNCIL_BOUNDS, RISK_AGENT_MEMBER,
};
use crate::agents::options::{Arbitrageur, InformedOptionTrader, NoiseOptionTrader};
use crate::agents::perps::{PerpStyle, PerpTrader};
use crate::agents::{Agent, View};
use crate::candles::{Candle, CleaningReport};
use crate::exec::Exec;
use crate::market::{self, MarketPath};
use crate::oracle::{price, OracleAgent};
use crate::rng::SimRng;
use crate::scenario::Scenario;
use crate::summary::{Row, Summary};
use crate::time::{expiry_code, next_friday_expiry, DAY_S, HOUR_S, YEAR_S};
use derivpool_engine::params::{ParamOverrides, Params};
use derivpool_engine::{CommandKind, Generation, Tranche};
use std::collections::BTreeSet;
use thiserror::Error;

/// The pool's name in every simulation.
pub const POOL: &str = "main";
/// The underlying.
pub const UNDERLYING: &str = "BTC";
/// The quote asset.
pub const QUOTE: &str = "USDC";
/// Start of synthetic paths: 2025-01-01 00:00:00 UTC.
pub const SYNTHETIC_T0: u64 = 1_735_689_600;
/// Starting price of synthetic paths.
pub const SYNTHETIC_SPOT0: f64 = 60_000.0;
/// Boards are listed for Friday expiries more than this far away.
pub const LISTING_MIN_AHEAD_S: u64 = 2 * DAY_S;
/// Most boards listed ahead, and most strikes per board.
pub const BOARDS_MAX: usize = 12;
/// Most strikes per board the simulator lists.
pub const STRIKES_MAX: usize = 25;
/// Fewest agents in a run.
pub const AGENTS_MIN: usize = 12;
/// Commands a step submits, about, at the default population (the log is reserved for it).
const COMMANDS_PER_STEP: usize = 18;
/// Most steps a run may have (a year of one-minute steps).
pub const STEPS_MAX: usize = 525_600;

/// How often the engine's invariants are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvariantCheck {
    /// After every command (the engine panics on a violation): for tests.
    EveryCommand,
    /// After every step, counted.
    EveryStep,
    /// Every `n` steps and at the end, counted (the default: cheap).
    Sampled(usize),
}

/// Everything a run depends on.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Scenario.
    pub scenario: Scenario,
    /// Seed of every random stream.
    pub seed: u64,
    /// Days to run (synthetic default 90; replay default: the whole file).
    pub days: Option<u64>,
    /// Step length in seconds.
    pub step_s: u64,
    /// Pool generation.
    pub generation: Generation,
    /// Pool parameter overrides by name.
    pub params: ParamOverrides,
    /// Candles for `replay`.
    pub candles: Option<Vec<Candle>>,
    /// What was cleaned in the candles.
    pub cleaning: Option<CleaningReport>,
    /// Number of agents (keeper included).
    pub agents: usize,
    /// Weekly boards listed ahead (1 to [`BOARDS_MAX`]).
    pub boards: usize,
    /// Strikes per board (1 to [`STRIKES_MAX`]).
    pub strikes: usize,
    /// Invariant checking.
    pub invariant_check: InvariantCheck,
    /// Uses a second core ([`derivpool_engine::helper`]: each tick's liquidation scan and due
    /// stress values, the arbitrageur's second quote): the same results, sooner, for one run on
    /// an otherwise idle machine (`derivpool simulate`); off for sweeps, which run one
    /// simulation per core.
    pub spare_core: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            scenario: Scenario::Calm,
            seed: 1,
            days: None,
            step_s: HOUR_S,
            generation: Generation::Hedged,
            params: ParamOverrides::default(),
            candles: None,
            cleaning: None,
            agents: 100,
            boards: 3,
            strikes: 9,
            invariant_check: InvariantCheck::Sampled(168),
            spare_core: false,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, Error, PartialEq)]
pub enum SimError {
    /// `replay` without candles, or candles for another scenario.
    #[error("the replay scenario needs a candle file (--prices FILE.csv)")]
    NoCandles,
    /// A pool parameter override was refused.
    #[error("pool parameters: {0}")]
    Params(String),
    /// Too few or too many steps.
    #[error("{0}")]
    Steps(String),
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// The summary (`summary.json`).
    pub summary: Summary,
    /// One row per step (`timeseries.csv`).
    pub rows: Vec<Row>,
    /// The executor: engine and command log.
    pub exec: Exec,
    /// The market path.
    pub path: MarketPath,
}

/// The market path of a configuration (the same for every generation and agent mix).
pub fn build_path(cfg: &SimConfig) -> Result<MarketPath, SimError> {
    if cfg.step_s == 0 {
        return Err(SimError::Steps("the step must be positive".into()));
    }
    if cfg.scenario == Scenario::Replay {
        let candles = cfg.candles.as_deref().ok_or(SimError::NoCandles)?;
        let steps = cfg.days.map(|d| (d * DAY_S / cfg.step_s) as usize);
        let p = crate::candles::to_path(candles, cfg.step_s, steps);
        if p.len() < 2 {
            return Err(SimError::Steps(
                "the candles cover less than one step".into(),
            ));
        }
        if p.len() > STEPS_MAX + 1 {
            return Err(SimError::Steps(format!("more than {STEPS_MAX} steps")));
        }
        return Ok(p);
    }
    let days = cfg.days.unwrap_or(90);
    let steps = (days * DAY_S / cfg.step_s) as usize;
    if steps == 0 || steps > STEPS_MAX {
        return Err(SimError::Steps(format!(
            "{days} days of {} s steps is {steps} steps; allowed 1 to {STEPS_MAX}",
            cfg.step_s
        )));
    }
    let len_s = steps as u64 * cfg.step_s;
    Ok(market::generate(
        &cfg.scenario.path_model(),
        &cfg.scenario.overlays(len_s),
        SYNTHETIC_SPOT0,
        SYNTHETIC_T0,
        cfg.step_s,
        steps,
        &mut SimRng::stream(cfg.seed, "market"),
    ))
}

/// The agent population for `n` agents (the keeper is counted but run separately).
pub fn population(cfg: &SimConfig, spot0: f64) -> Vec<Box<dyn Agent>> {
    let n = cfg.agents.max(AGENTS_MIN);
    let seed = cfg.seed;
    let rng = |name: &str| SimRng::stream(seed, &format!("agent/{name}"));
    let mut agents: Vec<Box<dyn Agent>> = Vec::with_capacity(n);
    let lps = n / 5;
    let informed = (n / 12).max(1);
    let arbs = (n / 25).max(1);
    let perps = n / 4;
    let liquidators = (n / 33).max(1);
    // The keeper, the hedger and the risk agent run outside this list.
    let noise = n - 3 - lps - informed - arbs - perps - liquidators;
    let (run_lo, run_hi) = cfg.scenario.lp_run_thresholds();
    // 10M senior and 3M junior at the default 100 agents, scaled with the population.
    let scale = n as f64 / 100.0;
    let juniors = (lps * 3 / 10).max(1);
    for i in 0..lps {
        let junior = i < juniors;
        let name = format!("lp-{i:03}");
        let mut r = rng(&name);
        let (tranche, capital) = if junior {
            (Tranche::Junior, 3.0e6 * scale / juniors as f64)
        } else {
            (
                Tranche::Senior,
                10.0e6 * scale / (lps - juniors).max(1) as f64,
            )
        };
        let capital = capital * r.range(0.7, 1.3);
        let threshold = r.range(run_lo, run_hi);
        agents.push(Box::new(LpAgent::new(
            name, tranche, capital, threshold, 0.05, r,
        )));
    }
    for i in 0..liquidators {
        let name = format!("liquidator-{i:03}");
        let r = rng(&name);
        agents.push(Box::new(Liquidator::new(
            name,
            5_000_000.0 * scale.max(0.2),
            r,
        )));
    }
    for i in 0..noise {
        let name = format!("opt-noise-{i:03}");
        let r = rng(&name);
        agents.push(Box::new(NoiseOptionTrader::new(
            name,
            400_000.0,
            0.3,
            0.6,
            (0.2 * spot0, 1.2 * spot0),
            r,
        )));
    }
    for i in 0..informed {
        let name = format!("opt-informed-{i:03}");
        let r = rng(&name);
        agents.push(Box::new(InformedOptionTrader::new(
            name,
            1_500_000.0,
            0.15,
            2.0,
            2.0 * spot0,
            r,
        )));
    }
    for i in 0..arbs {
        let name = format!("vol-arb-{i:03}");
        let mut r = rng(&name);
        let bias = 0.03 * r.normal();
        agents.push(Box::new(Arbitrageur::new(
            name,
            3_000_000.0,
            bias,
            0.02,
            3.0 * spot0,
            6.0,
            r,
        )));
    }
    let steps_per_day = (DAY_S / cfg.step_s).max(1) as usize;
    for i in 0..perps {
        let (style, tag) = if i % 2 == 0 {
            (PerpStyle::Momentum, "momentum")
        } else {
            (PerpStyle::MeanReversion, "meanrev")
        };
        let name = format!("perp-{tag}-{i:03}");
        let mut r = rng(&name);
        let lookback = (steps_per_day as f64 * r.range(0.5, 3.0)) as usize;
        // Leverage from 0.5× to 7× (maintenance margin is 5 %: the boldest are liquidated by
        // a 10 % adverse move).
        let collateral = 100_000.0;
        let notional = r.range(0.5, 7.0) * collateral;
        agents.push(Box::new(PerpTrader::new(
            name, style, collateral, notional, lookback, 3.0, r,
        )));
    }
    agents
}

/// A rounded strike grid around `spot`: K = S·exp(x·σ√T) for `n` values of x evenly spaced in
/// [−1.5, 1.5] (one strike: at the money).
fn strike_grid(spot: f64, vol: f64, years: f64, n: usize) -> Vec<f64> {
    let unit = 10f64.powf((spot.log10() - 2.0).floor());
    let sd = (vol * years.sqrt()).max(0.02);
    let xs: Vec<f64> = if n <= 1 {
        vec![0.0]
    } else {
        (0..n)
            .map(|i| -1.5 + 3.0 * i as f64 / (n - 1) as f64)
            .collect()
    };
    let mut ks: Vec<f64> = xs
        .iter()
        .map(|x| ((spot * (x * sd).exp()) / unit).round() * unit)
        .filter(|k| *k > 0.0)
        .collect();
    ks.dedup();
    ks
}

/// Boards listed so far and the operator's listing rule.
struct Boards {
    listed: BTreeSet<u64>,
    ahead: usize,
    strikes: usize,
}

impl Boards {
    /// Live expiries at `t` with their codes and years to expiry.
    fn live(&self, t: u64) -> Vec<(String, f64)> {
        self.listed
            .range(t + 1..)
            .map(|e| (expiry_code(*e), (e - t) as f64 / YEAR_S))
            .collect()
    }

    /// Lists the next `ahead` Friday expiries more than two days away that are not listed yet;
    /// vol slices for each first.
    fn list_new(&mut self, ex: &mut Exec, oracle: &mut OracleAgent, t: u64, spot: f64, vol: f64) {
        let mut e = next_friday_expiry(t + LISTING_MIN_AHEAD_S);
        for _ in 0..self.ahead {
            if self.listed.insert(e) {
                let code = expiry_code(e);
                let years = (e - t) as f64 / YEAR_S;
                let mut out = Vec::new();
                oracle.vol_reports(UNDERLYING, vol, &[(code.clone(), years)], 0, &mut out);
                for c in out {
                    let _ = ex.submit("oracle", c);
                }
                let strikes = strike_grid(spot, vol, years, self.strikes)
                    .into_iter()
                    .map(price)
                    .collect();
                let _ = ex.submit(
                    "operator",
                    CommandKind::ListExpiry {
                        pool: POOL.into(),
                        underlying: UNDERLYING.into(),
                        expiry: code,
                        strikes,
                    },
                );
            }
            e += 7 * DAY_S;
        }
    }
}

/// Gives the DAO its tokens and proposes (and votes) that the risk agent joins the risk council
/// with bounds around the current values of the parameters it moves. Returns the number of
/// proposals, executed after the voting period and timelock.
fn setup_council(ex: &mut Exec, params: &Params) -> u64 {
    let mut actions = vec![serde_json::json!({"type": "council_add", "member": RISK_AGENT_MEMBER})];
    for (name, lo, hi) in COUNCIL_BOUNDS {
        let Some(v) = params.get(name).and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        actions.push(serde_json::json!({"type": "council_bounds", "param": name,
            "min": bound_text(name, v * lo), "max": bound_text(name, v * hi)}));
    }
    let grant =
        serde_json::json!({"type": "governance_grant", "account": "dao", "amount": "1000000"});
    let mut cmds = vec![grant];
    for (i, a) in actions.iter().enumerate() {
        cmds.push(
            serde_json::json!({"type": "propose", "pool": POOL, "proposer": "dao", "action": a}),
        );
        cmds.push(
            serde_json::json!({"type": "vote", "proposal": i + 1, "voter": "dao", "support": true}),
        );
    }
    for c in cmds {
        let kind: CommandKind =
            serde_json::from_value(c).expect("governance commands are well formed");
        let _ = ex.submit("governance", kind);
    }
    actions.len() as u64
}

/// Runs a simulation. `progress(done, total)` is called now and then with steps done.
pub fn run(cfg: &SimConfig, progress: &mut dyn FnMut(usize, usize)) -> Result<RunOutput, SimError> {
    let path = build_path(cfg)?;
    let params = Params::default()
        .with_overrides(&cfg.params)
        .map_err(|e| SimError::Params(e.to_string()))?;
    let steps = path.len() - 1;
    let t0 = path.t[0];
    let governance_s = params.governance_voting_period_s + params.governance_timelock_s;
    let warmup = (params.deposit_delay_s.max(governance_s) + 2 * HOUR_S).div_ceil(HOUR_S) * HOUR_S;
    let mut ex = Exec::new(cfg.invariant_check == InvariantCheck::EveryCommand);
    if cfg.spare_core {
        ex.engine.set_helper(Some(derivpool_engine::Helper::new()));
    }
    // The default population submits about 17 commands a step: reserving the log once spares
    // the copies (and page faults) of growing a 30 MB vector by doubling.
    ex.log
        .reserve(steps.saturating_mul(COMMANDS_PER_STEP).min(1 << 24));
    let len_s = steps as u64 * cfg.step_s;
    let script = if cfg.scenario == Scenario::Replay {
        crate::oracle::OracleScript::honest()
    } else {
        cfg.scenario.oracle(len_s)
    };
    let mut oracle = OracleAgent::new(script, SimRng::stream(cfg.seed, "oracle"));
    let mut boards = Boards {
        listed: BTreeSet::new(),
        ahead: cfg.boards.clamp(1, BOARDS_MAX),
        strikes: cfg.strikes.clamp(1, STRIKES_MAX),
    };

    // Setup, `warmup` seconds before the path starts.
    let t_setup = t0 - warmup;
    ex.t = t_setup;
    ex.submit(
        "operator",
        CommandKind::CreatePool {
            pool: POOL.into(),
            quote_asset: QUOTE.into(),
            generation: cfg.generation,
            params: cfg.params.clone(),
        },
    )
    .map_err(|r| SimError::Params(r.message))?;
    let _ = ex.submit(
        "operator",
        CommandKind::ListUnderlying {
            pool: POOL.into(),
            underlying: UNDERLYING.into(),
            oracle_sources: oracle.script().names(),
            params: ParamOverrides::default(),
        },
    );
    let (spot0, vol0) = (path.spot[0], path.vol[0]);
    let flat = [spot0; 2];
    let post = |ex: &mut Exec, oracle: &mut OracleAgent, boards: &Boards, t: u64| {
        let mut out = Vec::new();
        oracle.spot_reports(UNDERLYING, &flat, 0, u64::MAX, &mut out);
        oracle.vol_reports(UNDERLYING, vol0, &boards.live(t), u64::MAX, &mut out);
        for c in out {
            let _ = ex.submit("oracle", c);
        }
    };
    post(&mut ex, &mut oracle, &boards, t_setup);
    boards.list_new(&mut ex, &mut oracle, t_setup, spot0, vol0);
    let proposals = setup_council(&mut ex, &params);
    let mut agents = population(cfg, spot0);
    let n_agents = agents.len() + 3;
    let mut keeper = Keeper;
    let mut hedger = Hedger::new(cfg.seed);
    let mut risk_agent = RiskAgentDriver::new();
    {
        let view = View {
            pool: POOL,
            underlying: UNDERLYING,
            quote_asset: QUOTE,
            step: 0,
            step_s: cfg.step_s,
            path: &path,
            metrics: None,
            oracle_live: true,
            any_liquidatable: false,
        };
        for a in agents.iter_mut() {
            a.setup(&mut ex, &view);
        }
    }
    // A cross-margin pool margins its traders by portfolio (DESIGN.md §5.13): every account
    // chooses it before its first position.
    if cfg.generation == Generation::CrossMargin {
        let accounts: Vec<String> = ex.engine.state().accounts.keys().cloned().collect();
        for account in accounts {
            let _ = ex.submit(
                "operator",
                CommandKind::SetMarginMode {
                    account,
                    mode: derivpool_engine::margin::MarginMode::Portfolio,
                },
            );
        }
    }
    let mut t = t_setup + HOUR_S;
    let mut executed = false;
    while t < t0 {
        ex.t = t;
        post(&mut ex, &mut oracle, &boards, t);
        if !executed && t >= t_setup + governance_s + HOUR_S {
            executed = true;
            for id in 1..=proposals {
                let _ = ex.submit("governance", CommandKind::Execute { proposal: id });
            }
        }
        let _ = ex.submit("keeper", CommandKind::Tick {});
        t += HOUR_S;
    }

    let vol_every = 600u64.div_ceil(cfg.step_s).max(1) as usize;
    let mut order: Vec<usize> = (0..agents.len()).collect();
    let mut order_rng = SimRng::stream(cfg.seed, "order");
    let mut rows = Vec::with_capacity(steps + 1);
    let mut checks = 0u64;
    let mut violations: Vec<String> = Vec::new();
    let mut violation_count = 0u64;
    let progress_every = (steps / 200).max(1);
    let mut out = Vec::with_capacity(16);
    for i in 0..=steps {
        let t = path.t[i];
        let off = t - t0;
        ex.t = t;
        ex.events.clear();
        let live = !oracle.script().in_outage(off);
        oracle.spot_reports(UNDERLYING, &path.spot, i, off, &mut out);
        if i % vol_every == 0 {
            oracle.vol_reports(UNDERLYING, path.vol[i], &boards.live(t), off, &mut out);
        }
        for c in out.drain(..) {
            let _ = ex.submit("oracle", c);
        }
        if live {
            let median = oracle.last_median;
            boards.list_new(&mut ex, &mut oracle, t, median, path.vol[i]);
        }
        let view0 = View {
            pool: POOL,
            underlying: UNDERLYING,
            quote_asset: QUOTE,
            step: i,
            step_s: cfg.step_s,
            path: &path,
            metrics: None,
            oracle_live: live,
            any_liquidatable: false,
        };
        hedger.poll(&mut ex);
        keeper.act(&mut ex, &view0);
        hedger.route(&ex);
        // The pool's metrics are read once per step (and again only when the risk agent's
        // command changed the state).
        let mut metrics = ex.engine.metrics(POOL);
        if live && risk_agent.act(&mut ex, POOL, metrics.as_ref()) {
            metrics = ex.engine.metrics(POOL);
        }
        let view = View {
            metrics: metrics.as_ref(),
            any_liquidatable: ex
                .engine
                .state()
                .accounts
                .values()
                .any(|a| a.liquidatable_since.is_some()),
            ..view0
        };
        // Fisher-Yates: nobody is always first in the queue.
        for k in (1..order.len()).rev() {
            order.swap(k, order_rng.below(k + 1));
        }
        for &k in &order {
            agents[k].act(&mut ex, &view);
        }
        rows.push(Row::new(
            t,
            &path,
            i,
            oracle.last_median,
            live,
            metrics.as_ref(),
            &ex.stats,
        ));
        let check_now = match cfg.invariant_check {
            InvariantCheck::EveryCommand => false,
            InvariantCheck::EveryStep => true,
            InvariantCheck::Sampled(n) => i % n.max(1) == 0 || i == steps,
        };
        if check_now {
            checks += 1;
            let v = ex.engine.verify();
            violation_count += v.len() as u64;
            for msg in v {
                if violations.len() < 10 {
                    violations.push(format!("step {i}: {msg}"));
                }
            }
        }
        if i % progress_every == 0 || i == steps {
            progress(i, steps);
        }
    }
    if cfg.invariant_check == InvariantCheck::EveryCommand {
        checks = ex.engine.invariants_checked();
    }
    let end_metrics = ex.engine.metrics(POOL);
    let summary = Summary::build(
        cfg,
        &path,
        &rows,
        &ex,
        end_metrics.as_ref(),
        n_agents,
        &agents,
        (checks, violation_count, violations),
    );
    Ok(RunOutput {
        summary,
        rows,
        exec: ex,
        path,
    })
}
