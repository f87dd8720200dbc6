//! Property tests: implied-vol round trip, put-call parity, every Greek against a central finite
//! difference of the price, and the no-arbitrage bounds of the implied-vol functions.

use derivpool_pricing::{
    black76_greeks, black76_price, bsm_greeks, bsm_price, implied_vol_black76, implied_vol_bsm,
    inverse_greeks, inverse_implied_vol, inverse_price, Black76Inputs, BsmInputs, Greeks, IvError,
    OptionKind,
};
use proptest::prelude::*;

fn kind_strategy() -> impl Strategy<Value = OptionKind> {
    prop_oneof![Just(OptionKind::Call), Just(OptionKind::Put)]
}

/// Log-uniform in [lo, hi].
fn log_uniform(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (lo.ln()..hi.ln()).prop_map(f64::exp)
}

/// Is the option out of (or at) the money relative to the forward?
fn otm(kind: OptionKind, forward: f64, strike: f64) -> bool {
    match kind {
        OptionKind::Call => strike >= forward,
        OptionKind::Put => strike <= forward,
    }
}

/// Condition number of the vol with respect to the inputs of the price:
/// `(P + A·N(w·d1) + B·N(w·d2)) / (vega·σ)` with `A·N(w·d1) = |delta|·F` and
/// `B·N(w·d2) = A·N(w·d1) − w·P` the two terms of the price. A relative error ε of the price,
/// forward or strike moves the vol by about ε times this. It is large in the money close to
/// expiry (the time value is a few ulps of the price), at the top of the range (σ√T ≫ 1, the
/// price a few ulps below its cap) and near the money with a tiny σ√T (the price is a
/// difference of terms 1/(σ√T) times larger): there the inputs themselves do not carry the vol
/// to 1e-12.
fn conditioning(g: &Greeks, kind: OptionKind, underlying: f64, vol: f64) -> f64 {
    let an1 = g.delta.abs() * underlying;
    let bn2 = (an1 - kind.sign() * g.price).abs();
    (g.price + an1 + bn2) / (g.vega * vol)
}

/// Tolerance on the relative vol error of a round trip: 1e-12, or 8 ulps of the inputs
/// expressed in vol where that is larger (conditioning above ~560).
fn round_trip_tolerance(g: &Greeks, kind: OptionKind, underlying: f64, vol: f64) -> f64 {
    f64::max(
        1e-12,
        8.0 * f64::EPSILON * conditioning(g, kind, underlying, vol),
    )
}

/// Time value: the price of the out-of-the-money one of the call and the put (equal to the
/// in-the-money option's price minus its intrinsic value, by parity). The round trip is asked
/// of options whose time value exceeds 1e-10 × underlying: below that an in-the-money price is
/// its intrinsic value to within a few ulps and carries no vol.
fn time_value_b76(i: &Black76Inputs) -> f64 {
    let c = black76_price(&Black76Inputs {
        kind: OptionKind::Call,
        ..*i
    })
    .unwrap();
    let p = black76_price(&Black76Inputs {
        kind: OptionKind::Put,
        ..*i
    })
    .unwrap();
    c.min(p)
}

/// [`time_value_b76`] for Black-Scholes-Merton.
fn time_value_bsm(i: &BsmInputs) -> f64 {
    let c = bsm_price(&BsmInputs {
        kind: OptionKind::Call,
        ..*i
    })
    .unwrap();
    let p = bsm_price(&BsmInputs {
        kind: OptionKind::Put,
        ..*i
    })
    .unwrap();
    c.min(p)
}

/// Deterministic sweep (xorshift) over wide random inputs: worst relative round-trip error of
/// out-of-the-money options, both models; fails above 1e-12.
#[test]
fn iv_round_trip_sweep_worst_error() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut worst_otm, mut worst_itm, mut counted) = (0.0_f64, 0.0_f64, 0usize);
    let (mut worst_ill_ratio, mut ill) = (0.0_f64, 0usize);
    let mut worst_case = String::new();
    for n in 0..200_000 {
        let kind = if n % 2 == 0 {
            OptionKind::Call
        } else {
            OptionKind::Put
        };
        let s = libm::exp(uniform() * 12.0 - 3.0); // 0.05 .. 8000
        let t = libm::exp(uniform() * 9.6 - 8.0); // 3.4e-4 .. 5 years
        let vol = libm::exp(uniform() * 5.6 - 4.0); // 0.018 .. 4.9
                                                    // Strikes within ±4 standard deviations, and ln(K/F) within ±5 (K/F from 0.0067 to 148).
        let k = s * libm::exp(
            ((uniform() * 2.0 - 1.0) * 4.0 * vol * t.sqrt().max(0.05)).clamp(-5.0, 5.0),
        );
        let rate = uniform() * 0.3 - 0.1;
        let div = uniform() * 0.2 - 0.05;
        let (g, iv, fwd, underlying, tv) = if n % 4 < 2 {
            let i = Black76Inputs {
                kind,
                forward: s,
                strike: k,
                t,
                rate,
                vol,
            };
            let g = black76_greeks(&i).unwrap();
            (
                g,
                implied_vol_black76(kind, g.price, s, k, t, rate),
                s,
                s,
                time_value_b76(&i),
            )
        } else {
            let i = BsmInputs {
                kind,
                spot: s,
                strike: k,
                t,
                rate,
                div,
                vol,
            };
            let g = bsm_greeks(&i).unwrap();
            let fwd = s * libm::exp((rate - div) * t);
            (
                g,
                implied_vol_bsm(kind, g.price, s, k, t, rate, div),
                fwd,
                s,
                time_value_bsm(&i),
            )
        };
        if tv <= 1e-10 * underlying {
            continue;
        }
        counted += 1;
        let iv = iv.unwrap_or_else(|e| panic!("{kind} s={s} k={k} t={t} vol={vol}: {e}"));
        let rel = ((iv - vol) / vol).abs();
        let tol = round_trip_tolerance(&g, kind, underlying, vol);
        let well_conditioned = tol == 1e-12;
        let bucket = if otm(kind, fwd, k) {
            &mut worst_otm
        } else {
            &mut worst_itm
        };
        if well_conditioned {
            if rel > *bucket {
                *bucket = rel;
                worst_case = format!("{kind} s={s} k={k} t={t} vol={vol} r={rate} q={div}");
            }
        } else {
            ill += 1;
            worst_ill_ratio = worst_ill_ratio.max(rel / tol);
        }
        assert!(
            rel <= tol,
            "{kind} s={s} k={k} t={t} vol={vol} r={rate} q={div}: iv {iv}, rel {rel:e} > {tol:e}"
        );
    }
    println!(
        "iv round trip: {counted} options with time value > 1e-10·underlying; well-conditioned ({} options): worst relative error out of the money {worst_otm:.3e}, in the money {worst_itm:.3e} (last worst: {worst_case}); ill-conditioned ({ill}): worst error / (8 ulps·price/(vega·σ)) {worst_ill_ratio:.3e}", counted - ill
    );
    assert!(counted > 150_000, "too few options counted: {counted}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn iv_round_trip_black76(
        kind in kind_strategy(),
        f in log_uniform(1e-2, 1e5),
        k_sd in -6.0..6.0f64,
        t in log_uniform(1e-3, 10.0),
        vol in log_uniform(0.01, 5.0),
        rate in -0.1..0.3f64,
    ) {
        let k = f * (k_sd * vol * t.sqrt()).clamp(-5.0, 5.0).exp();
        let i = Black76Inputs { kind, forward: f, strike: k, t, rate, vol };
        let g = black76_greeks(&i).unwrap();
        prop_assume!(time_value_b76(&i) > 1e-10 * f);
        let iv = implied_vol_black76(kind, g.price, f, k, t, rate).unwrap();
        let tol = round_trip_tolerance(&g, kind, f, vol);
        prop_assert!(((iv - vol) / vol).abs() <= tol, "iv {} vs {}, tol {:e}", iv, vol, tol);
    }

    #[test]
    fn iv_round_trip_bsm(
        kind in kind_strategy(),
        s in log_uniform(1e-2, 1e5),
        k_sd in -6.0..6.0f64,
        t in log_uniform(1e-3, 10.0),
        vol in log_uniform(0.01, 5.0),
        rate in -0.1..0.3f64,
        div in -0.05..0.2f64,
    ) {
        let fwd = s * ((rate - div) * t).exp();
        let k = fwd * (k_sd * vol * t.sqrt()).clamp(-5.0, 5.0).exp();
        let i = BsmInputs { kind, spot: s, strike: k, t, rate, div, vol };
        let g = bsm_greeks(&i).unwrap();
        prop_assume!(time_value_bsm(&i) > 1e-10 * s);
        let iv = implied_vol_bsm(kind, g.price, s, k, t, rate, div).unwrap();
        let tol = round_trip_tolerance(&g, kind, s, vol);
        prop_assert!(((iv - vol) / vol).abs() <= tol, "iv {} vs {}, tol {:e}", iv, vol, tol);
    }

    #[test]
    fn iv_round_trip_inverse(
        kind in kind_strategy(),
        f in log_uniform(10.0, 1e5),
        k_sd in -5.0..5.0f64,
        t in log_uniform(1e-3, 3.0),
        vol in log_uniform(0.05, 3.0),
    ) {
        let k = f * (k_sd * vol * t.sqrt()).clamp(-5.0, 5.0).exp();
        let g = inverse_greeks(kind, f, k, t, vol).unwrap();
        prop_assert_eq!(g.price, inverse_price(kind, f, k, t, vol).unwrap());
        let other = match kind {
            OptionKind::Call => OptionKind::Put,
            OptionKind::Put => OptionKind::Call,
        };
        prop_assume!(g.price.min(inverse_price(other, f, k, t, vol).unwrap()) > 1e-10);
        let iv = inverse_implied_vol(kind, g.price, f, k, t).unwrap();
        let tol = round_trip_tolerance(&g, kind, 1.0, vol);
        prop_assert!(((iv - vol) / vol).abs() <= tol, "iv {} vs {}, tol {:e}", iv, vol, tol);
    }

    #[test]
    fn put_call_parity(
        s in log_uniform(1e-2, 1e5),
        k_ln in -3.0..3.0f64,
        t in log_uniform(1e-4, 10.0),
        vol in log_uniform(1e-3, 5.0),
        rate in -0.1..0.3f64,
        div in -0.05..0.2f64,
    ) {
        let k = s * k_ln.exp();
        let c = BsmInputs { kind: OptionKind::Call, spot: s, strike: k, t, rate, div, vol };
        let p = BsmInputs { kind: OptionKind::Put, ..c };
        let (cv, pv) = (bsm_price(&c).unwrap(), bsm_price(&p).unwrap());
        let a = s * (-div * t).exp();
        let b = k * (-rate * t).exp();
        prop_assert!((cv - pv - (a - b)).abs() <= 1e-13 * (a + b), "bsm {} − {} vs {}", cv, pv, a - b);
        let gc = bsm_greeks(&c).unwrap();
        let gp = bsm_greeks(&p).unwrap();
        prop_assert!((gc.delta - gp.delta - (-div * t).exp()).abs() <= 1e-14);

        let c = Black76Inputs { kind: OptionKind::Call, forward: s, strike: k, t, rate, vol };
        let p = Black76Inputs { kind: OptionKind::Put, ..c };
        let (cv, pv) = (black76_price(&c).unwrap(), black76_price(&p).unwrap());
        let d = (-rate * t).exp();
        prop_assert!((cv - pv - d * (s - k)).abs() <= 1e-13 * d * (s + k), "b76 {} − {} vs {}", cv, pv, d * (s - k));
    }
}

/// Every Greek of `g` against central finite differences of `price(s, vol, t, rate)`.
fn check_greeks_by_fd(
    label: &str,
    g: &Greeks,
    price: impl Fn(f64, f64, f64, f64) -> f64,
    s: f64,
    vol: f64,
    t: f64,
    rate: f64,
) -> Result<(), TestCaseError> {
    let p = |ds: f64, dv: f64, dt: f64, dr: f64| price(s + ds, vol + dv, t + dt, rate + dr);
    // Steps scale with the total vol v = σ√T, the scale on which the price curves.
    let v = vol * t.sqrt();
    let hs = 1e-3 * s * v;
    let hg = 3e-3 * s * v;
    let hv = 1e-3 * vol;
    let ht = 1e-4 * t;
    let hr = 1e-5;
    let v0 = p(0.0, 0.0, 0.0, 0.0);
    let fd = [
        ("price", v0, g.price, 1e-12 * s),
        (
            "delta",
            (p(hs, 0.0, 0.0, 0.0) - p(-hs, 0.0, 0.0, 0.0)) / (2.0 * hs),
            g.delta,
            1e-7,
        ),
        (
            "gamma",
            (p(hg, 0.0, 0.0, 0.0) - 2.0 * v0 + p(-hg, 0.0, 0.0, 0.0)) / (hg * hg),
            g.gamma,
            1e-7 / s,
        ),
        (
            "vega",
            (p(0.0, hv, 0.0, 0.0) - p(0.0, -hv, 0.0, 0.0)) / (2.0 * hv),
            g.vega,
            1e-7 * s,
        ),
        (
            "theta",
            -(p(0.0, 0.0, ht, 0.0) - p(0.0, 0.0, -ht, 0.0)) / (2.0 * ht),
            g.theta,
            1e-6 * s,
        ),
        (
            "rho",
            (p(0.0, 0.0, 0.0, hr) - p(0.0, 0.0, 0.0, -hr)) / (2.0 * hr),
            g.rho,
            1e-7 * s,
        ),
        (
            "vanna",
            (p(hs, hv, 0.0, 0.0) - p(hs, -hv, 0.0, 0.0) - p(-hs, hv, 0.0, 0.0)
                + p(-hs, -hv, 0.0, 0.0))
                / (4.0 * hs * hv),
            g.vanna,
            1e-5,
        ),
        (
            "volga",
            (p(0.0, hv, 0.0, 0.0) - 2.0 * v0 + p(0.0, -hv, 0.0, 0.0)) / (hv * hv),
            g.volga,
            1e-4 * s,
        ),
    ];
    for (name, fd, analytic, atol) in fd {
        let tol = atol + 1e-4 * analytic.abs();
        prop_assert!(
            (fd - analytic).abs() <= tol,
            "{}: {} analytic {:e} vs finite difference {:e} (tol {:e})",
            label,
            name,
            analytic,
            fd,
            tol
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn bsm_greeks_match_finite_differences(
        kind in kind_strategy(),
        s in 20.0..500.0f64,
        k_ln in -0.6..0.6f64,
        t in 0.05..3.0f64,
        vol in 0.1..1.2f64,
        rate in -0.02..0.15f64,
        div in -0.02..0.1f64,
    ) {
        let k = s * k_ln.exp();
        let i = BsmInputs { kind, spot: s, strike: k, t, rate, div, vol };
        let g = bsm_greeks(&i).unwrap();
        let price = |s, vol, t, rate| {
            bsm_price(&BsmInputs { kind, spot: s, strike: k, t, rate, div, vol }).unwrap()
        };
        check_greeks_by_fd("bsm", &g, price, s, vol, t, rate)?;
    }

    #[test]
    fn black76_greeks_match_finite_differences(
        kind in kind_strategy(),
        f in 20.0..500.0f64,
        k_ln in -0.6..0.6f64,
        t in 0.05..3.0f64,
        vol in 0.1..1.2f64,
        rate in -0.02..0.15f64,
    ) {
        let k = f * k_ln.exp();
        let i = Black76Inputs { kind, forward: f, strike: k, t, rate, vol };
        let g = black76_greeks(&i).unwrap();
        // Rho holds the forward fixed; check it is −T·price as documented.
        prop_assert!((g.rho + t * g.price).abs() <= 1e-15 * f);
        let price = |f, vol, t, rate| {
            black76_price(&Black76Inputs { kind, forward: f, strike: k, t, rate, vol }).unwrap()
        };
        check_greeks_by_fd("black76", &g, price, f, vol, t, rate)?;
    }

    /// Inverse Greeks: vega, theta, volga are exact derivatives of the coin price; delta is N(d1)
    /// (or N(d1) − 1), the derivative of the USD value B = price·F.
    #[test]
    fn inverse_greeks_match_finite_differences(
        kind in kind_strategy(),
        f in 200.0..5000.0f64,
        k_ln in -0.6..0.6f64,
        t in 0.05..2.0f64,
        vol in 0.2..1.5f64,
    ) {
        let k = f * k_ln.exp();
        let g = inverse_greeks(kind, f, k, t, vol).unwrap();
        let coin = |f: f64, vol: f64, t: f64| inverse_price(kind, f, k, t, vol).unwrap();
        let h = 1e-5 * f;
        let usd_delta = ((f + h) * coin(f + h, vol, t) - (f - h) * coin(f - h, vol, t)) / (2.0 * h);
        prop_assert!((g.delta - usd_delta).abs() <= 1e-7, "delta {} vs {}", g.delta, usd_delta);
        let hv = 1e-4;
        let vega = (coin(f, vol + hv, t) - coin(f, vol - hv, t)) / (2.0 * hv);
        prop_assert!((g.vega - vega).abs() <= 1e-8 + 1e-5 * vega.abs(), "vega {} vs {}", g.vega, vega);
        let ht = 1e-5;
        let theta = -(coin(f, vol, t + ht) - coin(f, vol, t - ht)) / (2.0 * ht);
        prop_assert!((g.theta - theta).abs() <= 1e-7 + 1e-5 * theta.abs(), "theta {} vs {}", g.theta, theta);
        prop_assert!((g.rho + t * g.price).abs() <= 1e-15);
    }

    #[test]
    fn iv_errors_name_each_bound(
        s in log_uniform(1.0, 1e4),
        k_ln in -1.0..1.0f64,
        t in log_uniform(1e-3, 5.0),
        rate in -0.05..0.2f64,
        div in 0.001..0.1f64,
        excess in 1e-6..1.0f64,
    ) {
        let k = s * k_ln.exp();
        let disc = (-rate * t).exp();
        for kind in [OptionKind::Call, OptionKind::Put] {
            // Negative price.
            let e = implied_vol_bsm(kind, -excess, s, k, t, rate, div).unwrap_err();
            prop_assert!(matches!(e, IvError::Negative { .. }), "{}", e);
            let e = implied_vol_black76(kind, -excess, s, k, t, rate).unwrap_err();
            prop_assert!(matches!(e, IvError::Negative { .. }), "{}", e);
        }
        // Upper bounds, with the documented names.
        let cases: [(Result<f64, IvError>, &str, f64); 5] = [
            (implied_vol_bsm(OptionKind::Call, s * (1.0 + excess), s, k, t, rate, 0.0), "spot", s),
            (implied_vol_bsm(OptionKind::Call, s * (1.0 + excess), s, k, t, rate, div), "discounted forward", s * (-div * t).exp()),
            (implied_vol_bsm(OptionKind::Put, k * disc * (1.0 + excess), s, k, t, rate, div), "discounted strike", k * disc),
            (implied_vol_black76(OptionKind::Call, s * disc * (1.0 + excess), s, k, t, rate), "discounted forward", s * disc),
            (implied_vol_black76(OptionKind::Put, k * disc * (1.0 + excess), s, k, t, rate), "discounted strike", k * disc),
        ];
        for (r, name, want_bound) in cases {
            match r {
                Err(IvError::AboveUpperBound { which, bound, .. }) => {
                    prop_assert_eq!(which, name);
                    prop_assert!((bound - want_bound).abs() <= 1e-14 * want_bound);
                }
                other => prop_assert!(false, "expected AboveUpperBound({}), got {:?}", name, other),
            }
        }
        // Below intrinsic (in the money only), and exactly at intrinsic gives 0.
        let (kind, intrinsic) = if k < s {
            (OptionKind::Call, disc * (s - k))
        } else {
            (OptionKind::Put, disc * (k - s))
        };
        prop_assume!(intrinsic > 1e-9 * s);
        let e = implied_vol_black76(kind, intrinsic * (1.0 - excess * 0.5), s, k, t, rate).unwrap_err();
        prop_assert!(matches!(e, IvError::BelowIntrinsic { .. }), "{}", e);
        prop_assert_eq!(implied_vol_black76(kind, intrinsic, s, k, t, rate), Ok(0.0));
        let q_disc = s * (-div * t).exp();
        let bsm_intrinsic = match kind {
            OptionKind::Call => (q_disc - k * disc).max(0.0),
            OptionKind::Put => (k * disc - q_disc).max(0.0),
        };
        if bsm_intrinsic > 0.0 {
            let e = implied_vol_bsm(kind, bsm_intrinsic * (1.0 - excess * 0.5), s, k, t, rate, div).unwrap_err();
            prop_assert!(matches!(e, IvError::BelowIntrinsic { .. }), "{}", e);
            prop_assert_eq!(implied_vol_bsm(kind, bsm_intrinsic, s, k, t, rate, div), Ok(0.0));
        }
    }

    /// No panic and no NaN on any finite valid input, including the degenerate t = 0, vol = 0.
    #[test]
    fn greeks_are_never_nan(
        kind in kind_strategy(),
        s in log_uniform(1e-6, 1e8),
        k in log_uniform(1e-6, 1e8),
        t in prop_oneof![Just(0.0), log_uniform(1e-12, 50.0)],
        vol in prop_oneof![Just(0.0), log_uniform(1e-12, 10.0)],
        rate in -1.0..1.0f64,
        div in -1.0..1.0f64,
    ) {
        let g = bsm_greeks(&BsmInputs { kind, spot: s, strike: k, t, rate, div, vol }).unwrap();
        let h = black76_greeks(&Black76Inputs { kind, forward: s, strike: k, t, rate, vol }).unwrap();
        for x in [g, h] {
            for v in [x.price, x.delta, x.gamma, x.vega, x.theta, x.rho, x.vanna, x.volga] {
                prop_assert!(!v.is_nan(), "{:?}", x);
            }
            prop_assert!(x.price >= 0.0);
        }
    }
}
