//! The event relay: reads the event log in id order and turns each event
//! into keyspace notifications on the bus.
//!
//! Each instance runs its own relay under its instance name and saves its
//! position in the store, so after a crash it resumes right after the last
//! event it delivered: an event whose mutation committed is relayed even if
//! the process died just after the commit.
//!
//! Ids follow allocation order, not commit order: with several writers a
//! higher id can commit before a lower one. The relay therefore remembers
//! the gaps it has passed and delivers their events when they appear, for
//! up to [`GAP_WAIT`]. Two events of one key never race like this, because
//! a writer holds the key's row lock from before it logs its event until it
//! commits, so per-key order is kept.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tracing::warn;

use super::flags;
use crate::server::{NOTIFY_SETTING, Shared};
use crate::store::LoggedEvent;

/// Events read per batch.
const BATCH: u32 = 1000;
/// How often the relay looks at the log without being woken (picks up
/// writes of other instances sharing the database).
const IDLE_POLL: Duration = Duration::from_millis(50);
/// How often the relay's position is written back.
const SAVE_EVERY: Duration = Duration::from_millis(250);
/// How often shared settings (notify-keyspace-events) are re-read.
const SETTINGS_EVERY: Duration = Duration::from_secs(1);
/// How often relayed events past their retention are trimmed.
const TRIM_EVERY: Duration = Duration::from_secs(60);
/// How long a gap in the ids is waited for (longer than any transaction).
const GAP_WAIT: Duration = Duration::from_secs(30);
/// Most gaps remembered at once.
const MAX_GAPS: usize = 100_000;

pub async fn run(shared: Arc<Shared>) {
    let name = shared.config.instance_name();
    let mut position = loop {
        match shared.store.relay_position(&name).await {
            Ok(p) => break p,
            Err(e) => {
                if !matches!(e, crate::store::StoreError::Unavailable(_)) {
                    warn!(error = %e, "relay cannot read its position; retrying");
                }
                if shared.is_shutting_down() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let mut gaps: BTreeMap<i64, Instant> = BTreeMap::new();
    let mut saved = position;
    let (mut last_save, mut last_trim, mut last_settings) =
        (Instant::now(), Instant::now(), Instant::now());
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
        let flags = shared.notify_flags();
        for event in &batch {
            if event.id > position + 1 && gaps.len() < MAX_GAPS {
                let seen = Instant::now();
                gaps.extend(
                    (position + 1..event.id)
                        .take(MAX_GAPS - gaps.len())
                        .map(|id| (id, seen)),
                );
            }
            deliver(&shared, flags, event);
            position = event.id;
        }
        if batch.len() as u32 == BATCH {
            continue;
        }
        if !gaps.is_empty() {
            fill_gaps(&shared, &mut gaps).await;
        }
        let stopping = shared.is_shutting_down();
        // The position is saved at most every SAVE_EVERY (and at shutdown)
        // so the relay does not double the write load; after a crash it
        // re-reads at most that much of the log, and only for subscribers
        // of the new process, who have not seen those events.
        if position != saved && (stopping || last_save.elapsed() >= SAVE_EVERY) {
            match shared.store.save_relay_position(&name, position).await {
                Ok(()) => saved = position,
                Err(e) => warn!(error = %e, "relay cannot save its position"),
            }
            last_save = Instant::now();
        }
        if stopping {
            return;
        }
        if last_settings.elapsed() >= SETTINGS_EVERY {
            last_settings = Instant::now();
            refresh_settings(&shared).await;
        }
        if last_trim.elapsed() > TRIM_EVERY {
            last_trim = Instant::now();
            trim(&shared).await;
        }
        tokio::select! {
            _ = shared.relay_wake.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Delivers events that have since appeared in the gaps, and forgets gaps
/// older than [`GAP_WAIT`] (ids of rolled-back transactions never appear).
async fn fill_gaps(shared: &Shared, gaps: &mut BTreeMap<i64, Instant>) {
    let ids: Vec<i64> = gaps.keys().copied().collect();
    match shared.store.events_by_id(&ids).await {
        Ok(found) => {
            let flags = shared.notify_flags();
            for event in &found {
                deliver(shared, flags, event);
                gaps.remove(&event.id);
            }
        }
        Err(e) => warn!(error = %e, "relay cannot re-read gaps in the event log"),
    }
    gaps.retain(|_, seen| seen.elapsed() < GAP_WAIT);
}

/// Picks up a notify-keyspace-events change made on another instance.
pub async fn refresh_settings(shared: &Shared) {
    if let Ok(Some(text)) = shared.store.get_setting(NOTIFY_SETTING).await
        && let Some(bits) = flags::parse(text.as_bytes())
    {
        shared.notify_flags.store(bits, Ordering::Relaxed);
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

/// Drops events older than the retention, in bounded batches.
async fn trim(shared: &Shared) {
    let before =
        crate::clock::now_ms() - (shared.config.event_retention as i64).saturating_mul(1000);
    loop {
        match shared.store.trim_events(before, 10_000).await {
            Ok(10_000) => tokio::task::yield_now().await,
            Ok(_) => return,
            Err(e) => {
                warn!(error = %e, "cannot trim the event log");
                return;
            }
        }
    }
}
