//! Dynamic hedging (DESIGN.md §5.10): band, interaction delay, hard threshold, failed and
//! partial fills, and hedge P&L against NAV.

mod common;
use common::*;
use derivpool_engine::hedger::{market_delta, Hedge};
use derivpool_engine::Event;
use derivpool_types::{Base, Fixed};
use serde_json::{json, Value};

fn trade(instrument: &str, side: &str, size: &str) -> Value {
    json!({"type": "trade", "pool": "main", "account": "alice", "instrument": instrument,
        "side": side, "size": size})
}

fn fill(size: Base, price: &str, fee: &str) -> Value {
    json!({"type": "hedge_fill", "pool": "main", "venue": "sim", "underlying": "BTC",
        "size": size.to_string(), "price": price, "fee": fee})
}

/// The hedge orders among events: (id, size, replaces).
fn orders(events: &[Event]) -> Vec<(u64, Base, Option<u64>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HedgeOrder {
                id, size, replaces, ..
            } => Some((*id, *size, *replaces)),
            _ => None,
        })
        .collect()
}

fn hedge(w: &World) -> Hedge {
    w.engine.state().pools["main"]
        .hedges
        .get("BTC")
        .cloned()
        .unwrap_or_default()
}

fn delta(w: &World) -> Base {
    market_delta(&w.engine.state().pools["main"].markets["BTC"]).unwrap()
}

/// A standard world where alice bought 5 ATM calls and 2 BTC perps: the pool is short delta.
fn exposed() -> World {
    let mut w = World::standard();
    w.apply(trade("BTC-27DEC24-40000-C", "buy", "5"));
    w.apply(trade("BTC-PERP", "buy", "2"));
    w
}

#[test]
fn net_delta_after_a_rebalance_is_within_the_band() {
    let mut w = exposed();
    let d = delta(&w);
    assert!(d.to_f64() < -3.0, "pool delta {d}");
    let ev = w.tick();
    let o = orders(&ev);
    assert_eq!(o.len(), 1, "{ev:?}");
    let (_, size, replaces) = o[0];
    assert_eq!(replaces, None);
    assert_eq!(
        size,
        d.checked_neg().unwrap(),
        "first order hedges the whole delta"
    );
    assert_eq!(hedge(&w).pending, size);
    assert_eq!(
        w.engine.metrics("main").unwrap().hedge_gap,
        size,
        "pending is not done"
    );
    w.apply(fill(size, "40010", "20"));
    assert_eq!(w.engine.metrics("main").unwrap().hedge_gap, Base::ZERO);
    let h = hedge(&w);
    assert_eq!(h.position, size);
    assert!(h.pending.is_zero());
    let residual = delta(&w).checked_add(h.position).unwrap();
    assert!(
        residual.to_f64().abs() <= 0.05 * delta(&w).to_f64().abs(),
        "residual delta {residual}"
    );
    assert_eq!(w.engine.metrics("main").unwrap().hedge_position, h.position);
    // Hedged and within the band: later ticks send nothing.
    w.advance(2 * H);
    w.price("BTC", "40000");
    w.flat_vol("BTC", "27DEC24", 0.6);
    assert!(orders(&w.tick()).is_empty());
}

#[test]
fn no_rebalance_inside_the_delay_below_the_threshold_but_at_once_above_it() {
    let mut w = exposed();
    let (_, size, _) = orders(&w.tick())[0];
    w.apply(fill(size, "40000", "0"));
    // A small new exposure, ten minutes later: outside the band, inside the delay.
    w.advance(600);
    w.price("BTC", "40000");
    w.apply(trade("BTC-PERP", "buy", "1"));
    assert!(orders(&w.tick()).is_empty(), "inside the delay");
    // A large one (5 BTC = 200,000 > 10 % of NAV): hedged at once.
    w.apply(json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": "500000"}));
    w.apply(trade("BTC-PERP", "buy", "5"));
    let o = orders(&w.tick());
    assert_eq!(o.len(), 1, "beyond the threshold");
    assert!(
        (o[0].1.to_f64() - 6.0).abs() < 0.01,
        "the whole gap, 1 + 5 BTC (plus the options' delta drift): {}",
        o[0].1
    );
    w.apply(fill(o[0].1, "40000", "0"));
    // Once the delay has passed, a small gap is ordered too.
    w.apply(trade("BTC-PERP", "buy", "1"));
    w.advance(30 * 60);
    w.price("BTC", "40000");
    assert!(orders(&w.tick()).is_empty(), "30 min after the last order");
    w.advance(31 * 60);
    w.price("BTC", "40000");
    w.flat_vol("BTC", "27DEC24", 0.6);
    let o = orders(&w.tick());
    assert_eq!(o.len(), 1, "after the delay");
    assert!((o[0].1.to_f64() - 1.0).abs() < 0.01, "{}", o[0].1);
}

#[test]
fn failed_fill_is_retried_and_never_double_counted() {
    let mut w = exposed();
    let (id, size, _) = orders(&w.tick())[0];
    assert_eq!(id, 1);
    // The venue fills 40 % and then fails.
    let part = Base::from_raw(size.raw() * 2 / 5);
    w.apply(fill(part, "40000", "5"));
    let rest = size.checked_sub(part).unwrap();
    assert_eq!(hedge(&w).pending, rest);
    // More than what is pending is refused; so is the wrong direction.
    w.reject(fill(size, "40000", "5"), "hedge_fill_unmatched");
    w.reject(
        fill(part.checked_neg().unwrap(), "40000", "5"),
        "hedge_fill_unmatched",
    );
    // Inside the delay the pending order stands.
    w.advance(30 * 60);
    w.price("BTC", "40000");
    assert!(orders(&w.tick()).is_empty());
    // After the delay it is re-issued for what is still missing, replacing order 1.
    w.advance(31 * 60);
    w.price("BTC", "40000");
    w.flat_vol("BTC", "27DEC24", 0.6);
    let o = orders(&w.tick());
    assert_eq!(o.len(), 1);
    let (id2, size2, replaces) = o[0];
    assert_eq!((id2, replaces), (2, Some(1)));
    let target = delta(&w).checked_neg().unwrap();
    assert_eq!(size2, target.checked_sub(part).unwrap());
    assert_eq!(hedge(&w).pending, size2, "replaced, not added");
    w.apply(fill(size2, "40000", "5"));
    assert_eq!(hedge(&w).position, target);
    // A late fill of the failed order is refused: nothing is pending.
    w.reject(fill(rest, "40000", "5"), "hedge_fill_unmatched");
    assert_eq!(hedge(&w).fees_paid, derivpool_types::Quote::from_int(10));
}

#[test]
fn hedge_pnl_reconciles_with_nav() {
    let mut w = World::standard();
    w.apply(trade("BTC-PERP", "buy", "2"));
    let (_, size, _) = orders(&w.tick())[0];
    assert_eq!(size, Base::from_int(2));
    let stress_unhedged = w.engine.metrics("main").unwrap().pool_stress_loss;
    let ext0 = w.engine.state().external["USDC"];
    let nav0 = w.engine.metrics("main").unwrap().nav;
    w.apply(fill(size, "40000", "8"));
    let nav1 = w.engine.metrics("main").unwrap().nav;
    // The pool's stress test counts the hedge: a perp book hedged one for one loses nothing
    // under spot shocks.
    let stress_hedged = w.engine.metrics("main").unwrap().pool_stress_loss;
    assert!(stress_unhedged.to_f64() > 1_000.0, "{stress_unhedged}");
    assert!(stress_hedged.to_f64() < 1e-6, "{stress_hedged}");
    // Opening pays only the fee.
    assert_eq!(
        nav0.checked_sub(nav1).unwrap().raw(),
        8 * derivpool_types::SCALE
    );
    // Spot +5 %: the hedge gains 2 × 2,000 = 4,000 in NAV.
    w.price("BTC", "42000");
    let m = w.engine.metrics("main").unwrap();
    let pool = &w.engine.state().pools["main"];
    let hv = derivpool_engine::hedger::hedge_value(w.engine.state(), pool).unwrap();
    assert_eq!(hv, derivpool_types::Quote::from_int(4_000));
    let nav2 = m.nav;
    // Alice closes; the hedger unwinds. Closing at the mark realises exactly the unrealised
    // value: NAV moves by the fee only.
    w.apply(trade("BTC-PERP", "sell", "2"));
    assert!(
        orders(&w.tick()).is_empty(),
        "inside the delay, below the threshold"
    );
    w.advance(H);
    w.price("BTC", "42000");
    let o = orders(&w.tick());
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].1, Base::from_int(-2));
    let nav2b = w.engine.metrics("main").unwrap().nav;
    let cash2b = w.engine.state().pools["main"].cash;
    w.apply(fill(Base::from_int(-2), "42000", "8"));
    let nav3 = w.engine.metrics("main").unwrap().nav;
    assert_eq!(
        nav2b.checked_sub(nav3).unwrap().raw(),
        8 * derivpool_types::SCALE
    );
    let h = hedge(&w);
    assert!(h.position.is_zero() && h.entry_value.is_zero());
    assert_eq!(h.realised_pnl, derivpool_types::Quote::from_int(4_000));
    // Cash and the external ledger: +4,000 in, 8 + 8 of fees out.
    let cash3 = w.engine.state().pools["main"].cash;
    let ext3 = w.engine.state().external["USDC"];
    assert_eq!(
        cash3.raw() - cash2b.raw(),
        (4_000 - 8) * derivpool_types::SCALE
    );
    assert_eq!(
        ext3.deposited.raw() - ext0.deposited.raw(),
        4_000 * derivpool_types::SCALE
    );
    assert_eq!(
        ext3.withdrawn.raw() - ext0.withdrawn.raw(),
        16 * derivpool_types::SCALE
    );
    assert_eq!(
        nav2, nav1,
        "fully hedged: the hedge gain offsets the perp loss exactly"
    );
    assert!(w.engine.verify().is_empty());
}
