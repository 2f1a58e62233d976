//! The storage layer: a trait of typed operations and its SQL implementations.
//!
//! Commands never see SQL: they open a [`Txn`] (one database transaction),
//! call typed operations on it, and commit. Keys, fields and values are
//! bytes. Expiry deadlines are absolute Unix milliseconds; the store returns
//! them as stored and the command layer decides what "expired" means at its
//! `now`, so every read path is lazily correct.

pub mod mysql;
pub mod sqlite;

use async_trait::async_trait;
use bytes::Bytes;

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

/// How many times a command hit by a deadlock or write conflict is rerun.
pub const MAX_RETRIES: u32 = 10;

/// A short, growing, jittered pause before rerunning a conflicted command.
pub fn retry_delay(attempt: u32) -> std::time::Duration {
    crate::metrics::STORE_RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = 1u64 << attempt.min(6);
    std::time::Duration::from_millis(base + rand::random::<u64>() % (base + 1))
}

/// Runs `op` (one whole transaction) again after deadlocks and write
/// conflicts, at most [`MAX_RETRIES`] times, pausing [`retry_delay`].
pub async fn retry_conflicts<T, F, Fut>(mut op: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(StoreError::Conflict(e)) if attempt < MAX_RETRIES => {
                attempt += 1;
                tracing::debug!(attempt, error = %e, "transaction conflict; retrying");
                tokio::time::sleep(retry_delay(attempt)).await;
            }
            other => return other,
        }
    }
}

/// The settings row holding notify-keyspace-events.
pub const NOTIFY_SETTING: &str = "notify-keyspace-events";
/// The settings row naming the event log (written by the migrations).
pub const EVENT_LOG_SETTING: &str = "event-log-id";

/// A logical database number (SELECT).
pub type Db = u32;

/// What a key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    String,
    Hash,
    /// A stream: today only the read-only event streams, which the command
    /// layer answers from the event log; no row holds this kind.
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
        matches!(self, KeyKind::List | KeyKind::Set | KeyKind::ZSet)
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

/// A keyspace event produced by a mutation, written to the event log in the
/// mutation's transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub db: Db,
    pub key: Bytes,
    /// Redis's event name: `set`, `hset`, `del`, `expired`, ...
    pub name: &'static str,
    /// The notify-keyspace-events class character: `g`, `$`, `h`, `x`, `n`.
    pub class: u8,
}

/// The class of a setting event: not a keyspace event but a change of a
/// deployment-wide setting, logged in the changing transaction so every
/// relay applies it at its position in the log (see [`crate::events::settings`]).
/// Never delivered as a notification ([`crate::events::flags::wanted`] is
/// false for it).
pub const SETTING_CLASS: u8 = b'!';

impl Event {
    /// A setting event: `name` is the setting, `key` its new value.
    pub fn setting(name: &'static str, value: &str) -> Event {
        Event {
            db: 0,
            key: Bytes::copy_from_slice(value.as_bytes()),
            name,
            class: SETTING_CLASS,
        }
    }
}

/// An event as read back from the sequenced log: its id (allocation order;
/// commit order for one key), its sequence number (the one global order:
/// gap-free, in commit order, the same everywhere, see
/// [`crate::events::sequencer`]) and when it was sequenced (Unix ms, never
/// decreasing along the sequence). `<ms>-<seq>` is its stream entry id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedEvent {
    pub id: i64,
    pub seq: i64,
    pub ms: i64,
    pub db: Db,
    pub key: Bytes,
    pub name: String,
    pub class: u8,
}

impl LoggedEvent {
    /// True for a setting event ([`SETTING_CLASS`]), not keyspace data.
    pub fn is_setting(&self) -> bool {
        self.class == SETTING_CLASS
    }
}

/// A stream entry id, `<ms>-<seq>`; ordered as Redis orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: i64,
    pub seq: i64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: i64::MAX,
        seq: i64::MAX,
    };
}

/// What a database's event stream holds, for XLEN and XINFO STREAM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Entries ever added (entries-added).
    pub added: i64,
    /// Entries trimmed.
    pub deleted: i64,
    /// The last entry ever added (last-generated-id).
    pub last: StreamId,
    /// The last trimmed entry (max-deleted-entry-id).
    pub max_deleted: StreamId,
}

impl StreamState {
    /// Entries the stream holds now (XLEN).
    pub fn len(&self) -> i64 {
        self.added - self.deleted
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Keys and expiring keys of one database, for INFO keyspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbCounts {
    pub db: Db,
    pub keys: i64,
    pub expires: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (or the pool is closed).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database has not been reached (and migrated) since this process
    /// started: clients see Redis's LOADING, which they wait on and retry.
    #[error("database not reached yet since start")]
    Loading,
    /// The value or key exceeds what the database accepts.
    #[error("{0}")]
    TooLarge(String),
    /// A deadlock or write conflict: the whole command may be retried.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    #[error("{0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        crate::metrics::STORE_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(number) = e
            .as_database_error()
            .and_then(|d| d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
            .map(|d| d.number())
        {
            match number {
                // Deadlock, lock wait timeout, a concurrent creator's
                // duplicate key, TiDB write conflicts: retry the command.
                1213 | 1205 | 1062 | 9007 | 8002 | 8022 | 8028 => {
                    return StoreError::Conflict(e.to_string());
                }
                // Packet, row, TiDB entry or TiDB transaction too large.
                1153 | 1118 | 1406 | 8004 | 8025 => {
                    return StoreError::TooLarge(format!("value too large for the database: {e}"));
                }
                _ => {}
            }
        }
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            other => StoreError::Other(other.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a transaction may do, and what it needs to see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Writes: one transaction holding the row locks it takes until commit.
    Write,
    /// Reads that must see one consistent snapshot (EXEC).
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

/// A database holding respire's state.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// How many write transactions are worth running at once (group-commit
    /// lanes): SQLite has one writer; a server database takes several.
    fn write_lanes(&self) -> usize {
        1
    }
    /// True when [`Txn::log_events`] numbers events itself, in commit
    /// order (a store with one writer): no sequencer step is needed.
    fn numbers_at_commit(&self) -> bool {
        false
    }
    /// True when [`Txn::prefetch`] does something: callers skip gathering
    /// keys for a store that reads each key where it is used anyway.
    fn prefetches(&self) -> bool {
        false
    }
    /// The connection pools' use, for /metrics (none for an embedded
    /// store).
    fn pools(&self) -> Vec<PoolUse> {
        Vec::new()
    }
    /// Opens a transaction (see [`Access`]).
    async fn begin(&self, access: Access) -> StoreResult<Box<dyn Txn>>;
    /// The sequencer's step, one transaction: gives the next sequence
    /// numbers, in id order, to up to `limit` committed events that have
    /// none, stamped `now_ms` (or the last stamp, if later), and counts them
    /// into their database's stream. Serialised on the sequence's row, so
    /// two holders can never number one event twice. Returns how many it
    /// sequenced.
    async fn sequence(&self, limit: u32, now_ms: i64) -> StoreResult<u32>;
    /// Whether any committed event waits for its number (a cheap look, no
    /// transaction: the idle sequencer's poll).
    async fn has_unsequenced(&self) -> StoreResult<bool>;
    /// Up to `limit` sequenced events after sequence number `after`, in
    /// order (setting events included).
    async fn sequenced_after(&self, after: i64, limit: u32) -> StoreResult<Vec<LoggedEvent>>;
    /// The last sequence number given (0 before any).
    async fn last_sequence(&self) -> StoreResult<i64>;
    /// The keyspace events of database `db` whose entry ids lie in
    /// `[from, to]`, at most `limit`, oldest first (newest first when
    /// `rev`).
    async fn stream_range(
        &self,
        db: Db,
        from: StreamId,
        to: StreamId,
        rev: bool,
        limit: u32,
    ) -> StoreResult<Vec<LoggedEvent>>;
    /// The counters of database `db`'s event stream.
    async fn stream_state(&self, db: Db) -> StoreResult<StreamState>;
    /// The highest event id in the log (0 when empty).
    async fn last_event_id(&self) -> StoreResult<i64>;
    /// Where a reader of the sequenced log stopped (a sequence number); 0
    /// before it ever ran.
    async fn relay_position(&self, relay: &str) -> StoreResult<i64>;
    async fn save_relay_position(&self, relay: &str, seq: i64) -> StoreResult<()>;
    /// Deletes up to `limit` sequenced events stamped before `before_ms`,
    /// oldest first, counting them out of their streams (max-deleted-entry-id);
    /// returns how many went.
    async fn trim_events(&self, before_ms: i64, limit: u32) -> StoreResult<u64>;
    /// Takes or renews the lease `name` for `holder` until `now_ms + ttl_ms`;
    /// true when `holder` holds it afterwards.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<bool>;
    /// A deployment-wide setting's current value (changes go through
    /// [`Txn::put_setting`], see [`crate::events::settings`]).
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// Closes every connection after in-flight work finishes.
    async fn close(&self);
}

/// One database transaction. Dropping it without [`Txn::commit`] rolls it back.
#[async_trait]
pub trait Txn: Send {
    /// A hint that the commands about to run touch these keys (sorted,
    /// without duplicates): a store may read them all at once, locking
    /// them in that one order in a write transaction, and answer the
    /// commands' lookups from what it read. The default reads nothing.
    async fn prefetch(&mut self, keys: &[(Db, Bytes)]) -> StoreResult<()> {
        let _ = keys;
        Ok(())
    }
    /// The key's metadata, expired or not.
    async fn meta(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<KeyMeta>>;
    /// A string key's metadata and value in one read.
    async fn string_get(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<(KeyMeta, Bytes)>>;
    /// Creates or replaces a string key (any previous content must already
    /// have been deleted by the caller if it was not a string).
    async fn string_put(
        &mut self,
        db: Db,
        key: &[u8],
        value: &[u8],
        expire_at: Option<i64>,
    ) -> StoreResult<()>;
    /// Removes a key and everything it holds; false if it did not exist.
    async fn delete(&mut self, db: Db, key: &[u8]) -> StoreResult<bool>;
    /// Sets or clears an existing key's deadline.
    async fn set_expire(&mut self, db: Db, key: &[u8], expire_at: Option<i64>) -> StoreResult<()>;
    /// Values of the given fields, in order.
    async fn hash_get(
        &mut self,
        db: Db,
        key: &[u8],
        fields: &[Bytes],
    ) -> StoreResult<Vec<Option<Bytes>>>;
    /// All field/value pairs, ordered by field.
    async fn hash_all(&mut self, db: Db, key: &[u8]) -> StoreResult<Vec<(Bytes, Bytes)>>;
    async fn hash_len(&mut self, db: Db, key: &[u8]) -> StoreResult<i64>;
    /// Sets fields, creating the hash if absent; returns how many were new.
    async fn hash_put(&mut self, db: Db, key: &[u8], pairs: &[(Bytes, Bytes)]) -> StoreResult<i64>;
    /// Removes fields; returns how many existed. Deletes the key when the
    /// hash becomes empty and reports that as the second value.
    async fn hash_delete(
        &mut self,
        db: Db,
        key: &[u8],
        fields: &[Bytes],
    ) -> StoreResult<(i64, bool)>;
    /// Up to `limit` pairs with field greater than `after`, ordered by field.
    async fn hash_scan(
        &mut self,
        db: Db,
        key: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> StoreResult<Vec<(Bytes, Bytes)>>;
    /// The members with these `member` values, in order (each with its
    /// score and value), `None` where absent.
    async fn members_get(
        &mut self,
        db: Db,
        key: &[u8],
        members: &[Bytes],
    ) -> StoreResult<Vec<Option<Member>>>;
    /// Writes members (inserted or replaced by `member`), creating the key
    /// as `kind` if it does not exist; gives the key a new WATCH version.
    /// The caller checked the key's kind.
    async fn members_put(
        &mut self,
        db: Db,
        key: &[u8],
        kind: KeyKind,
        rows: &[Member],
    ) -> StoreResult<()>;
    /// Removes members; returns how many existed. The key stays (with a
    /// new version when any went), even when empty: the caller deletes it.
    async fn members_delete(&mut self, db: Db, key: &[u8], members: &[Bytes]) -> StoreResult<i64>;
    /// Removes the members in `range`; returns how many went (the key
    /// stays, as for [`Txn::members_delete`]).
    async fn members_delete_range(
        &mut self,
        db: Db,
        key: &[u8],
        range: &MemberRange,
    ) -> StoreResult<i64>;
    /// How many members the key has.
    async fn members_len(&mut self, db: Db, key: &[u8]) -> StoreResult<i64> {
        self.members_count(db, key, &MemberRange::All).await
    }
    /// The lowest and highest scores of the key's members (a list's head
    /// and tail positions), read from the two ends of the score index in
    /// one statement; `None` when it has none.
    async fn members_span(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<(i64, i64)>>;
    /// How many members lie in `range`.
    async fn members_count(&mut self, db: Db, key: &[u8], range: &MemberRange) -> StoreResult<i64>;
    /// How many members come before (`score`, `member`) in (score,
    /// member) order: a sorted-set member's rank (ZRANK), counted on the
    /// index.
    async fn members_rank(
        &mut self,
        db: Db,
        key: &[u8],
        score: i64,
        member: &[u8],
    ) -> StoreResult<i64>;
    /// The members in `range`, in its order (reversed when `rev`), skipping
    /// `offset` of them, at most `limit`.
    async fn members_range(
        &mut self,
        db: Db,
        key: &[u8],
        range: &MemberRange,
        rev: bool,
        offset: u64,
        limit: Option<u64>,
    ) -> StoreResult<Vec<Member>>;
    /// Up to `limit` keys whose [`key_hash`](key_hash) is
    /// greater than `after`, in hash order, each with its hash (expired
    /// ones included; callers filter).
    async fn scan_page(
        &mut self,
        db: Db,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(Bytes, KeyMeta, i64)>>;
    /// Every key with this hash (collisions are rare but possible).
    async fn keys_at_hash(&mut self, db: Db, hash: i64) -> StoreResult<Vec<(Bytes, KeyMeta)>>;
    /// About `limit` keys after `cursor` in hash order, and the cursor to
    /// continue from (0 when done). A page never splits the keys sharing
    /// one hash, so no key is ever skipped.
    async fn scan(
        &mut self,
        db: Db,
        cursor: i64,
        limit: u32,
    ) -> StoreResult<(Vec<(Bytes, KeyMeta)>, i64)> {
        let mut page = self.scan_page(db, cursor, limit).await?;
        if (page.len() as u32) < limit || page.is_empty() {
            return Ok((page.into_iter().map(|(k, m, _)| (k, m)).collect(), 0));
        }
        let last = page[page.len() - 1].2;
        if page[0].2 == last {
            // The whole page is one hash: take every key that has it.
            return Ok((self.keys_at_hash(db, last).await?, last));
        }
        // Leave the last hash's keys to the next page, whole.
        page.retain(|(_, _, h)| *h != last);
        let next = page[page.len() - 1].2;
        Ok((page.into_iter().map(|(k, m, _)| (k, m)).collect(), next))
    }
    /// Every live key matching the glob `pattern` (KEYS), ordered by key:
    /// the keys in [`key_range`] of the pattern that [`lists`] lists.
    async fn keys_matching(
        &mut self,
        db: Db,
        pattern: &[u8],
        now_ms: i64,
    ) -> StoreResult<Vec<Bytes>>;
    /// The first live key whose hash is at least `hash`, in hash order.
    async fn live_key_from_hash(
        &mut self,
        db: Db,
        hash: i64,
        now_ms: i64,
    ) -> StoreResult<Option<Bytes>>;
    /// A random live key, if any: the first after a random hash, wrapping.
    async fn random_key(&mut self, db: Db, now_ms: i64) -> StoreResult<Option<Bytes>> {
        let start = key_hash(&rand::random::<[u8; 8]>());
        match self.live_key_from_hash(db, start, now_ms).await? {
            Some(key) => Ok(Some(key)),
            None => self.live_key_from_hash(db, 0, now_ms).await,
        }
    }
    /// Live keys and live keys with a deadline, per non-empty database.
    async fn counts(&mut self, now_ms: i64) -> StoreResult<Vec<DbCounts>>;
    /// Empties one database, or all of them.
    async fn flush(&mut self, db: Option<Db>) -> StoreResult<()>;
    /// Exchanges the contents of two databases (SWAPDB): every key of `a`,
    /// with all it holds, moves to `b` and every key of `b` to `a`.
    async fn swap_db(&mut self, a: Db, b: Db) -> StoreResult<()>;
    /// Up to `limit` keys whose deadline is at or before `now_ms`.
    async fn expired(&mut self, now_ms: i64, limit: u32) -> StoreResult<Vec<(Db, Bytes)>>;
    /// Appends events to the log (numbered too, where
    /// [`Store::numbers_at_commit`]).
    async fn log_events(&mut self, events: &[Event], now_ms: i64) -> StoreResult<()>;
    /// Creates or replaces a deployment-wide setting's row (the caller logs
    /// the matching [`Event::setting`] in the same transaction).
    async fn put_setting(&mut self, name: &str, value: &str) -> StoreResult<()>;
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// Opens the store a URL names: `sqlite://path` (or a bare path) for the
/// embedded store.
pub async fn open(url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        return Ok(std::sync::Arc::new(mysql::MySqlStore::open(url)?));
    }
    Ok(std::sync::Arc::new(sqlite::SqliteStore::open(url).await?))
}

/// Runs the migrations of the store a URL names, and returns.
pub async fn migrate(url: &str) -> StoreResult<()> {
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        return mysql::MySqlStore::migrate(url).await;
    }
    sqlite::SqliteStore::open(url).await?.close().await;
    Ok(())
}

/// A fresh random WATCH version.
pub(crate) fn new_version() -> i64 {
    rand::random::<i64>() & i64::MAX
}

/// The smallest byte string greater than every string starting with
/// `prefix`; `None` when the prefix is all 0xff bytes.
fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut upper = prefix.to_vec();
    while let Some(last) = upper.pop() {
        if last < 0xff {
            upper.push(last + 1);
            return Some(upper);
        }
    }
    None
}

/// The keys KEYS `pattern` may list: those from its literal prefix, up to
/// (not including) the returned bound when there is one.
pub(crate) fn key_range(pattern: &[u8]) -> (&[u8], Option<Vec<u8>>) {
    let prefix = crate::glob::literal_prefix(pattern);
    let upper = prefix_upper_bound(prefix).filter(|_| !prefix.is_empty());
    (prefix, upper)
}

/// Whether KEYS `pattern` lists `key`, whose deadline is `expire_at`.
pub(crate) fn lists(pattern: &[u8], key: &[u8], expire_at: Option<i64>, now_ms: i64) -> bool {
    expire_at.is_none_or(|at| at > now_ms)
        && (pattern == b"*" || crate::glob::matches(pattern, key))
}

/// A value bound into a members statement.
#[derive(Clone, Debug)]
pub(crate) enum SqlArg {
    Int(i64),
    Bytes(Bytes),
}

/// The condition (` AND ...`, after the key's own), its arguments and the
/// ORDER BY of a [`MemberRange`], the same SQL on both backends.
pub(crate) fn range_sql(range: &MemberRange, rev: bool) -> (String, Vec<SqlArg>, &'static str) {
    let mut cond = String::new();
    let mut args = Vec::new();
    let mut bound = |column: &str, b: Bound<SqlArg>, low: bool| {
        let op = match (&b, low) {
            (Bound::Included(_), true) => ">=",
            (Bound::Excluded(_), true) => ">",
            (Bound::Included(_), false) => "<=",
            (Bound::Excluded(_), false) => "<",
            (Bound::Unbounded, _) => return,
        };
        cond.push_str(&format!(" AND {column} {op} ?"));
        if let Bound::Included(a) | Bound::Excluded(a) = b {
            args.push(a);
        }
    };
    let order = match range {
        MemberRange::All => {
            if rev {
                " ORDER BY score DESC, member DESC"
            } else {
                " ORDER BY score, member"
            }
        }
        MemberRange::Score(lo, hi) => {
            bound("score", lo.map(SqlArg::Int), true);
            bound("score", hi.map(SqlArg::Int), false);
            if rev {
                " ORDER BY score DESC, member DESC"
            } else {
                " ORDER BY score, member"
            }
        }
        MemberRange::Member(lo, hi) => {
            bound("member", lo.clone().map(SqlArg::Bytes), true);
            bound("member", hi.clone().map(SqlArg::Bytes), false);
            if rev {
                " ORDER BY member DESC"
            } else {
                " ORDER BY member"
            }
        }
    };
    (cond, args, order)
}

/// LIMIT and OFFSET of a members read: `(limit, offset)` as SQL integers.
pub(crate) fn limit_sql(offset: u64, limit: Option<u64>) -> (i64, i64) {
    (
        limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64),
        offset.min(i64::MAX as u64) as i64,
    )
}

/// An event the sequencer found without a number: (id, db, class).
pub(crate) type Unsequenced = (i64, i64, i64);

/// What one sequencer step writes, whatever the backend: each event's
/// number (after `last_seq`, in id order), and per database the count and
/// last number added to its stream (setting events belong to no stream).
/// The entry for db -1 is the sequence itself.
pub(crate) struct SequencePlan {
    pub numbers: Vec<(i64, i64)>,
    pub streams: Vec<(i64, i64, i64)>,
}

impl SequencePlan {
    pub(crate) fn new(rows: &[Unsequenced], last_seq: i64) -> SequencePlan {
        let mut numbers = Vec::with_capacity(rows.len());
        let mut streams: Vec<(i64, i64, i64)> = vec![(-1, 0, last_seq)];
        let mut seq = last_seq;
        for &(id, db, class) in rows {
            seq += 1;
            numbers.push((id, seq));
            streams[0].1 += 1;
            streams[0].2 = seq;
            if class == SETTING_CLASS as i64 {
                continue;
            }
            match streams.iter_mut().find(|s| s.0 == db) {
                Some(s) => {
                    s.1 += 1;
                    s.2 = seq;
                }
                None => streams.push((db, 1, seq)),
            }
        }
        SequencePlan { numbers, streams }
    }
}

/// A stream's counters row: (added, deleted, last_seq, last_ms,
/// max_deleted_seq, max_deleted_ms).
pub(crate) fn stream_state(row: (i64, i64, i64, i64, i64, i64)) -> StreamState {
    let (added, deleted, last_seq, last_ms, max_deleted_seq, max_deleted_ms) = row;
    StreamState {
        added,
        deleted,
        last: StreamId {
            ms: last_ms,
            seq: last_seq,
        },
        max_deleted: StreamId {
            ms: max_deleted_ms,
            seq: max_deleted_seq,
        },
    }
}

/// A sequenced event a trim found: (seq, ms, db, class).
pub(crate) type Trimmed = (i64, i64, i64, i64);

/// Per database, how many entries a trim deletes and the last of them:
/// (db, count, max-deleted-entry-id).
pub(crate) fn trim_plan(rows: &[Trimmed]) -> Vec<(i64, i64, StreamId)> {
    let mut out: Vec<(i64, i64, StreamId)> = Vec::new();
    for &(seq, ms, db, class) in rows {
        if class == SETTING_CLASS as i64 {
            continue;
        }
        let id = StreamId { ms, seq };
        match out.iter_mut().find(|s| s.0 == db) {
            Some(s) => {
                s.1 += 1;
                s.2 = s.2.max(id);
            }
            None => out.push((db, 1, id)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_sequence_step_numbers_in_order_and_counts_per_stream() {
        let rows = [
            (7, 0, b'$' as i64),
            (9, 1, b'g' as i64),
            (12, 0, 33),
            (13, 0, b'h' as i64),
        ];
        let plan = SequencePlan::new(&rows, 40);
        assert_eq!(plan.numbers, [(7, 41), (9, 42), (12, 43), (13, 44)]);
        // The sequence counts the setting event; db 0's stream does not.
        assert_eq!(plan.streams, [(-1, 4, 44), (0, 2, 44), (1, 1, 42)]);
    }

    #[test]
    fn a_trim_counts_out_per_stream() {
        let rows = [
            (1, 10, 0, b'$' as i64),
            (2, 10, 0, 33),
            (3, 11, 1, b'g' as i64),
            (4, 12, 0, b'g' as i64),
        ];
        assert_eq!(
            trim_plan(&rows),
            [
                (0, 2, StreamId { ms: 12, seq: 4 }),
                (1, 1, StreamId { ms: 11, seq: 3 })
            ]
        );
    }
}
