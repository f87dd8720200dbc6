//! The derivpool durable command journal: every applied command, in order, with a checksum
//! chain; periodic snapshots of the engine state; crash recovery.
//!
//! # How a server uses it
//!
//! ```no_run
//! use derivpool_store::{fatal_on_io_error, open, recover, snapshot_of, SnapshotPolicy};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut journal = open("./derivpool-data")?; // or "postgres://user:pw@host/db"
//! let (mut engine, mut last_seq, report) = recover(journal.as_mut())?;
//! for w in &report.warnings { eprintln!("recovery: {w}"); }
//! let policy = SnapshotPolicy::default();
//! let mut last_snapshot = report.snapshot_seq.unwrap_or(0);
//! # let incoming: Vec<derivpool_engine::Command> = vec![];
//! // The engine thread, for each group of commands that arrived together:
//! let mut applied = Vec::new();
//! for cmd in &incoming {
//!     if engine.apply(cmd).is_ok() {
//!         applied.push((cmd.t, cmd.to_json())); // rejects are answered, never journaled
//!     }
//! }
//! // One transaction, one fsync for the whole group (group commit). A fatal error aborts.
//! let seqs = fatal_on_io_error(journal.append_batch(&applied))?;
//! last_seq = seqs.last().copied().unwrap_or(last_seq);
//! // … only now answer the clients (acknowledged = durable) …
//! if policy.due(last_snapshot, last_seq) {
//!     fatal_on_io_error(journal.write_snapshot(&snapshot_of(&engine, last_seq)))?;
//!     last_snapshot = last_seq;
//! }
//! # let _ = last_snapshot; Ok(()) }
//! ```
//!
//! # Durability design
//!
//! - **What is durable when.** [`Journal::append_batch`] writes the whole batch in one
//!   database transaction and returns only after the commit is durable: SQLite in WAL mode with
//!   `synchronous=FULL` fsyncs the WAL at every commit (one fsync per batch, whatever its
//!   size); PostgreSQL commits with `synchronous_commit=on` (its WAL is flushed before the
//!   commit returns). A batch is all or nothing: SQLite's WAL frames carry checksums and a torn
//!   transaction is ignored at the next open, exactly like a transaction that never committed.
//!   A caller acknowledges a command only after `append_batch` returned its seq. (SQLite
//!   also fsyncs the main file when it checkpoints the WAL, about every 1,000 pages; that is
//!   not on the acknowledgement path.)
//! - **Records.** `seq` (1, 2, 3, … without gaps), `t` (the command's unix seconds, never
//!   decreasing), the command JSON, and a BLAKE3 checksum chained to the previous record
//!   ([`chain`]). Recovery recomputes the chain from seq 1.
//! - **Torn or corrupt records.** A bad *last* record (checksum mismatch, unreadable columns,
//!   unparsable JSON, `t` disagreeing with the JSON) is what an interrupted or partly lost
//!   final write looks like: recovery drops it (deletes it, durably) and says so in
//!   [`RecoveryReport::warnings`]. Any problem before the last record (checksum mismatch, gap
//!   in seq, unparsable JSON, a command the engine rejects on replay) refuses to start with
//!   [`StoreError::Corrupt`] naming the seq and what is wrong.
//! - **Snapshots.** [`Journal::write_snapshot`] stores `(seq, state_hash, state JSON)` in one
//!   transaction; the newest [`SNAPSHOTS_KEPT`] are kept. Recovery uses the newest snapshot whose
//!   state deserialises, hashes to its stored hash and passes the engine's invariants, falling
//!   back to older ones and finally to an empty engine.
//! - **Write failures are fatal.** A failed write or commit returns [`StoreError::Durability`]
//!   and poisons the journal. After a failed fsync the kernel may have dropped the dirty pages,
//!   so a retry can "succeed" without the data; and the engine has already applied the commands
//!   in memory. Callers must stop the process ([`fatal_on_io_error`]) and recover on restart.
//! - **One writer.** Each append checks, inside its transaction, that the journal still ends
//!   where this writer thinks it does ([`StoreError::Conflict`] otherwise); PostgreSQL also takes
//!   a session advisory lock at open, so a second server on the same database refuses to start.
//!
//! Only this crate calls fsync (DESIGN.md §2, invariant 6).

pub mod chain;
mod error;
mod pg;
mod recovery;
mod sqlite;

pub use error::{fatal_on_io_error, StoreError};
pub use pg::{PostgresJournal, DEFAULT_SCHEMA as POSTGRES_DEFAULT_SCHEMA};
pub use recovery::{recover, RecoveryReport};
pub use sqlite::SqliteJournal;

use derivpool_engine::Engine;

/// Most commands in one [`Journal::append_batch`] call.
pub const BATCH_COMMANDS_MAX: usize = 100_000;
/// Longest command JSON accepted, in bytes (the API's body limit is 1 MiB).
pub const COMMAND_BYTES_MAX: usize = 1 << 20;
/// How many snapshots are kept (the newest ones); older ones are deleted by
/// [`Journal::write_snapshot`].
pub const SNAPSHOTS_KEPT: usize = 3;
/// The file name of the SQLite journal inside a data directory.
pub const SQLITE_FILE_NAME: &str = "journal.sqlite3";

/// One journaled command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sequence number: 1 for the first command ever journaled, then +1 without gaps.
    pub seq: u64,
    /// The command's time, unix seconds (the same as its JSON's `t`).
    pub t: u64,
    /// The command as one line of JSON (`Command::to_json`).
    pub command: String,
    /// Hex BLAKE3 chained to the previous record (see [`chain`]).
    pub checksum: String,
}

/// The engine state after the command with sequence number `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last command included in the state (0 = before any command).
    pub seq: u64,
    /// `Engine::state_hash` of the state: hex BLAKE3 of `state`.
    pub state_hash: String,
    /// The engine `State` as JSON (`serde_json::to_vec(engine.state())`).
    pub state: Vec<u8>,
}

/// The durable command journal: SQLite ([`SqliteJournal`]) or PostgreSQL
/// ([`PostgresJournal`]), chosen by [`open`].
///
/// One writer owns it (the engine thread); `&mut self` methods write, `&self` methods read.
/// For reads from other threads (a WebSocket resuming from a seq) take a [`Journal::reader`].
pub trait Journal: Send {
    /// Appends applied commands `(t, command JSON)` in order as **one** durable transaction
    /// (one fsync for the whole batch: group commit) and returns their sequence numbers,
    /// consecutive after [`Journal::last_seq`]. Returns only once the batch is durable. An
    /// empty batch writes nothing and returns an empty list.
    ///
    /// Refused before any IO, journal unchanged ([`StoreError::InvalidBatch`]): more than
    /// [`BATCH_COMMANDS_MAX`] commands, a command over [`COMMAND_BYTES_MAX`] bytes, `t` above
    /// `i64::MAX` or decreasing (within the batch or against the last record). Every other error
    /// is fatal ([`StoreError::is_fatal`]): wrap calls in [`fatal_on_io_error`].
    fn append_batch(&mut self, commands: &[(u64, String)]) -> Result<Vec<u64>, StoreError>;

    /// At most `records_max` records with `seq > after`, in order. Does not verify the chain
    /// ([`recover`] does). A record whose columns cannot be read gives
    /// [`StoreError::Corrupt`] naming its seq.
    fn read_page(&self, after: u64, records_max: usize) -> Result<Vec<Record>, StoreError>;

    /// Every record with `seq > after`, in order (all in memory: prefer [`Journal::read_page`]
    /// for long journals).
    fn read_after(&self, after: u64) -> Result<Vec<Record>, StoreError> {
        read_all_pages(|after, max| self.read_page(after, max), after)
    }

    /// Stores a snapshot atomically (one transaction) and deletes all but the newest
    /// [`SNAPSHOTS_KEPT`]. A snapshot with the same seq is replaced. Refused with
    /// [`StoreError::InvalidSnapshot`] when `snap.seq` is beyond [`Journal::last_seq`] or the hash
    /// is not 64 hex digits; a failed write is fatal like an append.
    fn write_snapshot(&mut self, snap: &Snapshot) -> Result<(), StoreError>;

    /// The seqs of the stored snapshots, newest first.
    fn snapshot_seqs(&self) -> Result<Vec<u64>, StoreError>;

    /// The snapshot taken at `seq`, if there is one.
    fn read_snapshot(&self, seq: u64) -> Result<Option<Snapshot>, StoreError>;

    /// The newest snapshot, if any (not checked: [`recover`] checks and falls back).
    fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        match self.snapshot_seqs()?.first() {
            Some(&seq) => self.read_snapshot(seq),
            None => Ok(None),
        }
    }

    /// Durably deletes every record with `seq > seq` and every snapshot taken after it. Used by
    /// [`recover`] to drop a torn last record; not for normal operation. Failure is fatal.
    fn truncate_after(&mut self, seq: u64) -> Result<(), StoreError>;

    /// The highest sequence number in the journal (0 when empty).
    fn last_seq(&self) -> u64;

    /// How many write transactions this handle has committed since it was opened (each one
    /// fsync). For SQLite it is counted by SQLite's own commit hook. Tests use it to prove group
    /// commit; servers may export it as a metric.
    fn transactions_committed(&self) -> u64;

    /// A separate read-only handle (its own connection) for another thread, e.g. to stream
    /// records to a WebSocket while the engine thread appends.
    fn reader(&self) -> Result<Box<dyn JournalReader>, StoreError>;

    /// Where the journal lives, for logs (`sqlite:PATH` or `postgres://host/db`, no password).
    fn describe(&self) -> String;
}

/// A read-only handle on a journal (see [`Journal::reader`]).
pub trait JournalReader: Send {
    /// As [`Journal::read_page`].
    fn read_page(&self, after: u64, records_max: usize) -> Result<Vec<Record>, StoreError>;

    /// As [`Journal::read_after`].
    fn read_after(&self, after: u64) -> Result<Vec<Record>, StoreError> {
        read_all_pages(|after, max| self.read_page(after, max), after)
    }

    /// The highest sequence number now durable in the journal (0 when empty).
    fn last_seq(&self) -> Result<u64, StoreError>;
}

/// Records read per query by the provided `read_after` methods and by [`recover`].
pub const READ_PAGE_RECORDS: usize = 4_096;

fn read_all_pages(
    mut page: impl FnMut(u64, usize) -> Result<Vec<Record>, StoreError>,
    mut after: u64,
) -> Result<Vec<Record>, StoreError> {
    let mut out = Vec::new();
    loop {
        let records = page(after, READ_PAGE_RECORDS)?;
        let Some(last) = records.last() else {
            return Ok(out);
        };
        after = last.seq;
        let full = records.len() == READ_PAGE_RECORDS;
        out.extend(records);
        if !full {
            return Ok(out);
        }
    }
}

/// Opens (creating if needed) the journal named by `target`:
///
/// - `postgres://…` or `postgresql://…`: [`PostgresJournal`] on that database;
/// - anything else is a directory (created if missing) holding SQLite at
///   `DIR/journal.sqlite3` ([`SQLITE_FILE_NAME`]).
///
/// Run [`recover`] next: it verifies the journal and drops a torn last record before any
/// append.
pub fn open(target: &str) -> Result<Box<dyn Journal>, StoreError> {
    if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        Ok(Box::new(PostgresJournal::open(target)?))
    } else {
        Ok(Box::new(SqliteJournal::open_dir(target)?))
    }
}

/// When to take a snapshot: every `every_commands` journaled commands (0 = never).
///
/// With group commit a snapshot is taken after a batch, so the spacing is "at least
/// `every_commands`", not exact multiples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Commands between snapshots; 0 turns snapshots off.
    pub every_commands: u64,
}

impl SnapshotPolicy {
    /// The default spacing: a snapshot every 10,000 commands keeps recovery to well under a
    /// second of replay.
    pub const DEFAULT_EVERY_COMMANDS: u64 = 10_000;

    /// A snapshot every `every_commands` commands (0 = never).
    pub fn every(every_commands: u64) -> SnapshotPolicy {
        SnapshotPolicy { every_commands }
    }

    /// Whether a snapshot is due now that the journal ends at `last_seq` and the previous
    /// snapshot was taken at `last_snapshot_seq` (0 if none).
    pub fn due(&self, last_snapshot_seq: u64, last_seq: u64) -> bool {
        self.every_commands > 0 && last_seq >= last_snapshot_seq.saturating_add(self.every_commands)
    }
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        SnapshotPolicy::every(SnapshotPolicy::DEFAULT_EVERY_COMMANDS)
    }
}

/// A snapshot of `engine` taken after the command with sequence number `seq`.
pub fn snapshot_of(engine: &Engine, seq: u64) -> Snapshot {
    let state = serde_json::to_vec(engine.state()).expect("engine state serialises");
    // Engine::state_hash is BLAKE3 of exactly these bytes; hashing them here avoids
    // serialising the state twice.
    let state_hash = blake3::hash(&state).to_hex().to_string();
    debug_assert_eq!(state_hash, engine.state_hash());
    Snapshot {
        seq,
        state_hash,
        state,
    }
}

/// Checks a batch before any IO; shared by both back ends.
fn check_batch(commands: &[(u64, String)], last_t: u64) -> Result<(), StoreError> {
    if commands.len() > BATCH_COMMANDS_MAX {
        return Err(StoreError::InvalidBatch(format!(
            "{} commands, at most {BATCH_COMMANDS_MAX} per batch",
            commands.len()
        )));
    }
    let mut prev_t = last_t;
    for (i, (t, json)) in commands.iter().enumerate() {
        if json.len() > COMMAND_BYTES_MAX {
            return Err(StoreError::InvalidBatch(format!(
                "command {i} of the batch is {} bytes, at most {COMMAND_BYTES_MAX}",
                json.len()
            )));
        }
        if json.as_bytes().contains(&0) {
            return Err(StoreError::InvalidBatch(format!(
                "command {i} of the batch contains a NUL byte (JSON never does)"
            )));
        }
        if *t > i64::MAX as u64 {
            return Err(StoreError::InvalidBatch(format!(
                "command {i} of the batch has t = {t}, above {}",
                i64::MAX
            )));
        }
        if *t < prev_t {
            return Err(StoreError::InvalidBatch(format!(
                "command {i} of the batch has t = {t}, before the previous command's t = {prev_t}"
            )));
        }
        prev_t = *t;
    }
    Ok(())
}

/// Checks a snapshot before any IO; shared by both back ends.
fn check_snapshot(snap: &Snapshot, last_seq: u64) -> Result<(), StoreError> {
    if snap.seq > last_seq {
        return Err(StoreError::InvalidSnapshot(format!(
            "snapshot seq {} is beyond the journal's last seq {last_seq}",
            snap.seq
        )));
    }
    if snap.seq > i64::MAX as u64 || chain::from_hex(&snap.state_hash).is_none() {
        return Err(StoreError::InvalidSnapshot(format!(
            "snapshot state_hash {:?} is not 64 hex digits",
            snap.state_hash
        )));
    }
    Ok(())
}
