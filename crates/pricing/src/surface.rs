//! A volatility surface of raw SVI slices interpolated linearly in total variance at fixed
//! log-moneyness, and the calendar check. (SKELETON: helper B.)

use crate::svi::SviRaw;
use serde::{Deserialize, Serialize};

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
        source: crate::svi::SviError,
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
    /// Builds a surface from (t, slice) pairs sorted by strictly increasing t.
    pub fn new(slices: Vec<(f64, SviRaw)>) -> Result<Self, SurfaceError> {
        todo!("helper B {slices:?}")
    }
    /// Total variance at (k, t).
    pub fn total_variance(&self, k: f64, t: f64) -> f64 {
        todo!("helper B {k} {t}")
    }
    /// Implied vol at (k, t).
    pub fn implied_vol(&self, k: f64, t: f64) -> f64 {
        todo!("helper B {k} {t}")
    }
}

/// Calendar check: total variance non-decreasing in t at every k of a grid.
pub fn calendar_check(slices: &[(f64, SviRaw)]) -> CalendarReport {
    todo!("helper B {slices:?}")
}
