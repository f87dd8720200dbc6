//! The simulated venue (fees, slippage growing with size, latency, seeded failures, partial
//! fills) and the hedge loop driving a real engine through failed and partial fills.

use derivpool_agents::{HedgeLoop, SimVenue, SimVenueConfig, Venue, VenueOrder};
use derivpool_engine::{Command, Engine, Event};
use derivpool_types::{Base, Fixed, Price};
use serde_json::json;

fn order(id: u64, size: i64) -> VenueOrder {
    VenueOrder {
        pool: "p".into(),
        underlying: "BTC".into(),
        id,
        size: Base::from_int(size),
    }
}

fn reliable() -> SimVenueConfig {
    SimVenueConfig {
        failure_probability: 0.0,
        chunks: 1,
        ..SimVenueConfig::default()
    }
}

#[test]
fn slippage_grows_with_size_fees_follow_notional_and_fills_arrive_after_the_latency() {
    let mut v = SimVenue::new(reliable());
    let mid = Price::from_int(40_000);
    v.submit(order(1, 1), mid, 100);
    v.submit(order(2, 50), mid, 100);
    v.submit(order(3, -50), mid, 100);
    assert!(v.poll(101).is_empty(), "latency 2 s");
    let f = v.poll(102);
    assert_eq!(f.len(), 3);
    let (small, large, sell) = (&f[0], &f[1], &f[2]);
    assert!(small.price > mid && large.price > small.price && sell.price < mid);
    let expect_fee = 0.0005 * 50.0 * large.price.to_f64();
    assert!((large.fee.to_f64() - expect_fee).abs() < 1e-9);
    assert!(v.poll(1_000).is_empty(), "each fill once");
}

#[test]
fn failures_are_seeded_partial_and_reproducible() {
    let cfg = SimVenueConfig {
        failure_probability: 0.3,
        chunks: 4,
        seed: 42,
        ..SimVenueConfig::default()
    };
    let run = |cfg: &SimVenueConfig| {
        let mut v = SimVenue::new(cfg.clone());
        for i in 0..500 {
            v.submit(order(i, 4), Price::from_int(100), 0);
        }
        v.poll(u64::MAX - 1)
    };
    let a = run(&cfg);
    assert_eq!(a, run(&cfg), "same seed, same fills");
    let failed = 2_000 - a.len();
    assert!(
        (500..700).contains(&failed),
        "{failed} of 2,000 chunks failed"
    );
    assert!(a.iter().all(|f| f.size == Base::ONE));
    let other = run(&SimVenueConfig { seed: 43, ..cfg });
    assert_ne!(a, other);
}

#[test]
fn cancel_drops_what_is_unfilled() {
    let mut v = SimVenue::new(SimVenueConfig {
        chunks: 3,
        failure_probability: 0.0,
        ..SimVenueConfig::default()
    });
    v.submit(order(1, 3), Price::from_int(100), 0);
    assert_eq!(v.poll(2).len(), 1);
    v.cancel("p", "BTC", 1);
    assert!(v.poll(100).is_empty());
}

fn apply(e: &mut Engine, t: u64, v: serde_json::Value) -> Vec<Event> {
    let mut v = v;
    v["t"] = json!(t);
    let c: Command = serde_json::from_value(v.clone()).unwrap();
    e.apply(&c)
        .unwrap_or_else(|r| panic!("{v}: {} {}", r.code.as_str(), r.message))
}

/// A hedged pool whose traders go long perps over two days, hourly ticks, and a hedge loop on
/// an unreliable venue. Returns the engine, the loop's order count and fills applied.
fn run(seed: u64) -> (Engine, u64, usize) {
    let mut e = Engine::new();
    e.set_check_invariants(true);
    let mut t = 1_733_011_200;
    apply(
        &mut e,
        t,
        json!({"type": "create_pool", "pool": "p", "quote_asset": "USDC", "generation": "hedged"}),
    );
    apply(
        &mut e,
        t,
        json!({"type": "list_underlying", "pool": "p", "underlying": "BTC", "oracle_sources": ["a"]}),
    );
    apply(
        &mut e,
        t,
        json!({"type": "lp_deposit", "pool": "p", "lp": "lp", "tranche": "senior", "amount": "1000000"}),
    );
    apply(
        &mut e,
        t,
        json!({"type": "lp_deposit", "pool": "p", "lp": "lj", "tranche": "junior", "amount": "300000"}),
    );
    t += 3 * 86_400;
    let mut price = 40_000.0f64;
    apply(
        &mut e,
        t,
        json!({"type": "oracle_price", "source": "a", "asset": "BTC", "price": "40000"}),
    );
    apply(&mut e, t, json!({"type": "tick"}));
    apply(
        &mut e,
        t,
        json!({"type": "deposit", "account": "al", "asset": "USDC", "amount": "500000"}),
    );
    let mut hl = HedgeLoop::new(SimVenue::new(SimVenueConfig {
        failure_probability: 0.4,
        chunks: 3,
        seed,
        ..SimVenueConfig::default()
    }));
    let mut fills = 0;
    for hour in 0..48u64 {
        t += 3_600;
        price *= if hour % 3 == 0 { 1.01 } else { 0.997 };
        apply(
            &mut e,
            t,
            json!({"type": "oracle_price", "source": "a", "asset": "BTC", "price": format!("{price:.2}")}),
        );
        if hour % 8 == 0 {
            apply(
                &mut e,
                t,
                json!({"type": "trade", "pool": "p", "account": "al", "instrument": "BTC-PERP", "side": "buy", "size": "1.5"}),
            );
        }
        let ev = apply(&mut e, t, json!({"type": "tick"}));
        hl.on_events(&ev, e.state(), t);
        // Fills arrive within the hour; apply them at their own times.
        for c in hl.poll(t + 60, e.state().t) {
            e.apply(&c).expect("a venue fill matches the pending order");
            fills += 1;
        }
    }
    (e, hl.orders_sent(), fills)
}

#[test]
fn the_hedge_loop_converges_through_failed_and_partial_fills() {
    let (e, orders, fills) = run(7);
    let pool = &e.state().pools["p"];
    let h = &pool.hedges["BTC"];
    let delta = derivpool_engine::hedger::market_delta(&pool.markets["BTC"]).unwrap();
    // Traders hold 9 BTC long; the pool −9; the hedge (with what is pending) is within the
    // 5 % band of it.
    assert_eq!(delta, Base::from_int(-9));
    let covered = h.position.checked_add(h.pending).unwrap();
    assert!(
        (covered.to_f64() - 9.0).abs() <= 0.05 * 9.0,
        "position {} + pending {}",
        h.position,
        h.pending
    );
    assert!(h.position.to_f64() <= 9.0 + 1e-12, "never over-hedged");
    assert!(
        orders > 6,
        "failures forced re-issued orders: {orders} orders"
    );
    assert!(fills > 6);
    assert!(e.verify().is_empty());
    // Deterministic per seed.
    assert_eq!(run(7).0.state_hash(), e.state_hash());
}
