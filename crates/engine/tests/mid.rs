//! The pool's mid price bounds its quotes: after random trades have moved the base offset and
//! the skews, every buy quote of every series and size costs at least the mid per contract and
//! every sell pays at most it (the screen `derivpool simulate`'s arbitrageurs use to skip quotes
//! that cannot beat their level).

mod common;

use common::*;
use derivpool_engine::{Side, TradeQuote, TradeRequest};
use derivpool_types::{Base, Fixed, Rounding};
use proptest::prelude::*;
use serde_json::json;

const SERIES: [&str; 6] = [
    "BTC-27DEC24-30000-P",
    "BTC-27DEC24-35000-P",
    "BTC-27DEC24-40000-C",
    "BTC-27DEC24-40000-P",
    "BTC-27DEC24-45000-C",
    "BTC-27DEC24-50000-C",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn quotes_never_beat_the_mid(
        trades in prop::collection::vec((0usize..SERIES.len(), any::<bool>(), 1u32..400), 0..12),
        sizes in prop::collection::vec(1u32..2_000, 1..4),
        fee_free in any::<bool>(),
    ) {
        // Without fees a quote is its premium alone: the bound is then tight.
        let mut w = if fee_free {
            World::standard_with("hedged", json!({"option_price_fee_coefficient": "0",
                "spot_fee_coefficient": "0", "vega_fee_coefficient": "0", "utilisation_markup_max": "0"}))
        } else {
            World::standard()
        };
        w.apply(json!({"type": "deposit", "account": "alice", "asset": "USDC", "amount": "5000000"}));
        for (series, buy, tenths) in trades {
            // Rejected trades (caps, bounds) simply leave the state as it is.
            let _ = w.try_apply(json!({"type": "trade", "pool": "main", "account": "alice",
                "instrument": SERIES[series], "side": if buy { "buy" } else { "sell" },
                "size": format!("{}.{}", tenths / 10, tenths % 10)}));
        }
        let mut checked = 0;
        for instrument in SERIES {
            let mid = w.engine.option_mid("main", instrument, w.t).expect("listed and fresh");
            prop_assert!(mid.price >= 0.0);
            if !mid.bounds_quotes {
                continue;
            }
            let strike: f64 = instrument.split('-').nth(2).unwrap().parse().unwrap();
            let tol = 1e-9 * (mid.price + 40_000.0 + strike);
            for &hundredths in &sizes {
                let size = Base::from_f64(f64::from(hundredths) / 100.0, Rounding::Down).unwrap();
                for side in [Side::Buy, Side::Sell] {
                    let req = TradeRequest { pool: "main", account: "alice", instrument, side, size, limit_price: None };
                    let Ok(TradeQuote::Option(q)) = w.engine.quote(&req, w.t) else { continue };
                    let per_unit = q.total.to_f64() / size.to_f64();
                    match side {
                        Side::Buy => prop_assert!(per_unit >= mid.price - tol, "{instrument} buy {per_unit} < mid {}", mid.price),
                        Side::Sell => prop_assert!(per_unit <= mid.price + tol, "{instrument} sell {per_unit} > mid {}", mid.price),
                    }
                    checked += 1;
                }
            }
        }
        prop_assert!(checked > 0, "no quote was checked");
    }
}

/// The mid sits between a tiny trade's bid and ask, and the spread around it widens with the
/// size (each slice's impact moves the vol further from the mid's).
#[test]
fn the_mid_sits_inside_every_spread() {
    let w = World::standard();
    let instrument = "BTC-27DEC24-40000-C";
    let mid = w.engine.option_mid("main", instrument, w.t).unwrap();
    assert!(mid.bounds_quotes);
    let spread = |contracts: f64| {
        let size = Base::from_f64(contracts, Rounding::Down).unwrap();
        let quote = |side| {
            let req = TradeRequest {
                pool: "main",
                account: "alice",
                instrument,
                side,
                size,
                limit_price: None,
            };
            match w.engine.quote(&req, w.t).unwrap() {
                TradeQuote::Option(q) => q.total.to_f64() / size.to_f64(),
                TradeQuote::Perp(_) => unreachable!(),
            }
        };
        (quote(Side::Sell), quote(Side::Buy))
    };
    let (bid, ask) = spread(0.001);
    assert!(
        bid <= mid.price && mid.price <= ask,
        "{bid} {} {ask}",
        mid.price
    );
    let (wide_bid, wide_ask) = spread(3.0);
    assert!(
        wide_bid < bid && ask < wide_ask,
        "{wide_bid} {bid} {ask} {wide_ask}"
    );
    assert!(w
        .engine
        .option_mid("main", "BTC-27DEC24-41000-C", w.t)
        .is_none());
    assert!(w.engine.option_mid("main", "BTC-PERP", w.t).is_none());
}
