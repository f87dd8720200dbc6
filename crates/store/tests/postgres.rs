//! The PostgreSQL journal behind the same trait. Runs only when a server is reachable through
//! `DERIVPOOL_TEST_POSTGRES_URL` (`.ci/postgres.sh` starts one and prints the line); otherwise
//! every test prints "skipped: DERIVPOOL_TEST_POSTGRES_URL not set" and passes.

mod common;

use common::{append_in_batches, applied_commands, replay, replay_hash};
use derivpool_store::{chain, open, recover, snapshot_of, Journal, PostgresJournal, StoreError};
use postgres::{Client, NoTls};

fn url() -> Option<String> {
    match std::env::var("DERIVPOOL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // Straight to stderr: the test harness captures `eprintln!` of passing tests.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped: DERIVPOOL_TEST_POSTGRES_URL not set (run .ci/postgres.sh)"
            );
            None
        }
    }
}

/// A schema of its own for one test, dropped before and after.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new(url: &str, test: &str) -> Schema {
        let name = format!("t_{test}_{}", std::process::id());
        let s = Schema {
            url: url.to_string(),
            name,
        };
        s.drop_schema();
        s
    }
    fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).expect("connect to the test server")
    }
    fn drop_schema(&self) {
        self.client()
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .unwrap();
    }
    fn open(&self) -> PostgresJournal {
        PostgresJournal::open_in_schema(&self.url, &self.name).expect("open journal")
    }
    fn exec(&self, sql: &str) {
        self.client().batch_execute(sql).unwrap();
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = Client::connect(&self.url, NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

#[test]
fn pg_round_trip_and_recovery_equal_a_fresh_replay() {
    let Some(url) = url() else { return };
    let s = Schema::new(&url, "round_trip");
    let commands = applied_commands(400, 21);
    {
        let mut j = s.open();
        append_in_batches(&mut j, &commands[..250], 50);
        j.write_snapshot(&snapshot_of(&replay(&commands[..250]), 250))
            .unwrap();
        append_in_batches(&mut j, &commands[250..], 1);
        let records = j.read_after(0).unwrap();
        assert_eq!(records.len(), 400);
        let mut prev = chain::GENESIS;
        for (r, c) in records.iter().zip(&commands) {
            assert_eq!((r.t, &r.command), (c.0, &c.1));
            prev = chain::checksum(&prev, r.seq, r.t, &r.command);
            assert_eq!(r.checksum, chain::to_hex(&prev));
        }
        assert_eq!(j.reader().unwrap().read_after(390).unwrap(), records[390..]);
    }
    let mut j = s.open();
    assert_eq!(j.last_seq(), 400);
    let (engine, last, report) = recover(&mut j).unwrap();
    assert_eq!(
        (last, report.snapshot_seq, report.replayed),
        (400, Some(250), 150)
    );
    assert_eq!(engine.state_hash(), replay_hash(&commands));
}

#[test]
fn pg_group_commit_a_batch_of_1000_is_one_transaction() {
    let Some(url) = url() else { return };
    let s = Schema::new(&url, "group_commit");
    let commands = applied_commands(1_000, 22);
    let mut j = s.open();
    let before = j.transactions_committed();
    j.append_batch(&commands).unwrap();
    assert_eq!(j.transactions_committed() - before, 1);
    // Independent of our counter: every row was written by the same transaction id.
    let row = s
        .client()
        .query_one(
            &format!(
                "SELECT count(*), count(DISTINCT xmin::text) FROM {}.journal",
                s.name
            ),
            &[],
        )
        .unwrap();
    let (rows, xids): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!((rows, xids), (1_000, 1));
}

#[test]
fn pg_torn_last_record_is_dropped_and_middle_corruption_refuses() {
    let Some(url) = url() else { return };
    let s = Schema::new(&url, "torn");
    let commands = applied_commands(100, 23);
    append_in_batches(&mut s.open(), &commands, 25);
    s.exec(&format!(
        "UPDATE {}.journal SET command = left(command, 10) WHERE seq = 100",
        s.name
    ));
    let mut j = s.open();
    let (engine, last, report) = recover(&mut j).unwrap();
    assert_eq!((last, report.dropped_torn_seq), (99, Some(100)));
    assert_eq!(engine.state_hash(), replay_hash(&commands[..99]));
    assert_eq!(j.append_batch(&commands[99..]).unwrap(), vec![100]);
    drop(j);

    s.exec(&format!(
        "UPDATE {}.journal SET command = replace(command, '\"t\":', '\"t\":1') WHERE seq = 42",
        s.name
    ));
    let err = recover(&mut s.open()).expect_err("must refuse");
    assert!(matches!(err, StoreError::Corrupt { seq: 42, .. }), "{err}");
    assert!(err.to_string().contains("seq 42"), "{err}");
}

#[test]
fn pg_corrupted_snapshot_falls_back() {
    let Some(url) = url() else { return };
    let s = Schema::new(&url, "snapshot");
    let commands = applied_commands(150, 24);
    {
        let mut j = s.open();
        append_in_batches(&mut j, &commands, 50);
        for seq in [50u64, 100] {
            j.write_snapshot(&snapshot_of(&replay(&commands[..seq as usize]), seq))
                .unwrap();
        }
    }
    s.exec(&format!(
        "UPDATE {}.snapshots SET state_hash = repeat('0', 64) WHERE seq = 100",
        s.name
    ));
    let (engine, _, report) = recover(&mut s.open()).unwrap();
    assert_eq!(report.snapshot_seq, Some(50));
    assert_eq!(report.rejected_snapshots[0].0, 100);
    assert_eq!(engine.state_hash(), replay_hash(&commands));
}

#[test]
fn pg_a_second_writer_is_refused_and_reopen_is_idempotent() {
    let Some(url) = url() else { return };
    let s = Schema::new(&url, "second_writer");
    let commands = applied_commands(10, 25);
    let mut first = s.open();
    first.append_batch(&commands).unwrap();
    let err = PostgresJournal::open_in_schema(&url, &s.name)
        .err()
        .expect("second writer refused");
    assert!(err.to_string().contains("another process"), "{err}");
    drop(first);
    for _ in 0..2 {
        let mut j = s.open();
        let (engine, last, _) = recover(&mut j).unwrap();
        assert_eq!(last, 10);
        assert_eq!(engine.state_hash(), replay_hash(&commands));
    }
}

#[test]
fn pg_open_selects_postgres_by_url_and_hides_the_password() {
    let Some(url) = url() else { return };
    let j = open(&url).expect("open by URL");
    let described = j.describe();
    assert!(described.starts_with("postgres"), "{described}");
    if let Some(password) = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('@').next())
        .and_then(|userinfo| userinfo.split(':').nth(1))
    {
        assert!(!described.contains(&format!(":{password}@")), "{described}");
    }
}
