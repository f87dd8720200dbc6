//! Deribit ETH option chain (2021-02-11): every row with a mark IV is repriced as an inverse
//! option from `mark_iv` on its `underlying_price` (the forward), r = 0,
//! T = (expiry 08:00 UTC − timestamp)/365 days, and compared with `mark_price`, `greeks.delta`,
//! `greeks.gamma` and `greeks.vega`; the vol is recovered from the repriced price.

use derivpool_pricing::{inverse_greeks, inverse_implied_vol, inverse_price, OptionKind};

mod common;
use common::{num, records};

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `ETH-26MAR21-2000-C` → (expiry in Unix ms at 08:00 UTC, strike, kind).
fn parse_instrument(name: &str) -> (i64, f64, OptionKind) {
    let parts: Vec<&str> = name.split('-').collect();
    assert_eq!(parts.len(), 4, "instrument {name}");
    let date = parts[1];
    let (day, rest) = date.split_at(date.len() - 5);
    let month = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ]
    .iter()
    .position(|m| *m == &rest[..3])
    .unwrap_or_else(|| panic!("month in {name}")) as i64
        + 1;
    let year = 2000 + rest[3..].parse::<i64>().unwrap();
    let day: i64 = day.parse().unwrap();
    let ms = (days_from_civil(year, month, day) * 86_400 + 8 * 3600) * 1000;
    (ms, parts[2].parse().unwrap(), parts[3].parse().unwrap())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn instrument_names_parse() {
    let (ms, k, kind) = parse_instrument("ETH-26MAR21-2000-P");
    assert_eq!(ms, 1_616_745_600_000); // 2021-03-26T08:00:00Z
    assert_eq!((k, kind), (2000.0, OptionKind::Put));
    let (ms, _, kind) = parse_instrument("ETH-5MAR21-1500-C");
    assert_eq!(ms, 1_614_931_200_000); // 2021-03-05T08:00:00Z
    assert_eq!(kind, OptionKind::Call);
}

#[test]
fn chain_reprices_from_mark_iv() {
    let rows = records("deribit_eth_option_chain_2021-02-11.csv");
    assert!(rows.len() > 900, "expected ~996 rows, got {}", rows.len());
    let (mut price_err, mut delta_err, mut iv_err) = (Vec::new(), Vec::new(), Vec::new());
    let (mut gamma_err, mut vega_err, mut iv_rel) = (Vec::new(), Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for row in &rows {
        let iv = num(row, "mark_iv") / 100.0;
        if iv <= 0.0 {
            continue;
        }
        let name = &row["instrument_name"];
        let (expiry_ms, strike, kind) = parse_instrument(name);
        let ts = num(row, "timestamp") as i64;
        let t = (expiry_ms - ts) as f64 / (365.0 * 86_400_000.0);
        let f = num(row, "underlying_price");
        let price = inverse_price(kind, f, strike, t, iv).unwrap();
        let g = inverse_greeks(kind, f, strike, t, iv).unwrap();
        assert_eq!(price, g.price, "{name}: price paths differ");

        let e = (price - num(row, "mark_price")).abs();
        price_err.push(e);
        if e > 5e-4 {
            failures.push(format!(
                "{name}: price {price} vs mark {}",
                row["mark_price"]
            ));
        }
        let e = (g.delta - num(row, "greeks.delta")).abs();
        delta_err.push(e);
        if e > 1e-3 {
            failures.push(format!(
                "{name}: delta {} vs {}",
                g.delta, row["greeks.delta"]
            ));
        }
        // Deribit reports gamma per USD and vega in USD per vol point, rounded to 5 decimals.
        let e = (g.gamma * f - num(row, "greeks.gamma")).abs();
        gamma_err.push(e);
        if e > 1e-5 {
            failures.push(format!(
                "{name}: gamma {} vs {}",
                g.gamma * f,
                row["greeks.gamma"]
            ));
        }
        let want_vega = num(row, "greeks.vega");
        let e = (g.vega * f * 0.01 - want_vega).abs();
        vega_err.push(e);
        if e > 1e-3 + 1e-3 * want_vega.abs() {
            failures.push(format!("{name}: vega {} vs {want_vega}", g.vega * f * 0.01));
        }
        // The vol comes back from the repriced coin price. The price carries the vol only to
        // its rounding: a relative error ε of the price moves the vol by ε·price/(vega·σ)
        // (large for in-the-money options close to expiry), so the tolerance is 1e-12 plus
        // 8 ulps of the price expressed in vol.
        if price > 1e-10 {
            let conditioning = price / (g.vega * iv);
            match inverse_implied_vol(kind, price, f, strike, t) {
                Ok(v) => {
                    let e = ((v - iv) / iv).abs();
                    iv_rel.push(e);
                    iv_err.push(e / (1e-12 + 8.0 * f64::EPSILON * conditioning));
                    if e > 1e-12 + 8.0 * f64::EPSILON * conditioning {
                        failures.push(format!(
                            "{name}: iv {v} from {price}, want {iv} (price/(vega·σ) = {conditioning:.3e})"
                        ));
                    }
                }
                Err(err) => failures.push(format!("{name}: iv failed: {err}")),
            }
        }
    }
    let n = price_err.len();
    println!(
        "deribit: {n} rows; |price − mark_price| median {:.3e} max {:.3e} coin; |delta − greeks.delta| median {:.3e} max {:.3e}; gamma max {:.3e}; vega max {:.3e} USD/vol pt; iv round trip ({} rows) worst error/tolerance {:.3e}, median rel {:.3e}, max rel {:.3e}",
        median(&mut price_err),
        price_err.last().unwrap(),
        median(&mut delta_err),
        delta_err.last().unwrap(),
        median(&mut gamma_err).max(*gamma_err.last().unwrap()),
        median(&mut vega_err).max(*vega_err.last().unwrap()),
        iv_err.len(),
        median(&mut iv_err).max(*iv_err.last().unwrap()),
        median(&mut iv_rel),
        iv_rel.last().unwrap(),
    );
    assert!(n > 900, "only {n} rows with a mark IV");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
