//! What the event log holds: the events mutations log, the sequenced
//! events read back, the event streams' entry ids and counters, and the
//! names of the settings that travel the log.

use bytes::Bytes;

use super::types::Db;

/// The settings row holding notify-keyspace-events.
pub const NOTIFY_SETTING: &str = "notify-keyspace-events";

/// The settings row naming the event log (written by the migrations).
pub const EVENT_LOG_SETTING: &str = "event-log-id";

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
