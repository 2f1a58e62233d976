//! Active expiry: deletes keys whose deadline passed, in bounded batches,
//! logging an `expired` event for each in the same transaction.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tracing::warn;

use super::Events;
use super::lease::Lease;
use crate::clock::now_ms;
use crate::store::{Access, Event, StoreResult};

/// Keys deleted per transaction.
const BATCH: u32 = 200;
/// How often an idle sweeper looks for expired keys; bounds how late an
/// `expired` event can be.
const TICK: Duration = Duration::from_millis(50);

/// The lease that makes one sweeper active per deployment.
const LEASE: &str = "sweeper";

pub async fn run(shared: Arc<Events>) {
    let mut shutdown = shared.shutdown.clone();
    let mut lease = Lease::new(LEASE, shared.config.instance_name());
    loop {
        let leased = lease.held(&shared).await;
        let swept = if leased {
            sweep_once(&shared).await
        } else {
            Ok(0)
        };
        match swept {
            Ok(n) if n == BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => warn!(error = %e, "expiry sweep failed"),
        }
        if shared.is_shutting_down() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Deletes one batch of expired keys; returns how many went.
async fn sweep_once(shared: &Events) -> StoreResult<usize> {
    // Look first with a read transaction so an idle server never takes the
    // write lock.
    let now = now_ms();
    let mut peek = shared.store.begin(Access::Read).await?;
    if peek.expired(now, 1).await?.is_empty() {
        return Ok(0);
    }
    drop(peek);
    let mut txn = shared.store.begin(Access::Write).await?;
    let now = now_ms();
    let keys = txn.expired(now, BATCH).await?;
    let mut events = Vec::with_capacity(keys.len());
    for (db, key) in &keys {
        txn.delete(*db, key).await?;
        events.push(Event {
            db: *db,
            key: key.clone(),
            name: "expired",
            class: b'x',
        });
    }
    shared.commit(txn, &events).await?;
    shared
        .expired_keys
        .fetch_add(keys.len() as u64, Ordering::Relaxed);
    Ok(keys.len())
}
