//! Pricing library for derivpool: European option prices and Greeks (Black-Scholes-Merton on spot,
//! Black-76 on a forward), implied volatility to full double precision, Deribit-style inverse
//! options, raw SVI and SSVI volatility slices with arbitrage checks and calibration, a surface
//! interpolated in total variance, and the GWAV accumulator.
//!
//! Units (DESIGN.md §3): time in years, rates continuously compounded, vega per 1.00 of vol,
//! theta per year of calendar time, rho per 1.00 of rate.
//!
//! Floats live only here. The engine quantises every float result with a named rounding direction
//! before it touches state. Transcendental functions come from the `libm` crate so that results
//! are bit-identical across platforms.

pub mod black;
pub mod fit;
pub mod gwav;
pub mod inverse;
pub mod iv;
pub mod normal;
pub mod surface;
pub mod svi;

pub use black::{
    black76_greeks, black76_price, bsm_greeks, bsm_greeks_call_put, bsm_price, Black76Inputs,
    BsmGrid, BsmInputs, Greeks, GridSpot, InputError, OptionKind,
};
pub use fit::{fit_svi, FitError, FitResult, IvQuote};
pub use gwav::Gwav;
pub use inverse::{inverse_greeks, inverse_implied_vol, inverse_price};
pub use iv::{implied_vol_black76, implied_vol_bsm, IvError};
pub use surface::{calendar_check, CalendarReport, Surface, SurfaceError};
pub use svi::{ButterflyReport, Ssvi, SviError, SviRaw};
