//! Property tests over random command sequences: every invariant holds after every command
//! (the engine panics on a violation with invariant checking on), round trips at unchanged
//! prices leave the user no better off, and the same log always gives the same state hash.

mod common;
use common::*;
use derivpool_engine::{Command, Engine};
use proptest::prelude::*;
use serde_json::{json, Value};

const STRIKES: [&str; 5] = ["30000", "35000", "40000", "45000", "50000"];
const TRADERS: [&str; 3] = ["alice", "bob", "carol"];

#[derive(Debug, Clone)]
enum Op {
    Move {
        pct: i32,
    },
    Vol {
        vol_pct: u32,
    },
    Wait {
        minutes: u32,
    },
    Deposit {
        who: usize,
        amount: u32,
    },
    Withdraw {
        who: usize,
        amount: u32,
    },
    Option {
        who: usize,
        strike: usize,
        call: bool,
        buy: bool,
        size_milli: u32,
    },
    Perp {
        who: usize,
        buy: bool,
        size_milli: u32,
    },
    LpDeposit {
        junior: bool,
        amount: u32,
    },
    LpWithdraw {
        junior: bool,
        shares: u32,
    },
    /// One trader tries to liquidate another.
    Liquidate {
        by: usize,
        who: usize,
    },
    /// A trader switches margin mode (refused with open positions).
    MarginMode {
        who: usize,
        portfolio: bool,
    },
    /// A venue fills a share of the pending hedge order (over 100 %: refused as unmatched).
    HedgeFill {
        pct: u32,
        price_bp: i32,
        fee: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (-8i32..=8).prop_map(|pct| Op::Move { pct }),
        (20u32..=150).prop_map(|vol_pct| Op::Vol { vol_pct }),
        (0u32..=240).prop_map(|minutes| Op::Wait { minutes }),
        (0usize..3, 1u32..=100_000).prop_map(|(who, amount)| Op::Deposit { who, amount }),
        (0usize..3, 1u32..=100_000).prop_map(|(who, amount)| Op::Withdraw { who, amount }),
        (
            0usize..3,
            0usize..5,
            any::<bool>(),
            any::<bool>(),
            1u32..=8_000
        )
            .prop_map(|(who, strike, call, buy, size_milli)| Op::Option {
                who,
                strike,
                call,
                buy,
                size_milli
            }),
        (0usize..3, any::<bool>(), 1u32..=20_000).prop_map(|(who, buy, size_milli)| Op::Perp {
            who,
            buy,
            size_milli
        }),
        (any::<bool>(), 1u32..=500_000)
            .prop_map(|(junior, amount)| Op::LpDeposit { junior, amount }),
        (any::<bool>(), 1u32..=500_000)
            .prop_map(|(junior, shares)| Op::LpWithdraw { junior, shares }),
        (0usize..3, 0usize..3).prop_map(|(by, who)| Op::Liquidate { by, who }),
        (0usize..3, any::<bool>()).prop_map(|(who, portfolio)| Op::MarginMode { who, portfolio }),
        (1u32..=120, -200i32..=200, 0u32..=50).prop_map(|(pct, price_bp, fee)| Op::HedgeFill {
            pct,
            price_bp,
            fee
        }),
    ]
}

/// Plays ops on a standard world; returns the JSON commands applied or rejected (with `t`).
fn play(w: &mut World, ops: &[Op]) -> Vec<Value> {
    let mut spot = 40_000.0f64;
    let mut log = Vec::new();
    let mut send = |w: &mut World, mut v: Value| {
        v["t"] = json!(w.t);
        log.push(v.clone());
        let _ = w.try_apply(v);
    };
    for op in ops {
        match op {
            Op::Move { pct } => {
                spot *= 1.0 + f64::from(*pct) / 100.0;
                for s in ["a", "b", "c"] {
                    send(
                        w,
                        json!({"type": "oracle_price", "source": s, "asset": "BTC", "price": format!("{spot:.2}")}),
                    );
                }
            }
            Op::Vol { vol_pct } => {
                let exp = derivpool_engine::instrument::expiry_unix("27DEC24").unwrap();
                if exp > w.t {
                    let vol = f64::from(*vol_pct) / 100.0;
                    let a = vol * vol * (exp - w.t) as f64 / (365.0 * 86_400.0);
                    for s in ["a", "b", "c"] {
                        send(
                            w,
                            json!({"type": "oracle_vol", "source": s, "underlying": "BTC", "expiry": "27DEC24",
                            "svi": {"a": format!("{a:.12}"), "b": "0.01", "rho": "-0.2", "m": "0", "sigma": "0.2"}}),
                        );
                    }
                }
            }
            Op::Wait { minutes } => {
                w.advance(u64::from(*minutes) * 60);
                for s in ["a", "b", "c"] {
                    send(
                        w,
                        json!({"type": "oracle_price", "source": s, "asset": "BTC", "price": format!("{spot:.2}")}),
                    );
                }
                let exp = derivpool_engine::instrument::expiry_unix("27DEC24").unwrap();
                if exp > w.t {
                    let a = 0.36 * (exp - w.t) as f64 / (365.0 * 86_400.0);
                    for s in ["a", "b", "c"] {
                        send(
                            w,
                            json!({"type": "oracle_vol", "source": s, "underlying": "BTC", "expiry": "27DEC24",
                            "svi": {"a": format!("{a:.12}"), "b": "0.01", "rho": "-0.2", "m": "0", "sigma": "0.2"}}),
                        );
                    }
                }
                send(w, json!({"type": "tick"}));
            }
            Op::Deposit { who, amount } => send(
                w,
                json!({"type": "deposit", "account": TRADERS[*who], "asset": "USDC", "amount": amount.to_string()}),
            ),
            Op::Withdraw { who, amount } => send(
                w,
                json!({"type": "withdraw", "account": TRADERS[*who], "asset": "USDC", "amount": amount.to_string()}),
            ),
            Op::Option {
                who,
                strike,
                call,
                buy,
                size_milli,
            } => send(
                w,
                json!({"type": "trade", "pool": "main", "account": TRADERS[*who],
                "instrument": format!("BTC-27DEC24-{}-{}", STRIKES[*strike], if *call { "C" } else { "P" }),
                "side": if *buy { "buy" } else { "sell" }, "size": format!("{:.3}", f64::from(*size_milli) / 1000.0)}),
            ),
            Op::Perp {
                who,
                buy,
                size_milli,
            } => send(
                w,
                json!({"type": "trade", "pool": "main", "account": TRADERS[*who],
                "instrument": "BTC-PERP", "side": if *buy { "buy" } else { "sell" }, "size": format!("{:.3}", f64::from(*size_milli) / 1000.0)}),
            ),
            Op::LpDeposit { junior, amount } => send(
                w,
                json!({"type": "lp_deposit", "pool": "main", "lp": "lpx",
                "tranche": if *junior { "junior" } else { "senior" }, "amount": amount.to_string()}),
            ),
            Op::Liquidate { by, who } => send(
                w,
                json!({"type": "liquidate", "pool": "main", "liquidator": TRADERS[*by], "account": TRADERS[*who]}),
            ),
            Op::MarginMode { who, portfolio } => send(
                w,
                json!({"type": "set_margin_mode", "account": TRADERS[*who],
                    "mode": if *portfolio { "portfolio" } else { "isolated" }}),
            ),
            Op::LpWithdraw { junior, shares } => send(
                w,
                json!({"type": "lp_withdraw", "pool": "main", "lp": if *junior { "lp2" } else { "lp1" },
                "tranche": if *junior { "junior" } else { "senior" }, "shares": shares.to_string()}),
            ),
            Op::HedgeFill { pct, price_bp, fee } => {
                let pending = w.engine.state().pools["main"]
                    .hedges
                    .get("BTC")
                    .map(|h| h.pending)
                    .unwrap_or_default();
                let raw = derivpool_types::Fixed::raw(pending) / 100 * i128::from(*pct);
                let size = if raw == 0 {
                    derivpool_types::Base::ONE
                } else {
                    derivpool_types::Fixed::from_raw(raw)
                };
                let price = spot * (1.0 + f64::from(*price_bp) / 10_000.0);
                send(
                    w,
                    json!({"type": "hedge_fill", "pool": "main", "venue": "v", "underlying": "BTC",
                    "size": size.to_string(), "price": format!("{price:.2}"), "fee": fee.to_string()}),
                )
            }
        }
    }
    log
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_shrink_iters: 200, ..ProptestConfig::default() })]

    /// Invariants 1, 2, 5 and 7 after every command of random sequences (the harness's engine
    /// checks them after each applied command and panics on a violation).
    #[test]
    fn invariants_hold_after_every_command(ops in prop::collection::vec(op(), 1..40)) {
        let mut w = World::standard();
        play(&mut w, &ops);
        prop_assert!(w.engine.verify().is_empty());
        prop_assert!(w.engine.invariants_checked() > 0);
    }

    /// Invariant 8: the same log twice gives the same state hash, and so does the log written to
    /// JSON lines and read back.
    #[test]
    fn replaying_a_log_gives_the_same_hash(ops in prop::collection::vec(op(), 1..25)) {
        let mut w = World::standard();
        let log = play(&mut w, &ops);
        let mut again = World::standard();
        let mut engine = std::mem::take(&mut again.engine);
        for v in &log {
            let line = v.to_string();
            let cmd = Command::from_json(&line).unwrap();
            let back = Command::from_json(&cmd.to_json()).unwrap();
            prop_assert_eq!(&back, &cmd);
            let _ = engine.apply(&cmd);
        }
        prop_assert_eq!(engine.state_hash(), w.engine.state_hash());
    }

    /// Invariant 3: an option round trip at unchanged prices leaves the trader no better off.
    #[test]
    fn option_round_trip_never_profits(strike in 0usize..5, call: bool, buy_first: bool, size_milli in 1u32..=5_000) {
        let mut w = World::standard();
        let before = w.balance("alice", "USDC");
        let instrument = format!("BTC-27DEC24-{}-{}", STRIKES[strike], if call { "C" } else { "P" });
        let size = format!("{:.3}", f64::from(size_milli) / 1000.0);
        let (first, second) = if buy_first { ("buy", "sell") } else { ("sell", "buy") };
        let opened = w.try_apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": instrument, "side": first, "size": size}));
        if opened.is_ok() {
            w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": instrument, "side": second, "size": size}));
        }
        prop_assert!(w.balance("alice", "USDC") <= before);
    }

    /// Invariant 3 for perps: open then close at an unchanged oracle never profits.
    #[test]
    fn perp_round_trip_never_profits(buy_first: bool, size_milli in 1u32..=20_000, other_milli in 0u32..=20_000) {
        let mut w = World::standard();
        w.apply(json!({"type": "deposit", "account": "bob", "asset": "USDC", "amount": "500000"}));
        if other_milli > 0 {
            // Someone else moves the skew first.
            let _ = w.try_apply(json!({"type": "trade", "pool": "main", "account": "bob", "instrument": "BTC-PERP", "side": "sell", "size": format!("{:.3}", f64::from(other_milli) / 1000.0)}));
        }
        let before = w.balance("alice", "USDC");
        let size = format!("{:.3}", f64::from(size_milli) / 1000.0);
        let (first, second) = if buy_first { ("buy", "sell") } else { ("sell", "buy") };
        if w.try_apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-PERP", "side": first, "size": size})).is_ok() {
            w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-PERP", "side": second, "size": size}));
        }
        prop_assert!(w.balance("alice", "USDC") <= before);
    }

    /// Invariants 3 and 4: an LP deposit then withdrawal at an unchanged pool returns at most
    /// what was put in, and moves the other LPs' share price by at most rounding.
    #[test]
    fn lp_round_trip_never_profits_and_keeps_others_share_price(amount in 1u32..=2_000_000, junior: bool) {
        let mut w = World::standard();
        let tranche = if junior { "junior" } else { "senior" };
        let price_before = w.engine.metrics("main").unwrap().tranches[tranche].share_price;
        w.apply(json!({"type": "lp_deposit", "pool": "main", "lp": "newcomer", "tranche": tranche, "amount": amount.to_string()}));
        w.advance(3 * DAY);
        w.price("BTC", "40000");
        w.tick();
        let shares = w.engine.state().pools["main"].vault.tranches[&if junior { derivpool_engine::Tranche::Junior } else { derivpool_engine::Tranche::Senior }]
            .holders.get("newcomer").copied();
        let Some(shares) = shares else { return Ok(()); };
        let mid = w.engine.metrics("main").unwrap().tranches[tranche].share_price;
        prop_assert!(derivpool_types::Fixed::raw(mid) - derivpool_types::Fixed::raw(price_before) <= 1 && mid >= price_before);
        w.apply(json!({"type": "lp_withdraw", "pool": "main", "lp": "newcomer", "tranche": tranche, "shares": shares.to_string()}));
        w.advance(3 * DAY);
        w.price("BTC", "40000");
        w.tick();
        let paid = w.engine.state().external["USDC"].withdrawn;
        prop_assert!(derivpool_types::Fixed::to_f64(paid) <= f64::from(amount));
        let after = w.engine.metrics("main").unwrap().tranches[tranche].share_price;
        prop_assert!(after >= price_before);
    }
}

#[test]
fn default_engine_is_empty_and_hash_is_stable_within_a_run() {
    let a = Engine::new();
    let b = Engine::new();
    assert_eq!(a.state_hash(), b.state_hash());
    assert_eq!(a.state_hash().len(), 64);
}

/// The random sequences exercise the markets: a long fixed sequence applies most of its trades.
#[test]
fn random_sequences_mostly_apply() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let ops = prop::collection::vec(op(), 400)
        .new_tree(&mut runner)
        .unwrap()
        .current();
    let mut w = World::standard();
    let log = play(&mut w, &ops);
    let trades = log.iter().filter(|v| v["type"] == "trade").count();
    let mut engine = World::standard().engine;
    let mut applied = 0;
    let mut hedge_fills = 0;
    for v in &log {
        let ok = engine
            .apply(&Command::from_json(&v.to_string()).unwrap())
            .is_ok();
        if ok && v["type"] == "trade" {
            applied += 1;
        }
        if ok && v["type"] == "hedge_fill" {
            hedge_fills += 1;
        }
    }
    assert!(
        hedge_fills > 0,
        "no random hedge fill matched a pending order"
    );
    assert!(trades > 50, "{trades}");
    assert!(
        applied * 3 > trades,
        "only {applied} of {trades} trades applied"
    );
}
