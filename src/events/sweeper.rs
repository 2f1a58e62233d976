//! Active expiry: deletes keys whose deadline passed, in bounded batches,
//! logging an `expired` event for each in the same transaction.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tracing::warn;

use super::lease::Lease;
use super::state::Events;
use crate::clock::now_ms;
use crate::store::{Access, Event, StoreResult};

/// Keys deleted per transaction.
const BATCH: u32 = 200;
/// How often an idle sweeper looks for expired keys; bounds how late an
/// `expired` event can be.
const TICK: Duration = Duration::from_millis(50);

/// The lease that makes one sweeper active per deployment.
const LEASE: &str = "sweeper";

pub async fn run(events: Arc<Events>) {
    let mut shutdown = events.shutdown.clone();
    let mut lease = Lease::new(LEASE, events.config.instance_name());
    loop {
        let leased = lease.held(&events).await;
        let swept = if leased {
            sweep_once(&events).await
        } else {
            Ok(0)
        };
        match swept {
            Ok(n) if n == BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => warn!(error = %e, "expiry sweep failed"),
        }
        if events.is_shutting_down() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Deletes one batch of expired keys; returns how many went.
async fn sweep_once(events: &Events) -> StoreResult<usize> {
    // Look first with a read transaction so an idle server never takes the
    // write lock.
    let now = now_ms();
    let mut peek = events.store.begin(Access::Read).await?;
    if peek.expired(now, 1).await?.is_empty() {
        return Ok(0);
    }
    drop(peek);
    let mut txn = events.store.begin(Access::Write).await?;
    let now = now_ms();
    let keys = txn.expired(now, BATCH).await?;
    let mut logged = Vec::with_capacity(keys.len());
    for (db, key) in &keys {
        txn.delete(*db, key).await?;
        logged.push(Event {
            db: *db,
            key: key.clone(),
            name: "expired",
            class: b'x',
        });
    }
    events.commit(txn, &logged).await?;
    events
        .expired_keys
        .fetch_add(keys.len() as u64, Ordering::Relaxed);
    Ok(keys.len())
}
