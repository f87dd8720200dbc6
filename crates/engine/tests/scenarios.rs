//! Scenario tests per mechanism, with hand-checked numbers.

mod common;
use common::*;
use derivpool_engine::Event;
use derivpool_types::Fixed;
use serde_json::json;

#[test]
fn lp_capital_is_queued_then_minted_at_one_per_share_with_dead_shares() {
    let w = World::standard();
    let pool = &w.engine.state().pools["main"];
    let senior = &pool.vault.tranches[&derivpool_engine::Tranche::Senior];
    assert_eq!(senior.book.to_string(), "1000000");
    assert_eq!(senior.holders["lp1"].to_string(), "999999.999");
    assert_eq!(senior.dead_shares.to_string(), "0.001");
    assert_eq!(pool.cash.to_string(), "1300000");
    assert!((w.nav("main") - 1_300_000.0).abs() < 1e-9);
}

#[test]
fn buying_a_call_pays_black_scholes_at_the_raised_vol_plus_fees() {
    let mut w = World::standard();
    let ev = w.apply(json!({"type": "trade", "pool": "main", "account": "alice",
        "instrument": "BTC-27DEC24-40000-C", "side": "buy", "size": "1"}));
    let Event::OptionTraded {
        premium,
        fees,
        total,
        vol,
        skew_ratio,
        base_iv_offset,
        ..
    } = &ev[0]
    else {
        panic!("{ev:?}")
    };
    // One contract = 1/5 of standard size: base IV +0.2 vol points, skew +0.15 %.
    assert_eq!(base_iv_offset.to_string(), "0.002");
    assert_eq!(skew_ratio.to_string(), "1.0015");
    let expected_vol = (0.6 + 0.002) * 1.0015;
    assert!((derivpool_types::Fixed::to_f64(*vol) - expected_vol).abs() < 1e-9);
    // BS ATM call, 23 days, 60.29 % vol: S·(2N(σ√T/2) − 1) ≈ 0.0834·S... check against pricing.
    let t = (1_735_286_400 - w.t) as f64 / (365.0 * 86_400.0);
    let bs = derivpool_pricing::bsm_price(&derivpool_pricing::BsmInputs {
        kind: derivpool_pricing::OptionKind::Call,
        spot: 40_000.0,
        strike: 40_000.0,
        t,
        rate: 0.0,
        div: 0.0,
        vol: expected_vol,
    })
    .unwrap();
    let p = derivpool_types::Fixed::to_f64(*premium);
    assert!((p - bs).abs() < 1e-6, "premium {p} vs {bs}");
    // Fees: 1 % of premium + 1 % of spot (tw = 1 under six weeks); vega fee > 0 (the pool was
    // flat and is now short vega); utilisation far below the kink.
    let f = |q: derivpool_types::Quote| derivpool_types::Fixed::to_f64(q);
    assert!((f(fees.option_price_fee) - 0.01 * p).abs() < 1e-6);
    assert!((f(fees.spot_fee) - 400.0).abs() < 1e-9);
    assert!(f(fees.vega_fee) > 0.0);
    assert_eq!(f(fees.utilisation_fee), 0.0);
    assert_eq!(*total, premium.checked_add(fees.total).unwrap());
    assert!((w.balance("alice", "USDC") - (200_000.0 - f(*total))).abs() < 1e-9);
}

#[test]
fn an_option_round_trip_at_unchanged_prices_loses_money() {
    let mut w = World::standard();
    let before = w.balance("alice", "USDC");
    for side in ["buy", "sell"] {
        w.apply(json!({"type": "trade", "pool": "main", "account": "alice",
            "instrument": "BTC-27DEC24-45000-C", "side": side, "size": "3"}));
    }
    assert!(w.balance("alice", "USDC") < before);
    assert!(w.engine.state().accounts["alice"].positions.is_empty());
}

#[test]
fn a_trader_short_locks_the_isolated_minimum_collateral_and_gets_it_back_on_close() {
    let mut w = World::standard();
    let ev = w.apply(json!({"type": "trade", "pool": "main", "account": "alice",
        "instrument": "BTC-27DEC24-35000-P", "side": "sell", "size": "2"}));
    let Event::OptionTraded {
        collateral_change,
        total,
        ..
    } = &ev[0]
    else {
        panic!()
    };
    let c = derivpool_types::Fixed::to_f64(*collateral_change);
    // Put: BS at spot 32,000 and vol × ~2.1, per contract, capped at the strike.
    assert!(c > 2.0 * 3_000.0 && c < 2.0 * 35_000.0, "{c}");
    assert!(
        (w.balance("alice", "USDC") - (200_000.0 + derivpool_types::Fixed::to_f64(*total) - c))
            .abs()
            < 1e-9
    );
    let ev = w.apply(json!({"type": "trade", "pool": "main", "account": "alice",
        "instrument": "BTC-27DEC24-35000-P", "side": "buy", "size": "2"}));
    let Event::OptionTraded {
        collateral_change, ..
    } = &ev[0]
    else {
        panic!()
    };
    assert_eq!(derivpool_types::Fixed::to_f64(*collateral_change), -c);
}

#[test]
fn perp_fill_price_follows_skew_and_a_round_trip_pays_only_fees() {
    let mut w = World::standard();
    let ev = w.apply(json!({"type": "trade", "pool": "main", "account": "alice",
        "instrument": "BTC-PERP", "side": "buy", "size": "10"}));
    let Event::PerpTraded {
        fill_price, fee, ..
    } = &ev[0]
    else {
        panic!("{ev:?}")
    };
    // skew 0 → 10 on a scale of 10,000: premium (0 + 10)/20,000 = 0.05 %.
    assert_eq!(fill_price.to_string(), "40020");
    assert_eq!(fee.to_string(), "200.1");
    let ev = w.apply(json!({"type": "trade", "pool": "main", "account": "alice",
        "instrument": "BTC-PERP", "side": "sell", "size": "10"}));
    let Event::PerpTraded {
        fill_price: close,
        realised_pnl,
        fee: fee2,
        ..
    } = &ev[0]
    else {
        panic!()
    };
    assert_eq!(close.to_string(), "40020");
    assert_eq!(realised_pnl.to_string(), "0");
    let paid = 200.1 + derivpool_types::Fixed::to_f64(*fee2);
    assert!((w.balance("alice", "USDC") - (200_000.0 - paid)).abs() < 1e-9);
}

#[test]
fn rejects_leave_the_state_unchanged() {
    let mut w = World::standard();
    w.reject(
        json!({"type": "trade", "pool": "main", "account": "alice",
        "instrument": "BTC-27DEC24-40000-C", "side": "buy", "size": "1", "limit_price": "100"}),
        "limit_price_crossed",
    );
    w.reject(
        json!({"type": "trade", "pool": "main", "account": "alice",
        "instrument": "BTC-27DEC24-30000-C", "side": "buy", "size": "1"}),
        "delta_out_of_range",
    );
    w.reject(
        json!({"type": "trade", "pool": "nope", "account": "alice",
        "instrument": "BTC-27DEC24-40000-C", "side": "buy", "size": "1"}),
        "unknown_pool",
    );
    w.reject(
        json!({"type": "withdraw", "account": "alice", "asset": "USDC", "amount": "300000"}),
        "insufficient_balance",
    );
}
