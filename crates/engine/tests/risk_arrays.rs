//! The pool's stress-scenario values as risk arrays (crate::pool_risk): priced where the pool
//! holds a position, lazily where it does not, and re-priced by a refresh only when spot, the
//! mark vol or time has moved far enough.

mod common;

use common::{World, H};
use derivpool_engine::pool_risk::{anchored_values, scenario_count, stress_loss};
use derivpool_engine::state::Strike;
use derivpool_types::{Fixed, Price};
use serde_json::json;

fn strike(w: &World, k: &str) -> Strike {
    let state = w.engine.state();
    let board = state.pools["main"].markets["BTC"]
        .boards
        .values()
        .next()
        .unwrap();
    board.strikes[&k.parse::<Price>().unwrap()].clone()
}

fn refresh(w: &mut World, hours: u64, price: &str) {
    w.advance(hours * H);
    w.price("BTC", price);
    w.flat_vol("BTC", "27DEC24", 0.6);
    w.tick();
}

fn buy_call(w: &mut World, k: &str) {
    w.apply(json!({"type": "trade", "pool": "main", "account": "alice",
        "instrument": format!("BTC-27DEC24-{k}-C"), "side": "buy", "size": "1"}));
}

/// A strike the pool holds nothing at keeps no values; a trade there prices them exactly as
/// the eager path would (the same anchor: the board's last refresh), and the pool's stress loss
/// then counts them.
#[test]
fn unheld_strikes_are_priced_when_the_pool_takes_a_position() {
    let mut w = World::standard();
    let count = scenario_count(&w.engine.state().pools["main"].params);
    assert_eq!(count, 29, "9 spot shocks × 3 vols + 2 tails");
    let before = strike(&w, "45000");
    assert!(before.scenario_call.is_empty() && before.scenario_put.is_empty());
    let loss_before = stress_loss(w.engine.state(), &w.engine.state().pools["main"], None);
    assert_eq!(loss_before, 0.0, "an empty book loses nothing");

    buy_call(&mut w, "45000");
    let s = strike(&w, "45000");
    assert_eq!(s.scenario_call.len(), count);
    let state = w.engine.state();
    let market = &state.pools["main"].markets["BTC"];
    let board = market.boards.values().next().unwrap();
    let (calls, puts, anchor) = anchored_values(board, &s, &market.params)
        .unwrap()
        .expect("the board was refreshed");
    assert_eq!(&s.scenario_call[..], &calls[..]);
    assert_eq!(&s.scenario_put[..], &puts[..]);
    assert_eq!(s.scenario_anchor, anchor);
    assert_eq!(anchor.t, board.cache.refreshed_t);
    // Written calls lose when spot rises: the +20 % point is worth more than the unshocked one.
    let base = derivpool_engine::pool_risk::base_index(&market.params);
    assert!(calls[base + 12] > calls[base]);
    let loss = stress_loss(state, &state.pools["main"], None);
    assert!(loss > 0.0, "the pool's short call shows in its stress loss");

    // Untouched strikes still hold nothing.
    assert!(strike(&w, "30000").scenario_call.is_empty());
}

/// A refresh re-prices a held strike's values only when due: not for a quiet hour, yes after
/// a spot move above 1 %, after the cache's max age (3 h), and on every refresh when both
/// thresholds are 0.
#[test]
fn held_strikes_are_repriced_only_when_due() {
    let mut w = World::standard();
    buy_call(&mut w, "40000");
    let anchored = strike(&w, "40000").scenario_anchor;
    assert_eq!(
        anchored.t, w.t,
        "priced by the trade at the last refresh (the same time)"
    );
    refresh(&mut w, 1, "40000");
    assert_eq!(
        strike(&w, "40000").scenario_anchor,
        anchored,
        "nothing moved"
    );
    refresh(&mut w, 1, "40200"); // +0.5 %
    assert_eq!(
        strike(&w, "40000").scenario_anchor,
        anchored,
        "a quiet hour keeps them"
    );
    refresh(&mut w, 1, "40700"); // +1.75 % from the anchor
    let moved = strike(&w, "40000").scenario_anchor;
    assert_eq!(moved.t, w.t, "a spot move beyond 1 % re-prices");
    assert!(
        (moved.spot.to_f64() - 40_700.0).abs() < 1e-6,
        "{}",
        moved.spot
    );

    refresh(&mut w, 2, "40700");
    assert_eq!(strike(&w, "40000").scenario_anchor, moved);
    refresh(&mut w, 2, "40700"); // 4 h old: beyond the 3 h max age
    assert_eq!(strike(&w, "40000").scenario_anchor.t, w.t);

    let mut exact = World::standard_with(
        "hedged",
        json!({"scenario_refresh_move": "0", "scenario_refresh_vol": "0"}),
    );
    buy_call(&mut exact, "40000");
    for _ in 0..3 {
        refresh(&mut exact, 1, "40000");
        assert_eq!(strike(&exact, "40000").scenario_anchor.t, exact.t);
    }
}

/// Values priced lazily for a trade's check are the ones the trade then stores: quoting a
/// trade at an unheld strike changes nothing, and the quote's stress check and the applied
/// trade's agree (the trade is accepted, and a second quote after it sees the stored values).
#[test]
fn lazy_values_for_a_quote_leave_the_state_unchanged() {
    let mut w = World::standard();
    let hash = w.engine.state_hash();
    let req = derivpool_engine::TradeRequest {
        pool: "main",
        account: "alice",
        instrument: "BTC-27DEC24-35000-P",
        side: derivpool_engine::Side::Buy,
        size: "2".parse().unwrap(),
        limit_price: None,
    };
    let quoted = w.engine.quote(&req, w.t).expect("quote");
    assert_eq!(
        w.engine.state_hash(),
        hash,
        "a quote prices nothing into the state"
    );
    w.apply(json!({"type": "trade", "pool": "main", "account": "alice",
        "instrument": "BTC-27DEC24-35000-P", "side": "buy", "size": "2"}));
    let s = strike(&w, "35000");
    assert_eq!(s.scenario_put.len(), 29);
    assert!(s.scenario_put.iter().all(|v| !v.is_negative()));
    // The stored values are what the quote priced lazily: both come from the board's anchor.
    let state = w.engine.state();
    let market = &state.pools["main"].markets["BTC"];
    let board = market.boards.values().next().unwrap();
    let (_, puts, _) = anchored_values(board, &s, &market.params).unwrap().unwrap();
    assert_eq!(&s.scenario_put[..], &puts[..]);
    assert!(matches!(quoted, derivpool_engine::TradeQuote::Option(_)));
}

/// A helped tick prices the due values ahead on the state it starts from: every value the tick's
/// refresh then asks for was guessed right (the same strike, the same anchor), so the helped
/// and the plain engine end in the same state; a guess with another anchor is never used.
#[test]
fn values_priced_ahead_are_the_ones_the_refresh_asks_for() {
    use derivpool_engine::pool_risk::{price_due_ahead, values_at, write_due};
    let mut plain = World::standard();
    let mut helped = World::standard();
    helped
        .engine
        .set_helper(Some(derivpool_engine::Helper::new()));
    for w in [&mut plain, &mut helped] {
        buy_call(w, "45000");
        buy_call(w, "40000");
        // Spot moves 3 %: the values of both held strikes are due at the next tick.
        w.advance(H);
        w.price("BTC", "41200");
        w.flat_vol("BTC", "27DEC24", 0.6);
    }
    let now = plain.engine.state().t;
    let ahead = price_due_ahead(plain.engine.state(), now, None);
    assert_eq!(ahead.len(), 2, "both held strikes are due");
    plain.tick();
    helped.tick();
    assert_eq!(plain.engine.state_hash(), helped.engine.state_hash());
    let state = plain.engine.state();
    let board = |e| &state.pools["main"].markets["BTC"].boards[&e];
    for (due, (calls, puts)) in &ahead {
        let s = &board(due.expiry_t).strikes[&due.strike];
        assert_eq!(s.scenario_anchor, due.anchor);
        assert_eq!(&s.scenario_call[..], &calls[..]);
        assert_eq!(&s.scenario_put[..], &puts[..]);
    }
    // A guess priced at another anchor is ignored: the value written is the due anchor's.
    let (due, _) = ahead[0].clone();
    let mut wrong = due.clone();
    wrong.anchor.vol =
        derivpool_types::Ratio::from_f64(0.9, derivpool_types::Rounding::Down).unwrap();
    let params = state.pools["main"].markets["BTC"].params.clone();
    let wrong_values = values_at(wrong.strike, wrong.expiry_t, &wrong.anchor, &params).unwrap();
    let right = values_at(due.strike, due.expiry_t, &due.anchor, &params).unwrap();
    assert_ne!(&right.0[..], &wrong_values.0[..]);
    let mut copy = state.clone();
    write_due(&mut copy, vec![due.clone()], vec![(wrong, wrong_values)]).unwrap();
    let s = &copy.pools["main"].markets["BTC"].boards[&due.expiry_t].strikes[&due.strike];
    assert_eq!(&s.scenario_call[..], &right.0[..]);
}

/// A risk array serialises as its values alone (the state hash does not see the floats kept
/// beside them), reads back equal, and its floats are the values' `to_f64`.
#[test]
fn risk_arrays_serialise_as_their_values() {
    use derivpool_engine::state::RiskArray;
    let prices: Vec<Price> = ["1.5", "0", "62000.000000000000000001"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    let array = RiskArray::from(prices.clone());
    let json = serde_json::to_string(&array).unwrap();
    assert_eq!(json, serde_json::to_string(&prices).unwrap());
    let back: RiskArray = serde_json::from_str(&json).unwrap();
    assert_eq!(back, array);
    assert_eq!(&back[..], &prices[..]);
    let floats: Vec<f64> = prices.iter().map(|p| p.to_f64()).collect();
    assert_eq!(back.floats(), &floats[..]);
    assert_ne!(RiskArray::from(prices[..2].to_vec()), array);
}
