//! Oracle guard rails (Drift oracle guard rails, DESIGN.md §5.9).
//!
//! The engine keeps, per asset, the history of the median of fresh sources (one point per
//! observation, at most [`MEDIAN_HISTORY_MAX`] points) and derives:
//!
//! - **TWAP** over `twap_window_s` (10 min): the time-weighted average of that step function;
//! - **confidence**: the median of the fresh sources' reported confidences;
//! - **oracle breaker**: a jump between consecutive medians above `oracle_breaker_jump` (15 %)
//!   trips it for `oracle_breaker_s`; while it holds, risk-increasing trades and LP flows pause.
//!
//! Validity per action, each failure a reject naming the asset, the feeds and the rule:
//! - *trade that adds risk*: a fresh price (`stale_oracle`), confidence under
//!   `oracle_max_confidence` (`oracle_confidence`), the median within `twap_max_divergence` of the
//!   TWAP (`oracle_divergence`), no oracle breaker (`oracle_breaker`); a closing trade needs only a
//!   fresh price;
//! - *liquidation*: the account must be under maintenance at both the median and the TWAP, so one
//!   bad print liquidates nobody while a real move is acted on within minutes
//!   ([`crate::liquidation`]);
//! - *LP flows*: a fresh greek cache and no breaker ([`crate::vault`]);
//! - *settlement*: the last median at or before expiry, no older than an hour, or a bounded
//!   override ([`crate::settlement`]).

use crate::params::Params;
use crate::reject::Reject;
use crate::state::{Oracle, State};
use derivpool_types::{Fixed, Price};
use std::sync::Arc;

/// Most median points kept per asset.
pub const MEDIAN_HISTORY_MAX: usize = 256;

impl Oracle {
    /// Time-weighted average of the median over [now − window, now]; `None` without history.
    pub fn twap(&self, asset: &str, now: u64, window_s: u64) -> Option<Price> {
        let h = self.medians.get(asset)?;
        let last = h.back()?;
        let start = now.saturating_sub(window_s);
        if window_s == 0 || last.0 <= start {
            return Some(last.1);
        }
        let (mut weighted, mut total) = (0.0f64, 0.0f64);
        let mut end = now;
        for &(t, p) in h.iter().rev() {
            let from = t.max(start);
            if end > from {
                let dt = (end - from) as f64;
                weighted += p.to_f64() * dt;
                total += dt;
            }
            if t <= start {
                break;
            }
            end = t;
        }
        if total <= 0.0 {
            return Some(last.1);
        }
        Price::from_f64(weighted / total, derivpool_types::Rounding::Down).ok()
    }

    /// Median confidence of the fresh sources of `asset` (0 without any).
    pub fn confidence(&self, asset: &str, now: u64, heartbeat_s: u64) -> f64 {
        let Some(feeds) = self.spot.get(asset) else {
            return 0.0;
        };
        let fresh = || {
            feeds
                .values()
                .filter(|o| now.saturating_sub(o.t) <= heartbeat_s)
                .map(|o| o.confidence.to_f64())
        };
        // Up to 8 fresh sources are sorted on the stack, more on the heap; `total_cmp` is a
        // total order, so the sorted values are the same either way.
        let mut stack = [0.0f64; 8];
        let mut heap = Vec::new();
        let mut n = 0;
        for x in fresh() {
            if n == stack.len() {
                heap = fresh().collect();
                break;
            }
            stack[n] = x;
            n += 1;
        }
        let c: &mut [f64] = if heap.is_empty() {
            &mut stack[..n]
        } else {
            &mut heap
        };
        if c.is_empty() {
            return 0.0;
        }
        c.sort_by(f64::total_cmp);
        let n = c.len();
        if n % 2 == 1 {
            c[n / 2]
        } else {
            0.5 * (c[n / 2 - 1] + c[n / 2])
        }
    }

    /// Whether the oracle breaker of `asset` holds at `now`.
    pub fn breaker_active(&self, asset: &str, now: u64) -> bool {
        self.breaker_until.get(asset).is_some_and(|u| now < *u)
    }
}

/// Records a new median for `asset`; trips the breaker on a jump. Returns `Some(until)` when the
/// breaker trips.
pub fn record_median(state: &mut State, asset: &str, median: Price, now: u64) -> Option<u64> {
    // The parameters of the first pool listing `asset` (defaults when none does), as in
    // [`params_for`], without copying them.
    let (jump_limit, breaker_s) = match state.pools.values().find_map(|p| p.markets.get(asset)) {
        Some(m) => (m.params.oracle_breaker_jump, m.params.oracle_breaker_s),
        None => {
            let d = Params::default();
            (d.oracle_breaker_jump, d.oracle_breaker_s)
        }
    };
    let h = Arc::make_mut(&mut state.oracle)
        .medians
        .entry(asset.to_string())
        .or_default();
    let prev = h.back().map(|x| x.1);
    if h.back().is_some_and(|x| x.0 == now) {
        h.pop_back();
    }
    h.push_back((now, median));
    while h.len() > MEDIAN_HISTORY_MAX {
        h.pop_front();
    }
    let prev = prev?;
    let jump = (median.to_f64() / prev.to_f64() - 1.0).abs();
    if jump > jump_limit.to_f64() {
        let until = now.saturating_add(breaker_s);
        let slot = Arc::make_mut(&mut state.oracle)
            .breaker_until
            .entry(asset.to_string())
            .or_insert(0);
        *slot = (*slot).max(until);
        return Some(until);
    }
    None
}

/// Parameters of the first pool listing `asset` (defaults when none does).
pub fn params_for(state: &State, asset: &str) -> Params {
    state
        .pools
        .values()
        .find_map(|p| p.markets.get(asset))
        .map(|m| m.params.clone())
        .unwrap_or_default()
}

/// Checks the oracle for a risk-increasing trade on `asset` under the market's params.
pub fn check_trade(state: &State, asset: &str, p: &Params, now: u64) -> Result<Price, Reject> {
    let feeds = || {
        state
            .oracle
            .spot
            .get(asset)
            .map(|f| f.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let median = state
        .oracle
        .spot(asset, now, p.spot_heartbeat_s)
        .ok_or_else(|| {
            crate::reject!(
                StaleOracle,
                "{asset}: no source ({}) reported within spot_heartbeat_s = {} s",
                feeds(),
                p.spot_heartbeat_s
            )
        })?;
    let conf = state.oracle.confidence(asset, now, p.spot_heartbeat_s);
    if conf > p.oracle_max_confidence.to_f64() {
        return Err(crate::reject!(
            OracleConfidence,
            "{asset}: the fresh sources' ({}) median confidence {conf} exceeds oracle_max_confidence {}",
            feeds(),
            p.oracle_max_confidence
        ));
    }
    if let Some(twap) = state.oracle.twap(asset, now, p.twap_window_s) {
        let div = (median.to_f64() / twap.to_f64() - 1.0).abs();
        if div > p.twap_max_divergence.to_f64() {
            return Err(crate::reject!(
                OracleDivergence,
                "{asset}: median {median} is {:.2} % from its {} s TWAP {twap} (limit {} %)",
                div * 100.0,
                p.twap_window_s,
                p.twap_max_divergence.to_f64() * 100.0
            ));
        }
    }
    if state.oracle.breaker_active(asset, now) {
        return Err(crate::reject!(
            OracleBreaker,
            "{asset}: the oracle breaker holds until {} after a jump between medians above {} %",
            state.oracle.breaker_until[asset],
            p.oracle_breaker_jump.to_f64() * 100.0
        ));
    }
    Ok(median)
}
