//! A volatility surface of raw SVI slices interpolated linearly in total variance at fixed
//! log-moneyness, and the calendar check.
//!
//! # Interpolation
//!
//! With slices w₁(k), …, wₙ(k) at maturities t₁ < … < tₙ (years) and k = ln(K/F(t)):
//!
//! ```text
//! t ≤ 0:           w(k, t) = 0
//! 0 < t ≤ t₁:      w(k, t) = w₁(k) · t/t₁                       (constant vol before t₁)
//! tᵢ ≤ t ≤ tᵢ₊₁:   w(k, t) = wᵢ(k) + (t − tᵢ)/(tᵢ₊₁ − tᵢ) · (wᵢ₊₁(k) − wᵢ(k))
//! t ≥ tₙ:          w(k, t) = wₙ(k) · t/tₙ                       (constant vol after tₙ)
//! ```
//!
//! and the implied vol is √(w/t). Linear interpolation in total variance at fixed k keeps
//! w non-decreasing in t between slices whenever the slices themselves are (Gatheral 2006,
//! *The Volatility Surface*, ch. 3; Gatheral–Jacquier 2014 §2.1: no calendar-spread arbitrage iff
//! ∂w/∂t ≥ 0 at every k). It does not by itself preserve the absence of butterfly arbitrage
//! between slices.
//!
//! # Calendar check
//!
//! [`calendar_check`] compares consecutive slices (sorted by t) on a grid of k (2401 points on
//! [−3, 3] plus ±5, ±10, ±50, ±100 for the wings) and reports the worst w(k, tᵢ) − w(k, tᵢ₊₁)
//! above [`CALENDAR_TOLERANCE`].

use crate::svi::{SviError, SviRaw};
use serde::{Deserialize, Serialize};

/// A crossing of total variance smaller than this (dimensionless, vol² × years) is treated as
/// rounding, not as a calendar violation.
pub const CALENDAR_TOLERANCE: f64 = 1e-14;

/// A surface: raw SVI slices at increasing maturities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Surface {
    slices: Vec<(f64, SviRaw)>,
}

/// Why slices do not form a surface.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SurfaceError {
    /// No slices.
    #[error("a surface needs at least one slice")]
    Empty,
    /// Maturities not strictly increasing or not positive.
    #[error("slice {index}: t = {t} must be > 0 and greater than the previous slice's")]
    BadTime {
        /// Index of the slice.
        index: usize,
        /// Its maturity.
        t: f64,
    },
    /// A slice's parameters are invalid.
    #[error("slice {index}: {source}")]
    BadSlice {
        /// Index of the slice.
        index: usize,
        /// The parameter error.
        source: SviError,
    },
}

/// Result of the calendar check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalendarReport {
    /// True when total variance is non-decreasing in t at every k of the grid.
    pub ok: bool,
    /// The worst violation as (t1, t2, k, w1 − w2) when not ok.
    pub worst: Option<(f64, f64, f64, f64)>,
}

impl Surface {
    /// Builds a surface from (t, slice) pairs sorted by strictly increasing t (years, finite and
    /// positive); every slice must pass [`SviRaw::validate`]. The calendar check is separate
    /// ([`Surface::calendar_check`]): a surface may be built from slices that cross.
    pub fn new(slices: Vec<(f64, SviRaw)>) -> Result<Self, SurfaceError> {
        if slices.is_empty() {
            return Err(SurfaceError::Empty);
        }
        let mut prev = 0.0;
        for (index, &(t, p)) in slices.iter().enumerate() {
            if !(t.is_finite() && t > prev) {
                return Err(SurfaceError::BadTime { index, t });
            }
            p.validate()
                .map_err(|source| SurfaceError::BadSlice { index, source })?;
            prev = t;
        }
        Ok(Surface { slices })
    }

    /// The (t, slice) pairs, by increasing t.
    pub fn slices(&self) -> &[(f64, SviRaw)] {
        &self.slices
    }

    /// Total variance (dimensionless, vol² × years) at log-moneyness k = ln(K/F(t)) and maturity
    /// t in years, interpolated as in the module documentation. NaN if k or t is NaN.
    pub fn total_variance(&self, k: f64, t: f64) -> f64 {
        if t.is_nan() || k.is_nan() {
            return f64::NAN;
        }
        if t <= 0.0 {
            return 0.0;
        }
        let (Some(&(t1, s1)), Some(&(tn, sn))) = (self.slices.first(), self.slices.last()) else {
            return f64::NAN;
        };
        if t <= t1 {
            return s1.total_variance(k) * (t / t1);
        }
        if t >= tn {
            return sn.total_variance(k) * (t / tn);
        }
        // First slice with t_i ≥ t; 1 ≤ i ≤ n − 1 here.
        let i = self.slices.partition_point(|&(ti, _)| ti < t);
        let (ta, sa) = self.slices[i - 1];
        let (tb, sb) = self.slices[i];
        if t == tb {
            return sb.total_variance(k);
        }
        let (wa, wb) = (sa.total_variance(k), sb.total_variance(k));
        wa + (t - ta) / (tb - ta) * (wb - wa)
    }

    /// Implied vol √(w(k, t)/t) (decimal per √year); 0 when t ≤ 0 or w ≤ 0, NaN if k or t is
    /// NaN.
    pub fn implied_vol(&self, k: f64, t: f64) -> f64 {
        let w = self.total_variance(k, t);
        if w.is_nan() {
            return f64::NAN;
        }
        if w <= 0.0 || t <= 0.0 {
            return 0.0;
        }
        libm::sqrt(w / t)
    }

    /// [`calendar_check`] of this surface's slices.
    pub fn calendar_check(&self) -> CalendarReport {
        calendar_check(&self.slices)
    }
}

/// Points of the uniform part of the calendar grid on [−3, 3] (spacing 0.0025).
const CAL_GRID_N: usize = 2401;
const CAL_GRID_HALF_WIDTH: f64 = 3.0;
/// Far points for the wings.
const CAL_WINGS: [f64; 8] = [-100.0, -50.0, -10.0, -5.0, 5.0, 10.0, 50.0, 100.0];

/// Calendar check: total variance non-decreasing in t at every k of a grid.
///
/// The slices are sorted by t first (a copy; NaN maturities sort last) and each consecutive pair
/// (t₁ < t₂ or equal) is compared at every k of the grid described in the module docs. The
/// report's `worst` is (t₁, t₂, k, w₁(k) − w₂(k)) for the largest positive difference above
/// [`CALENDAR_TOLERANCE`]; `ok` is true and `worst` None when there is none. Fewer than two
/// slices are trivially ok. Slices are not validated: a NaN difference is ignored.
pub fn calendar_check(slices: &[(f64, SviRaw)]) -> CalendarReport {
    let mut sorted = slices.to_vec();
    sorted.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut worst: Option<(f64, f64, f64, f64)> = None;
    let mut check = |t1: f64, s1: &SviRaw, t2: f64, s2: &SviRaw, k: f64| {
        let d = s1.total_variance(k) - s2.total_variance(k);
        if d > CALENDAR_TOLERANCE && worst.is_none_or(|w| d > w.3) {
            worst = Some((t1, t2, k, d));
        }
    };
    for pair in sorted.windows(2) {
        let ((t1, s1), (t2, s2)) = (&pair[0], &pair[1]);
        let h = 2.0 * CAL_GRID_HALF_WIDTH / (CAL_GRID_N - 1) as f64;
        for i in 0..CAL_GRID_N {
            check(*t1, s1, *t2, s2, -CAL_GRID_HALF_WIDTH + h * i as f64);
        }
        for k in CAL_WINGS {
            check(*t1, s1, *t2, s2, k);
        }
    }
    CalendarReport {
        ok: worst.is_none(),
        worst,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(a: f64, b: f64, rho: f64, m: f64, sigma: f64) -> SviRaw {
        SviRaw {
            a,
            b,
            rho,
            m,
            sigma,
        }
    }

    fn surface() -> Surface {
        Surface::new(vec![
            (0.25, slice(0.005, 0.05, -0.5, 0.02, 0.1)),
            (0.5, slice(0.012, 0.07, -0.45, 0.03, 0.15)),
            (1.0, slice(0.025, 0.09, -0.4, 0.04, 0.2)),
        ])
        .unwrap()
    }

    #[test]
    fn exact_at_nodes() {
        let s = surface();
        for &(t, p) in s.slices() {
            for k in [-1.0, -0.2, 0.0, 0.3, 1.2] {
                assert_eq!(s.total_variance(k, t), p.total_variance(k), "t={t} k={k}");
                let iv = s.implied_vol(k, t);
                assert!((iv - p.implied_vol(k, t)).abs() <= 1e-16, "t={t} k={k}");
            }
        }
    }

    #[test]
    fn linear_in_total_variance_between_nodes() {
        let s = surface();
        let sl = s.slices();
        for k in [-0.7, 0.0, 0.4] {
            for (i, frac) in [(0, 0.3), (1, 0.5), (1, 0.9)] {
                let (ta, pa) = sl[i];
                let (tb, pb) = sl[i + 1];
                let t = ta + frac * (tb - ta);
                let want = (1.0 - frac) * pa.total_variance(k) + frac * pb.total_variance(k);
                let got = s.total_variance(k, t);
                assert!((got - want).abs() < 1e-15, "k={k} t={t}: {got} vs {want}");
            }
            // Second differences in t vanish inside a segment.
            let (t0, t1, t2) = (0.55, 0.7, 0.85);
            let d =
                s.total_variance(k, t0) - 2.0 * s.total_variance(k, t1) + s.total_variance(k, t2);
            assert!(d.abs() < 1e-15);
        }
    }

    #[test]
    fn extrapolation_keeps_vol_constant() {
        let s = surface();
        let (t1, p1) = s.slices()[0];
        let (tn, pn) = s.slices()[2];
        for k in [-0.5, 0.0, 0.5] {
            assert!((s.implied_vol(k, 0.5 * t1) - p1.implied_vol(k, t1)).abs() < 1e-15);
            assert!((s.implied_vol(k, 3.0 * tn) - pn.implied_vol(k, tn)).abs() < 1e-15);
            assert!((s.total_variance(k, 0.5 * t1) - 0.5 * p1.total_variance(k)).abs() < 1e-17);
        }
        assert_eq!(s.total_variance(0.0, 0.0), 0.0);
        assert_eq!(s.implied_vol(0.0, -1.0), 0.0);
        assert!(s.implied_vol(f64::NAN, 0.5).is_nan());
        assert!(s.total_variance(0.0, f64::NAN).is_nan());
    }

    #[test]
    fn construction_errors() {
        let p = slice(0.01, 0.1, -0.5, 0.0, 0.1);
        assert_eq!(Surface::new(vec![]), Err(SurfaceError::Empty));
        assert_eq!(
            Surface::new(vec![(0.5, p), (0.5, p)]),
            Err(SurfaceError::BadTime { index: 1, t: 0.5 })
        );
        assert_eq!(
            Surface::new(vec![(0.0, p)]),
            Err(SurfaceError::BadTime { index: 0, t: 0.0 })
        );
        assert!(matches!(
            Surface::new(vec![(0.5, p), (f64::INFINITY, p)]),
            Err(SurfaceError::BadTime { index: 1, .. })
        ));
        let bad = SviRaw { rho: 2.0, ..p };
        assert!(matches!(
            Surface::new(vec![(0.5, p), (1.0, bad)]),
            Err(SurfaceError::BadSlice { index: 1, .. })
        ));
    }

    #[test]
    fn calendar_ok_for_increasing_slices() {
        let r = surface().calendar_check();
        assert!(r.ok, "{r:?}");
        assert_eq!(r.worst, None);
        assert!(calendar_check(&[]).ok);
    }

    #[test]
    fn calendar_violation_detected_for_crossing_slices() {
        // The later slice has more ATM variance but flatter wings: the slices cross in the wings.
        let early = slice(0.01, 0.2, -0.3, 0.0, 0.1);
        let late = slice(0.03, 0.1, -0.3, 0.0, 0.1);
        let r = calendar_check(&[(0.5, early), (1.0, late)]);
        assert!(!r.ok);
        let (t1, t2, k, d) = r.worst.unwrap();
        assert_eq!((t1, t2), (0.5, 1.0));
        assert!(d > 0.0);
        assert!((d - (early.total_variance(k) - late.total_variance(k))).abs() < 1e-15);
        // The worst is in the far left wing, where the slope difference is largest.
        assert_eq!(k, -100.0);
        // Given out of order, the same pair is found.
        let r2 = calendar_check(&[(1.0, late), (0.5, early)]);
        assert_eq!(r, r2);
        // A crossing confined to the centre (|k| < 0.75; the later slice is higher beyond).
        let a = slice(0.02, 0.1, 0.0, 0.0, 0.1);
        let b = slice(0.005, 0.12, 0.0, 0.0, 0.2);
        assert!(a.total_variance(2.0) < b.total_variance(2.0));
        let r = calendar_check(&[(0.25, a), (0.5, b)]);
        assert!(!r.ok);
        let (_, _, k, d) = r.worst.unwrap();
        assert!(k.abs() < 0.75 && k.abs() > 0.1, "{r:?}");
        assert!((d - (a.total_variance(k) - b.total_variance(k))).abs() < 1e-15);
        for i in 0..=100 {
            let kk = -0.75 + 0.015 * i as f64;
            assert!(a.total_variance(kk) - b.total_variance(kk) <= d + 1e-15);
        }
    }
}
