//! The sequencer: gives every logged event its place in the one global
//! order, exactly once.
//!
//! Mutations log their events with an id from the database
//! (`AUTO_INCREMENT`), which follows allocation order, not commit order: on
//! a shared database a higher id can commit before a lower one. One
//! instance per deployment (the holder of the [`LEASE`]) numbers committed
//! events that have no number yet, in batches, each batch one transaction
//! ([`Store::sequence`](crate::store::Store::sequence)) that locks the
//! sequence's row, finds every committed unnumbered event (whatever its id,
//! so one that committed late is never passed over), and gives them the
//! next numbers and a timestamp that never decreases. The numbers are
//! therefore gap-free, in commit order, stored with the events, and the
//! same for every reader; a new holder after a kill -9 at any moment
//! continues from the stored sequence, skipping and repeating nothing. Two
//! events of one key are numbered in their commit order, because a writer
//! holds the key's row lock from before it logs its event until it commits.
//!
//! On SQLite ids already follow commit order (one writer), so the numbers
//! equal the ids there; the same sequencer runs anyway, so one code path
//! serves both stores (one small transaction per batch, not per write).
//!
//! The holder also trims events past `--event-retention`, oldest first,
//! counting them out of their streams (XINFO's max-deleted-entry-id).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tracing::{info, warn};

use super::Events;
use super::lease::Lease;
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

pub async fn run(shared: Arc<Events>) {
    // Commits on other instances wake the sequencer through NATS hints.
    let hints = shared.bus.nats.as_ref().map(|link| {
        let shared = shared.clone();
        let subject = link.hint_subject();
        let client = link.client.clone();
        tokio::spawn(async move {
            if let Ok(mut sub) = client.subscribe(subject).await {
                while sub.next().await.is_some() {
                    shared.sequencer_wake.notify_one();
                }
            }
        })
    });
    let mut lease = Lease::new(LEASE, shared.config.instance_name());
    let mut last_trim = Instant::now();
    let mut shutdown = shared.shutdown.clone();
    loop {
        if shared.is_shutting_down() {
            break;
        }
        let held = lease.held(&shared).await;
        if held != shared.sequencer_holder.swap(held, Ordering::Relaxed) && held {
            info!("this instance now sequences the event log");
        }
        if held {
            match retry_conflicts(|| shared.store.sequence(BATCH, now_ms())).await {
                Ok(0) => {}
                Ok(n) => {
                    shared.sequencer_batches.fetch_add(1, Ordering::Relaxed);
                    shared
                        .sequenced_events
                        .fetch_add(n as u64, Ordering::Relaxed);
                    shared.sequenced().await;
                    if n == BATCH {
                        continue;
                    }
                }
                Err(e) => {
                    warn!(error = %e, "cannot sequence the event log; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            if last_trim.elapsed() > trim_every(shared.config.event_retention) {
                last_trim = Instant::now();
                trim(&shared).await;
            }
        }
        tokio::select! {
            _ = shared.sequencer_wake.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = shutdown.changed() => {}
        }
    }
    if let Some(hints) = hints {
        hints.abort();
    }
}

/// Drops events older than the retention, in bounded batches.
async fn trim(shared: &Events) {
    let before = now_ms() - (shared.config.event_retention as i64).saturating_mul(1000);
    loop {
        match retry_conflicts(|| shared.store.trim_events(before, TRIM_BATCH)).await {
            Ok(n) if n == TRIM_BATCH as u64 => tokio::task::yield_now().await,
            Ok(_) => return,
            Err(e) => {
                warn!(error = %e, "cannot trim the event log");
                return;
            }
        }
    }
}
