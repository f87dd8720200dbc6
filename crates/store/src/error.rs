//! The store's error type.
//!
//! Two kinds of error matter to a caller:
//!
//! - **fatal** ([`StoreError::is_fatal`]): a write reached the storage layer and failed, so
//!   what is on disk is unknown. After a failed `fsync` the kernel may already have dropped the
//!   dirty pages ("fsyncgate", PostgreSQL 2018): retrying can report success for data that is
//!   gone. The engine has also already applied the commands in memory, so its state is ahead of
//!   the durable log. The only safe answer is to stop the process and recover from the journal
//!   on restart. Use [`crate::fatal_on_io_error`] around every write.
//! - everything else: refused input (`InvalidBatch`, `InvalidSnapshot`), a journal that cannot
//!   be opened, or corruption found while reading or recovering. These leave the journal as it
//!   was.

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write or its commit (the `fsync`) failed: durability of the batch is unknown. Fatal:
    /// the caller must stop the process, never retry and carry on.
    #[error("journal write failed, durability unknown ({0}); the process must stop and recover on restart")]
    Durability(String),
    /// An earlier write failed with [`StoreError::Durability`]; this journal refuses all writes
    /// from then on. Fatal.
    #[error("journal refuses writes after an earlier durability failure; the process must stop")]
    Poisoned,
    /// Someone else appended to the journal behind this writer's back (two servers on one
    /// journal). Fatal: the sequence and checksum chain would fork.
    #[error("another writer appended to the journal: expected last seq {expected}, found {found}; the process must stop")]
    Conflict {
        /// The last sequence number this writer knew.
        expected: u64,
        /// The last sequence number found in the journal.
        found: u64,
    },
    /// A journal record is corrupt or inconsistent; recovery refuses to start.
    #[error("journal corrupt at seq {seq}: {reason}")]
    Corrupt {
        /// Sequence number of the bad record.
        seq: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The journal could not be opened (missing directory, not a derivpool journal, server
    /// unreachable, unsupported format version …).
    #[error("cannot open journal {target}: {reason}")]
    Open {
        /// The directory, file or URL (with any password removed).
        target: String,
        /// Why.
        reason: String,
    },
    /// A batch was refused before anything was written (empty, too large, time going
    /// backwards). The journal is unchanged.
    #[error("batch refused, nothing written: {0}")]
    InvalidBatch(String),
    /// A snapshot was refused before anything was written (e.g. its seq is beyond the journal).
    #[error("snapshot refused, nothing written: {0}")]
    InvalidSnapshot(String),
    /// A read failed in the database (not a durability problem).
    #[error("journal read failed: {0}")]
    Read(String),
}

impl StoreError {
    /// Whether the process must stop now (see the module docs): true for
    /// [`StoreError::Durability`], [`StoreError::Poisoned`] and [`StoreError::Conflict`].
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            StoreError::Durability(_) | StoreError::Poisoned | StoreError::Conflict { .. }
        )
    }
}

/// Stops the process (with `std::process::abort`, after one line on standard error) when
/// `result` holds a fatal error ([`StoreError::is_fatal`]); otherwise returns it unchanged.
///
/// Wrap every journal write with it:
///
/// ```no_run
/// # fn demo(journal: &mut dyn derivpool_store::Journal) -> Result<(), derivpool_store::StoreError> {
/// let seqs = derivpool_store::fatal_on_io_error(journal.append_batch(&[(1_733_011_200, r#"{"type":"tick","t":1733011200}"#.to_string())]))?;
/// # let _ = seqs; Ok(()) }
/// ```
///
/// `abort` rather than `exit`: no destructor or buffered writer runs after the journal lost
/// track of what is durable. A supervisor restarts the process, and recovery rebuilds the
/// state from what the journal holds.
pub fn fatal_on_io_error<T>(result: Result<T, StoreError>) -> Result<T, StoreError> {
    if let Err(e) = &result {
        if e.is_fatal() {
            eprintln!("derivpool-store: FATAL: {e}");
            std::process::abort();
        }
    }
    result
}
