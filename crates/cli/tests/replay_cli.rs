//! Contract tests of `derivpool replay`: JSON summary keys, rejects recorded with their line,
//! malformed lines stop with exit 2 naming the line, events written, and the examples replay
//! with every invariant holding.

use assert_cmd::Command;
use serde_json::Value;
use std::io::Write;

fn derivpool() -> Command {
    Command::cargo_bin("derivpool").unwrap()
}

fn example(name: &str) -> String {
    format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn replay_json(args: &[&str]) -> Value {
    let out = derivpool()
        .arg("replay")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_btc_pool_example_replays_with_the_contract_keys() {
    let v = replay_json(&[&example("btc_pool.jsonl")]);
    for key in [
        "state_hash",
        "commands",
        "applied",
        "rejected",
        "rejects",
        "invariants_checked",
        "invariant_violations",
        "pools",
        "accounts",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["invariant_violations"], 0);
    assert_eq!(v["invariants_checked"], v["applied"]);
    let pool = &v["pools"]["btc-main"];
    for key in [
        "nav",
        "share_price",
        "net_delta",
        "net_gamma",
        "net_vega",
        "net_theta",
        "utilisation",
        "free_liquidity",
        "open_interest",
        "insurance_fund",
        "bad_debt_paid",
        "pool_stress_loss",
        "oracle_breaker",
    ] {
        assert!(pool.get(key).is_some(), "pool is missing {key}");
    }
    assert!(pool["nav"].is_string(), "decimals are strings");
    assert!(pool["share_price"]["senior"].is_string() && pool["share_price"]["junior"].is_string());
    assert!(pool["open_interest"]["BTC-PERP"]["long"].is_string());
    for layer in ["insurance_fund", "junior", "senior"] {
        assert!(pool["bad_debt_paid"][layer].is_string());
    }
    let alice = &v["accounts"]["alice"];
    assert!(alice["collateral"]["USDC"].is_string());
    assert!(alice["positions"].is_array());
    for key in ["health_initial", "health_maintenance", "liquidatable"] {
        assert!(alice.get(key).is_some(), "account is missing {key}");
    }
    let r = &v["rejects"][0];
    for key in ["line", "type", "code", "message"] {
        assert!(r.get(key).is_some(), "reject is missing {key}");
    }
}

#[test]
fn the_same_log_gives_the_same_hash_twice() {
    let a = replay_json(&[&example("btc_pool.jsonl")]);
    let b = replay_json(&[&example("btc_pool.jsonl")]);
    assert_eq!(a["state_hash"], b["state_hash"]);
    assert_eq!(a["state_hash"].as_str().unwrap().len(), 64);
}

#[test]
fn the_crash_example_shows_liquidations_and_the_waterfall() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let v = replay_json(&[
        &example("btc_crash.jsonl"),
        "--events",
        events.to_str().unwrap(),
    ]);
    assert_eq!(v["invariant_violations"], 0);
    let pool = &v["pools"]["btc"];
    let paid = |layer: &str| {
        pool["bad_debt_paid"][layer]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert!(paid("insurance_fund") > 0.0, "{pool}");
    assert!(paid("junior") > 0.0, "{pool}");
    assert_eq!(paid("senior"), 0.0);
    let text = std::fs::read_to_string(&events).unwrap();
    let liquidations = text
        .lines()
        .filter(|l| l.contains("\"type\":\"liquidated\""))
        .count();
    let bankrupt = text
        .lines()
        .filter(|l| l.contains("\"type\":\"liquidated\"") && l.contains("\"bankrupt\":true"))
        .count();
    assert!(
        liquidations >= 3 && bankrupt == 1,
        "{liquidations} liquidations, {bankrupt} bankrupt"
    );
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        assert!(e["line"].as_u64().unwrap() > 0 && e["type"].is_string());
    }
}

#[test]
fn a_malformed_line_stops_with_exit_2_and_names_the_line() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        r#"{{"t":1,"type":"create_pool","pool":"p","quote_asset":"USDC","generation":"hedged"}}"#
    )
    .unwrap();
    writeln!(
        f,
        r#"{{"t":2,"type":"deposit","account":"a","asset":"USDC","amount":1.5}}"#
    )
    .unwrap();
    let out = derivpool().arg("replay").arg(f.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":2:") && err.contains("JSON strings"), "{err}");
}

#[test]
fn a_reject_is_recorded_and_the_replay_goes_on() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        r#"{{"t":1,"type":"create_pool","pool":"p","quote_asset":"USDC","generation":"hedged"}}"#
    )
    .unwrap();
    writeln!(f, "# a comment").unwrap();
    writeln!(
        f,
        r#"{{"t":2,"type":"withdraw","account":"a","asset":"USDC","amount":"5"}}"#
    )
    .unwrap();
    writeln!(
        f,
        r#"{{"t":3,"type":"deposit","account":"a","asset":"USDC","amount":"7"}}"#
    )
    .unwrap();
    let out = derivpool()
        .arg("replay")
        .arg(f.path())
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["commands"], 3);
    assert_eq!(v["applied"], 2);
    assert_eq!(v["rejects"][0]["line"], 3);
    assert_eq!(v["rejects"][0]["code"], "insufficient_balance");
    assert_eq!(v["accounts"]["a"]["collateral"]["USDC"], "7");
}

#[test]
fn replay_reads_stdin() {
    let log = std::fs::read_to_string(example("btc_pool.jsonl")).unwrap();
    let out = derivpool()
        .args(["replay", "-", "--json"])
        .write_stdin(log)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["invariant_violations"], 0);
}
