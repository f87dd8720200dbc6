//! Each scenario produces what it names, with the engine's invariants checked after every
//! command (the engine panics on a violation), and runs are deterministic and replayable.

use derivpool_engine::{Command, Engine, Event, Generation};
use derivpool_sim::runner::build_path;
use derivpool_sim::{run, InvariantCheck, RunOutput, Scenario, SimConfig};

/// A short run of `scenario` with invariants after every command.
fn short(scenario: Scenario, days: u64, seed: u64) -> RunOutput {
    short_with(scenario, days, seed, 40)
}

fn short_with(scenario: Scenario, days: u64, seed: u64, agents: usize) -> RunOutput {
    let cfg = SimConfig {
        scenario,
        seed,
        days: Some(days),
        agents,
        invariant_check: InvariantCheck::EveryCommand,
        ..SimConfig::default()
    };
    let out = run(&cfg, &mut |_, _| {}).expect("the scenario runs");
    assert!(out.summary.invariant_checks > 0, "invariants were checked");
    assert_eq!(out.summary.invariant_violations, 0);
    assert!(out.engine_verify_is_clean(), "verify() after the run");
    out
}

trait Clean {
    fn engine_verify_is_clean(&self) -> bool;
}

impl Clean for RunOutput {
    fn engine_verify_is_clean(&self) -> bool {
        self.exec.engine.verify().is_empty()
    }
}

/// Liquidations per step index, from the command log's effects re-derived by replaying.
fn liquidation_times(out: &RunOutput) -> Vec<u64> {
    let mut e = Engine::new();
    e.set_check_invariants(false);
    let mut times = Vec::new();
    for c in &out.exec.log {
        if let Ok(events) = e.apply(c) {
            for ev in events {
                if matches!(ev, Event::Liquidated { .. }) {
                    times.push(c.t);
                }
            }
        }
    }
    times
}

#[test]
fn calm_trades_and_every_invariant_holds_after_every_command() {
    let out = short(Scenario::Calm, 6, 11);
    let s = &out.summary;
    assert!(s.option_trades > 20, "{} option trades", s.option_trades);
    assert!(s.perp_trades > 5, "{} perp trades", s.perp_trades);
    assert!(s.tranches["senior"].nav_start > 0.0 && s.tranches["junior"].nav_start > 0.0);
    assert_eq!(out.rows.len(), s.steps + 1);
}

#[test]
fn crash_has_a_day_of_minus_fifty_percent_with_vol_doubling_and_liquidations() {
    let out = short(Scenario::Crash, 10, 12);
    assert!(
        out.summary.worst_day_return <= -0.4999,
        "worst day {}",
        out.summary.worst_day_return
    );
    let rows = &out.rows;
    let (i, _) = rows
        .windows(25)
        .enumerate()
        .map(|(i, w)| (i, w[24].spot / w[0].spot))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert!(
        rows[i + 30].vol >= 1.5 * rows[i.saturating_sub(1)].vol,
        "vol rose with the crash"
    );
    assert!(
        out.summary.liquidations > 0,
        "leveraged perp traders are liquidated in a crash"
    );
}

#[test]
fn vol_spike_triples_vol_for_a_week() {
    let out = short(Scenario::VolSpike, 12, 13);
    let before = out.rows[0].vol;
    let peak = out.rows.iter().map(|r| r.vol).fold(0.0, f64::max);
    assert!(
        peak >= 2.5 * before.min(0.55),
        "peak vol {peak} vs {before}"
    );
}

#[test]
fn oracle_outage_makes_trades_stale_and_the_oracle_silent() {
    let out = short_with(Scenario::OracleOutage, 5, 14, 80);
    let stale = out
        .summary
        .rejects
        .get("stale_oracle")
        .copied()
        .unwrap_or(0);
    assert!(stale > 0, "rejects {:?}", out.summary.rejects);
    assert!(out.rows.iter().any(|r| r.oracle_live == 0.0));
}

#[test]
fn oracle_manipulation_moves_neither_the_median_nor_liquidations() {
    let days = 8;
    let manipulated = short(Scenario::OracleManipulation, days, 15);
    // The median of three sources ignores the one pushed 30 % up.
    for r in &manipulated.rows {
        assert!(
            (r.oracle / r.spot - 1.0).abs() < 0.02,
            "median {} vs spot {}",
            r.oracle,
            r.spot
        );
    }
    // The same market without the manipulation: no extra liquidations in the window.
    let honest = short(Scenario::Calm, days, 15);
    let len_s = days * 86_400;
    let w = &Scenario::OracleManipulation.oracle(len_s).manipulation[0].window;
    let t0 = manipulated.rows[0].t;
    let in_window = |ts: Vec<u64>| {
        ts.into_iter()
            .filter(|t| *t >= t0 + w.start_s && *t < t0 + w.start_s + w.length_s + 3600)
            .count()
    };
    assert!(
        in_window(liquidation_times(&manipulated)) <= in_window(liquidation_times(&honest)),
        "the manipulated source liquidated accounts the true price did not"
    );
}

#[test]
fn bank_run_empties_the_queue_of_more_lps_than_a_calm_market() {
    let run = short(Scenario::BankRun, 8, 16);
    let calm = short(Scenario::Calm, 8, 16);
    let lps = run.summary.agents["lp"] as u64;
    assert!(
        run.summary.lp_withdrawals >= lps / 2,
        "{} withdrawals by {lps} LPs",
        run.summary.lp_withdrawals
    );
    assert!(run.summary.lp_withdrawals > 2 * calm.summary.lp_withdrawals.max(1));
}

#[test]
fn same_seed_same_summary_and_log_and_the_log_replays_to_the_same_hash() {
    let a = short(Scenario::Crash, 4, 21);
    let b = short(Scenario::Crash, 4, 21);
    assert_eq!(a.summary.to_json(), b.summary.to_json());
    assert_eq!(a.exec.log_jsonl(), b.exec.log_jsonl());
    let mut e = Engine::new();
    for line in a.exec.log_jsonl().lines() {
        let _ = e.apply(&Command::from_json(line).expect("the log parses"));
    }
    assert_eq!(e.state_hash(), a.summary.state_hash);
    let c = short(Scenario::Crash, 4, 22);
    assert_ne!(
        c.summary.state_hash, a.summary.state_hash,
        "another seed, another run"
    );
}

#[test]
fn a_spare_core_changes_nothing_but_where_the_liquidation_scan_runs() {
    // A crash liquidates accounts, so the scan's marks matter; every generation margins
    // differently (isolated, portfolio).
    for generation in [
        Generation::Static,
        Generation::Hedged,
        Generation::CrossMargin,
    ] {
        let cfg = |spare_core| SimConfig {
            scenario: Scenario::Crash,
            seed: 5,
            days: Some(12),
            agents: 40,
            generation,
            spare_core,
            ..SimConfig::default()
        };
        let one = run(&cfg(false), &mut |_, _| {}).expect("runs");
        let two = run(&cfg(true), &mut |_, _| {}).expect("runs");
        assert!(one.summary.liquidations > 0 || generation == Generation::Static);
        assert_eq!(
            one.summary.to_json(),
            two.summary.to_json(),
            "{generation:?}"
        );
        assert_eq!(one.exec.log_jsonl(), two.exec.log_jsonl(), "{generation:?}");
        assert_eq!(one.exec.engine.state_hash(), two.exec.engine.state_hash());
    }
}

#[test]
fn the_market_path_does_not_depend_on_the_generation_or_the_agents() {
    let base = SimConfig {
        scenario: Scenario::Crash,
        days: Some(20),
        ..SimConfig::default()
    };
    let p = build_path(&base).unwrap();
    let q = build_path(&SimConfig {
        generation: derivpool_engine::Generation::Static,
        agents: 20,
        ..base.clone()
    })
    .unwrap();
    assert_eq!(p, q);
}

#[test]
fn every_generation_runs_the_same_market() {
    for g in [
        derivpool_engine::Generation::Static,
        derivpool_engine::Generation::CrossMargin,
    ] {
        let cfg = SimConfig {
            generation: g,
            days: Some(4),
            agents: 30,
            invariant_check: InvariantCheck::EveryCommand,
            ..SimConfig::default()
        };
        let out = run(&cfg, &mut |_, _| {}).unwrap();
        assert_eq!(out.summary.invariant_violations, 0);
        assert!(out.summary.option_trades > 0, "{g:?} trades options");
    }
}
