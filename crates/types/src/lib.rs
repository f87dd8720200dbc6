//! Exact money for derivpool: fixed-point newtypes on `i128` with 18 decimals.
//!
//! Every amount the engine stores is an integer count of 10⁻¹⁸ units behind a newtype that says
//! what it measures:
//!
//! | type | measures | example |
//! |---|---|---|
//! | [`Quote`] | an amount of the pool's quote asset (USDC) | collateral, premium, fee, NAV |
//! | [`Base`] | an amount of an underlying (BTC, ETH) or a position size | `size`, open interest |
//! | [`Price`] | quote per unit of base | spot, strike, mark |
//! | [`Ratio`] | a dimensionless number | a rate, a vol, a weight, a haircut |
//! | [`Shares`] | LP shares of a tranche | minted and burned shares |
//!
//! Arithmetic is checked: [`Fixed::checked_add`]/[`Fixed::checked_sub`] and one multiply-divide,
//! [`mul_div`], with an explicit [`Rounding`] and a 256-bit intermediate. Overflow and division by
//! zero are [`MathError`]s that carry the source location of the call (`#[track_caller]`), never
//! a wrap or a panic. Unit-changing products go through [`mul`] and [`div`], whose output type is
//! chosen by the caller:
//!
//! ```
//! use derivpool_types::{mul, Base, Price, Quote, Rounding};
//! let notional: Quote = mul("2.5".parse::<Base>()?, "41000".parse::<Price>()?, Rounding::Up)?;
//! assert_eq!(notional.to_string(), "102500");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Rounding is named for its direction on the number line: `Down` is the floor (toward −∞) and
//! `Up` the ceiling (toward +∞), so `Down ≤ exact ≤ Up` holds for every sign. The engine rounds
//! what a user pays `Up` and what a user receives `Down` (DESIGN.md §2, invariant 2).
//!
//! Decimal strings: [`std::str::FromStr`] accepts an optional sign, digits, and at most 18
//! decimals (`"1250.5"`, `"-0.000000000000000001"`, `".5"`); anything else is a [`ParseError`]
//! with the offending text. [`std::fmt::Display`] prints the shortest exact form (no trailing
//! zeros), so that parse ∘ display is the identity. Serde uses the same strings (JSON numbers that
//! are integers are accepted on input; binary floats are refused).

mod fixed;
mod muldiv;
mod parse;

pub use fixed::{div, mul, Base, Fixed, Price, Quote, Ratio, Shares};
pub use muldiv::{mul_div, MathError, Rounding};
pub use parse::ParseError;

/// Number of decimals of every fixed-point type.
pub const DECIMALS: u32 = 18;
/// Raw units per 1.0 (10¹⁸).
pub const SCALE: i128 = 1_000_000_000_000_000_000;
