//! `derivpool simulate`: run a scenario through the engine and write a report folder.

use anyhow::{bail, Context, Result};
use derivpool_engine::params::{ParamOverrides, ParamValue};
use derivpool_engine::Generation;
use derivpool_sim::candles::read_candles;
use derivpool_sim::report::{html, write_timeseries_csv};
use derivpool_sim::time::parse_step;
use derivpool_sim::{InvariantCheck, RunOutput, Scenario, SimConfig, Summary};
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// One-line description.
pub const ABOUT: &str =
    "Simulate a market against a pool and write a report (HTML, JSON, CSV, command log)";

/// Full description.
pub const LONG_ABOUT: &str = "\
Simulate a market against a pool and write a report.

A seeded market path (or real candles from --prices), an oracle with faults and about 100 agents
(LPs, option and perp traders, an arbitrageur, a keeper) drive the engine only through commands.
With no arguments: the `calm` scenario, 90 days of hourly steps, seed 1, a `hedged` pool.

Scenarios: calm, crash (−50 % within a day, vol doubling), vol-spike, oracle-outage,
oracle-manipulation, bank-run, replay (needs --prices FILE.csv with a `timestamp` or `unix`
column and a `close` or `price` column).

The report folder (default ./derivpool-report/) holds index.html (charts, opens offline),
summary.json (the same seed and options give the same bytes), timeseries.csv (one row per step)
and commands.jsonl (the full command log: `derivpool replay commands.jsonl` reproduces the
state hash). --compare-generations runs the same market through static, hedged and cross_margin
pools and writes one folder per generation.

Exit status:
  0  the run finished and no invariant was violated
  1  an invariant was violated (a bug: please report it with commands.jsonl)
  2  bad arguments or an unreadable file";

/// Options shared by `simulate` and `sweep`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Scenario: calm, crash, vol-spike, oracle-outage, oracle-manipulation, bank-run, replay.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<Scenario>,
    /// Candle CSV to replay (implies --scenario replay).
    #[arg(long, value_name = "FILE.csv")]
    pub prices: Option<PathBuf>,
    /// Days to simulate (default 90; replay: the whole file).
    #[arg(long)]
    pub days: Option<u64>,
    /// Step length: 1h, 5m, 30s, 1d.
    #[arg(long, default_value = "1h", value_parser = parse_step_arg)]
    pub step: u64,
    /// Seed of every random stream.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Pool generation: static, hedged, cross_margin.
    #[arg(long, default_value = "hedged", value_parser = parse_generation)]
    pub generation: Generation,
    /// TOML file of pool parameters by name (`vega_fee_coefficient = 150`); see `derivpool params`.
    #[arg(long, value_name = "FILE.toml")]
    pub params: Option<PathBuf>,
    /// Number of agents.
    #[arg(long, default_value_t = 100)]
    pub agents: usize,
    /// Weekly option boards listed ahead (1–12).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=12))]
    pub boards: u64,
    /// Strikes per board (1–25).
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u64).range(1..=25))]
    pub strikes: u64,
    /// Check invariants after every step instead of every 168 steps and at the end.
    #[arg(long)]
    pub check_every_step: bool,
}

/// Arguments of `derivpool simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Report folder.
    #[arg(long, default_value = "derivpool-report", value_name = "DIR")]
    out: PathBuf,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Run the same market through static, hedged and cross_margin pools.
    #[arg(long)]
    compare_generations: bool,
}

fn parse_step_arg(s: &str) -> Result<u64, String> {
    parse_step(s).map_err(|e| e.to_string())
}

fn parse_generation(s: &str) -> Result<Generation, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| format!("unknown generation {s:?}; expected static, hedged or cross_margin"))
}

/// Generation name as in commands.
pub fn generation_name(g: Generation) -> &'static str {
    match g {
        Generation::Static => "static",
        Generation::Hedged => "hedged",
        Generation::CrossMargin => "cross_margin",
    }
}

/// Reads a flat TOML table of parameter overrides.
pub fn read_params(path: &Path) -> Result<ParamOverrides> {
    let text =
        fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not TOML", path.display()))?;
    let mut out = BTreeMap::new();
    for (k, v) in table {
        let s = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => bail!(
                "{}: parameter {k} = {other}: expected a number or a decimal string",
                path.display()
            ),
        };
        if derivpool_engine::params::PARAM_SPECS
            .iter()
            .all(|p| p.name != k)
        {
            bail!(
                "{}: unknown parameter {k:?} (see `derivpool params`)",
                path.display()
            );
        }
        out.insert(k, ParamValue(s));
    }
    Ok(ParamOverrides(out))
}

/// The typed configuration of a run.
pub fn config(a: &RunArgs) -> Result<SimConfig> {
    let scenario = match (a.scenario, &a.prices) {
        (Some(Scenario::Replay), None) => {
            bail!("--scenario replay needs --prices FILE.csv")
        }
        (Some(s), Some(_)) if s != Scenario::Replay => {
            bail!("--prices replays candles; it cannot be combined with --scenario {s}")
        }
        (Some(s), _) => s,
        (None, Some(_)) => Scenario::Replay,
        (None, None) => Scenario::Calm,
    };
    let mut cfg = SimConfig {
        scenario,
        seed: a.seed,
        days: a.days,
        step_s: a.step,
        generation: a.generation,
        agents: a.agents,
        boards: a.boards as usize,
        strikes: a.strikes as usize,
        invariant_check: if a.check_every_step {
            InvariantCheck::EveryStep
        } else {
            InvariantCheck::Sampled(168)
        },
        ..SimConfig::default()
    };
    if let Some(p) = &a.params {
        cfg.params = read_params(p)?;
    }
    if let Some(p) = &a.prices {
        let text =
            fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
        let (candles, cleaning) =
            read_candles(&text).with_context(|| format!("{}", p.display()))?;
        eprintln!("{}: {}", p.display(), cleaning.describe());
        cfg.candles = Some(candles);
        cfg.cleaning = Some(cleaning);
    }
    Ok(cfg)
}

/// A progress bar on a terminal, nothing otherwise.
pub fn progress_bar(len: u64, what: &str) -> Option<indicatif::ProgressBar> {
    if !(std::io::stderr().is_terminal() && std::io::stdout().is_terminal()) {
        return None;
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    Some(pb)
}

fn run_one(cfg: &SimConfig, label: &str) -> Result<RunOutput> {
    let pb = progress_bar(1, label);
    let out = derivpool_sim::run(cfg, &mut |done, total| {
        if let Some(pb) = &pb {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        }
    })?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    Ok(out)
}

/// Writes one report file through a buffer by `write` (the large ones are streamed, never held
/// as one string).
fn write_file(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let p = dir.join(name);
    let file = fs::File::create(&p).with_context(|| format!("{}: cannot write", p.display()))?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    write(&mut w)
        .and_then(|()| w.flush())
        .with_context(|| format!("{}: cannot write", p.display()))
}

/// Writes the report folder. The command log, the largest file, is written on a second thread
/// while this one writes the others.
fn write_report(dir: &Path, out: &RunOutput) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    std::thread::scope(|scope| {
        let log = scope.spawn(|| write_file(dir, "commands.jsonl", |w| out.exec.write_log(w)));
        let rest = write_file(dir, "summary.json", |w| {
            w.write_all(out.summary.to_json().as_bytes())
        })
        .and_then(|()| {
            write_file(dir, "timeseries.csv", |w| {
                write_timeseries_csv(&out.rows, w)
            })
        })
        .and_then(|()| {
            write_file(dir, "index.html", |w| {
                w.write_all(html(&out.summary, &out.rows).as_bytes())
            })
        });
        let log = log.join().expect("the command-log writer does not panic");
        rest.and(log)
    })
}

fn pct(x: f64) -> String {
    format!("{:+.2} %", 100.0 * x)
}

/// The rows of the summary table: label and one value per run.
fn table_rows(runs: &[&Summary]) -> Vec<(String, Vec<String>)> {
    let t = |s: &Summary, k: &str| s.tranches[k].clone();
    let f = |label: &str, g: &dyn Fn(&Summary) -> String| {
        (label.to_string(), runs.iter().map(|s| g(s)).collect())
    };
    vec![
        f("generation", &|s| s.generation.clone()),
        f("scenario", &|s| s.scenario.clone()),
        f("days / steps", &|s| format!("{} / {}", s.days, s.steps)),
        f("spot start → end", &|s| {
            format!("{:.0} → {:.0}", s.spot_start, s.spot_end)
        }),
        f("worst day", &|s| pct(s.worst_day_return)),
        f("senior NAV start", &|s| {
            format!("{:.0}", t(s, "senior").nav_start)
        }),
        f("senior NAV end", &|s| {
            format!("{:.0}", t(s, "senior").nav_end)
        }),
        f("senior return", &|s| pct(t(s, "senior").ret)),
        f(
            "senior max drawdown",
            &|s| pct(-t(s, "senior").max_drawdown),
        ),
        f("junior NAV start", &|s| {
            format!("{:.0}", t(s, "junior").nav_start)
        }),
        f("junior NAV end", &|s| {
            format!("{:.0}", t(s, "junior").nav_end)
        }),
        f("junior return", &|s| pct(t(s, "junior").ret)),
        f(
            "junior max drawdown",
            &|s| pct(-t(s, "junior").max_drawdown),
        ),
        f("LP return", &|s| pct(s.lp_return)),
        f("senior loss", &|s| s.senior_loss.to_string()),
        f("trades (opt / perp)", &|s| {
            format!("{} / {}", s.option_trades, s.perp_trades)
        }),
        f("fees paid", &|s| format!("{:.0}", s.fees)),
        f("LP withdrawals queued", &|s| s.lp_withdrawals.to_string()),
        f("hedge orders / fills", &|s| {
            format!("{} / {}", s.hedge_orders, s.hedge_fills)
        }),
        f("liquidations", &|s| s.liquidations.to_string()),
        f("bad debt", &|s| {
            format!("{:.2}", s.bad_debt.get("total").copied().unwrap_or(0.0))
        }),
        f("insurance fund", &|s| format!("{:.2}", s.insurance_fund)),
        f("rejected commands", &|s| {
            format!("{} of {}", s.rejected, s.commands)
        }),
        f("invariant checks / violations", &|s| {
            format!("{} / {}", s.invariant_checks, s.invariant_violations)
        }),
    ]
}

/// Escapes text for HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `comparison.json` (generation → summary) and an `index.html` with the side-by-side table and
/// links to each generation's report.
fn write_comparison(dir: &Path, runs: &[&Summary]) -> Result<()> {
    let map: BTreeMap<&str, &Summary> = runs.iter().map(|s| (s.generation.as_str(), *s)).collect();
    let mut json = serde_json::to_string_pretty(&map)?;
    json.push('\n');
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>derivpool: generations compared</title>\n<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}</style>\n</head>\n<body>\n<h1>The same market through three pool generations</h1>\n<table>\n",
    );
    for (i, (label, values)) in table_rows(runs).into_iter().enumerate() {
        let cell = if i == 0 { "th" } else { "td" };
        html.push_str(&format!("<tr><{cell}>{}</{cell}>", escape(&label)));
        for v in values {
            let v = if i == 0 {
                format!("<a href=\"{v}/index.html\">{}</a>", escape(&v))
            } else {
                escape(&v)
            };
            html.push_str(&format!("<{cell}>{v}</{cell}>"));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n</body>\n</html>\n");
    for (name, body) in [("comparison.json", json), ("index.html", html)] {
        let p = dir.join(name);
        fs::write(&p, body).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    Ok(())
}

/// Prints a table: a label column and one column per run.
pub fn print_table(runs: &[&Summary]) {
    let rows = table_rows(runs);
    let w0 = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = (0..runs.len())
        .map(|i| {
            rows.iter()
                .map(|(_, v)| v[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (label, values) in rows {
        let mut line = format!("{label:<w0$}");
        for (v, w) in values.iter().zip(&widths) {
            line.push_str(&format!("  {v:>w$}"));
        }
        println!("{}", line.trim_end());
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let base = config(&args.run)?;
    let started = Instant::now();
    let generations: Vec<Generation> = if args.compare_generations {
        vec![
            Generation::Static,
            Generation::Hedged,
            Generation::CrossMargin,
        ]
    } else {
        vec![base.generation]
    };
    let mut outs = Vec::new();
    for g in &generations {
        // One run at a time: its ticks may use the second core.
        let cfg = SimConfig {
            generation: *g,
            spare_core: true,
            ..base.clone()
        };
        let out = run_one(&cfg, generation_name(*g))?;
        let dir = if args.compare_generations {
            args.out.join(generation_name(*g))
        } else {
            args.out.clone()
        };
        write_report(&dir, &out)?;
        outs.push(out);
    }
    let summaries: Vec<&Summary> = outs.iter().map(|o| &o.summary).collect();
    if args.compare_generations {
        write_comparison(&args.out, &summaries)?;
    }
    if args.json {
        if args.compare_generations {
            let map: BTreeMap<&str, &Summary> = summaries
                .iter()
                .map(|s| (s.generation.as_str(), *s))
                .collect();
            println!("{}", serde_json::to_string_pretty(&map)?);
        } else {
            print!("{}", summaries[0].to_json());
        }
    } else {
        print_table(&summaries);
        println!();
        println!(
            "report: {} ({:.2} s)",
            args.out.join("index.html").display(),
            started.elapsed().as_secs_f64()
        );
    }
    let violated = summaries.iter().any(|s| s.invariant_violations > 0);
    // The runs' engines and command logs are large and the process ends here: leave them to
    // the operating system rather than free them one allocation at a time.
    std::mem::forget(outs);
    Ok(if violated {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
