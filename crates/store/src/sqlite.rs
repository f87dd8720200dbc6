//! The embedded journal: one SQLite file (`DIR/journal.sqlite3`) in WAL mode with
//! `synchronous=FULL`.
//!
//! Schema (format version 1, in `PRAGMA user_version`; the file is marked with
//! `PRAGMA application_id` so that another program's database is refused):
//!
//! ```sql
//! CREATE TABLE journal   (seq INTEGER PRIMARY KEY, t INTEGER NOT NULL,
//!                         command TEXT NOT NULL, checksum TEXT NOT NULL) STRICT;
//! CREATE TABLE snapshots (seq INTEGER PRIMARY KEY, state_hash TEXT NOT NULL,
//!                         state BLOB NOT NULL) STRICT;
//! ```
//!
//! In WAL mode with `synchronous=FULL` SQLite syncs the WAL at the end of every commit, so
//! one transaction is one fsync. WAL frames are checksummed: a commit torn by a crash is
//! discarded when the database is next opened, as if it never happened (it was never
//! acknowledged either).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};

use crate::{
    chain, check_batch, check_snapshot, Journal, JournalReader, Record, Snapshot, StoreError,
    SNAPSHOTS_KEPT, SQLITE_FILE_NAME,
};

/// `PRAGMA application_id` of a derivpool journal ("dpj1").
const APPLICATION_ID: i64 = 0x6470_6a31;
/// The schema version this build reads and writes.
const FORMAT_VERSION: i64 = 1;
/// How long a statement waits for another connection's lock, in milliseconds.
const BUSY_TIMEOUT_MS: u64 = 5_000;

const SCHEMA: &str = "
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    t INTEGER NOT NULL,
    command TEXT NOT NULL,
    checksum TEXT NOT NULL
) STRICT;
CREATE TABLE snapshots (
    seq INTEGER PRIMARY KEY,
    state_hash TEXT NOT NULL,
    state BLOB NOT NULL
) STRICT;
";

/// The SQLite journal. See the module docs of the crate for the durability design.
pub struct SqliteJournal {
    conn: Connection,
    path: PathBuf,
    tail: Tail,
    poisoned: bool,
    commits: Arc<AtomicU64>,
}

/// Where the journal ends, as far as this writer knows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tail {
    /// Last seq (0 when empty).
    pub seq: u64,
    /// Its `t` (0 when empty).
    pub t: u64,
    /// Its checksum; `None` when the stored one is unreadable (recovery drops that record
    /// before anything may be appended).
    pub checksum: Option<[u8; 32]>,
}

impl Tail {
    pub(crate) const EMPTY: Tail = Tail {
        seq: 0,
        t: 0,
        checksum: Some(chain::GENESIS),
    };

    /// The chain value to append after, or the reason appends are refused.
    pub(crate) fn prev_checksum(&self) -> Result<[u8; 32], StoreError> {
        self.checksum.ok_or_else(|| StoreError::Corrupt {
            seq: self.seq,
            reason: "the last record's checksum is unreadable; run recovery (it drops a torn \
                     last record) before appending"
                .to_string(),
        })
    }
}

fn open_error(path: &Path, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Open {
        target: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn read_error(e: rusqlite::Error) -> StoreError {
    StoreError::Read(format!("SQLite: {e}"))
}

/// Durably records that `dir` holds a (new) entry, so that a created file survives a crash.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl SqliteJournal {
    /// Opens the journal in data directory `dir` (`dir/journal.sqlite3`), creating the
    /// directory and the database if missing.
    pub fn open_dir(dir: impl AsRef<Path>) -> Result<SqliteJournal, StoreError> {
        let dir = dir.as_ref();
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| open_error(dir, e))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent).map_err(|e| open_error(parent, e))?;
            }
        }
        if !dir.is_dir() {
            return Err(open_error(dir, "not a directory"));
        }
        SqliteJournal::open(dir.join(SQLITE_FILE_NAME))
    }

    /// Opens (or creates) the journal database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteJournal, StoreError> {
        let path = path.as_ref().to_path_buf();
        let existed = path.exists();
        let mut conn = Connection::open(&path).map_err(|e| open_error(&path, e))?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
            .map_err(|e| open_error(&path, e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| open_error(&path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_error(
                &path,
                format!("SQLite refused WAL mode (journal_mode is {mode})"),
            ));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| open_error(&path, e))?;
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .map_err(|e| open_error(&path, e))?;
        if sync != 2 {
            return Err(open_error(
                &path,
                format!("SQLite refused synchronous=FULL (it is {sync})"),
            ));
        }
        init_schema(&mut conn, &path)?;
        if !existed {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent).map_err(|e| open_error(parent, e))?;
            }
        }
        let commits = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&commits);
        conn.commit_hook(Some(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            false // false = let the commit go ahead
        }))
        .map_err(|e| open_error(&path, e))?;
        let tail = load_tail(&conn).map_err(|e| open_error(&path, e))?;
        Ok(SqliteJournal {
            conn,
            path,
            tail,
            poisoned: false,
            commits,
        })
    }

    /// Test hook: caps the database at `pages` pages (`PRAGMA max_page_count`), so that the
    /// next growing write fails as on a full disk. Only for tests of the fatal-error path.
    #[doc(hidden)]
    pub fn limit_pages_for_tests(&self, pages: u32) {
        // max_page_count answers with the new limit; the answer is not needed.
        let _ = self
            .conn
            .pragma_update_and_check(None, "max_page_count", pages, |r| r.get::<_, i64>(0));
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks the journal unusable and wraps `e` as a durability failure.
    fn poison(&mut self, e: impl std::fmt::Display) -> StoreError {
        self.poisoned = true;
        StoreError::Durability(format!("SQLite {}: {e}", self.path.display()))
    }
}

fn init_schema(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    let app_id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if version == 0 {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(|e| open_error(path, e))?;
        if tables != 0 || app_id != 0 {
            return Err(open_error(
                path,
                "not a derivpool journal (a database with other tables)",
            ));
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| open_error(path, e))?;
        tx.execute_batch(SCHEMA).map_err(|e| open_error(path, e))?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(|e| open_error(path, e))?;
        tx.pragma_update(None, "user_version", FORMAT_VERSION)
            .map_err(|e| open_error(path, e))?;
        tx.commit().map_err(|e| open_error(path, e))?;
        return Ok(());
    }
    if app_id != APPLICATION_ID {
        return Err(open_error(
            path,
            format!("not a derivpool journal (application_id {app_id:#x})"),
        ));
    }
    if version != FORMAT_VERSION {
        return Err(open_error(
            path,
            format!("journal format version {version}, this build reads {FORMAT_VERSION}"),
        ));
    }
    Ok(())
}

fn load_tail(conn: &Connection) -> rusqlite::Result<Tail> {
    let mut stmt =
        conn.prepare("SELECT seq, t, checksum FROM journal ORDER BY seq DESC LIMIT 1")?;
    let mut rows = stmt.query([])?;
    let Some(row) = rows.next()? else {
        return Ok(Tail::EMPTY);
    };
    let seq = row.get::<_, i64>(0)? as u64;
    let t = match row.get_ref(1)? {
        ValueRef::Integer(t) if t >= 0 => t as u64,
        _ => 0,
    };
    let checksum = match row.get_ref(2)? {
        ValueRef::Text(text) => std::str::from_utf8(text).ok().and_then(chain::from_hex),
        _ => None,
    };
    Ok(Tail { seq, t, checksum })
}

fn read_page(conn: &Connection, after: u64, records_max: usize) -> Result<Vec<Record>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(records_max).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, t, command, checksum FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(read_error)?;
    let mut rows = stmt.query(params![after, limit]).map_err(read_error)?;
    let mut out = Vec::with_capacity(records_max.min(crate::READ_PAGE_RECORDS));
    while let Some(row) = rows.next().map_err(read_error)? {
        let seq = row.get::<_, i64>(0).map_err(read_error)?;
        let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt {
            seq: 0,
            reason: format!("negative seq {seq}"),
        })?;
        let corrupt = |reason: String| StoreError::Corrupt { seq, reason };
        let t = match row.get_ref(1).map_err(read_error)? {
            ValueRef::Integer(t) if t >= 0 => t as u64,
            other => return Err(corrupt(format!("t is not a time: {other:?}"))),
        };
        let command = match row.get_ref(2).map_err(read_error)? {
            ValueRef::Text(text) => String::from_utf8(text.to_vec())
                .map_err(|e| corrupt(format!("command is not UTF-8: {e}")))?,
            other => {
                return Err(corrupt(format!(
                    "command is not text: {:?}",
                    other.data_type()
                )))
            }
        };
        let checksum = match row.get_ref(3).map_err(read_error)? {
            ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
            other => {
                return Err(corrupt(format!(
                    "checksum is not text: {:?}",
                    other.data_type()
                )))
            }
        };
        out.push(Record {
            seq,
            t,
            command,
            checksum,
        });
    }
    Ok(out)
}

fn snapshot_seqs(conn: &Connection) -> Result<Vec<u64>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT seq FROM snapshots ORDER BY seq DESC")
        .map_err(read_error)?;
    let seqs = stmt
        .query_map([], |r| r.get::<_, i64>(0))
        .map_err(read_error)?
        .collect::<Result<Vec<i64>, _>>()
        .map_err(read_error)?;
    Ok(seqs
        .into_iter()
        .filter_map(|s| u64::try_from(s).ok())
        .collect())
}

/// One batch in one IMMEDIATE transaction; the checksum of its last record, or a conflict when
/// the journal no longer ends at `expected` (the transaction is then rolled back).
fn write_batch(
    conn: &mut Connection,
    expected: u64,
    mut prev: [u8; 32],
    commands: &[(u64, String)],
) -> rusqlite::Result<Result<[u8; 32], StoreError>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM journal", [], |r| {
        r.get(0)
    })?;
    if found as u64 != expected {
        return Ok(Err(StoreError::Conflict {
            expected,
            found: found as u64,
        }));
    }
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO journal (seq, t, command, checksum) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (i, (t, json)) in commands.iter().enumerate() {
            let seq = expected + 1 + i as u64;
            prev = chain::checksum(&prev, seq, *t, json);
            stmt.execute(params![seq as i64, *t as i64, json, chain::to_hex(&prev)])?;
        }
    }
    tx.commit()?;
    Ok(Ok(prev))
}

impl Journal for SqliteJournal {
    fn append_batch(&mut self, commands: &[(u64, String)]) -> Result<Vec<u64>, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        check_batch(commands, self.tail.t)?;
        let prev = self.tail.prev_checksum()?;
        let first = self.tail.seq + 1;
        let last_checksum = match write_batch(&mut self.conn, self.tail.seq, prev, commands) {
            Ok(Ok(sum)) => sum,
            Ok(Err(conflict)) => {
                self.poisoned = true;
                return Err(conflict);
            }
            Err(e) => return Err(self.poison(e)),
        };
        let last = first + commands.len() as u64 - 1;
        self.tail = Tail {
            seq: last,
            t: commands[commands.len() - 1].0,
            checksum: Some(last_checksum),
        };
        Ok((first..=last).collect())
    }

    fn read_page(&self, after: u64, records_max: usize) -> Result<Vec<Record>, StoreError> {
        read_page(&self.conn, after, records_max)
    }

    fn write_snapshot(&mut self, snap: &Snapshot) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        check_snapshot(snap, self.tail.seq)?;
        let result = (|| -> rusqlite::Result<()> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT OR REPLACE INTO snapshots (seq, state_hash, state) VALUES (?1, ?2, ?3)",
                params![snap.seq as i64, snap.state_hash, snap.state],
            )?;
            tx.execute(
                "DELETE FROM snapshots WHERE seq NOT IN \
                 (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)",
                params![SNAPSHOTS_KEPT as i64],
            )?;
            tx.commit()
        })();
        result.map_err(|e| self.poison(e))
    }

    fn snapshot_seqs(&self) -> Result<Vec<u64>, StoreError> {
        snapshot_seqs(&self.conn)
    }

    fn read_snapshot(&self, seq: u64) -> Result<Option<Snapshot>, StoreError> {
        let Ok(key) = i64::try_from(seq) else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state_hash, state FROM snapshots WHERE seq = ?1")
            .map_err(read_error)?;
        let mut rows = stmt.query(params![key]).map_err(read_error)?;
        let Some(row) = rows.next().map_err(read_error)? else {
            return Ok(None);
        };
        // Lenient: a damaged snapshot is returned as it is and rejected by recovery's hash
        // check, which then falls back to an older one.
        let state_hash = match row.get_ref(0).map_err(read_error)? {
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            _ => String::new(),
        };
        let state = match row.get_ref(1).map_err(read_error)? {
            ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
            _ => Vec::new(),
        };
        Ok(Some(Snapshot {
            seq,
            state_hash,
            state,
        }))
    }

    fn truncate_after(&mut self, seq: u64) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let key = i64::try_from(seq).unwrap_or(i64::MAX);
        let result = (|| -> rusqlite::Result<Tail> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM journal WHERE seq > ?1", params![key])?;
            tx.execute("DELETE FROM snapshots WHERE seq > ?1", params![key])?;
            tx.commit()?;
            load_tail(&self.conn)
        })();
        match result {
            Ok(tail) => {
                self.tail = tail;
                Ok(())
            }
            Err(e) => Err(self.poison(e)),
        }
    }

    fn last_seq(&self) -> u64 {
        self.tail.seq
    }

    fn transactions_committed(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn reader(&self) -> Result<Box<dyn JournalReader>, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(&self.path, e))?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
            .map_err(|e| open_error(&self.path, e))?;
        Ok(Box::new(SqliteReader { conn }))
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

/// A read-only connection to a SQLite journal (WAL lets it read while the writer commits).
struct SqliteReader {
    conn: Connection,
}

impl JournalReader for SqliteReader {
    fn read_page(&self, after: u64, records_max: usize) -> Result<Vec<Record>, StoreError> {
        read_page(&self.conn, after, records_max)
    }

    fn last_seq(&self) -> Result<u64, StoreError> {
        let seq: i64 = self
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM journal", [], |r| {
                r.get(0)
            })
            .map_err(read_error)?;
        Ok(seq.max(0) as u64)
    }
}
