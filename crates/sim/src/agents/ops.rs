//! Operations agents: the keeper that ticks every step.
//!
//! Liquidators (they need the `liquidate` command of the margin issue), the hedger with its venue
//! (it needs the `hedge_order` event and `hedge_fill` command of the hedging issue; the venue is in
//! [`crate::venue`]) and the risk agent (it needs the governance commands) plug in here as further
//! [`Agent`]s: each reads the step's events from [`Exec::events`] and the metrics from the
//! [`View`], and acts through [`Exec::submit`].

use super::{Agent, View};
use crate::exec::Exec;
use derivpool_engine::CommandKind;

/// Ticks the engine once per step so that funding, queues, expiries, breakers and the greek
/// cache move on.
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
