//! Sweeps: the grid × seeds runs in parallel and the results do not depend on the thread count.

use derivpool_sim::sweep::{parse_axis, runs_csv, summarise, sweep};
use derivpool_sim::SimConfig;

#[test]
fn results_are_in_grid_order_whatever_the_threads() {
    let base = SimConfig {
        days: Some(2),
        agents: 20,
        ..SimConfig::default()
    };
    let axes = [parse_axis("option_price_fee_coefficient=0.005,0.03").unwrap()];
    let one = sweep(&base, &axes, 2, 1, &|_, _| {}).unwrap();
    let two = sweep(&base, &axes, 2, 2, &|_, _| {}).unwrap();
    assert_eq!(runs_csv(&axes, &one), runs_csv(&axes, &two));
    let seeds: Vec<u64> = one.iter().map(|r| r.seed).collect();
    assert_eq!(seeds, [1, 2, 1, 2]);
    // A higher option-price fee is a different run with more fees paid per trade.
    assert_ne!(one[0].summary.state_hash, one[2].summary.state_hash);
    let s = summarise(&axes, &one);
    assert_eq!(s.len(), 2);
    assert!(s
        .iter()
        .all(|v| v.runs == 2 && v.q05_lp_return <= v.mean_lp_return + 1e-12));
}

#[test]
fn an_out_of_bounds_parameter_is_an_error_not_a_run() {
    let axes = [parse_axis("vega_fee_coefficient=-5").unwrap()];
    let r = sweep(
        &SimConfig {
            days: Some(1),
            agents: 12,
            ..SimConfig::default()
        },
        &axes,
        1,
        1,
        &|_, _| {},
    );
    assert!(r.is_err());
}
