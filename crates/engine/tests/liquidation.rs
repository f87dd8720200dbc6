//! Liquidation, the loss waterfall, ADL and the oracle guard rails, as named scenarios; and the
//! exploit regressions of the margin issue (each asserts the attacker does not profit and the
//! pool's loss stays within its limits).

mod common;
use common::*;
use derivpool_engine::margin::{account_health, PriceBasis};
use derivpool_engine::Event;
use derivpool_types::{Fixed, Quote};
use serde_json::json;

fn f(q: impl Fixed) -> f64 {
    q.to_f64()
}

fn health(w: &World, account: &str) -> derivpool_engine::margin::Health {
    account_health(w.engine.state(), account, "USDC", PriceBasis::Median).unwrap()
}

fn liquidate(w: &mut World, liquidator: &str, account: &str) -> Vec<Event> {
    w.apply(
        json!({"type": "liquidate", "pool": "main", "liquidator": liquidator, "account": account}),
    )
}

#[test]
fn liquidation_restores_health_and_splits_the_penalty_40_30_30() {
    let mut w = World::crashed();
    let before = health(&w, "bob");
    assert!(before.maintenance < Quote::ZERO, "{before:?}");
    let since = w.engine.state().accounts["bob"]
        .liquidatable_since
        .expect("marked by tick");
    let fund_before = f(w.engine.state().pools["main"].insurance_fund);
    let ev = liquidate(&mut w, "carol", "bob");
    let Some(Event::Liquidated {
        fraction,
        bid,
        to_liquidator,
        to_insurance_fund,
        to_pool,
        health_after,
        ..
    }) = ev
        .iter()
        .find(|e| matches!(e, Event::Liquidated { .. }))
        .cloned()
    else {
        panic!("{ev:?}")
    };
    assert!(
        f(fraction) > 0.0 && f(fraction) < 1.0,
        "partial: {fraction}"
    );
    // Bid: 95 % falling to 70 % over 15 minutes since the account became liquidatable.
    let progress = ((w.t - since) as f64 / 900.0).min(1.0);
    assert!((f(bid) - (0.95 - 0.25 * progress)).abs() < 1e-12);
    let discount = f(to_liquidator) + f(to_insurance_fund) + f(to_pool);
    assert!((f(to_liquidator) / discount - 0.4).abs() < 1e-6);
    assert!((f(to_insurance_fund) / discount - 0.3).abs() < 1e-6);
    assert!((f(to_pool) / discount - 0.3).abs() < 1e-6);
    assert!(health_after >= Quote::ZERO, "{health_after}");
    assert!(health(&w, "bob").maintenance >= Quote::ZERO);
    assert!(health(&w, "carol").initial >= Quote::ZERO);
    assert!(
        (f(w.engine.state().pools["main"].insurance_fund) - fund_before - f(to_insurance_fund))
            .abs()
            < 1e-9
    );
    // A second call finds bob healthy.
    w.reject(
        json!({"type": "liquidate", "pool": "main", "liquidator": "carol", "account": "bob"}),
        "not_liquidatable",
    );
}

#[test]
fn the_dutch_auction_bid_reaches_seventy_percent_after_fifteen_minutes() {
    let mut w = World::crashed();
    w.advance(20 * 60);
    w.price("BTC", "36500");
    let ev = liquidate(&mut w, "carol", "bob");
    let bid = ev.iter().find_map(|e| match e {
        Event::Liquidated { bid, .. } => Some(*bid),
        _ => None,
    });
    assert_eq!(bid.unwrap().to_string(), "0.7");
}

#[test]
fn one_bad_print_liquidates_nobody_and_trips_the_oracle_breaker() {
    let mut w = World::standard();
    w.apply(json!({"type": "deposit", "account": "bob", "asset": "USDC", "amount": "20000"}));
    w.apply(json!({"type": "deposit", "account": "carol", "asset": "USDC", "amount": "100000"}));
    w.apply(json!({"type": "trade", "pool": "main", "account": "bob", "instrument": "BTC-PERP", "side": "buy", "size": "4"}));
    w.advance(H);
    w.price("BTC", "40000");
    w.tick();
    // Every source 30 % off for one update.
    w.advance(60);
    let mut tripped = false;
    for src in ["a", "b", "c"] {
        for e in w
            .apply(json!({"type": "oracle_price", "source": src, "asset": "BTC", "price": "28000"}))
        {
            tripped |=
                matches!(e, Event::BreakerTripped { ref breaker, .. } if breaker == "oracle:BTC");
        }
    }
    assert!(tripped, "the jump must trip the oracle breaker");
    assert!(
        health(&w, "bob").maintenance < Quote::ZERO,
        "under maintenance at the bad print"
    );
    w.reject(
        json!({"type": "liquidate", "pool": "main", "liquidator": "carol", "account": "bob"}),
        "not_liquidatable",
    );
    w.tick();
    w.advance(60);
    w.price("BTC", "40000");
    w.tick();
    assert!(w.engine.state().accounts["bob"]
        .positions
        .contains_key("main"));
    assert!(health(&w, "bob").maintenance > Quote::ZERO);
}

#[test]
fn a_real_crash_of_the_same_size_over_an_hour_does_liquidate() {
    let mut w = World::standard();
    w.apply(json!({"type": "deposit", "account": "bob", "asset": "USDC", "amount": "20000"}));
    w.apply(json!({"type": "deposit", "account": "carol", "asset": "USDC", "amount": "200000"}));
    w.apply(json!({"type": "trade", "pool": "main", "account": "bob", "instrument": "BTC-PERP", "side": "buy", "size": "4"}));
    // −30 % in 5-minute steps of about −2.9 %, each under the breaker's 15 %.
    let mut px = 40_000.0f64;
    for _ in 0..12 {
        w.advance(300);
        px *= 0.7f64.powf(1.0 / 12.0);
        w.price("BTC", &format!("{px:.2}"));
    }
    w.advance(300);
    w.price("BTC", &format!("{px:.2}"));
    w.tick();
    let ev = liquidate(&mut w, "carol", "bob");
    assert!(
        ev.iter().any(|e| matches!(e, Event::Liquidated { .. })),
        "{ev:?}"
    );
}

/// A whale's loss larger than the insurance fund drains the fund first, then junior; senior
/// loses only after junior is gone. The harness checks conservation after every command.
#[test]
fn the_waterfall_drains_insurance_then_junior_then_senior() {
    let mut w = World::standard();
    // Seed the insurance fund with a first liquidation's penalty.
    w.apply(json!({"type": "deposit", "account": "bob", "asset": "USDC", "amount": "20000"}));
    w.apply(json!({"type": "deposit", "account": "carol", "asset": "USDC", "amount": "100000"}));
    w.apply(json!({"type": "deposit", "account": "whale", "asset": "USDC", "amount": "120000"}));
    w.apply(json!({"type": "trade", "pool": "main", "account": "bob", "instrument": "BTC-PERP", "side": "buy", "size": "4"}));
    w.apply(json!({"type": "trade", "pool": "main", "account": "whale", "instrument": "BTC-PERP", "side": "buy", "size": "18"}));
    let mut px = 40_000.0f64;
    while px > 36_500.0 {
        w.advance(H);
        px -= 700.0;
        w.price("BTC", &format!("{px:.0}"));
        w.tick();
    }
    w.advance(15 * 60); // let the TWAP catch up with the move
    w.price("BTC", &format!("{px:.0}"));
    liquidate(&mut w, "carol", "bob");
    let fund = f(w.engine.state().pools["main"].insurance_fund);
    assert!(fund > 0.0);
    let m0 = w.engine.metrics("main").unwrap();
    let junior0 = f(m0.tranches["junior"].nav);
    let senior0 = f(m0.tranches["senior"].nav);
    // Crash to 20,000: the whale's loss (about 18 × 20,000 = 360,000) far exceeds its 120,000.
    while px > 20_000.0 {
        w.advance(H);
        px = (px * 0.9).max(20_000.0);
        w.price("BTC", &format!("{px:.0}"));
        w.tick();
    }
    w.advance(15 * 60);
    w.price("BTC", &format!("{px:.0}"));
    let m_before = w.engine.metrics("main").unwrap();
    let ev = liquidate(&mut w, "carol", "whale");
    let layers: Vec<(String, f64)> = ev
        .iter()
        .filter_map(|e| match e {
            Event::BadDebtPaid { layer, amount, .. } => Some((layer.clone(), f(*amount))),
            _ => None,
        })
        .collect();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Liquidated { bankrupt: true, .. })),
        "{ev:?}"
    );
    assert_eq!(layers[0].0, "insurance_fund");
    assert!(
        (layers[0].1 - fund).abs() < 1e-9,
        "the fund pays all it has first"
    );
    assert_eq!(f(w.engine.state().pools["main"].insurance_fund), 0.0);
    let junior_paid = layers
        .iter()
        .find(|l| l.0 == "junior")
        .map(|l| l.1)
        .unwrap_or(0.0);
    let senior_paid = layers
        .iter()
        .find(|l| l.0 == "senior")
        .map(|l| l.1)
        .unwrap_or(0.0);
    assert!(junior_paid > 0.0);
    let m1 = w.engine.metrics("main").unwrap();
    let (j0, s0) = (
        f(m_before.tranches["junior"].nav),
        f(m_before.tranches["senior"].nav),
    );
    let (j1, s1) = (f(m1.tranches["junior"].nav), f(m1.tranches["senior"].nav));
    // Each tranche lost exactly what the waterfall says it paid (the fund's payment made the
    // pool whole for its part).
    assert!(
        (j0 - j1 - junior_paid).abs() < 1e-6,
        "junior {j0} → {j1}, paid {junior_paid}"
    );
    assert!(
        (s0 - s1 - senior_paid).abs() < 1e-6,
        "senior {s0} → {s1}, paid {senior_paid}"
    );
    if senior_paid > 0.0 {
        assert!(j1 <= 1e-6, "senior pays only once junior is gone");
    }
    let _ = (junior0, senior0);
    let paid = &w.engine.state().pools["main"].bad_debt_paid;
    assert!((f(paid.insurance_fund) - layers[0].1).abs() < 1e-9);
    assert!(w.engine.verify().is_empty());
}

#[test]
fn adl_reduces_the_most_profitable_positions_back_under_the_target() {
    let mut w = World::new();
    w.apply(
        json!({"type": "create_pool", "pool": "main", "quote_asset": "USDC", "generation": "hedged",
        "params": {"adl_trigger": "0.05", "adl_target": "0.04", "oracle_breaker_jump": "0.5"}}),
    );
    w.apply(json!({"type": "list_underlying", "pool": "main", "underlying": "BTC", "oracle_sources": ["a", "b", "c"]}));
    w.apply(json!({"type": "lp_deposit", "pool": "main", "lp": "lp1", "tranche": "senior", "amount": "1000000"}));
    w.apply(json!({"type": "lp_deposit", "pool": "main", "lp": "lp2", "tranche": "junior", "amount": "300000"}));
    w.advance(3 * DAY);
    w.price("BTC", "40000");
    w.tick();
    w.apply(json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": "200000"}));
    w.apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-PERP", "side": "buy", "size": "20"}));
    for px in ["42000", "44000", "46000", "46000"] {
        w.advance(H);
        w.price("BTC", px);
        w.tick();
    }
    // Profit 20 × 6,000 = 120,000 > 5 % of NAV: ADL must have cut it to about 4 %.
    let state = w.engine.state();
    let nav = w.nav("main");
    let pos = &state.accounts["alice"].positions["main"]["BTC-PERP"];
    let profit = f(pos.size) * 46_000.0 - f(pos.entry_value);
    assert!(f(pos.size) < 20.0, "reduced");
    assert!(profit <= 0.05 * nav + 1.0, "{profit} vs {nav}");
}

// ---- exploit regressions ----

/// Mango (2022): two colluding accounts self-trade, then pump the oracle 20× in a few ticks and
/// try to withdraw against the unrealised profit.
#[test]
fn mango_pump_and_withdraw_does_not_profit() {
    let mut w = World::standard();
    for a in ["longer", "shorter"] {
        w.apply(json!({"type": "deposit", "account": a, "asset": "USDC", "amount": "50000"}));
    }
    w.apply(json!({"type": "trade", "pool": "main", "account": "longer", "instrument": "BTC-PERP", "side": "buy", "size": "5"}));
    w.apply(json!({"type": "trade", "pool": "main", "account": "shorter", "instrument": "BTC-PERP", "side": "sell", "size": "5"}));
    let nav0 = w.nav("main");
    let mut px = 40_000.0f64;
    for _ in 0..4 {
        w.advance(60);
        px *= 20f64.powf(0.25);
        w.price("BTC", &format!("{px:.0}"));
        w.tick();
    }
    // Try to take out more than was put in, at every size down to the deposit.
    let mut withdrawn = 0.0;
    for amount in ["10000000", "1000000", "200000", "100000", "60000", "50000"] {
        if w.try_apply(
            json!({"type": "withdraw", "account": "longer", "asset": "USDC", "amount": amount}),
        )
        .is_ok()
        {
            withdrawn += amount.parse::<f64>().unwrap();
        }
    }
    // New risk is refused while the breaker holds.
    let r = w
        .try_apply(json!({"type": "trade", "pool": "main", "account": "longer", "instrument": "BTC-PERP", "side": "buy", "size": "1"}))
        .unwrap_err();
    assert!(
        matches!(r.code.as_str(), "oracle_breaker" | "oracle_divergence"),
        "{r:?}"
    );
    assert!(
        withdrawn <= 50_000.0,
        "withdrew {withdrawn} of a 50,000 deposit"
    );
    let attacker_cash = w.balance("longer", "USDC") + w.balance("shorter", "USDC") + withdrawn;
    assert!(attacker_cash <= 100_000.0, "{attacker_cash}");
    // The pool's side is flat (long = short), so its NAV moves only by fees and funding.
    assert!((w.nav("main") - nav0).abs() < 0.01 * nav0);
}

/// GMX v1 (2022): open the largest allowed perp, push the oracle +3 %, close.
#[test]
fn gmx_open_max_push_oracle_close_does_not_profit() {
    let mut w = World::standard();
    w.apply(json!({"type": "deposit", "account": "attacker", "asset": "USDC", "amount": "400000"}));
    let before = w.balance("attacker", "USDC");
    // Largest allowed: the reserve factor caps the skew at 0.9 × NAV = 1.17M ≈ 29 BTC.
    let mut size = 29.0;
    while w
        .try_apply(
            json!({"type": "trade", "pool": "main", "account": "attacker", "instrument": "BTC-PERP",
        "side": "buy", "size": format!("{size:.1}")}),
        )
        .is_err()
    {
        size -= 1.0;
        assert!(size > 0.0);
    }
    // The attacker controls one of three feeds and pushes it +3 %; the median does not move.
    w.advance(30);
    w.apply(json!({"type": "oracle_price", "source": "a", "asset": "BTC", "price": "41200"}));
    w.apply(json!({"type": "oracle_price", "source": "b", "asset": "BTC", "price": "40000"}));
    w.apply(json!({"type": "oracle_price", "source": "c", "asset": "BTC", "price": "40000"}));
    w.apply(
        json!({"type": "trade", "pool": "main", "account": "attacker", "instrument": "BTC-PERP",
        "side": "sell", "size": format!("{size:.1}")}),
    );
    assert!(w.balance("attacker", "USDC") < before);
}

/// Hegic (2020): deposit as LP, buy puts, queue a withdrawal, and exercise after a drop. The LP
/// exit is priced at processing, after the loss, like every other LP's.
#[test]
fn hegic_lp_deposit_buy_withdraw_exercise_sandwich_does_not_profit() {
    let mut w = World::standard();
    w.apply(json!({"type": "lp_deposit", "pool": "main", "lp": "attacker", "tranche": "junior", "amount": "100000"}));
    w.advance(3 * DAY);
    w.price("BTC", "40000");
    w.flat_vol("BTC", "27DEC24", 0.6);
    w.tick();
    let shares = w.engine.state().pools["main"].vault.tranches[&derivpool_engine::Tranche::Junior]
        .holders["attacker"];
    w.apply(json!({"type": "deposit", "account": "attacker", "asset": "USDC", "amount": "50000"}));
    let ev = w.apply(json!({"type": "trade", "pool": "main", "account": "attacker", "instrument": "BTC-27DEC24-40000-P", "side": "buy", "size": "5"}));
    let Event::OptionTraded { total, .. } = &ev[0] else {
        panic!()
    };
    let cost = f(*total);
    w.apply(json!({"type": "lp_withdraw", "pool": "main", "lp": "attacker", "tranche": "junior", "shares": shares.to_string()}));
    // Price falls 10 % and stays; the withdrawal is processed after its delay, after the drop.
    let mut paid = 0.0;
    let mut price_at_exit = 0.0;
    let mut other_price = 0.0;
    for _ in 0..(4 * 24) {
        w.advance(H);
        w.price("BTC", "36000");
        w.flat_vol("BTC", "27DEC24", 0.6);
        for e in w.tick() {
            if let Event::LpWithdrawProcessed {
                lp,
                paid: p,
                share_price,
                ..
            } = e
            {
                if lp == "attacker" {
                    paid += f(p);
                    price_at_exit = f(share_price);
                    other_price =
                        f(w.engine.metrics("main").unwrap().tranches["junior"].share_price);
                }
            }
        }
    }
    assert!(paid > 0.0);
    // No better price than the LPs who stay (they also keep the exit fee).
    assert!(
        price_at_exit <= other_price,
        "{price_at_exit} vs {other_price}"
    );
    // The put's value at 36,000 is what any trader would earn; the LP leg only lost.
    assert!(
        paid < 100_000.0,
        "the LP leg bore its share of the pool's loss: {paid}"
    );
    let put_value = 5.0 * 4_000.0; // at least intrinsic; marked at expiry in settlement
    assert!(paid - 100_000.0 + put_value - cost < put_value - cost + 1e-6);
}

/// A donation cannot move the share price: there is no command that gives the pool money for
/// nothing, and collateral deposited to an account named like the pool stays that account's.
#[test]
fn a_donation_does_not_move_the_share_price() {
    let mut w = World::standard();
    let before = w.engine.metrics("main").unwrap();
    w.apply(json!({"type": "deposit", "account": "main", "asset": "USDC", "amount": "1000000"}));
    let after = w.engine.metrics("main").unwrap();
    assert_eq!(
        before.tranches["senior"].share_price,
        after.tranches["senior"].share_price
    );
    assert_eq!(
        before.tranches["junior"].share_price,
        after.tranches["junior"].share_price
    );
    assert_eq!(before.nav, after.nav);
}

/// 100,000 dust-sized perp round trips net the user nothing.
#[test]
fn dust_round_trips_net_nothing() {
    let mut w = World::standard();
    w.engine.set_check_invariants(false);
    let before = w.balance("alice", "USDC");
    let before_raw = w.engine.state().accounts["alice"].balances["USDC"];
    for i in 0..50_000 {
        let size = if i % 2 == 0 {
            "0.000000000000000001"
        } else {
            "0.000000000000000003"
        };
        for side in ["buy", "sell"] {
            let _ = w.try_apply(json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-PERP", "side": side, "size": size}));
        }
    }
    let after_raw = w.engine.state().accounts["alice"].balances["USDC"];
    assert!(after_raw <= before_raw, "{before_raw} → {after_raw}");
    assert!(w.balance("alice", "USDC") <= before);
    assert!(w.engine.verify().is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Over random leverage and price paths, with a liquidator trying every step:
        /// liquidation never applies to a healthy account, never leaves the liquidator
        /// unhealthy, its penalty never exceeds the account's equity, each step improves health
        /// or ends in bankruptcy, and the account ends healthy or closed (termination).
        #[test]
        fn liquidation_properties(
            size_tenths in 5u32..=60,
            moves in prop::collection::vec(-60i32..=40, 1..30),
            portfolio: bool,
        ) {
            let mut w = World::standard();
            w.apply(json!({"type": "deposit", "account": "liq", "asset": "USDC", "amount": "3000000"}));
            if portfolio {
                w.apply(json!({"type": "set_margin_mode", "account": "bob", "mode": "portfolio"}));
            }
            w.apply(json!({"type": "deposit", "account": "bob", "asset": "USDC", "amount": "30000"}));
            let size = format!("{:.1}", f64::from(size_tenths) / 10.0);
            let _ = w.try_apply(json!({"type": "trade", "pool": "main", "account": "bob", "instrument": "BTC-PERP", "side": "buy", "size": size}));
            let _ = w.try_apply(json!({"type": "trade", "pool": "main", "account": "bob", "instrument": "BTC-27DEC24-35000-P", "side": "sell", "size": "1"}));
            let mut px = 40_000.0f64;
            for m in moves {
                px *= 1.0 + f64::from(m) / 1000.0;
                w.advance(600);
                w.price("BTC", &format!("{px:.2}"));
                w.flat_vol("BTC", "27DEC24", 0.6);
                w.tick();
                let st = w.engine.state();
                let at_median = account_health(st, "bob", "USDC", PriceBasis::Median).unwrap();
                let at_twap = account_health(st, "bob", "USDC", PriceBasis::Twap).unwrap();
                match w.try_apply(json!({"type": "liquidate", "pool": "main", "liquidator": "liq", "account": "bob"})) {
                    Ok(events) => {
                        prop_assert!(at_median.maintenance < Quote::ZERO && at_twap.maintenance < Quote::ZERO,
                            "liquidated a healthy account: {at_median:?} / {at_twap:?}");
                        for e in &events {
                            if let Event::Liquidated { bankrupt, health_before, health_after, to_liquidator, to_insurance_fund, to_pool, equity, .. } = e {
                                if !bankrupt {
                                    prop_assert!(health_after > health_before);
                                    let penalty = f(*to_liquidator) + f(*to_insurance_fund) + f(*to_pool);
                                    prop_assert!(penalty <= f(*equity) + 1e-9);
                                }
                            }
                        }
                        prop_assert!(health(&w, "liq").initial >= Quote::ZERO);
                        let after = health(&w, "bob");
                        prop_assert!(after.maintenance >= Quote::ZERO || !after.has_positions,
                            "a call restores health or closes the account: {after:?}");
                    }
                    Err(r) => prop_assert!(matches!(r.code.as_str(), "not_liquidatable" | "stale_oracle"), "{r:?}"),
                }
            }
        }
    }
}
