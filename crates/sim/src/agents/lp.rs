//! LPs: deposit at the start, add and withdraw now and then, and run when losses show.
//!
//! Each LP watches its tranche's share price p and its running peak P. When the drawdown
//! 1 − p/P exceeds the LP's own threshold it queues a withdrawal of all its shares (a bank run
//! when many thresholds are low); after the price recovers above (1 − threshold/2)·P it may come
//! back with fresh capital.

use super::{Agent, View};
use crate::exec::Exec;
use crate::oracle::decimal;
use crate::rng::SimRng;
use derivpool_engine::{CommandKind, Tranche};
use derivpool_types::{Fixed, Shares};

/// An LP.
#[derive(Debug, Clone)]
pub struct LpAgent {
    name: String,
    tranche: Tranche,
    capital: f64,
    run_threshold: f64,
    flows_per_day: f64,
    peak: f64,
    ran: bool,
    rng: SimRng,
}

impl LpAgent {
    /// An LP named `name` with `capital` in `tranche`, who runs at a drawdown of `run_threshold`
    /// and otherwise adds or withdraws `flows_per_day` times a day on average.
    pub fn new(
        name: String,
        tranche: Tranche,
        capital: f64,
        run_threshold: f64,
        flows_per_day: f64,
        rng: SimRng,
    ) -> LpAgent {
        LpAgent {
            name,
            tranche,
            capital,
            run_threshold,
            flows_per_day,
            peak: 0.0,
            ran: false,
            rng,
        }
    }

    fn shares(&self, ex: &Exec, pool: &str) -> Shares {
        ex.engine
            .state()
            .pools
            .get(pool)
            .and_then(|p| p.vault.tranches.get(&self.tranche))
            .and_then(|t| t.holders.get(&self.name))
            .copied()
            .unwrap_or(Shares::ZERO)
    }

    fn deposit(&self, ex: &mut Exec, pool: &str, amount: f64) {
        let amount = decimal(amount.round(), 2);
        let _ = ex.submit(
            "lp",
            CommandKind::LpDeposit {
                pool: pool.into(),
                lp: self.name.clone(),
                tranche: self.tranche,
                amount,
            },
        );
    }

    fn withdraw(&self, ex: &mut Exec, pool: &str, fraction: f64) {
        let held = self.shares(ex, pool);
        if !held.is_positive() {
            return;
        }
        let shares = if fraction >= 1.0 {
            held
        } else {
            decimal::<Shares>((held.to_f64() * fraction * 1e4).floor() / 1e4, 4)
        };
        if shares.is_positive() {
            let _ = ex.submit(
                "lp",
                CommandKind::LpWithdraw {
                    pool: pool.into(),
                    lp: self.name.clone(),
                    tranche: self.tranche,
                    shares,
                },
            );
        }
    }
}

impl Agent for LpAgent {
    fn kind(&self) -> &'static str {
        "lp"
    }

    fn setup(&mut self, ex: &mut Exec, view: &View<'_>) {
        self.deposit(ex, view.pool, self.capital);
    }

    fn act(&mut self, ex: &mut Exec, view: &View<'_>) {
        let Some(m) = view.metrics else { return };
        let Some(tm) = m.tranches.get(self.tranche.as_str()) else {
            return;
        };
        if !tm.shares.is_positive() {
            return;
        }
        let sp = tm.share_price.to_f64();
        self.peak = self.peak.max(sp);
        let drawdown = 1.0 - sp / self.peak;
        if !self.ran && drawdown > self.run_threshold {
            self.ran = true;
            self.withdraw(ex, view.pool, 1.0);
            return;
        }
        let p = self.flows_per_day / view.steps_per_day() as f64;
        if self.ran {
            // Come back once the price has recovered most of the loss.
            if drawdown < self.run_threshold / 2.0 && self.rng.chance(p) {
                self.ran = false;
                self.peak = sp;
                let amount = self.capital * self.rng.range(0.3, 1.0);
                self.deposit(ex, view.pool, amount);
            }
            return;
        }
        if self.rng.chance(p) {
            if self.rng.chance(0.5) {
                let amount = self.capital * self.rng.range(0.05, 0.25);
                self.deposit(ex, view.pool, amount);
            } else {
                let fraction = self.rng.range(0.05, 0.3);
                self.withdraw(ex, view.pool, fraction);
            }
        }
    }
}
