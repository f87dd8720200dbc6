//! Durable commands per second through the SQLite journal with group commit: one
//! `append_batch` (one transaction, one fsync) per batch of 1, 100 and 1,000 realistic
//! commands (~150-byte JSON each: oracle prices, deposits, trades, ticks).
//!
//! The throughput criterion prints is in commands ("elements") per second. The journal lives in
//! a temporary directory on the disk under `$TMPDIR` (default `/tmp`): fsync cost depends on it.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use derivpool_store::{Journal, SqliteJournal};
use std::time::Duration;

fn durable_commands(c: &mut Criterion) {
    let commands = common::applied_commands(1_000, 42);
    // The journal only needs t never to decrease: one t for every appended copy.
    let t = commands.last().map(|c| c.0).unwrap_or(common::T0);
    let commands: Vec<(u64, String)> = commands.into_iter().map(|(_, json)| (t, json)).collect();

    let mut group = c.benchmark_group("sqlite_append_batch");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    for batch in [1usize, 100, 1_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut journal = SqliteJournal::open_dir(dir.path()).expect("open journal");
        let slice = &commands[..batch];
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, _| {
            b.iter(|| journal.append_batch(slice).expect("append"));
        });
    }
    group.finish();
}

criterion_group!(benches, durable_commands);
criterion_main!(benches);
