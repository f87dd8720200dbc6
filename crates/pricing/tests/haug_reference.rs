//! Every row of Haug's European BSM table as tabulated in QuantLib's test suite
//! (`shared/data/quantlib_haug_european_bs.csv`), within the file's tolerance.

use derivpool_pricing::{bsm_greeks, bsm_price, BsmInputs, OptionKind};
use std::collections::HashMap;
use std::path::PathBuf;

/// Path of a reference data file; panics with a clear message when it is missing.
fn data_file(name: &str) -> PathBuf {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/"
    ))
    .join(name);
    assert!(
        path.is_file(),
        "reference data file {name} is missing: expected it at {} (see shared/data/README.md)",
        path.display()
    );
    path
}

fn records(name: &str) -> (Vec<HashMap<String, String>>, PathBuf) {
    let path = data_file(name);
    let mut rdr = csv::Reader::from_path(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rdr
        .records()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("bad row in {name}: {e}"));
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect();
    (rows, path)
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    let s = row
        .get(col)
        .unwrap_or_else(|| panic!("column {col} missing in {row:?}"));
    s.trim()
        .parse()
        .unwrap_or_else(|e| panic!("column {col} = {s:?} is not a number: {e}"))
}

#[test]
fn all_haug_rows_match_within_tolerance() {
    let (rows, path) = records("quantlib_haug_european_bs.csv");
    assert_eq!(rows.len(), 54, "{} should have 54 rows", path.display());
    let mut worst = (0.0_f64, String::new());
    let mut all_errs = Vec::new();
    let mut errors = Vec::new();
    for row in &rows {
        let id = &row["case_id"];
        let kind: OptionKind = row["type"].parse().unwrap();
        let i = BsmInputs {
            kind,
            spot: num(row, "spot"),
            strike: num(row, "strike"),
            t: num(row, "t"),
            rate: num(row, "rate"),
            div: num(row, "div"),
            vol: num(row, "vol"),
        };
        let g = bsm_greeks(&i).unwrap();
        let got = match row["quantity"].as_str() {
            "npv" => {
                assert_eq!(g.price, bsm_price(&i).unwrap(), "{id}: price paths differ");
                g.price
            }
            "delta" => g.delta,
            "gamma" => g.gamma,
            "vega" => g.vega,
            "theta" => g.theta,
            "theta_per_day" => g.theta / 365.0,
            "rho" => g.rho,
            // ∂V/∂q, by a central difference of the price (not among the Greeks).
            "dividend_rho" => {
                let h = 1e-6;
                let up = bsm_price(&BsmInputs {
                    div: i.div + h,
                    ..i
                })
                .unwrap();
                let dn = bsm_price(&BsmInputs {
                    div: i.div - h,
                    ..i
                })
                .unwrap();
                (up - dn) / (2.0 * h)
            }
            "elasticity" => g.delta * i.spot / g.price,
            other => panic!("{id}: unknown quantity {other:?}"),
        };
        let want = num(row, "expected_value");
        let tol = num(row, "tolerance");
        let err = (got - want).abs();
        all_errs.push(err);
        if err > worst.0 {
            worst = (err, id.clone());
        }
        if err > tol || err.is_nan() {
            errors.push(format!(
                "{id} {}: got {got}, want {want} ± {tol}",
                row["quantity"]
            ));
        }
    }
    all_errs.sort_by(f64::total_cmp);
    println!(
        "haug: {} rows, median absolute error {:.3e}, worst {:.3e} ({})",
        rows.len(),
        all_errs[all_errs.len() / 2],
        worst.0,
        worst.1
    );
    assert!(errors.is_empty(), "mismatches:\n{}", errors.join("\n"));
}

#[test]
#[should_panic(expected = "reference data file no_such_file.csv is missing")]
fn a_missing_data_file_fails_with_its_name() {
    data_file("no_such_file.csv");
}
