//! Realistic command streams for the journal tests: the commands a server would journal (only
//! those the engine applied), generated deterministically from a seed.
#![allow(dead_code)]

use derivpool_engine::{Command, Engine};
use derivpool_store::Journal;
use serde_json::{json, Value};

/// 2024-12-01 00:00:00 UTC.
pub const T0: u64 = 1_733_011_200;
const DAY: u64 = 86_400;

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` commands that the engine applies, in order, as `(t, JSON)` the way a server journals
/// them: a BTC pool with an option board, oracles, LP capital and traders, then a mix of
/// oracle updates, deposits, withdrawals, option and perp trades, LP flows and ticks. Commands
/// the engine rejects are left out (a server does not journal them).
pub fn applied_commands(n: usize, seed: u64) -> Vec<(u64, String)> {
    let mut engine = Engine::new();
    engine.set_check_invariants(false);
    let mut out = Vec::with_capacity(n);
    let mut t = T0;
    let mut rng = Rng::new(seed);
    let push = |engine: &mut Engine, out: &mut Vec<(u64, String)>, t: u64, mut v: Value| {
        if out.len() >= n {
            return;
        }
        v["t"] = json!(t);
        let cmd: Command = serde_json::from_value(v.clone()).expect("test command parses");
        if engine.apply(&cmd).is_ok() {
            out.push((t, cmd.to_json()));
        }
    };
    let prices = |engine: &mut Engine, out: &mut Vec<(u64, String)>, t: u64, price: u64| {
        for src in ["a", "b", "c"] {
            push(
                engine,
                out,
                t,
                json!({"type": "oracle_price", "source": src, "asset": "BTC", "price": price.to_string()}),
            );
        }
    };
    let vols = |engine: &mut Engine, out: &mut Vec<(u64, String)>, t: u64| {
        let expiry_t = derivpool_engine::instrument::expiry_unix("27DEC24").unwrap();
        let years = (expiry_t - t) as f64 / (365.0 * 86_400.0);
        let a = format!("{:.12}", 0.36 * years);
        for src in ["a", "b", "c"] {
            push(
                engine,
                out,
                t,
                json!({"type": "oracle_vol", "source": src, "underlying": "BTC", "expiry": "27DEC24",
                       "svi": {"a": a, "b": "0", "rho": "0", "m": "0", "sigma": "0.1"}}),
            );
        }
    };
    push(
        &mut engine,
        &mut out,
        t,
        json!({"type": "create_pool", "pool": "main", "quote_asset": "USDC", "generation": "hedged"}),
    );
    push(
        &mut engine,
        &mut out,
        t,
        json!({"type": "list_underlying", "pool": "main", "underlying": "BTC", "oracle_sources": ["a", "b", "c"]}),
    );
    prices(&mut engine, &mut out, t, 40_000);
    vols(&mut engine, &mut out, t);
    push(
        &mut engine,
        &mut out,
        t,
        json!({"type": "list_expiry", "pool": "main", "underlying": "BTC", "expiry": "27DEC24",
               "strikes": ["30000", "35000", "40000", "45000", "50000"]}),
    );
    push(
        &mut engine,
        &mut out,
        t,
        json!({"type": "lp_deposit", "pool": "main", "lp": "lp1", "tranche": "senior", "amount": "1000000"}),
    );
    push(
        &mut engine,
        &mut out,
        t,
        json!({"type": "lp_deposit", "pool": "main", "lp": "lp2", "tranche": "junior", "amount": "300000"}),
    );
    t += 3 * DAY;
    prices(&mut engine, &mut out, t, 40_000);
    vols(&mut engine, &mut out, t);
    push(&mut engine, &mut out, t, json!({"type": "tick"}));
    let mut price = 40_000u64;
    let strikes = ["35000", "40000", "45000"];
    let mut guard = 0usize;
    while out.len() < n {
        guard += 1;
        assert!(
            guard < 20 * n + 1_000,
            "generator cannot produce {n} applied commands"
        );
        t += 1 + rng.below(20);
        let trader = format!("trader{}", rng.below(25));
        match rng.below(12) {
            0 | 1 => {
                price = (price as i64 + rng.below(201) as i64 - 100).max(30_000) as u64;
                prices(&mut engine, &mut out, t, price);
            }
            2 => vols(&mut engine, &mut out, t),
            3 | 4 => push(
                &mut engine,
                &mut out,
                t,
                json!({"type": "deposit", "account": trader, "asset": "USDC",
                       "amount": format!("{}.{:02}", 1_000 + rng.below(50_000), rng.below(100))}),
            ),
            5 => push(
                &mut engine,
                &mut out,
                t,
                json!({"type": "withdraw", "account": trader, "asset": "USDC",
                       "amount": format!("{}", 1 + rng.below(500))}),
            ),
            6 | 7 => {
                let kind = if rng.below(2) == 0 { "C" } else { "P" };
                let strike = strikes[rng.below(3) as usize];
                let side = if rng.below(3) == 0 { "sell" } else { "buy" };
                push(
                    &mut engine,
                    &mut out,
                    t,
                    json!({"type": "trade", "pool": "main", "account": trader,
                           "instrument": format!("BTC-27DEC24-{strike}-{kind}"), "side": side,
                           "size": format!("0.{}", 1 + rng.below(9))}),
                );
            }
            8 => push(
                &mut engine,
                &mut out,
                t,
                json!({"type": "trade", "pool": "main", "account": trader, "instrument": "BTC-PERP",
                       "side": if rng.below(2) == 0 { "buy" } else { "sell" },
                       "size": format!("0.0{}", 1 + rng.below(9))}),
            ),
            9 => push(
                &mut engine,
                &mut out,
                t,
                json!({"type": "lp_deposit", "pool": "main", "lp": format!("lp{}", 3 + rng.below(5)),
                       "tranche": if rng.below(2) == 0 { "senior" } else { "junior" },
                       "amount": format!("{}", 1_000 + rng.below(10_000))}),
            ),
            _ => push(&mut engine, &mut out, t, json!({"type": "tick"})),
        }
    }
    out
}

/// The state hash of a fresh engine that applies `commands` (each must apply).
pub fn replay_hash(commands: &[(u64, String)]) -> String {
    replay(commands).state_hash()
}

/// A fresh engine that applied `commands` (each must apply).
pub fn replay(commands: &[(u64, String)]) -> Engine {
    let mut engine = Engine::new();
    engine.set_check_invariants(false);
    for (i, (_, json)) in commands.iter().enumerate() {
        let cmd = Command::from_json(json).expect("command parses");
        engine
            .apply(&cmd)
            .unwrap_or_else(|r| panic!("command {i} rejected on replay: {}", r.message));
    }
    engine
}

/// Appends `commands` in batches of `batch` commands; checks the seqs returned.
pub fn append_in_batches(journal: &mut dyn Journal, commands: &[(u64, String)], batch: usize) {
    for chunk in commands.chunks(batch) {
        let before = journal.last_seq();
        let seqs = journal.append_batch(chunk).expect("append");
        let expected: Vec<u64> = (before + 1..=before + chunk.len() as u64).collect();
        assert_eq!(seqs, expected);
        assert_eq!(journal.last_seq(), before + chunk.len() as u64);
    }
}
