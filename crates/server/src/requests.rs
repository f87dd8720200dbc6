//! The answers to requests that carried a `request_id`, kept in `DIR/requests.jsonl` so that a
//! retry after a restart still gets the first answer instead of being applied twice.
//!
//! One JSON line per answered item: `{key, id, answer, check}`, where `check` is the BLAKE3 of
//! the journaled command text for applied commands. The engine thread writes the lines of a
//! batch after the journal's fsync and before it answers, without an fsync of its own: a killed
//! process loses nothing it acknowledged (the lines are in the page cache), while a power loss
//! may lose the newest lines (such retries are then applied again). At start the file is
//! checked against the journal: an applied answer whose seq is beyond the journal, or whose
//! journal record differs from `check` (the journal lost that batch), is dropped; a torn last
//! line is ignored. The file is rewritten with the newest `entries_max` entries at each start.

use crate::core::Answer;
use derivpool_store::{Journal, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file under the data directory.
pub const REQUESTS_FILE: &str = "requests.jsonl";

/// One remembered answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Key id.
    pub key: String,
    /// Client request id.
    pub id: String,
    /// The first answer.
    pub answer: Answer,
    /// BLAKE3 of the journaled command text (applied answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

/// Errors reading or writing the file.
#[derive(Debug, thiserror::Error)]
pub enum RequestLogError {
    /// IO on the file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Reading the journal to check entries.
    #[error("checking {REQUESTS_FILE} against the journal: {0}")]
    Journal(#[from] StoreError),
}

/// The append handle.
#[derive(Debug)]
pub struct RequestLog {
    path: PathBuf,
    file: std::fs::File,
}

/// BLAKE3 hex of a journaled command text.
pub fn check_of(command_json: &str) -> String {
    blake3::hash(command_json.as_bytes()).to_hex().to_string()
}

impl RequestLog {
    /// Loads the entries still valid against `journal` (the newest `entries_max`), rewrites the
    /// file with them, and opens it for appending.
    pub fn open(
        path: &Path,
        journal: &dyn Journal,
        entries_max: usize,
    ) -> Result<(RequestLog, Vec<Entry>), RequestLogError> {
        let io = |source| RequestLogError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        let mut entries: Vec<Entry> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if entries.len() > entries_max {
            entries.drain(..entries.len() - entries_max);
        }
        let last = journal.last_seq();
        let min_seq = entries
            .iter()
            .filter_map(|e| e.answer.seq)
            .filter(|s| *s <= last)
            .min();
        let mut checks: HashMap<u64, String> = HashMap::new();
        if let Some(min) = min_seq {
            for r in journal.read_after(min - 1)? {
                checks.insert(r.seq, check_of(&r.command));
            }
        }
        entries.retain(|e| match e.answer.seq {
            None => true,
            Some(seq) => e.check.is_some() && checks.get(&seq) == e.check.as_ref(),
        });
        let tmp = path.with_extension("jsonl.tmp");
        let mut out = String::new();
        for e in &entries {
            out.push_str(&serde_json::to_string(e).expect("entries serialise"));
            out.push('\n');
        }
        std::fs::write(&tmp, out).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok((
            RequestLog {
                path: path.to_path_buf(),
                file,
            },
            entries,
        ))
    }

    /// Appends entries (one write, no fsync: see the module docs).
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), RequestLogError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut out = String::new();
        for e in entries {
            out.push_str(&serde_json::to_string(e).expect("entries serialise"));
            out.push('\n');
        }
        self.file
            .write_all(out.as_bytes())
            .map_err(|source| RequestLogError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(seq: Option<u64>, rid: &str) -> Answer {
        Answer {
            seq,
            applied: seq.is_some(),
            events: None,
            reject: None,
            request_id: Some(rid.to_string()),
        }
    }

    #[test]
    fn entries_are_kept_only_when_the_journal_still_holds_their_command() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = derivpool_store::open(dir.path().to_str().unwrap()).unwrap();
        let cmd = |n: u64| format!(r#"{{"t":{n},"type":"tick"}}"#);
        journal.append_batch(&[(1, cmd(1)), (2, cmd(2))]).unwrap();
        let path = dir.path().join(REQUESTS_FILE);
        let entries = [
            Entry {
                key: "k".into(),
                id: "good".into(),
                answer: answer(Some(1), "good"),
                check: Some(check_of(&cmd(1))),
            },
            // The journal lost this batch and seq 2 is now another command.
            Entry {
                key: "k".into(),
                id: "lost".into(),
                answer: answer(Some(2), "lost"),
                check: Some(check_of(&cmd(9))),
            },
            Entry {
                key: "k".into(),
                id: "beyond".into(),
                answer: answer(Some(3), "beyond"),
                check: Some(check_of(&cmd(3))),
            },
            Entry {
                key: "k".into(),
                id: "rejected".into(),
                answer: answer(None, "rejected"),
                check: None,
            },
        ];
        let mut text: String = entries
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        text.push_str("{\"key\":\"k\",\"id\":\"torn"); // a torn last line
        std::fs::write(&path, text).unwrap();

        let (mut log, kept) = RequestLog::open(&path, &*journal, 100).unwrap();
        let ids: Vec<&str> = kept.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["good", "rejected"]);
        log.append(&entries[..1]).unwrap();
        let (_, again) = RequestLog::open(&path, &*journal, 100).unwrap();
        assert_eq!(
            again.len(),
            3,
            "the file was rewritten with the kept entries, then appended"
        );
        let (_, newest) = RequestLog::open(&path, &*journal, 1).unwrap();
        assert_eq!(newest.len(), 1);
    }
}
