//! The hedge venue: where the engine's `hedge_order`s are executed (DESIGN.md §5.10), as a trait
//! the simulator and the server both drive, and a seeded simulation of a perp exchange.
//!
//! [`SimVenue`] fills a market order of signed `size` (base units, + buys) at mid `S`
//!
//! ```text
//! price = S × (1 + sign(size) × (spread / 2 + impact × |chunk| / depth))   slippage grows with size
//! fee   = fee_rate × |chunk| × price
//! ```
//!
//! in `chunks` equal parts, the k-th known `k × latency_s` after the order (partial fills over
//! time). Each chunk fails independently with probability `failure_probability`, drawn from a
//! seeded stream, so a run replays exactly from its seed; a failed chunk is never filled, and
//! the engine re-issues what is missing after its interaction delay. Buy prices round up and sell
//! prices down, fees up: the venue never rounds in the pool's favour.

use crate::rng::SplitMix64;
use derivpool_types::{Base, Fixed, Price, Quote, Rounding};
use std::collections::BTreeMap;

/// An order sent to a venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueOrder {
    /// Pool that ordered.
    pub pool: String,
    /// Asset.
    pub underlying: String,
    /// The engine's order id (per pool and underlying).
    pub id: u64,
    /// Signed size, base units (+ buy).
    pub size: Base,
}

/// A fill reported by a venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueFill {
    /// Pool.
    pub pool: String,
    /// Asset.
    pub underlying: String,
    /// The order it belongs to.
    pub order_id: u64,
    /// Signed size filled, base units.
    pub size: Base,
    /// Fill price, quote per base unit.
    pub price: Price,
    /// Fee charged, quote.
    pub fee: Quote,
    /// When it is known (unix seconds).
    pub t: u64,
}

/// A venue that executes hedge orders over time.
pub trait Venue {
    /// The venue's name, as it appears in `hedge_fill` commands.
    fn name(&self) -> &str;
    /// Accepts an order at time `now` with the market's mid price `mid`.
    fn submit(&mut self, order: VenueOrder, mid: Price, now: u64);
    /// Cancels what is still unfilled of an order (a no-op when nothing is left).
    fn cancel(&mut self, pool: &str, underlying: &str, id: u64);
    /// The fills known by `now`, oldest first; each is returned once.
    fn poll(&mut self, now: u64) -> Vec<VenueFill>;
}

/// Settings of [`SimVenue`]. Reads from JSON with every field optional (defaults below).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimVenueConfig {
    /// Name in `hedge_fill` commands.
    pub name: String,
    /// Fee as a fraction of notional.
    pub fee_rate: f64,
    /// Bid-ask spread as a fraction of mid.
    pub spread: f64,
    /// Price impact at `depth`, as a fraction of mid.
    pub impact: f64,
    /// Size (base units) at which the impact is `impact`.
    pub depth: f64,
    /// Seconds between an order and its first chunk, and between chunks.
    pub latency_s: u64,
    /// Parts an order fills in.
    pub chunks: u32,
    /// Probability that a chunk fails.
    pub failure_probability: f64,
    /// Seed of the failure draws.
    pub seed: u64,
}

impl Default for SimVenueConfig {
    /// A large perp exchange: 5 bp fee, 2 bp spread, 10 bp impact per 100 units, 2 s latency,
    /// two chunks, 2 % of chunks fail.
    fn default() -> Self {
        SimVenueConfig {
            name: "sim".to_string(),
            fee_rate: 0.0005,
            spread: 0.0002,
            impact: 0.001,
            depth: 100.0,
            latency_s: 2,
            chunks: 2,
            failure_probability: 0.02,
            seed: 1,
        }
    }
}

/// Most chunks one order is split into.
pub const CHUNKS_MAX: u32 = 64;

/// A seeded simulated venue (module doc).
#[derive(Debug, Clone)]
pub struct SimVenue {
    config: SimVenueConfig,
    rng: SplitMix64,
    /// Fills not yet reported, by (due time, sequence).
    scheduled: BTreeMap<(u64, u64), VenueFill>,
    seq: u64,
}

impl SimVenue {
    /// A venue with the given settings.
    pub fn new(config: SimVenueConfig) -> SimVenue {
        let rng = SplitMix64::new(config.seed);
        SimVenue {
            config,
            rng,
            scheduled: BTreeMap::new(),
            seq: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &SimVenueConfig {
        &self.config
    }

    /// Fills scheduled but not yet reported.
    pub fn in_flight(&self) -> usize {
        self.scheduled.len()
    }
}

impl Venue for SimVenue {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn submit(&mut self, order: VenueOrder, mid: Price, now: u64) {
        let c = &self.config;
        let chunks = c.chunks.clamp(1, CHUNKS_MAX);
        let total = order.size.raw();
        if total == 0 || mid <= Price::ZERO {
            return;
        }
        let part = total / i128::from(chunks);
        for k in 0..chunks {
            let raw = if k == chunks - 1 {
                total - part * i128::from(chunks - 1)
            } else {
                part
            };
            if raw == 0 || self.rng.chance(c.failure_probability) {
                continue;
            }
            let size = Base::from_raw(raw);
            let slip = c.spread / 2.0 + c.impact * size.to_f64().abs() / c.depth;
            let buy = raw > 0;
            let px = mid.to_f64() * (1.0 + if buy { slip } else { -slip });
            let Ok(price) = Price::from_f64(px, if buy { Rounding::Up } else { Rounding::Down })
            else {
                continue;
            };
            let fee = Quote::from_f64(
                c.fee_rate * size.to_f64().abs() * price.to_f64(),
                Rounding::Up,
            )
            .unwrap_or(Quote::ZERO);
            let t = now + c.latency_s * u64::from(k + 1);
            self.seq += 1;
            self.scheduled.insert(
                (t, self.seq),
                VenueFill {
                    pool: order.pool.clone(),
                    underlying: order.underlying.clone(),
                    order_id: order.id,
                    size,
                    price,
                    fee,
                    t,
                },
            );
        }
    }

    fn cancel(&mut self, pool: &str, underlying: &str, id: u64) {
        self.scheduled
            .retain(|_, f| !(f.pool == pool && f.underlying == underlying && f.order_id == id));
    }

    fn poll(&mut self, now: u64) -> Vec<VenueFill> {
        let later = self.scheduled.split_off(&(now + 1, 0));
        let due = std::mem::replace(&mut self.scheduled, later);
        due.into_values().collect()
    }
}
