//! Deployment-wide settings (`notify-keyspace-events` and the encoding
//! thresholds, [`LIMITS`]): one value for every instance, in force at the same point of the event log everywhere.
//!
//! A change (CONFIG SET) is one write transaction that updates the
//! setting's row in the settings table and logs a *setting event*
//! ([`Event::setting`]: class [`SETTING_CLASS`], name = the setting, key =
//! the new value) in the event log. Every instance's relay (or, with NATS,
//! its stream consumer) applies a setting event when it reaches it, in order
//! with the keyspace events: events logged before the change are handled
//! under the old value, events logged after it under the new one, on every
//! instance. Reads of the value (CONFIG GET) go to the settings row, which is
//! current as soon as the change's reply is sent.
//!
//! A new shared setting needs a name in [`SHARED`] and a line in [`apply`]
//! (what an instance does when the log reaches a change); it then travels
//! the same way.
//!
//! [`SETTING_CLASS`]: crate::store::SETTING_CLASS

use std::sync::atomic::Ordering;

use tracing::{debug, warn};

use super::state::Events;
use crate::events::flags;
use crate::events::tracking::FLUSHED_SETTING;
use crate::store::NOTIFY_SETTING;
use crate::store::retry_conflicts;
use crate::store::{Access, Event, StoreResult, Txn};

/// SCRIPT FLUSH: every instance drops its compiled scripts when the log
/// reaches it (the scripts' rows went in the same transaction).
pub const SCRIPTS_SETTING: &str = "scripts-flushed";
/// A function library loaded, replaced or deleted (FUNCTION LOAD, DELETE,
/// FLUSH, RESTORE): every instance reloads its libraries.
pub const FUNCTIONS_SETTING: &str = "functions-changed";

/// The settings shared through the event log.
pub const SHARED: &[&str] = &[
    NOTIFY_SETTING,
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "list-compress-depth",
    "list-max-listpack-size",
    "set-max-intset-entries",
    "stream-node-max-bytes",
    "stream-node-max-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
];

/// The encoding thresholds among [`SHARED`] (CONFIG SET checks their
/// values; OBJECT ENCODING follows them): every instance answers the same
/// for the same data.
pub const LIMITS: &[&str] = SHARED.split_at(1).1;

/// Writes settings (name, value) in one transaction, with their setting
/// events, through the store's write path; wakes the relay. Retries
/// conflicts like a data write.
pub async fn set(events: &Events, changes: &[(&'static str, String)]) -> StoreResult<()> {
    retry_conflicts(|| try_set(events, changes)).await
}

async fn try_set(events: &Events, changes: &[(&'static str, String)]) -> StoreResult<()> {
    debug_assert!(
        changes.iter().all(|(name, _)| SHARED.contains(name)),
        "not a shared setting"
    );
    let txn = events.store.begin(Access::Write).await?;
    commit_with(events, txn, changes).await
}

/// Writes settings (name, value) in a write transaction that holds other
/// changes too (a script library's rows beside [`FUNCTIONS_SETTING`]),
/// logs their setting events and commits it all.
pub async fn commit_with(
    events: &Events,
    mut txn: Box<dyn Txn>,
    changes: &[(&'static str, String)],
) -> StoreResult<()> {
    let mut logged = Vec::with_capacity(changes.len());
    for (name, value) in changes {
        txn.put_setting(name, value).await?;
        logged.push(Event::setting(name, value));
    }
    events.commit(txn, &logged).await
}

/// Puts a setting's value in force on this instance. Called by the relay
/// (or the stream consumer) at the setting event's position in the log,
/// and once at start with the stored values.
pub fn apply(events: &Events, name: &str, value: &[u8]) {
    match name {
        NOTIFY_SETTING => match flags::parse(value) {
            Some(bits) => events.notify_flags.store(bits, Ordering::Relaxed),
            None => warn!(
                value = %String::from_utf8_lossy(value),
                "ignoring an invalid notify-keyspace-events value"
            ),
        },
        limit if LIMITS.contains(&limit) => {
            let value = String::from_utf8_lossy(value).into_owned();
            events
                .limits
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(limit.to_string(), value);
        }
        SCRIPTS_SETTING => {
            events.scripts_flushed.fetch_add(1, Ordering::Relaxed);
        }
        FUNCTIONS_SETTING => {
            events.functions_changed.fetch_add(1, Ordering::Relaxed);
        }
        FLUSHED_SETTING => events.tracking.invalidate_all(),
        other => debug!(setting = other, "ignoring a change of an unknown setting"),
    }
}

/// Reads every shared setting from the store and puts it in force; false
/// when the store did not answer.
pub async fn load(events: &Events) -> bool {
    for name in SHARED {
        match events.store.get_setting(name).await {
            Ok(Some(value)) => apply(events, name, value.as_bytes()),
            Ok(None) => {}
            Err(_) => return false,
        }
    }
    true
}

/// [`load`], retrying until the store answers (or shutdown).
pub async fn load_waiting(events: &Events) {
    while !load(events).await && !events.is_shutting_down() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
