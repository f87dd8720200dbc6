//! Every worked example of `shared/data/textbook_bs_black76_examples.csv` (Hull, Haug, py_vollib
//! doctests) for Black-Scholes, Black-Scholes-Merton and Black-76, converting our units (vega
//! per 1.00 of vol, theta per year, rho per 1.00 of rate) to the row's `units`.

use derivpool_pricing::{
    black76_greeks, black76_price, bsm_greeks, bsm_price, Black76Inputs, BsmInputs, Greeks,
    OptionKind,
};

mod common;
use common::{num, records};

/// Factor that converts our unit of `quantity` to the row's `units`.
fn unit_factor(quantity: &str, units: &str) -> f64 {
    let u = units.trim();
    match quantity {
        "theta" if u.starts_with("per calendar day") => 1.0 / 365.0,
        "theta" if u == "per year" => 1.0,
        "vega" if u.starts_with("per 1 vol point") => 0.01,
        "vega" if u.starts_with("per 1.00") => 1.0,
        "rho" if u.starts_with("per 1%") => 0.01,
        "rho" if u.starts_with("per 1.00") => 1.0,
        "delta" | "gamma" if u.starts_with("per 1 unit") || u.starts_with("d") => 1.0,
        "price" | "d1" | "d2" if u.is_empty() => 1.0,
        _ => panic!("unknown units {units:?} for {quantity}"),
    }
}

/// d2 recovered from the Greeks: vanna = −Dq·φ(d1)·d2/σ and vega = S·Dq·φ(d1)·√T, so
/// d2 = −vanna·σ·S·√T/vega; d1 = d2 + σ√T.
fn d1_d2(g: &Greeks, underlying: f64, vol: f64, t: f64) -> (f64, f64) {
    let d2 = -g.vanna * vol * underlying * t.sqrt() / g.vega;
    (d2 + vol * t.sqrt(), d2)
}

#[test]
fn all_textbook_rows_match_within_tolerance() {
    let rows = records("textbook_bs_black76_examples.csv");
    assert_eq!(rows.len(), 25, "expected 25 worked examples");
    let mut errors = Vec::new();
    let mut errs = Vec::new();
    for row in &rows {
        let id = &row["case_id"];
        let q = row["quantity"].as_str();
        // Rows for d1/d2 have no type: d1, d2 do not depend on it.
        let kind: OptionKind = if row["type"].is_empty() {
            OptionKind::Call
        } else {
            row["type"].parse().unwrap()
        };
        let (s, k, r, vol, t) = (
            num(row, "underlying"),
            num(row, "strike"),
            num(row, "rate"),
            num(row, "vol"),
            num(row, "t"),
        );
        let (g, price) = match row["model"].as_str() {
            "bs" | "bsm" => {
                let div = if row["model"] == "bs" {
                    0.0
                } else {
                    num(row, "div")
                };
                let i = BsmInputs {
                    kind,
                    spot: s,
                    strike: k,
                    t,
                    rate: r,
                    div,
                    vol,
                };
                (bsm_greeks(&i).unwrap(), bsm_price(&i).unwrap())
            }
            "black76" => {
                let i = Black76Inputs {
                    kind,
                    forward: s,
                    strike: k,
                    t,
                    rate: r,
                    vol,
                };
                (black76_greeks(&i).unwrap(), black76_price(&i).unwrap())
            }
            m => panic!("{id}: unknown model {m}"),
        };
        assert_eq!(g.price, price, "{id}: price paths differ");
        let (d1, d2) = d1_d2(&g, s, vol, t);
        let ours = match q {
            "price" => g.price,
            "delta" => g.delta,
            "gamma" => g.gamma,
            "vega" => g.vega,
            "theta" => g.theta,
            "rho" => g.rho,
            "d1" => d1,
            "d2" => d2,
            other => panic!("{id}: unknown quantity {other}"),
        };
        let got = ours * unit_factor(q, &row["units"]);
        let want = num(row, "expected_value");
        let tol = num(row, "tolerance");
        let err = (got - want).abs();
        errs.push((err / tol, err, id.clone()));
        if err > tol || err.is_nan() {
            errors.push(format!("{id} {q}: got {got}, want {want} ± {tol}"));
        }
    }
    errs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let worst = errs.last().unwrap();
    println!(
        "textbook: {} rows, median error/tolerance {:.3e}, worst error/tolerance {:.3e} ({}, abs {:.3e})",
        errs.len(),
        errs[errs.len() / 2].0,
        worst.0,
        worst.2,
        worst.1
    );
    assert!(errors.is_empty(), "mismatches:\n{}", errors.join("\n"));
}
