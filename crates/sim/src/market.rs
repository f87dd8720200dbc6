//! Market paths: the "true" spot price and volatility at every step, seeded.
//!
//! Units: prices in the quote asset, vol annualised (1.00 = 100 %), time in years (ACT/365),
//! Δ = step length in years, Z ~ N(0, 1) independent per step.
//!
//! - **GBM**: S(t+Δ) = S(t) · exp((μ − σ²/2)Δ + σ√Δ Z).
//! - **Merton jump-diffusion** (Merton 1976): S(t+Δ) = S(t) · exp((μ − λκ − σ²/2)Δ + σ√Δ Z +
//!   Σᵢ Jᵢ) with N ~ Poisson(λΔ) jumps per step, Jᵢ ~ N(μ_J, σ_J²) log jump sizes and
//!   κ = exp(μ_J + σ_J²/2) − 1, so that E[S(t+Δ)] = S(t)·e^{μΔ}.
//! - **Stochastic vol with crash–vol coupling**: log-vol is mean reverting,
//!   ln σ(t+Δ) = ln σ(t) + θ(ln σ̄ − ln σ(t))Δ + ξ√Δ W, with corr(Z, W) = ρ (< 0: vol rises as
//!   price falls), and every price jump J also moves log-vol by −η·J (a crash of −20 % with
//!   η = 3 lifts vol by e^{0.67} ≈ ×1.95). The price step uses the vol of the step's start.
//!
//! Scenarios lay scripted moves over a path ([`Overlay`]): a crash spreads a log return over a
//! window with the diffusion switched off inside it (so "−50 % within a day" is exact) and
//! multiplies vol from then on; a vol spike multiplies vol over a window.

use crate::rng::SimRng;
use serde::Serialize;

/// How the path is generated.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum PathModel {
    /// Geometric Brownian motion.
    Gbm {
        /// Drift μ per year.
        drift: f64,
        /// Vol σ per √year.
        vol: f64,
    },
    /// Merton jump-diffusion.
    Merton {
        /// Drift μ per year.
        drift: f64,
        /// Diffusion vol σ per √year.
        vol: f64,
        /// Jump intensity λ per year.
        jump_rate: f64,
        /// Mean log jump μ_J.
        jump_mean: f64,
        /// Std dev of the log jump σ_J.
        jump_std: f64,
    },
    /// Mean-reverting log-vol with jumps that lift vol.
    StochasticVol {
        /// Drift μ per year.
        drift: f64,
        /// Long-run vol σ̄ (also the starting vol).
        vol: f64,
        /// Mean-reversion speed θ per year.
        reversion: f64,
        /// Vol of log-vol ξ per √year.
        vol_of_vol: f64,
        /// Correlation ρ of price and vol shocks.
        correlation: f64,
        /// Jump intensity λ per year.
        jump_rate: f64,
        /// Mean log jump μ_J.
        jump_mean: f64,
        /// Std dev of the log jump σ_J.
        jump_std: f64,
        /// Log-vol response η per unit of log jump (vol rises on down jumps).
        jump_vol_coupling: f64,
    },
}

/// A scripted move laid over a path.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Overlay {
    /// The price moves by `factor` (e.g. 0.5) evenly in log terms over `[start_s, start_s +
    /// length_s)` after the path start, without diffusion; vol is multiplied by `vol_mult`
    /// from the start of the crash to the end of the path.
    Crash {
        /// Seconds after the path start.
        start_s: u64,
        /// Length of the move in seconds.
        length_s: u64,
        /// Price multiple over the move.
        factor: f64,
        /// Vol multiple afterwards.
        vol_mult: f64,
    },
    /// Vol is multiplied by `vol_mult` inside the window.
    VolSpike {
        /// Seconds after the path start.
        start_s: u64,
        /// Length in seconds.
        length_s: u64,
        /// Vol multiple.
        vol_mult: f64,
    },
}

/// A market path: times, true spot and true vol per step.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketPath {
    /// Unix seconds of each step.
    pub t: Vec<u64>,
    /// True spot per step.
    pub spot: Vec<f64>,
    /// True annualised vol per step (the vol the next step's return is drawn with).
    pub vol: Vec<f64>,
}

impl MarketPath {
    /// Number of steps (points).
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// True when the path has no points.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Realised annualised vol of log returns over the `n` steps ending at `i` (None before).
    pub fn realised_vol(&self, i: usize, n: usize, step_s: u64) -> Option<f64> {
        if i < n || n < 2 {
            return None;
        }
        let rets = (i + 1 - n..=i).map(|j| (self.spot[j] / self.spot[j - 1]).ln());
        let (mut s, mut s2) = (0.0, 0.0);
        for r in rets {
            s += r;
            s2 += r * r;
        }
        let nf = n as f64;
        let var = (s2 - s * s / nf) / (nf - 1.0);
        Some((var.max(0.0) * crate::time::YEAR_S / step_s as f64).sqrt())
    }
}

/// Generates a path of `steps + 1` points from `spot0` at `t0`, one every `step_s` seconds.
pub fn generate(
    model: &PathModel,
    overlays: &[Overlay],
    spot0: f64,
    t0: u64,
    step_s: u64,
    steps: usize,
    rng: &mut SimRng,
) -> MarketPath {
    let dt = step_s as f64 / crate::time::YEAR_S;
    let sq = dt.sqrt();
    let n = steps + 1;
    let mut path = MarketPath {
        t: (0..n as u64).map(|i| t0 + i * step_s).collect(),
        spot: Vec::with_capacity(n),
        vol: Vec::with_capacity(n),
    };
    let base_vol = match *model {
        PathModel::Gbm { vol, .. }
        | PathModel::Merton { vol, .. }
        | PathModel::StochasticVol { vol, .. } => vol,
    };
    let (mut s, mut log_v) = (spot0, base_vol.ln());
    for i in 0..n {
        let off = i as u64 * step_s;
        let mult = vol_multiple(overlays, off);
        let v = log_v.exp() * mult;
        path.spot.push(s);
        path.vol.push(v);
        if i + 1 == n {
            break;
        }
        // Inside a crash window the move is scripted: no diffusion, no jumps.
        if let Some(step_log) = crash_step(overlays, off, step_s) {
            s *= step_log.exp();
            continue;
        }
        let z = rng.normal();
        let mut jump_sum = 0.0;
        let drift_term = match *model {
            PathModel::Gbm { drift, .. } => (drift - 0.5 * v * v) * dt,
            PathModel::Merton {
                drift,
                jump_rate,
                jump_mean,
                jump_std,
                ..
            } => {
                let kappa = (jump_mean + 0.5 * jump_std * jump_std).exp() - 1.0;
                for _ in 0..rng.poisson(jump_rate * dt) {
                    jump_sum += jump_mean + jump_std * rng.normal();
                }
                (drift - jump_rate * kappa - 0.5 * v * v) * dt
            }
            PathModel::StochasticVol {
                drift,
                vol,
                reversion,
                vol_of_vol,
                correlation,
                jump_rate,
                jump_mean,
                jump_std,
                jump_vol_coupling,
            } => {
                let kappa = (jump_mean + 0.5 * jump_std * jump_std).exp() - 1.0;
                for _ in 0..rng.poisson(jump_rate * dt) {
                    jump_sum += jump_mean + jump_std * rng.normal();
                }
                let w = correlation * z + (1.0 - correlation * correlation).sqrt() * rng.normal();
                log_v += reversion * (vol.ln() - log_v) * dt + vol_of_vol * sq * w
                    - jump_vol_coupling * jump_sum;
                // Keep vol within [1 %, 500 %]: beyond that the engine's vol bounds reject.
                log_v = log_v.clamp(0.01f64.ln(), 5.0f64.ln());
                (drift - jump_rate * kappa - 0.5 * v * v) * dt
            }
        };
        s *= (drift_term + v * sq * z + jump_sum).exp();
    }
    path
}

/// The product of the vol multiples of the overlays active at `off` seconds.
fn vol_multiple(overlays: &[Overlay], off: u64) -> f64 {
    overlays
        .iter()
        .map(|o| match *o {
            Overlay::Crash {
                start_s, vol_mult, ..
            } if off >= start_s => vol_mult,
            Overlay::VolSpike {
                start_s,
                length_s,
                vol_mult,
            } if off >= start_s && off < start_s + length_s => vol_mult,
            _ => 1.0,
        })
        .product()
}

/// The scripted log move of the step starting at `off`, if a crash window covers it.
fn crash_step(overlays: &[Overlay], off: u64, step_s: u64) -> Option<f64> {
    overlays.iter().find_map(|o| match *o {
        Overlay::Crash {
            start_s,
            length_s,
            factor,
            ..
        } if off >= start_s && off < start_s + length_s => {
            let steps = length_s.div_ceil(step_s).max(1);
            Some(factor.ln() / steps as f64)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_735_689_600;

    fn log_returns(p: &MarketPath) -> Vec<f64> {
        p.spot.windows(2).map(|w| (w[1] / w[0]).ln()).collect()
    }

    #[test]
    fn gbm_realised_vol_matches_its_parameter() {
        let mut rng = SimRng::stream(3, "market");
        let m = PathModel::Gbm {
            drift: 0.0,
            vol: 0.6,
        };
        let p = generate(&m, &[], 50_000.0, T0, 3600, 8760, &mut rng);
        let r = log_returns(&p);
        let var = r.iter().map(|x| x * x).sum::<f64>() / r.len() as f64;
        let vol = (var * 8760.0).sqrt();
        assert!((vol - 0.6).abs() < 0.02, "realised vol {vol}");
        assert!(p.spot.iter().all(|s| s.is_finite() && *s > 0.0));
    }

    #[test]
    fn merton_jumps_fatten_the_tails() {
        let mut rng = SimRng::stream(4, "market");
        let m = PathModel::Merton {
            drift: 0.0,
            vol: 0.4,
            jump_rate: 50.0,
            jump_mean: -0.05,
            jump_std: 0.05,
        };
        let p = generate(&m, &[], 100.0, T0, 3600, 8760, &mut rng);
        let r = log_returns(&p);
        let n = r.len() as f64;
        let mean = r.iter().sum::<f64>() / n;
        let m2 = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let m4 = r.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n;
        let kurtosis = m4 / (m2 * m2);
        assert!(kurtosis > 10.0, "kurtosis {kurtosis} should be far above 3");
    }

    #[test]
    fn stochastic_vol_rises_after_down_jumps() {
        let mut rng = SimRng::stream(5, "market");
        let m = PathModel::StochasticVol {
            drift: 0.0,
            vol: 0.5,
            reversion: 5.0,
            vol_of_vol: 0.8,
            correlation: -0.5,
            jump_rate: 6.0,
            jump_mean: -0.08,
            jump_std: 0.03,
            jump_vol_coupling: 3.0,
        };
        let p = generate(&m, &[], 100.0, T0, 3600, 8760, &mut rng);
        let mut lifted = 0;
        let mut seen = 0;
        for i in 1..p.len() - 1 {
            if (p.spot[i + 1] / p.spot[i]).ln() < -0.05 {
                seen += 1;
                if p.vol[i + 1] > p.vol[i] {
                    lifted += 1;
                }
            }
        }
        assert!(seen >= 3, "only {seen} crashes");
        assert!(
            lifted * 10 >= seen * 8,
            "vol rose after {lifted} of {seen} crashes"
        );
    }

    #[test]
    fn crash_overlay_halves_the_price_within_a_day_and_doubles_vol() {
        let mut rng = SimRng::stream(6, "market");
        let m = PathModel::Gbm {
            drift: 0.0,
            vol: 0.5,
        };
        let o = [Overlay::Crash {
            start_s: 10 * 86_400,
            length_s: 86_400,
            factor: 0.5,
            vol_mult: 2.0,
        }];
        let p = generate(&m, &o, 100.0, T0, 3600, 30 * 24, &mut rng);
        let i = 10 * 24;
        assert!((p.spot[i + 24] / p.spot[i] - 0.5).abs() < 1e-9);
        assert!((p.vol[i + 30] / p.vol[i - 1] - 2.0).abs() < 1e-9);
    }
}
