//! What a subscribed connection receives ([`Delivery`]), and its queue
//! ([`Subscriber`]) with Redis's output-buffer limits for pub/sub clients.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

/// A message on its way to one subscribed connection. `event` is the id of
/// the logged event a keyspace notification comes from (`None` for
/// PUBLISH): the connection drops it if its subscription took effect after
/// that event was logged.
#[derive(Clone, Debug)]
pub enum Delivery {
    Message {
        channel: Bytes,
        payload: Bytes,
        event: Option<i64>,
    },
    PMessage {
        pattern: Bytes,
        channel: Bytes,
        payload: Bytes,
        event: Option<i64>,
    },
    /// Client-side caching: these keys changed (`None`: every key, as
    /// after FLUSHALL). `redirected`: sent on behalf of another client
    /// (CLIENT TRACKING REDIRECT), so a RESP2 connection subscribed to
    /// `__redis__:invalidate` gets it as a message there.
    Invalidate {
        keys: Option<Vec<Bytes>>,
        redirected: bool,
    },
    /// The client this connection's invalidations went to is gone
    /// (`tracking-redir-broken`, RESP3 only).
    RedirectBroken { to: u64 },
}

impl Delivery {
    /// Roughly the bytes it occupies in an output buffer.
    pub fn size(&self) -> usize {
        match self {
            Delivery::Message {
                channel, payload, ..
            } => 32 + channel.len() + payload.len(),
            Delivery::PMessage {
                pattern,
                channel,
                payload,
                ..
            } => 48 + pattern.len() + channel.len() + payload.len(),
            Delivery::Invalidate { keys, .. } => {
                32 + keys.iter().flatten().map(|k| 16 + k.len()).sum::<usize>()
            }
            Delivery::RedirectBroken { .. } => 32,
        }
    }
}

/// Redis's `client-output-buffer-limit pubsub` for one subscriber.
#[derive(Clone, Copy, Debug)]
pub struct OutputLimits {
    /// Disconnect as soon as this many bytes wait.
    pub hard: usize,
    /// Disconnect when more than this waits for `soft_for`.
    pub soft: usize,
    pub soft_for: Duration,
}

impl OutputLimits {
    /// The limits the `--pubsub-*` flags set.
    pub fn from_config(config: &crate::config::Config) -> OutputLimits {
        OutputLimits {
            hard: config.pubsub_hard_limit,
            soft: config.pubsub_soft_limit,
            soft_for: Duration::from_secs(config.pubsub_soft_seconds),
        }
    }
}

/// A connection's queue of deliveries. Boxed: the channel allocates its
/// first block of 32 slots when it is made, for every connection, and 32
/// pointers cost far less than 32 deliveries (about 3.5 KiB per idle
/// connection).
pub type DeliveryRx = mpsc::UnboundedReceiver<Box<Delivery>>;

/// What waits in a connection's delivery queue (CLIENT LIST's `omem` and
/// `oll`).
#[derive(Default, Debug)]
pub struct Backlog {
    /// Bytes queued and not yet written by the connection.
    bytes: AtomicUsize,
    /// Deliveries queued.
    count: AtomicUsize,
}

impl Backlog {
    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Deliveries waiting.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// Where a connection receives its deliveries, and how much is waiting.
#[derive(Clone)]
pub struct Subscriber {
    tx: mpsc::UnboundedSender<Box<Delivery>>,
    /// What is queued and not yet written by the connection.
    pending: Arc<Backlog>,
    /// When the backlog went over the soft limit.
    over_soft_since: Arc<Mutex<Option<Instant>>>,
    /// Notified to disconnect a subscriber over its limits.
    kill: Arc<Notify>,
    limits: OutputLimits,
}

impl Subscriber {
    pub fn new(limits: OutputLimits, kill: Arc<Notify>) -> (Subscriber, DeliveryRx) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sub = Subscriber {
            tx,
            pending: Arc::new(Backlog::default()),
            over_soft_since: Arc::new(Mutex::new(None)),
            kill,
            limits,
        };
        (sub, rx)
    }

    /// What waits in the queue.
    pub fn backlog(&self) -> Arc<Backlog> {
        self.pending.clone()
    }

    /// The connection took a delivery off the queue.
    pub fn taken(&self, delivery: &Delivery) {
        self.pending
            .bytes
            .fetch_sub(delivery.size(), Ordering::Relaxed);
        self.pending.count.fetch_sub(1, Ordering::Relaxed);
    }

    /// True once the connection is gone (its queue's receiver dropped).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Queues a delivery unless the subscriber is over its limits, in which
    /// case it is disconnected (as Redis does) and the message dropped.
    pub fn send(&self, delivery: Delivery) -> bool {
        let pending = self
            .pending
            .bytes
            .fetch_add(delivery.size(), Ordering::Relaxed)
            + delivery.size();
        let over = {
            let mut since = self.over_soft_since.lock().unwrap();
            if pending <= self.limits.soft {
                *since = None;
                false
            } else {
                let first = *since.get_or_insert_with(Instant::now);
                pending > self.limits.hard || first.elapsed() >= self.limits.soft_for
            }
        };
        if over {
            self.pending
                .bytes
                .fetch_sub(delivery.size(), Ordering::Relaxed);
            self.kill.notify_one();
            return false;
        }
        self.pending.count.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(Box::new(delivery)).is_err() {
            self.pending.count.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }
}
