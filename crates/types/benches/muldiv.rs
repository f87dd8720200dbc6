//! The fixed-point multiply `a × b / 10¹⁸` (every `mul` of two amounts: price × size, amount ×
//! ratio) against the general `a × b / c` with a divisor other than 10¹⁸. Each iteration runs a
//! batch of `BATCH` varied operands the size of real amounts (sizes 0.001–1,000 contracts,
//! prices 1–100,000, every digit used); the per-multiply time is the batch time / `BATCH`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use derivpool_types::{mul_div, Rounding, SCALE};
use std::hint::black_box;

const BATCH: usize = 1024;

/// Deterministic varied (size, price) pairs as raw fixed-point values.
fn operands() -> Vec<(i128, i128)> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..BATCH)
        .map(|_| {
            let size = 1e-3 * 1e6f64.powf((next() % 1_000_000) as f64 / 1e6);
            let price = 1e5f64.powf((next() % 1_000_000) as f64 / 1e6);
            let sign = if next() % 2 == 0 { 1 } else { -1 };
            let mut raw = |v: f64| (v * 1e18) as i128 + (next() % 1000) as i128;
            (sign * raw(size), raw(price))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let ops = operands();
    let mut g = c.benchmark_group("mul_div");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, divisor) in [("by_scale", SCALE), ("by_other", SCALE + 7)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut acc = 0i128;
                for &(a, p) in black_box(&ops) {
                    acc = acc.wrapping_add(mul_div(a, p, divisor, Rounding::Down).unwrap_or(0));
                }
                black_box(acc)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
