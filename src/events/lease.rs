//! Leases: which instance runs a deployment-wide job (the sequencer, the
//! sweeper, a datacenter's publisher). A lease row in the database names
//! its holder until a deadline; the holder renews it every second, and
//! another instance takes it over [`TTL_MS`] after the holder stopped
//! renewing (a crash, a partition). Jobs under a lease are written so that
//! two holders at once (a paused process waking after its lease passed)
//! still do no harm: the sequencer serialises on the sequence's row, the
//! sweeper's deletes and a publisher's message ids are idempotent.

use std::time::{Duration, Instant};

use tracing::warn;

use super::state::Events;
use crate::clock::now_ms;
use crate::store::StoreError;

/// How long a lease lasts without renewal.
pub const TTL_MS: i64 = 3000;
/// How often a lease is renewed (or tried for).
const EVERY: Duration = Duration::from_millis(1000);

pub struct Lease {
    name: String,
    holder: String,
    held: bool,
    last_try: Option<Instant>,
}

impl Lease {
    pub fn new(name: impl Into<String>, holder: String) -> Lease {
        Lease {
            name: name.into(),
            holder,
            held: false,
            last_try: None,
        }
    }

    /// Whether this instance holds the lease, renewing or trying for it
    /// when a second has passed since the last try.
    pub async fn held(&mut self, events: &Events) -> bool {
        if self.last_try.is_some_and(|at| at.elapsed() < EVERY) {
            return self.held;
        }
        self.last_try = Some(Instant::now());
        self.held = match events
            .store
            .try_lease(&self.name, &self.holder, now_ms(), TTL_MS)
            .await
        {
            Ok(held) => {
                events.tracking.database_reached(true);
                held
            }
            Err(e) => {
                // Every instance tries for the sequencer's lease each
                // second: the database's reach is noticed here.
                match e {
                    StoreError::Unavailable(_) => events.tracking.database_reached(false),
                    // The store is still starting (migrations): tried again
                    // at the next call, not a second later, so a fresh
                    // deployment's first events are not held back.
                    StoreError::Loading => self.last_try = None,
                    e => warn!(lease = %self.name, error = %e, "cannot renew a lease"),
                }
                false
            }
        };
        self.held
    }
}
