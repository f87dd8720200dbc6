//! The checksum chain over journal records.
//!
//! ```text
//! checksum(n) = BLAKE3( checksum(n−1) ‖ seq_n ‖ t_n ‖ len(json_n) ‖ json_n )
//! checksum(0) = 32 zero bytes
//! ```
//!
//! with `seq`, `t` and the length as little-endian u64 and checksums as their 32 raw bytes
//! (stored as 64 lowercase hex digits). The length prefix keeps the encoding unambiguous. Each
//! checksum covers every record before it, so a changed, missing, reordered or inserted record
//! breaks the chain at the first record touched, and recovery names that seq.

/// The chain value before the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// The checksum of a record given the previous record's checksum.
pub fn checksum(prev: &[u8; 32], seq: u64, t: u64, command: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(&seq.to_le_bytes());
    h.update(&t.to_le_bytes());
    h.update(&(command.len() as u64).to_le_bytes());
    h.update(command.as_bytes());
    *h.finalize().as_bytes()
}

/// Lowercase hex of a checksum.
pub fn to_hex(sum: &[u8; 32]) -> String {
    blake3::Hash::from_bytes(*sum).to_hex().to_string()
}

/// Parses 64 hex digits; `None` when it is anything else.
pub fn from_hex(text: &str) -> Option<[u8; 32]> {
    blake3::Hash::from_hex(text).ok().map(|h| *h.as_bytes())
}
