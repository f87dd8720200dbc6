//! Seeded random streams.
//!
//! Every random decision comes from a ChaCha8 stream (`rand_chacha`, pinned) whose seed is the
//! run's seed mixed with a stream name by SplitMix64, so the market path, the oracle noise and
//! each agent draw from independent streams. The market therefore stays the same when only the
//! agents or the pool generation change (`--compare-generations` relies on it).

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rand_distr::{Distribution, Poisson, StandardNormal};

/// SplitMix64 step: a well-mixed 64-bit hash of `x`.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A named, seeded random stream.
#[derive(Debug, Clone)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// The stream `name` of the run seeded with `seed`.
    pub fn stream(seed: u64, name: &str) -> SimRng {
        let mut h = splitmix64(seed);
        for b in name.bytes() {
            h = splitmix64(h ^ u64::from(b));
        }
        SimRng {
            inner: ChaCha8Rng::seed_from_u64(h),
        }
    }

    /// Uniform on [0, 1).
    pub fn uniform(&mut self) -> f64 {
        // 53 random bits: every value is a multiple of 2^-53.
        (self.inner.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        (self.uniform() * n as f64) as usize % n
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// A standard normal draw.
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.inner)
    }

    /// A Poisson draw with mean `lambda` (0 when `lambda` ≤ 0).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        match Poisson::new(lambda) {
            Ok(p) => p.sample(&mut self.inner) as u64,
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: Vec<u64> = (0..4)
            .map(|_| SimRng::stream(7, "market").inner.next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut m = SimRng::stream(7, "market");
        let mut o = SimRng::stream(7, "oracle");
        assert_ne!(m.inner.next_u64(), o.inner.next_u64());
    }

    #[test]
    fn normal_draws_have_unit_variance() {
        let mut r = SimRng::stream(1, "n");
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }
}
