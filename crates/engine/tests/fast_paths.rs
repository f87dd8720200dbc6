//! The engine's fast paths give exactly the results of the straightforward code they replaced.
//!
//! `reference` keeps that code (instrument parsing with a `Vec` of parts, the oracle median and
//! confidence over a `Vec`, trader health over a `Vec` of valued positions grouped in a map,
//! minimum collateral through a cloned pricing context, the liquidation scan that writes every
//! account); the property tests compare it with the engine on random inputs: names, feeds,
//! accounts (isolated and portfolio, several pools, underlyings and quote assets, non-quote
//! collateral), hypothetical changes to accounts, and whole scans.

mod common;

use common::{World, DAY, H};
use derivpool_engine::instrument::{expiry_unix, Instrument, InstrumentRef};
use derivpool_engine::margin::{
    self, health_of, health_with, Hypothetical, HypotheticalPosition, MarginMode, PriceBasis,
};
use derivpool_engine::state::{Account, Position, SpotObservation, State};
use derivpool_types::{Base, Fixed, Price, Quote, Ratio};
use proptest::prelude::*;
use serde_json::json;

/// The code the fast paths replaced, kept verbatim where possible.
mod reference {
    use derivpool_engine::collateral::vol_shock;
    use derivpool_engine::instrument::{expiry_unix, Instrument, InstrumentError};
    use derivpool_engine::margin::{price, vol_multiples, Health, MarginMode, PriceBasis};
    use derivpool_engine::params::Params;
    use derivpool_engine::pricing_ctx::{BoardCtx, YEAR_S};
    use derivpool_engine::state::{Account, Oracle, State};
    use derivpool_pricing::{bsm_price, BsmInputs, OptionKind};
    use derivpool_types::{Fixed, MathError, Price, Quote, Rounding};
    use std::collections::BTreeMap;

    pub fn parse(name: &str) -> Result<Instrument, InstrumentError> {
        let err = |reason: String| InstrumentError {
            name: name.to_string(),
            reason,
        };
        let parts: Vec<&str> = name.split('-').collect();
        match parts.as_slice() {
            [u, "PERP"] if !u.is_empty() => Ok(Instrument::Perp {
                underlying: u.to_string(),
            }),
            [u, expiry, strike, kind] if !u.is_empty() => {
                expiry_unix(expiry).map_err(err)?;
                let strike: Price = strike.parse().map_err(|e| err(format!("strike: {e}")))?;
                if strike <= Price::ZERO {
                    return Err(err("strike must be positive".into()));
                }
                let kind = match *kind {
                    "C" => OptionKind::Call,
                    "P" => OptionKind::Put,
                    other => return Err(err(format!("{other:?} is neither C nor P"))),
                };
                Ok(Instrument::Option {
                    underlying: u.to_string(),
                    expiry: expiry.to_string(),
                    strike,
                    kind,
                })
            }
            _ => Err(err("wrong number of parts".into())),
        }
    }

    /// The previous `expiry_unix`, which panicked when a multi-byte character straddled the
    /// month's end (`None` here).
    pub fn expiry(code: &str) -> Option<Result<u64, String>> {
        let bad = |why: &str| format!("expiry {code:?}: {why}");
        let digits = code.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 2 || code.len() != digits + 5 {
            return Some(Err(bad("expected DDMMMYY, e.g. 27DEC24")));
        }
        if !code.is_char_boundary(digits + 3) {
            return None;
        }
        // Past the checks above the previous code ends like the present one.
        Some(expiry_unix(code))
    }

    fn median(sorted: &[Price]) -> Price {
        let n = sorted.len();
        if n % 2 == 1 {
            sorted[n / 2]
        } else {
            let (a, b) = (sorted[n / 2 - 1].raw(), sorted[n / 2].raw());
            Price::from_raw(
                a.div_euclid(2) + b.div_euclid(2) + (a.rem_euclid(2) + b.rem_euclid(2)) / 2,
            )
        }
    }

    pub fn spot(o: &Oracle, asset: &str, now: u64, heartbeat_s: u64) -> Option<Price> {
        let feeds = o.spot.get(asset)?;
        let mut fresh: Vec<Price> = feeds
            .values()
            .filter(|o| now.saturating_sub(o.t) <= heartbeat_s)
            .map(|o| o.price)
            .collect();
        if fresh.is_empty() {
            return None;
        }
        fresh.sort_unstable();
        Some(median(&fresh))
    }

    pub fn confidence(o: &Oracle, asset: &str, now: u64, heartbeat_s: u64) -> f64 {
        let Some(feeds) = o.spot.get(asset) else {
            return 0.0;
        };
        let mut c: Vec<f64> = feeds
            .values()
            .filter(|o| now.saturating_sub(o.t) <= heartbeat_s)
            .map(|o| o.confidence.to_f64())
            .collect();
        if c.is_empty() {
            return 0.0;
        }
        c.sort_by(f64::total_cmp);
        let n = c.len();
        if n % 2 == 1 {
            c[n / 2]
        } else {
            0.5 * (c[n / 2 - 1] + c[n / 2])
        }
    }

    pub fn min_collateral_per_contract(
        ctx: &BoardCtx,
        kind: OptionKind,
        strike: Price,
        vol: f64,
        p: &Params,
    ) -> f64 {
        let (spot_shock, full_cover) = match kind {
            OptionKind::Call => (p.short_call_spot_shock.to_f64(), ctx.spot),
            OptionKind::Put => (p.short_put_spot_shock.to_f64(), strike.to_f64()),
        };
        let shocked = BoardCtx {
            spot: ctx.spot * spot_shock,
            forward: ctx.forward * spot_shock,
            ..ctx.clone()
        };
        let price = shocked
            .greeks(kind, strike, vol * vol_shock(ctx.days(), p))
            .price;
        let floor = p.short_collateral_floor.to_f64() * ctx.spot;
        price.max(floor).min(full_cover)
    }

    fn grid(p: &Params) -> Vec<f64> {
        let max = p.scenario_spot_max.to_f64();
        let step = p.scenario_spot_step.to_f64().max(1e-6);
        let n = (max / step + 1e-9).floor() as i64;
        (-n..=n).map(|i| i as f64 * step).collect()
    }

    fn bs(kind: OptionKind, spot: f64, strike: f64, t: f64, rate: f64, vol: f64) -> f64 {
        bsm_price(&BsmInputs {
            kind,
            spot,
            strike,
            t: t.max(0.0),
            rate,
            div: 0.0,
            vol: vol.max(0.0),
        })
        .unwrap_or(0.0)
    }

    struct Valued<'a> {
        underlying: String,
        spot: f64,
        params: &'a Params,
        vol_mult: (f64, f64),
        value: f64,
        option: Option<(OptionKind, f64, f64, f64, f64)>,
        size: f64,
        upnl: f64,
        isolated_im: f64,
        isolated_mm: f64,
    }

    pub fn health_of(
        state: &State,
        account: &Account,
        mode: MarginMode,
        quote_asset: &str,
        basis: PriceBasis,
    ) -> Result<Health, MathError> {
        let mut valued: Vec<Valued> = Vec::new();
        let mut locked = 0.0;
        for (pool_name, positions) in &account.positions {
            let Some(pool) = state.pools.get(pool_name) else {
                continue;
            };
            if pool.quote_asset != quote_asset {
                continue;
            }
            for (name, pos) in positions {
                locked += pos.collateral.to_f64();
                let Ok(instrument) = parse(name) else {
                    continue;
                };
                let underlying = instrument.underlying().to_string();
                let Some(market) = pool.markets.get(&underlying) else {
                    continue;
                };
                let Some(spot) = price(state, &underlying, basis) else {
                    continue;
                };
                let spot = spot.to_f64();
                let size = pos.size.to_f64();
                let p = &market.params;
                match instrument {
                    Instrument::Perp { .. } => {
                        let owed = derivpool_engine::perp::owed(&market.perp, pos)?.to_f64();
                        let upnl = size * spot - pos.entry_value.to_f64();
                        let (im, mm) = derivpool_engine::perp::margins(
                            pos.size,
                            Price::from_f64(spot, Rounding::Up)?,
                            p,
                        )?;
                        valued.push(Valued {
                            underlying,
                            spot,
                            params: p,
                            vol_mult: (1.0, 1.0),
                            value: upnl - owed,
                            option: None,
                            size,
                            upnl,
                            isolated_im: im.to_f64(),
                            isolated_mm: mm.to_f64(),
                        });
                    }
                    Instrument::Option {
                        expiry,
                        strike,
                        kind,
                        ..
                    } => {
                        let expiry_t = expiry_unix(&expiry).unwrap_or(0);
                        let Some(board) = market.boards.get(&expiry_t) else {
                            continue;
                        };
                        let Some(s) = board.strikes.get(&strike) else {
                            continue;
                        };
                        let years = expiry_t.saturating_sub(state.t) as f64 / YEAR_S;
                        let rate = p.rate.to_f64();
                        let vol = s.greeks.mark_vol.to_f64();
                        let k = strike.to_f64();
                        let mark = bs(kind, spot, k, years, rate, vol);
                        let (im, mm) = if size < 0.0 {
                            let ctx = BoardCtx {
                                spot,
                                t_years: years,
                                rate,
                                forward: spot * libm::exp(rate * years),
                                slices: Vec::new(),
                            };
                            let per = (min_collateral_per_contract(&ctx, kind, strike, vol, p)
                                - mark)
                                .max(0.0);
                            let im = -size * per;
                            (im, im / p.margin_initial_multiple.to_f64())
                        } else {
                            (0.0, 0.0)
                        };
                        valued.push(Valued {
                            underlying,
                            spot,
                            params: p,
                            vol_mult: if mode == MarginMode::Portfolio {
                                vol_multiples(years * 365.0, p)
                            } else {
                                (1.0, 1.0)
                            },
                            value: size * mark,
                            option: Some((kind, k, years, rate, vol)),
                            size,
                            upnl: 0.0,
                            isolated_im: im,
                            isolated_mm: mm,
                        });
                    }
                }
            }
        }
        let mut coll_i = locked;
        let mut coll_m = locked;
        for (asset, bal) in &account.balances {
            let b = bal.to_f64();
            if asset == quote_asset {
                coll_i += b;
                coll_m += b;
                continue;
            }
            let listing = state
                .pools
                .values()
                .filter(|p| p.quote_asset == quote_asset)
                .find_map(|p| p.markets.get(asset));
            if let (Some(m), Some(px)) = (listing, price(state, asset, basis)) {
                let v = b * px.to_f64();
                coll_i += v * m.params.collateral_haircut_initial.to_f64();
                coll_m += v * m.params.collateral_haircut_maintenance.to_f64();
            }
        }
        let pv: f64 = valued.iter().map(|v| v.value).sum();
        let upnl_pos: f64 = valued.iter().map(|v| v.upnl.max(0.0)).sum();
        let (mut im, mut mm) = (0.0, 0.0);
        match mode {
            MarginMode::Isolated => {
                for v in &valued {
                    im += v.isolated_im;
                    mm += v.isolated_mm;
                }
            }
            MarginMode::Portfolio => {
                let mut by_underlying: BTreeMap<&str, Vec<&Valued>> = BTreeMap::new();
                for v in &valued {
                    by_underlying.entry(&v.underlying).or_default().push(v);
                }
                for (underlying, vs) in by_underlying {
                    let p = &vs[0].params;
                    let spot = vs[0].spot;
                    let mut worst = 0.0f64;
                    for shock in grid(p) {
                        for vol_state in 0..3 {
                            let mut pnl = 0.0;
                            for v in &vs {
                                pnl += scenario_pnl(v, spot * (1.0 + shock), vol_state);
                            }
                            worst = worst.max(-pnl);
                        }
                    }
                    let mut tail = 0.0f64;
                    for shock in [-p.scenario_tail_down.to_f64(), p.scenario_tail_up.to_f64()] {
                        let pnl: f64 = vs
                            .iter()
                            .map(|v| scenario_pnl(v, spot * (1.0 + shock), 1))
                            .sum();
                        tail = tail.max(-pnl);
                    }
                    let mut req = worst.max(p.scenario_tail_weight.to_f64() * tail);
                    let mut gross = 0.0;
                    for v in &vs {
                        gross += v.size.abs() * spot;
                        match v.option {
                            Some(_) if v.size < 0.0 => {
                                req += -v.size * spot * p.static_short_charge.to_f64()
                            }
                            None => req += v.size.abs() * spot * p.static_perp_charge.to_f64(),
                            _ => {}
                        }
                    }
                    let conf = confidence(&state.oracle, underlying, state.t, p.spot_heartbeat_s);
                    if conf > p.confidence_charge_threshold.to_f64() {
                        req += conf * gross;
                    }
                    mm += req;
                    im += req * p.margin_initial_multiple.to_f64();
                }
            }
        }
        let cap = valued
            .first()
            .map(|v| v.params.upnl_initial_cap.to_f64())
            .unwrap_or(0.0)
            * coll_i.max(0.0);
        let upnl_excess = (upnl_pos - cap).max(0.0);
        let q = |x: f64, r| Quote::from_f64(x, r);
        let down = Rounding::Down;
        let up = Rounding::Up;
        let collateral_initial = q(coll_i, down)?;
        let collateral_maintenance = q(coll_m, down)?;
        let portfolio_value = q(pv, down)?;
        let upnl_excess = q(upnl_excess, up)?;
        let initial_requirement = q(im, up)?;
        let maintenance_requirement = q(mm, up)?;
        Ok(Health {
            collateral_initial,
            collateral_maintenance,
            portfolio_value,
            upnl_excess,
            initial_requirement,
            maintenance_requirement,
            initial: collateral_initial
                .checked_add(portfolio_value)?
                .checked_sub(upnl_excess)?
                .checked_sub(initial_requirement)?,
            maintenance: collateral_maintenance
                .checked_add(portfolio_value)?
                .checked_sub(maintenance_requirement)?,
            has_positions: !valued.is_empty(),
        })
    }

    fn scenario_pnl(v: &Valued<'_>, spot: f64, vol_state: u8) -> f64 {
        match v.option {
            None => v.size * (spot - v.spot),
            Some((kind, k, years, rate, vol)) => {
                let (up, down) = v.vol_mult;
                let mult = match vol_state {
                    0 => up,
                    1 => 1.0,
                    _ => down,
                };
                v.size * bs(kind, spot, k, years, rate, vol * mult) - v.value
            }
        }
    }

    pub fn is_liquidatable(
        state: &State,
        account: &str,
        quote_asset: &str,
    ) -> Result<bool, MathError> {
        let health = |basis| match state.accounts.get(account) {
            Some(a) => health_of(state, a, a.margin, quote_asset, basis),
            None => Ok(Health::default()),
        };
        let at_median = health(PriceBasis::Median)?;
        if !at_median.has_positions || at_median.maintenance >= Quote::ZERO {
            return Ok(false);
        }
        Ok(health(PriceBasis::Twap)?.maintenance < Quote::ZERO)
    }

    pub fn scan(state: &mut State, now: u64) -> Result<(), MathError> {
        let quote_assets: Vec<String> = {
            let mut q: Vec<String> = state
                .pools
                .values()
                .map(|p| p.quote_asset.clone())
                .collect();
            q.sort();
            q.dedup();
            q
        };
        let names: Vec<String> = state
            .accounts
            .iter()
            .filter(|(_, a)| !a.positions.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let mut under = false;
            for q in &quote_assets {
                under |= is_liquidatable(state, &name, q)?;
            }
            let acc = state.accounts.get_mut(&name).expect("account exists");
            acc.liquidatable_since = if under {
                Some(acc.liquidatable_since.unwrap_or(now))
            } else {
                None
            };
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Instrument names.

/// Names near the grammar (valid ones and every kind of near miss) and arbitrary text.
fn instrument_name() -> impl Strategy<Value = String> {
    let pick = |xs: &[&'static str]| prop::sample::select(xs.to_vec());
    let underlying = pick(&["BTC", "ETH", "", "B", "btc", "X-Y", "€"]);
    let day = pick(&["1", "27", "29", "31", "32", "0", "", "127", "07"]);
    let month = pick(&["JAN", "FEB", "DEC", "DEX", "Dec", "JA€", "J€", "€"]);
    let year = pick(&["24", "25", "2024", "+5", "-5", "X", "", "€"]);
    let strike = pick(&[
        "50000",
        "1850.5",
        "0",
        "-1",
        "",
        "1e3",
        "0.000000000000000001",
        "abc",
        "1.",
        ".5",
        "99999999999999999999999",
    ]);
    let kind = pick(&["C", "P", "X", "", "CP", "€"]);
    prop_oneof![
        (underlying.clone(), day, month, year, strike, kind)
            .prop_map(|(u, d, m, y, k, c)| format!("{u}-{d}{m}{y}-{k}-{c}")),
        underlying.clone().prop_map(|u| format!("{u}-PERP")),
        (underlying, "[A-Z-]{0,6}").prop_map(|(u, rest)| format!("{u}-{rest}")),
        "[A-Z0-9€.+-]{0,16}",
        any::<String>(),
    ]
}

fn expiry_code() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,2}(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[0-9]{2}",
        "[0-9]{1,2}[A-Z€é]{1,3}[0-9+-]{0,3}",
        "[0-9]{0,3}.{0,5}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn instrument_parse_equals_the_split_parse(name in instrument_name()) {
        let want = reference::parse(&name);
        let owned = Instrument::parse(&name);
        let borrowed = InstrumentRef::parse(&name);
        prop_assert_eq!(&owned, &want);
        prop_assert_eq!(borrowed.clone().map(|i| i.to_instrument()), want.clone());
        if let Ok(i) = borrowed {
            prop_assert_eq!(i.underlying(), want.as_ref().unwrap().underlying());
            if let InstrumentRef::Option { expiry, expiry_t, .. } = i {
                prop_assert_eq!(Ok(expiry_t), expiry_unix(expiry));
            }
        }
    }

    #[test]
    fn expiry_codes_parse_as_before_and_never_panic(code in expiry_code()) {
        let now = expiry_unix(&code);
        match reference::expiry(&code) {
            Some(before) => prop_assert_eq!(now, before),
            // The previous code panicked here; now it is an error.
            None => prop_assert!(now.is_err()),
        }
    }
}

#[test]
fn a_multibyte_month_is_an_error_not_a_panic() {
    assert!(expiry_unix("1JA€").is_err());
    assert!(Instrument::parse("BTC-1JA€-100-C").is_err());
}

// ---------------------------------------------------------------------------------------------
// Oracle median and confidence.

fn feeds() -> impl Strategy<Value = Vec<(u64, i64, u32)>> {
    prop::collection::vec((0u64..200, 1i64..5, 0u32..50), 0..20)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn median_and_confidence_equal_the_vec_versions(
        obs in feeds(), now in 100u64..300, hb in 0u64..150, raw in any::<bool>()
    ) {
        let mut state = State::default();
        let f = std::sync::Arc::make_mut(&mut state.oracle).spot.entry("BTC".into()).or_default();
        for (i, (t, p, c)) in obs.iter().enumerate() {
            // Few distinct prices, so ties and even counts are common; raw units test the
            // rounding of the even median.
            let price = if raw { Price::from_raw(*p as i128) } else { Price::from_int(*p * 1000) };
            f.insert(format!("s{i:02}"), SpotObservation {
                t: *t,
                price,
                confidence: Ratio::from_raw(*c as i128 * 1_000_000_000_000_000),
            });
        }
        prop_assert_eq!(state.oracle.spot("BTC", now, hb), reference::spot(&state.oracle, "BTC", now, hb));
        prop_assert_eq!(
            state.oracle.confidence("BTC", now, hb).to_bits(),
            reference::confidence(&state.oracle, "BTC", now, hb).to_bits()
        );
        prop_assert_eq!(state.oracle.spot("ETH", now, hb), None);
    }
}

// ---------------------------------------------------------------------------------------------
// Health, hypothetical changes, the liquidation scan.

/// A world with two USDC pools (`main`: BTC and ETH with a board each, trades on both sides so
/// the greek cache has marks; `alt`: BTC with a different rate), a DAI pool listing BTC, spot
/// moves that put the TWAP away from the median, and oracle confidences above the charge
/// threshold for ETH. Built once; each case gets a copy.
fn world() -> State {
    static WORLD: std::sync::OnceLock<State> = std::sync::OnceLock::new();
    WORLD.get_or_init(build_world).clone()
}

fn build_world() -> State {
    let mut w = World::standard_with("cross_margin", json!({}));
    let ok = |w: &mut World, v: serde_json::Value| {
        w.apply(v);
    };
    ok(
        &mut w,
        json!({"type": "list_underlying", "pool": "main", "underlying": "ETH", "oracle_sources": ["a", "b", "c"]}),
    );
    for (pool, quote, rate) in [("alt", "USDC", "0.05"), ("dai", "DAI", "0")] {
        ok(
            &mut w,
            json!({"type": "create_pool", "pool": pool, "quote_asset": quote, "generation": "cross_margin",
            "params": {"rate": rate}}),
        );
        ok(
            &mut w,
            json!({"type": "list_underlying", "pool": pool, "underlying": "BTC", "oracle_sources": ["a", "b", "c"]}),
        );
        ok(
            &mut w,
            json!({"type": "lp_deposit", "pool": pool, "lp": "lp1", "tranche": "senior", "amount": "1000000"}),
        );
        ok(
            &mut w,
            json!({"type": "lp_deposit", "pool": pool, "lp": "lp2", "tranche": "junior", "amount": "300000"}),
        );
    }
    w.price("ETH", "2000");
    w.flat_vol("ETH", "27DEC24", 0.8);
    for pool in ["main", "alt", "dai"] {
        ok(
            &mut w,
            json!({"type": "list_expiry", "pool": pool, "underlying": "BTC", "expiry": "20DEC24",
            "strikes": ["36000", "40000", "44000"]}),
        );
    }
    ok(
        &mut w,
        json!({"type": "list_expiry", "pool": "main", "underlying": "ETH", "expiry": "27DEC24",
        "strikes": ["1800", "2000", "2200"]}),
    );
    w.flat_vol("BTC", "20DEC24", 0.5);
    w.advance(H);
    w.price("BTC", "40000");
    w.price("ETH", "2000");
    w.flat_vol("BTC", "27DEC24", 0.6);
    w.flat_vol("BTC", "20DEC24", 0.5);
    w.flat_vol("ETH", "27DEC24", 0.8);
    w.tick();
    ok(
        &mut w,
        json!({"type": "deposit", "account": "mm", "asset": "USDC", "amount": "10000000"}),
    );
    for (instrument, side) in [
        ("BTC-27DEC24-40000-C", "buy"),
        ("BTC-27DEC24-35000-P", "sell"),
        ("ETH-27DEC24-2000-C", "buy"),
        ("BTC-20DEC24-44000-C", "sell"),
    ] {
        ok(
            &mut w,
            json!({"type": "trade", "pool": "main", "account": "mm", "instrument": instrument,
            "side": side, "size": "1"}),
        );
    }
    // The median moves away from its TWAP; ETH's sources report a wide confidence.
    w.advance(DAY / 4);
    w.price("BTC", "37000");
    for src in ["a", "b", "c"] {
        ok(
            &mut w,
            json!({"type": "oracle_price", "source": src, "asset": "ETH", "price": "1900", "confidence": "0.03"}),
        );
    }
    w.flat_vol("BTC", "27DEC24", 0.6);
    w.flat_vol("BTC", "20DEC24", 0.5);
    w.flat_vol("ETH", "27DEC24", 0.8);
    w.tick();
    w.advance(120);
    w.price("BTC", "36000");
    w.engine.state().clone()
}

const POOLS: [&str; 4] = ["main", "alt", "dai", "nopool"];
const NAMES: [&str; 16] = [
    "BTC-27DEC24-40000-C",
    "BTC-27DEC24-35000-P",
    "BTC-27DEC24-50000-C",
    "BTC-27DEC24-30000-P",
    "BTC-20DEC24-36000-P",
    "BTC-20DEC24-44000-C",
    "BTC-20DEC24-41000-C",
    "BTC-3JAN25-40000-C",
    "ETH-27DEC24-2000-C",
    "ETH-27DEC24-1800-P",
    "BTC-PERP",
    "ETH-PERP",
    "SOL-PERP",
    "SOL-27DEC24-10-C",
    "BTC-27DEC24-40000",
    "not-an-instrument-name",
];

#[derive(Debug, Clone)]
struct PosSpec {
    pool: usize,
    name: usize,
    size: i64,
    collateral: i64,
    entry: i64,
    funding: i64,
}

fn pos_spec() -> impl Strategy<Value = PosSpec> {
    (
        0..POOLS.len(),
        0..NAMES.len(),
        -400i64..400,
        prop_oneof![Just(0i64), 0i64..2_000_000],
        -2_000_000i64..2_000_000,
        -50i64..50,
    )
        .prop_map(|(pool, name, size, collateral, entry, funding)| PosSpec {
            pool,
            name,
            size,
            collateral,
            entry,
            funding,
        })
}

#[derive(Debug, Clone)]
struct AccountSpec {
    portfolio: bool,
    positions: Vec<PosSpec>,
    balances: Vec<(usize, i64)>,
}

const ASSETS: [&str; 5] = ["USDC", "BTC", "DAI", "ETH", "ZZZ"];

fn account_spec() -> impl Strategy<Value = AccountSpec> {
    (
        any::<bool>(),
        prop::collection::vec(pos_spec(), 0..10),
        prop::collection::vec((0..ASSETS.len(), -50_000i64..3_000_000), 0..4),
    )
        .prop_map(|(portfolio, positions, balances)| AccountSpec {
            portfolio,
            positions,
            balances,
        })
}

/// Sizes are in tenths of a contract, money in cents, funding indexes in units.
fn build(spec: &AccountSpec) -> Account {
    let mut a = Account {
        margin: if spec.portfolio {
            MarginMode::Portfolio
        } else {
            MarginMode::Isolated
        },
        ..Account::default()
    };
    for p in &spec.positions {
        a.positions
            .entry(POOLS[p.pool].to_string())
            .or_default()
            .insert(
                NAMES[p.name].to_string(),
                Position {
                    size: Base::from_raw(p.size as i128 * 100_000_000_000_000_000),
                    collateral: Quote::from_raw(p.collateral as i128 * 10_000_000_000_000_000),
                    entry_value: Quote::from_raw(p.entry as i128 * 10_000_000_000_000_000),
                    funding_index: Price::from_int(p.funding),
                    borrow_index: Ratio::ZERO,
                },
            );
    }
    for (asset, cents) in &spec.balances {
        let amount = Quote::from_raw(*cents as i128 * 10_000_000_000_000_000);
        a.balances.insert(ASSETS[*asset].to_string(), amount);
    }
    a
}

fn same(
    a: &Result<margin::Health, derivpool_types::MathError>,
    b: &Result<margin::Health, derivpool_types::MathError>,
) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x == y,
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    /// Health (both modes, both bases, every quote asset) equals the reference.
    #[test]
    fn health_equals_the_reference(spec in account_spec(), later in 0u64..3) {
        let mut state = world();
        // Some cases value at a later time (options nearer expiry, stale sources for the
        // median of fresh feeds inside the confidence charge).
        state.t += later * 3 * H;
        let a = build(&spec);
        for quote in ["USDC", "DAI", "EUR"] {
            for basis in [PriceBasis::Median, PriceBasis::Twap] {
                for mode in [MarginMode::Isolated, MarginMode::Portfolio] {
                    let want = reference::health_of(&state, &a, mode, quote, basis);
                    let got = health_of(&state, &a, mode, quote, basis);
                    prop_assert!(same(&got, &want), "{quote} {basis:?} {mode:?}: {got:?} vs {want:?}");
                }
            }
        }
    }

    /// `health_with` equals the health of the changed copy.
    #[test]
    fn hypothetical_changes_equal_changed_copies(
        spec in account_spec(),
        edit_pos in prop::option::of(pos_spec()),
        edit_bal in prop::option::of((0..ASSETS.len(), -50_000i64..3_000_000)),
    ) {
        let state = world();
        let a = build(&spec);
        let mut copy = a.clone();
        let balance = edit_bal.map(|(asset, cents)| {
            (ASSETS[asset], Quote::from_raw(cents as i128 * 10_000_000_000_000_000))
        });
        if let Some((asset, amount)) = balance {
            copy.balances.insert(asset.to_string(), amount);
        }
        let position = edit_pos.as_ref().map(|p| HypotheticalPosition {
            pool: POOLS[p.pool],
            instrument: NAMES[p.name],
            size: Base::from_raw(p.size as i128 * 100_000_000_000_000_000),
            collateral: Quote::from_raw(p.collateral as i128 * 10_000_000_000_000_000),
        });
        if let Some(p) = &position {
            let pos = copy
                .positions
                .entry(p.pool.to_string())
                .or_default()
                .entry(p.instrument.to_string())
                .or_default();
            pos.size = p.size;
            pos.collateral = p.collateral;
        }
        let edit = Hypothetical { balance, position };
        for quote in ["USDC", "DAI"] {
            for basis in [PriceBasis::Median, PriceBasis::Twap] {
                let mode = a.margin;
                let want = reference::health_of(&state, &copy, mode, quote, basis);
                let got = health_with(&state, &a, &edit, mode, quote, basis);
                prop_assert!(same(&got, &want), "{quote} {basis:?}: {got:?} vs {want:?}");
            }
        }
    }

    /// The scan's shortcut never skips an account that full health would call liquidatable,
    /// and the scan leaves the same state as the reference scan.
    #[test]
    fn scan_equals_the_reference(specs in prop::collection::vec((account_spec(), prop::option::of(0u64..5)), 1..8)) {
        let mut state = world();
        for (i, (spec, since)) in specs.iter().enumerate() {
            let mut a = build(spec);
            a.liquidatable_since = since.map(|s| state.t - s * H);
            state.accounts.insert(format!("acct{i}"), a);
        }
        for (_, a) in state.accounts.iter() {
            for quote in ["USDC", "DAI"] {
                if margin::surely_healthy(&state, a, quote, PriceBasis::Median) {
                    let h = reference::health_of(&state, a, a.margin, quote, PriceBasis::Median);
                    prop_assert!(
                        matches!(&h, Ok(h) if !h.has_positions || h.maintenance >= Quote::ZERO),
                        "skipped an account whose health is {h:?}"
                    );
                }
            }
        }
        let now = state.t + 60;
        let mut want = state.clone();
        let r_want = reference::scan(&mut want, now);
        let r_got = derivpool_engine::liquidation::scan(&mut state, now);
        prop_assert_eq!(r_got.is_ok(), r_want.is_ok());
        prop_assert_eq!(state, want);
    }
}

/// The shortcut checks each pool's own market parameters: options on the same underlying in
/// a second pool whose rate is negative (where a put can be worth more than its strike) make it
/// decline, even after a position in a pool where the same underlying's parameters are fine.
#[test]
fn the_shortcut_checks_the_market_of_every_pool() {
    let mut state = world();
    let long_in = |pools: &[usize]| {
        build(&AccountSpec {
            portfolio: false,
            positions: pools
                .iter()
                .map(|&pool| PosSpec {
                    pool,
                    name: 0,
                    size: 1,
                    collateral: 0,
                    entry: 0,
                    funding: 0,
                })
                .collect(),
            balances: vec![(0, 1_000_000)],
        })
    };
    let surely =
        |state: &State, a: &Account| margin::surely_healthy(state, a, "USDC", PriceBasis::Median);
    // "alt" (1) comes before "main" (0) in the account's positions.
    assert!(surely(&state, &long_in(&[1, 0])), "both markets are fine");
    state
        .pools
        .get_mut(POOLS[0])
        .and_then(|p| p.markets.get_mut("BTC"))
        .expect("main lists BTC")
        .params
        .rate = Ratio::from_f64(-0.01, derivpool_types::Rounding::Down).unwrap();
    assert!(!surely(&state, &long_in(&[0])), "a negative rate");
    assert!(
        !surely(&state, &long_in(&[1, 0])),
        "the second pool's market is checked too"
    );
}

/// Long-only isolated accounts, and isolated accounts whose collateral covers their written
/// options in full, are the ones the scan's shortcut is for: it must take them, and it must not
/// take a short that is not covered.
#[test]
fn the_shortcut_takes_long_only_and_fully_covered_isolated_accounts() {
    let state = world();
    let account = |size: i64, usdc: i64| {
        build(&AccountSpec {
            portfolio: false,
            positions: vec![PosSpec {
                pool: 0,
                name: 0,
                size,
                collateral: 0,
                entry: 0,
                funding: 0,
            }],
            balances: vec![(0, usdc)],
        })
    };
    let surely = |a: &Account| margin::surely_healthy(&state, a, "USDC", PriceBasis::Median);
    assert!(surely(&account(10, 100)), "a long needs nothing");
    assert!(
        !surely(&account(-10, 100)),
        "one written call, 1.00 of collateral"
    );
    // One written BTC call (size −10 = −1.0 contract) is covered by one unit of spot.
    let spot = margin::price(&state, "BTC", PriceBasis::Median)
        .expect("BTC has a price")
        .to_f64();
    let cents = |x: f64| (x * 100.0) as i64;
    let covered = account(-10, cents(spot * 1.01));
    assert!(surely(&covered), "covered by 1.01 × spot");
    let h = reference::health_of(&state, &covered, covered.margin, "USDC", PriceBasis::Median)
        .expect("health");
    assert!(h.maintenance >= Quote::ZERO, "{h:?}");
    assert!(
        !surely(&account(-10, cents(spot * 0.99))),
        "0.99 × spot does not cover a written call"
    );
    // A perp (NAMES[10], BTC-PERP) of 1.0 long entered at spot: taken with 50 % of its notional
    // as collateral, not with 1 %.
    let perp = |usdc: i64| {
        build(&AccountSpec {
            portfolio: false,
            positions: vec![PosSpec {
                pool: 0,
                name: 10,
                size: 10,
                collateral: 0,
                entry: cents(spot),
                funding: 0,
            }],
            balances: vec![(0, usdc)],
        })
    };
    let taken = perp(cents(spot * 0.5));
    assert!(surely(&taken), "half the notional covers a perp");
    let h = reference::health_of(&state, &taken, taken.margin, "USDC", PriceBasis::Median)
        .expect("health");
    assert!(h.maintenance >= Quote::ZERO, "{h:?}");
    assert!(!surely(&perp(cents(spot * 0.01))), "1 % of the notional");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Isolated accounts (options, perps, names health skips) with collateral around what
    /// covers their written options and perp margins: whenever the shortcut takes one, full
    /// health agrees that it is not under water.
    #[test]
    fn the_shortcut_is_sound_around_full_cover(
        positions in prop::collection::vec(pos_spec(), 1..6),
        balance_per_unit in 0i64..12_000_000,
        other in prop::collection::vec((1usize..ASSETS.len(), -50_000i64..3_000_000), 0..2),
    ) {
        let mut state = world();
        // Funding and borrow have accrued since the positions' last settlement.
        for pool in state.pools.values_mut() {
            for m in pool.markets.values_mut() {
                m.perp.funding_index = Price::from_int(7);
                m.perp.borrow_index = Ratio::from_f64(0.002, derivpool_types::Rounding::Down).unwrap();
            }
        }
        let units: i64 = positions.iter().map(|p| p.size.abs()).sum();
        let mut balances = vec![(0usize, balance_per_unit.saturating_mul(units.max(1)) / 10)];
        balances.extend(other);
        let a = build(&AccountSpec {
            portfolio: false,
            positions,
            balances,
        });
        for quote in ["USDC", "DAI"] {
            if margin::surely_healthy(&state, &a, quote, PriceBasis::Median) {
                let h = reference::health_of(&state, &a, a.margin, quote, PriceBasis::Median);
                prop_assert!(
                    matches!(&h, Ok(h) if !h.has_positions || h.maintenance >= Quote::ZERO),
                    "skipped an account whose health is {h:?}"
                );
            }
        }
    }

    /// The shortcut is tight enough to matter and never loose: an isolated account given just
    /// less collateral than it needs (health is linear in its quote balance) is never taken.
    #[test]
    fn the_shortcut_never_takes_an_account_just_under_water(
        positions in prop::collection::vec(pos_spec(), 1..6),
        short_by_cents in 2i64..200_000,
    ) {
        let mut state = world();
        for pool in state.pools.values_mut() {
            for m in pool.markets.values_mut() {
                m.perp.funding_index = Price::from_int(900);
                m.perp.borrow_index = Ratio::from_f64(0.02, derivpool_types::Rounding::Down).unwrap();
            }
        }
        let spec = AccountSpec { portfolio: false, positions, balances: vec![] };
        let Ok(h0) = reference::health_of(&state, &build(&spec), MarginMode::Isolated, "USDC", PriceBasis::Median) else {
            return Ok(());
        };
        prop_assume!(h0.has_positions);
        let balance = (-h0.maintenance.to_f64() * 100.0).floor() as i64 - short_by_cents;
        let a = build(&AccountSpec { balances: vec![(0, balance)], ..spec });
        let h = reference::health_of(&state, &a, a.margin, "USDC", PriceBasis::Median).unwrap();
        prop_assume!(h.maintenance < Quote::ZERO);
        prop_assert!(
            !margin::surely_healthy(&state, &a, "USDC", PriceBasis::Median),
            "took an account whose health is {h:?}"
        );
    }
}
