//! The PostgreSQL journal, for operators who want the journal on a database server (replicated,
//! backed up, shared by several nodes of which one writes at a time).
//!
//! Same design as SQLite: tables `journal (seq, t, command, checksum)` and
//! `snapshots (seq, state_hash, state)` in a schema of their own (default `derivpool`); one
//! transaction per batch, inserted with one `unnest` statement (one round trip), committed with
//! `synchronous_commit = on`, so the commit returns after the server flushed its WAL. A session
//! advisory lock taken at open keeps a second writer out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use crate::sqlite::Tail;
use crate::{
    chain, check_batch, check_snapshot, Journal, JournalReader, Record, Snapshot, StoreError,
    SNAPSHOTS_KEPT,
};

/// The schema used by [`PostgresJournal::open`].
pub const DEFAULT_SCHEMA: &str = "derivpool";
/// Longest wait for the server to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The schema version this build reads and writes.
const FORMAT_VERSION: i64 = 1;

/// The PostgreSQL journal. See the crate docs for the durability design.
pub struct PostgresJournal {
    client: Mutex<Client>,
    config: Config,
    target: String,
    schema: String,
    tail: Tail,
    poisoned: bool,
    commits: AtomicU64,
}

/// `postgres://user@host:port/db` without the password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn read_error(e: postgres::Error) -> StoreError {
    StoreError::Read(format!("PostgreSQL: {e}"))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn connect(config: &Config, target: &str) -> Result<Client, StoreError> {
    let mut client = config.connect(NoTls).map_err(|e| StoreError::Open {
        target: target.to_string(),
        reason: e.to_string(),
    })?;
    // Durability must not depend on the server's default: commit waits for the WAL flush.
    client
        .batch_execute("SET synchronous_commit = on")
        .map_err(|e| StoreError::Open {
            target: target.to_string(),
            reason: e.to_string(),
        })?;
    Ok(client)
}

impl PostgresJournal {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and uses the tables in
    /// schema `derivpool` ([`crate::POSTGRES_DEFAULT_SCHEMA`]), creating them if missing.
    pub fn open(url: &str) -> Result<PostgresJournal, StoreError> {
        PostgresJournal::open_in_schema(url, DEFAULT_SCHEMA)
    }

    /// As [`PostgresJournal::open`] with the tables in `schema` (lowercase ASCII letters, digits
    /// and `_`, starting with a letter; at most 63 bytes). Several journals can share one
    /// database this way (tests use one schema each).
    pub fn open_in_schema(url: &str, schema: &str) -> Result<PostgresJournal, StoreError> {
        let target = redact(url);
        let open_error = |reason: String| StoreError::Open {
            target: target.clone(),
            reason,
        };
        let valid = schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase())
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(open_error(format!(
                "schema name {schema:?} must be lowercase letters, digits and _, starting with a letter"
            )));
        }
        let mut config: Config = url
            .parse()
            .map_err(|e: postgres::Error| open_error(format!("bad URL: {e}")))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let mut client = connect(&config, &target)?;
        let locked: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtext($1))",
                &[&format!("derivpool-journal:{schema}")],
            )
            .and_then(|row| row.try_get(0))
            .map_err(|e| open_error(e.to_string()))?;
        if !locked {
            return Err(open_error(format!(
                "another process holds the journal in schema {schema} (advisory lock taken)"
            )));
        }
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {schema}.meta (
                     key TEXT PRIMARY KEY, value BIGINT NOT NULL);
                 INSERT INTO {schema}.meta (key, value) VALUES ('format_version', {FORMAT_VERSION})
                     ON CONFLICT (key) DO NOTHING;
                 CREATE TABLE IF NOT EXISTS {schema}.journal (
                     seq BIGINT PRIMARY KEY, t BIGINT NOT NULL,
                     command TEXT NOT NULL, checksum TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS {schema}.snapshots (
                     seq BIGINT PRIMARY KEY, state_hash TEXT NOT NULL, state BYTEA NOT NULL);"
            ))
            .map_err(|e| open_error(format!("creating the schema: {e}")))?;
        let version: i64 = client
            .query_one(
                &format!("SELECT value FROM {schema}.meta WHERE key = 'format_version'"),
                &[],
            )
            .and_then(|row| row.try_get(0))
            .map_err(|e| open_error(e.to_string()))?;
        if version != FORMAT_VERSION {
            return Err(open_error(format!(
                "journal format version {version}, this build reads {FORMAT_VERSION}"
            )));
        }
        let tail = load_tail(&mut client, schema).map_err(|e| open_error(e.to_string()))?;
        Ok(PostgresJournal {
            client: Mutex::new(client),
            config,
            target,
            schema: schema.to_string(),
            tail,
            poisoned: false,
            commits: AtomicU64::new(0),
        })
    }

    fn client(&self) -> Result<std::sync::MutexGuard<'_, Client>, StoreError> {
        self.client
            .lock()
            .map_err(|_| StoreError::Read("PostgreSQL client lock poisoned".to_string()))
    }

    fn poison(&mut self, e: impl std::fmt::Display) -> StoreError {
        self.poisoned = true;
        StoreError::Durability(format!("PostgreSQL {}: {e}", self.target))
    }
}

fn load_tail(client: &mut Client, schema: &str) -> Result<Tail, postgres::Error> {
    let row = client.query_opt(
        &format!("SELECT seq, t, checksum FROM {schema}.journal ORDER BY seq DESC LIMIT 1"),
        &[],
    )?;
    let Some(row) = row else {
        return Ok(Tail::EMPTY);
    };
    let seq: i64 = row.try_get(0)?;
    let t: i64 = row.try_get(1)?;
    let checksum: String = row.try_get(2)?;
    Ok(Tail {
        seq: u64::try_from(seq).unwrap_or(0),
        t: u64::try_from(t).unwrap_or(0),
        checksum: chain::from_hex(&checksum),
    })
}

fn read_page(
    client: &mut Client,
    schema: &str,
    after: u64,
    records_max: usize,
) -> Result<Vec<Record>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT seq, t, command, checksum FROM {schema}.journal \
                 WHERE seq > $1 ORDER BY seq LIMIT $2"
            ),
            &[&to_i64(after), &to_i64(records_max as u64)],
        )
        .map_err(read_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let seq: i64 = row.try_get(0).map_err(read_error)?;
        let seq_u = u64::try_from(seq).map_err(|_| StoreError::Corrupt {
            seq: 0,
            reason: format!("negative seq {seq}"),
        })?;
        let t: i64 = row.try_get(1).map_err(read_error)?;
        let t = u64::try_from(t).map_err(|_| StoreError::Corrupt {
            seq: seq_u,
            reason: format!("negative t {t}"),
        })?;
        out.push(Record {
            seq: seq_u,
            t,
            command: row.try_get(2).map_err(read_error)?,
            checksum: row.try_get(3).map_err(read_error)?,
        });
    }
    Ok(out)
}

/// One batch in one transaction (one `unnest` insert); a conflict when the journal no longer
/// ends at `expected` (the transaction is then rolled back).
fn insert_batch(
    client: &mut Client,
    schema: &str,
    expected: u64,
    [seqs, ts]: [&[i64]; 2],
    jsons: &[&str],
    sums: &[String],
) -> Result<Result<(), StoreError>, postgres::Error> {
    let mut tx = client.transaction()?;
    let found: i64 = tx
        .query_one(
            &format!("SELECT coalesce(max(seq), 0) FROM {schema}.journal"),
            &[],
        )?
        .try_get(0)?;
    if found as u64 != expected {
        return Ok(Err(StoreError::Conflict {
            expected,
            found: found as u64,
        }));
    }
    tx.execute(
        &format!(
            "INSERT INTO {schema}.journal (seq, t, command, checksum) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[])"
        ),
        &[&seqs, &ts, &jsons, &sums],
    )?;
    tx.commit()?;
    Ok(Ok(()))
}

fn insert_snapshot(
    client: &mut Client,
    schema: &str,
    snap: &Snapshot,
) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute(
        &format!(
            "INSERT INTO {schema}.snapshots (seq, state_hash, state) VALUES ($1, $2, $3) \
             ON CONFLICT (seq) DO UPDATE SET state_hash = $2, state = $3"
        ),
        &[&to_i64(snap.seq), &snap.state_hash, &snap.state],
    )?;
    tx.execute(
        &format!(
            "DELETE FROM {schema}.snapshots WHERE seq NOT IN \
             (SELECT seq FROM {schema}.snapshots ORDER BY seq DESC LIMIT $1)"
        ),
        &[&(SNAPSHOTS_KEPT as i64)],
    )?;
    tx.commit()
}

fn delete_after(client: &mut Client, schema: &str, seq: u64) -> Result<Tail, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute(
        &format!("DELETE FROM {schema}.journal WHERE seq > $1"),
        &[&to_i64(seq)],
    )?;
    tx.execute(
        &format!("DELETE FROM {schema}.snapshots WHERE seq > $1"),
        &[&to_i64(seq)],
    )?;
    tx.commit()?;
    load_tail(client, schema)
}

impl Journal for PostgresJournal {
    fn append_batch(&mut self, commands: &[(u64, String)]) -> Result<Vec<u64>, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        check_batch(commands, self.tail.t)?;
        let mut prev = self.tail.prev_checksum()?;
        let first = self.tail.seq + 1;
        let mut seqs = Vec::with_capacity(commands.len());
        let mut ts = Vec::with_capacity(commands.len());
        let mut jsons = Vec::with_capacity(commands.len());
        let mut sums = Vec::with_capacity(commands.len());
        for (i, (t, json)) in commands.iter().enumerate() {
            let seq = first + i as u64;
            prev = chain::checksum(&prev, seq, *t, json);
            seqs.push(seq as i64);
            ts.push(*t as i64);
            jsons.push(json.as_str());
            sums.push(chain::to_hex(&prev));
        }
        let expected = self.tail.seq;
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        match insert_batch(client, &self.schema, expected, [&seqs, &ts], &jsons, &sums) {
            Ok(Ok(())) => {}
            Ok(Err(conflict)) => {
                self.poisoned = true;
                return Err(conflict);
            }
            Err(e) => return Err(self.poison(e)),
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        let last = first + commands.len() as u64 - 1;
        self.tail = Tail {
            seq: last,
            t: commands[commands.len() - 1].0,
            checksum: Some(prev),
        };
        Ok((first..=last).collect())
    }

    fn read_page(&self, after: u64, records_max: usize) -> Result<Vec<Record>, StoreError> {
        read_page(&mut *self.client()?, &self.schema, after, records_max)
    }

    fn write_snapshot(&mut self, snap: &Snapshot) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        check_snapshot(snap, self.tail.seq)?;
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        match insert_snapshot(client, &self.schema, snap) {
            Ok(()) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(self.poison(e)),
        }
    }

    fn snapshot_seqs(&self) -> Result<Vec<u64>, StoreError> {
        let rows = self
            .client()?
            .query(
                &format!(
                    "SELECT seq FROM {}.snapshots ORDER BY seq DESC",
                    self.schema
                ),
                &[],
            )
            .map_err(read_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.try_get(0).map_err(read_error)?;
            out.extend(u64::try_from(seq).ok());
        }
        Ok(out)
    }

    fn read_snapshot(&self, seq: u64) -> Result<Option<Snapshot>, StoreError> {
        let row = self
            .client()?
            .query_opt(
                &format!(
                    "SELECT state_hash, state FROM {}.snapshots WHERE seq = $1",
                    self.schema
                ),
                &[&to_i64(seq)],
            )
            .map_err(read_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Snapshot {
            seq,
            state_hash: row.try_get(0).map_err(read_error)?,
            state: row.try_get(1).map_err(read_error)?,
        }))
    }

    fn truncate_after(&mut self, seq: u64) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        match delete_after(client, &self.schema, seq) {
            Ok(tail) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
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
        Ok(Box::new(PostgresReader {
            client: Mutex::new(connect(&self.config, &self.target)?),
            schema: self.schema.clone(),
        }))
    }

    fn describe(&self) -> String {
        format!("{} (schema {})", self.target, self.schema)
    }
}

/// A second connection for reads from another thread.
struct PostgresReader {
    client: Mutex<Client>,
    schema: String,
}

impl PostgresReader {
    fn client(&self) -> Result<std::sync::MutexGuard<'_, Client>, StoreError> {
        self.client
            .lock()
            .map_err(|_| StoreError::Read("PostgreSQL client lock poisoned".to_string()))
    }
}

impl JournalReader for PostgresReader {
    fn read_page(&self, after: u64, records_max: usize) -> Result<Vec<Record>, StoreError> {
        read_page(&mut *self.client()?, &self.schema, after, records_max)
    }

    fn last_seq(&self) -> Result<u64, StoreError> {
        let seq: i64 = self
            .client()?
            .query_one(
                &format!("SELECT coalesce(max(seq), 0) FROM {}.journal", self.schema),
                &[],
            )
            .and_then(|row| row.try_get(0))
            .map_err(read_error)?;
        Ok(seq.max(0) as u64)
    }
}
