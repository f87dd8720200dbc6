//! Contract tests of `derivpool simulate` and `derivpool sweep`: report files, summary keys,
//! byte-identical summaries for the same seed, a command log that `derivpool replay` reproduces,
//! the sweep's CSV rows, no progress bar when piped, and clear errors.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn derivpool(args: &[&str], dir: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_derivpool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().expect("exited normally"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

const SHORT: &[&str] = &["simulate", "--days", "3", "--agents", "30", "--seed", "5"];

#[test]
fn simulate_writes_the_report_and_the_summary_has_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let r = derivpool(&[SHORT, &["--json", "--out", "rep"]].concat(), dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains('\r'),
        "no progress bar when piped: {:?}",
        r.stderr
    );
    let s: Value = serde_json::from_str(&r.stdout).unwrap();
    for k in [
        "scenario",
        "seed",
        "generation",
        "days",
        "steps",
        "state_hash",
        "invariant_violations",
        "trades",
        "liquidations",
        "bad_debt",
        "insurance_fund",
    ] {
        assert!(s.get(k).is_some(), "summary lacks {k}");
    }
    for layer in ["insurance_fund", "junior", "senior"] {
        assert!(s["bad_debt"][layer].is_number(), "bad_debt.{layer}");
    }
    for t in ["senior", "junior"] {
        for k in [
            "nav_start",
            "nav_end",
            "return",
            "max_drawdown",
            "senior_loss",
        ] {
            assert!(s["tranches"][t].get(k).is_some(), "tranches.{t}.{k}");
        }
    }
    assert_eq!(s["steps"], 72);
    let rep = dir.path().join("rep");
    for f in [
        "index.html",
        "summary.json",
        "timeseries.csv",
        "commands.jsonl",
    ] {
        assert!(rep.join(f).is_file(), "{f} written");
    }
    let rows = std::fs::read_to_string(rep.join("timeseries.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(rows, 74, "header + one row per step");
}

#[test]
fn the_same_seed_gives_byte_identical_summaries_and_the_log_replays_to_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    for out in ["a", "b"] {
        let r = derivpool(
            &[SHORT, &["--scenario", "crash", "--out", out]].concat(),
            dir.path(),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stdout.contains("junior return"),
            "table printed: {}",
            r.stdout
        );
    }
    let a = std::fs::read(dir.path().join("a/summary.json")).unwrap();
    let b = std::fs::read(dir.path().join("b/summary.json")).unwrap();
    assert_eq!(a, b);
    let summary: Value = serde_json::from_slice(&a).unwrap();
    let r = derivpool(
        &["replay", "a/commands.jsonl", "--json", "--check-at-end"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let replay: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(replay["state_hash"], summary["state_hash"]);
}

#[test]
fn compare_generations_runs_all_three_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let r = derivpool(
        &[SHORT, &["--compare-generations", "--out", "cmp"]].concat(),
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = r.stdout.lines().next().unwrap();
    for g in ["static", "hedged", "cross_margin"] {
        assert!(first.contains(g), "{first}");
        assert!(dir
            .path()
            .join("cmp")
            .join(g)
            .join("summary.json")
            .is_file());
    }
}

#[test]
fn params_toml_overrides_pool_parameters_and_unknown_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "vega_fee_coefficient = 250\nwithdrawal_fee_rate = \"0.004\"\n",
    )
    .unwrap();
    let r = derivpool(
        &[SHORT, &["--params", "p.toml", "--json"]].concat(),
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(s["params"]["vega_fee_coefficient"], "250");
    let log = std::fs::read_to_string(dir.path().join("derivpool-report/commands.jsonl")).unwrap();
    assert!(log
        .lines()
        .next()
        .unwrap()
        .contains("\"vega_fee_coefficient\":\"250\""));
    std::fs::write(dir.path().join("bad.toml"), "no_such_param = 1\n").unwrap();
    let r = derivpool(&[SHORT, &["--params", "bad.toml"]].concat(), dir.path());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no_such_param"), "{}", r.stderr);
}

#[test]
fn replay_needs_a_price_file_and_prices_replay_a_csv() {
    let dir = tempfile::tempdir().unwrap();
    let r = derivpool(&["simulate", "--scenario", "replay"], dir.path());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--prices"), "{}", r.stderr);
    let mut csv = String::from("timestamp,close\n");
    for h in (0..96).rev() {
        csv.push_str(&format!(
            "{},{}\n",
            1_652_054_400 + h * 3600,
            30_000 + 10 * h
        ));
    }
    std::fs::write(dir.path().join("p.csv"), csv).unwrap();
    let r = derivpool(
        &["simulate", "--prices", "p.csv", "--agents", "20", "--json"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("sorted oldest first"),
        "cleaning reported: {}",
        r.stderr
    );
    let s: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(s["scenario"], "replay");
    assert_eq!(s["steps"], 95);
}

#[test]
fn sweep_writes_one_row_per_run_and_a_summary_per_value() {
    let dir = tempfile::tempdir().unwrap();
    let r = derivpool(
        &[
            "sweep",
            "--param",
            "vega_fee_coefficient=50,200",
            "--seeds",
            "2",
            "--days",
            "2",
            "--agents",
            "20",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("runs/s"), "{}", r.stderr);
    let runs = std::fs::read_to_string(dir.path().join("derivpool-sweep/runs.csv")).unwrap();
    let lines: Vec<&str> = runs.lines().collect();
    assert_eq!(lines.len(), 5, "{runs}");
    assert!(lines[0].starts_with("vega_fee_coefficient,seed,lp_return"));
    assert!(lines[1].starts_with("50,1,") && lines[4].starts_with("200,2,"));
    let summary: Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = summary.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["runs"], 2);
        for k in ["mean_lp_return", "q05_lp_return", "p_senior_loss"] {
            assert!(row[k].is_number(), "{k}");
        }
    }
    let r = derivpool(&["sweep", "--param", "nonsense=1,2"], dir.path());
    assert_eq!(r.code, 2);
}
