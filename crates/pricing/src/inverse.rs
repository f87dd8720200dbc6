//! Inverse (coin-settled) options as Deribit quotes them: premium in coin = Black-76 price / F
//! with r = 0. (SKELETON: helper A replaces the bodies.)

use crate::black::{Greeks, InputError, OptionKind};
use crate::iv::IvError;

/// Price in coin of an inverse option.
pub fn inverse_price(
    kind: OptionKind,
    forward: f64,
    strike: f64,
    t: f64,
    vol: f64,
) -> Result<f64, InputError> {
    todo!("helper A {kind:?} {forward} {strike} {t} {vol}")
}

/// Greeks of an inverse option in coin (price in coin; delta as Deribit reports it, N(d1) for a
/// call; the other Greeks are the Black-76 ones divided by F).
pub fn inverse_greeks(
    kind: OptionKind,
    forward: f64,
    strike: f64,
    t: f64,
    vol: f64,
) -> Result<Greeks, InputError> {
    todo!("helper A {kind:?} {forward} {strike} {t} {vol}")
}

/// Implied vol from a price in coin.
pub fn inverse_implied_vol(
    kind: OptionKind,
    price_coin: f64,
    forward: f64,
    strike: f64,
    t: f64,
) -> Result<f64, IvError> {
    todo!("helper A {kind:?} {price_coin} {forward} {strike} {t}")
}
