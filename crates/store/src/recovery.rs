//! Crash recovery: latest good snapshot + replay of the journal after it.
//!
//! 1. **Verify** every record from seq 1: seqs consecutive, checksum chain intact
//!    ([`crate::chain`]), JSON parses as a `Command`, its `t` equals the record's `t`. A problem
//!    on the *last* record is a torn write: it is deleted ([`Journal::truncate_after`]) and
//!    reported. A problem on any other record refuses to start ([`StoreError::Corrupt`]).
//! 2. **Pick a snapshot**: the newest with `seq` ≤ the verified end whose state deserialises,
//!    whose `Engine::from_state(state).state_hash()` equals its stored hash and whose state
//!    passes the engine's invariants; else an older one; else an empty engine.
//! 3. **Replay** every record after the snapshot through `Engine::apply`. Every one was applied
//!    when it was journaled, so a reject now means the journal or the engine is not what wrote
//!    it: refuse to start, naming the seq and the reject.

use derivpool_engine::{state::State, Command, Engine};

use crate::{chain, Journal, Record, StoreError, READ_PAGE_RECORDS};

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The snapshot the state was restored from (`None`: replayed from an empty engine).
    pub snapshot_seq: Option<u64>,
    /// Commands replayed after the snapshot.
    pub replayed: u64,
    /// Records whose checksum chain was verified (the whole journal).
    pub verified: u64,
    /// The seq of a torn last record that was dropped, if any.
    pub dropped_torn_seq: Option<u64>,
    /// Snapshots that were skipped as unusable, with the reason.
    pub rejected_snapshots: Vec<(u64, String)>,
    /// Human-readable warnings (a dropped record, a skipped snapshot); log them.
    pub warnings: Vec<String>,
    /// `state_hash` of the recovered engine.
    pub state_hash: String,
}

/// Rebuilds the engine from `journal` (see the module docs): returns the engine, the last
/// journaled seq (the next append gets `last + 1`) and a report.
///
/// Takes `&mut` because a torn last record is deleted, so that the next append continues a
/// valid chain. Call it once after [`crate::open`] and before any append.
pub fn recover(journal: &mut dyn Journal) -> Result<(Engine, u64, RecoveryReport), StoreError> {
    let mut report = RecoveryReport::default();
    let end = verify_chain(journal, &mut report)?;
    if end < journal.last_seq() {
        journal.truncate_after(end)?;
        report.dropped_torn_seq = Some(end + 1);
    }

    let (mut engine, from) = pick_snapshot(journal, end, &mut report)?;
    let mut after = from;
    while after < end {
        let page = journal.read_page(after, READ_PAGE_RECORDS)?;
        if page.is_empty() {
            return Err(StoreError::Corrupt {
                seq: after + 1,
                reason: "record vanished between verification and replay".to_string(),
            });
        }
        for record in page.iter().take_while(|r| r.seq <= end) {
            let cmd = parse(record).map_err(|reason| StoreError::Corrupt {
                seq: record.seq,
                reason,
            })?;
            if let Err(reject) = engine.apply(&cmd) {
                return Err(StoreError::Corrupt {
                    seq: record.seq,
                    reason: format!(
                        "replay rejected a journaled command ({}: {}); the journal or the engine \
                         version differs from the one that wrote it",
                        reject.code.as_str(),
                        reject.message
                    ),
                });
            }
            report.replayed += 1;
            after = record.seq;
        }
    }
    report.state_hash = engine.state_hash();
    Ok((engine, end, report))
}

/// A record's command, checked against the record's `t`.
fn parse(record: &Record) -> Result<Command, String> {
    let cmd =
        Command::from_json(&record.command).map_err(|e| format!("unparsable command JSON: {e}"))?;
    if cmd.t != record.t {
        return Err(format!(
            "the command's t = {} differs from the record's t = {}",
            cmd.t, record.t
        ));
    }
    Ok(cmd)
}

/// Verifies the whole journal; returns the last good seq (the journal's last seq, or one less
/// when the last record is torn).
fn verify_chain(journal: &dyn Journal, report: &mut RecoveryReport) -> Result<u64, StoreError> {
    let last = journal.last_seq();
    let mut prev = chain::GENESIS;
    let mut after = 0u64;
    while after < last {
        let page = match journal.read_page(after, READ_PAGE_RECORDS) {
            Ok(page) => page,
            Err(StoreError::Corrupt { seq, reason }) if seq == last && seq > after + 1 => {
                // Read the good records before the unreadable last one, then drop it.
                let mut page = journal.read_page(after, (seq - 1 - after) as usize)?;
                page.truncate((seq - 1 - after) as usize);
                verify_page(&page, last, &mut prev, &mut after, report)?;
                if after != seq - 1 {
                    return Err(StoreError::Corrupt {
                        seq: after + 1,
                        reason: "missing record; refusing to start".to_string(),
                    });
                }
                return problem(last, seq, reason, report);
            }
            Err(StoreError::Corrupt { seq, reason }) => return problem(last, seq, reason, report),
            Err(e) => return Err(e),
        };
        if page.is_empty() {
            return Err(StoreError::Corrupt {
                seq: after + 1,
                reason: format!("missing record (the journal ends at seq {last})"),
            });
        }
        if let Some(end) = verify_page(&page, last, &mut prev, &mut after, report)? {
            return Ok(end);
        }
    }
    Ok(last)
}

/// A problem at `seq`: the torn last record is dropped (returns the new end), anything else
/// refuses to start.
fn problem(
    last: u64,
    seq: u64,
    reason: String,
    report: &mut RecoveryReport,
) -> Result<u64, StoreError> {
    if seq == last && seq > 0 {
        report.warnings.push(format!(
            "dropped torn last record seq {seq}: {reason} (a write cut short by a crash)"
        ));
        Ok(seq - 1)
    } else {
        Err(StoreError::Corrupt {
            seq,
            reason: format!("{reason}; refusing to start (only a torn last record is dropped)"),
        })
    }
}

/// Verifies a page; `Some(end)` when a torn last record ends the journal early.
fn verify_page(
    page: &[Record],
    last: u64,
    prev: &mut [u8; 32],
    after: &mut u64,
    report: &mut RecoveryReport,
) -> Result<Option<u64>, StoreError> {
    for record in page {
        let expected_seq = *after + 1;
        if record.seq != expected_seq {
            return Err(StoreError::Corrupt {
                seq: expected_seq,
                reason: format!(
                    "missing record (the next one is seq {}); refusing to start",
                    record.seq
                ),
            });
        }
        let sum = chain::checksum(prev, record.seq, record.t, &record.command);
        if chain::from_hex(&record.checksum) != Some(sum) {
            let reason = format!(
                "checksum mismatch (stored {:?}, computed {})",
                record.checksum,
                chain::to_hex(&sum)
            );
            return problem(last, record.seq, reason, report).map(Some);
        }
        if let Err(reason) = parse(record) {
            return problem(last, record.seq, reason, report).map(Some);
        }
        *prev = sum;
        *after = record.seq;
        report.verified += 1;
    }
    Ok(None)
}

/// The engine to replay onto and the seq it stands at.
fn pick_snapshot(
    journal: &dyn Journal,
    end: u64,
    report: &mut RecoveryReport,
) -> Result<(Engine, u64), StoreError> {
    for seq in journal.snapshot_seqs()? {
        if seq > end {
            let why = format!("taken at seq {seq}, beyond the journal's verified end {end}");
            report
                .warnings
                .push(format!("skipped snapshot {seq}: {why}"));
            report.rejected_snapshots.push((seq, why));
            continue;
        }
        let Some(snap) = journal.read_snapshot(seq)? else {
            continue;
        };
        match restore(&snap.state, &snap.state_hash) {
            Ok(engine) => {
                report.snapshot_seq = Some(seq);
                return Ok((engine, seq));
            }
            Err(why) => {
                report
                    .warnings
                    .push(format!("skipped snapshot {seq}: {why}"));
                report.rejected_snapshots.push((seq, why));
            }
        }
    }
    Ok((Engine::new(), 0))
}

/// An engine from a snapshot's state, if it is intact.
fn restore(state: &[u8], stored_hash: &str) -> Result<Engine, String> {
    let state: State =
        serde_json::from_slice(state).map_err(|e| format!("state does not deserialise: {e}"))?;
    let engine = Engine::from_state(state);
    let hash = engine.state_hash();
    if hash != stored_hash {
        return Err(format!(
            "state hash {hash} differs from the stored {stored_hash:?}"
        ));
    }
    let violations = engine.verify();
    if !violations.is_empty() {
        return Err(format!("state breaks invariants: {violations:?}"));
    }
    Ok(engine)
}
