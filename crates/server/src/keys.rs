//! API keys and roles.
//!
//! A key is `dpk_` followed by 64 hex digits (32 bytes from the operating system's random
//! source). It is shown once, when it is created; the server stores only its BLAKE3 hash, one
//! JSON line per key in `DIR/keys.jsonl` (file mode 0600). A running server picks up keys
//! created after it started: when a presented key is unknown and the file changed, it reloads.
//!
//! Roles and the commands each may send (issue 7): `admin` everything; `trader` deposit,
//! withdraw, trade for its own account; `lp` lp_deposit, lp_withdraw for itself; `oracle`
//! oracle_price, oracle_vol as its named source; `keeper` tick, liquidate, hedge_fill;
//! `governance` propose, vote, execute for its own account. The table is [`crate::roles`].

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, RwLock};
use std::time::{Instant, SystemTime};

/// The file under the data directory that holds the hashed keys.
pub const KEYS_FILE: &str = "keys.jsonl";
/// Prefix of every key, so that a leaked key is recognisable.
pub const KEY_PREFIX: &str = "dpk_";
/// Random bytes in a key.
pub const KEY_RANDOM_BYTES: usize = 32;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including sending `t` with `--accept-client-time`.
    Admin,
    /// deposit, withdraw, trade for its own account.
    Trader,
    /// lp_deposit, lp_withdraw for itself.
    Lp,
    /// oracle_price, oracle_vol as its named source.
    Oracle,
    /// tick, liquidate, hedge_fill.
    Keeper,
    /// propose, vote, execute for its own account.
    Governance,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Trader,
        Role::Lp,
        Role::Oracle,
        Role::Keeper,
        Role::Governance,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Trader => "trader",
            Role::Lp => "lp",
            Role::Oracle => "oracle",
            Role::Keeper => "keeper",
            Role::Governance => "governance",
        }
    }

    /// True when keys of this role act for a named account (or oracle source) and need one.
    pub fn needs_account(self) -> bool {
        matches!(
            self,
            Role::Trader | Role::Lp | Role::Oracle | Role::Governance
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Role, KeyError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| KeyError::UnknownRole(s.to_string()))
    }
}

/// Errors of key management.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The role name is not one of the six.
    #[error("unknown role {0:?}; expected one of admin, trader, lp, oracle, keeper, governance")]
    UnknownRole(String),
    /// A role that acts for an account was given none.
    #[error("role {0} acts for a named account: pass --account NAME")]
    AccountRequired(Role),
    /// The account name is not usable.
    #[error("account name {0:?} must be 1 to 64 characters of A-Z a-z 0-9 _ - . :")]
    InvalidAccount(String),
    /// Reading or writing the key file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line of the key file is not a key record.
    #[error("{path}:{line}: not a key record: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
}

/// One stored key: its hash and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Short public id (the first 16 hex digits of the hash), used in logs and rate limits.
    pub id: String,
    /// Hex BLAKE3 hash of the whole key text.
    pub hash: String,
    /// Role.
    pub role: Role,
    /// Account (trader, lp, governance) or oracle source name the key acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Creation time, unix seconds.
    pub created: u64,
}

/// Hex BLAKE3 hash of a key.
pub fn hash_key(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex().to_string()
}

fn valid_account(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// Creates a key with a role (and the account it acts for), appends its hash to
/// `DIR/keys.jsonl` (creating DIR), syncs the file, and returns the key text and its record.
pub fn create_key(
    dir: &Path,
    role: Role,
    account: Option<&str>,
) -> Result<(String, KeyRecord), KeyError> {
    if let Some(a) = account {
        if !valid_account(a) {
            return Err(KeyError::InvalidAccount(a.to_string()));
        }
    } else if role.needs_account() {
        return Err(KeyError::AccountRequired(role));
    }
    let mut bytes = [0u8; KEY_RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let key = format!("{KEY_PREFIX}{hex}");
    let hash = hash_key(&key);
    let record = KeyRecord {
        id: hash[..16].to_string(),
        hash,
        role,
        account: account.map(str::to_string),
        created: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    let path = dir.join(KEYS_FILE);
    let io = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(io)?;
    let mut line = serde_json::to_string(&record).expect("key records serialise");
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok((key, record))
}

/// Reads every key record of a data directory (none when the file does not exist).
pub fn read_keys(dir: &Path) -> Result<Vec<KeyRecord>, KeyError> {
    let path = dir.join(KEYS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(KeyError::Io { path, source }),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: KeyRecord = serde_json::from_str(line).map_err(|e| KeyError::Corrupt {
            path: path.clone(),
            line: i + 1,
            reason: e.to_string(),
        })?;
        out.push(rec);
    }
    Ok(out)
}

/// The keys a server knows, by hash, reloaded from the file when an unknown key shows up and
/// the file changed since the last load.
#[derive(Debug)]
pub struct KeyStore {
    dir: Option<PathBuf>,
    inner: RwLock<KeyTable>,
}

#[derive(Debug, Default)]
struct KeyTable {
    by_hash: HashMap<String, KeyRecord>,
    stamp: Option<(SystemTime, u64)>,
}

fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl KeyStore {
    /// Loads the keys of a data directory.
    pub fn load(dir: &Path) -> Result<KeyStore, KeyError> {
        let store = KeyStore {
            dir: Some(dir.to_path_buf()),
            inner: RwLock::new(KeyTable::default()),
        };
        store.reload()?;
        Ok(store)
    }

    /// A fixed set of keys (tests): no file behind it.
    pub fn from_records(records: Vec<KeyRecord>) -> KeyStore {
        KeyStore {
            dir: None,
            inner: RwLock::new(KeyTable {
                by_hash: records.into_iter().map(|r| (r.hash.clone(), r)).collect(),
                stamp: None,
            }),
        }
    }

    fn reload(&self) -> Result<(), KeyError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let stamp = file_stamp(&dir.join(KEYS_FILE));
        let records = read_keys(dir)?;
        let mut table = self.inner.write().unwrap_or_else(|e| e.into_inner());
        table.by_hash = records.into_iter().map(|r| (r.hash.clone(), r)).collect();
        table.stamp = stamp;
        Ok(())
    }

    /// The record of a presented key, if it is known.
    pub fn lookup(&self, key: &str) -> Option<KeyRecord> {
        let hash = hash_key(key);
        {
            let table = self.inner.read().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = table.by_hash.get(&hash) {
                return Some(r.clone());
            }
            let dir = self.dir.as_ref()?;
            if file_stamp(&dir.join(KEYS_FILE)) == table.stamp {
                return None;
            }
        }
        if let Err(e) = self.reload() {
            tracing::warn!(error = %e, "could not reload the key file");
        }
        let table = self.inner.read().unwrap_or_else(|e| e.into_inner());
        table.by_hash.get(&hash).cloned()
    }
}

/// A token bucket per key: `rate_per_s` requests per second on average, bursts up to
/// `burst_max` requests.
#[derive(Debug)]
pub struct RateLimiter {
    rate_per_s: f64,
    burst_max: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter; a rate of 0 disables it.
    pub fn new(rate_per_s: u32, burst_max: u32) -> RateLimiter {
        RateLimiter {
            rate_per_s: f64::from(rate_per_s),
            burst_max: f64::from(burst_max.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key_id`; false when the key is over its limit.
    pub fn allow(&self, key_id: &str) -> bool {
        if self.rate_per_s <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = buckets
            .entry(key_id.to_string())
            .or_insert((self.burst_max, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate_per_s)
            .min(self.burst_max);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_key_is_found_by_a_store_loaded_later_and_only_its_hash_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (key, rec) = create_key(dir.path(), Role::Trader, Some("alice")).unwrap();
        assert!(key.starts_with(KEY_PREFIX));
        assert_eq!(key.len(), KEY_PREFIX.len() + 2 * KEY_RANDOM_BYTES);
        let text = std::fs::read_to_string(dir.path().join(KEYS_FILE)).unwrap();
        assert!(!text.contains(&key[KEY_PREFIX.len()..]));
        let store = KeyStore::load(dir.path()).unwrap();
        assert_eq!(store.lookup(&key), Some(rec));
        assert_eq!(store.lookup("dpk_00"), None);
    }

    #[test]
    fn running_store_sees_a_key_created_after_it_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::load(dir.path()).unwrap();
        let (key, _) = create_key(dir.path(), Role::Admin, None).unwrap();
        assert_eq!(store.lookup(&key).map(|r| r.role), Some(Role::Admin));
    }

    #[test]
    fn roles_acting_for_someone_need_an_account() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            create_key(dir.path(), Role::Trader, None),
            Err(KeyError::AccountRequired(Role::Trader))
        ));
        assert!(matches!(
            create_key(dir.path(), Role::Lp, Some("bad name")),
            Err(KeyError::InvalidAccount(_))
        ));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn rate_limiter_refuses_past_the_burst() {
        let limiter = RateLimiter::new(1, 3);
        assert!((0..3).all(|_| limiter.allow("k")));
        assert!(!limiter.allow("k"));
        assert!(limiter.allow("other"));
    }
}
