//! `derivpool replay`: apply a command log (JSONL) to a fresh engine and summarise the result.

use anyhow::{Context, Result};
use derivpool_engine::margin::PriceBasis;
use derivpool_engine::{Command, Engine};
use derivpool_types::Quote;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// One-line description.
pub const ABOUT: &str = "Replay a command log (JSONL) through the engine and summarise the pools";

/// Full description.
pub const LONG_ABOUT: &str = "\
Replay a command log through a fresh engine and summarise the result.

The log is JSON Lines: one command per line, each an object with a \"type\" (create_pool,
list_underlying, list_expiry, oracle_price, oracle_vol, lp_deposit, lp_withdraw, deposit,
withdraw, trade, tick, hedge_fill, governance_grant, governance_transfer, propose, vote, execute,
council_set, emergency_set, ...) and a time \"t\" in unix seconds that never decreases. Decimal numbers are
JSON strings (\"1250.5\"). Empty lines and lines starting with # are skipped.

A command that breaks a rule (not enough collateral, stale oracle, limit price crossed) is a
reject: it changes nothing, is recorded with its code and message, and the replay goes on.
Invariants (conservation, zero sum, aggregates) are checked after every applied command.

Output: a human summary (pools, accounts, rejects) or, with --json, a JSON object with the keys
state_hash, commands, applied, rejected, rejects [{line, type, code, message}],
invariants_checked, invariant_violations, pools (each with its metrics and its current
parameter values under params) and accounts. Decimals are strings.

Exit status:
  0  the log replayed (rejects are normal and reported)
  1  an invariant was violated (a bug: please report it with the log)
  2  a line is malformed (the message names the line and the problem; nothing after it is applied),
     or the file cannot be read";

/// Arguments of `derivpool replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command log, or `-` for stdin.
    #[arg(value_name = "FILE.jsonl")]
    pub file: String,
    /// Write every event as JSON Lines to this file (each with the `line` of its command).
    #[arg(long, value_name = "OUT.jsonl")]
    pub events: Option<PathBuf>,
    /// Print the summary as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Check invariants only at the end instead of after every command (faster on long logs).
    #[arg(long)]
    pub check_at_end: bool,
}

#[derive(Debug, Serialize)]
struct RejectRow {
    line: usize,
    #[serde(rename = "type")]
    kind: String,
    code: String,
    message: String,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<ExitCode> {
    let (name, reader): (String, Box<dyn BufRead>) = if args.file == "-" {
        (
            "<stdin>".into(),
            Box::new(BufReader::new(io::stdin().lock())),
        )
    } else {
        let f = File::open(&args.file).with_context(|| format!("cannot open {}", args.file))?;
        (
            args.file.clone(),
            Box::new(BufReader::with_capacity(1 << 18, f)),
        )
    };
    let mut events_out = match &args.events {
        Some(p) => Some(BufWriter::new(
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    let mut engine = Engine::new();
    engine.set_check_invariants(false);
    let (mut commands, mut applied, mut checked) = (0u64, 0u64, 0u64);
    let mut rejects = Vec::new();
    let mut violations: Vec<String> = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i + 1;
        let line = line.with_context(|| format!("{name}:{line_no}: cannot read"))?;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let cmd = Command::from_json(trimmed)
            .map_err(|e| anyhow::anyhow!("{name}:{line_no}: malformed command: {e}"))?;
        commands += 1;
        match engine.apply(&cmd) {
            Ok(events) => {
                applied += 1;
                if let Some(out) = events_out.as_mut() {
                    for e in &events {
                        let mut v = serde_json::to_value(e)?;
                        v["line"] = json!(line_no);
                        v["t"] = json!(cmd.t);
                        serde_json::to_writer(&mut *out, &v)?;
                        out.write_all(b"\n")?;
                    }
                }
                if !args.check_at_end {
                    checked += 1;
                    let v = engine.verify();
                    if !v.is_empty() {
                        violations.extend(v.into_iter().map(|m| format!("line {line_no}: {m}")));
                        break;
                    }
                }
            }
            Err(r) => rejects.push(RejectRow {
                line: line_no,
                kind: cmd.kind.type_name().to_string(),
                code: r.code.as_str().to_string(),
                message: r.message,
            }),
        }
    }
    if args.check_at_end && violations.is_empty() {
        checked += 1;
        violations.extend(engine.verify());
    }
    if let Some(mut out) = events_out {
        out.flush()?;
    }
    let summary = summary_json(&engine, commands, applied, &rejects, checked, &violations);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        io::stdout()
            .lock()
            .write_all(print_human(&summary).as_bytes())?;
    }
    if violations.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for v in &violations {
            eprintln!("invariant violated: {v}");
        }
        Ok(ExitCode::from(1))
    }
}

fn summary_json(
    engine: &Engine,
    commands: u64,
    applied: u64,
    rejects: &[RejectRow],
    checked: u64,
    violations: &[String],
) -> Value {
    let state = engine.state();
    let mut pools = serde_json::Map::new();
    for name in state.pools.keys() {
        let Some(m) = engine.metrics(name) else {
            continue;
        };
        let share_price: BTreeMap<&str, String> = m
            .tranches
            .iter()
            .map(|(t, v)| (*t, v.share_price.to_string()))
            .collect();
        let open_interest: BTreeMap<&String, Value> = m
            .perps
            .iter()
            .map(|(p, v)| {
                (
                    p,
                    json!({"long": v.long, "short": v.short, "funding_rate": v.funding_rate}),
                )
            })
            .collect();
        pools.insert(
            name.clone(),
            json!({
                "nav": m.nav,
                "share_price": share_price,
                "tranche_nav": m.tranches.iter().map(|(t, v)| (*t, v.nav.to_string())).collect::<BTreeMap<_, _>>(),
                "net_delta": m.net_delta,
                "net_gamma": m.net_gamma,
                "net_vega": m.net_vega,
                "net_theta": m.net_theta,
                "utilisation": m.utilisation,
                "free_liquidity": m.free_liquidity,
                "open_interest": open_interest,
                "cash": m.cash,
                "locked": m.locked,
                "fees_earned": m.fees_earned,
                "bad_debt": m.bad_debt,
                "insurance_fund": m.insurance_fund,
                "breaker": m.breaker,
                "bad_debt_paid": m.bad_debt_paid,
                "pool_stress_loss": m.pool_stress_loss,
                "pool_stress_breach": m.pool_stress_breach,
                "oracle_breaker": m.oracle_breaker,
                "hedge_position": m.hedge_position,
                "hedge_gap": m.hedge_gap,
                "params": state.pools[name].params.values().into_iter().collect::<BTreeMap<_, _>>(),
            }),
        );
    }
    let mut accounts = serde_json::Map::new();
    for (name, acc) in &state.accounts {
        let mut collateral: BTreeMap<String, Quote> = acc.balances.clone();
        let mut positions = Vec::new();
        for (pool, ps) in &acc.positions {
            let quote_asset = state
                .pools
                .get(pool)
                .map(|p| p.quote_asset.clone())
                .unwrap_or_default();
            for (instrument, p) in ps {
                if !derivpool_types::Fixed::is_zero(p.collateral) {
                    let c = collateral.entry(quote_asset.clone()).or_insert(Quote::ZERO);
                    *c = derivpool_types::Fixed::checked_add(*c, p.collateral).unwrap_or(*c);
                }
                positions.push(json!({
                    "pool": pool,
                    "instrument": instrument,
                    "size": p.size,
                    "locked_collateral": p.collateral,
                    "entry_value": p.entry_value,
                }));
            }
        }
        // Health in the quote asset of the pools the account trades in (the first, in name
        // order; every example and simulator pool is in one quote asset).
        let quote_asset = acc
            .positions
            .keys()
            .find_map(|p| state.pools.get(p).map(|p| p.quote_asset.clone()))
            .or_else(|| state.pools.values().next().map(|p| p.quote_asset.clone()))
            .unwrap_or_default();
        let h = derivpool_engine::margin::health_of(
            state,
            acc,
            acc.margin,
            &quote_asset,
            PriceBasis::Median,
        );
        let liquidatable =
            derivpool_engine::liquidation::is_liquidatable(state, name, &quote_asset)
                .unwrap_or(false);
        let (hi, hm) = match h {
            Ok(h) => (json!(h.initial), json!(h.maintenance)),
            Err(_) => (Value::Null, Value::Null),
        };
        accounts.insert(
            name.clone(),
            json!({"collateral": collateral, "positions": positions, "margin": acc.margin,
                "health_initial": hi, "health_maintenance": hm, "liquidatable": liquidatable}),
        );
    }
    json!({
        "state_hash": engine.state_hash(),
        "t": state.t,
        "commands": commands,
        "applied": applied,
        "rejected": rejects.len(),
        "rejects": rejects,
        "invariants_checked": checked,
        "invariant_violations": violations.len(),
        "violations": violations,
        "pools": pools,
        "accounts": accounts,
    })
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Rounds a decimal string to at most `d` decimals for display.
fn short(v: &Value, d: usize) -> String {
    let text = s(v);
    match text.split_once('.') {
        Some((i, f)) if f.len() > d => {
            if d == 0 {
                i.to_string()
            } else {
                format!("{i}.{}", &f[..d])
            }
        }
        _ => text,
    }
}

/// `writeln!` into a String (formatting into memory cannot fail).
macro_rules! w {
    ($o:expr) => {
        $o.push('\n')
    };
    ($o:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($o, $($arg)*);
    }};
}

fn print_human(v: &Value) -> String {
    let mut out = String::new();
    w!(
        out,
        "replayed {} commands: {} applied, {} rejected; invariants checked {} times, {} violated",
        v["commands"],
        v["applied"],
        v["rejected"],
        v["invariants_checked"],
        v["invariant_violations"]
    );
    w!(out, "state hash {}", s(&v["state_hash"]));
    if let Some(pools) = v["pools"].as_object() {
        w!(out);
        w!(
            out,
            "{:<12} {:>16} {:>12} {:>12} {:>10} {:>12} {:>14} {:>8} {:>16}",
            "pool",
            "nav",
            "senior/sh",
            "junior/sh",
            "delta",
            "vega",
            "theta/yr",
            "util",
            "free liquidity"
        );
        for (name, p) in pools {
            w!(
                out,
                "{:<12} {:>16} {:>12} {:>12} {:>10} {:>12} {:>14} {:>8} {:>16}",
                name,
                short(&p["nav"], 2),
                short(&p["share_price"]["senior"], 6),
                short(&p["share_price"]["junior"], 6),
                short(&p["net_delta"], 4),
                short(&p["net_vega"], 2),
                short(&p["net_theta"], 2),
                short(&p["utilisation"], 4),
                short(&p["free_liquidity"], 2),
            );
            w!(out,
                "  insurance fund {}  bad debt paid: insurance {} junior {} senior {}  stress loss {}{}  oracle breaker {}",
                short(&p["insurance_fund"], 2),
                short(&p["bad_debt_paid"]["insurance_fund"], 2),
                short(&p["bad_debt_paid"]["junior"], 2),
                short(&p["bad_debt_paid"]["senior"], 2),
                short(&p["pool_stress_loss"], 2),
                if p["pool_stress_breach"] == true { " (BREACH)" } else { "" },
                p["oracle_breaker"]
            );
            if let Some(oi) = p["open_interest"].as_object() {
                for (perp, o) in oi {
                    w!(
                        out,
                        "  {perp}: long {} short {} funding/day {}",
                        short(&o["long"], 4),
                        short(&o["short"], 4),
                        short(&o["funding_rate"], 6)
                    );
                }
            }
        }
    }
    if let Some(accounts) = v["accounts"].as_object() {
        w!(out);
        w!(
            out,
            "{:<16} {:<40} {:>9} {:>14} {:>14} {:>12}",
            "account",
            "collateral",
            "positions",
            "health init",
            "health maint",
            "liquidatable"
        );
        for (name, a) in accounts {
            let coll: Vec<String> = a["collateral"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{} {k}", short(v, 2)))
                        .collect()
                })
                .unwrap_or_default();
            let n = a["positions"].as_array().map(Vec::len).unwrap_or(0);
            w!(
                out,
                "{:<16} {:<40} {:>9} {:>14} {:>14} {:>12}",
                name,
                coll.join(", "),
                n,
                short(&a["health_initial"], 2),
                short(&a["health_maintenance"], 2),
                a["liquidatable"]
            );
            for p in a["positions"].as_array().into_iter().flatten() {
                w!(
                    out,
                    "    {} {} {}",
                    s(&p["pool"]),
                    s(&p["instrument"]),
                    short(&p["size"], 6)
                );
            }
        }
    }
    if let Some(rejects) = v["rejects"].as_array() {
        if !rejects.is_empty() {
            w!(out);
            w!(out, "rejects:");
            let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
            for r in rejects {
                *by_code.entry(s(&r["code"])).or_default() += 1;
            }
            for (code, n) in by_code {
                w!(out, "  {code}: {n}");
            }
            for r in rejects.iter().take(20) {
                w!(
                    out,
                    "  line {}: {} {}: {}",
                    r["line"],
                    s(&r["type"]),
                    s(&r["code"]),
                    s(&r["message"])
                );
            }
            if rejects.len() > 20 {
                w!(out, "  … {} more (see --json)", rejects.len() - 20);
            }
        }
    }
    out
}
