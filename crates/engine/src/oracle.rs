//! Oracle: the median of fresh sources (DESIGN.md §5.9, the basic part).
//!
//! - Spot: the median of the latest observation of each allowed source whose age is at most the
//!   heartbeat (`spot_heartbeat_s`); with an even count, the mean of the two middle values
//!   (rounded down).
//! - Vol: for a strike, the median over fresh sources (`vol_heartbeat_s`) of each source's
//!   implied vol at that strike, √(w(k)/T) with k = ln(K/F) and F = spot·e^(rT) — the median of
//!   the vols, not of the SVI parameters.
//!
//! Guard rails (confidence, TWAP divergence, the oracle breaker) arrive with the margin issue.

use crate::command::SviParams;
use crate::state::{Oracle, SpotObservation, VolObservation};

/// Fresh spot sources sorted on the stack by [`Oracle::spot`]; more use the heap.
const STACK_FEEDS: usize = 8;
use derivpool_pricing::SviRaw;
use derivpool_types::{Fixed, Price};

/// Key of a vol slice in [`Oracle::vols`].
pub fn vol_key(underlying: &str, expiry: &str) -> String {
    format!("{underlying}/{expiry}")
}

/// Median of a non-empty sorted slice of prices (mean of the middle two, rounded down).
fn median(sorted: &[Price]) -> Price {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        let (a, b) = (sorted[n / 2 - 1].raw(), sorted[n / 2].raw());
        // a/2 + b/2 with the remainders, rounded down, without overflow.
        Price::from_raw(a.div_euclid(2) + b.div_euclid(2) + (a.rem_euclid(2) + b.rem_euclid(2)) / 2)
    }
}

/// Float median of a non-empty list.
fn median_f64(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Converts command SVI parameters to the pricing type.
pub fn svi_raw(p: &SviParams) -> SviRaw {
    SviRaw {
        a: p.a.to_f64(),
        b: p.b.to_f64(),
        rho: p.rho.to_f64(),
        m: p.m.to_f64(),
        sigma: p.sigma.to_f64(),
    }
}

impl Oracle {
    /// Median spot of `asset` at `now` over sources no older than `heartbeat_s`, or `None`.
    pub fn spot(&self, asset: &str, now: u64, heartbeat_s: u64) -> Option<Price> {
        let feeds = self.spot.get(asset)?;
        // Up to STACK_FEEDS fresh sources are sorted on the stack (no allocation); more go
        // through a Vec. Sorting integers gives the same order either way.
        let mut stack = [Price::ZERO; STACK_FEEDS];
        let mut n = 0;
        for o in feeds.values() {
            if now.saturating_sub(o.t) <= heartbeat_s {
                if n == STACK_FEEDS {
                    return Self::spot_many(feeds.values(), now, heartbeat_s);
                }
                stack[n] = o.price;
                n += 1;
            }
        }
        if n == 0 {
            return None;
        }
        let fresh = &mut stack[..n];
        fresh.sort_unstable();
        Some(median(fresh))
    }

    /// [`Oracle::spot`] for more than [`STACK_FEEDS`] fresh sources.
    #[cold]
    fn spot_many<'a>(
        feeds: impl Iterator<Item = &'a SpotObservation>,
        now: u64,
        heartbeat_s: u64,
    ) -> Option<Price> {
        let mut fresh: Vec<Price> = feeds
            .filter(|o| now.saturating_sub(o.t) <= heartbeat_s)
            .map(|o| o.price)
            .collect();
        if fresh.is_empty() {
            return None;
        }
        fresh.sort_unstable();
        Some(median(&fresh))
    }

    /// Fresh vol slices for a board.
    pub fn fresh_vols(
        &self,
        underlying: &str,
        expiry: &str,
        now: u64,
        heartbeat_s: u64,
    ) -> Vec<&VolObservation> {
        self.vol_feeds(underlying, expiry)
            .map(|feeds| {
                feeds
                    .values()
                    .filter(|o| now.saturating_sub(o.t) <= heartbeat_s)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Oracle {
    /// The vol sources of a board, looked up without allocating the key when it is short.
    pub fn vol_feeds(
        &self,
        underlying: &str,
        expiry: &str,
    ) -> Option<&std::collections::BTreeMap<String, VolObservation>> {
        let len = underlying.len() + 1 + expiry.len();
        let mut buf = [0u8; 64];
        if len > buf.len() {
            return self.vols.get(&vol_key(underlying, expiry));
        }
        buf[..underlying.len()].copy_from_slice(underlying.as_bytes());
        buf[underlying.len()] = b'/';
        buf[underlying.len() + 1..len].copy_from_slice(expiry.as_bytes());
        // Two valid strings joined by an ASCII byte are valid UTF-8.
        let key = std::str::from_utf8(&buf[..len]).expect("joined UTF-8 strings");
        self.vols.get(key)
    }
}

/// The oracle vol at log-moneyness `k` and time to expiry `t_years`: the median over the given
/// slices of their implied vols. `None` if there is no slice.
pub fn vol_at(slices: &[SviRaw], k: f64, t_years: f64) -> Option<f64> {
    if slices.is_empty() || t_years <= 0.0 {
        return None;
    }
    // Up to eight sources on the stack (this runs for every strike of every refresh, quote and
    // health evaluation), more in a vector.
    let mut few = [0.0f64; 8];
    let mut many = Vec::new();
    let vols: &mut [f64] = if slices.len() <= few.len() {
        for (v, s) in few.iter_mut().zip(slices) {
            *v = s.implied_vol(k, t_years);
        }
        &mut few[..slices.len()]
    } else {
        many.extend(slices.iter().map(|s| s.implied_vol(k, t_years)));
        &mut many
    };
    Some(median_f64(vols))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SpotObservation;
    use derivpool_types::Ratio;

    fn obs(t: u64, p: i64) -> SpotObservation {
        SpotObservation {
            t,
            price: Price::from_int(p),
            confidence: Ratio::ZERO,
        }
    }

    /// The median of the slices' vols, for few sources (on the stack) and many (in a vector),
    /// odd and even counts.
    #[test]
    fn vol_at_is_the_median_of_the_sources() {
        use derivpool_pricing::SviRaw;
        let slice = |a: f64| SviRaw {
            a,
            b: 0.0,
            rho: 0.0,
            m: 0.0,
            sigma: 0.1,
        };
        for n in [1usize, 2, 3, 8, 9, 12] {
            // Total variances 0.01·(i + 1) in a shuffled order: vols √(0.01·(i + 1) / t).
            let slices: Vec<SviRaw> = (0..n)
                .map(|i| slice(0.01 * ((i * 7) % n + 1) as f64))
                .collect();
            let mut want: Vec<f64> = slices.iter().map(|s| s.implied_vol(0.0, 0.5)).collect();
            want.sort_by(f64::total_cmp);
            let median = if n % 2 == 1 {
                want[n / 2]
            } else {
                0.5 * (want[n / 2 - 1] + want[n / 2])
            };
            assert_eq!(vol_at(&slices, 0.0, 0.5), Some(median), "{n} sources");
        }
        assert_eq!(vol_at(&[], 0.0, 0.5), None);
    }

    #[test]
    fn median_ignores_stale_sources_and_averages_even_counts() {
        let mut o = Oracle::default();
        let feeds = o.spot.entry("BTC".into()).or_default();
        feeds.insert("a".into(), obs(100, 100));
        feeds.insert("b".into(), obs(100, 103));
        feeds.insert("c".into(), obs(10, 500));
        assert_eq!(o.spot("BTC", 100, 60), Some("101.5".parse().unwrap()));
        assert_eq!(o.spot("BTC", 100, 1000), Some(Price::from_int(103)));
        assert_eq!(o.spot("BTC", 1000, 60), None);
        assert_eq!(o.spot("ETH", 100, 60), None);
    }

    #[test]
    fn median_of_odd_raw_values_rounds_down() {
        let m = median(&[Price::from_raw(1), Price::from_raw(2)]);
        assert_eq!(m.raw(), 1);
        let m = median(&[Price::from_raw(-3), Price::from_raw(0)]);
        assert_eq!(m.raw(), -2);
    }
}
