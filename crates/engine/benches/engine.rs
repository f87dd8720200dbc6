//! Engine benchmarks (DESIGN.md §8): option trades through `apply` (quote, fees, skew update,
//! greek cache, collateral; invariant checks off), a full greek-cache refresh of 1,000 series
//! (the pool holding nothing: Greeks only; and holding every strike with its stress arrays due),
//! portfolio margin and the margin scan.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use derivpool_engine::{Command, Engine};
use serde_json::{json, Value};
use std::hint::black_box;

const T0: u64 = 1_733_011_200;

fn cmd(t: u64, mut v: Value) -> Command {
    v["t"] = json!(t);
    serde_json::from_value(v).unwrap()
}

/// A pool with LP capital, BTC listed with `boards` expiries × `strikes` strikes, fresh oracle
/// data and a funded trader, all at time `t`.
fn setup(boards: usize, strikes: usize) -> (Engine, u64) {
    let mut e = Engine::new();
    e.set_check_invariants(false);
    let mut t = T0;
    let ok = |e: &mut Engine, t: u64, v: Value| {
        e.apply(&cmd(t, v.clone()))
            .unwrap_or_else(|r| panic!("{v}: {r}"));
    };
    ok(
        &mut e,
        t,
        json!({"type": "create_pool", "pool": "main", "quote_asset": "USDC", "generation": "hedged"}),
    );
    ok(
        &mut e,
        t,
        json!({"type": "list_underlying", "pool": "main", "underlying": "BTC", "oracle_sources": ["a", "b", "c"]}),
    );
    ok(
        &mut e,
        t,
        json!({"type": "lp_deposit", "pool": "main", "lp": "lp1", "tranche": "senior", "amount": "100000000"}),
    );
    ok(
        &mut e,
        t,
        json!({"type": "lp_deposit", "pool": "main", "lp": "lp2", "tranche": "junior", "amount": "30000000"}),
    );
    t += 3 * 86_400;
    let expiries = [
        "27DEC24", "31JAN25", "28FEB25", "28MAR25", "25APR25", "30MAY25",
    ];
    let oracle = |e: &mut Engine, t: u64| {
        for s in ["a", "b", "c"] {
            e.apply(&cmd(
                t,
                json!({"type": "oracle_price", "source": s, "asset": "BTC", "price": "40000"}),
            ))
            .unwrap();
            for x in &expiries[..boards] {
                e.apply(&cmd(
                    t,
                    json!({"type": "oracle_vol", "source": s, "underlying": "BTC", "expiry": x,
                    "svi": {"a": "0.02", "b": "0.05", "rho": "-0.3", "m": "0", "sigma": "0.2"}}),
                ))
                .unwrap();
            }
        }
    };
    oracle(&mut e, t);
    for x in &expiries[..boards] {
        let ks: Vec<String> = (0..strikes)
            .map(|i| format!("{}", 20_000 + i * 40_000 / strikes))
            .collect();
        ok(
            &mut e,
            t,
            json!({"type": "list_expiry", "pool": "main", "underlying": "BTC", "expiry": x, "strikes": ks}),
        );
    }
    ok(&mut e, t, json!({"type": "tick"}));
    ok(
        &mut e,
        t,
        json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": "100000000"}),
    );
    (e, t)
}

fn option_trades(c: &mut Criterion) {
    let (engine, t) = setup(2, 20);
    let trades: Vec<Command> = (0..1_000)
        .map(|i| {
            let strike = [36_000, 38_000, 40_000, 42_000, 44_000][i % 5];
            let kind = if i % 3 == 0 { "P" } else { "C" };
            let side = if (i / 5) % 2 == 0 { "buy" } else { "sell" };
            cmd(
                t,
                json!({"type": "trade", "pool": "main", "account": "alice",
                "instrument": format!("BTC-27DEC24-{strike}-{kind}"), "side": side, "size": "0.1"}),
            )
        })
        .collect();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(trades.len() as u64));
    g.bench_function("option_trade_apply_x1000", |b| {
        b.iter_batched(
            || engine.clone(),
            |mut e| {
                for c in &trades {
                    let r = e.apply(black_box(c));
                    debug_assert!(r.is_ok(), "{r:?}");
                    black_box(&r);
                }
                e
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn cache_refresh(c: &mut Criterion) {
    // 4 boards × 125 strikes × (call + put) = 1,000 series.
    let (engine, t) = setup(4, 125);
    let state = engine.state();
    let pool = &state.pools["main"];
    let market = &pool.markets["BTC"];
    c.bench_function("greek_cache_refresh_1000_series", |b| {
        b.iter_batched(
            || market.boards.clone(),
            |mut boards| {
                for board in boards.values_mut() {
                    let ctx = derivpool_engine::pricing_ctx::BoardCtx::for_board(
                        &state.oracle,
                        &market.params,
                        "BTC",
                        board,
                        t,
                    )
                    .unwrap();
                    black_box(
                        derivpool_engine::cache::refresh_board(board, &ctx, t, &market.params)
                            .unwrap(),
                    );
                }
                boards
            },
            BatchSize::LargeInput,
        )
    });
}

/// The same refresh when every strike holds a pool position and its stress arrays are due
/// (thresholds 0: re-price at every refresh), i.e. 29 scenarios × call and put per strike too.
fn cache_refresh_with_arrays(c: &mut Criterion) {
    let (engine, t) = setup(4, 125);
    let state = engine.state();
    let market = &state.pools["main"].markets["BTC"];
    let mut params = market.params.clone();
    params.scenario_refresh_move = derivpool_types::Ratio::ZERO;
    params.scenario_refresh_vol = derivpool_types::Ratio::ZERO;
    let mut held = market.boards.clone();
    for board in held.values_mut() {
        for s in board.strikes.values_mut() {
            s.pool_calls = derivpool_types::Base::from_int(-1);
            s.pool_puts = derivpool_types::Base::from_int(1);
        }
    }
    c.bench_function("greek_cache_refresh_1000_series_with_stress_arrays", |b| {
        b.iter_batched(
            || held.clone(),
            |mut boards| {
                for board in boards.values_mut() {
                    let ctx = derivpool_engine::pricing_ctx::BoardCtx::for_board(
                        &state.oracle,
                        &params,
                        "BTC",
                        board,
                        t,
                    )
                    .unwrap();
                    black_box(
                        derivpool_engine::cache::refresh_board(board, &ctx, t, &params).unwrap(),
                    );
                }
                boards
            },
            BatchSize::LargeInput,
        )
    });
}

/// An account with 10 positions (9 options on two boards and the perp), margined on the
/// scenario grid (27 grid points + 2 tails per underlying).
fn margined_engine() -> (Engine, u64) {
    let (mut e, t) = setup(2, 20);
    e.apply(&cmd(
        t,
        json!({"type": "deposit", "account": "pm", "asset": "USDC", "amount": "10000000"}),
    ))
    .unwrap();
    e.apply(&cmd(
        t,
        json!({"type": "set_margin_mode", "account": "pm", "mode": "portfolio"}),
    ))
    .unwrap();
    let mut n = 0;
    for (x, k, kind, side) in [
        ("27DEC24", 36_000, "P", "sell"),
        ("27DEC24", 38_000, "P", "buy"),
        ("27DEC24", 40_000, "C", "sell"),
        ("27DEC24", 42_000, "C", "buy"),
        ("27DEC24", 44_000, "C", "sell"),
        ("31JAN25", 36_000, "P", "sell"),
        ("31JAN25", 40_000, "C", "buy"),
        ("31JAN25", 42_000, "C", "sell"),
        ("31JAN25", 44_000, "P", "buy"),
    ] {
        let r = e.apply(&cmd(
            t,
            json!({"type": "trade", "pool": "main", "account": "pm",
            "instrument": format!("BTC-{x}-{k}-{kind}"), "side": side, "size": "1"}),
        ));
        n += usize::from(r.is_ok());
    }
    e.apply(&cmd(t, json!({"type": "trade", "pool": "main", "account": "pm", "instrument": "BTC-PERP", "side": "buy", "size": "2"}))).unwrap();
    assert_eq!(n + 1, 10, "the benchmark account must hold 10 positions");
    (e, t)
}

fn portfolio_margin(c: &mut Criterion) {
    let (e, _) = margined_engine();
    let state = e.state();
    let acc = &state.accounts["pm"];
    c.bench_function("portfolio_margin_10_positions", |b| {
        b.iter(|| {
            derivpool_engine::margin::health_of(
                black_box(state),
                black_box(acc),
                derivpool_engine::margin::MarginMode::Portfolio,
                "USDC",
                derivpool_engine::margin::PriceBasis::Median,
            )
            .unwrap()
        })
    });
}

/// Health of 100,000 accounts (each a copy of the 10-position account) in one pass on one
/// thread. The copies are put into the state directly: the pool aggregates do not count them,
/// which a read-only scan does not need.
fn margin_scan(c: &mut Criterion) {
    let (e, _) = margined_engine();
    let mut state = e.state().clone();
    let acc = state.accounts["pm"].clone();
    for i in 0..100_000 {
        state.accounts.insert(format!("acct{i:06}"), acc.clone());
    }
    let mut g = c.benchmark_group("margin_scan");
    g.sample_size(10);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("health_100k_accounts_one_core", |b| {
        b.iter(|| {
            let mut under = 0usize;
            for a in state.accounts.values() {
                let h = derivpool_engine::margin::health_of(
                    &state,
                    a,
                    a.margin,
                    "USDC",
                    derivpool_engine::margin::PriceBasis::Median,
                )
                .unwrap();
                under += usize::from(h.maintenance < derivpool_types::Quote::ZERO);
            }
            black_box(under)
        })
    });
    g.finish();
}

/// One hourly tick of a simulated-size book (3 boards × 9 strikes, 16 perp traders and 32
/// option writers, the pool holding every strike; spot 2 % up so the stress values are due), on
/// one thread and with a [`derivpool_engine::Helper`] (the scan and the due values on a second).
fn tick_with_and_without_helper(c: &mut Criterion) {
    let (mut e, t) = setup(3, 9);
    let expiries = ["27DEC24", "31JAN25", "28FEB25"];
    let strikes: Vec<String> = (0..9)
        .map(|i| format!("{}", 20_000 + i * 40_000 / 9))
        .collect();
    for i in 0..48 {
        let account = format!("trader{i:02}");
        e.apply(&cmd(
            t,
            json!({"type": "deposit", "account": account, "asset": "USDC", "amount": "1000000"}),
        ))
        .unwrap();
        let (instrument, size) = if i < 16 {
            ("BTC-PERP".to_string(), "2")
        } else {
            let k = &strikes[4 + i % 3];
            let x = expiries[i % 3];
            let kind = if i % 2 == 0 { "C" } else { "P" };
            (format!("BTC-{x}-{k}-{kind}"), "0.5")
        };
        let side = if i % 3 == 0 { "buy" } else { "sell" };
        if let Err(r) = e.apply(&cmd(
            t,
            json!({"type": "trade", "pool": "main", "account": account, "instrument": instrument,
                "side": side, "size": size}),
        )) {
            eprintln!("{account} {instrument} {side}: {r}");
        }
    }
    let holders = e
        .state()
        .accounts
        .values()
        .filter(|a| !a.positions.is_empty())
        .count();
    assert!(holders >= 40, "only {holders} traders hold a position");
    let t1 = t + 3_600;
    for s in ["a", "b", "c"] {
        e.apply(&cmd(
            t1,
            json!({"type": "oracle_price", "source": s, "asset": "BTC", "price": "40800"}),
        ))
        .unwrap();
        for x in expiries {
            e.apply(&cmd(
                t1,
                json!({"type": "oracle_vol", "source": s, "underlying": "BTC", "expiry": x,
                "svi": {"a": "0.02", "b": "0.05", "rho": "-0.3", "m": "0", "sigma": "0.2"}}),
            ))
            .unwrap();
        }
    }
    let tick = cmd(t1, json!({"type": "tick"}));
    let mut helped = e.clone();
    helped.set_helper(Some(derivpool_engine::Helper::new()));
    let mut g = c.benchmark_group("tick");
    for (name, engine) in [("one_thread", &e), ("with_helper", &helped)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || engine.clone(),
                |mut e| {
                    black_box(e.apply(&tick).unwrap());
                    e
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    tick_with_and_without_helper,
    option_trades,
    cache_refresh,
    cache_refresh_with_arrays,
    portfolio_margin,
    margin_scan
);
criterion_main!(benches);
