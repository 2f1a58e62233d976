//! The keyspace's domain types: databases, keys and their kinds, members,
//! and the integer encodings that give members their order in SQL.

use bytes::Bytes;

use super::error::StoreError;

/// The stable 62-bit hash that orders keys for SCAN (never 0, which is the
/// start/end cursor). FNV-1a, fixed forever: it is stored in the database.
pub fn key_hash(key: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in key {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    ((h >> 2) | 1) as i64
}

/// A logical database number (SELECT).
pub type Db = u32;

/// What a key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    String,
    Hash,
    /// A stream: its entries, groups, consumers and pending entries are
    /// [`Member`] rows (see `cmd::helpers::streams`); the read-only event
    /// streams are answered from the event log and have no row.
    Stream,
    /// Lists, sets and sorted sets keep their elements as [`Member`] rows.
    List,
    Set,
    ZSet,
}

impl KeyKind {
    pub fn code(self) -> i64 {
        match self {
            KeyKind::String => 0,
            KeyKind::Hash => 1,
            KeyKind::Stream => 2,
            KeyKind::List => 3,
            KeyKind::Set => 4,
            KeyKind::ZSet => 5,
        }
    }

    pub fn from_code(code: i64) -> Result<KeyKind, StoreError> {
        match code {
            0 => Ok(KeyKind::String),
            1 => Ok(KeyKind::Hash),
            2 => Ok(KeyKind::Stream),
            3 => Ok(KeyKind::List),
            4 => Ok(KeyKind::Set),
            5 => Ok(KeyKind::ZSet),
            other => Err(StoreError::Other(format!(
                "unknown key kind {other} in store"
            ))),
        }
    }

    /// The name TYPE answers and SCAN TYPE matches.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::String => "string",
            KeyKind::Hash => "hash",
            KeyKind::Stream => "stream",
            KeyKind::List => "list",
            KeyKind::Set => "set",
            KeyKind::ZSet => "zset",
        }
    }

    /// True for the kinds whose elements are [`Member`] rows.
    pub fn has_members(self) -> bool {
        matches!(
            self,
            KeyKind::List | KeyKind::Set | KeyKind::ZSet | KeyKind::Stream
        )
    }
}

/// One element of a list, set or sorted set: one row of the members
/// table, found by its key and `member`, ordered within its key by
/// (`score`, `member`) through an index.
///
/// - a set member: `member` is the member, `score` 0, `value` empty;
/// - a sorted-set member: `score` is [`score_order`] of its score;
/// - a list element: `score` is its position, `member` the position as
///   [`position_member`] (so the primary key stays unique), `value` the
///   element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub member: Bytes,
    pub score: i64,
    pub value: Bytes,
}

/// Which members a range holds: by score (then member), by member, or all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberRange {
    All,
    /// Ordered by (score, member).
    Score(Bound<i64>, Bound<i64>),
    /// Ordered by member bytes.
    Member(Bound<Bytes>, Bound<Bytes>),
}

pub use std::ops::Bound;

/// A sorted set's score as an integer of the same order: the IEEE bits,
/// flipped so that integer order is float order (-0 is stored as 0; NaN
/// never reaches the store). Exact both ways, and MySQL's DOUBLE cannot
/// hold infinities, so both backends store this.
pub fn score_order(score: f64) -> i64 {
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    (ordered ^ (1 << 63)) as i64
}

/// The score [`score_order`] stored.
pub fn score_of(order: i64) -> f64 {
    let ordered = (order as u64) ^ (1 << 63);
    let bits = if ordered >> 63 == 1 {
        ordered & !(1 << 63)
    } else {
        !ordered
    };
    f64::from_bits(bits)
}

/// A list position as the member bytes of its row: big-endian with the
/// sign bit flipped, so byte order is position order.
pub fn position_member(position: i64) -> Bytes {
    Bytes::copy_from_slice(&((position as u64) ^ (1 << 63)).to_be_bytes())
}

/// Per-key metadata, one row per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyMeta {
    pub kind: KeyKind,
    /// Absolute Unix milliseconds; `None` means no TTL.
    pub expire_at: Option<i64>,
    /// Changes on every write to the key; WATCH compares it at EXEC.
    pub version: i64,
}

impl KeyMeta {
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.expire_at.is_none_or(|at| at > now_ms)
    }
}

/// Keys and expiring keys of one database, for INFO keyspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbCounts {
    pub db: Db,
    pub keys: i64,
    pub expires: i64,
}

/// What a transaction may do, and what it needs to see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Writes: one transaction holding the row locks it takes until commit;
    /// its reads see the latest committed state of what it locked.
    Write,
    /// Reads that must see one consistent state (MGET, a read-only EXEC):
    /// one snapshot, taken when the transaction begins.
    Snapshot,
    /// The reads of one command: each statement sees the latest committed
    /// state (no BEGIN/COMMIT round trips). A command's statements agree
    /// because the command layer treats a key that vanished between two of
    /// them as absent.
    Read,
}

/// One connection pool's use.
#[derive(Clone, Copy, Debug)]
pub struct PoolUse {
    /// `commands` or `background`.
    pub pool: &'static str,
    pub in_use: usize,
    pub idle: usize,
    pub max: usize,
}

/// A fresh random WATCH version.
pub(crate) fn new_version() -> i64 {
    rand::random::<i64>() & i64::MAX
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::store::types::{position_member, score_of, score_order};

    #[test]
    fn scores_keep_their_order_and_value_as_integers() {
        let scores = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -f64::MIN_POSITIVE,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            1.5,
            1e300,
            f64::INFINITY,
        ];
        for pair in scores.windows(2) {
            assert!(score_order(pair[0]) < score_order(pair[1]), "{pair:?}");
        }
        for s in scores {
            assert_eq!(score_of(score_order(s)), s);
        }
        assert_eq!(score_order(-0.0), score_order(0.0));
        assert_eq!(score_of(score_order(-0.0)).to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn positions_sort_as_bytes() {
        let mut positions = [-5i64, i64::MIN, 3, 0, -1, i64::MAX, 1];
        let mut members: Vec<Bytes> = positions.iter().map(|&p| position_member(p)).collect();
        positions.sort();
        members.sort();
        let expected: Vec<Bytes> = positions.iter().map(|&p| position_member(p)).collect();
        assert_eq!(members, expected);
    }
}
