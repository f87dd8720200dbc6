//! Black-Scholes-Merton (spot, rate, dividend yield) and Black-76 (forward, discounted) prices and
//! Greeks of European options.
//!
//! # Notation and units
//!
//! Time `t = T` in years, rates `r` (discount) and `q` (dividend yield or carry) continuously
//! compounded, volatility `σ` per √year (0.8 = 80 %). `w = +1` for a call, `−1` for a put.
//! `N` is the standard normal distribution function and `φ` its density
//! ([`crate::normal`], accurate to about 1e-15 relative).
//!
//! ```text
//! v  = σ·√T                                   total volatility
//! Black-Scholes-Merton (spot S):  F = S·e^((r−q)T),  Dq = e^(−qT),  D = e^(−rT)
//! Black-76 (forward F):           D = e^(−rT)
//! d1 = ln(F/K)/v + v/2,   d2 = d1 − v
//! ```
//!
//! | quantity | BSM | Black-76 (F held fixed) | unit |
//! |---|---|---|---|
//! | price `V` | `w·(S·Dq·N(w·d1) − K·D·N(w·d2))` | `D·w·(F·N(w·d1) − K·N(w·d2))` | currency of S/F/K |
//! | delta | `w·Dq·N(w·d1)` = ∂V/∂S | `w·D·N(w·d1)` = ∂V/∂F | per 1 unit of S/F |
//! | gamma | `Dq·φ(d1)/(S·v)` | `D·φ(d1)/(F·v)` | per (unit of S/F)² |
//! | vega | `S·Dq·φ(d1)·√T` | `D·F·φ(d1)·√T` | per 1.00 of vol (×0.01 per vol point) |
//! | theta = −∂V/∂T | `−S·Dq·φ(d1)·σ/(2√T) + w·(q·S·Dq·N(w·d1) − r·K·D·N(w·d2))` | `−D·F·φ(d1)·σ/(2√T) + r·V` | per year (÷365 per day) |
//! | rho = ∂V/∂r | `w·K·T·D·N(w·d2)` | `−T·V` | per 1.00 of rate (×0.01 per 1 %) |
//! | vanna = ∂²V/∂S∂σ | `−Dq·φ(d1)·d2/σ` | `−D·φ(d1)·d2/σ` (∂²V/∂F∂σ) | per unit of S/F per 1.00 of vol |
//! | volga = ∂²V/∂σ² | `vega·d1·d2/σ` | `vega·d1·d2/σ` | per (1.00 of vol)² |
//!
//! # Limits (`T = 0` or `σ = 0`, i.e. `v = 0`)
//!
//! The price is the discounted-forward intrinsic value `w·(S·Dq − K·D)⁺` (BSM) or
//! `D·(w·(F − K))⁺` (Black-76). `N(w·d1)` and `N(w·d2)` take their limits: 1 in the money
//! (relative to the forward), 0 out of the money, ½ exactly at the forward. Delta, rho and the
//! drift part of theta follow from those. Gamma, vanna, volga and the diffusion part of theta are
//! 0 away from the forward; exactly at the forward gamma (and, for `T = 0`, theta) diverge, and
//! we return 0 there as well so that aggregates stay finite. Exactly at the forward with `T > 0`
//! and `σ = 0`, vega and vanna take their finite limits `S·Dq·√T·φ(0)` and `Dq·√T·φ(0)/2`.
//! No input that passes validation produces a NaN unless intermediate products overflow
//! (e.g. `|r·T| > 700` or `S/K` outside the range of `f64`).
//!
//! Transcendental functions are `libm::{exp, log, sqrt}` so results are bit-identical across
//! platforms.

use crate::normal::{exp_neg_half_square, scaled_norm_cdf, FRAC_1_SQRT_2PI};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// φ(0) = 1/√(2π).
const PDF_AT_ZERO: f64 = 0.398_942_280_401_432_7;

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionKind {
    /// Right to buy at the strike.
    Call,
    /// Right to sell at the strike.
    Put,
}

impl OptionKind {
    /// `+1.0` for a call, `−1.0` for a put (the `w` of the formulas).
    #[inline]
    pub fn sign(self) -> f64 {
        match self {
            OptionKind::Call => 1.0,
            OptionKind::Put => -1.0,
        }
    }
}

/// Text that is not an option kind (see [`OptionKind`]'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown option kind {0:?}: expected call, put, c or p")]
pub struct ParseOptionKindError(pub String);

impl FromStr for OptionKind {
    type Err = ParseOptionKindError;

    /// Parses `call`, `put`, `c` or `p`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("call") || s.eq_ignore_ascii_case("c") {
            Ok(OptionKind::Call)
        } else if s.eq_ignore_ascii_case("put") || s.eq_ignore_ascii_case("p") {
            Ok(OptionKind::Put)
        } else {
            Err(ParseOptionKindError(s.to_string()))
        }
    }
}

impl fmt::Display for OptionKind {
    /// Prints `call` or `put`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptionKind::Call => "call",
            OptionKind::Put => "put",
        })
    }
}

/// Price and Greeks of one option (one unit of underlying).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Greeks {
    /// Option value, in the currency of the spot/forward.
    pub price: f64,
    /// ∂V/∂S (BSM) or ∂V/∂F (Black-76).
    pub delta: f64,
    /// ∂²V/∂S² (or ∂²V/∂F²).
    pub gamma: f64,
    /// ∂V/∂σ per 1.00 of vol.
    pub vega: f64,
    /// −∂V/∂T per year of calendar time.
    pub theta: f64,
    /// ∂V/∂r per 1.00 of rate.
    pub rho: f64,
    /// ∂²V/∂S∂σ.
    pub vanna: f64,
    /// ∂²V/∂σ².
    pub volga: f64,
}

/// Inputs of a Black-Scholes-Merton valuation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BsmInputs {
    /// Call or put.
    pub kind: OptionKind,
    /// Spot price (> 0).
    pub spot: f64,
    /// Strike (> 0).
    pub strike: f64,
    /// Time to expiry in years (≥ 0).
    pub t: f64,
    /// Continuously compounded risk-free rate.
    pub rate: f64,
    /// Continuously compounded dividend yield (or carry).
    pub div: f64,
    /// Volatility (≥ 0), 0.8 = 80 %.
    pub vol: f64,
}

/// Inputs of a Black-76 valuation (price discounted by e^(−rT)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Black76Inputs {
    /// Call or put.
    pub kind: OptionKind,
    /// Forward (futures) price (> 0).
    pub forward: f64,
    /// Strike (> 0).
    pub strike: f64,
    /// Time to expiry in years (≥ 0).
    pub t: f64,
    /// Continuously compounded discount rate.
    pub rate: f64,
    /// Volatility (≥ 0).
    pub vol: f64,
}

/// An input outside the domain of the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} = {value} is invalid: {rule}")]
pub struct InputError {
    /// Which input (`spot`, `strike`, `t`, `vol`, ...).
    pub field: &'static str,
    /// The offending value.
    pub value: f64,
    /// What it must satisfy, e.g. "must be finite and > 0".
    pub rule: &'static str,
}

#[inline]
pub(crate) fn check_positive(field: &'static str, value: f64) -> Result<(), InputError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(InputError {
            field,
            value,
            rule: "must be finite and > 0",
        })
    }
}

#[inline]
pub(crate) fn check_non_negative(field: &'static str, value: f64) -> Result<(), InputError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(InputError {
            field,
            value,
            rule: "must be finite and >= 0",
        })
    }
}

#[inline]
pub(crate) fn check_finite(field: &'static str, value: f64) -> Result<(), InputError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(InputError {
            field,
            value,
            rule: "must be finite",
        })
    }
}

/// True when every value is finite: `x·0` is 0 for finite x and NaN for ±∞ or NaN. (A sum of
/// products stays in floating-point registers; `is_finite` on each value is compiled to integer
/// bit tests, about ten instructions per value.)
#[inline(always)]
pub(crate) fn all_finite<const N: usize>(xs: [f64; N]) -> bool {
    xs.iter().fold(0.0, |acc, &x| acc + x * 0.0) == 0.0
}

#[inline]
fn validate_bsm(i: &BsmInputs) -> Result<(), InputError> {
    // One well-predicted branch on the hot path; the error path names the first bad input.
    if all_finite([i.spot, i.strike, i.t, i.rate, i.div, i.vol])
        & (i.spot > 0.0)
        & (i.strike > 0.0)
        & (i.t >= 0.0)
        & (i.vol >= 0.0)
    {
        return Ok(());
    }
    invalid_bsm(i)
}

#[cold]
#[inline(never)]
fn invalid_bsm(i: &BsmInputs) -> Result<(), InputError> {
    check_positive("spot", i.spot)?;
    check_positive("strike", i.strike)?;
    check_non_negative("t", i.t)?;
    check_finite("rate", i.rate)?;
    check_finite("div", i.div)?;
    check_non_negative("vol", i.vol)
}

#[inline]
fn validate_black76(i: &Black76Inputs) -> Result<(), InputError> {
    if all_finite([i.forward, i.strike, i.t, i.rate, i.vol])
        & (i.forward > 0.0)
        & (i.strike > 0.0)
        & (i.t >= 0.0)
        & (i.vol >= 0.0)
    {
        return Ok(());
    }
    invalid_black76(i)
}

#[cold]
#[inline(never)]
fn invalid_black76(i: &Black76Inputs) -> Result<(), InputError> {
    check_positive("forward", i.forward)?;
    check_positive("strike", i.strike)?;
    check_non_negative("t", i.t)?;
    check_finite("rate", i.rate)?;
    check_non_negative("vol", i.vol)
}

/// The terms shared by both models, for one option on a forward-like quantity.
///
/// Both models reduce to `V = w·(A·N(w·d1) − B·N(w·d2))` with `A = S·Dq` (BSM) or `D·F`
/// (Black-76) and `B = K·D`, and `ln(F/K) = m`. In the money (w·m > 0) the price is computed
/// by put-call parity from the out-of-the-money counterpart, `w·(A − B) + V_otm`, whose normal
/// probabilities lie in the tail where they are accurate to ~1e-15 relative: the time value then
/// keeps full relative accuracy instead of inheriting the rounding of `A·N(w·d1)`.
///
/// One exponential serves φ(d1), N(d1) and N(d2): `g1 = exp(−d1²/2)`, and since
/// `d2²/2 = d1²/2 − m`, `B·exp(−d2²/2) = A·g1` (the identity `K·D·φ(d2) = S·Dq·φ(d1)`), so
/// `B·N(d2)` is computed directly from `A·g1`.
struct Core {
    /// N(w·d1).
    n1: f64,
    /// A·N(w·d1).
    an1: f64,
    /// B·N(w·d2).
    bn2: f64,
    /// `w·(A·N(w·d1) − B·N(w·d2))`, by parity from the out-of-the-money side when in the money,
    /// floored at 0 (exactly 0 at the forward with v = 0).
    value: f64,
    /// φ(d1) (0 when v = 0; the at-the-forward limits are applied by the caller).
    pdf1: f64,
    /// d1 and d2 (0 when v = 0).
    d1: f64,
    d2: f64,
    /// True when v = 0 (T = 0 or σ = 0).
    degenerate: bool,
    /// True when v = 0 and m = 0 exactly.
    at_forward: bool,
}

/// Clamp a d so that the normal functions never see ±∞ (N(−∞) would be 0·∞); beyond ±1e6 both
/// N and φ are already exactly 0 or 1 in double precision.
#[inline]
fn clamp_d(d: f64) -> f64 {
    d.clamp(-1e6, 1e6)
}

/// Beyond this |d1|, `exp(−d1²/2)` loses precision to underflow (it is below 1e-297) while
/// `B·exp(−d2²/2)` may still matter: that exponential is then evaluated directly.
const D1_SHARED_GAUSS_MAX: f64 = 37.0;

/// The part of [`Core`] that both kinds share when `v > 0` and they take the same
/// out-of-the-money side `s`: d1, d2, φ's exponential and the four normal probabilities.
#[derive(Clone, Copy)]
struct Tail {
    d1: f64,
    d2: f64,
    g1: f64,
    /// N(s·d1) and N(−s·d1).
    o1: f64,
    o1_c: f64,
    /// B·N(s·d2) and B·N(−s·d2).
    bo2: f64,
    bo2_c: f64,
    /// s·(A·N(s·d1) − B·N(s·d2)), the out-of-the-money side's value before the floor: the other
    /// kind's price is `w'·(A − B) + otm` or `otm` itself, so one tail prices both kinds.
    otm: f64,
}

/// [`Tail`] on side `s` (`v > 0`).
#[inline(always)]
fn tail(m: f64, v: f64, s: f64, a: f64, b: f64) -> Tail {
    let d1 = clamp_d(m / v + 0.5 * v);
    let d2 = clamp_d(d1 - v);
    let g1 = exp_neg_half_square(d1);
    let bg2 = if d1.abs() < D1_SHARED_GAUSS_MAX {
        a * g1
    } else {
        b * exp_neg_half_square(d2)
    };
    // N(s·d1), N(−s·d1), B·N(s·d2), B·N(−s·d2).
    let (o1, o1_c) = scaled_norm_cdf(s * d1, 1.0, g1);
    let (bo2, bo2_c) = scaled_norm_cdf(s * d2, b, bg2);
    Tail {
        d1,
        d2,
        g1,
        o1,
        o1_c,
        bo2,
        bo2_c,
        otm: s * (a * o1 - bo2),
    }
}

/// [`Core`] of kind `w` from its side's [`Tail`] (`itm` = w·m > 0).
#[inline(always)]
fn finish(t: &Tail, w: f64, itm: bool, a: f64, b: f64) -> Core {
    let (n1, bn2, value) = if itm {
        (t.o1_c, t.bo2_c, w * (a - b) + t.otm)
    } else {
        (t.o1, t.bo2, t.otm)
    };
    Core {
        n1,
        an1: a * n1,
        bn2,
        value: value.max(0.0),
        pdf1: FRAC_1_SQRT_2PI * t.g1,
        d1: t.d1,
        d2: t.d2,
        degenerate: false,
        at_forward: false,
    }
}

/// `m = ln(F/K)`, `v = σ√T`, `w` = ±1, `a = A`, `b = B` (see [`Core`]).
#[inline(always)]
fn core(m: f64, v: f64, w: f64, a: f64, b: f64) -> Core {
    let wm = w * m;
    let itm = wm > 0.0;
    if v > 0.0 {
        // Evaluate N on the out-of-the-money side (the tail) and derive the other side.
        let s = if itm { -w } else { w };
        finish(&tail(m, v, s, a, b), w, itm, a, b)
    } else {
        let n = if itm {
            1.0
        } else if wm < 0.0 {
            0.0
        } else {
            0.5
        };
        let at_forward = m == 0.0;
        Core {
            n1: n,
            an1: a * n,
            bn2: b * n,
            value: if itm { (w * (a - b)).max(0.0) } else { 0.0 },
            pdf1: 0.0,
            d1: 0.0,
            d2: 0.0,
            degenerate: true,
            at_forward,
        }
    }
}

/// (call, put) [`Core`]s: away from the forward with `v > 0` both kinds take the same
/// out-of-the-money side (the one of sign −sign(m)), so one [`Tail`] serves both; otherwise
/// each kind is evaluated on its own. Bit-identical to two [`core`] calls.
#[inline(always)]
fn core_call_put(m: f64, v: f64, a: f64, b: f64) -> (Core, Core) {
    if v > 0.0 && m.abs() > 0.0 {
        // Call: itm iff m > 0, side −1 then, else +1; put: itm iff m < 0, side +1 then, else −1.
        let s = if m > 0.0 { -1.0 } else { 1.0 };
        let t = tail(m, v, s, a, b);
        (
            finish(&t, 1.0, m > 0.0, a, b),
            finish(&t, -1.0, m < 0.0, a, b),
        )
    } else {
        (core(m, v, 1.0, a, b), core(m, v, -1.0, a, b))
    }
}

/// Black-Scholes-Merton price, in the currency of `spot` and `strike`.
///
/// `V = w·(S·e^(−qT)·N(w·d1) − K·e^(−rT)·N(w·d2))`; at `T = 0` or `σ = 0` the discounted
/// forward intrinsic value. Errors name the first invalid input.
#[inline]
pub fn bsm_price(i: &BsmInputs) -> Result<f64, InputError> {
    validate_bsm(i)?;
    let w = i.kind.sign();
    let sqrt_t = libm::sqrt(i.t);
    let v = i.vol * sqrt_t;
    let m = libm::log(i.spot / i.strike) + (i.rate - i.div) * i.t;
    let a = i.spot * libm::exp(-i.div * i.t);
    let b = i.strike * libm::exp(-i.rate * i.t);
    Ok(core(m, v, w, a, b).value)
}

/// Black-Scholes-Merton price and Greeks (units in the module docs: delta and gamma per unit
/// of spot, vega per 1.00 of vol, theta = −∂V/∂T per year, rho per 1.00 of rate, vanna
/// ∂²V/∂S∂σ, volga ∂²V/∂σ²). Errors name the first invalid input.
#[inline]
pub fn bsm_greeks(i: &BsmInputs) -> Result<Greeks, InputError> {
    validate_bsm(i)?;
    let w = i.kind.sign();
    let t = i.t;
    let sqrt_t = libm::sqrt(t);
    let v = i.vol * sqrt_t;
    let m = libm::log(i.spot / i.strike) + (i.rate - i.div) * t;
    let dq = libm::exp(-i.div * t);
    let a = i.spot * dq;
    let b = i.strike * libm::exp(-i.rate * t);
    Ok(bsm_greeks_of(i, w, sqrt_t, v, dq, a, &core(m, v, w, a, b)))
}

/// [`bsm_greeks`] of the call and of the put with the same inputs (`i.kind` is ignored), from
/// one shared evaluation of the normal functions where both kinds share it: bit-identical to
/// two [`bsm_greeks`] calls, about half the work.
#[inline]
pub fn bsm_greeks_call_put(i: &BsmInputs) -> Result<(Greeks, Greeks), InputError> {
    validate_bsm(i)?;
    let t = i.t;
    let sqrt_t = libm::sqrt(t);
    let v = i.vol * sqrt_t;
    let m = libm::log(i.spot / i.strike) + (i.rate - i.div) * t;
    let dq = libm::exp(-i.div * t);
    let a = i.spot * dq;
    let b = i.strike * libm::exp(-i.rate * t);
    let (call, put) = core_call_put(m, v, a, b);
    Ok((
        bsm_greeks_of(i, 1.0, sqrt_t, v, dq, a, &call),
        bsm_greeks_of(i, -1.0, sqrt_t, v, dq, a, &put),
    ))
}

/// The Greeks of kind `w` from its [`Core`].
#[inline(always)]
fn bsm_greeks_of(i: &BsmInputs, w: f64, sqrt_t: f64, v: f64, dq: f64, a: f64, c: &Core) -> Greeks {
    let t = i.t;
    let price = c.value;
    let delta = w * dq * c.n1;
    let rho = w * t * c.bn2;
    let drift_theta = w * (i.div * c.an1 - i.rate * c.bn2);
    if c.degenerate {
        let (vega, vanna) = if c.at_forward {
            (a * sqrt_t * PDF_AT_ZERO, 0.5 * dq * sqrt_t * PDF_AT_ZERO)
        } else {
            (0.0, 0.0)
        };
        return Greeks {
            price,
            delta,
            gamma: 0.0,
            vega,
            theta: drift_theta,
            rho,
            vanna,
            volga: 0.0,
        };
    }
    let a_pdf = a * c.pdf1;
    let vega = a_pdf * sqrt_t;
    let (vanna, volga) = if c.pdf1 > 0.0 {
        (-dq * c.pdf1 * c.d2 / i.vol, vega * c.d1 * c.d2 / i.vol)
    } else {
        (0.0, 0.0)
    };
    Greeks {
        price,
        delta,
        gamma: dq * c.pdf1 / (i.spot * v),
        vega,
        theta: -0.5 * a_pdf * i.vol / sqrt_t + drift_theta,
        rho,
        vanna,
        volga,
    }
}

/// One strike and expiry of a Black-Scholes-Merton model priced again and again under shocked
/// spots and vols (stress grids): the discount factors and `√T` are computed once, each spot once
/// ([`BsmGrid::at_spot`]: one logarithm), and each (spot, vol) point prices the call and the put
/// with one shared evaluation ([`BsmGrid::call_put`]: one exponential).
///
/// The results are bit-identical to [`bsm_price`] with the same inputs: away from the forward
/// (`m ≠ 0`) both kinds take the same out-of-the-money side, so the call and the put are the
/// two branches of one [`Tail`] (`V_otm` and `w·(A − B) + V_otm`, see `core_call_put`); exactly at the forward, or
/// with zero total vol, each kind is evaluated on its own, as [`bsm_price`] does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BsmGrid {
    strike: f64,
    t: f64,
    sqrt_t: f64,
    carry_t: f64,
    dq: f64,
    b: f64,
    valid: bool,
}

/// A spot of a [`BsmGrid`]: `m = ln(S/K) + (r − q)·T` and `A = S·e^(−qT)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridSpot {
    m: f64,
    a: f64,
    valid: bool,
}

impl BsmGrid {
    /// A grid for `strike`, `t` years, `rate` and dividend yield `div` (inputs validated as in
    /// [`bsm_price`]; the spot and the vol are checked per point).
    pub fn new(strike: f64, t: f64, rate: f64, div: f64) -> Result<BsmGrid, InputError> {
        check_positive("strike", strike)?;
        check_non_negative("t", t)?;
        check_finite("rate", rate)?;
        check_finite("div", div)?;
        Ok(BsmGrid {
            strike,
            t,
            sqrt_t: libm::sqrt(t),
            carry_t: (rate - div) * t,
            dq: libm::exp(-div * t),
            b: strike * libm::exp(-rate * t),
            valid: true,
        })
    }

    /// The point at `spot` (an invalid spot prices every option at 0; check it first where
    /// that matters).
    #[inline]
    pub fn at_spot(&self, spot: f64) -> GridSpot {
        GridSpot {
            m: libm::log(spot / self.strike) + self.carry_t,
            a: spot * self.dq,
            valid: self.valid & spot.is_finite() & (spot > 0.0),
        }
    }

    /// (call, put) prices at `spot` and `vol` (0 and 0 for an invalid spot or vol).
    #[inline]
    pub fn call_put(&self, spot: &GridSpot, vol: f64) -> (f64, f64) {
        if !(spot.valid & vol.is_finite() & (vol >= 0.0)) {
            return (0.0, 0.0);
        }
        let (call, put) = core_call_put(spot.m, vol * self.sqrt_t, spot.a, self.b);
        (call.value, put.value)
    }
}

/// Black-76 price, `D·w·(F·N(w·d1) − K·N(w·d2))` with `D = e^(−rT)`, in the currency of the
/// forward and strike; at `T = 0` or `σ = 0`, `D·(w·(F − K))⁺`. Errors name the first invalid
/// input.
#[inline]
pub fn black76_price(i: &Black76Inputs) -> Result<f64, InputError> {
    validate_black76(i)?;
    let w = i.kind.sign();
    let v = i.vol * libm::sqrt(i.t);
    let m = libm::log(i.forward / i.strike);
    let df = libm::exp(-i.rate * i.t);
    Ok(df * core(m, v, w, i.forward, i.strike).value)
}

/// Black-76 price and Greeks (delta, gamma, vanna with respect to the forward; rho with the
/// forward held fixed, i.e. −T·price). Units as in the module docs: vega per 1.00 of vol,
/// theta = −∂V/∂T per year with F fixed, rho per 1.00 of rate. Errors name the first invalid
/// input.
#[inline]
pub fn black76_greeks(i: &Black76Inputs) -> Result<Greeks, InputError> {
    black76_greeks_inline(i)
}

/// [`black76_greeks`], always inlined: callers that build the inputs (the inverse options) then
/// keep them in registers instead of storing them for an out-of-line call.
#[inline(always)]
pub(crate) fn black76_greeks_inline(i: &Black76Inputs) -> Result<Greeks, InputError> {
    validate_black76(i)?;
    let w = i.kind.sign();
    let t = i.t;
    let sqrt_t = libm::sqrt(t);
    let v = i.vol * sqrt_t;
    let m = libm::log(i.forward / i.strike);
    let df = libm::exp(-i.rate * t);
    let c = core(m, v, w, i.forward, i.strike);
    let price = df * c.value;
    let delta = w * df * c.n1;
    let rho = -t * price;
    let drift_theta = i.rate * price;
    let a = df * i.forward;
    if c.degenerate {
        let (vega, vanna) = if c.at_forward {
            (a * sqrt_t * PDF_AT_ZERO, 0.5 * df * sqrt_t * PDF_AT_ZERO)
        } else {
            (0.0, 0.0)
        };
        return Ok(Greeks {
            price,
            delta,
            gamma: 0.0,
            vega,
            theta: drift_theta,
            rho,
            vanna,
            volga: 0.0,
        });
    }
    let a_pdf = a * c.pdf1;
    let vega = a_pdf * sqrt_t;
    let (vanna, volga) = if c.pdf1 > 0.0 {
        (-df * c.pdf1 * c.d2 / i.vol, vega * c.d1 * c.d2 / i.vol)
    } else {
        (0.0, 0.0)
    };
    Ok(Greeks {
        price,
        delta,
        gamma: df * c.pdf1 / (i.forward * v),
        vega,
        theta: -0.5 * a_pdf * i.vol / sqrt_t + drift_theta,
        rho,
        vanna,
        volga,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_kind_parses_and_prints() {
        for (s, k) in [
            ("call", OptionKind::Call),
            ("C", OptionKind::Call),
            ("Call", OptionKind::Call),
            ("PUT", OptionKind::Put),
            ("p", OptionKind::Put),
        ] {
            assert_eq!(s.parse::<OptionKind>(), Ok(k));
        }
        let err = "straddle".parse::<OptionKind>().unwrap_err();
        assert!(err.to_string().contains("straddle"), "{err}");
        assert_eq!(OptionKind::Call.to_string(), "call");
        assert_eq!(OptionKind::Put.to_string(), "put");
    }

    fn bsm(kind: OptionKind, t: f64, vol: f64, spot: f64) -> BsmInputs {
        BsmInputs {
            kind,
            spot,
            strike: 100.0,
            t,
            rate: 0.05,
            div: 0.02,
            vol,
        }
    }

    #[test]
    fn invalid_inputs_name_the_field() {
        let ok = bsm(OptionKind::Call, 1.0, 0.2, 100.0);
        let cases: [(BsmInputs, &str); 8] = [
            (BsmInputs { spot: -1.0, ..ok }, "spot"),
            (
                BsmInputs {
                    spot: f64::NAN,
                    ..ok
                },
                "spot",
            ),
            (BsmInputs { strike: 0.0, ..ok }, "strike"),
            (BsmInputs { t: -1e-9, ..ok }, "t"),
            (
                BsmInputs {
                    t: f64::INFINITY,
                    ..ok
                },
                "t",
            ),
            (
                BsmInputs {
                    rate: f64::NAN,
                    ..ok
                },
                "rate",
            ),
            (
                BsmInputs {
                    div: f64::NEG_INFINITY,
                    ..ok
                },
                "div",
            ),
            (BsmInputs { vol: -0.1, ..ok }, "vol"),
        ];
        for (i, field) in cases {
            assert_eq!(bsm_price(&i).unwrap_err().field, field);
            let e = bsm_greeks(&i).unwrap_err();
            assert_eq!(e.field, field);
            assert!(e.to_string().starts_with(field), "{e}");
        }
        let b = Black76Inputs {
            kind: OptionKind::Put,
            forward: f64::INFINITY,
            strike: 1.0,
            t: 1.0,
            rate: 0.0,
            vol: 0.2,
        };
        assert_eq!(black76_price(&b).unwrap_err().field, "forward");
        assert_eq!(
            black76_greeks(&Black76Inputs {
                forward: 1.0,
                vol: f64::NAN,
                ..b
            })
            .unwrap_err()
            .field,
            "vol"
        );
    }

    /// Cases where evaluating N(d2) on its own, or an in-the-money N as 1 − N(otm), lost digits;
    /// exact values from mpmath at 60 digits on the same (double) inputs.
    #[test]
    fn cancellation_prone_cases_match_high_precision_values() {
        let rel = |got: f64, want: f64| ((got - want) / want).abs();
        // Deep out-of-the-money put, tiny total vol: the two terms agree to 8e-6.
        let g = bsm_greeks(&BsmInputs {
            kind: OptionKind::Put,
            spot: 100.0,
            strike: 98.965_525_672_352_16,
            t: 0.000_114_519_756_199_212_48,
            rate: 0.110_593_913_966_288_41,
            div: 0.073_999_799_825_363_59,
            vol: 0.027_238_558_561_687_345,
        })
        .unwrap();
        assert!(rel(g.price, 2.431_237_622_676_226e-282) < 1e-9, "{g:?}");
        // In the money: rho from K·D·N(−d2) with N(d2) close to 1.
        let g = bsm_greeks(&BsmInputs {
            kind: OptionKind::Call,
            spot: 100.0,
            strike: 133.330_346_211_076_55,
            t: 9.453_783_216_783_45,
            rate: 0.062_454_424_061_709_69,
            div: 0.016_464_128_632_029_46,
            vol: 3.145_772_036_841_737,
        })
        .unwrap();
        assert!(rel(g.rho, 4.989_528_627_735_314e-4) < 1e-13, "{g:?}");
        // Deep in the money put with N(−d1) tiny: delta.
        let g = bsm_greeks(&BsmInputs {
            kind: OptionKind::Put,
            spot: 100.0,
            strike: 226.785_660_005_970_16,
            t: 9.894_440_504_140_324,
            rate: 0.103_841_758_882_673_04,
            div: 0.044_489_062_126_165_19,
            vol: 3.093_164_832_940_884,
        })
        .unwrap();
        assert!(rel(g.delta, -4.158_407_953_141_862_5e-7) < 1e-13, "{g:?}");
    }

    #[test]
    fn degenerate_inputs_give_intrinsic_and_finite_greeks() {
        for kind in [OptionKind::Call, OptionKind::Put] {
            for spot in [80.0, 100.0, 120.0] {
                for (t, vol) in [(0.0, 0.3), (0.5, 0.0), (0.0, 0.0)] {
                    let i = bsm(kind, t, vol, spot);
                    let g = bsm_greeks(&i).unwrap();
                    let fwd_intr = (kind.sign()
                        * (spot * libm::exp(-i.div * t) - 100.0 * libm::exp(-i.rate * t)))
                    .max(0.0);
                    assert!((g.price - fwd_intr).abs() < 1e-12, "{i:?} {g:?}");
                    assert_eq!(g.price, bsm_price(&i).unwrap());
                    for x in [
                        g.price, g.delta, g.gamma, g.vega, g.theta, g.rho, g.vanna, g.volga,
                    ] {
                        assert!(x.is_finite(), "{i:?} {g:?}");
                    }
                    // A tiny vol is continuous with the limit for the price.
                    let near = bsm_price(&BsmInputs {
                        vol: 1e-9,
                        t: t.max(1e-12),
                        ..i
                    })
                    .unwrap();
                    assert!((near - g.price).abs() < 1e-6, "{near} vs {}", g.price);
                }
            }
        }
        // Extreme but valid: huge moneyness, tiny positive total vol.
        let g = black76_greeks(&Black76Inputs {
            kind: OptionKind::Put,
            forward: 1e-300,
            strike: 1e300,
            t: 1e-300,
            rate: 0.0,
            vol: 1e-10,
        })
        .unwrap();
        assert!(
            g.price.is_finite() && g.vanna == 0.0 && g.volga == 0.0,
            "{g:?}"
        );
    }

    /// Runs `one(spot, strike, t, rate, div, vol)` exactly at the forward (m = 0), at zero time
    /// and zero vol, on an invalid spot and vol, deep in and out of the money, and on 4,000
    /// random points.
    fn on_edges_and_random_points(one: impl Fn(f64, f64, f64, f64, f64, f64)) {
        use proptest::prelude::*;
        one(100.0, 100.0, 0.5, 0.0, 0.0, 0.6);
        one(100.0, 100.0, 0.0, 0.05, 0.0, 0.6);
        one(90.0, 100.0, 0.5, 0.05, 0.01, 0.0);
        one(110.0, 100.0, 0.0, 0.05, 0.0, 0.3);
        one(-1.0, 100.0, 0.5, 0.05, 0.0, 0.3);
        one(100.0, 100.0, 0.5, 0.05, 0.0, f64::NAN);
        one(100.0, 100.0, 0.5, 0.05, 0.0, -0.1);
        one(1e-6, 1e6, 2.0, 0.0, 0.0, 0.05);
        one(1e6, 1e-6, 2.0, 0.0, 0.0, 0.05);
        proptest!(ProptestConfig::with_cases(4000), |(
            spot in 1.0f64..200_000.0,
            moneyness in -3.0f64..3.0,
            t in 0.0f64..3.0,
            rate in -0.05f64..0.2,
            div in -0.05f64..0.2,
            vol in 0.0f64..4.0,
        )| {
            one(spot, spot * moneyness.exp(), t, rate, div, vol);
        });
    }

    /// The shared call/put Greeks equal two `bsm_greeks` calls bit for bit (every field), at the
    /// forward, at zero time or vol, deep in and out of the money; invalid inputs fail alike.
    #[test]
    fn call_put_greeks_equal_bsm_greeks_bit_for_bit() {
        let bits = |g: &Greeks| {
            [
                g.price, g.delta, g.gamma, g.vega, g.theta, g.rho, g.vanna, g.volga,
            ]
            .map(f64::to_bits)
        };
        let one = |spot: f64, strike: f64, t: f64, rate: f64, div: f64, vol: f64| {
            let i = |kind| BsmInputs {
                kind,
                spot,
                strike,
                t,
                rate,
                div,
                vol,
            };
            let pair = bsm_greeks_call_put(&i(OptionKind::Put));
            let (c, p) = (
                bsm_greeks(&i(OptionKind::Call)),
                bsm_greeks(&i(OptionKind::Put)),
            );
            match (pair, c, p) {
                (Ok((pc, pp)), Ok(c), Ok(p)) => assert_eq!(
                    (bits(&pc), bits(&pp)),
                    (bits(&c), bits(&p)),
                    "S={spot} K={strike} t={t} r={rate} q={div} σ={vol}"
                ),
                (Err(e), Err(ec), Err(ep)) => {
                    assert!(e.to_string() == ec.to_string() && e.to_string() == ep.to_string())
                }
                other => panic!("S={spot} K={strike} t={t} σ={vol}: {other:?}"),
            }
        };
        on_edges_and_random_points(one);
    }

    /// The grid's shared call/put evaluation equals `bsm_price` bit for bit, including at the
    /// forward, at zero time or vol, deep in and out of the money, and for invalid points.
    #[test]
    fn grid_prices_equal_bsm_price_bit_for_bit() {
        let one = |spot: f64, strike: f64, t: f64, rate: f64, div: f64, vol: f64| {
            let grid = BsmGrid::new(strike, t, rate, div).unwrap();
            let (c, p) = grid.call_put(&grid.at_spot(spot), vol);
            let price = |kind| {
                bsm_price(&BsmInputs {
                    kind,
                    spot,
                    strike,
                    t,
                    rate,
                    div,
                    vol,
                })
                .unwrap_or(0.0)
            };
            let (ec, ep) = (price(OptionKind::Call), price(OptionKind::Put));
            assert_eq!(
                (c.to_bits(), p.to_bits()),
                (ec.to_bits(), ep.to_bits()),
                "S={spot} K={strike} t={t} r={rate} q={div} σ={vol}: grid ({c}, {p}) vs ({ec}, {ep})"
            );
        };
        on_edges_and_random_points(one);
        assert!(BsmGrid::new(0.0, 1.0, 0.0, 0.0).is_err());
        assert!(BsmGrid::new(100.0, -1.0, 0.0, 0.0).is_err());
    }
}
