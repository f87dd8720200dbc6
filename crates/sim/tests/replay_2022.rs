//! Replay of real BTC/USDT hourly candles for 2022: the whole year runs, and the report's time
//! series shows the LUNA (May), 3AC (June) and FTX (November) crashes.

use derivpool_sim::candles::read_candles;
use derivpool_sim::report::{html, timeseries_csv};
use derivpool_sim::time::format_utc;
use derivpool_sim::{run, InvariantCheck, Scenario, SimConfig};
use std::path::PathBuf;

fn data_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/binance_BTCUSDT_1h_2022.csv")
}

/// Worst drawdown of the spot column within a calendar month (`YYYY-MM`), from the month's
/// running peak.
fn month_drawdown(csv: &str, month: &str) -> f64 {
    let mut peak = 0.0f64;
    let mut dd = 0.0f64;
    for line in csv.lines().skip(1) {
        let mut f = line.split(',');
        let (_, time, spot) = (f.next(), f.next().unwrap(), f.next().unwrap());
        if !time.starts_with(month) {
            continue;
        }
        let s: f64 = spot.parse().unwrap();
        peak = peak.max(s);
        dd = dd.max(1.0 - s / peak);
    }
    dd
}

#[test]
fn btc_2022_replays_the_whole_year_and_shows_luna_3ac_and_ftx() {
    let path = data_file();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reference data {} is missing ({e}); it lives in the shared data folder beside the repository (shared/data/README.md)",
            path.display()
        )
    });
    let (candles, cleaning) = read_candles(&text).expect("the file reads");
    assert_eq!(cleaning.kept, 8760, "{}", cleaning.describe());
    let cfg = SimConfig {
        scenario: Scenario::Replay,
        candles: Some(candles),
        cleaning: Some(cleaning),
        agents: 30,
        invariant_check: InvariantCheck::Sampled(24 * 7),
        ..SimConfig::default()
    };
    let out = run(&cfg, &mut |_, _| {}).expect("the replay runs");
    let s = &out.summary;
    assert_eq!(s.steps, 8759);
    assert_eq!(
        s.invariant_violations, 0,
        "{:?}",
        s.invariant_violation_examples
    );
    assert!(
        s.start.starts_with("2022-01-01") && s.end.starts_with("2022-12-31"),
        "{} .. {}",
        s.start,
        s.end
    );
    let csv = timeseries_csv(&out.rows);
    // LUNA: BTC fell from about 40k to under 27k in May 2022; 3AC: from about 31k to under 18k
    // in June; FTX: from about 21k to under 16k in November.
    for (month, name, at_least) in [
        ("2022-05", "LUNA", 0.25),
        ("2022-06", "3AC", 0.35),
        ("2022-11", "FTX", 0.2),
    ] {
        let dd = month_drawdown(&csv, month);
        assert!(dd >= at_least, "{name}: drawdown {dd:.3} in {month}");
    }
    // The vol forecaster reacts to the crashes.
    let june_vol = out
        .rows
        .iter()
        .filter(|r| format_utc(r.t).starts_with("2022-06-1"))
        .map(|r| r.vol)
        .fold(0.0, f64::max);
    assert!(june_vol > 0.8, "June vol {june_vol}");
    assert!(html(s, &out.rows).contains("price file: 8760 rows"));
}
