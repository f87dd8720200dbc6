//! GWAV accumulator: constant and step values against the analytical geometric average, the ring
//! of observations, ignored inputs, and (proptest) the average lies between the smallest and the
//! largest value recorded.

use derivpool_pricing::Gwav;
use proptest::prelude::*;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn constant_value_gives_that_value() {
    let t0 = 1_700_000_000;
    let mut g = Gwav::new(t0, 0.8, 16);
    for i in 1..10 {
        g.record(t0 + 3600 * i, 0.8);
    }
    for (now, period) in [(t0 + 36_000, 3600), (t0 + 36_000, 86_400), (t0 + 100, 50)] {
        let v = g.gwav(now, period);
        assert!(close(v, 0.8, 1e-15), "{now} {period}: {v}");
    }
    assert!(close(g.current(), 0.8, 1e-15));
}

#[test]
fn step_change_gives_the_analytical_geometric_average() {
    let t0 = 1_000_000;
    let (v1, v2) = (0.5_f64, 2.0_f64);
    let mut g = Gwav::new(t0, v1, 8);
    g.record(t0 + 1000, v2);
    // Over [t0 + 400, t0 + 1600]: 600 s at v1 and 600 s at v2 → √(v1 v2) = 1.
    let v = g.gwav(t0 + 1600, 1200);
    assert!(close(v, 1.0, 1e-15), "{v}");
    // Over [t0 + 700, t0 + 1100]: 300 s at v1, 100 s at v2.
    let want = ((300.0 * v1.ln() + 100.0 * v2.ln()) / 400.0).exp();
    let v = g.gwav(t0 + 1100, 400);
    assert!(close(v, want, 1e-15), "{v} vs {want}");
    // A period longer than the history averages over the history [t0, now].
    let want = ((1000.0 * v1.ln() + 250.0 * v2.ln()) / 1250.0).exp();
    let v = g.gwav(t0 + 1250, 1_000_000);
    assert!(close(v, want, 1e-15), "{v} vs {want}");
    // A period wholly after the step, and a period of 0.
    assert!(close(g.gwav(t0 + 5000, 100), v2, 1e-15));
    assert_eq!(g.gwav(t0 + 5000, 0), g.current());
    // Queried in the past: the value and the average up to then.
    assert!(close(g.gwav(t0 + 500, 0), v1, 1e-15));
    assert!(close(g.gwav(t0 + 500, 200), v1, 1e-15));
}

#[test]
fn one_outlier_moves_the_average_by_its_time_share() {
    let t0 = 0;
    let mut g = Gwav::new(t0, 1.0, 8);
    g.record(3590, 100.0); // a 10-second spike to 100× …
    g.record(3600, 1.0);
    let v = g.gwav(3600, 3600);
    // … moves a one-hour average by a factor 100^(10/3600) ≈ 1.0129, not 100.
    let want = 100.0_f64.powf(10.0 / 3600.0);
    assert!(close(v, want, 1e-14), "{v} vs {want}");
}

#[test]
fn ring_overflow_drops_the_oldest_observations() {
    let mut g = Gwav::new(0, 1.0, 3);
    assert_eq!(g.capacity(), 3);
    g.record(100, 2.0);
    g.record(200, 4.0);
    assert_eq!(g.len(), 3);
    g.record(300, 8.0);
    g.record(400, 16.0);
    assert_eq!(g.len(), 3);
    // Kept: 4 from 200, 8 from 300, 16 from 400. A long period averages over [200, 500].
    let want = ((100.0 * 4f64.ln() + 100.0 * 8f64.ln() + 100.0 * 16f64.ln()) / 300.0).exp();
    let v = g.gwav(500, 10_000);
    assert!(close(v, want, 1e-15), "{v} vs {want}");
    assert!(close(v, 8.0, 1e-15));
    // Inside the kept history the interpolation is exact.
    let want = ((50.0 * 8f64.ln() + 100.0 * 16f64.ln()) / 150.0).exp();
    assert!(close(g.gwav(500, 150), want, 1e-15));
    // Capacity below two is raised to two.
    let mut g = Gwav::new(0, 1.0, 0);
    assert_eq!(g.capacity(), 2);
    for i in 1..10 {
        g.record(i * 10, i as f64);
    }
    assert_eq!(g.len(), 2);
}

#[test]
fn same_time_replaces_and_earlier_time_is_ignored() {
    let mut g = Gwav::new(100, 2.0, 4);
    g.record(100, 3.0);
    assert_eq!(g.len(), 1);
    assert!(close(g.current(), 3.0, 1e-15));
    g.record(200, 5.0);
    g.record(200, 7.0);
    g.record(150, 11.0);
    assert_eq!(g.len(), 2);
    assert_eq!(g.last_time(), Some(200));
    assert!(close(g.current(), 7.0, 1e-15));
    // [100, 300]: 3 for 100 s, 7 for 100 s.
    assert!(close(g.gwav(300, 200), (3.0f64 * 7.0).sqrt(), 1e-15));
}

#[test]
fn invalid_values_are_ignored() {
    let mut g = Gwav::new(0, 2.0, 4);
    let before = g.clone();
    for v in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        g.record(10, v);
    }
    assert_eq!(g, before);
    // An invalid initial value gives an empty accumulator, seeded by the first valid record.
    let mut e = Gwav::new(0, f64::NAN, 4);
    assert!(e.is_empty());
    assert!(e.current().is_nan());
    assert!(e.gwav(10, 10).is_nan());
    e.record(5, -3.0);
    assert!(e.is_empty());
    e.record(5, 3.0);
    assert!(close(e.gwav(100, 50), 3.0, 1e-15));
    // Extreme but valid values and times do not panic.
    let mut x = Gwav::new(0, f64::MAX, 2);
    x.record(u64::MAX, f64::MIN_POSITIVE);
    let _ = x.gwav(u64::MAX, u64::MAX);
    let _ = x.gwav(0, 0);
    let mut y = Gwav::new(u64::MAX - 1, 5e-324, 2);
    y.record(u64::MAX, 1e308);
    assert!(y.gwav(u64::MAX, 1).is_finite());
}

#[test]
fn state_is_deterministic() {
    let build = || {
        let mut g = Gwav::new(1_000, 0.65, 5);
        for i in 1..20u64 {
            g.record(1_000 + 37 * i, 0.6 + 0.01 * (i % 7) as f64);
        }
        g
    };
    let (a, b) = (build(), build());
    assert_eq!(a, b);
    assert_eq!(a.gwav(1_800, 300).to_bits(), b.gwav(1_800, 300).to_bits());
}

proptest! {
    #[test]
    fn gwav_lies_between_min_and_max_recorded(
        v0 in 1e-6f64..1e6,
        steps in proptest::collection::vec((0u64..10_000, 1e-6f64..1e6), 1..40),
        cap in 2usize..50,
        period in 0u64..200_000,
        extra in 0u64..10_000,
    ) {
        let mut g = Gwav::new(1_600_000_000, v0, cap);
        let mut t = 1_600_000_000;
        let mut lo = v0;
        let mut hi = v0;
        for (dt, v) in steps {
            t += dt;
            g.record(t, v);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let now = t + extra;
        let x = g.gwav(now, period);
        prop_assert!(x.is_finite());
        prop_assert!(x >= lo * (1.0 - 1e-14) && x <= hi * (1.0 + 1e-14), "{} not in [{}, {}]", x, lo, hi);
        // With no period it is the current value.
        prop_assert_eq!(g.gwav(now, 0), g.current());
    }
}
