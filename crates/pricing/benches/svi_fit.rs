//! Benchmarks of the volatility-surface code: a 25-strike SVI slice fit (DESIGN §8 target:
//! ≤ 100 µs), the butterfly check of a slice, and a surface lookup.
//!
//! Run: `cargo bench -p derivpool-pricing --bench svi_fit -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, Criterion};
use derivpool_pricing::{fit_svi, IvQuote, Surface, SviRaw};
use std::hint::black_box;
use std::path::PathBuf;

/// The 25-quote DAX slice at t = 0.16 of `shared/data/svi_smile_sample_DAX.csv`.
fn dax_slice() -> (f64, Vec<IvQuote>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/svi_smile_sample_DAX.csv");
    let mut rdr = csv::Reader::from_path(&path).unwrap_or_else(|e| {
        panic!(
            "missing reference data file svi_smile_sample_DAX.csv at {}: {e}",
            path.display()
        )
    });
    let mut q = Vec::new();
    for rec in rdr.records() {
        let rec = rec.expect("csv row");
        let t: f64 = rec[2].parse().expect("maturity");
        if t == 0.16 {
            q.push(IvQuote {
                k: rec[0].parse().expect("k"),
                iv: rec[1].parse().expect("iv"),
                weight: 1.0,
            });
        }
    }
    assert_eq!(q.len(), 25, "DAX t = 0.16 slice");
    (0.16, q)
}

/// A 25-strike equity-like smile, t = 0.5, k from −0.6 to 0.4, from SVI plus a deterministic
/// ±0.3 vol-point wiggle (so the fit is not exact).
fn synthetic_slice() -> (f64, Vec<IvQuote>) {
    let p = SviRaw {
        a: 0.01,
        b: 0.1,
        rho: -0.6,
        m: 0.05,
        sigma: 0.15,
    };
    let t = 0.5;
    let q = (0..25)
        .map(|i| {
            let k = -0.6 + i as f64 / 24.0;
            let wiggle = 0.003 * (((i * 7) % 5) as f64 - 2.0) / 2.0;
            IvQuote {
                k,
                iv: p.implied_vol(k, t) + wiggle,
                weight: 1.0,
            }
        })
        .collect();
    (t, q)
}

fn bench(c: &mut Criterion) {
    let (t_dax, dax) = dax_slice();
    c.bench_function("fit_svi 25 strikes (DAX t=0.16)", |b| {
        b.iter(|| fit_svi(black_box(t_dax), black_box(&dax)).expect("fit"))
    });
    let (t_syn, syn) = synthetic_slice();
    c.bench_function("fit_svi 25 strikes (synthetic equity t=0.5)", |b| {
        b.iter(|| fit_svi(black_box(t_syn), black_box(&syn)).expect("fit"))
    });

    let slice = fit_svi(t_dax, &dax).expect("fit").params;
    c.bench_function("butterfly_check", |b| {
        b.iter(|| black_box(black_box(slice).butterfly_check()))
    });

    let surface = Surface::new(vec![
        (
            0.1,
            SviRaw {
                a: 0.003,
                b: 0.04,
                rho: -0.5,
                m: 0.02,
                sigma: 0.08,
            },
        ),
        (
            0.25,
            SviRaw {
                a: 0.006,
                b: 0.05,
                rho: -0.5,
                m: 0.02,
                sigma: 0.1,
            },
        ),
        (
            0.5,
            SviRaw {
                a: 0.012,
                b: 0.07,
                rho: -0.45,
                m: 0.03,
                sigma: 0.15,
            },
        ),
        (
            1.0,
            SviRaw {
                a: 0.025,
                b: 0.09,
                rho: -0.4,
                m: 0.04,
                sigma: 0.2,
            },
        ),
        (
            2.0,
            SviRaw {
                a: 0.05,
                b: 0.11,
                rho: -0.35,
                m: 0.05,
                sigma: 0.25,
            },
        ),
    ])
    .expect("surface");
    c.bench_function("Surface::implied_vol (between slices)", |b| {
        b.iter(|| surface.implied_vol(black_box(-0.15), black_box(0.7)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
