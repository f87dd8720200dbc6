//! `derivpool sweep`: a grid of pool parameters × seeds, in parallel, with a CSV row per run and a
//! summary per parameter value.

use crate::simulate::{config, progress_bar, RunArgs};
use anyhow::{bail, Context, Result};
use derivpool_sim::sweep::{parse_axis, runs_csv, summarise, sweep, Axis, ValueSummary};
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// One-line description.
pub const ABOUT: &str =
    "Sweep pool parameters × seeds in parallel; CSV per run and per parameter value";

/// Full description.
pub const LONG_ABOUT: &str = "\
Sweep pool parameters × seeds in parallel on all cores.

  derivpool sweep --param vega_fee_coefficient=50,100,200 --seeds 32

Every combination of the --param values (repeat --param for more axes) runs with seeds
SEED, SEED+1, … SEED+N−1 on the same scenario options as `derivpool simulate`. Writes to the
output folder (default ./derivpool-sweep/):
  runs.csv     one row per run: parameter values, seed, lp_return, senior_return, junior_return,
               max drawdowns, senior_loss, nav_end, trades, fees, liquidations, bad_debt,
               insurance_fund, rejected, invariant_violations, state_hash
  summary.csv  per parameter value: runs, mean LP return, its 5 % quantile, probability of a
               senior loss, mean junior max drawdown, mean trades
and prints the summary table (or, with --json, the summary as JSON). The throughput in runs per
second goes to stderr.";

/// Arguments of `derivpool sweep`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A parameter axis NAME=V1,V2,… (repeatable).
    #[arg(long = "param", value_name = "NAME=V1,V2", required = true)]
    axes: Vec<String>,
    /// Seeds per parameter combination.
    #[arg(long, default_value_t = 8)]
    seeds: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    run: RunArgs,
    /// Output folder.
    #[arg(long, default_value = "derivpool-sweep", value_name = "DIR")]
    out: PathBuf,
    /// Print the per-value summary as JSON.
    #[arg(long)]
    json: bool,
}

fn summary_csv(rows: &[ValueSummary]) -> String {
    let mut s = String::from("param,value,runs,mean_lp_return,q05_lp_return,p_senior_loss,mean_junior_max_drawdown,mean_trades\n");
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{}",
            r.param,
            r.value,
            r.runs,
            r.mean_lp_return,
            r.q05_lp_return,
            r.p_senior_loss,
            r.mean_junior_max_drawdown,
            r.mean_trades
        );
    }
    s
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let axes: Vec<Axis> = args
        .axes
        .iter()
        .map(|p| parse_axis(p).map_err(anyhow::Error::msg))
        .collect::<Result<_>>()?;
    for a in &axes {
        if derivpool_engine::params::PARAM_SPECS
            .iter()
            .all(|p| p.name != a.name)
        {
            bail!(
                "--param {}: unknown parameter (see `derivpool params`)",
                a.name
            );
        }
    }
    if args.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let base = config(&args.run)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let total: usize = axes.iter().map(|a| a.values.len()).product::<usize>() * args.seeds as usize;
    let pb = progress_bar(total as u64, "sweep");
    let started = Instant::now();
    let runs = sweep(&base, &axes, args.seeds, threads, &|done, total| {
        if let Some(pb) = &pb {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        }
    })?;
    let secs = started.elapsed().as_secs_f64();
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let summary = summarise(&axes, &runs);
    fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    for (name, body) in [
        ("runs.csv", runs_csv(&axes, &runs)),
        ("summary.csv", summary_csv(&summary)),
    ] {
        let p = args.out.join(name);
        fs::write(&p, body).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    eprintln!(
        "{} runs in {secs:.2} s on {threads} threads: {:.1} runs/s",
        runs.len(),
        runs.len() as f64 / secs.max(1e-9)
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{:<28} {:>10} {:>5} {:>12} {:>12} {:>14} {:>12}",
            "param", "value", "runs", "mean LP ret", "q05 LP ret", "P(senior loss)", "junior maxDD"
        );
        for r in &summary {
            println!(
                "{:<28} {:>10} {:>5} {:>11.3}% {:>11.3}% {:>14.3} {:>11.2}%",
                r.param,
                r.value,
                r.runs,
                100.0 * r.mean_lp_return,
                100.0 * r.q05_lp_return,
                r.p_senior_loss,
                100.0 * r.mean_junior_max_drawdown
            );
        }
        println!("\nruns: {}", args.out.join("runs.csv").display());
    }
    let violated = runs.iter().any(|r| r.summary.invariant_violations > 0);
    Ok(if violated {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
