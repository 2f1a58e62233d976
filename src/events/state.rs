//! [`Events`]: what the event side of an instance shares, and the one
//! commit-and-wake sequence every mutation ends with.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{Notify, watch};

use super::tracking::Tracking;
use super::waiters::Waiters;
use crate::bus::Bus;
use crate::clock::now_ms;
use crate::config::Config;
use crate::store::{Event, Store, StoreResult, Txn};

/// What the event side of an instance shares: its view of the store, the
/// bus and the config, and the relay's state.
pub struct Events {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub bus: Arc<Bus>,
    /// notify-keyspace-events in force at this instance's position in the
    /// event log, as bits of [`flags`](super::flags); only the delivering relay changes
    /// it (see [`settings`](super::settings)).
    pub notify_flags: AtomicU32,
    /// The encoding thresholds set by CONFIG SET ([`settings::LIMITS`],
    /// name → value), where they differ from Redis's defaults.
    ///
    /// [`settings::LIMITS`]: super::settings::LIMITS
    pub limits: std::sync::RwLock<std::collections::HashMap<String, String>>,
    /// The highest event id this instance has handed on to its subscribers:
    /// a subscription's watermark when the store cannot tell the log's end.
    pub delivered_event: AtomicI64,
    /// The highest sequence number this instance has handed on: blocked
    /// readers of the event streams wait on it.
    pub stream_tip: watch::Sender<i64>,
    /// This instance's delivery has fixed where it starts in the log
    /// (INFO's `delivering`): invalidations and notifications flow.
    pub delivering: AtomicBool,
    /// Woken after every commit that logged events.
    pub sequencer_wake: Notify,
    /// Whether this instance holds the sequencer lease (INFO).
    pub sequencer_holder: AtomicBool,
    /// The sequencer's transactions that numbered events, and the events
    /// they numbered, on this instance (INFO: the cost of sequencing).
    pub sequencer_batches: AtomicU64,
    pub sequenced_events: AtomicU64,
    /// Woken after the sequencer numbered events.
    pub relay_wake: Notify,
    /// Whether this instance holds its datacenter's publisher lease (INFO).
    pub relay_holder: AtomicBool,
    /// The last sequence number the publisher handed on (INFO).
    pub relay_position: AtomicI64,
    /// When the publisher last handed events on (Unix ms): how long it has
    /// been behind, for INFO's relay lag.
    pub relay_progress_ms: AtomicI64,
    /// The JetStream stream, once created (INFO).
    pub stream_name: OnceLock<String>,
    /// Keys the sweeper deleted (INFO's expired_keys).
    pub expired_keys: AtomicU64,
    /// Counts SCRIPT FLUSHes and function-library changes reached in the
    /// log (settings [`SCRIPTS_SETTING`], [`FUNCTIONS_SETTING`]): an
    /// instance's compiled scripts and libraries older than the count are
    /// dropped.
    ///
    /// [`SCRIPTS_SETTING`]: super::settings::SCRIPTS_SETTING
    /// [`FUNCTIONS_SETTING`]: super::settings::FUNCTIONS_SETTING
    pub scripts_flushed: AtomicU64,
    pub functions_changed: AtomicU64,
    /// Flips to true when the server begins shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// This instance's clients blocked on keys, woken as events of their
    /// keys are handed on.
    pub waiters: Waiters,
    /// This instance's clients tracking keys (CLIENT TRACKING), invalidated
    /// as events are handed on.
    pub tracking: Tracking,
}

impl Events {
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        bus: Arc<Bus>,
        shutdown: watch::Receiver<bool>,
    ) -> Events {
        Events {
            config,
            store,
            bus,
            notify_flags: AtomicU32::new(0),
            limits: Default::default(),
            delivered_event: AtomicI64::new(0),
            stream_tip: watch::Sender::new(0),
            delivering: AtomicBool::new(false),
            sequencer_wake: Notify::new(),
            sequencer_holder: AtomicBool::new(false),
            sequencer_batches: AtomicU64::new(0),
            sequenced_events: AtomicU64::new(0),
            relay_wake: Notify::new(),
            relay_holder: AtomicBool::new(false),
            relay_position: AtomicI64::new(0),
            relay_progress_ms: AtomicI64::new(now_ms()),
            stream_name: OnceLock::new(),
            expired_keys: AtomicU64::new(0),
            scripts_flushed: AtomicU64::new(0),
            functions_changed: AtomicU64::new(0),
            shutdown,
            waiters: Waiters::default(),
            tracking: Tracking::default(),
        }
    }

    pub fn notify_flags(&self) -> u32 {
        self.notify_flags.load(Ordering::Relaxed)
    }

    /// Logs `events` in `txn`, commits it, and wakes the sequencer: the
    /// one sequence every mutation ends with (commands, EXEC, settings, the
    /// sweeper).
    pub async fn commit(&self, mut txn: Box<dyn Txn>, events: &[Event]) -> StoreResult<()> {
        if !events.is_empty() {
            txn.log_events(events, now_ms()).await?;
        }
        txn.commit().await?;
        if !events.is_empty() {
            self.committed().await;
        }
        Ok(())
    }

    /// Wakes the sequencer after a commit that logged events: this
    /// instance's own, and with NATS the lease holder wherever it runs.
    async fn committed(&self) {
        if self.store.numbers_at_commit() {
            // Numbered in the commit itself: straight to delivery.
            return self.sequenced().await;
        }
        self.sequencer_wake.notify_one();
        if let Some(nats) = &self.bus.nats
            && !self.sequencer_holder.load(Ordering::Relaxed)
        {
            nats.hint(nats.hint_subject()).await;
        }
    }

    /// Wakes delivery after the sequencer numbered events: this instance's
    /// own, and with NATS every datacenter's publisher.
    pub async fn sequenced(&self) {
        self.relay_wake.notify_one();
        if let Some(nats) = &self.bus.nats {
            nats.hint(nats.sequenced_subject()).await;
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// How far this instance's publisher (or local relay) is behind the
    /// log's last number `sequence`: in events, and in milliseconds since
    /// it last caught up (0 when it has). `None` unless it holds the
    /// publisher lease.
    pub fn publisher_lag(&self, sequence: i64) -> Option<(i64, i64)> {
        if !self.relay_holder.load(Ordering::Relaxed) {
            return None;
        }
        let events = (sequence - self.relay_position.load(Ordering::Relaxed)).max(0);
        let ms = if events > 0 {
            (now_ms() - self.relay_progress_ms.load(Ordering::Relaxed)).max(0)
        } else {
            0
        };
        Some((events, ms))
    }
}
