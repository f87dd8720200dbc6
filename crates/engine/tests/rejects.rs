//! Every reject code has a scenario that triggers it, and the rejected command leaves the state
//! hash unchanged (the harness checks it). Adding a code without a scenario fails
//! `every_reject_code_has_a_scenario`.

mod common;
use common::*;
use derivpool_engine::RejectCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn trade(instrument: &str, side: &str, size: &str) -> Value {
    json!({"type": "trade", "pool": "main", "account": "alice", "instrument": instrument,
        "side": side, "size": size})
}

/// A pool with one 27DEC24 board of a single 40,000 strike, the given parameter overrides and
/// junior capital (senior 1,000,000), LP capital processed and the cache fresh; alice deposits
/// `deposit` USDC.
fn single_strike_world(params: Value, junior: &str, deposit: &str) -> World {
    let mut w = World::new();
    w.apply(json!({"type": "create_pool", "pool": "main", "quote_asset": "USDC", "generation": "hedged", "params": params}));
    w.apply(json!({"type": "list_underlying", "pool": "main", "underlying": "BTC", "oracle_sources": ["a", "b", "c"]}));
    w.apply(json!({"type": "lp_deposit", "pool": "main", "lp": "lp1", "tranche": "senior", "amount": "1000000"}));
    w.apply(json!({"type": "lp_deposit", "pool": "main", "lp": "lp2", "tranche": "junior", "amount": junior}));
    w.advance(3 * DAY);
    w.price("BTC", "40000");
    w.flat_vol("BTC", "27DEC24", 0.6);
    w.apply(json!({"type": "list_expiry", "pool": "main", "underlying": "BTC", "expiry": "27DEC24", "strikes": ["40000"]}));
    w.tick();
    w.apply(json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": deposit}));
    w
}

/// (code, scenario) — each scenario sets up a world and must end with `w.reject(.., code)`.
fn scenarios() -> Vec<(&'static str, fn())> {
    vec![
        ("time_went_backwards", || {
            let mut w = World::standard();
            w.t -= 10;
            w.reject(json!({"type": "tick"}), "time_went_backwards");
        }),
        ("invalid_name", || {
            let mut w = World::new();
            w.reject(json!({"type": "create_pool", "pool": "has space", "quote_asset": "USDC", "generation": "hedged"}), "invalid_name");
        }),
        ("pool_exists", || {
            let mut w = World::standard();
            w.reject(json!({"type": "create_pool", "pool": "main", "quote_asset": "USDC", "generation": "static"}), "pool_exists");
        }),
        ("unknown_pool", || {
            let mut w = World::standard();
            w.reject(json!({"type": "lp_deposit", "pool": "nope", "lp": "x", "tranche": "senior", "amount": "1"}), "unknown_pool");
        }),
        ("invalid_param", || {
            let mut w = World::new();
            w.reject(json!({"type": "create_pool", "pool": "p", "quote_asset": "USDC", "generation": "hedged",
                "params": {"withdrawal_fee_rate": "0.5"}}), "invalid_param");
        }),
        ("underlying_exists", || {
            let mut w = World::standard();
            w.reject(json!({"type": "list_underlying", "pool": "main", "underlying": "BTC", "oracle_sources": ["a"]}), "underlying_exists");
        }),
        ("unknown_underlying", || {
            let mut w = World::standard();
            w.reject(json!({"type": "list_expiry", "pool": "main", "underlying": "ETH", "expiry": "27DEC24", "strikes": ["1"]}), "unknown_underlying");
        }),
        ("invalid_expiry", || {
            let mut w = World::standard();
            w.reject(json!({"type": "list_expiry", "pool": "main", "underlying": "BTC", "expiry": "1NOV24", "strikes": ["1"]}), "invalid_expiry");
        }),
        ("expiry_exists", || {
            let mut w = World::standard();
            w.reject(json!({"type": "list_expiry", "pool": "main", "underlying": "BTC", "expiry": "27DEC24", "strikes": ["1"]}), "expiry_exists");
        }),
        ("invalid_strikes", || {
            let mut w = World::standard();
            w.reject(json!({"type": "list_expiry", "pool": "main", "underlying": "BTC", "expiry": "31JAN25", "strikes": ["100", "100"]}), "invalid_strikes");
        }),
        ("unknown_instrument", || {
            let mut w = World::standard();
            w.reject(
                trade("BTC-27DEC24-41000-C", "buy", "1"),
                "unknown_instrument",
            );
        }),
        ("unknown_oracle_source", || {
            let mut w = World::standard();
            w.reject(
                json!({"type": "oracle_price", "source": "evil", "asset": "BTC", "price": "1"}),
                "unknown_oracle_source",
            );
        }),
        ("invalid_oracle_value", || {
            let mut w = World::standard();
            w.reject(json!({"type": "oracle_vol", "source": "a", "underlying": "BTC", "expiry": "27DEC24",
                "svi": {"a": "0.01", "b": "0.1", "rho": "1.5", "m": "0", "sigma": "0.1"}}), "invalid_oracle_value");
        }),
        ("stale_oracle", || {
            let mut w = World::standard();
            w.advance(120);
            w.reject(trade("BTC-PERP", "buy", "1"), "stale_oracle");
        }),
        ("invalid_amount", || {
            let mut w = World::standard();
            w.reject(
                json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": "0"}),
                "invalid_amount",
            );
        }),
        ("insufficient_balance", || {
            let mut w = World::standard();
            w.reject(json!({"type": "lp_withdraw", "pool": "main", "lp": "lp1", "tranche": "senior", "shares": "2000000"}), "insufficient_balance");
        }),
        ("insufficient_collateral", || {
            let mut w = World::standard();
            w.apply(
                json!({"type": "deposit", "account": "carol", "asset": "USDC", "amount": "10000"}),
            );
            // 5 BTC = 200,000 notional needs 10 % initial margin: 20,000 > 10,000.
            w.reject(json!({"type": "trade", "pool": "main", "account": "carol", "instrument": "BTC-PERP",
                "side": "buy", "size": "5"}), "insufficient_collateral");
        }),
        ("insufficient_liquidity", || {
            let mut w = World::standard();
            w.apply(json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": "20000000"}));
            // 40 calls lock 40 × 40,000 = 1.6M > 1.3M of pool cash.
            w.reject(
                trade("BTC-27DEC24-40000-C", "buy", "40"),
                "insufficient_liquidity",
            );
        }),
        ("trading_cutoff", || {
            let mut w = World::standard();
            w.t = derivpool_engine::instrument::expiry_unix("27DEC24").unwrap() - 6 * H;
            w.price("BTC", "40000");
            w.flat_vol("BTC", "27DEC24", 0.6);
            w.tick();
            w.reject(trade("BTC-27DEC24-40000-C", "buy", "1"), "trading_cutoff");
        }),
        ("board_expired", || {
            let mut w = World::standard();
            w.t = derivpool_engine::instrument::expiry_unix("27DEC24").unwrap() + 10;
            w.price("BTC", "40000");
            w.reject(trade("BTC-27DEC24-40000-C", "buy", "1"), "board_expired");
        }),
        ("delta_out_of_range", || {
            let mut w = World::standard();
            w.reject(
                trade("BTC-27DEC24-50000-C", "buy", "1"),
                "delta_out_of_range",
            );
        }),
        ("vol_out_of_bounds", || {
            let mut w = World::standard();
            w.flat_vol("BTC", "27DEC24", 4.999);
            w.reject(
                trade("BTC-27DEC24-40000-C", "buy", "1"),
                "vol_out_of_bounds",
            );
        }),
        ("skew_out_of_bounds", || {
            let mut w = World::standard();
            w.apply(json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": "20000000"}));
            // 300 contracts = 60 standard sizes: +60 vol points > the 50-point bound.
            w.reject(
                trade("BTC-27DEC24-40000-P", "sell", "300"),
                "skew_out_of_bounds",
            );
        }),
        ("limit_price_crossed", || {
            let mut w = World::standard();
            let mut c = trade("BTC-27DEC24-40000-C", "buy", "1");
            c["limit_price"] = json!("10");
            w.reject(c, "limit_price_crossed");
        }),
        ("open_interest_cap", || {
            let mut w = World::standard_with("hedged", json!({"perp_open_interest_cap": "0.1"}));
            // 4 BTC = 160,000 > 10 % of 1.3M.
            w.reject(trade("BTC-PERP", "buy", "4"), "open_interest_cap");
        }),
        ("reserve_factor", || {
            let mut w = World::standard_with("hedged", json!({"reserve_factor": "0.05"}));
            // 2 BTC = 80,000 > 5 % of 1.3M.
            w.reject(trade("BTC-PERP", "buy", "2"), "reserve_factor");
        }),
        ("greek_cache_stale", || {
            let mut w = World::standard();
            w.advance(4 * H);
            w.price("BTC", "40000");
            w.flat_vol("BTC", "27DEC24", 0.6);
            w.reject(
                trade("BTC-27DEC24-40000-C", "buy", "1"),
                "greek_cache_stale",
            );
        }),
        ("queue_full", || {
            let mut w = World::new();
            w.apply(json!({"type": "create_pool", "pool": "main", "quote_asset": "USDC", "generation": "hedged",
                "params": {"queue_entries_max": "2"}}));
            for _ in 0..2 {
                w.apply(json!({"type": "lp_deposit", "pool": "main", "lp": "x", "tranche": "senior", "amount": "1"}));
            }
            w.reject(json!({"type": "lp_deposit", "pool": "main", "lp": "x", "tranche": "senior", "amount": "1"}), "queue_full");
        }),
        ("empty_pool", || {
            let mut w = World::new();
            w.apply(json!({"type": "create_pool", "pool": "main", "quote_asset": "USDC", "generation": "hedged"}));
            w.apply(json!({"type": "list_underlying", "pool": "main", "underlying": "BTC", "oracle_sources": ["a", "b", "c"]}));
            w.price("BTC", "40000");
            w.flat_vol("BTC", "27DEC24", 0.6);
            w.apply(json!({"type": "list_expiry", "pool": "main", "underlying": "BTC", "expiry": "27DEC24", "strikes": ["40000"]}));
            w.apply(
                json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": "100000"}),
            );
            w.reject(trade("BTC-27DEC24-40000-P", "sell", "0.001"), "empty_pool");
        }),
        ("junior_too_thin", || {
            let mut w = single_strike_world(json!({}), "50000", "100000");
            w.reject(trade("BTC-27DEC24-40000-C", "buy", "1"), "junior_too_thin");
        }),
        ("oracle_confidence", || {
            let mut w = World::standard();
            for src in ["a", "b", "c"] {
                w.apply(json!({"type": "oracle_price", "source": src, "asset": "BTC", "price": "40000", "confidence": "0.05"}));
            }
            w.reject(
                trade("BTC-27DEC24-40000-C", "buy", "1"),
                "oracle_confidence",
            );
        }),
        ("oracle_divergence", || {
            let mut w = World::standard();
            w.advance(30);
            w.price("BTC", "45000"); // +12.5 %: under the breaker's 15 %, over the TWAP's 10 %
            w.reject(trade("BTC-PERP", "buy", "1"), "oracle_divergence");
        }),
        ("oracle_breaker", || {
            let mut w = World::standard();
            w.advance(30);
            w.price("BTC", "48000"); // +20 % trips the breaker for 600 s
            w.advance(300);
            w.price("BTC", "48000"); // the TWAP is now within 10 %
            w.reject(trade("BTC-PERP", "buy", "1"), "oracle_breaker");
        }),
        ("self_liquidation", || {
            let mut w = World::crashed();
            w.reject(
                json!({"type": "liquidate", "pool": "main", "liquidator": "bob", "account": "bob"}),
                "self_liquidation",
            );
        }),
        ("not_liquidatable", || {
            let mut w = World::crashed();
            w.reject(json!({"type": "liquidate", "pool": "main", "liquidator": "carol", "account": "alice"}), "not_liquidatable");
        }),
        ("liquidator_conflict", || {
            let mut w = World::crashed();
            w.apply(json!({"type": "trade", "pool": "main", "account": "carol", "instrument": "BTC-PERP", "side": "sell", "size": "0.1"}));
            w.reject(json!({"type": "liquidate", "pool": "main", "liquidator": "carol", "account": "bob"}), "liquidator_conflict");
        }),
        ("liquidator_unhealthy", || {
            let mut w = World::crashed();
            w.apply(json!({"type": "deposit", "account": "dan", "asset": "USDC", "amount": "10"}));
            w.reject(
                json!({"type": "liquidate", "pool": "main", "liquidator": "dan", "account": "bob"}),
                "liquidator_unhealthy",
            );
        }),
        ("positions_open", || {
            let mut w = World::standard();
            w.apply(trade("BTC-PERP", "buy", "1"));
            w.reject(
                json!({"type": "set_margin_mode", "account": "alice", "mode": "portfolio"}),
                "positions_open",
            );
        }),
        ("override_not_allowed", || {
            let mut w = World::standard();
            w.reject(json!({"type": "settlement_override", "pool": "main", "underlying": "BTC", "expiry": "27DEC24", "price": "40000"}), "override_not_allowed");
        }),
        ("pool_risk_limit", || {
            let mut w = World::standard();
            // 29 BTC long: the pool's +100 % tail loss × 0.5 = 580,000 > 0.35 × NAV.
            w.reject(trade("BTC-PERP", "buy", "29"), "pool_risk_limit");
        }),
        ("utilisation_cap", || {
            let mut w = single_strike_world(
                json!({"expiry_exposure_cap": "1", "strike_exposure_cap": "1", "pool_stress_new_risk": "1"}),
                "300000",
                "500000",
            );
            // 28 calls lock 1.12M of about 1.35M of cash: utilisation 0.83 > 0.8.
            w.reject(trade("BTC-27DEC24-40000-C", "buy", "28"), "utilisation_cap");
        }),
        ("exposure_cap", || {
            let mut w = World::standard();
            // 10 calls lock 400,000 at one strike > 0.3 × NAV.
            w.reject(trade("BTC-27DEC24-40000-C", "buy", "10"), "exposure_cap");
        }),
        ("overflow", || {
            let mut w = World::standard();
            let huge = json!({"type": "deposit", "account": "bob", "asset": "USDC", "amount": "100000000000000000000"});
            w.apply(huge.clone());
            w.reject(huge, "overflow");
        }),
        ("generation_unsupported", || {
            let mut w = World::standard_with("static", json!({}));
            w.reject(trade("BTC-PERP", "buy", "1"), "generation_unsupported");
        }),
        ("hedge_capacity", || {
            let mut w = World::standard_with("hedged", json!({"hedge_venue_capacity": "0.01"}));
            // 1 BTC = 40,000 of delta > 1 % of 1.3M.
            w.reject(trade("BTC-PERP", "buy", "1"), "hedge_capacity");
        }),
        ("hedge_fill_unmatched", || {
            let mut w = World::standard();
            w.reject(
                json!({"type": "hedge_fill", "pool": "main", "venue": "v", "underlying": "BTC",
                "size": "1", "price": "40000", "fee": "1"}),
                "hedge_fill_unmatched",
            );
        }),
        ("unknown_proposal", || {
            let mut w = World::standard();
            w.reject(
                json!({"type": "execute", "proposal": 7}),
                "unknown_proposal",
            );
        }),
        ("no_voting_power", || {
            let mut w = World::standard();
            w.apply(json!({"type": "governance_grant", "account": "whale", "amount": "100"}));
            w.reject(
                json!({"type": "propose", "pool": "main", "proposer": "nobody",
                "param": "vega_fee_coefficient", "value": "200"}),
                "no_voting_power",
            );
        }),
        ("proposal_closed", || {
            let mut w = World::standard();
            w.apply(json!({"type": "governance_grant", "account": "whale", "amount": "100"}));
            w.apply(
                json!({"type": "propose", "pool": "main", "proposer": "whale",
                "param": "vega_fee_coefficient", "value": "200"}),
            );
            w.advance(3 * DAY);
            w.reject(
                json!({"type": "vote", "proposal": 1, "voter": "whale", "support": true}),
                "proposal_closed",
            );
        }),
        ("already_voted", || {
            let mut w = World::standard();
            w.apply(json!({"type": "governance_grant", "account": "whale", "amount": "100"}));
            w.apply(
                json!({"type": "propose", "pool": "main", "proposer": "whale",
                "param": "vega_fee_coefficient", "value": "200"}),
            );
            w.apply(json!({"type": "vote", "proposal": 1, "voter": "whale", "support": true}));
            w.reject(
                json!({"type": "vote", "proposal": 1, "voter": "whale", "support": false}),
                "already_voted",
            );
        }),
        ("proposal_not_ready", || {
            let mut w = World::standard();
            w.apply(json!({"type": "governance_grant", "account": "whale", "amount": "100"}));
            w.apply(
                json!({"type": "propose", "pool": "main", "proposer": "whale",
                "param": "vega_fee_coefficient", "value": "200"}),
            );
            w.apply(json!({"type": "vote", "proposal": 1, "voter": "whale", "support": true}));
            w.advance(4 * DAY);
            w.reject(
                json!({"type": "execute", "proposal": 1}),
                "proposal_not_ready",
            );
        }),
        ("proposal_defeated", || {
            let mut w = World::standard();
            w.apply(json!({"type": "governance_grant", "account": "whale", "amount": "100"}));
            w.apply(
                json!({"type": "propose", "pool": "main", "proposer": "whale",
                "param": "vega_fee_coefficient", "value": "200"}),
            );
            w.advance(5 * DAY);
            w.reject(
                json!({"type": "execute", "proposal": 1}),
                "proposal_defeated",
            );
        }),
        ("not_authorised", || {
            let mut w = World::standard();
            w.reject(
                json!({"type": "council_set", "pool": "main", "member": "mallory",
                "param": "vega_fee_coefficient", "value": "200", "reason": "why not"}),
                "not_authorised",
            );
        }),
        ("outside_council_bounds", || {
            let mut w = World::standard();
            w.pass(&[
                json!({"type": "council_add", "member": "agent"}),
                json!({"type": "council_bounds", "param": "vega_fee_coefficient", "min": "50", "max": "400"}),
            ]);
            w.reject(
                json!({"type": "council_set", "pool": "main", "member": "agent",
                "param": "vega_fee_coefficient", "value": "500", "reason": "vega"}),
                "outside_council_bounds",
            );
        }),
        ("not_risk_reducing", || {
            let mut w = World::standard();
            w.pass(&[json!({"type": "emergency_add", "member": "guardian"})]);
            w.reject(
                json!({"type": "emergency_set", "pool": "main", "member": "guardian",
                "param": "perp_open_interest_cap", "value": "2", "reason": "more room"}),
                "not_risk_reducing",
            );
        }),
        ("pool_paused", || {
            let mut w = World::standard();
            w.pass(&[json!({"type": "emergency_add", "member": "guardian"})]);
            w.apply(
                json!({"type": "emergency_set", "pool": "main", "member": "guardian",
                "param": "paused", "value": "1", "reason": "incident"}),
            );
            w.reject(trade("BTC-PERP", "buy", "1"), "pool_paused");
        }),
        ("reduce_only", || {
            let mut w = World::standard();
            w.pass(&[json!({"type": "emergency_add", "member": "guardian"})]);
            w.apply(
                json!({"type": "emergency_set", "pool": "main", "member": "guardian",
                "param": "reduce_only", "value": "1", "reason": "incident"}),
            );
            w.reject(trade("BTC-PERP", "buy", "1"), "reduce_only");
        }),
    ]
}

#[test]
fn every_reject_code_has_a_scenario() {
    let covered: BTreeSet<&str> = scenarios().iter().map(|(c, _)| *c).collect();
    for code in RejectCode::ALL {
        assert!(
            covered.contains(code.as_str()),
            "no scenario for reject code {}",
            code.as_str()
        );
    }
}

#[test]
fn every_scenario_rejects_with_its_code_and_changes_nothing() {
    for (code, scenario) in scenarios() {
        let r = std::panic::catch_unwind(scenario);
        assert!(r.is_ok(), "scenario for {code} failed");
    }
}
