//! The executor: the only path from agents to the engine. Every command an agent submits is
//! stamped with the step's time, applied, appended to the command log (rejected ones too, so the
//! log replays to the same state) and counted.

use derivpool_engine::{Command, CommandKind, Engine, Event, Reject};
use derivpool_types::{Fixed, Quote};
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts of what happened over a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Commands submitted.
    pub commands: u64,
    /// Commands rejected.
    pub rejected: u64,
    /// Rejects by code.
    pub rejects: BTreeMap<&'static str, u64>,
    /// Rejects by agent kind and code.
    pub rejects_by_agent: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// Option trades applied.
    pub option_trades: u64,
    /// Perp trades applied.
    pub perp_trades: u64,
    /// Option notional traded (premium), quote asset.
    pub option_premium: f64,
    /// Perp notional traded, quote asset.
    pub perp_notional: f64,
    /// Fees paid by traders, quote asset.
    pub fees: f64,
    /// LP deposits queued.
    pub lp_deposits: u64,
    /// LP withdrawals queued.
    pub lp_withdrawals: u64,
    /// LP withdrawals processed (value paid out, quote asset).
    pub lp_withdrawn_value: f64,
    /// Liquidations applied.
    pub liquidations: u64,
    /// Bad debt paid by layer (`insurance_fund`, `junior`, `senior`), quote asset.
    pub bad_debt: BTreeMap<String, f64>,
    /// Boards settled.
    pub settlements: u64,
    /// Breakers tripped, by name.
    pub breakers: BTreeMap<String, u64>,
    /// Hedge orders emitted by the engine.
    pub hedge_orders: u64,
    /// Hedge fills applied.
    pub hedge_fills: u64,
    /// Positions reduced by auto-deleveraging.
    pub adl: u64,
}

/// Engine + command log + counters.
#[derive(Debug)]
pub struct Exec {
    /// The engine.
    pub engine: Engine,
    /// Every submitted command, in order.
    pub log: Vec<Command>,
    /// Events of the current step (cleared by the runner at each step).
    pub events: Vec<Event>,
    /// Counters.
    pub stats: Stats,
    /// Time stamped on submitted commands.
    pub t: u64,
}

impl Exec {
    /// An executor around a fresh engine.
    pub fn new(check_every_command: bool) -> Exec {
        let mut engine = Engine::new();
        engine.set_check_invariants(check_every_command);
        Exec {
            engine,
            log: Vec::new(),
            events: Vec::new(),
            stats: Stats::default(),
            t: 0,
        }
    }

    /// Applies a command on behalf of an agent of kind `agent`; its events are kept for the step.
    pub fn submit(&mut self, agent: &'static str, kind: CommandKind) -> Result<(), Reject> {
        let cmd = Command { t: self.t, kind };
        self.stats.commands += 1;
        let r = self.engine.apply(&cmd);
        self.log.push(cmd);
        match r {
            Ok(events) => {
                for e in &events {
                    self.count(e);
                }
                self.events.extend(events);
                Ok(())
            }
            Err(rej) => {
                self.stats.rejected += 1;
                let code = rej.code.as_str();
                *self.stats.rejects.entry(code).or_default() += 1;
                *self
                    .stats
                    .rejects_by_agent
                    .entry(agent)
                    .or_default()
                    .entry(code)
                    .or_default() += 1;
                Err(rej)
            }
        }
    }

    fn count(&mut self, e: &Event) {
        let f = |q: &Quote| q.to_f64();
        match e {
            Event::OptionTraded { premium, fees, .. } => {
                self.stats.option_trades += 1;
                self.stats.option_premium += f(premium);
                self.stats.fees += f(&fees.total);
            }
            Event::PerpTraded {
                fill_price,
                size,
                fee,
                ..
            } => {
                self.stats.perp_trades += 1;
                self.stats.perp_notional += fill_price.to_f64() * size.to_f64().abs();
                self.stats.fees += f(fee);
            }
            Event::LpDepositQueued { .. } => self.stats.lp_deposits += 1,
            Event::LpWithdrawQueued { .. } => self.stats.lp_withdrawals += 1,
            Event::LpWithdrawProcessed { paid, .. } => {
                self.stats.lp_withdrawn_value += f(paid);
            }
            Event::BoardSettled { .. } => self.stats.settlements += 1,
            Event::Liquidated { .. } => self.stats.liquidations += 1,
            Event::BadDebtPaid { layer, amount, .. } => {
                *self.stats.bad_debt.entry(layer.clone()).or_default() += f(amount);
            }
            Event::HedgeOrder { .. } => self.stats.hedge_orders += 1,
            Event::HedgeFilled { .. } => self.stats.hedge_fills += 1,
            Event::AutoDeleveraged { .. } => self.stats.adl += 1,
            Event::BreakerTripped { breaker, .. } => {
                *self.stats.breakers.entry(breaker.to_string()).or_default() += 1;
            }
            _ => {}
        }
    }

    /// Writes the command log as JSON lines (each followed by a newline) into `w` in chunks (a
    /// 365-day log is ~20 MB: no need to hold it as one string), with [`crate::jsonl`]'s writer:
    /// the bytes of `Command::to_json`.
    pub fn write_log<W: std::io::Write>(&self, w: W) -> std::io::Result<()> {
        crate::jsonl::write_jsonl(&self.log, w)
    }

    /// The command log as JSON lines (each followed by a newline), as one string.
    pub fn log_jsonl(&self) -> String {
        let mut buf = Vec::with_capacity(self.log.len() * 160);
        self.write_log(&mut buf)
            .expect("writing to memory cannot fail");
        String::from_utf8(buf).expect("JSON is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use derivpool_engine::params::ParamOverrides;
    use derivpool_engine::Generation;

    /// Every command through `Command::to_json`, one per line: the format `derivpool replay`
    /// reads.
    fn reference_jsonl(ex: &Exec) -> String {
        ex.log
            .iter()
            .map(|c| c.to_json() + "\n")
            .collect::<Vec<_>>()
            .concat()
    }

    #[test]
    fn the_streamed_log_is_byte_identical_to_one_to_json_per_line() {
        let mut ex = Exec::new(false);
        ex.t = 1_735_689_600;
        let _ = ex.submit(
            "operator",
            CommandKind::CreatePool {
                pool: "main".into(),
                quote_asset: "USDC".into(),
                generation: Generation::Hedged,
                params: ParamOverrides::default(),
            },
        );
        let _ = ex.submit(
            "lp",
            CommandKind::LpDeposit {
                pool: "main".into(),
                lp: "lp-\"quoted\"\\ é".into(),
                tranche: derivpool_engine::Tranche::Junior,
                amount: "1234.56".parse().unwrap(),
            },
        );
        ex.t += 3600;
        let _ = ex.submit("keeper", CommandKind::Tick {});
        assert_eq!(ex.log.len(), 3);
        let mut streamed = Vec::new();
        ex.write_log(std::io::BufWriter::with_capacity(7, &mut streamed))
            .unwrap();
        assert_eq!(String::from_utf8(streamed).unwrap(), reference_jsonl(&ex));
        assert_eq!(ex.log_jsonl(), reference_jsonl(&ex));
    }

    #[test]
    fn the_log_of_real_runs_is_byte_identical_to_to_json() {
        use crate::runner::{run, SimConfig};
        use crate::scenario::Scenario;
        for (scenario, generation) in [
            (Scenario::Calm, Generation::Hedged),
            (Scenario::Crash, Generation::CrossMargin),
            (Scenario::OracleOutage, Generation::Static),
        ] {
            let cfg = SimConfig {
                scenario,
                generation,
                days: Some(4),
                ..SimConfig::default()
            };
            let out = run(&cfg, &mut |_, _| {}).unwrap();
            let kinds: std::collections::BTreeSet<&str> =
                out.exec.log.iter().map(|c| c.kind.type_name()).collect();
            assert!(kinds.len() > 10, "{kinds:?}");
            let text = out.exec.log_jsonl();
            for (got, c) in text.lines().zip(&out.exec.log) {
                assert_eq!(got, c.to_json());
            }
            assert_eq!(text, reference_jsonl(&out.exec));
        }
    }
}
