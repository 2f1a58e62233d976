//! Keyspace events: the event log's way from a commit to the subscribers.
//!
//! Every mutation logs its events in its own transaction
//! ([`Events::commit`], the one commit-and-wake sequence); the sequencer
//! ([`sequencer`], one per deployment) numbers them in commit order; the
//! relay ([`relay`]) follows the numbers and hands events to this
//! instance's subscribers, or publishes them to its datacenter's JetStream
//! stream ([`jetstream`]) that the datacenter's instances consume; shared
//! settings travel the log the same way ([`settings`]); the sweeper
//! ([`sweeper`]) deletes expired keys and logs their `expired` events.
//! Deployment-wide jobs run under leases ([`lease`]). This layer uses the
//! store, the bus and the config, and nothing above them.

pub mod flags;
pub mod jetstream;
pub mod lease;
pub mod relay;
pub mod sequencer;
pub mod settings;
pub mod sweeper;
pub mod waiters;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{Notify, watch};

use crate::bus::Bus;
use crate::clock::now_ms;
use crate::config::Config;
use std::time::Duration;

use tracing::warn;

use crate::store::{EVENT_LOG_SETTING, Event, Store, StoreResult, Txn};
use jetstream::EventStream;

/// What the event side of an instance shares: its view of the store, the
/// bus and the config, and the relay's state.
pub struct Events {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub bus: Arc<Bus>,
    /// notify-keyspace-events in force at this instance's position in the
    /// event log, as bits of [`flags`]; only the delivering relay changes
    /// it (see [`settings`]).
    pub notify_flags: AtomicU32,
    /// The highest event id this instance has handed on to its subscribers:
    /// a subscription's watermark when the store cannot tell the log's end.
    pub delivered_event: AtomicI64,
    /// The highest sequence number this instance has handed on: blocked
    /// readers of the event streams wait on it.
    pub stream_tip: watch::Sender<i64>,
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
    /// Flips to true when the server begins shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// This instance's clients blocked on keys, woken as events of their
    /// keys are handed on.
    pub waiters: waiters::Waiters,
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
            delivered_event: AtomicI64::new(0),
            stream_tip: watch::Sender::new(0),
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
            shutdown,
            waiters: waiters::Waiters::default(),
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

/// Runs this instance's part of the event log until shutdown: the
/// sequencer (active where its lease is held), and the local relay, or
/// with NATS its datacenter's stream (created once NATS answers), the
/// leased publisher into it and this instance's consumer. Whichever
/// delivers to this instance's subscribers reads the shared settings
/// before its first event.
pub async fn run(events: Arc<Events>) {
    let sequencer = tokio::spawn(sequencer::run(events.clone()));
    deliver(events).await;
    let _ = sequencer.await;
}

async fn deliver(events: Arc<Events>) {
    if events.bus.nats.is_some() {
        start_event_stream(events).await;
    } else {
        relay::run(events, None).await;
    }
}

/// Creates the event stream once NATS answers, then runs the relay and this
/// instance's stream consumer.
async fn start_event_stream(shared: Arc<Events>) {
    let Some(link) = shared.bus.nats.as_ref() else {
        return;
    };
    let events = loop {
        let log_id = match shared.store.get_setting(EVENT_LOG_SETTING).await {
            Ok(Some(id)) => id,
            _ => {
                // The database is not ready (or not migrated) yet.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        match EventStream::open(link, &shared.config, log_id).await {
            Ok(events) => break Arc::new(events),
            Err(e) => {
                warn!(error = %e, "cannot set up the event stream; retrying");
                if shared.is_shutting_down() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let _ = shared.stream_name.set(events.name().to_string());
    let consumer = tokio::spawn(jetstream::consume(shared.clone(), events.clone()));
    relay::run(shared, Some(events)).await;
    let _ = consumer.await;
}
