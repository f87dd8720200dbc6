//! Operations agents: the keeper that ticks, liquidators, the hedger (the hedge loop and
//! simulated venue of `derivpool-agents`) and the risk agent (`derivpool-agents`' rules, acting as
//! a risk-council member through `council_set`).
//!
//! Each reads the step's events from [`Exec::events`] and the metrics or state, and acts only
//! through [`Exec::submit`].

use super::{Agent, View};
use crate::exec::Exec;
use crate::oracle::decimal;
use derivpool_agents::hedge_loop::HedgeLoop;
use derivpool_agents::risk_agent::{Observation, RiskAgent, RiskAgentConfig};
use derivpool_agents::venue::{SimVenue, SimVenueConfig};
use derivpool_engine::metrics::PoolMetrics;
use derivpool_engine::CommandKind;

/// Ticks the engine once per step so that funding, queues, expiries, breakers, the greek cache,
/// the liquidation scan and hedge orders move on.
#[derive(Debug, Clone, Default)]
pub struct Keeper;

impl Agent for Keeper {
    fn kind(&self) -> &'static str {
        "keeper"
    }

    fn setup(&mut self, _ex: &mut Exec, _view: &View<'_>) {}

    fn act(&mut self, ex: &mut Exec, _view: &View<'_>) {
        let _ = ex.submit(self.kind(), CommandKind::Tick {});
    }
}

/// A liquidator: deposits collateral, then liquidates every account the engine's last tick
/// marked liquidatable (`liquidatable_since`), racing the other liquidators (each tries a random
/// share of them, so the first one in the step's order usually wins).
#[derive(Debug, Clone)]
pub struct Liquidator {
    name: String,
    collateral: f64,
    rng: crate::rng::SimRng,
}

impl Liquidator {
    /// A liquidator named `name` with `collateral` of the quote asset.
    pub fn new(name: String, collateral: f64, rng: crate::rng::SimRng) -> Liquidator {
        Liquidator {
            name,
            collateral,
            rng,
        }
    }
}

impl Agent for Liquidator {
    fn kind(&self) -> &'static str {
        "liquidator"
    }

    fn setup(&mut self, ex: &mut Exec, view: &View<'_>) {
        let _ = ex.submit(
            self.kind(),
            CommandKind::Deposit {
                account: self.name.clone(),
                asset: view.quote_asset.into(),
                amount: decimal(self.collateral, 2),
            },
        );
    }

    fn act(&mut self, ex: &mut Exec, view: &View<'_>) {
        debug_assert!(
            view.any_liquidatable
                || !ex
                    .engine
                    .state()
                    .accounts
                    .values()
                    .any(|a| a.liquidatable_since.is_some()),
            "an account was marked liquidatable after the tick"
        );
        if !view.oracle_live || !view.any_liquidatable {
            return;
        }
        let targets: Vec<String> = ex
            .engine
            .state()
            .accounts
            .iter()
            .filter(|(n, a)| a.liquidatable_since.is_some() && **n != self.name)
            .map(|(n, _)| n.clone())
            .collect();
        for account in targets {
            if !self.rng.chance(0.7) {
                continue;
            }
            let _ = ex.submit(
                self.kind(),
                CommandKind::Liquidate {
                    pool: view.pool.into(),
                    liquidator: self.name.clone(),
                    account,
                    max_size: None,
                },
            );
        }
    }
}

/// The hedger: the engine's `hedge_order` events go to a simulated venue (fees, slippage,
/// latency, partial fills, failures) and its fills come back as `hedge_fill` commands.
#[derive(Debug, Clone)]
pub struct Hedger {
    hedge: HedgeLoop<SimVenue>,
}

impl Hedger {
    /// A hedger with a default simulated venue seeded from `seed`.
    pub fn new(seed: u64) -> Hedger {
        Hedger {
            hedge: HedgeLoop::new(SimVenue::new(SimVenueConfig {
                seed: crate::rng::splitmix64(seed ^ 0x0048_4544_4745),
                ..SimVenueConfig::default()
            })),
        }
    }

    /// Orders sent to the venue so far.
    pub fn orders_sent(&self) -> u64 {
        self.hedge.orders_sent()
    }

    /// Brings the venue's fills known by now back as `hedge_fill` commands (before the tick).
    pub fn poll(&mut self, ex: &mut Exec) {
        for c in self.hedge.poll(ex.t, ex.t) {
            let _ = ex.submit("hedger", c.kind);
        }
    }

    /// Sends the hedge orders among the step's events so far to the venue (after the tick).
    pub fn route(&mut self, ex: &Exec) {
        self.hedge.on_events(&ex.events, ex.engine.state(), ex.t);
    }
}

/// The risk agent: observes the pool each step and issues `council_set` commands (with a reason)
/// within the council's bounds.
#[derive(Debug, Clone)]
pub struct RiskAgentDriver {
    agent: RiskAgent,
}

impl RiskAgentDriver {
    /// The agent with its default rules, acting as council member [`RISK_AGENT_MEMBER`].
    pub fn new() -> RiskAgentDriver {
        RiskAgentDriver {
            agent: RiskAgent::new(RiskAgentConfig {
                member: RISK_AGENT_MEMBER.into(),
                ..RiskAgentConfig::default()
            }),
        }
    }

    /// Observes `pool`, whose metrics in the engine's current state are `metrics`, and submits
    /// the agent's commands. True when one of them was applied (the metrics may have changed).
    pub fn act(&mut self, ex: &mut Exec, pool: &str, metrics: Option<&PoolMetrics>) -> bool {
        let Some(obs) = metrics.and_then(|m| Observation::from_state(ex.engine.state(), pool, m))
        else {
            return false;
        };
        let mut applied = false;
        for c in self.agent.observe(&obs) {
            applied |= ex.submit("risk_agent", c.kind).is_ok();
        }
        applied
    }
}

impl Default for RiskAgentDriver {
    fn default() -> Self {
        RiskAgentDriver::new()
    }
}

/// The risk agent's council member name.
pub const RISK_AGENT_MEMBER: &str = "risk_agent";

/// Parameters the risk agent may move, with council bounds as multiples of their current value
/// (min, max): it widens fees and tightens caps and hedge delays, never the other way.
pub const COUNCIL_BOUNDS: &[(&str, f64, f64)] = &[
    ("vega_fee_coefficient", 1.0, 4.0),
    ("perp_open_interest_cap", 0.25, 1.0),
    ("utilisation_cap", 0.5, 1.0),
    ("hedge_delay_s", 0.1, 1.0),
];

/// Rounds a bound for a parameter: whole numbers for seconds, else 6 decimals.
pub fn bound_text(param: &str, x: f64) -> String {
    if param.ends_with("_s") {
        format!("{}", x.round() as u64)
    } else {
        format!("{:.6}", x)
    }
}
