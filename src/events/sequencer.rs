//! The sequencer: gives every logged event its place in the one global
//! order, exactly once.
//!
//! Mutations log their events with an id from the database
//! (`AUTO_INCREMENT`), which follows allocation order, not commit order: on
//! a shared database a higher id can commit before a lower one. One
//! instance per deployment (the holder of the [`LEASE`]) numbers committed
//! events that have no number yet, in batches, each batch one transaction
//! ([`EventLog::sequence`](crate::store::EventLog::sequence)) that locks the
//! sequence's row, finds every committed unnumbered event (whatever its id,
//! so one that committed late is never passed over), and gives them the
//! next numbers and a timestamp that never decreases. The numbers are
//! therefore gap-free, in commit order, stored with the events, and the
//! same for every reader; a new holder after a kill -9 at any moment
//! continues from the stored sequence, skipping and repeating nothing. Two
//! events of one key are numbered in their commit order, because a writer
//! holds the key's row lock from before it logs its event until it commits.
//!
//! On SQLite (one writer) the writing transaction numbers its own events
//! as it logs them ([`EventLog::numbers_at_commit`]): the numbers follow
//! commit order by construction and equal the ids, so no sequencer step
//! runs there, and a write costs no second transaction.
//!
//! [`EventLog::numbers_at_commit`]: crate::store::EventLog::numbers_at_commit
//!
//! The holder also trims events past `--event-retention`, oldest first,
//! counting them out of their streams (XINFO's max-deleted-entry-id).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::lease::Lease;
use super::state::Events;
use crate::clock::now_ms;
use crate::store::retry_conflicts;

/// The lease naming the deployment's one sequencer.
const LEASE: &str = "sequencer";
/// Events numbered per transaction.
const BATCH: u32 = 1000;
/// How often the sequencer looks at the log without being woken (picks up
/// commits of instances that cannot reach it through NATS).
const IDLE_POLL: Duration = Duration::from_millis(50);
/// How often events past their retention are trimmed (at most; more often
/// when the retention is short), and how many per transaction.
const TRIM_EVERY: Duration = Duration::from_secs(60);
const TRIM_BATCH: u32 = 10_000;

/// How often to trim for a retention of `seconds`: twice per retention,
/// between 100 ms and [`TRIM_EVERY`].
fn trim_every(seconds: u64) -> Duration {
    Duration::from_millis(seconds.saturating_mul(500)).clamp(Duration::from_millis(100), TRIM_EVERY)
}

pub async fn run(events: Arc<Events>) {
    // Commits on other instances wake the sequencer through NATS hints.
    let hints = events.bus.nats.as_ref().map(|link| {
        let events = events.clone();
        link.on_hint(link.hint_subject(), move || {
            events.sequencer_wake.notify_one()
        })
    });
    let mut lease = Lease::new(LEASE, events.config.instance_name());
    let mut last_trim = Instant::now();
    let mut woken = true;
    let mut shutdown = events.shutdown.clone();
    loop {
        if events.is_shutting_down() {
            break;
        }
        let held = lease.held(&events).await;
        if held != events.sequencer_holder.swap(held, Ordering::Relaxed) && held {
            info!("this instance now sequences the event log");
        }
        // Woken by a commit, there is work; on an idle poll, look first
        // (one plain read) rather than open a locking transaction.
        let work = held
            && !events.store.numbers_at_commit()
            && (woken || events.store.has_unsequenced().await.unwrap_or(true));
        if work {
            match retry_conflicts(|| events.store.sequence(BATCH, now_ms())).await {
                Ok(0) => {}
                Ok(n) => {
                    events.sequencer_batches.fetch_add(1, Ordering::Relaxed);
                    events
                        .sequenced_events
                        .fetch_add(n as u64, Ordering::Relaxed);
                    events.sequenced().await;
                    if n == BATCH {
                        continue;
                    }
                }
                Err(e) => {
                    warn!(error = %e, "cannot sequence the event log; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        if held && last_trim.elapsed() > trim_every(events.config.event_retention) {
            last_trim = Instant::now();
            trim(&events).await;
        }
        woken = tokio::select! {
            _ = events.sequencer_wake.notified() => true,
            _ = tokio::time::sleep(IDLE_POLL) => false,
            _ = shutdown.changed() => true,
        };
    }
    if let Some(hints) = hints {
        hints.abort();
    }
}

/// Drops events older than the retention, in bounded batches.
async fn trim(events: &Events) {
    let before = now_ms() - (events.config.event_retention as i64).saturating_mul(1000);
    loop {
        match retry_conflicts(|| events.store.trim_events(before, TRIM_BATCH)).await {
            Ok(n) if n == TRIM_BATCH as u64 => tokio::task::yield_now().await,
            Ok(_) => return,
            Err(e) => {
                warn!(error = %e, "cannot trim the event log");
                return;
            }
        }
    }
}
