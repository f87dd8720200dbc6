//! GWAV accumulator (Lyra). (SKELETON: helper B.)

use serde::{Deserialize, Serialize};

/// Geometric time-weighted average of a positive value, with integer state so that it can live
/// in the engine's deterministic state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gwav {
    _todo: (),
}

impl Gwav {
    /// Starts at time `t` (unix seconds) with `value` (> 0), keeping at most `capacity`
    /// observations.
    pub fn new(t: u64, value: f64, capacity: usize) -> Self {
        todo!("helper B {t} {value} {capacity}")
    }
    /// Records that the value became `value` at time `t` (t never decreases).
    pub fn record(&mut self, t: u64, value: f64) {
        todo!("helper B {t} {value}")
    }
    /// The latest value.
    pub fn current(&self) -> f64 {
        todo!("helper B")
    }
    /// The geometric average over [now − period_s, now], over the history there is.
    pub fn gwav(&self, now: u64, period_s: u64) -> f64 {
        todo!("helper B {now} {period_s}")
    }
}
