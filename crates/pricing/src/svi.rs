//! Raw SVI and SSVI volatility slices and Gatheral's butterfly (density) check.
//!
//! # Raw SVI (Gatheral 2004)
//!
//! For one expiry, the total implied variance w = σ_BS²·t (dimensionless: vol per √year squared
//! times years) as a function of log-moneyness k = ln(K/F) is
//!
//! ```text
//! w(k)   = a + b(ρ(k − m) + √((k − m)² + σ²))
//! w'(k)  = b(ρ + (k − m)/√((k − m)² + σ²))
//! w''(k) = b σ² / ((k − m)² + σ²)^(3/2)
//! ```
//!
//! and the implied vol is √(w(k)/t) (decimal per √year, 0.8 = 80 %).
//!
//! # Butterfly arbitrage (Gatheral–Jacquier 2014, "Arbitrage-free SVI volatility surfaces",
//! Quantitative Finance 14(1), §2.2)
//!
//! A slice is free of butterfly arbitrage iff the risk-neutral density of ln(S_T/F),
//! p(k) = g(k)/√(2πw(k)) · exp(−d₂(k)²/2) with d₂ = −k/√w − √w/2, is non-negative, i.e. iff
//!
//! ```text
//! g(k) = (1 − k w'/(2w))² − (w'²/4)(1/w + 1/4) + w''/2 ≥ 0   for every k.
//! ```
//!
//! (The density of K itself is ∂²C/∂K² = g(k)·φ(d₂)/(K√w) for undiscounted calls.)
//! [`SviRaw::butterfly_check`] evaluates g on a fixed grid (see its doc) and refines around the
//! grid minimum; the slice is reported `ok` when min g ≥ −[`BUTTERFLY_TOLERANCE`].
//!
//! # SSVI (Gatheral–Jacquier 2014, §4)
//!
//! w(k) = θ/2 · (1 + ρφk + √((φk + ρ)² + 1 − ρ²)) with the power-law
//! φ(θ) = η / (θ^γ (1 + θ)^(1−γ)). Lemma 3.2 of the paper gives the exact raw-SVI equivalent
//! a = θ(1 − ρ²)/2, b = θφ/2, ρ_raw = ρ, m = −ρ/φ, σ = √(1 − ρ²)/φ ([`Ssvi::to_raw`]). Theorem 4.2:
//! a slice is free of butterfly arbitrage if θφ(1 + |ρ|) < 4 and θφ²(1 + |ρ|) ≤ 4
//! ([`Ssvi::butterfly_sufficient`]).

use serde::{Deserialize, Serialize};

/// A slice passes the butterfly check when the minimum of g(k) over the grid is at least
/// −`BUTTERFLY_TOLERANCE` (dimensionless, same units as g). The terms of g are O(1) for any
/// reasonable slice, so rounding errors are around 1e-15; 1e-12 leaves room for that and nothing
/// more.
pub const BUTTERFLY_TOLERANCE: f64 = 1e-12;

/// Raw SVI slice: total variance w(k) = a + b(ρ(k − m) + √((k − m)² + σ²)), k = ln(K/F).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SviRaw {
    /// Vertical level of total variance.
    pub a: f64,
    /// Slope of the wings (≥ 0).
    pub b: f64,
    /// Skew, in (−1, 1).
    pub rho: f64,
    /// Horizontal shift in log-moneyness.
    pub m: f64,
    /// Smoothness at the vertex (> 0).
    pub sigma: f64,
}

/// Parameters that do not form a valid raw SVI slice.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid SVI parameter {field} = {value}: {rule}")]
pub struct SviError {
    /// Which parameter.
    pub field: &'static str,
    /// Its value.
    pub value: f64,
    /// The rule it breaks.
    pub rule: &'static str,
}

/// Result of the butterfly (density) check on a grid of k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ButterflyReport {
    /// True when g(k) ≥ 0 everywhere on the grid.
    pub ok: bool,
    /// The minimum of Gatheral's g(k) on the grid.
    pub min_density: f64,
    /// Where that minimum is.
    pub k_at_min: f64,
}

fn err(field: &'static str, value: f64, rule: &'static str) -> SviError {
    SviError { field, value, rule }
}

/// Half-width of the fixed, wide part of the butterfly grid in k (K/F from e^−3 ≈ 0.05 to
/// e^3 ≈ 20).
const GRID_WIDE: f64 = 3.0;
/// Points of the fixed grid on [−3, 3] (spacing 0.005).
const GRID_WIDE_N: usize = 1201;
/// Points of the grid on [m − 8σ, m + 8σ] around the vertex (spacing 0.04σ).
const GRID_VERTEX_N: usize = 401;
/// Points of the grid on [−8s, 8s], s = √w(0) the ATM standard deviation (spacing 0.04s).
const GRID_ATM_N: usize = 401;
/// Geometric tail points on each side: |k| = 3·1.06^j, j = 1..=80 (out to |k| ≈ 316, where g
/// is within O(1/|k|) of its limit 1/4 − b²(1 ± ρ)²/16, so Lee's wing bound is checked too).
const GRID_TAIL_N: i32 = 80;
const GRID_TAIL_RATIO: f64 = 1.06;

impl SviRaw {
    /// Checks b ≥ 0, |ρ| < 1, σ > 0, all finite, and a + bσ√(1−ρ²) ≥ 0 (non-negative variance).
    pub fn validate(&self) -> Result<(), SviError> {
        let fields = [
            ("a", self.a),
            ("b", self.b),
            ("rho", self.rho),
            ("m", self.m),
            ("sigma", self.sigma),
        ];
        for (name, v) in fields {
            if !v.is_finite() {
                return Err(err(name, v, "must be finite"));
            }
        }
        if self.b < 0.0 {
            return Err(err("b", self.b, "must be >= 0"));
        }
        if self.rho.abs() >= 1.0 {
            return Err(err("rho", self.rho, "must be in (-1, 1)"));
        }
        if self.sigma <= 0.0 {
            return Err(err("sigma", self.sigma, "must be > 0"));
        }
        if self.min_total_variance() < 0.0 {
            return Err(err(
                "a",
                self.a,
                "minimum total variance a + b*sigma*sqrt(1 - rho^2) must be >= 0",
            ));
        }
        Ok(())
    }

    /// The minimum of w over k, a + bσ√(1 − ρ²) (at k = m − ρσ/√(1 − ρ²)); dimensionless.
    pub fn min_total_variance(&self) -> f64 {
        self.a + self.b * self.sigma * libm::sqrt(1.0 - self.rho * self.rho)
    }

    /// Total variance w(k) (dimensionless, vol² × years) at log-moneyness k = ln(K/F).
    #[inline]
    pub fn total_variance(&self, k: f64) -> f64 {
        let x = k - self.m;
        self.a + self.b * (self.rho * x + libm::sqrt(x * x + self.sigma * self.sigma))
    }

    /// Implied vol √(w(k)/t) (decimal per √year) at log-moneyness k and maturity t in years;
    /// 0 when w(k) ≤ 0 or t ≤ 0, NaN when an input is NaN.
    #[inline]
    pub fn implied_vol(&self, k: f64, t: f64) -> f64 {
        let w = self.total_variance(k);
        if w.is_nan() || t.is_nan() {
            return f64::NAN;
        }
        if w <= 0.0 || t <= 0.0 {
            return 0.0;
        }
        libm::sqrt(w / t)
    }

    /// First derivative w'(k) = b(ρ + (k − m)/√((k − m)² + σ²)).
    #[inline]
    pub fn dw_dk(&self, k: f64) -> f64 {
        let x = k - self.m;
        self.b * (self.rho + x / libm::sqrt(x * x + self.sigma * self.sigma))
    }

    /// Second derivative w''(k) = bσ²/((k − m)² + σ²)^(3/2).
    #[inline]
    pub fn d2w_dk2(&self, k: f64) -> f64 {
        let x = k - self.m;
        let s2 = self.sigma * self.sigma;
        let r2 = x * x + s2;
        self.b * s2 / (r2 * libm::sqrt(r2))
    }

    /// Gatheral's g(k) = (1 − k w'/(2w))² − (w'²/4)(1/w + 1/4) + w''/2 (dimensionless).
    /// The slice has no butterfly arbitrage iff g ≥ 0 everywhere. Where w(k) ≤ 0 the density is
    /// undefined and this returns −∞ (zero or negative variance is treated as arbitrage); NaN
    /// parameters give NaN.
    #[inline]
    pub fn density_g(&self, k: f64) -> f64 {
        let x = k - self.m;
        let s2 = self.sigma * self.sigma;
        let r2 = x * x + s2;
        let r = libm::sqrt(r2);
        let w = self.a + self.b * (self.rho * x + r);
        if w.is_nan() {
            return f64::NAN;
        }
        if w <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let inv_r = 1.0 / r;
        let inv_w = 1.0 / w;
        let w1 = self.b * (self.rho + x * inv_r);
        let w2 = self.b * s2 * inv_r * inv_r * inv_r;
        let u = 1.0 - 0.5 * k * w1 * inv_w;
        u * u - 0.25 * w1 * w1 * (inv_w + 0.25) + 0.5 * w2
    }

    /// Butterfly check: the minimum of g(k) over a grid, refined locally.
    ///
    /// The grid is the union of: 1201 points on the fixed range k ∈ [−3, 3]; 401 points on
    /// [m − 8σ, m + 8σ] (the vertex, where g varies on the scale σ); 401 points on [−8s, 8s] with
    /// s = √w(0) the at-the-money standard deviation (short expiries); and 80 geometric points
    /// per side out to |k| ≈ 316 (the wings, where g tends to 1/4 − b²(1 ± ρ)²/16, so a slice
    /// that breaks Lee's bound b(1 + |ρ|) ≤ 2 is caught). Around the grid minimum a golden-section
    /// search over ± one grid step refines it. `ok` iff the minimum ≥ −[`BUTTERFLY_TOLERANCE`].
    ///
    /// Parameters that fail [`SviRaw::validate`] give `ok = false`, `min_density = −∞` and
    /// `k_at_min = NaN`.
    pub fn butterfly_check(&self) -> ButterflyReport {
        if self.validate().is_err() {
            return ButterflyReport {
                ok: false,
                min_density: f64::NEG_INFINITY,
                k_at_min: f64::NAN,
            };
        }
        // (min g, k at min, half-width of the bracket for refinement)
        let mut best = (f64::INFINITY, 0.0_f64, 0.0_f64);
        self.scan_uniform(-GRID_WIDE, GRID_WIDE, GRID_WIDE_N, &mut best);
        self.scan_uniform(
            self.m - 8.0 * self.sigma,
            self.m + 8.0 * self.sigma,
            GRID_VERTEX_N,
            &mut best,
        );
        let s = libm::sqrt(self.total_variance(0.0).max(0.0));
        if s > 0.0 && s.is_finite() {
            self.scan_uniform(-8.0 * s, 8.0 * s, GRID_ATM_N, &mut best);
        }
        let mut kt = GRID_WIDE;
        for _ in 0..GRID_TAIL_N {
            let next = kt * GRID_TAIL_RATIO;
            let h = next - kt;
            self.consider(next, h, &mut best);
            self.consider(-next, h, &mut best);
            kt = next;
        }
        let (mut gmin, mut kmin, h) = best;
        if gmin.is_finite() && h > 0.0 {
            // Golden-section search for the minimum of g on [kmin − h, kmin + h].
            const INV_PHI: f64 = 0.618_033_988_749_894_8;
            let (mut lo, mut hi) = (kmin - h, kmin + h);
            let mut x1 = hi - INV_PHI * (hi - lo);
            let mut x2 = lo + INV_PHI * (hi - lo);
            let mut f1 = self.density_g(x1);
            let mut f2 = self.density_g(x2);
            for _ in 0..60 {
                if f1 < f2 {
                    hi = x2;
                    x2 = x1;
                    f2 = f1;
                    x1 = hi - INV_PHI * (hi - lo);
                    f1 = self.density_g(x1);
                } else {
                    lo = x1;
                    x1 = x2;
                    f1 = f2;
                    x2 = lo + INV_PHI * (hi - lo);
                    f2 = self.density_g(x2);
                }
            }
            for (k, g) in [(x1, f1), (x2, f2)] {
                if g < gmin {
                    gmin = g;
                    kmin = k;
                }
            }
        }
        if gmin.is_nan() || gmin == f64::INFINITY {
            return ButterflyReport {
                ok: false,
                min_density: f64::NAN,
                k_at_min: f64::NAN,
            };
        }
        ButterflyReport {
            ok: gmin >= -BUTTERFLY_TOLERANCE,
            min_density: gmin,
            k_at_min: kmin,
        }
    }
}

impl SviRaw {
    /// Keeps (g, k, h) of the lowest g seen; NaN never replaces a number, −∞ (w ≤ 0) always wins.
    #[inline]
    fn consider(&self, k: f64, h: f64, best: &mut (f64, f64, f64)) {
        let g = self.density_g(k);
        if g < best.0 {
            *best = (g, k, h);
        }
    }

    fn scan_uniform(&self, lo: f64, hi: f64, n: usize, best: &mut (f64, f64, f64)) {
        let h = (hi - lo) / (n - 1) as f64;
        for i in 0..n {
            self.consider(lo + h * i as f64, h, best);
        }
    }
}

/// SSVI slice (Gatheral–Jacquier).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ssvi {
    /// ATM total variance θ.
    pub theta: f64,
    /// Correlation ρ.
    pub rho: f64,
    /// Power-law φ(θ) = η / (θ^γ (1+θ)^(1−γ)): η.
    pub eta: f64,
    /// Power-law exponent γ.
    pub gamma: f64,
}

impl Ssvi {
    /// Checks θ > 0, |ρ| < 1, η > 0, γ ∈ [0, 1], all finite.
    pub fn validate(&self) -> Result<(), SviError> {
        if !(self.theta.is_finite() && self.theta > 0.0) {
            return Err(err("theta", self.theta, "must be finite and > 0"));
        }
        if !(self.rho.is_finite() && self.rho.abs() < 1.0) {
            return Err(err("rho", self.rho, "must be in (-1, 1)"));
        }
        if !(self.eta.is_finite() && self.eta > 0.0) {
            return Err(err("eta", self.eta, "must be finite and > 0"));
        }
        if !(self.gamma.is_finite() && (0.0..=1.0).contains(&self.gamma)) {
            return Err(err("gamma", self.gamma, "must be in [0, 1]"));
        }
        Ok(())
    }

    /// The power-law φ(θ) = η / (θ^γ (1 + θ)^(1−γ)) (dimensionless).
    pub fn phi(&self) -> f64 {
        self.eta
            / (libm::pow(self.theta, self.gamma) * libm::pow(1.0 + self.theta, 1.0 - self.gamma))
    }

    /// Total variance w(k) = θ/2 (1 + ρφk + √((φk + ρ)² + 1 − ρ²)) at log-moneyness k = ln(K/F).
    pub fn total_variance(&self, k: f64) -> f64 {
        let phi = self.phi();
        let u = phi * k + self.rho;
        0.5 * self.theta
            * (1.0 + self.rho * phi * k + libm::sqrt(u * u + 1.0 - self.rho * self.rho))
    }

    /// The exact raw-SVI equivalent (Gatheral–Jacquier 2014, Lemma 3.2):
    /// a = θ(1 − ρ²)/2, b = θφ/2, ρ, m = −ρ/φ, σ = √(1 − ρ²)/φ. Invalid SSVI parameters give a
    /// raw slice that fails [`SviRaw::validate`].
    pub fn to_raw(&self) -> SviRaw {
        let phi = self.phi();
        let rho = self.rho;
        SviRaw {
            a: 0.5 * self.theta * (1.0 - rho * rho),
            b: 0.5 * self.theta * phi,
            rho,
            m: -rho / phi,
            sigma: libm::sqrt(1.0 - rho * rho) / phi,
        }
    }

    /// Gatheral–Jacquier 2014 Theorem 4.2, the sufficient condition for no butterfly arbitrage
    /// of this slice: θφ(θ)(1 + |ρ|) < 4 and θφ(θ)²(1 + |ρ|) ≤ 4 (false for invalid parameters).
    /// The condition is sufficient, not necessary: a slice may fail it and still have g ≥ 0.
    pub fn butterfly_sufficient(&self) -> bool {
        if self.validate().is_err() {
            return false;
        }
        let phi = self.phi();
        let r = 1.0 + self.rho.abs();
        self.theta * phi * r < 4.0 && self.theta * phi * phi * r <= 4.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normal::norm_cdf;

    /// Axel Vogt's slice (Gatheral–Jacquier 2014, Example 3.1), t = 1.
    const VOGT: SviRaw = SviRaw {
        a: -0.0410,
        b: 0.1331,
        rho: 0.3060,
        m: 0.3586,
        sigma: 0.4153,
    };

    #[test]
    fn vogt_slice_has_butterfly_arbitrage() {
        VOGT.validate().expect("Vogt's slice has positive variance");
        let r = VOGT.butterfly_check();
        assert!(!r.ok, "{r:?}");
        assert!(r.min_density < -1e-3, "{r:?}");
        // The paper's Figure 2 shows g < 0 for k roughly in (0.5, 1.5).
        assert!(r.k_at_min > 0.3 && r.k_at_min < 1.6, "{r:?}");
        assert!((VOGT.density_g(r.k_at_min) - r.min_density).abs() < 1e-15);
        // The refined minimum is at least as low as every point of a brute-force scan.
        for i in 0..=20_000 {
            let k = -2.0 + 4.0 * i as f64 / 20_000.0;
            assert!(VOGT.density_g(k) >= r.min_density - 1e-12, "k = {k}");
        }
    }

    #[test]
    fn arbitrage_free_slices_pass() {
        // SSVI slice inside Theorem 4.2, and its raw equivalent.
        let s = Ssvi {
            theta: 0.04,
            rho: -0.7,
            eta: 1.0,
            gamma: 0.5,
        };
        assert!(s.butterfly_sufficient());
        let r = s.to_raw().butterfly_check();
        assert!(r.ok, "{r:?}");
        assert!(r.min_density > 0.0);
        // A typical equity slice.
        let p = SviRaw {
            a: 0.01,
            b: 0.1,
            rho: -0.5,
            m: 0.05,
            sigma: 0.2,
        };
        let r = p.butterfly_check();
        assert!(r.ok, "{r:?}");
    }

    #[test]
    fn lee_wing_bound_violation_is_caught() {
        // b(1 + ρ) = 2.4 > 2: g → 1/4 − 2.4²/16 < 0 in the right wing.
        let p = SviRaw {
            a: 0.04,
            b: 1.5,
            rho: 0.6,
            m: 0.0,
            sigma: 0.3,
        };
        let r = p.butterfly_check();
        assert!(!r.ok, "{r:?}");
        assert!(r.k_at_min > 0.0);
        assert!(r.min_density < 0.25 - 2.4 * 2.4 / 16.0 + 0.05);
    }

    #[test]
    fn validate_rejects_bad_parameters() {
        let good = SviRaw {
            a: 0.01,
            b: 0.1,
            rho: -0.5,
            m: 0.0,
            sigma: 0.1,
        };
        assert!(good.validate().is_ok());
        let cases = [
            (SviRaw { b: -0.1, ..good }, "b"),
            (SviRaw { rho: 1.0, ..good }, "rho"),
            (SviRaw { sigma: 0.0, ..good }, "sigma"),
            (SviRaw { a: -0.01, ..good }, "a"),
            (
                SviRaw {
                    m: f64::NAN,
                    ..good
                },
                "m",
            ),
            (
                SviRaw {
                    a: f64::INFINITY,
                    ..good
                },
                "a",
            ),
        ];
        for (p, field) in cases {
            let e = p.validate().unwrap_err();
            assert_eq!(e.field, field, "{p:?}");
            let r = p.butterfly_check();
            assert!(!r.ok);
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let h = 1e-5;
        for k in [-1.0, -0.3, 0.0, 0.2, 0.9] {
            let fd1 = (VOGT.total_variance(k + h) - VOGT.total_variance(k - h)) / (2.0 * h);
            let fd2 = (VOGT.total_variance(k + h) - 2.0 * VOGT.total_variance(k)
                + VOGT.total_variance(k - h))
                / (h * h);
            assert!((VOGT.dw_dk(k) - fd1).abs() < 1e-9, "k = {k}");
            assert!((VOGT.d2w_dk2(k) - fd2).abs() < 1e-5, "k = {k}");
        }
    }

    #[test]
    fn implied_vol_is_sqrt_w_over_t() {
        let p = SviRaw {
            a: 0.01,
            b: 0.1,
            rho: -0.5,
            m: 0.05,
            sigma: 0.2,
        };
        let w = p.total_variance(0.1);
        assert!((p.implied_vol(0.1, 0.5) - (w / 0.5).sqrt()).abs() < 1e-16);
        assert_eq!(p.implied_vol(0.1, 0.0), 0.0);
        assert_eq!(SviRaw { a: -1.0, ..p }.implied_vol(0.1, 0.5), 0.0);
        assert!(p.implied_vol(f64::NAN, 0.5).is_nan());
    }

    /// Undiscounted Black call on F = 1 with strike K and total variance w.
    fn call(kk: f64, w: f64) -> f64 {
        let s = w.sqrt();
        let d1 = -kk.ln() / s + 0.5 * s;
        norm_cdf(d1) - kk * norm_cdf(d1 - s)
    }

    #[test]
    fn density_matches_second_difference_of_call_prices() {
        let p = SviRaw {
            a: 0.02,
            b: 0.15,
            rho: -0.4,
            m: 0.1,
            sigma: 0.25,
        };
        for k in [-0.8, -0.3, 0.0, 0.25, 0.7] {
            let kk: f64 = libm::exp(k);
            let h = 1e-3 * kk;
            let c = |x: f64| call(x, p.total_variance(x.ln()));
            let fd = (c(kk + h) - 2.0 * c(kk) + c(kk - h)) / (h * h);
            let w = p.total_variance(k);
            let d2 = -k / w.sqrt() - 0.5 * w.sqrt();
            let analytic = p.density_g(k) * crate::normal::norm_pdf(d2) / (kk * w.sqrt());
            assert!(
                (fd - analytic).abs() < 1e-5 * analytic.abs().max(1e-3),
                "k = {k}: fd {fd} analytic {analytic}"
            );
        }
        // And where g < 0 the call prices are not convex.
        let r = VOGT.butterfly_check();
        let kk = libm::exp(r.k_at_min);
        let h = 1e-3 * kk;
        let c = |x: f64| call(x, VOGT.total_variance(x.ln()));
        assert!(c(kk + h) - 2.0 * c(kk) + c(kk - h) < 0.0);
    }

    #[test]
    fn ssvi_to_raw_is_exact() {
        for (theta, rho, eta, gamma) in [
            (0.04, -0.7, 1.0, 0.5),
            (0.2, 0.3, 0.5, 0.3),
            (0.01, 0.0, 2.0, 0.0),
            (1.5, -0.95, 0.8, 1.0),
        ] {
            let s = Ssvi {
                theta,
                rho,
                eta,
                gamma,
            };
            s.validate().unwrap();
            let raw = s.to_raw();
            raw.validate().unwrap();
            assert!((s.total_variance(0.0) - theta).abs() < 1e-15 * theta.max(1.0));
            for i in 0..=40 {
                let k = -2.0 + 0.1 * i as f64;
                let (a, b) = (s.total_variance(k), raw.total_variance(k));
                assert!(
                    (a - b).abs() <= 1e-14 * a.abs().max(1.0),
                    "k={k}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn ssvi_sufficient_condition() {
        let ok = Ssvi {
            theta: 0.1,
            rho: -0.5,
            eta: 1.0,
            gamma: 0.5,
        };
        assert!(ok.butterfly_sufficient());
        // θφ(1+|ρ|) ≥ 4: large η.
        let bad = Ssvi { eta: 20.0, ..ok };
        assert!(!bad.butterfly_sufficient());
        assert!(!bad.to_raw().butterfly_check().ok);
        assert!(!Ssvi { rho: 1.0, ..ok }.butterfly_sufficient());
    }
}
