//! Agents: everyone who acts on the pool, only through commands ([`crate::exec::Exec::submit`]).
//!
//! Each agent has its own seeded random stream, sees the market through a [`View`] (the true
//! path up to now — and, for informed traders, the realised vol ahead — plus the engine's state
//! and metrics) and submits commands stamped with the step's time.
//!
//! | agent | module |
//! |---|---|
//! | LPs entering and leaving, bank runs | [`lp`] |
//! | option traders: noise, informed, vol arbitrageur | [`options`] |
//! | perp traders: momentum, mean reversion | [`perps`] |
//! | keeper (ticks), liquidators, hedger with its venue, risk agent | [`ops`] |

pub mod lp;
pub mod ops;
pub mod options;
pub mod perps;

use crate::exec::Exec;
use crate::market::MarketPath;
use derivpool_engine::metrics::PoolMetrics;

/// What an agent sees at a step.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// Pool name.
    pub pool: &'a str,
    /// Underlying asset.
    pub underlying: &'a str,
    /// Quote asset.
    pub quote_asset: &'a str,
    /// Step index into the path.
    pub step: usize,
    /// Step length in seconds.
    pub step_s: u64,
    /// The market path (agents other than informed ones look only at `..=step`).
    pub path: &'a MarketPath,
    /// Pool metrics at the start of the step (after the keeper's tick), if the pool has any.
    pub metrics: Option<&'a PoolMetrics>,
    /// True when the oracle posted this step (no outage).
    pub oracle_live: bool,
    /// True when some account is marked liquidatable (`liquidatable_since`) after the step's
    /// tick. Only a tick marks accounts and a liquidation only clears or keeps its target's
    /// mark, so when this is false nobody is liquidatable for the rest of the step.
    pub any_liquidatable: bool,
}

impl View<'_> {
    /// True spot now.
    pub fn spot(&self) -> f64 {
        self.path.spot[self.step]
    }

    /// True vol now.
    pub fn vol(&self) -> f64 {
        self.path.vol[self.step]
    }

    /// Steps per day.
    pub fn steps_per_day(&self) -> usize {
        (86_400 / self.step_s).max(1) as usize
    }
}

/// An agent.
pub trait Agent: Send {
    /// Kind, for counts and reports (e.g. `noise_option_trader`).
    fn kind(&self) -> &'static str;
    /// Called once after the pool is set up (e.g. to deposit collateral or LP capital).
    fn setup(&mut self, ex: &mut Exec, view: &View<'_>);
    /// Called every step.
    fn act(&mut self, ex: &mut Exec, view: &View<'_>);
}
