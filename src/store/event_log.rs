//! The event-log traits: what a store keeps besides the keyspace
//! ([`EventLog`]: the sequence, reads of the log and the streams, relay
//! positions, the trim, leases and settings), and what a transaction
//! writes into the log in the transaction of the change it records
//! ([`LogWrites`]).

use async_trait::async_trait;
use bytes::Bytes;

use super::error::StoreResult;
use super::event::{Event, LoggedEvent, StreamId, StreamState};
use super::types::Db;

/// A database's event log, and the deployment-wide rows beside it
/// (relay positions, leases, settings).
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// True when [`LogWrites::log_events`] numbers events itself, in commit
    /// order (a store with one writer): no sequencer step is needed.
    fn numbers_at_commit(&self) -> bool {
        false
    }
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
    /// [`LogWrites::put_setting`], see [`crate::events::settings`]).
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// A stored script's or library's body (see [`ScriptKind`]).
    async fn get_script(&self, kind: ScriptKind, name: &str) -> StoreResult<Option<Bytes>>;
    /// Every stored script or library of a kind, by name.
    async fn scripts(&self, kind: ScriptKind) -> StoreResult<Vec<(String, Bytes)>>;
}

/// What a row of the scripts table holds: an EVAL script (named by its
/// SHA1) or a function library (named by the library).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptKind {
    Script = 0,
    Library = 1,
}

/// What a transaction writes into the event log, committed with its
/// changes.
#[async_trait]
pub trait LogWrites: Send {
    /// Appends events to the log (numbered too, where
    /// [`EventLog::numbers_at_commit`]).
    async fn log_events(&mut self, events: &[Event], now_ms: i64) -> StoreResult<()>;
    /// Creates or replaces a deployment-wide setting's row (the caller logs
    /// the matching [`Event::setting`] in the same transaction).
    async fn put_setting(&mut self, name: &str, value: &str) -> StoreResult<()>;
    /// Creates or replaces a script's or library's row.
    async fn put_script(&mut self, kind: ScriptKind, name: &str, body: &[u8]) -> StoreResult<()>;
    /// Deletes one script or library (`name`), or every one of the kind;
    /// returns how many went.
    async fn delete_scripts(&mut self, kind: ScriptKind, name: Option<&str>) -> StoreResult<u64>;
}
