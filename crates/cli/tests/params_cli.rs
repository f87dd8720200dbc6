//! Contract tests of `derivpool params` (every parameter with default, bounds, unit, meaning;
//! JSON keys) and of the `params` object per pool in `derivpool replay --json`.

use derivpool_engine::params::{Params, PARAM_SPECS};
use serde_json::Value;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_derivpool"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("derivpool runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn json_lists_every_parameter_with_its_default_bounds_unit_and_meaning() {
    let (code, out, err) = run(&["params", "--json"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), PARAM_SPECS.len());
    for (row, spec) in rows.iter().zip(PARAM_SPECS) {
        for key in [
            "name",
            "mechanism",
            "default",
            "min",
            "max",
            "unit",
            "meaning",
        ] {
            assert!(row[key].is_string(), "{row} lacks {key}");
        }
        assert_eq!(row["name"], spec.name);
        assert_eq!(row["default"], spec.default);
    }
    let band = rows.iter().find(|r| r["name"] == "hedge_band").unwrap();
    assert_eq!(
        (
            band["default"].as_str(),
            band["min"].as_str(),
            band["max"].as_str()
        ),
        (Some("0.05"), Some("0"), Some("1"))
    );
}

#[test]
fn table_has_a_row_per_parameter_and_mechanism_filters() {
    let (code, out, _) = run(&["params"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().count(),
        PARAM_SPECS.len() + 2,
        "header, rule, rows"
    );
    for spec in PARAM_SPECS {
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().next() == Some(spec.name)),
            "no row for {}",
            spec.name
        );
    }
    let (code, out, _) = run(&["params", "--mechanism", "governance"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2 + 4);
    assert!(out.contains("governance_timelock_s") && out.contains("172800"));
    let (code, _, err) = run(&["params", "--mechanism", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("hedger"), "{err}");
}

#[test]
fn replay_summary_shows_each_pools_current_parameter_values() {
    let (code, out, err) = run(&["replay", "--json", "examples/btc_pool.jsonl"]);
    assert!(code == 0 || code == 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let pools = v["pools"].as_object().unwrap();
    assert!(!pools.is_empty());
    let defaults = Params::default();
    for (name, pool) in pools {
        let params = pool["params"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(params.len(), PARAM_SPECS.len());
        assert!(params.contains_key("hedge_delay_s"));
        // Values are the pool's (text), e.g. the unchanged timelock default.
        assert_eq!(
            params["governance_timelock_s"],
            defaults.governance_timelock_s.to_string()
        );
    }
}

#[test]
fn hedged_governance_example_replays_with_the_documented_rejects_and_values() {
    let (code, out, err) = run(&["replay", "--json", "examples/hedged_governance.jsonl"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let codes: Vec<&str> = v["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "hedge_fill_unmatched",
            "proposal_not_ready",
            "outside_council_bounds",
            "not_risk_reducing",
            "pool_paused"
        ]
    );
    let pool = &v["pools"]["btc-hedged"];
    assert_eq!(pool["hedge_position"], "10");
    assert_eq!(pool["params"]["vega_fee_coefficient"], "150");
    assert_eq!(pool["params"]["perp_open_interest_cap"], "0.5");
    assert_eq!(pool["params"]["paused"], "1");
}
