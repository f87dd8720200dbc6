//! Durable commands per second through the engine thread with group commit (SQLite journal in
//! a temp directory, one fsync per batch): one submission of 1,000 commands, and 64 concurrent
//! submissions of 16 commands each (the shape of many HTTP clients), as the server runs them.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use derivpool_engine::{Command, CommandKind, Engine};
use derivpool_server::core::{start, CoreConfig, Item};
use derivpool_server::metrics::Metrics;
use std::sync::Arc;

fn deposit(i: u64) -> Item {
    Item {
        request_id: None,
        command: Command {
            t: 0,
            kind: CommandKind::Deposit {
                account: format!("acct{}", i % 100),
                asset: "USDC".into(),
                amount: "1.5".parse().unwrap(),
            },
        },
        client_time: false,
    }
}

fn durable_commands(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let journal = derivpool_store::open(dir.path().to_str().unwrap()).unwrap();
    let core = start(
        journal,
        Engine::new(),
        0,
        CoreConfig {
            snapshot_interval_commands: 0,
            ..CoreConfig::default()
        },
        Arc::new(Metrics::default()),
    )
    .unwrap();
    let handle = core.handle.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("durable_commands");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1000));
    g.bench_function("one_submission_of_1000", |b| {
        b.iter(|| {
            let items: Vec<Item> = (0..1000).map(deposit).collect();
            let answers = rt.block_on(handle.submit("bench".into(), items)).unwrap();
            assert!(answers.iter().all(|a| a.applied));
        })
    });
    g.throughput(Throughput::Elements(64 * 16));
    g.bench_function("64_concurrent_submissions_of_16", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..64)
                    .map(|k| {
                        let h = handle.clone();
                        tokio::spawn(async move {
                            let items: Vec<Item> = (0..16).map(|i| deposit(k * 16 + i)).collect();
                            h.submit("bench".into(), items).await.unwrap()
                        })
                    })
                    .collect();
                for t in tasks {
                    assert!(t.await.unwrap().iter().all(|a| a.applied));
                }
            })
        })
    });
    g.finish();
    handle.shutdown();
    drop(handle);
    core.join();
}

criterion_group!(benches, durable_commands);
criterion_main!(benches);
