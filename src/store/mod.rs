//! The storage layer: typed traits and their SQL implementations.
//!
//! Commands never see SQL: they open a [`Txn`] (one database transaction),
//! call typed operations on it, and commit. Keys, fields and values are
//! bytes. Expiry deadlines are absolute Unix milliseconds; the store returns
//! them as stored and the command layer decides what "expired" means at its
//! `now`, so every read path is lazily correct.
//!
//! The files, from the callers' side down:
//!
//! - [`database`]: the [`Store`], one database: its keyspace and its event
//!   log together (what the instance holds);
//! - [`keyspace`]: [`Keyspace`] (opening transactions) and [`Txn`] (keys,
//!   strings, hashes, and the one rule for a key that lost its fields or
//!   members); [`members`]: the [`Members`] operations of a transaction;
//! - [`event_log`]: [`EventLog`] (the sequence, the log and its streams,
//!   relay positions, the trim, leases, settings) and [`LogWrites`] (what
//!   a transaction logs);
//! - [`types`], [`event`], [`error`]: the domain types, the log's types,
//!   the errors; [`retry`]: the conflict-retry policy;
//! - [`sql`]: the SQL both backends build alike; [`plans`]: the event
//!   log's plans both backends follow;
//! - [`sqlite`], [`mysql`]: the implementations, each split the same way
//!   (open and migrations, transaction, keyspace, members, event log);
//!   [`open`](mod@open): the backend a URL names.
//!
//! This file only declares the modules and re-exports, for the callers
//! outside the store, the names they use; the files inside reach each
//! other directly.

pub mod database;
pub mod error;
pub mod event;
pub mod event_log;
pub mod keyspace;
pub mod members;
pub mod mysql;
pub mod open;
pub(crate) mod plans;
pub mod retry;
pub(crate) mod sql;
pub mod sqlite;
pub mod types;

pub use database::Store;
pub use error::{StoreError, StoreResult};
pub use event::{
    EVENT_LOG_SETTING, Event, LoggedEvent, NOTIFY_SETTING, SETTING_CLASS, StreamId, StreamState,
};
pub use event_log::{EventLog, LogWrites, ScriptKind};
pub use keyspace::{Elements, Keyspace, Txn};
pub use members::Members;
pub use open::{migrate, open};
pub use retry::{MAX_RETRIES, retry_conflicts, retry_delay};
pub use types::{
    Access, Bound, Db, DbCounts, KeyKind, KeyMeta, Member, MemberRange, PoolUse, key_hash,
    position_member, score_of, score_order,
};
