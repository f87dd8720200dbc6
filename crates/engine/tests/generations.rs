//! The three pool generations (DESIGN.md §5.13): each scenario shows what a generation accepts
//! and what it rejects with `generation_unsupported`.

mod common;
use common::*;
use derivpool_engine::Event;
use serde_json::{json, Value};

fn trade(instrument: &str, side: &str, size: &str) -> Value {
    json!({"type": "trade", "pool": "main", "account": "alice", "instrument": instrument,
        "side": side, "size": size})
}

fn hedge_orders(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HedgeOrder { underlying, .. } => Some(underlying.clone()),
            _ => None,
        })
        .collect()
}

fn list_eth() -> Value {
    json!({"type": "list_underlying", "pool": "main", "underlying": "ETH", "oracle_sources": ["a", "b", "c"]})
}

#[test]
fn static_vault_sells_covered_options_and_nothing_else() {
    let mut w = World::standard_with("static", json!({}));
    // Traders buy calls and puts; the pool writes them fully covered.
    w.apply(trade("BTC-27DEC24-40000-C", "buy", "2"));
    w.apply(trade("BTC-27DEC24-35000-P", "buy", "1"));
    let pool = &w.engine.state().pools["main"];
    let k40 = &pool.markets["BTC"].boards.values().next().unwrap().strikes;
    let locked: f64 = k40
        .values()
        .map(|s| derivpool_types::Fixed::to_f64(s.pool_locked))
        .sum();
    assert!(
        locked >= 2.0 * 40_000.0 + 35_000.0 - 1e-6,
        "covered call by spot, cash-secured put by strike: {locked}"
    );
    // Closing is allowed, in part or in whole.
    w.apply(trade("BTC-27DEC24-40000-C", "sell", "1.5"));
    w.apply(trade("BTC-27DEC24-40000-C", "sell", "0.5"));
    // Opening a short is not, nor selling more than held.
    let r = w.reject(
        trade("BTC-27DEC24-40000-C", "sell", "1"),
        "generation_unsupported",
    );
    assert!(
        r.message.contains("static") && r.message.contains("trade"),
        "{}",
        r.message
    );
    w.reject(
        trade("BTC-27DEC24-35000-P", "sell", "2"),
        "generation_unsupported",
    );
    // No perps, no hedging, one underlying.
    w.reject(trade("BTC-PERP", "buy", "1"), "generation_unsupported");
    w.reject(
        json!({"type": "hedge_fill", "pool": "main", "venue": "v", "underlying": "BTC",
            "size": "1", "price": "40000", "fee": "0"}),
        "generation_unsupported",
    );
    w.reject(list_eth(), "generation_unsupported");
    // The pool is short the put's delta, yet ticks emit no hedge orders.
    w.advance(2 * H);
    w.price("BTC", "40000");
    w.flat_vol("BTC", "27DEC24", 0.6);
    assert!(hedge_orders(&w.tick()).is_empty());
    assert_eq!(
        w.engine.metrics("main").unwrap().hedge_position,
        derivpool_types::Base::ZERO
    );
}

#[test]
fn hedged_pool_trades_options_and_perps_with_the_hedger_on_one_underlying() {
    let mut w = World::standard_with("hedged", json!({}));
    w.apply(trade("BTC-27DEC24-40000-C", "sell", "1"));
    w.apply(trade("BTC-PERP", "buy", "3"));
    assert_eq!(hedge_orders(&w.tick()), vec!["BTC".to_string()]);
    let r = w.reject(list_eth(), "generation_unsupported");
    assert!(r.message.contains("hedged"), "{}", r.message);
}

#[test]
fn cross_margin_pool_spans_underlyings_and_hedges_each() {
    let mut w = World::standard_with("cross_margin", json!({}));
    w.apply(list_eth());
    w.price("ETH", "2000");
    w.apply(trade("BTC-PERP", "buy", "2"));
    w.apply(trade("ETH-PERP", "sell", "20"));
    w.apply(trade("BTC-27DEC24-40000-C", "sell", "1"));
    let orders = hedge_orders(&w.tick());
    assert_eq!(orders, vec!["BTC".to_string(), "ETH".to_string()]);
    let m = w.engine.metrics("main").unwrap();
    assert_eq!(m.perps.len(), 2);
}

#[test]
fn quotes_apply_the_same_gates_as_trades() {
    use derivpool_engine::{Side, TradeRequest};
    let w = World::standard_with("static", json!({}));
    let req = |instrument: &'static str, side: Side| TradeRequest {
        pool: "main",
        account: "alice",
        instrument,
        side,
        size: derivpool_types::Base::ONE,
        limit_price: None,
    };
    let perp = w
        .engine
        .quote(&req("BTC-PERP", Side::Buy), w.t)
        .unwrap_err();
    assert_eq!(perp.code.as_str(), "generation_unsupported");
    let short = w
        .engine
        .quote(&req("BTC-27DEC24-40000-C", Side::Sell), w.t)
        .unwrap_err();
    assert_eq!(short.code.as_str(), "generation_unsupported");
    assert!(w
        .engine
        .quote(&req("BTC-27DEC24-40000-C", Side::Buy), w.t)
        .is_ok());
}
