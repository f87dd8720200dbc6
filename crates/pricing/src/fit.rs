//! Fit of a raw SVI slice to implied-vol quotes by the quasi-explicit method.
//!
//! # Objective
//!
//! For maturity t (years) and quotes (kᵢ, σᵢ, uᵢ) (log-moneyness ln(K/F), implied vol as a
//! decimal, user weight), the fit is carried out **in total variance** w = σ²t, where SVI is
//! linear in three of its parameters, minimising
//!
//! ```text
//! Σᵢ ωᵢ (w(kᵢ) − σᵢ² t)²,   ωᵢ ∝ uᵢ · vegaᵢ / (4σᵢ²t²),
//! vegaᵢ = φ(d₁) √t,   d₁ = −kᵢ/(σᵢ√t) + σᵢ√t/2,
//! ```
//!
//! normalised to Σωᵢ = 1. vegaᵢ is the Black-76 vega per 1.00 of vol of a call with forward 1
//! and strike e^kᵢ (`crate::normal::norm_pdf`), floored at [`VEGA_FLOOR_FRACTION`] of the
//! slice's largest vega: without a floor, quotes far in a wing (vega 10⁻³ to 10⁻⁸ of the money's)
//! carry no weight and a smile that SVI fits to a fifth of a vol point everywhere is fitted with
//! errors of several points there. Since w(kᵢ) − σᵢ²t ≈ 2σᵢt·(σ_SVI(kᵢ) − σᵢ), this
//! is, to first order, the vega-weighted least squares in vol Σᵢ uᵢ·vegaᵢ·(σ_SVI(kᵢ) − σᵢ)².
//! Pass uᵢ = 1/max(vegaᵢ, floor) for an equally weighted fit in vol. Quotes with ωᵢ = 0 (user weight 0, or
//! a vega that underflows far from the money) do not take part.
//!
//! The reported errors are in **implied vol**, in vol points (1 point = 0.01 of vol): the RMSE
//! is the plain (unweighted) root mean square of 100·(σ_SVI(kᵢ) − σᵢ) over the quotes that take
//! part, and the maximum is the largest of their absolute values. Vega weighting lets the wings
//! (where vega is small) carry larger errors than the money.
//!
//! # Method (Zeliade Systems 2009, "Quasi-explicit calibration of Gatheral's SVI model";
//! De Marco & Martini 2009)
//!
//! With y = (k − m)/σ the raw SVI total variance is linear in (a, d, c) for fixed (m, σ):
//!
//! ```text
//! w = a + d·y + c·√(y² + 1),   d = ρbσ,  c = bσ.
//! ```
//!
//! The inner problem, for fixed (m, σ), is a 3-variable convex quadratic programme solved exactly
//! by a primal active-set method on the linear constraints
//! - |d| ≤ (1 − 10⁻⁹)·c (|ρ| < 1, hence c ≥ 0 and b ≥ 0);
//! - c + |d| ≤ 2σ, i.e. b(1 + |ρ|) ≤ 2: Roger Lee's moment bound on the wings' slope in total
//!   variance (Zeliade's paper writes 4σ, for its variance in per-year units scaled differently);
//! - a + αⱼc + βⱼd ≥ 0 for the chords (αⱼ + βⱼr) of the concave function √(1 − r²) between the
//!   nodes r = ±1, ±0.98, ±0.9, ±0.75, ±0.5, 0. Since √(c² − d²) = c·√(1 − (d/c)²) lies above
//!   its chords, these guarantee a non-negative minimum variance a + √(c² − d²) = a + bσ√(1 − ρ²)
//!   while still allowing a < 0 (which Zeliade's a ≥ 0 forbids).
//!
//! The outer problem minimises the inner optimum over (m, ln σ) by Nelder–Mead (reflection 1,
//! expansion 2, contraction ½, shrink ½) inside the box m ∈ [k_min − Δk, k_max + Δk],
//! σ ∈ [10⁻³, 10], Δk = k_max − k_min. It starts from the best of six candidates (m at the lowest
//! quoted vol or at k = 0, σ = 0.05Δk, 0.25Δk or Δk) and is restarted once at its optimum with a
//! smaller simplex. About 170 inner solves per 25-strike slice. Everything is deterministic (no
//! randomness; `libm` for √, exp, ln).
//!
//! The fit does not force the result to be free of butterfly arbitrage (g ≥ 0); it reports
//! [`SviRaw::butterfly_check`] of the fitted slice.

use crate::normal::norm_pdf;

/// Vegas below this fraction of the slice's largest vega are raised to it in the fit weights.
pub const VEGA_FLOOR_FRACTION: f64 = 0.05;
use crate::svi::{ButterflyReport, SviRaw};
use serde::{Deserialize, Serialize};

/// One implied-vol quote of a slice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IvQuote {
    /// Log-moneyness ln(K/F).
    pub k: f64,
    /// Implied vol as a decimal (0.8 = 80 %).
    pub iv: f64,
    /// User weight (1.0 if none); multiplied by the quote's Black vega inside the fit.
    pub weight: f64,
}

/// A fitted slice and its errors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitResult {
    /// Time to expiry in years.
    pub t: f64,
    /// Fitted parameters.
    pub params: SviRaw,
    /// Root mean square error in vol points (1 point = 0.01 vol).
    pub rmse_vol_points: f64,
    /// Largest absolute error in vol points.
    pub max_error_vol_points: f64,
    /// Number of quotes used.
    pub quotes: usize,
    /// Butterfly check of the fitted slice.
    pub butterfly: ButterflyReport,
}

/// Why a slice could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// Fewer quotes than parameters.
    #[error("need at least 5 quotes to fit an SVI slice, got {0}")]
    TooFewQuotes(usize),
    /// A quote is not usable.
    #[error("quote {index}: {reason}")]
    BadQuote {
        /// Index of the quote in the input.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// t is not positive and finite.
    #[error("t = {0} must be finite and > 0")]
    BadTime(f64),
}

/// Fits a raw SVI slice at maturity `t` (years) to the quotes, vega-weighted.
///
/// Errors: [`FitError::BadTime`] unless t is finite and > 0; [`FitError::BadQuote`] (with the
/// index of the first offending quote) for a non-finite k, an iv that is not finite and > 0, or
/// a weight that is not finite and ≥ 0; [`FitError::TooFewQuotes`] when fewer than 5 distinct
/// values of k have a positive weight (the count reported is the number of distinct k, or the
/// number of quotes if that is already below 5). See the module documentation for the objective
/// and the method. [`FitResult::quotes`] counts the quotes with positive weight.
pub fn fit_svi(t: f64, quotes: &[IvQuote]) -> Result<FitResult, FitError> {
    if !(t.is_finite() && t > 0.0) {
        return Err(FitError::BadTime(t));
    }
    for (index, q) in quotes.iter().enumerate() {
        let reason = if !q.k.is_finite() {
            format!("k = {} is not finite", q.k)
        } else if !(q.iv.is_finite() && q.iv > 0.0) {
            format!("iv = {} must be finite and > 0", q.iv)
        } else if !(q.weight.is_finite() && q.weight >= 0.0) {
            format!("weight = {} must be finite and >= 0", q.weight)
        } else {
            continue;
        };
        return Err(FitError::BadQuote { index, reason });
    }
    if quotes.len() < 5 {
        return Err(FitError::TooFewQuotes(quotes.len()));
    }

    let sqrt_t = libm::sqrt(t);
    let mut data = Data::default();
    let vega = |q: &IvQuote| {
        let s = q.iv * sqrt_t;
        norm_pdf(-q.k / s + 0.5 * s) * sqrt_t
    };
    // Vega floor: far wings keep a share of the weight, so a smile SVI can fit is fitted
    // everywhere, not only at the money.
    let vega_floor =
        VEGA_FLOOR_FRACTION * quotes.iter().map(vega).fold(0.0_f64, |acc, v| acc.max(v));
    for q in quotes {
        let s = q.iv * sqrt_t;
        // Vega-weighted squared vol errors, to first order: Δσ ≈ Δw/(2σt).
        let omega = q.weight * vega(q).max(vega_floor) / (q.iv * q.iv);
        if omega > 0.0 && omega.is_finite() {
            data.k.push(q.k);
            data.v.push(s * s);
            data.omega.push(omega);
            data.iv.push(q.iv);
        }
    }
    let mut sorted = data.k.clone();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    if sorted.len() < 5 {
        return Err(FitError::TooFewQuotes(sorted.len()));
    }
    // Normalise (by the largest weight first, so that the sum cannot overflow).
    let largest = data.omega.iter().fold(0.0_f64, |acc, &o| acc.max(o));
    let total: f64 = data.omega.iter().map(|o| o / largest).sum();
    for o in &mut data.omega {
        *o = *o / largest / total;
    }
    let n = data.k.len();
    data.y = vec![0.0; n];
    data.z = vec![0.0; n];
    data.k_min = sorted[0];
    data.k_max = sorted[sorted.len() - 1];
    data.v_max = data.v.iter().fold(0.0_f64, |acc, &v| acc.max(v));
    data.v_mean = data.v.iter().zip(&data.omega).map(|(v, o)| v * o).sum();
    data.chords = chords();

    let span = data.k_max - data.k_min;
    let bounds = Bounds {
        m_lo: data.k_min - span,
        m_hi: data.k_max + span,
        ls_lo: libm::log(SIGMA_MIN),
        ls_hi: libm::log(SIGMA_MAX),
    };
    let (mut i_min, mut iv_min) = (0, f64::INFINITY);
    for (i, &iv) in data.iv.iter().enumerate() {
        if iv < iv_min {
            iv_min = iv;
            i_min = i;
        }
    }
    // Starting point: the best of a few candidates (vertex at the lowest quoted vol or at the
    // money; σ from narrow to wide), then Nelder–Mead and one restart with a smaller simplex.
    let m_cands = [data.k[i_min], 0.0_f64.clamp(bounds.m_lo, bounds.m_hi)];
    let s_cands = [0.05 * span, 0.25 * span, span];
    let mut start = (f64::INFINITY, [m_cands[0], libm::log(0.25 * span)]);
    for m in m_cands {
        for s in s_cands {
            let u = [m, libm::log(s.clamp(SIGMA_MIN, SIGMA_MAX))];
            let f = data.objective(u, &bounds);
            if f < start.0 {
                start = (f, u);
            }
        }
    }
    let mut best = start;
    for step in [[0.1 * span, 0.5], [0.02 * span, 0.1]] {
        let (u, f) = nelder_mead(&mut data, &bounds, best.1, step);
        if f <= best.0 {
            best = (f, u);
        }
    }
    let (m, sigma) = (best.1[0], libm::exp(best.1[1]));
    let (_, x) = data.inner(m, sigma);
    let [a, d, c] = x;
    // The QP keeps c ≥ 0; rounding in the active-set solve can leave it at −1e-17 with extreme
    // weights (a property test found one), which would make b negative.
    let c = c.max(0.0);
    let b = c / sigma;
    let rho = if c > 0.0 {
        (d / c).clamp(-RHO_MAX, RHO_MAX)
    } else {
        0.0
    };
    let mut params = SviRaw {
        a,
        b,
        rho,
        m,
        sigma,
    };
    if params.min_total_variance() < 0.0 {
        // Only rounding can bring us here: the chord constraints keep a + √(c² − d²) ≥ 0.
        params.a = -(params.b * params.sigma * libm::sqrt(1.0 - params.rho * params.rho));
    }

    let mut sum_sq = 0.0;
    let mut max_err = 0.0_f64;
    for (&k, &iv) in data.k.iter().zip(&data.iv) {
        let e = 100.0 * (params.implied_vol(k, t) - iv);
        sum_sq += e * e;
        max_err = max_err.max(e.abs());
    }
    Ok(FitResult {
        t,
        params,
        rmse_vol_points: libm::sqrt(sum_sq / n as f64),
        max_error_vol_points: max_err,
        quotes: n,
        butterfly: params.butterfly_check(),
    })
}

/// Lower bound of σ in the outer search.
const SIGMA_MIN: f64 = 1e-3;
/// Upper bound of σ in the outer search.
const SIGMA_MAX: f64 = 10.0;
/// |ρ| ≤ 1 − 10⁻⁹ so that the fitted slice passes `SviRaw::validate`.
const RHO_MAX: f64 = 1.0 - 1e-9;
/// Nodes of the chords of √(1 − r²) (see the module doc).
const CHORD_NODES: [f64; 11] = [
    -1.0, -0.98, -0.9, -0.75, -0.5, 0.0, 0.5, 0.75, 0.9, 0.98, 1.0,
];
const N_CHORDS: usize = CHORD_NODES.len() - 1;
/// Constraints: 4 on (c, d) and one per chord.
const N_CONS: usize = 4 + N_CHORDS;

/// (α, β) of the chords αⱼ + βⱼr of √(1 − r²) between consecutive nodes.
fn chords() -> [(f64, f64); N_CHORDS] {
    let f = |r: f64| libm::sqrt((1.0 - r * r).max(0.0));
    let mut out = [(0.0, 0.0); N_CHORDS];
    for (j, o) in out.iter_mut().enumerate() {
        let (r0, r1) = (CHORD_NODES[j], CHORD_NODES[j + 1]);
        let beta = (f(r1) - f(r0)) / (r1 - r0);
        *o = (f(r0) - beta * r0, beta);
    }
    out
}

struct Bounds {
    m_lo: f64,
    m_hi: f64,
    ls_lo: f64,
    ls_hi: f64,
}

/// The quotes that take part, and scratch space.
#[derive(Default)]
struct Data {
    k: Vec<f64>,
    /// Target total variance σᵢ² t.
    v: Vec<f64>,
    /// Normalised weights.
    omega: Vec<f64>,
    iv: Vec<f64>,
    y: Vec<f64>,
    z: Vec<f64>,
    k_min: f64,
    k_max: f64,
    v_max: f64,
    v_mean: f64,
    chords: [(f64, f64); N_CHORDS],
}

impl Data {
    /// The inner problem for fixed (m, σ): the weighted sum of squares at the optimum and the
    /// optimal x = (a, d, c).
    fn inner(&mut self, m: f64, sigma: f64) -> (f64, [f64; 3]) {
        let inv_s = 1.0 / sigma;
        let mut h = [[0.0; 3]; 3];
        let mut g = [0.0; 3];
        for i in 0..self.k.len() {
            let y = (self.k[i] - m) * inv_s;
            let z = libm::sqrt(y * y + 1.0);
            self.y[i] = y;
            self.z[i] = z;
            let o = self.omega[i];
            let (oy, oz) = (o * y, o * z);
            h[0][0] += o;
            h[0][1] += oy;
            h[0][2] += oz;
            h[1][1] += oy * y;
            h[1][2] += oy * z;
            h[2][2] += oz * z;
            let ov = o * self.v[i];
            g[0] += ov;
            g[1] += ov * y;
            g[2] += ov * z;
        }
        h[1][0] = h[0][1];
        h[2][0] = h[0][2];
        h[2][1] = h[1][2];
        // A tiny ridge keeps the matrix invertible when the quotes make it nearly singular.
        let ridge = 1e-13 * (h[0][0] + h[1][1] + h[2][2]);
        for (i, row) in h.iter_mut().enumerate() {
            row[i] += ridge;
        }

        let mut cons = [([0.0; 3], 0.0); N_CONS];
        let e = RHO_MAX;
        cons[0] = ([0.0, 1.0, -e], 0.0);
        cons[1] = ([0.0, -1.0, -e], 0.0);
        cons[2] = ([0.0, 1.0, 1.0], 2.0 * sigma);
        cons[3] = ([0.0, -1.0, 1.0], 2.0 * sigma);
        for (j, &(alpha, beta)) in self.chords.iter().enumerate() {
            cons[4 + j] = ([-1.0, -beta, -alpha], 0.0);
        }
        let x0 = [self.v_mean, 0.0, 0.0];
        let scale = self.v_max + sigma;
        let x = active_set_qp(&h, &g, &cons, x0, &[0, 1], scale);

        let mut sse = 0.0;
        for i in 0..self.k.len() {
            let r = x[0] + x[1] * self.y[i] + x[2] * self.z[i] - self.v[i];
            sse += self.omega[i] * r * r;
        }
        (sse, x)
    }

    /// The outer objective at u = (m, ln σ); +∞ outside the box.
    fn objective(&mut self, u: [f64; 2], b: &Bounds) -> f64 {
        if !(u[0] >= b.m_lo && u[0] <= b.m_hi && u[1] >= b.ls_lo && u[1] <= b.ls_hi) {
            return f64::INFINITY;
        }
        self.inner(u[0], libm::exp(u[1])).0
    }
}

/// Minimises ½xᵀHx − gᵀx subject to nᵢ·x ≤ hᵢ by the primal active-set method (Nocedal &
/// Wright, Algorithm 16.3), from the feasible x0 with the linearly independent working set w0.
/// `scale` is the size of x, for tolerances. Returns the last iterate if it does not converge
/// in 50 iterations (it is always feasible).
fn active_set_qp(
    h: &[[f64; 3]; 3],
    g: &[f64; 3],
    cons: &[([f64; 3], f64); N_CONS],
    x0: [f64; 3],
    w0: &[usize],
    scale: f64,
) -> [f64; 3] {
    // Most of the time the unconstrained minimiser is feasible.
    let mut m3 = [[0.0; 7]; 6];
    for r in 0..3 {
        m3[r][..3].copy_from_slice(&h[r]);
        m3[r][6] = g[r];
    }
    if let Some(sol) = solve_dense(&mut m3, 3) {
        let xu = [sol[0], sol[1], sol[2]];
        if cons
            .iter()
            .all(|(n, hi)| n[0] * xu[0] + n[1] * xu[1] + n[2] * xu[2] <= *hi)
        {
            return xu;
        }
    }
    let mut x = x0;
    let mut work = [0usize; 3];
    let mut nw = 0;
    for &i in w0.iter().take(3) {
        work[nw] = i;
        nw += 1;
    }
    let mut at_eqp_min = false;
    for _ in 0..50 {
        // KKT system [H Aᵀ; A 0][p; λ] = [g − Hx; 0].
        let dim = 3 + nw;
        let mut mat = [[0.0; 7]; 6];
        for r in 0..3 {
            let mut rhs = g[r];
            for c in 0..3 {
                mat[r][c] = h[r][c];
                rhs -= h[r][c] * x[c];
            }
            for (j, &wi) in work[..nw].iter().enumerate() {
                mat[r][3 + j] = cons[wi].0[r];
                mat[3 + j][r] = cons[wi].0[r];
            }
            mat[r][6] = rhs;
        }
        let Some(sol) = solve_dense(&mut mat, dim) else {
            return x;
        };
        let p = [sol[0], sol[1], sol[2]];
        let p_norm = p[0].abs().max(p[1].abs()).max(p[2].abs());
        if at_eqp_min || p_norm <= 1e-15 * scale {
            // x minimises over the working set: optimal if every multiplier is ≥ 0.
            let mut worst = (0.0, usize::MAX);
            for j in 0..nw {
                let lambda = sol[3 + j];
                if lambda < worst.0 {
                    worst = (lambda, j);
                }
            }
            if worst.1 == usize::MAX {
                return x;
            }
            for j in worst.1..nw - 1 {
                work[j] = work[j + 1];
            }
            nw -= 1;
            at_eqp_min = false;
            continue;
        }
        let mut alpha = 1.0;
        let mut blocking = None;
        for (i, (n, hi)) in cons.iter().enumerate() {
            if work[..nw].contains(&i) {
                continue;
            }
            let np = n[0] * p[0] + n[1] * p[1] + n[2] * p[2];
            if np > 0.0 {
                let slack = hi - (n[0] * x[0] + n[1] * x[1] + n[2] * x[2]);
                let s = (slack / np).max(0.0);
                if s < alpha {
                    alpha = s;
                    blocking = Some(i);
                }
            }
        }
        for r in 0..3 {
            x[r] += alpha * p[r];
        }
        match blocking {
            Some(i) if nw < 3 => {
                work[nw] = i;
                nw += 1;
                at_eqp_min = false;
            }
            Some(_) => return x,
            None => at_eqp_min = true,
        }
    }
    x
}

/// Solves the dim × dim system in `mat` (augmented column 6) by Gaussian elimination with partial
/// pivoting; None if singular.
fn solve_dense(mat: &mut [[f64; 7]; 6], dim: usize) -> Option<[f64; 6]> {
    for col in 0..dim {
        let mut piv = col;
        for r in col + 1..dim {
            if mat[r][col].abs() > mat[piv][col].abs() {
                piv = r;
            }
        }
        // Also rejects a NaN pivot.
        if mat[piv][col].abs().partial_cmp(&1e-300) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        mat.swap(col, piv);
        let inv = 1.0 / mat[col][col];
        for r in col + 1..dim {
            let f = mat[r][col] * inv;
            if f != 0.0 {
                let pivot_row = mat[col];
                for (c, v) in mat[r].iter_mut().enumerate().skip(col) {
                    if c < dim || c == 6 {
                        *v -= f * pivot_row[c];
                    }
                }
            }
        }
    }
    let mut out = [0.0; 6];
    for r in (0..dim).rev() {
        let mut s = mat[r][6];
        for c in r + 1..dim {
            s -= mat[r][c] * out[c];
        }
        out[r] = s / mat[r][r];
    }
    if out[..dim].iter().all(|v| v.is_finite()) {
        Some(out)
    } else {
        None
    }
}

/// Nelder–Mead over u = (m, ln σ) from the simplex {u0, u0 + step₀e₀, u0 + step₁e₁}.
fn nelder_mead(data: &mut Data, b: &Bounds, u0: [f64; 2], step: [f64; 2]) -> ([f64; 2], f64) {
    let clamp = |u: [f64; 2]| [u[0].clamp(b.m_lo, b.m_hi), u[1].clamp(b.ls_lo, b.ls_hi)];
    let u0 = clamp(u0);
    // Keep the initial simplex inside the box by stepping away from the nearer bound.
    let v1 = if u0[0] + step[0] <= b.m_hi {
        [u0[0] + step[0], u0[1]]
    } else {
        [u0[0] - step[0], u0[1]]
    };
    let v2 = if u0[1] + step[1] <= b.ls_hi {
        [u0[0], u0[1] + step[1]]
    } else {
        [u0[0], u0[1] - step[1]]
    };
    let mut s = [u0, v1, v2];
    let mut f = [
        data.objective(s[0], b),
        data.objective(s[1], b),
        data.objective(s[2], b),
    ];
    let f_tol_abs = 1e-30;
    for _ in 0..MAX_NM_ITER {
        // Order: s[0] best, s[2] worst (stable insertion sort on 3 items).
        for i in 1..3 {
            let mut j = i;
            while j > 0 && f[j] < f[j - 1] {
                f.swap(j, j - 1);
                s.swap(j, j - 1);
                j -= 1;
            }
        }
        let size = (s[1][0] - s[0][0])
            .abs()
            .max((s[2][0] - s[0][0]).abs())
            .max((s[1][1] - s[0][1]).abs())
            .max((s[2][1] - s[0][1]).abs());
        if size < 1e-7 || (f[2] - f[0]).abs() <= 1e-10 * f[0].abs() + f_tol_abs {
            break;
        }
        let c = [0.5 * (s[0][0] + s[1][0]), 0.5 * (s[0][1] + s[1][1])];
        let at = |t: f64| [c[0] + t * (s[2][0] - c[0]), c[1] + t * (s[2][1] - c[1])];
        let xr = at(-1.0);
        let fr = data.objective(xr, b);
        if fr < f[0] {
            let xe = at(-2.0);
            let fe = data.objective(xe, b);
            if fe < fr {
                s[2] = xe;
                f[2] = fe;
            } else {
                s[2] = xr;
                f[2] = fr;
            }
        } else if fr < f[1] {
            s[2] = xr;
            f[2] = fr;
        } else {
            let (xc, fc) = if fr < f[2] {
                let xc = at(-0.5);
                (xc, data.objective(xc, b))
            } else {
                let xc = at(0.5);
                (xc, data.objective(xc, b))
            };
            if fc < f[2].min(fr) {
                s[2] = xc;
                f[2] = fc;
            } else {
                for i in 1..3 {
                    s[i] = [0.5 * (s[0][0] + s[i][0]), 0.5 * (s[0][1] + s[i][1])];
                    f[i] = data.objective(s[i], b);
                }
            }
        }
    }
    let mut best = 0;
    for i in 1..3 {
        if f[i] < f[best] {
            best = i;
        }
    }
    (s[best], f[best])
}

/// Iteration cap of one Nelder–Mead run.
const MAX_NM_ITER: usize = 300;

#[cfg(test)]
mod tests {
    use super::*;

    fn quotes_from(p: &SviRaw, t: f64, n: usize, lo: f64, hi: f64) -> Vec<IvQuote> {
        (0..n)
            .map(|i| {
                let k = lo + (hi - lo) * i as f64 / (n - 1) as f64;
                IvQuote {
                    k,
                    iv: p.implied_vol(k, t),
                    weight: 1.0,
                }
            })
            .collect()
    }

    #[test]
    fn recovers_known_parameters() {
        let cases = [
            (
                0.5,
                SviRaw {
                    a: 0.01,
                    b: 0.1,
                    rho: -0.5,
                    m: 0.05,
                    sigma: 0.2,
                },
            ),
            (
                1.0,
                SviRaw {
                    a: -0.005,
                    b: 0.12,
                    rho: -0.3,
                    m: -0.1,
                    sigma: 0.3,
                },
            ),
            (
                0.1,
                SviRaw {
                    a: 0.002,
                    b: 0.05,
                    rho: -0.8,
                    m: 0.02,
                    sigma: 0.05,
                },
            ),
        ];
        for (t, p) in cases {
            let q = quotes_from(&p, t, 25, -0.6, 0.4);
            let r = fit_svi(t, &q).unwrap();
            let f = r.params;
            assert!(r.rmse_vol_points < 1e-4, "{p:?} -> {r:?}");
            for (name, got, want) in [
                ("a", f.a, p.a),
                ("b", f.b, p.b),
                ("rho", f.rho, p.rho),
                ("m", f.m, p.m),
                ("sigma", f.sigma, p.sigma),
            ] {
                assert!((got - want).abs() < 1e-4, "{name}: {got} vs {want} ({r:?})");
            }
            assert_eq!(r.quotes, 25);
            assert!(r.butterfly.ok);
        }
    }

    #[test]
    fn deterministic() {
        let p = SviRaw {
            a: 0.01,
            b: 0.1,
            rho: -0.5,
            m: 0.05,
            sigma: 0.2,
        };
        let mut q = quotes_from(&p, 0.5, 25, -0.5, 0.5);
        for (i, x) in q.iter_mut().enumerate() {
            x.iv += 0.002 * ((i * 7 % 5) as f64 - 2.0) / 2.0;
        }
        let a = fit_svi(0.5, &q).unwrap();
        let b = fit_svi(0.5, &q).unwrap();
        assert_eq!(a, b);
        assert!(a.rmse_vol_points > 0.0 && a.rmse_vol_points < 0.3, "{a:?}");
        assert!(a.max_error_vol_points >= a.rmse_vol_points);
    }

    #[test]
    fn rejects_bad_input() {
        let good = IvQuote {
            k: 0.0,
            iv: 0.5,
            weight: 1.0,
        };
        let mut q: Vec<IvQuote> = (0..6)
            .map(|i| IvQuote {
                k: 0.1 * i as f64 - 0.3,
                ..good
            })
            .collect();
        assert!(matches!(fit_svi(0.0, &q), Err(FitError::BadTime(_))));
        assert!(matches!(fit_svi(f64::NAN, &q), Err(FitError::BadTime(_))));
        q[3].k = f64::NAN;
        assert!(matches!(
            fit_svi(1.0, &q),
            Err(FitError::BadQuote { index: 3, .. })
        ));
        q[3].k = 0.0;
        q[4].iv = 0.0;
        assert!(matches!(
            fit_svi(1.0, &q),
            Err(FitError::BadQuote { index: 4, .. })
        ));
        q[4].iv = 0.5;
        q[2].weight = -1.0;
        let e = fit_svi(1.0, &q).unwrap_err();
        assert!(e.to_string().starts_with("quote 2: weight"), "{e}");
        q[2].weight = 0.0;
        // Five distinct k with positive weight remain out of six.
        assert_eq!(fit_svi(1.0, &q).unwrap().quotes, 5);
        q[1].weight = 0.0;
        assert_eq!(fit_svi(1.0, &q), Err(FitError::TooFewQuotes(4)));
        assert_eq!(fit_svi(1.0, &q[..3]), Err(FitError::TooFewQuotes(3)));
        let same_k = vec![good; 10];
        assert_eq!(fit_svi(1.0, &same_k), Err(FitError::TooFewQuotes(1)));
    }

    #[test]
    fn flat_smile_is_fitted_exactly() {
        let q: Vec<IvQuote> = (0..9)
            .map(|i| IvQuote {
                k: 0.1 * i as f64 - 0.4,
                iv: 0.3,
                weight: 1.0,
            })
            .collect();
        let r = fit_svi(0.25, &q).unwrap();
        assert!(r.max_error_vol_points < 1e-3, "{r:?}");
        r.params.validate().unwrap();
    }

    /// The weighted objective of `fit_svi` for these quotes, and the data.
    fn prepared(t: f64, q: &[IvQuote]) -> Data {
        let mut data = Data::default();
        for q in q {
            let s = q.iv * t.sqrt();
            let d1 = -q.k / s + 0.5 * s;
            data.k.push(q.k);
            data.v.push(s * s);
            data.omega.push(norm_pdf(d1) * t.sqrt() / (q.iv * q.iv));
            data.iv.push(q.iv);
        }
        let tot: f64 = data.omega.iter().sum();
        data.omega.iter_mut().for_each(|o| *o /= tot);
        data.y = vec![0.0; q.len()];
        data.z = vec![0.0; q.len()];
        data.v_max = data.v.iter().cloned().fold(0.0, f64::max);
        data.v_mean = data.v.iter().zip(&data.omega).map(|(v, o)| v * o).sum();
        data.chords = chords();
        data
    }

    fn lee_breaking_smile() -> Vec<IvQuote> {
        (0..11)
            .map(|i| {
                let k = 0.1 * i as f64 - 0.5;
                IvQuote {
                    k,
                    iv: (0.04 + 3.0 * k.abs()).sqrt(),
                    weight: 1.0,
                }
            })
            .collect()
    }

    #[test]
    fn constrained_fit_sits_on_lee_bound() {
        // A smile steeper than Lee's bound allows: the fit must sit on the boundary
        // b(1 + |ρ|) ≤ 2 and still be a valid slice.
        let r = fit_svi(1.0, &lee_breaking_smile()).unwrap();
        let p = r.params;
        p.validate().unwrap();
        assert!(p.b * (1.0 + p.rho.abs()) <= 2.0 + 1e-9, "{p:?}");
        assert!(p.b * (1.0 + p.rho.abs()) > 1.9, "{p:?}");
    }

    #[test]
    fn inner_qp_beats_every_feasible_point_of_a_grid() {
        let q = lee_breaking_smile();
        let mut data = prepared(1.0, &q);
        for (m, sigma) in [(0.0, 0.1), (0.2, 0.05), (-0.3, 0.5)] {
            let (f_qp, x) = data.inner(m, sigma);
            let [a, d, c] = x;
            // Feasible.
            assert!(
                d.abs() <= c + 1e-15 && c + d.abs() <= 2.0 * sigma + 1e-15,
                "{x:?}"
            );
            assert!(a + (c * c - d * d).max(0.0).sqrt() >= -1e-15, "{x:?}");
            let sse = |a: f64, d: f64, c: f64, data: &Data| -> f64 {
                (0..data.k.len())
                    .map(|i| {
                        let r = a + d * data.y[i] + c * data.z[i] - data.v[i];
                        data.omega[i] * r * r
                    })
                    .sum()
            };
            let mut best_grid = f64::INFINITY;
            for ic in 0..=40 {
                let c = 2.0 * sigma * ic as f64 / 40.0;
                for id in 0..=40 {
                    let d = c * (2.0 * id as f64 / 40.0 - 1.0);
                    if c + d.abs() > 2.0 * sigma {
                        continue;
                    }
                    let a_min = -(c * c - d * d).max(0.0).sqrt();
                    for ia in 0..=60 {
                        let a = a_min + (data.v_max - a_min) * ia as f64 / 60.0;
                        best_grid = best_grid.min(sse(a, d, c, &data));
                    }
                }
            }
            assert!(
                f_qp <= best_grid * (1.0 + 1e-12),
                "m={m} σ={sigma}: {f_qp} > {best_grid}"
            );
        }
    }

    #[test]
    fn outer_search_finds_the_grid_optimum() {
        let p = SviRaw {
            a: 0.004,
            b: 0.08,
            rho: -0.7,
            m: 0.03,
            sigma: 0.08,
        };
        let t = 0.3;
        let mut q = quotes_from(&p, t, 25, -0.5, 0.3);
        for (i, x) in q.iter_mut().enumerate() {
            x.iv += 0.004 * (((i * 5) % 7) as f64 - 3.0) / 3.0;
        }
        let r = fit_svi(t, &q).unwrap();
        let mut data = prepared(t, &q);
        let f_fit = data.inner(r.params.m, r.params.sigma).0;
        let mut f_grid = f64::INFINITY;
        for i in 0..=200 {
            for j in 0..=100 {
                let m = -1.3 + 2.4 * i as f64 / 200.0;
                let sigma =
                    (SIGMA_MIN.ln() + (SIGMA_MAX / SIGMA_MIN).ln() * j as f64 / 100.0).exp();
                f_grid = f_grid.min(data.inner(m, sigma).0);
            }
        }
        assert!(
            f_fit <= f_grid * (1.0 + 1e-9),
            "fit {f_fit} > grid {f_grid}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Any finite input gives either an error or a valid slice, never a panic.
        #[test]
        fn never_panics_and_returns_valid_slices(
            t in proptest::prelude::prop_oneof![1e-6f64..10.0, 1e-300f64..1e-6, 10.0f64..1e300],
            q in proptest::collection::vec(
                (
                    proptest::prelude::prop_oneof![-1.0f64..1.0, -50.0f64..50.0],
                    proptest::prelude::prop_oneof![0.01f64..2.0, 1e-300f64..1e300],
                    proptest::prelude::prop_oneof![0.0f64..10.0, 0.0f64..1e300],
                ),
                0..40,
            ),
        ) {
            let quotes: Vec<IvQuote> = q
                .iter()
                .map(|&(k, iv, weight)| IvQuote { k, iv, weight })
                .collect();
            if let Ok(r) = fit_svi(t, &quotes) {
                proptest::prop_assert!(r.params.validate().is_ok(), "{:?}", r);
                proptest::prop_assert!(r.quotes >= 5);
            }
        }

        /// Exact SVI smiles of realistic shapes are fitted to within 0.05 vol points RMSE.
        #[test]
        fn realistic_smiles_fit(
            a in 0.0f64..0.05, b in 0.01f64..0.5, rho in -0.9f64..0.5,
            m in -0.2f64..0.2, sigma in 0.02f64..0.5, t in 0.02f64..2.0,
        ) {
            let p = SviRaw { a, b, rho, m, sigma };
            let q = quotes_from(&p, t, 25, -0.5, 0.5);
            let r = fit_svi(t, &q).unwrap();
            proptest::prop_assert!(r.params.validate().is_ok());
            proptest::prop_assert!(r.rmse_vol_points < 0.05, "{:?} -> {:?}", p, r);
        }
    }
}
