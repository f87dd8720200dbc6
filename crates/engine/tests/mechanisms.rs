//! Scenario tests of settlement, funding, the LP queues, the greek cache and the breakers.

mod common;
use common::*;
use derivpool_engine::{Event, Tranche};
use derivpool_types::Fixed;
use serde_json::json;

fn f(q: impl Fixed) -> f64 {
    q.to_f64()
}

fn expiry() -> u64 {
    derivpool_engine::instrument::expiry_unix("27DEC24").unwrap()
}

/// Walks the clock to `until` hour by hour with fresh oracle data and ticks.
fn walk(w: &mut World, until: u64, spot: &str) {
    while w.t + H <= until {
        w.advance(H);
        w.price("BTC", spot);
        if w.t < expiry() {
            w.flat_vol("BTC", "27DEC24", 0.6);
        }
        w.tick();
    }
}

#[test]
fn settlement_pays_longs_charges_shorts_and_trips_the_breaker() {
    let mut w = World::standard();
    w.apply(json!({"type": "deposit", "account": "bob", "asset": "USDC", "amount": "100000"}));
    w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-27DEC24-40000-C", "side": "buy", "size": "2"}));
    w.apply(json!({"type": "trade", "pool": "main", "account": "bob", "instrument": "BTC-27DEC24-40000-P", "side": "sell", "size": "1"}));
    let bob_locked =
        f(w.engine.state().accounts["bob"].positions["main"]["BTC-27DEC24-40000-P"].collateral);
    let alice_before = w.balance("alice", "USDC");
    let bob_before = w.balance("bob", "USDC");
    // Spot ends at 43,000 (calls pay 3,000 each) ... then falls to 38,500 just before expiry.
    walk(&mut w, expiry() - 2 * H, "43000");
    w.t = expiry() - 600;
    w.price("BTC", "38500");
    w.t = expiry() + 60;
    w.price("BTC", "38000"); // after expiry: not the settlement price
    let ev = w.tick();
    let settled: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::BoardSettled { price, .. } => Some(price.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(settled, vec!["38500"]);
    // Calls expire worthless at 38,500; the put pays 1,500 out of bob's collateral.
    assert_eq!(w.balance("alice", "USDC"), alice_before);
    assert!((w.balance("bob", "USDC") - (bob_before + bob_locked - 1_500.0)).abs() < 1e-9);
    assert!(w.engine.state().accounts["alice"].positions.is_empty());
    let pool = &w.engine.state().pools["main"];
    assert!(pool.markets["BTC"].boards.is_empty());
    assert_eq!(pool.locked.to_string(), "0");
    assert_eq!(pool.breakers.active(w.t), Some("settlement"));
}

#[test]
fn a_board_without_a_recent_price_waits_for_one() {
    let mut w = World::standard();
    w.t = expiry() + 10;
    w.price("BTC", "40000");
    let ev = w.tick();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::SettlementWaiting { .. })),
        "{ev:?}"
    );
    assert_eq!(
        w.engine.state().pools["main"].markets["BTC"].boards.len(),
        1
    );
}

#[test]
fn funding_drifts_with_skew_and_longs_pay_shorts_through_the_pool() {
    let mut w = World::standard();
    w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-PERP", "side": "buy", "size": "20"}));
    // One day at skew 20 / 10,000: the rate drifts by 0.03 × 0.002 = 0.00006 per day; the index
    // grows by the average rate (0.00003) × 1 day × 40,000 = 1.2 per BTC.
    w.advance(DAY);
    w.price("BTC", "40000");
    w.tick();
    let perp = &w.engine.state().pools["main"].markets["BTC"].perp;
    assert_eq!(perp.funding_rate.to_string(), "0.00006");
    assert_eq!(perp.funding_index.to_string(), "1.2");
    // Borrow: utilisation 800,400 / 1,300,000 (reserved notional at the fill / NAV) on the kinked
    // curve's lower line, 0.5 × u per year, over one day on the entry notional.
    let entry = 20.0 * 40_040.0;
    let u = (20.0 * 40_000.0) / 1_300_000.0;
    let borrow = entry * 0.5 * u / 365.0;
    let ev = w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-PERP", "side": "sell", "size": "20"}));
    let Event::PerpTraded {
        funding_settled, ..
    } = &ev[0]
    else {
        panic!()
    };
    let perp = &w.engine.state().pools["main"].markets["BTC"].perp;
    assert_eq!(perp.funding_paid_to_pool.to_string(), "24");
    assert!(
        (f(perp.borrow_paid_to_pool) - borrow).abs() < 1e-3 * borrow,
        "{} vs {borrow}",
        perp.borrow_paid_to_pool
    );
    assert!((f(*funding_settled) - 24.0 - borrow).abs() < 1e-3 * borrow);
}

#[test]
fn a_withdrawal_pays_share_value_minus_fee_and_the_fee_stays_with_remaining_lps() {
    let mut w = World::standard();
    let before = w.engine.metrics("main").unwrap();
    let junior_price = f(before.tranches["junior"].share_price);
    w.apply(json!({"type": "lp_withdraw", "pool": "main", "lp": "lp1", "tranche": "senior", "shares": "100000"}));
    let until = w.t + 3 * DAY + H;
    walk(&mut w, until, "40000");
    let ext = w.engine.state().external["USDC"];
    // 100,000 shares at 1.0 minus 0.3 %: 99,700 paid.
    assert_eq!(f(ext.withdrawn), 99_700.0);
    let after = w.engine.metrics("main").unwrap();
    let senior = f(after.tranches["senior"].share_price);
    assert!(senior > 1.0 && senior < 1.0004, "{senior}");
    assert_eq!(f(after.tranches["junior"].share_price), junior_price);
}

#[test]
fn a_withdrawal_larger_than_free_liquidity_is_filled_in_part_and_waits() {
    let mut w = World::standard_with(
        "hedged",
        json!({"utilisation_cap": "1", "expiry_exposure_cap": "1",
        "strike_exposure_cap": "1", "pool_stress_new_risk": "1"}),
    );
    w.apply(json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": "2000000"}));
    // 30 calls lock 30 × 40,000 = 1.2M of the 1.3M.
    w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-27DEC24-40000-C", "side": "buy", "size": "30"}));
    w.apply(json!({"type": "lp_withdraw", "pool": "main", "lp": "lp2", "tranche": "junior", "shares": "299999.999"}));
    let mut paid_events = Vec::new();
    while w.t + H <= T0 + 7 * DAY {
        w.advance(H);
        w.price("BTC", "40000");
        w.flat_vol("BTC", "27DEC24", 0.6);
        for e in w.tick() {
            if let Event::LpWithdrawProcessed {
                paid,
                shares_remaining,
                ..
            } = e
            {
                paid_events.push((f(paid), f(shares_remaining)));
            }
        }
    }
    assert!(!paid_events.is_empty());
    let (paid, remaining) = paid_events[0];
    assert!(
        remaining > 0.0,
        "expected a partial fill, got {paid_events:?}"
    );
    let pool = &w.engine.state().pools["main"];
    // Paid no more than the free liquidity there was: cash still covers what is locked.
    assert!(pool.cash >= pool.locked, "{paid}");
    assert_eq!(pool.vault.withdrawal_queue.len(), 1);
}

#[test]
fn the_greek_cache_goes_stale_after_a_spot_move_and_a_tick_refreshes_it() {
    let mut w = World::standard();
    w.advance(60);
    w.price("BTC", "42500"); // +6.25 %
    w.flat_vol("BTC", "27DEC24", 0.6);
    w.reject(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-27DEC24-40000-C", "side": "buy", "size": "1"}), "greek_cache_stale");
    let ev = w.tick();
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::GreekCacheRefreshed { .. })));
    w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-27DEC24-45000-C", "side": "buy", "size": "1"}));
    // The pool is now short one 45,000 call: its cached delta is the call's delta at mark vol.
    let board = w.engine.state().pools["main"].markets["BTC"]
        .boards
        .values()
        .next()
        .unwrap();
    let s = &board.strikes[&"45000".parse().unwrap()];
    assert_eq!(board.cache.net_delta.raw(), -s.greeks.call_delta.raw());
}

#[test]
fn a_closing_trade_is_allowed_inside_the_cutoff_and_a_stale_cache() {
    let mut w = World::standard();
    w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-27DEC24-40000-C", "side": "buy", "size": "1"}));
    w.t = expiry() - 6 * H;
    w.price("BTC", "40000");
    w.flat_vol("BTC", "27DEC24", 0.6);
    w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-27DEC24-40000-C", "side": "sell", "size": "1"}));
}

#[test]
fn premiums_and_fees_are_shared_junior_two_to_one_per_unit_of_capital() {
    let mut w = World::standard();
    for _ in 0..5 {
        for side in ["buy", "sell"] {
            w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-27DEC24-45000-C", "side": side, "size": "2"}));
        }
    }
    let m = w.engine.metrics("main").unwrap();
    let gain_s = f(m.tranches["senior"].nav) - 1_000_000.0;
    let gain_j = f(m.tranches["junior"].nav) - 300_000.0;
    assert!(gain_s > 0.0 && gain_j > 0.0);
    // Junior: 2 × 300k = 600k of weight against senior's 1M.
    assert!((gain_j / gain_s - 0.6).abs() < 1e-9, "{gain_j} / {gain_s}");
    let _ = Tranche::Senior;
}

#[test]
fn the_settlement_breaker_holds_lp_flows_for_six_hours() {
    let mut w = World::standard();
    w.apply(json!({"type": "lp_deposit", "pool": "main", "lp": "late", "tranche": "senior", "amount": "1000"}));
    w.t = expiry() - 600;
    w.price("BTC", "40000");
    w.t = expiry() + 60;
    w.price("BTC", "40000");
    w.tick();
    assert_eq!(w.engine.state().pools["main"].vault.deposit_queue.len(), 1);
    w.advance(5 * H);
    w.price("BTC", "40000");
    w.tick();
    assert_eq!(w.engine.state().pools["main"].vault.deposit_queue.len(), 1);
    w.advance(2 * H);
    w.price("BTC", "40000");
    w.tick();
    assert_eq!(w.engine.state().pools["main"].vault.deposit_queue.len(), 0);
}

/// A portfolio-margined short locks no collateral: at expiry its payout comes out of its free
/// balance, not out of the pool as bad debt (a simulator finding in cross-margin pools).
#[test]
fn a_portfolio_short_pays_its_settlement_from_its_balance() {
    let mut w = World::standard();
    w.apply(json!({"type": "set_margin_mode", "account": "pm", "mode": "portfolio"}));
    w.apply(json!({"type": "deposit", "account": "pm", "asset": "USDC", "amount": "100000"}));
    w.apply(json!({"type": "trade", "pool": "main", "account": "pm", "instrument": "BTC-27DEC24-40000-P", "side": "sell", "size": "2"}));
    assert_eq!(
        w.engine.state().accounts["pm"].positions["main"]["BTC-27DEC24-40000-P"]
            .collateral
            .to_string(),
        "0"
    );
    let before = w.balance("pm", "USDC");
    w.t = expiry() - 600;
    w.price("BTC", "38000");
    w.t = expiry() + 60;
    w.price("BTC", "38000");
    w.tick();
    // The puts pay 2 × 2,000 = 4,000, from pm's balance; no bad debt.
    assert!((w.balance("pm", "USDC") - (before - 4_000.0)).abs() < 1e-9);
    assert_eq!(w.engine.state().pools["main"].bad_debt.to_string(), "0");
}
