//! The SQLite journal: round trips, recovery, torn and corrupt records (made by editing the
//! database file and its rows directly), snapshots, group commit.

mod common;

use common::{append_in_batches, applied_commands, replay, replay_hash};
use derivpool_store::{
    chain, open, recover, snapshot_of, Journal, SnapshotPolicy, SqliteJournal, StoreError,
    SQLITE_FILE_NAME,
};
use rusqlite::{params, Connection};
use std::path::PathBuf;

fn db(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join(SQLITE_FILE_NAME)
}

/// Edits the closed journal's database with plain SQL, as a disk or a person might.
fn edit(dir: &tempfile::TempDir, sql: &str, p: impl rusqlite::Params) {
    let conn = Connection::open(db(dir)).unwrap();
    conn.execute(sql, p).unwrap();
}

fn journal_with(dir: &tempfile::TempDir, commands: &[(u64, String)], batch: usize) {
    let mut j = SqliteJournal::open_dir(dir.path()).unwrap();
    append_in_batches(&mut j, commands, batch);
}

fn reopen_and_recover(
    dir: &tempfile::TempDir,
) -> Result<
    (
        derivpool_engine::Engine,
        u64,
        derivpool_store::RecoveryReport,
    ),
    StoreError,
> {
    let mut j = open(dir.path().to_str().unwrap()).unwrap();
    recover(j.as_mut())
}

#[test]
fn round_trip_batches_read_back_in_order_with_a_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(250, 1);
    let mut j = SqliteJournal::open_dir(dir.path()).unwrap();
    assert_eq!(j.last_seq(), 0);
    let mut at = 0;
    for size in [1usize, 7, 100, 3, 139] {
        append_in_batches(&mut j, &commands[at..at + size], size);
        at += size;
    }
    let records = j.read_after(0).unwrap();
    assert_eq!(records.len(), 250);
    let mut prev = chain::GENESIS;
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1);
        assert_eq!((r.t, &r.command), (commands[i].0, &commands[i].1));
        prev = chain::checksum(&prev, r.seq, r.t, &r.command);
        assert_eq!(r.checksum, chain::to_hex(&prev), "chain at seq {}", r.seq);
    }
    let tail = j.read_after(200).unwrap();
    assert_eq!(tail.first().map(|r| r.seq), Some(201));
    assert_eq!(tail, records[200..]);
    assert_eq!(j.read_page(10, 5).unwrap(), records[10..15]);
    assert!(j.read_after(250).unwrap().is_empty());

    let reader = j.reader().unwrap();
    assert_eq!(reader.last_seq().unwrap(), 250);
    assert_eq!(reader.read_after(0).unwrap(), records);
    // A reader sees later commits.
    let more = applied_commands(252, 1);
    j.append_batch(&more[250..]).unwrap();
    assert_eq!(reader.last_seq().unwrap(), 252);
}

#[test]
fn recovery_equals_a_fresh_replay_of_the_same_commands() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(600, 2);
    journal_with(&dir, &commands, 37);
    let (engine, last, report) = reopen_and_recover(&dir).unwrap();
    assert_eq!(last, 600);
    assert_eq!(engine.state_hash(), replay_hash(&commands));
    assert_eq!(report.state_hash, engine.state_hash());
    assert_eq!(
        (report.snapshot_seq, report.replayed, report.verified),
        (None, 600, 600)
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // The state really differs from a shorter replay (the check can fail).
    assert_ne!(engine.state_hash(), replay_hash(&commands[..599]));
}

#[test]
fn snapshot_plus_tail_replay_equals_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(500, 3);
    {
        let mut j = SqliteJournal::open_dir(dir.path()).unwrap();
        append_in_batches(&mut j, &commands[..300], 50);
        j.write_snapshot(&snapshot_of(&replay(&commands[..300]), 300))
            .unwrap();
        append_in_batches(&mut j, &commands[300..], 50);
    }
    let (engine, last, report) = reopen_and_recover(&dir).unwrap();
    assert_eq!(last, 500);
    assert_eq!(report.snapshot_seq, Some(300));
    assert_eq!(report.replayed, 200);
    assert_eq!(report.verified, 500, "the chain is verified from seq 1");
    assert_eq!(engine.state_hash(), replay_hash(&commands));
}

#[test]
fn only_the_newest_snapshots_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(60, 4);
    let mut j = SqliteJournal::open_dir(dir.path()).unwrap();
    append_in_batches(&mut j, &commands, 60);
    for seq in [10u64, 20, 30, 40, 50] {
        j.write_snapshot(&snapshot_of(&replay(&commands[..seq as usize]), seq))
            .unwrap();
    }
    assert_eq!(j.snapshot_seqs().unwrap(), vec![50, 40, 30]);
    assert_eq!(j.latest_snapshot().unwrap().unwrap().seq, 50);
    let beyond = snapshot_of(&replay(&commands), 61);
    assert!(matches!(
        j.write_snapshot(&beyond),
        Err(StoreError::InvalidSnapshot(_))
    ));
}

#[test]
fn torn_last_record_with_a_bad_checksum_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(120, 5);
    journal_with(&dir, &commands, 40);
    // Half of the last command survived, its checksum is the old one.
    let half = &commands[119].1[..commands[119].1.len() / 2];
    edit(
        &dir,
        "UPDATE journal SET command = ?1 WHERE seq = 120",
        params![half],
    );

    let mut j = open(dir.path().to_str().unwrap()).unwrap();
    let (engine, last, report) = recover(j.as_mut()).unwrap();
    assert_eq!(last, 119);
    assert_eq!(report.dropped_torn_seq, Some(120));
    assert!(
        report.warnings.iter().any(|w| w.contains("seq 120")),
        "{:?}",
        report.warnings
    );
    assert_eq!(engine.state_hash(), replay_hash(&commands[..119]));
    // Dropped for good: the journal goes on from 119 and the next recovery is clean.
    assert_eq!(j.last_seq(), 119);
    assert_eq!(j.append_batch(&commands[119..]).unwrap(), vec![120]);
    drop(j);
    let (engine, last, report) = reopen_and_recover(&dir).unwrap();
    assert_eq!((last, report.dropped_torn_seq), (120, None));
    assert_eq!(engine.state_hash(), replay_hash(&commands));
}

#[test]
fn torn_last_record_with_unparsable_json_is_dropped_even_if_its_checksum_matches() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(30, 6);
    journal_with(&dir, &commands, 30);
    let records = SqliteJournal::open_dir(dir.path())
        .unwrap()
        .read_after(0)
        .unwrap();
    let bad = r#"{"type":"deposit","t":"#;
    let prev = chain::from_hex(&records[28].checksum).unwrap();
    let sum = chain::to_hex(&chain::checksum(&prev, 30, records[29].t, bad));
    edit(
        &dir,
        "UPDATE journal SET command = ?1, checksum = ?2 WHERE seq = 30",
        params![bad, sum],
    );
    let (engine, last, report) = reopen_and_recover(&dir).unwrap();
    assert_eq!((last, report.dropped_torn_seq), (29, Some(30)));
    assert!(
        report.warnings[0].contains("unparsable"),
        "{:?}",
        report.warnings
    );
    assert_eq!(engine.state_hash(), replay_hash(&commands[..29]));
}

#[test]
fn torn_last_record_with_an_unreadable_column_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(5_000, 7);
    journal_with(&dir, &commands, 1_000);
    // Invalid UTF-8 in the last command (a STRICT TEXT column accepts the cast blob).
    edit(
        &dir,
        "UPDATE journal SET command = CAST(X'7B22FF80' AS TEXT) WHERE seq = 5000",
        [],
    );
    let (engine, last, report) = reopen_and_recover(&dir).unwrap();
    assert_eq!((last, report.dropped_torn_seq), (4_999, Some(5_000)));
    assert_eq!(engine.state_hash(), replay_hash(&commands[..4_999]));
}

#[test]
fn corrupted_middle_record_refuses_to_start_naming_the_seq() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(200, 8);
    journal_with(&dir, &commands, 64);
    let original = commands[56].1.clone();
    // A plausible edit: same JSON shape, another time.
    let changed = original.replacen("\"t\":", "\"t\":1", 1);
    edit(
        &dir,
        "UPDATE journal SET command = ?1 WHERE seq = 57",
        params![changed],
    );
    let err = reopen_and_recover(&dir).expect_err("must refuse");
    assert!(matches!(err, StoreError::Corrupt { seq: 57, .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("seq 57") && message.contains("checksum"),
        "{message}"
    );
    // Nothing was dropped or changed by the refusal.
    let j = SqliteJournal::open_dir(dir.path()).unwrap();
    assert_eq!(j.last_seq(), 200);
}

#[test]
fn corrupted_checksum_of_a_middle_record_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(50, 9);
    journal_with(&dir, &commands, 50);
    edit(
        &dir,
        "UPDATE journal SET checksum = 'zz' WHERE seq = 49",
        [],
    );
    let err = reopen_and_recover(&dir).expect_err("must refuse");
    assert!(matches!(err, StoreError::Corrupt { seq: 49, .. }), "{err}");
}

#[test]
fn missing_middle_record_refuses_naming_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(80, 10);
    journal_with(&dir, &commands, 80);
    edit(&dir, "DELETE FROM journal WHERE seq = 33", []);
    let err = reopen_and_recover(&dir).expect_err("must refuse");
    assert!(matches!(err, StoreError::Corrupt { seq: 33, .. }), "{err}");
    assert!(err.to_string().contains("missing"), "{err}");
}

/// Flips one byte of a middle record's JSON inside the database file itself (SQLite keeps no
/// page checksums, so only the journal's chain can notice).
#[test]
fn a_flipped_byte_in_the_database_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut commands = applied_commands(300, 11);
    // A record easy to find in the file: a deposit with a unique amount.
    let t = commands[149].0;
    commands.insert(
        150,
        (
            t,
            format!(r#"{{"t":{t},"type":"deposit","account":"needle","asset":"USDC","amount":"4242.42"}}"#),
        ),
    );
    commands.truncate(300);
    journal_with(&dir, &commands, 100);
    // Dropping the last connection checkpoints the WAL into the main file.
    let mut bytes = std::fs::read(db(&dir)).unwrap();
    let at = find(&bytes, b"4242.42").expect("record in the main database file");
    bytes[at] = b'9';
    std::fs::write(db(&dir), &bytes).unwrap();
    let err = reopen_and_recover(&dir).expect_err("must refuse");
    assert!(matches!(err, StoreError::Corrupt { seq: 151, .. }), "{err}");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn a_command_the_engine_rejects_on_replay_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut commands = applied_commands(20, 12);
    let t = commands[19].0;
    // Well-formed, checksummed, but not applicable: a withdrawal nobody can cover.
    commands.push((
        t,
        format!(r#"{{"t":{t},"type":"withdraw","account":"nobody","asset":"USDC","amount":"1"}}"#),
    ));
    commands.extend(applied_commands(22, 12)[20..].to_vec());
    journal_with(&dir, &commands, 22);
    let err = reopen_and_recover(&dir).expect_err("must refuse");
    assert!(matches!(err, StoreError::Corrupt { seq: 21, .. }), "{err}");
    assert!(err.to_string().contains("rejected"), "{err}");
}

#[test]
fn corrupted_snapshot_falls_back_to_an_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(300, 13);
    {
        let mut j = SqliteJournal::open_dir(dir.path()).unwrap();
        append_in_batches(&mut j, &commands, 100);
        for seq in [100u64, 200] {
            j.write_snapshot(&snapshot_of(&replay(&commands[..seq as usize]), seq))
                .unwrap();
        }
    }
    // Snapshot 200: a byte of its state changed (still JSON, wrong hash).
    let state: Vec<u8> = Connection::open(db(&dir))
        .unwrap()
        .query_row("SELECT state FROM snapshots WHERE seq = 200", [], |r| {
            r.get(0)
        })
        .unwrap();
    let text = String::from_utf8(state).unwrap();
    let at = text.find(|c: char| c.is_ascii_digit()).unwrap();
    let digit = text.as_bytes()[at];
    let mut changed = text.into_bytes();
    changed[at] = if digit == b'9' { b'8' } else { digit + 1 };
    edit(
        &dir,
        "UPDATE snapshots SET state = ?1 WHERE seq = 200",
        params![changed],
    );

    let (engine, last, report) = reopen_and_recover(&dir).unwrap();
    assert_eq!(last, 300);
    assert_eq!(report.snapshot_seq, Some(100));
    assert_eq!(report.replayed, 200);
    assert_eq!(report.rejected_snapshots.len(), 1);
    assert_eq!(report.rejected_snapshots[0].0, 200);
    assert_eq!(engine.state_hash(), replay_hash(&commands));

    // Snapshot 100 truncated: not JSON any more. Both bad: replay from an empty engine.
    edit(
        &dir,
        "UPDATE snapshots SET state = substr(state, 1, 40) WHERE seq = 100",
        [],
    );
    let (engine, _, report) = reopen_and_recover(&dir).unwrap();
    assert_eq!((report.snapshot_seq, report.replayed), (None, 300));
    assert!(
        report.rejected_snapshots[1].1.contains("deserialise"),
        "{report:?}"
    );
    assert_eq!(engine.state_hash(), replay_hash(&commands));
}

#[test]
fn a_snapshot_beyond_a_dropped_torn_record_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(100, 14);
    {
        let mut j = SqliteJournal::open_dir(dir.path()).unwrap();
        append_in_batches(&mut j, &commands, 50);
        j.write_snapshot(&snapshot_of(&replay(&commands[..50]), 50))
            .unwrap();
        j.write_snapshot(&snapshot_of(&replay(&commands), 100))
            .unwrap();
    }
    edit(
        &dir,
        "UPDATE journal SET checksum = ?1 WHERE seq = 100",
        params!["0".repeat(64)],
    );
    let mut j = open(dir.path().to_str().unwrap()).unwrap();
    let (engine, last, report) = recover(j.as_mut()).unwrap();
    assert_eq!((last, report.snapshot_seq), (99, Some(50)));
    assert_eq!(engine.state_hash(), replay_hash(&commands[..99]));
    assert_eq!(
        j.snapshot_seqs().unwrap(),
        vec![50],
        "the stale snapshot is gone"
    );
}

#[test]
fn group_commit_a_batch_of_1000_is_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(1_100, 15);
    let mut j = SqliteJournal::open_dir(dir.path()).unwrap();
    let before = j.transactions_committed();
    j.append_batch(&commands[..1_000]).unwrap();
    assert_eq!(j.transactions_committed() - before, 1);
    for c in &commands[1_000..] {
        j.append_batch(std::slice::from_ref(c)).unwrap();
    }
    assert_eq!(j.transactions_committed() - before, 101);
    assert!(j.append_batch(&[]).unwrap().is_empty());
    assert_eq!(
        j.transactions_committed() - before,
        101,
        "an empty batch writes nothing"
    );
}

#[test]
fn reopening_is_idempotent() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("new").join("data");
    let commands = applied_commands(40, 16);
    {
        let mut j = open(dir.to_str().unwrap()).unwrap();
        assert!(
            dir.join(SQLITE_FILE_NAME).exists(),
            "directory and file created"
        );
        append_in_batches(j.as_mut(), &commands[..20], 20);
    }
    let mut hashes = Vec::new();
    for _ in 0..3 {
        let mut j = open(dir.to_str().unwrap()).unwrap();
        assert_eq!(j.last_seq(), 20);
        let (engine, last, report) = recover(j.as_mut()).unwrap();
        assert_eq!((last, report.warnings.len()), (20, 0));
        hashes.push(engine.state_hash());
    }
    assert!(hashes.iter().all(|h| *h == replay_hash(&commands[..20])));
    let mut j = open(dir.to_str().unwrap()).unwrap();
    append_in_batches(j.as_mut(), &commands[20..], 7);
    let (engine, _, _) = recover(j.as_mut()).unwrap();
    assert_eq!(engine.state_hash(), replay_hash(&commands));
}

#[test]
fn a_batch_with_time_going_backwards_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(10, 17);
    let mut j = SqliteJournal::open_dir(dir.path()).unwrap();
    j.append_batch(&commands).unwrap();
    let earlier = (commands[9].0 - 1, commands[9].1.clone());
    let err = j.append_batch(&[earlier]).unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidBatch(_)) && !err.is_fatal(),
        "{err}"
    );
    let err = j
        .append_batch(&[(commands[9].0, "a\0b".to_string())])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidBatch(_)), "{err}");
    assert_eq!(j.last_seq(), 10);
    assert_eq!(j.read_after(0).unwrap().len(), 10);
}

#[test]
fn a_second_writer_on_the_same_file_gets_a_fatal_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(3, 18);
    let mut a = SqliteJournal::open_dir(dir.path()).unwrap();
    let mut b = SqliteJournal::open_dir(dir.path()).unwrap();
    a.append_batch(&commands[..1]).unwrap();
    let err = b.append_batch(&commands[1..2]).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 0,
                found: 1
            }
        ) && err.is_fatal(),
        "{err}"
    );
    assert!(matches!(
        b.append_batch(&commands[1..2]),
        Err(StoreError::Poisoned)
    ));
    assert_eq!(a.append_batch(&commands[1..]).unwrap(), vec![2, 3]);
}

#[test]
fn a_failed_write_is_fatal_and_poisons_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(2_000, 19);
    let mut j = SqliteJournal::open_dir(dir.path()).unwrap();
    j.append_batch(&commands[..10]).unwrap();
    // The disk is full: SQLite may not grow the file any more.
    j.limit_pages_for_tests(1);
    let err = j.append_batch(&commands[10..]).unwrap_err();
    assert!(
        matches!(err, StoreError::Durability(_)) && err.is_fatal(),
        "{err}"
    );
    assert!(matches!(
        j.append_batch(&commands[10..11]),
        Err(StoreError::Poisoned)
    ));
    drop(j);
    // Nothing of the failed batch is in the journal.
    let (_, last, _) = reopen_and_recover(&dir).unwrap();
    assert_eq!(last, 10);
}

#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Connection::open(db(&dir))
        .unwrap()
        .execute_batch("CREATE TABLE users (name TEXT)")
        .unwrap();
    let err = SqliteJournal::open_dir(dir.path()).err().unwrap();
    assert!(err.to_string().contains("not a derivpool journal"), "{err}");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    assert!(matches!(
        open(file.to_str().unwrap()),
        Err(StoreError::Open { .. })
    ));
}

#[test]
fn snapshot_policy_is_due_every_n_commands() {
    let p = SnapshotPolicy::every(100);
    for (last_snapshot, last_seq, due) in [
        (0, 0, false),
        (0, 99, false),
        (0, 100, true),
        (0, 150, true),
        (150, 249, false),
        (150, 250, true),
    ] {
        assert_eq!(
            p.due(last_snapshot, last_seq),
            due,
            "{last_snapshot} {last_seq}"
        );
    }
    assert!(!SnapshotPolicy::every(0).due(0, u64::MAX));
    assert_eq!(SnapshotPolicy::default().every_commands, 10_000);
}

/// `fatal_on_io_error` stops the process: run this test in a child process and look at how it
/// ended.
#[test]
fn fatal_on_io_error_aborts_the_process() {
    if std::env::var_os("DERIVPOOL_STORE_ABORT_CHILD").is_some() {
        let ok: Result<u8, StoreError> = Ok(1);
        assert_eq!(derivpool_store::fatal_on_io_error(ok).unwrap(), 1);
        let refused: Result<u8, StoreError> = Err(StoreError::InvalidBatch("x".into()));
        assert!(derivpool_store::fatal_on_io_error(refused).is_err());
        let _ = derivpool_store::fatal_on_io_error::<()>(Err(StoreError::Durability(
            "fsync: Input/output error".into(),
        )));
        unreachable!("fatal_on_io_error returned after a fatal error");
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fatal_on_io_error_aborts_the_process",
            "--nocapture",
        ])
        .env("DERIVPOOL_STORE_ABORT_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(6), "SIGABRT expected: {stderr}");
    assert!(
        stderr.contains("FATAL") && stderr.contains("fsync"),
        "{stderr}"
    );
}

/// Damage anywhere in the file never panics and is never silently accepted: recovery either
/// refuses, or gives exactly the state of a prefix of the journal (all of it, or all but a
/// dropped torn last record).
#[test]
fn random_byte_damage_is_refused_or_recovers_an_exact_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let commands = applied_commands(200, 20);
    {
        let mut j = SqliteJournal::open_dir(dir.path()).unwrap();
        append_in_batches(&mut j, &commands, 40);
        j.write_snapshot(&snapshot_of(&replay(&commands[..120]), 120))
            .unwrap();
    }
    let pristine = std::fs::read(db(&dir)).unwrap();
    let full = replay_hash(&commands);
    let all_but_last = replay_hash(&commands[..199]);
    let mut rng = common::Rng::new(7);
    let (mut refused, mut recovered) = (0, 0);
    for _ in 0..60 {
        let mut bytes = pristine.clone();
        // Past the 100-byte header, which SQLite checks itself.
        let at = 100 + rng.below(bytes.len() as u64 - 100) as usize;
        bytes[at] ^= 1 << rng.below(8);
        std::fs::write(db(&dir), &bytes).unwrap();
        let _ = std::fs::remove_file(dir.path().join(format!("{SQLITE_FILE_NAME}-wal")));
        match SqliteJournal::open_dir(dir.path()).and_then(|mut j| recover(&mut j)) {
            Err(_) => refused += 1,
            Ok((engine, last, _)) => {
                recovered += 1;
                let expected = if last == 200 { &full } else { &all_but_last };
                assert!(last >= 199, "byte {at}: recovered only to seq {last}");
                assert_eq!(
                    &engine.state_hash(),
                    expected,
                    "byte {at}: wrong state accepted"
                );
            }
        }
    }
    eprintln!("refused {refused}, recovered {recovered}");
    assert_eq!(refused + recovered, 60);
    assert!(
        refused > 0,
        "the damage never reached a record: the test proves nothing"
    );
}
