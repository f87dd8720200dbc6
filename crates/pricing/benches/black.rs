//! Benchmarks of the option models (DESIGN §8: price + delta, gamma, vega, theta, rho ≤ 60 ns
//! per option on one core; implied vol ≤ 250 ns per call). Each iteration runs a batch of
//! `BATCH` varied options; criterion reports the time per batch, and the per-option time is
//! that divided by `BATCH` (criterion's throughput line shows elements per second).
//!
//! `*_price_and_greeks` use exactly what the §8 target names (price, delta, gamma, vega, theta,
//! rho): the Greeks functions are inlined into the loop, so the unused vanna and volga are not
//! computed. `bsm_all_greeks` also uses vanna and volga (the full `Greeks`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use derivpool_pricing::{
    black76_greeks, bsm_greeks, bsm_greeks_call_put, implied_vol_black76, implied_vol_bsm,
    inverse_greeks, Black76Inputs, BsmGrid, BsmInputs, OptionKind,
};
use std::hint::black_box;

const BATCH: usize = 1024;

/// Times `f` over every item of `items`, summing its results so that none is optimised away.
fn sum_over<T>(b: &mut criterion::Bencher, items: &[T], f: impl Fn(&T) -> f64) {
    b.iter(|| {
        let mut acc = 0.0;
        for i in black_box(items) {
            acc += f(i);
        }
        black_box(acc)
    })
}

/// Deterministic varied inputs: moneyness 0.6..1.6, t 1 day..2 years, vol 10..150 %.
fn bsm_batch() -> Vec<BsmInputs> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut u = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..BATCH)
        .map(|n| BsmInputs {
            kind: if n % 2 == 0 {
                OptionKind::Call
            } else {
                OptionKind::Put
            },
            spot: 100.0,
            strike: 100.0 * (0.6 + u()),
            t: 1.0 / 365.0 + 2.0 * u(),
            rate: 0.05 * u(),
            div: 0.02 * u(),
            vol: 0.1 + 1.4 * u(),
        })
        .collect()
}

fn black76_batch() -> Vec<Black76Inputs> {
    bsm_batch()
        .into_iter()
        .map(|i| Black76Inputs {
            kind: i.kind,
            forward: i.spot,
            strike: i.strike,
            t: i.t,
            rate: i.rate,
            vol: i.vol,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let bsm = bsm_batch();
    let b76 = black76_batch();
    // Each option with its price, for the implied-vol benches.
    let bsm_priced: Vec<(BsmInputs, f64)> = bsm
        .iter()
        .map(|i| (*i, bsm_greeks(i).unwrap().price))
        .collect();
    let b76_priced: Vec<(Black76Inputs, f64)> = b76
        .iter()
        .map(|i| (*i, black76_greeks(i).unwrap().price))
        .collect();

    let mut g = c.benchmark_group("per_batch_of_1024");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("bsm_price_and_greeks", |b| {
        sum_over(b, &bsm, |i| {
            let g = bsm_greeks(black_box(i)).unwrap();
            g.price + g.delta + g.gamma + g.vega + g.theta + g.rho
        })
    });
    g.bench_function("bsm_all_greeks", |b| {
        sum_over(b, &bsm, |i| {
            let g = bsm_greeks(black_box(i)).unwrap();
            g.price + g.delta + g.gamma + g.vega + g.theta + g.rho + g.vanna + g.volga
        })
    });
    // The greek cache's per-strike work: the call's and the put's Greeks (two calls versus one
    // shared evaluation; the batch's kinds are ignored, both kinds are priced at every point).
    g.bench_function("bsm_greeks_call_and_put_separately", |b| {
        sum_over(b, &bsm, |i| {
            let c = bsm_greeks(&BsmInputs {
                kind: OptionKind::Call,
                ..*black_box(i)
            })
            .unwrap();
            let p = bsm_greeks(&BsmInputs {
                kind: OptionKind::Put,
                ..*black_box(i)
            })
            .unwrap();
            c.price + c.delta + c.vega + p.price + p.delta + p.theta
        })
    });
    g.bench_function("bsm_greeks_call_put_shared", |b| {
        sum_over(b, &bsm, |i| {
            let (c, p) = bsm_greeks_call_put(black_box(i)).unwrap();
            c.price + c.delta + c.vega + p.price + p.delta + p.theta
        })
    });
    g.bench_function("black76_price_and_greeks", |b| {
        sum_over(b, &b76, |i| {
            let g = black76_greeks(black_box(i)).unwrap();
            g.price + g.delta + g.gamma + g.vega + g.theta + g.rho
        })
    });
    g.bench_function("inverse_price_and_greeks", |b| {
        sum_over(b, &b76, |i| {
            let g = inverse_greeks(i.kind, i.forward, i.strike, i.t, i.vol).unwrap();
            g.price + g.delta + g.gamma + g.vega + g.theta + g.rho
        })
    });
    g.bench_function("implied_vol_bsm", |b| {
        sum_over(b, &bsm_priced, |(i, p)| {
            implied_vol_bsm(i.kind, *p, i.spot, i.strike, i.t, i.rate, i.div).unwrap()
        })
    });
    g.bench_function("implied_vol_black76", |b| {
        sum_over(b, &b76_priced, |(i, p)| {
            implied_vol_black76(i.kind, *p, i.forward, i.strike, i.t, i.rate).unwrap()
        })
    });
    g.finish();

    // The pool's stress grid (DESIGN §5.7): per strike, 9 spot shocks × 3 vols + 2 tails = 29
    // points, each a call and a put. One iteration = 1,024 strikes.
    let shocks: Vec<(f64, f64)> = (-4..=4)
        .flat_map(|i| [0.6, 1.0, 1.3].map(|v| (i as f64 * 0.05, v)))
        .chain([(-0.5, 1.0), (1.0, 1.0)])
        .collect();
    let mut g = c.benchmark_group("stress_grid_1024_strikes_x_29_points");
    g.throughput(Throughput::Elements((BATCH * shocks.len()) as u64));
    g.bench_function("bsm_grid_call_put", |b| {
        sum_over(b, &bsm, |i| {
            let grid = BsmGrid::new(i.strike, i.t, i.rate, i.div).unwrap();
            let mut last = None;
            let mut acc = 0.0;
            for &(shock, mult) in &shocks {
                let point = match last {
                    Some((s, p)) if s == shock => p,
                    _ => {
                        let p = grid.at_spot(i.spot * (1.0 + shock));
                        last = Some((shock, p));
                        p
                    }
                };
                let (c, p) = grid.call_put(&point, i.vol * mult);
                acc += c + p;
            }
            acc
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
