//! The oracle agent: several price sources around the true path, with noise and delays, and
//! scripted faults — outages (every source silent), stale feeds (one source repeating its last
//! value with fresh timestamps) and manipulation (one source pushed by a factor for a while) — plus
//! a vol feed that posts raw SVI slices built from the path's vol.
//!
//! A source's report at step i is `spot[i − lag] × (1 + noise·Z)` with Z ~ N(0, 1), posted
//! `offset_s` seconds into the step. The vol slice for an expiry T years away has the path's vol σ
//! (times 1 + vol_noise·Z) at the money and a gentle put skew:
//! b = 0.08·√T, ρ = −0.3, m = 0, s = 0.1, a = σ²T − b·s, so that w(0) = a + b·s = σ²T.

use crate::rng::SimRng;
use derivpool_engine::{CommandKind, SviParams};
use derivpool_types::{Fixed, Price, Ratio};
use serde::Serialize;

/// A window of time relative to the path start, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Seconds after the path start.
    pub start_s: u64,
    /// Length in seconds.
    pub length_s: u64,
}

impl Window {
    /// True when `off` seconds after the path start lies inside.
    pub fn contains(&self, off: u64) -> bool {
        off >= self.start_s && off < self.start_s + self.length_s
    }
}

/// One price source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceSpec {
    /// Feed name (as listed in `oracle_sources`).
    pub name: String,
    /// Relative noise of each report (std dev).
    pub noise: f64,
    /// Delay in steps: the source reports the price of this many steps ago.
    pub lag_steps: usize,
}

/// A manipulated source: its reports are multiplied by `factor` inside the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manipulation {
    /// Index of the source in [`OracleScript::sources`].
    pub source: usize,
    /// When.
    pub window: Window,
    /// Price multiple (e.g. 1.3 pushes the source 30 % up).
    pub factor: f64,
}

/// The oracle's sources and scripted faults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OracleScript {
    /// Price and vol sources.
    pub sources: Vec<SourceSpec>,
    /// Relative noise of each source's ATM vol.
    pub vol_noise: f64,
    /// Windows in which no source reports anything.
    pub outages: Vec<Window>,
    /// Windows in which one source (by index) repeats its last price.
    pub stale: Vec<(usize, Window)>,
    /// Manipulated sources.
    pub manipulation: Vec<Manipulation>,
}

impl OracleScript {
    /// Three honest sources (`chainlink`, `pyth`, `redstone`), one of them a step late.
    pub fn honest() -> OracleScript {
        let src = |name: &str, noise, lag_steps| SourceSpec {
            name: name.into(),
            noise,
            lag_steps,
        };
        OracleScript {
            sources: vec![
                src("chainlink", 0.0005, 0),
                src("pyth", 0.0003, 0),
                src("redstone", 0.0008, 1),
            ],
            vol_noise: 0.01,
            outages: Vec::new(),
            stale: Vec::new(),
            manipulation: Vec::new(),
        }
    }

    /// Source names in order.
    pub fn names(&self) -> Vec<String> {
        self.sources.iter().map(|s| s.name.clone()).collect()
    }

    /// True when every source is silent at `off` seconds after the start.
    pub fn in_outage(&self, off: u64) -> bool {
        self.outages.iter().any(|w| w.contains(off))
    }
}

/// The oracle agent's running state.
#[derive(Debug, Clone)]
pub struct OracleAgent {
    script: OracleScript,
    rng: SimRng,
    last: Vec<f64>,
    /// Median of the latest reports (what the engine sees when all are fresh).
    pub last_median: f64,
}

/// `x` rounded to `places` decimals as a fixed-point value, so that the log reads `61234.57`
/// rather than the binary expansion of a float. The value is exactly that of the text
/// `format!("{x:.places$}")` (the float's exact binary value rounded half to even), computed
/// without the text. Panics only for non-finite input, which the paths and agents exclude, or a
/// value beyond the fixed-point range.
pub fn decimal<T: Fixed>(x: f64, places: usize) -> T {
    assert!(x.is_finite(), "non-finite amount {x}");
    match decimal_raw(x, places) {
        Some(raw) => T::from_raw(raw),
        None => T::from_raw(decimal_via_text(x, places)),
    }
}

/// The reference of [`decimal`]: print with `places` decimals, parse the text.
fn decimal_via_text(x: f64, places: usize) -> i128 {
    format!("{x:.places$}")
        .parse::<derivpool_types::Quote>()
        .expect("a rounded decimal parses")
        .raw()
}

/// Raw units (10⁻¹⁸) of `x` rounded half to even to `places` ≤ 18 decimals, by integer
/// arithmetic on the float's mantissa m and exponent e (x = m·2^e): the rounded count of
/// 10^−places is round(m·5^places · 2^(e+places)). `None` when it would not fit (the caller then
/// takes the text path, which decides).
fn decimal_raw(x: f64, places: usize) -> Option<i128> {
    if places > 18 {
        return None;
    }
    let bits = x.to_bits();
    let negative = bits >> 63 == 1;
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let frac_bits = bits & ((1u64 << 52) - 1);
    let (m, e) = if exp_bits == 0 {
        (frac_bits, -1074)
    } else {
        (frac_bits | (1u64 << 52), exp_bits - 1075)
    };
    // m < 2^53 and 5^18 < 2^42: a < 2^95.
    let a = u128::from(m) * 5u128.pow(places as u32);
    let k = e + places as i32;
    let n: u128 = if k >= 0 {
        if k >= 32 {
            return None;
        }
        a << k
    } else {
        let shift = (-k) as u32;
        if shift >= 127 {
            0
        } else {
            let q = a >> shift;
            let rem = a & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            if rem > half || (rem == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }
        }
    };
    let scaled = n.checked_mul(10u128.pow(18 - places as u32))?;
    let magnitude = i128::try_from(scaled).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// A price, to the cent.
pub fn price(x: f64) -> Price {
    decimal(x, 2)
}

/// A ratio, to 12 decimals.
pub fn ratio(x: f64) -> Ratio {
    decimal(x, 12)
}

impl OracleAgent {
    /// An oracle agent with its own random stream.
    pub fn new(script: OracleScript, rng: SimRng) -> OracleAgent {
        let n = script.sources.len();
        OracleAgent {
            script,
            rng,
            last: vec![0.0; n],
            last_median: 0.0,
        }
    }

    /// The script.
    pub fn script(&self) -> &OracleScript {
        &self.script
    }

    /// The spot reports of step `i` (`off` seconds after the start) for `asset`.
    pub fn spot_reports(
        &mut self,
        asset: &str,
        spot: &[f64],
        i: usize,
        off: u64,
        out: &mut Vec<CommandKind>,
    ) {
        if self.script.in_outage(off) {
            return;
        }
        let mut reported = Vec::with_capacity(self.script.sources.len());
        for (k, s) in self.script.sources.iter().enumerate() {
            let z = self.rng.normal();
            let stale = self
                .script
                .stale
                .iter()
                .any(|(src, w)| *src == k && w.contains(off));
            let mut p = if stale && self.last[k] > 0.0 {
                self.last[k]
            } else {
                spot[i.saturating_sub(s.lag_steps)] * (1.0 + s.noise * z)
            };
            if !stale {
                self.last[k] = p;
            }
            for m in &self.script.manipulation {
                if m.source == k && m.window.contains(off) {
                    p *= m.factor;
                }
            }
            reported.push(p);
            out.push(CommandKind::OraclePrice {
                source: s.name.clone(),
                asset: asset.to_string(),
                price: price(p),
                confidence: Some(ratio(0.0005)),
            });
        }
        reported.sort_by(f64::total_cmp);
        self.last_median = reported[reported.len() / 2];
    }

    /// The vol slices of step `off` for each `(expiry code, years to expiry)`.
    pub fn vol_reports(
        &mut self,
        underlying: &str,
        vol: f64,
        expiries: &[(String, f64)],
        off: u64,
        out: &mut Vec<CommandKind>,
    ) {
        if self.script.in_outage(off) {
            return;
        }
        for (code, years) in expiries {
            for s in &self.script.sources {
                let v = vol * (1.0 + self.script.vol_noise * self.rng.normal());
                out.push(CommandKind::OracleVol {
                    source: s.name.clone(),
                    underlying: underlying.to_string(),
                    expiry: code.clone(),
                    svi: svi_slice(v.max(0.05), *years),
                });
            }
        }
    }
}

/// The raw SVI slice of the module docs with ATM vol `vol` at `years` to expiry.
pub fn svi_slice(vol: f64, years: f64) -> SviParams {
    let years = years.max(1e-6);
    let (b, rho, m, sigma) = (0.08 * years.sqrt(), -0.3, 0.0, 0.1);
    let a = vol * vol * years - b * sigma;
    SviParams {
        a: ratio(a),
        b: ratio(b),
        rho: ratio(rho),
        m: ratio(m),
        sigma: ratio(sigma),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same_as_text(x: f64, places: usize) {
        assert_eq!(
            decimal_raw(x, places).unwrap_or_else(|| decimal_via_text(x, places)),
            decimal_via_text(x, places),
            "{x:e} to {places} places"
        );
    }

    #[test]
    fn decimal_equals_the_printed_text_on_edge_cases() {
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            -2.5,
            0.125,
            0.375,
            -0.125,
            0.25,
            0.35,
            0.0005,
            1e-3,
            -1e-3,
            0.005,
            0.015,
            0.045,
            1.005,
            2.675,
            61_234.565,
            61_234.575,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1e-19,
            f64::next_down(5e-13),
            5e-13,
            1e15,
            123_456_789.123_456_78,
            9_007_199_254_740_993.0,
            1.7e20,
        ];
        for k in -20..=19 {
            let p = 10f64.powi(k);
            xs.extend([p, -p, 0.5 * p, 1.5 * p, 2.5 * p, p.next_up(), p.next_down()]);
        }
        for x in xs {
            for places in [0, 1, 2, 3, 4, 6, 12, 18] {
                same_as_text(x, places);
            }
        }
        // Every tie k/2^j with few bits (exactly halfway between two 4-place decimals or not).
        for j in 1..=20 {
            for k in 0..64u32 {
                let x = f64::from(k) / f64::from(1u32 << j) + 0.0625;
                for places in [0, 1, 2, 3, 4] {
                    same_as_text(x, places);
                    same_as_text(-x, places);
                }
            }
        }
        // Beyond the fixed-point range the text path decides (it panics, as before).
        assert_eq!(decimal_raw(1.7e21, 2), None);
        assert_eq!(decimal_raw(-1e30, 0), None);
        let d: Price = decimal(61_234.567, 2);
        assert_eq!(d.to_string(), "61234.57");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]

        #[test]
        fn decimal_equals_the_printed_text(
            x in prop_oneof![
                -1e12f64..1e12,
                -1.0f64..1.0,
                -1e-6f64..1e-6,
                (any::<i32>(), 0u32..8).prop_map(|(n, k)| f64::from(n) / 10f64.powi(k as i32)),
                (any::<u64>()).prop_map(f64::from_bits).prop_filter("finite, in range", |x| x.is_finite() && x.abs() < 1e20),
            ],
            places in prop_oneof![Just(2usize), Just(3), Just(4), Just(12), 0usize..=18],
        ) {
            let fast = decimal_raw(x, places).unwrap_or_else(|| decimal_via_text(x, places));
            prop_assert_eq!(fast, decimal_via_text(x, places));
        }
    }

    fn prices(out: &[CommandKind]) -> Vec<f64> {
        out.iter()
            .map(|c| match c {
                CommandKind::OraclePrice { price, .. } => price.to_f64(),
                _ => panic!("not a price"),
            })
            .collect()
    }

    #[test]
    fn outage_silences_manipulation_pushes_one_source_stale_repeats() {
        let mut s = OracleScript::honest();
        s.outages.push(Window {
            start_s: 3600,
            length_s: 3600,
        });
        s.manipulation.push(Manipulation {
            source: 0,
            window: Window {
                start_s: 7200,
                length_s: 3600,
            },
            factor: 1.3,
        });
        s.stale.push((
            1,
            Window {
                start_s: 10_800,
                length_s: 7200,
            },
        ));
        let spot = [100.0, 101.0, 102.0, 103.0, 104.0];
        let mut o = OracleAgent::new(s, SimRng::stream(1, "oracle"));
        let mut out = Vec::new();
        o.spot_reports("BTC", &spot, 0, 0, &mut out);
        assert_eq!(out.len(), 3);
        out.clear();
        o.spot_reports("BTC", &spot, 1, 3600, &mut out);
        assert!(out.is_empty(), "outage reports nothing");
        o.spot_reports("BTC", &spot, 2, 7200, &mut out);
        let p = prices(&out);
        assert!((p[0] / 102.0 - 1.3).abs() < 0.01, "manipulated {p:?}");
        assert!(
            (o.last_median / 102.0 - 1.0).abs() < 0.01,
            "median ignores one source"
        );
        out.clear();
        o.spot_reports("BTC", &spot, 3, 10_800, &mut out);
        o.spot_reports("BTC", &spot, 4, 14_400, &mut out);
        let p = prices(&out);
        assert_eq!(p[1], p[4], "the stale source repeats itself");
    }

    #[test]
    fn svi_slice_has_the_path_vol_at_the_money() {
        let s = svi_slice(0.6, 0.25);
        let w0 = s.a.to_f64() + s.b.to_f64() * s.sigma.to_f64();
        assert!((w0 - 0.36 * 0.25).abs() < 1e-9);
    }
}
