//! GWAV: the geometric time-weighted average of Lyra's `GWAV.sol` (Lyra v1 Avalon), with integer
//! state.
//!
//! # Definition
//!
//! A positive value v(s) is piecewise constant in time s (unix seconds): it becomes vᵢ at tᵢ
//! and stays so until tᵢ₊₁. The accumulator is q(τ) = ∫ ln v(s) ds from the first observation to
//! τ, so q(tᵢ₊₁) = q(tᵢ) + ln(vᵢ)·(tᵢ₊₁ − tᵢ), and the GWAV over [τ₀, τ₁] is
//!
//! ```text
//! GWAV = exp((q(τ₁) − q(τ₀)) / (τ₁ − τ₀)),
//! ```
//!
//! the exponential of the time-average of ln v: a single short-lived outlier moves it by
//! (its share of the period) × its log-distance, and never by more than the largest value.
//!
//! # Integer state (the engine hashes it)
//!
//! - times: `u64` unix seconds;
//! - ln vᵢ: `i128` with 18 decimals, `rint(libm::log(v) · 10¹⁸)` (round half to even of the f64
//!   product; for |ln v| ≥ 0.01 the product is already an integer, so this only matters near
//!   v = 1);
//! - q: `i128` in units of 10⁻¹⁸ · seconds (ln × 10¹⁸ × seconds), with saturating arithmetic (it
//!   cannot saturate for realistic values: |ln v| ≤ 745 for any positive f64, so q stays below
//!   10³⁸ for over 10¹⁶ seconds of history);
//! - a ring of at most `capacity` (≥ 2) observations (tᵢ, ln vᵢ, q(tᵢ)); the oldest are dropped.
//!
//! `gwav(now, period_s)` takes q at now and at max(now − period_s, t_oldest) by linear
//! interpolation inside the observation segment that contains each, divides the difference by the
//! length in integer arithmetic (rounding toward −∞, to 10⁻¹⁸ in ln), and only then converts to
//! f64 and applies `libm::exp`. Identical state and inputs give bit-identical results everywhere.
//!
//! # Inputs that are ignored (no panics)
//!
//! - a value that is not finite or not > 0 (NaN, ±∞, 0, negative): `record` ignores it, and
//!   `new` with such a value starts an empty accumulator that the first valid `record` seeds;
//! - a time earlier than the latest observation's: `record` ignores it;
//! - a time equal to the latest observation's: `record` replaces that observation's value (the
//!   new value holds from that time on; no zero-length segment, no division by zero).
//!
//! An empty accumulator returns NaN from [`Gwav::current`] and [`Gwav::gwav`].

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

/// Fixed-point scale of ln values: 18 decimals.
const LN_SCALE: f64 = 1e18;

/// Smallest ring capacity (two observations make one segment).
pub const GWAV_MIN_CAPACITY: usize = 2;

/// One observation: from `t` on the value is exp(ln_value / 1e18); `q` is the accumulator at `t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Observation {
    /// Unix seconds.
    t: u64,
    /// ln(value) × 1e18, rounded half to even.
    ln_value: i128,
    /// ∫ ln(value) ds × 1e18 from the first observation ever recorded to `t` (s in seconds).
    q: i128,
}

/// Geometric time-weighted average of a positive value, with integer state so that it can live
/// in the engine's deterministic state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gwav {
    /// Maximum number of observations kept (≥ 2).
    capacity: u64,
    /// Observations by increasing t; at most `capacity`. Shared between copies until one of
    /// them records (copy-on-write): the engine copies its state every tick, and a GWAV only
    /// changes on trades.
    obs: Arc<VecDeque<Observation>>,
}

/// ln(value) × 1e18 rounded half to even, or None if value is not finite and > 0.
fn quantise_ln(value: f64) -> Option<i128> {
    if !(value.is_finite() && value > 0.0) {
        return None;
    }
    // |ln| ≤ 745, so the product is at most 7.5e20: far inside i128.
    Some(libm::rint(libm::log(value) * LN_SCALE) as i128)
}

/// exp(ln / 1e18).
fn exp_fixed(ln: i128) -> f64 {
    // Both conversions round the same integer to the nearest double; the 64-bit one is a
    // hardware instruction (|ln| < 2⁶³ for values within e^±9.2, i.e. every ratio near 1).
    let x = match i64::try_from(ln) {
        Ok(small) => small as f64,
        Err(_) => ln as f64,
    };
    libm::exp(x / LN_SCALE)
}

impl Gwav {
    /// Starts at time `t` (unix seconds) with `value` (> 0), keeping at most `capacity`
    /// observations.
    ///
    /// `capacity` below 2 is raised to 2. A `value` that is not finite and > 0 gives an empty
    /// accumulator (see the module docs).
    pub fn new(t: u64, value: f64, capacity: usize) -> Self {
        let mut g = Gwav {
            capacity: capacity.max(GWAV_MIN_CAPACITY) as u64,
            obs: Arc::new(VecDeque::new()),
        };
        g.record(t, value);
        g
    }

    /// Records that the value became `value` at time `t` (t never decreases).
    ///
    /// Ignored when `value` is not finite and > 0 or when `t` is earlier than the latest
    /// observation; replaces the latest observation's value when `t` equals its time. The oldest
    /// observation is dropped when there are more than `capacity`.
    pub fn record(&mut self, t: u64, value: f64) {
        let Some(ln_value) = quantise_ln(value) else {
            return;
        };
        if self.obs.back().is_some_and(|last| t < last.t) {
            return;
        }
        let obs = Arc::make_mut(&mut self.obs);
        let Some(last) = obs.back_mut() else {
            obs.push_back(Observation { t, ln_value, q: 0 });
            return;
        };
        if t < last.t {
            return;
        }
        if t == last.t {
            last.ln_value = ln_value;
            return;
        }
        let q = last
            .q
            .saturating_add(last.ln_value.saturating_mul(i128::from(t - last.t)));
        obs.push_back(Observation { t, ln_value, q });
        while obs.len() as u64 > self.capacity {
            obs.pop_front();
        }
    }

    /// The latest value (as stored: exp of the quantised ln, within about 1e-16 relative of the
    /// recorded value); NaN when empty.
    pub fn current(&self) -> f64 {
        self.obs.back().map_or(f64::NAN, |o| exp_fixed(o.ln_value))
    }

    /// The geometric average over [now − period_s, now], over the history there is.
    ///
    /// The period start is clamped to the oldest observation kept. When the period is empty
    /// (`period_s` = 0, or `now` at or before the oldest observation) this is the value in effect
    /// at `now` (the oldest value if `now` is before it), which is [`Gwav::current`] whenever
    /// `now` is at or after the latest observation. `now` before the latest observation averages
    /// over the history up to `now`. NaN when empty.
    pub fn gwav(&self, now: u64, period_s: u64) -> f64 {
        let (Some(first), Some(last)) = (self.obs.front(), self.obs.back()) else {
            return f64::NAN;
        };
        // The usual query: the whole period after the latest observation, where the value is
        // constant. The average is then that value, exactly as the search below finds it
        // (q rises by ln·dt over the period, and ln·dt / dt = ln), without the search.
        let start = now.saturating_sub(period_s).max(first.t);
        if start >= last.t
            && now > start
            && last
                .ln_value
                .checked_mul(i128::from(now - last.t))
                .is_some_and(|d| last.q.checked_add(d).is_some())
        {
            return exp_fixed(last.ln_value);
        }
        self.gwav_by_search(now, start)
    }

    /// [`Gwav::gwav`] over [start, now] (start ≥ the oldest observation) by searching the
    /// segments that contain both ends.
    fn gwav_by_search(&self, now: u64, start: u64) -> f64 {
        if now <= start {
            return exp_fixed(self.segment(now).ln_value);
        }
        let dq = self.q_at(now).saturating_sub(self.q_at(start));
        let dt = i128::from(now - start);
        exp_fixed(dq.div_euclid(dt))
    }

    /// Number of observations kept.
    pub fn len(&self) -> usize {
        self.obs.len()
    }

    /// True before the first valid value.
    pub fn is_empty(&self) -> bool {
        self.obs.is_empty()
    }

    /// Maximum number of observations kept (≥ 2).
    pub fn capacity(&self) -> usize {
        usize::try_from(self.capacity).unwrap_or(usize::MAX)
    }

    /// Time (unix seconds) of the latest observation, None when empty.
    pub fn last_time(&self) -> Option<u64> {
        self.obs.back().map(|o| o.t)
    }

    /// The observation in effect at `tau`: the last with t ≤ tau, or the oldest one if tau is
    /// before it. Only called when not empty.
    fn segment(&self, tau: u64) -> Observation {
        // At or after the latest observation (where `now` usually is) no search is needed.
        if let Some(last) = self.obs.back().filter(|o| o.t <= tau) {
            return *last;
        }
        let i = self.obs.partition_point(|o| o.t <= tau);
        let idx = i.saturating_sub(1);
        self.obs.get(idx).copied().unwrap_or(Observation {
            t: tau,
            ln_value: 0,
            q: 0,
        })
    }

    /// q(tau) by linear interpolation within the segment that contains tau (tau ≥ oldest t).
    fn q_at(&self, tau: u64) -> i128 {
        let o = self.segment(tau);
        let dt = i128::from(tau.saturating_sub(o.t));
        o.q.saturating_add(o.ln_value.saturating_mul(dt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantisation_rounds_half_to_even() {
        // ln(1) = 0 exactly.
        assert_eq!(quantise_ln(1.0), Some(0));
        assert_eq!(quantise_ln(0.0), None);
        assert_eq!(quantise_ln(-1.0), None);
        assert_eq!(quantise_ln(f64::NAN), None);
        assert_eq!(quantise_ln(f64::INFINITY), None);
        // ln 2 = 0.693147180559945309417…: the f64 product has an ulp of 128 at 6.9e17.
        let x = quantise_ln(2.0).unwrap();
        assert!((x - 693_147_180_559_945_309).abs() <= 128, "{x}");
        // Near 1 the rounding to an integer matters: 0.4e-18 of ln rounds to 0.
        assert_eq!(quantise_ln(1.0 + f64::EPSILON), Some(222));
        assert_eq!(quantise_ln(1.0 - f64::EPSILON / 2.0), Some(-111));
    }

    /// The shortcut for a period after the latest observation gives bit for bit what the
    /// search gives, for random histories and queries before, inside and after them.
    #[test]
    fn the_shortcut_equals_the_search() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut shortcuts = 0;
        for _ in 0..5_000 {
            let t0 = 1_700_000_000 + next() % 1_000_000;
            let mut g = Gwav::new(
                t0,
                0.5 + (next() % 1000) as f64 / 500.0,
                2 + (next() % 6) as usize,
            );
            let mut t = t0;
            for _ in 0..next() % 8 {
                t += next() % 20_000;
                g.record(t, 0.2 + (next() % 1000) as f64 / 300.0);
            }
            for _ in 0..20 {
                let now = t0.saturating_sub(5_000) + next() % (t - t0 + 90_000);
                let period = [0, 1, 600, 3_600, 86_400, next() % 200_000][(next() % 6) as usize];
                let first = g.obs.front().expect("not empty").t;
                let start = now.saturating_sub(period).max(first);
                let (fast, slow) = (g.gwav(now, period), g.gwav_by_search(now, start));
                assert_eq!(fast.to_bits(), slow.to_bits(), "now {now} period {period}");
                shortcuts +=
                    usize::from(start >= g.obs.back().expect("not empty").t && now > start);
            }
        }
        // Both kinds of query were asked.
        assert!(shortcuts > 10_000 && shortcuts < 90_000, "{shortcuts}");
    }

    #[test]
    fn the_64_bit_conversion_rounds_as_the_128_bit_one() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Values of every size up to 2⁶³, where the two conversions both apply.
            let ln = (x >> (x % 64)) as i64 as i128 * if x.is_multiple_of(3) { -1 } else { 1 };
            assert_eq!(
                exp_fixed(ln).to_bits(),
                libm::exp(ln as f64 / LN_SCALE).to_bits(),
                "{ln}"
            );
        }
    }

    #[test]
    fn segment_before_first_is_first() {
        let g = Gwav::new(100, 2.0, 4);
        assert_eq!(g.segment(50).t, 100);
        assert!((g.gwav(50, 10) - 2.0).abs() < 1e-15);
    }
}
