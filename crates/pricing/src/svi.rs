//! Raw SVI and SSVI slices and Gatheral's butterfly check. (SKELETON: helper B.)

use serde::{Deserialize, Serialize};

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

impl SviRaw {
    /// Checks b ≥ 0, |ρ| < 1, σ > 0, all finite, and a + bσ√(1−ρ²) ≥ 0 (non-negative variance).
    pub fn validate(&self) -> Result<(), SviError> {
        todo!("helper B {self:?}")
    }
    /// Total variance w(k).
    pub fn total_variance(&self, k: f64) -> f64 {
        todo!("helper B {k}")
    }
    /// Implied vol √(w(k)/t).
    pub fn implied_vol(&self, k: f64, t: f64) -> f64 {
        todo!("helper B {k} {t}")
    }
    /// Gatheral's g(k).
    pub fn density_g(&self, k: f64) -> f64 {
        todo!("helper B {k}")
    }
    /// Butterfly check on a fine grid.
    pub fn butterfly_check(&self) -> ButterflyReport {
        todo!("helper B")
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
