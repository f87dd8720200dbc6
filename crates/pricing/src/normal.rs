//! Standard normal density and distribution function.
//!
//! `N(x) = erfc(-x / √2) / 2` with `libm::erfc` (Sun/FreeBSD, Cody-style rational
//! approximations), accurate to about 1e-15 relative over the range that matters.

/// Standard normal density φ(x) = exp(−x²/2)/√(2π).
pub fn norm_pdf(x: f64) -> f64 {
    todo!("helper A: {x}")
}

/// Standard normal cumulative distribution N(x).
pub fn norm_cdf(x: f64) -> f64 {
    todo!("helper A: {x}")
}
