//! Fit of a raw SVI slice to implied-vol quotes. (SKELETON: helper B.)

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
pub fn fit_svi(t: f64, quotes: &[IvQuote]) -> Result<FitResult, FitError> {
    todo!("helper B {t} {quotes:?}")
}
