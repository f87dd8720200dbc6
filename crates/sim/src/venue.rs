//! The simulated hedge venue: where the hedger's orders are executed (DESIGN.md §5.10).
//!
//! A market order of `size` (base units, signed: + buys) at mid S fills at
//! S · (1 + sign(size) · (spread/2 + impact · |size| / depth)) — slippage grows linearly with size —
//! after `latency_s`, pays `fee_rate` × notional, and fails outright with probability
//! `failure_rate` (seeded), in which case the hedger retries on a later step.

use crate::rng::SimRng;

/// An executed hedge order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fill {
    /// Signed size filled (base units).
    pub size: f64,
    /// Average fill price.
    pub price: f64,
    /// Fee paid (quote asset).
    pub fee: f64,
    /// Seconds after the order when the fill is known.
    pub latency_s: u64,
}

/// A venue that executes hedge orders.
pub trait Venue {
    /// Executes a signed market order at mid `mid`; `None` when the order failed.
    fn execute(&mut self, size: f64, mid: f64) -> Option<Fill>;
}

/// A simulated venue with fees, size-dependent slippage, latency and failures.
#[derive(Debug, Clone)]
pub struct SimVenue {
    /// Fee as a fraction of notional.
    pub fee_rate: f64,
    /// Bid-ask spread as a fraction of mid.
    pub spread: f64,
    /// Price impact at `depth` base units, as a fraction of mid.
    pub impact: f64,
    /// Size (base units) at which the impact is `impact`.
    pub depth: f64,
    /// Seconds until a fill is known.
    pub latency_s: u64,
    /// Probability that an order fails.
    pub failure_rate: f64,
    rng: SimRng,
}

impl SimVenue {
    /// A venue like a large perp exchange: 5 bp fee, 2 bp spread, 10 bp impact per 100 units,
    /// 2 s latency, 2 % failed orders.
    pub fn new(rng: SimRng) -> SimVenue {
        SimVenue {
            fee_rate: 0.0005,
            spread: 0.0002,
            impact: 0.001,
            depth: 100.0,
            latency_s: 2,
            failure_rate: 0.02,
            rng,
        }
    }
}

impl Venue for SimVenue {
    fn execute(&mut self, size: f64, mid: f64) -> Option<Fill> {
        if size == 0.0 || !mid.is_finite() || mid <= 0.0 || self.rng.chance(self.failure_rate) {
            return None;
        }
        let slip = self.spread / 2.0 + self.impact * size.abs() / self.depth;
        let price = mid * (1.0 + size.signum() * slip);
        Some(Fill {
            size,
            price,
            fee: self.fee_rate * size.abs() * price,
            latency_s: self.latency_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slippage_grows_with_size_and_against_the_order() {
        let mut v = SimVenue::new(SimRng::stream(1, "venue"));
        v.failure_rate = 0.0;
        let small = v.execute(1.0, 100.0).unwrap();
        let large = v.execute(50.0, 100.0).unwrap();
        let sell = v.execute(-50.0, 100.0).unwrap();
        assert!(small.price > 100.0 && large.price > small.price);
        assert!(sell.price < 100.0);
        assert!((large.fee - 0.0005 * 50.0 * large.price).abs() < 1e-9);
    }

    #[test]
    fn failures_happen_at_their_rate() {
        let mut v = SimVenue::new(SimRng::stream(2, "venue"));
        v.failure_rate = 0.3;
        let failed = (0..10_000)
            .filter(|_| v.execute(1.0, 100.0).is_none())
            .count();
        assert!((2_700..3_300).contains(&failed), "{failed} failures");
    }
}
