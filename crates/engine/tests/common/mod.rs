//! A small harness for scenario tests: commands are written as JSON, as users write them, and
//! applied with invariants checked after each one.
#![allow(dead_code)]

use derivpool_engine::{Command, Engine, Event, Reject};
use serde_json::{json, Value};

/// 2024-12-01 00:00:00 UTC.
pub const T0: u64 = 1_733_011_200;
/// One hour.
pub const H: u64 = 3_600;
/// One day.
pub const DAY: u64 = 86_400;

/// An engine with a clock.
pub struct World {
    pub engine: Engine,
    pub t: u64,
}

impl World {
    pub fn new() -> World {
        let mut engine = Engine::new();
        engine.set_check_invariants(true);
        World { engine, t: T0 }
    }

    /// Applies a command given as JSON without `t`; the world's clock is added.
    pub fn try_apply(&mut self, mut v: Value) -> Result<Vec<Event>, Reject> {
        v["t"] = json!(self.t);
        let cmd: Command = serde_json::from_value(v.clone())
            .unwrap_or_else(|e| panic!("bad test command {v}: {e}"));
        self.engine.apply(&cmd)
    }

    /// Applies a command that must succeed.
    pub fn apply(&mut self, v: Value) -> Vec<Event> {
        let text = v.to_string();
        self.try_apply(v)
            .unwrap_or_else(|r| panic!("{text} rejected: {} {}", r.code.as_str(), r.message))
    }

    /// Applies a command that must be rejected with `code`; checks that nothing changed.
    pub fn reject(&mut self, v: Value, code: &str) -> Reject {
        let before = self.engine.state_hash();
        let text = v.to_string();
        match self.try_apply(v) {
            Ok(ev) => panic!("{text} was applied ({ev:?}), expected {code}"),
            Err(r) => {
                assert_eq!(r.code.as_str(), code, "{text}: {}", r.message);
                assert_eq!(
                    self.engine.state_hash(),
                    before,
                    "{text}: a reject changed the state"
                );
                r
            }
        }
    }

    pub fn advance(&mut self, s: u64) {
        self.t += s;
    }

    /// Every source reports `price` for `asset`.
    pub fn price(&mut self, asset: &str, price: &str) {
        for src in ["a", "b", "c"] {
            self.apply(
                json!({"type": "oracle_price", "source": src, "asset": asset, "price": price}),
            );
        }
    }

    /// Every source reports a flat-vol SVI slice for the expiry, with total variance
    /// `vol² × (expiry − now)`.
    pub fn flat_vol(&mut self, underlying: &str, expiry: &str, vol: f64) {
        let expiry_t = derivpool_engine::instrument::expiry_unix(expiry).unwrap();
        let years = (expiry_t - self.t) as f64 / (365.0 * 86_400.0);
        let a = format!("{:.12}", vol * vol * years);
        for src in ["a", "b", "c"] {
            self.apply(
                json!({"type": "oracle_vol", "source": src, "underlying": underlying,
                "expiry": expiry, "svi": {"a": a, "b": "0", "rho": "0", "m": "0", "sigma": "0.1"}}),
            );
        }
    }

    pub fn tick(&mut self) -> Vec<Event> {
        self.apply(json!({"type": "tick"}))
    }

    /// A BTC pool `main` in USDC with one board (27DEC24, strikes 30k–50k), oracle at 40,000
    /// and 60 % vol, LP capital (1,000,000 senior, 300,000 junior) processed, and a trader
    /// `alice` with 200,000 USDC.
    pub fn standard() -> World {
        World::standard_with("hedged", json!({}))
    }

    /// `standard()`, then bob opens a 4 BTC long perp on 20,000 USDC and the price falls hour by
    /// hour to 36,500 (−8.75 %), leaving bob under maintenance at the median and the TWAP; carol
    /// (the liquidator) has 100,000 USDC.
    pub fn crashed() -> World {
        let mut w = World::standard();
        w.apply(json!({"type": "deposit", "account": "bob", "asset": "USDC", "amount": "20000"}));
        w.apply(
            json!({"type": "deposit", "account": "carol", "asset": "USDC", "amount": "100000"}),
        );
        w.apply(json!({"type": "trade", "pool": "main", "account": "bob", "instrument": "BTC-PERP", "side": "buy", "size": "4"}));
        for px in ["39000", "38000", "37000", "36500", "36500"] {
            w.advance(H);
            w.price("BTC", px);
            w.flat_vol("BTC", "27DEC24", 0.6);
            w.tick();
        }
        w
    }

    pub fn balance(&self, account: &str, asset: &str) -> f64 {
        self.engine
            .state()
            .accounts
            .get(account)
            .and_then(|a| a.balances.get(asset))
            .map(|q| derivpool_types::Fixed::to_f64(*q))
            .unwrap_or(0.0)
    }

    pub fn nav(&self, pool: &str) -> f64 {
        derivpool_types::Fixed::to_f64(self.engine.metrics(pool).unwrap().nav)
    }

    /// Like [`World::standard`], with the pool's generation and parameter overrides given.
    pub fn standard_with(generation: &str, params: Value) -> World {
        let mut w = World::new();
        w.apply(
            json!({"type": "create_pool", "pool": "main", "quote_asset": "USDC",
            "generation": generation, "params": params}),
        );
        w.apply(json!({"type": "list_underlying", "pool": "main", "underlying": "BTC", "oracle_sources": ["a", "b", "c"]}));
        w.price("BTC", "40000");
        w.flat_vol("BTC", "27DEC24", 0.6);
        w.apply(
            json!({"type": "list_expiry", "pool": "main", "underlying": "BTC", "expiry": "27DEC24",
            "strikes": ["30000", "35000", "40000", "45000", "50000"]}),
        );
        w.apply(json!({"type": "lp_deposit", "pool": "main", "lp": "lp1", "tranche": "senior", "amount": "1000000"}));
        w.apply(json!({"type": "lp_deposit", "pool": "main", "lp": "lp2", "tranche": "junior", "amount": "300000"}));
        w.advance(3 * DAY);
        w.price("BTC", "40000");
        w.flat_vol("BTC", "27DEC24", 0.6);
        w.tick();
        w.apply(
            json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": "200000"}),
        );
        w
    }

    /// Passes governance actions on pool `main` (each a proposal's `action` object): `whale`
    /// gets 1,000,000 tokens if nobody holds any, proposes each, votes for each, waits out the
    /// voting period and the timelock (default 3 + 2 days), executes each, and refreshes the
    /// oracle and the caches at 40,000 / 60 %. Returns the proposal numbers.
    pub fn pass(&mut self, actions: &[Value]) -> Vec<u64> {
        if derivpool_types::Fixed::is_zero(self.engine.state().governance.supply) {
            self.apply(
                json!({"type": "governance_grant", "account": "whale", "amount": "1000000"}),
            );
        }
        let mut ids = Vec::new();
        for a in actions {
            let ev = self.apply(
                json!({"type": "propose", "pool": "main", "proposer": "whale", "action": a}),
            );
            let id = match &ev[0] {
                Event::Proposed { proposal, .. } => *proposal,
                other => panic!("expected proposed, got {other:?}"),
            };
            self.apply(json!({"type": "vote", "proposal": id, "voter": "whale", "support": true}));
            ids.push(id);
        }
        self.advance(5 * DAY);
        for id in &ids {
            self.apply(json!({"type": "execute", "proposal": id}));
        }
        self.price("BTC", "40000");
        self.flat_vol("BTC", "27DEC24", 0.6);
        self.tick();
        ids
    }
}
