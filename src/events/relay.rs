//! The event relay: reads the event log in id order and turns each event
//! into keyspace notifications on the bus.
//!
//! The relay's position is saved in the store, so after a crash it resumes
//! right after the last event it delivered: an event whose mutation
//! committed is relayed even if the process died just after the commit.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tracing::warn;

use super::flags;
use crate::server::Shared;
use crate::store::LoggedEvent;

/// The relay's name in the position table.
const RELAY_NAME: &str = "local";
/// Events read per batch.
const BATCH: u32 = 1000;
/// How often the relay looks at the log without being woken (catches
/// writes from other processes sharing the database).
const IDLE_POLL: Duration = Duration::from_millis(200);
/// How often the relay's position is written back.
const SAVE_EVERY: Duration = Duration::from_millis(250);
/// How often relayed events past their retention are trimmed.
const TRIM_EVERY: Duration = Duration::from_secs(60);

pub async fn run(shared: Arc<Shared>) {
    let mut position = loop {
        match shared.store.relay_position(RELAY_NAME).await {
            Ok(p) => break p,
            Err(e) => {
                warn!(error = %e, "relay cannot read its position; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let mut saved = position;
    let mut last_save = std::time::Instant::now();
    let mut last_trim = std::time::Instant::now();
    let mut shutdown = shared.shutdown.clone();
    loop {
        let batch = match shared.store.events_after(position, BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                warn!(error = %e, "relay cannot read the event log; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if let Some(last) = batch.last() {
            let flags = shared.notify_flags();
            for event in &batch {
                deliver(&shared, flags, event);
            }
            position = last.id;
            if batch.len() as u32 == BATCH {
                continue;
            }
        }
        let stopping = shared.is_shutting_down();
        // The position is saved at most every SAVE_EVERY (and at shutdown)
        // so the relay does not double the write load; after a crash it
        // re-reads at most that much of the log, and only for subscribers
        // of the new process, who have not seen those events.
        if position != saved && (stopping || last_save.elapsed() >= SAVE_EVERY) {
            match shared.store.save_relay_position(RELAY_NAME, position).await {
                Ok(()) => saved = position,
                Err(e) => warn!(error = %e, "relay cannot save its position"),
            }
            last_save = std::time::Instant::now();
        }
        if stopping {
            return;
        }
        if last_trim.elapsed() > TRIM_EVERY {
            last_trim = std::time::Instant::now();
            trim(&shared, saved).await;
        }
        tokio::select! {
            _ = shared.relay_wake.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Publishes one event as `__keyspace@<db>__:<key>` and
/// `__keyevent@<db>__:<event>`, as the flags allow.
pub fn deliver(shared: &Shared, flags: u32, event: &LoggedEvent) {
    if !flags::wanted(flags, event.class) || !shared.bus.has_subscribers() {
        return;
    }
    let mut db = itoa::Buffer::new();
    let db = db.format(event.db).as_bytes();
    if flags & flags::KEYSPACE != 0 {
        let channel = channel_name(b"__keyspace@", db, &event.key);
        shared
            .bus
            .publish(&channel, &Bytes::copy_from_slice(event.name.as_bytes()));
    }
    if flags & flags::KEYEVENT != 0 {
        let channel = channel_name(b"__keyevent@", db, event.name.as_bytes());
        shared.bus.publish(&channel, &event.key);
    }
}

fn channel_name(prefix: &[u8], db: &[u8], suffix: &[u8]) -> Bytes {
    let mut name = BytesMut::with_capacity(prefix.len() + db.len() + 3 + suffix.len());
    name.put_slice(prefix);
    name.put_slice(db);
    name.put_slice(b"__:");
    name.put_slice(suffix);
    name.freeze()
}

/// Drops relayed events older than the retention, in bounded batches.
async fn trim(shared: &Shared, position: i64) {
    let now = crate::clock::now_ms();
    let before = now - (shared.config.event_retention as i64).saturating_mul(1000);
    loop {
        match shared.store.trim_events(position, before, 10_000).await {
            Ok(n) if n == 10_000 => tokio::task::yield_now().await,
            Ok(_) => return,
            Err(e) => {
                warn!(error = %e, "cannot trim the event log");
                return;
            }
        }
    }
}
