//! Pub/sub transport: fans PUBLISH and keyspace notifications out to the
//! subscribed connections of this process, and (with `--nats-url`) joins
//! every instance into one pub/sub space over NATS core subjects.
//!
//! Without NATS, PUBLISH delivers straight to the local [`Registry`]. With
//! NATS, PUBLISH goes to NATS only, and this instance receives its own
//! messages back like every other instance: one NATS subscription per
//! channel that local clients want (delivering to channel subscribers) and
//! one wildcard subscription while any pattern is active (delivering to
//! pattern subscribers), so each matching subscription gets a message once.

pub mod chunk;
pub mod nats;
pub mod subject;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use crate::glob;

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

/// Where a connection receives its deliveries, and how much is waiting.
#[derive(Clone)]
pub struct Subscriber {
    tx: mpsc::UnboundedSender<Box<Delivery>>,
    /// Bytes queued and not yet written by the connection.
    pending: Arc<AtomicUsize>,
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
            pending: Arc::new(AtomicUsize::new(0)),
            over_soft_since: Arc::new(Mutex::new(None)),
            kill,
            limits,
        };
        (sub, rx)
    }

    /// The connection took a delivery off the queue.
    pub fn taken(&self, delivery: &Delivery) {
        self.pending.fetch_sub(delivery.size(), Ordering::Relaxed);
    }

    /// Queues a delivery unless the subscriber is over its limits, in which
    /// case it is disconnected (as Redis does) and the message dropped.
    fn send(&self, delivery: Delivery) -> bool {
        let pending = self.pending.fetch_add(delivery.size(), Ordering::Relaxed) + delivery.size();
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
            self.pending.fetch_sub(delivery.size(), Ordering::Relaxed);
            self.kill.notify_one();
            return false;
        }
        self.tx.send(Box::new(delivery)).is_ok()
    }
}

/// One client's subscriptions and its delivery queue. The bus owns this
/// state: dropping the handle unsubscribes everything, so a connection
/// that ends (however it ends) leaves no subscription behind.
pub struct Subscriptions {
    bus: Arc<Bus>,
    id: SubscriberId,
    subscriber: Subscriber,
    /// Subscribed channels and patterns, in subscription order.
    channels: Vec<Bytes>,
    patterns: Vec<Bytes>,
}

impl Subscriptions {
    pub fn new(bus: Arc<Bus>, id: SubscriberId, subscriber: Subscriber) -> Subscriptions {
        Subscriptions {
            bus,
            id,
            subscriber,
            channels: Vec::new(),
            patterns: Vec::new(),
        }
    }

    pub fn channels(&self) -> &[Bytes] {
        &self.channels
    }

    pub fn patterns(&self) -> &[Bytes] {
        &self.patterns
    }

    /// Channels plus patterns.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The queue deliveries wait in (the connection marks them taken).
    pub fn subscriber(&self) -> &Subscriber {
        &self.subscriber
    }

    /// Subscribes to a channel (or pattern); false when it already was.
    pub async fn add(&mut self, name: Bytes, pattern: bool) -> bool {
        let list = if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        };
        if list.contains(&name) {
            return false;
        }
        list.push(name.clone());
        let sub = self.subscriber.clone();
        if pattern {
            self.bus.psubscribe(self.id, name, sub).await;
        } else {
            self.bus.subscribe(self.id, name, sub).await;
        }
        true
    }

    /// Unsubscribes from a channel (or pattern); false when it was not.
    pub fn remove(&mut self, name: &[u8], pattern: bool) -> bool {
        let list = if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        };
        let Some(pos) = list.iter().position(|c| c == name) else {
            return false;
        };
        list.remove(pos);
        if pattern {
            self.bus.punsubscribe(self.id, name);
        } else {
            self.bus.unsubscribe(self.id, name);
        }
        true
    }

    /// Unsubscribes from everything.
    pub fn clear(&mut self) {
        for channel in std::mem::take(&mut self.channels) {
            self.bus.unsubscribe(self.id, &channel);
        }
        for pattern in std::mem::take(&mut self.patterns) {
            self.bus.punsubscribe(self.id, &pattern);
        }
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Identifies a subscribing connection (its client id).
pub type SubscriberId = u64;

type Subscribers = HashMap<Bytes, HashMap<SubscriberId, Subscriber>>;

/// The subscriptions of this process's connections.
#[derive(Default)]
pub struct Registry {
    channels: RwLock<Subscribers>,
    patterns: RwLock<Subscribers>,
}

impl Registry {
    /// Adds a subscription; true when it is the channel's (or pattern's) first.
    fn add(map: &RwLock<Subscribers>, name: Bytes, id: SubscriberId, sub: Subscriber) -> bool {
        let mut map = map.write().unwrap();
        let first = !map.contains_key(&name);
        map.entry(name).or_default().insert(id, sub);
        first
    }

    /// Removes a subscription; true when it was the last one.
    fn remove(map: &RwLock<Subscribers>, name: &[u8], id: SubscriberId) -> bool {
        let mut map = map.write().unwrap();
        if let Some(clients) = map.get_mut(name) {
            clients.remove(&id);
            if clients.is_empty() {
                map.remove(name);
                return true;
            }
        }
        false
    }

    /// Delivers to the channel's subscribers; returns how many got it.
    /// `event`: see [`Delivery`].
    pub fn deliver_channel(&self, channel: &Bytes, payload: &Bytes, event: Option<i64>) -> usize {
        let map = self.channels.read().unwrap();
        let Some(clients) = map.get(channel) else {
            return 0;
        };
        clients
            .values()
            .filter(|sub| {
                sub.send(Delivery::Message {
                    channel: channel.clone(),
                    payload: payload.clone(),
                    event,
                })
            })
            .count()
    }

    /// Delivers to subscribers of every matching pattern.
    pub fn deliver_patterns(&self, channel: &Bytes, payload: &Bytes, event: Option<i64>) -> usize {
        let map = self.patterns.read().unwrap();
        let mut receivers = 0;
        for (pattern, clients) in map.iter().filter(|(p, _)| glob::matches(p, channel)) {
            for sub in clients.values() {
                let msg = Delivery::PMessage {
                    pattern: pattern.clone(),
                    channel: channel.clone(),
                    payload: payload.clone(),
                    event,
                };
                receivers += sub.send(msg) as usize;
            }
        }
        receivers
    }

    /// Subscriptions here that a message on `channel` would reach.
    fn receivers(&self, channel: &[u8]) -> usize {
        let direct = self
            .channels
            .read()
            .unwrap()
            .get(channel)
            .map_or(0, HashMap::len);
        let patterns = self.patterns.read().unwrap();
        direct
            + patterns
                .iter()
                .filter(|(p, _)| glob::matches(p, channel))
                .map(|(_, c)| c.len())
                .sum::<usize>()
    }
}

/// Why a PUBLISH could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The transport is down: the same PUBLISH may succeed later
    /// (TRYAGAIN).
    #[error("{0}")]
    Unavailable(String),
    /// The message is larger than this instance reassembles
    /// (`--nats-reassembly-limit`): it can never be sent as it is.
    #[error("message of {size} bytes over the reassembly limit of {limit}")]
    OverReassemblyLimit { size: usize, limit: usize },
    /// The NATS server's max_payload is too small even for chunks.
    #[error("max_payload {max} too small for chunks of a {size}-byte message")]
    PayloadLimitTooSmall { max: usize, size: usize },
    /// NATS refused the message for good (an invalid subject).
    #[error("refused: {0}")]
    Refused(String),
}

/// The pub/sub bus: the local registry, and NATS when configured.
pub struct Bus {
    registry: Arc<Registry>,
    pub nats: Option<nats::NatsLink>,
}

impl Bus {
    pub fn new(nats: Option<nats::NatsLink>) -> Bus {
        Bus {
            registry: Arc::new(Registry::default()),
            nats,
        }
    }

    pub async fn subscribe(&self, id: SubscriberId, channel: Bytes, sub: Subscriber) {
        if Registry::add(&self.registry.channels, channel.clone(), id, sub)
            && let Some(nats) = &self.nats
        {
            nats.watch_channel(channel, self.registry.clone()).await;
        }
    }

    pub fn unsubscribe(&self, id: SubscriberId, channel: &[u8]) {
        if Registry::remove(&self.registry.channels, channel, id)
            && let Some(nats) = &self.nats
        {
            nats.unwatch_channel(channel);
        }
    }

    pub async fn psubscribe(&self, id: SubscriberId, pattern: Bytes, sub: Subscriber) {
        Registry::add(&self.registry.patterns, pattern, id, sub);
        if let Some(nats) = &self.nats {
            nats.watch_patterns(self.registry.clone()).await;
        }
    }

    pub fn punsubscribe(&self, id: SubscriberId, pattern: &[u8]) {
        Registry::remove(&self.registry.patterns, pattern, id);
        if let Some(nats) = &self.nats
            && self.numpat() == 0
        {
            nats.unwatch_patterns();
        }
    }

    /// PUBLISH: reaches subscribers on every instance; returns this
    /// instance's receivers.
    pub async fn publish(&self, channel: &Bytes, payload: &Bytes) -> Result<usize, BusError> {
        match &self.nats {
            None => Ok(self.deliver_local(channel, payload, None)),
            Some(nats) => {
                let receivers = self.registry.receivers(channel);
                nats.publish(channel, payload.clone()).await?;
                Ok(receivers)
            }
        }
    }

    /// Delivers a keyspace notification of the logged event `event` to this
    /// process's subscribers only (every instance receives the event log
    /// itself).
    pub fn publish_event(&self, channel: &Bytes, payload: &Bytes, event: i64) -> usize {
        self.deliver_local(channel, payload, Some(event))
    }

    fn deliver_local(&self, channel: &Bytes, payload: &Bytes, event: Option<i64>) -> usize {
        self.registry.deliver_channel(channel, payload, event)
            + self.registry.deliver_patterns(channel, payload, event)
    }

    /// Active channels (with at least one subscriber) matching `pattern`.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let map = self.registry.channels.read().unwrap();
        map.keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c)))
            .cloned()
            .collect()
    }

    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.registry
            .channels
            .read()
            .unwrap()
            .get(channel)
            .map_or(0, HashMap::len)
    }

    /// Number of distinct patterns subscribed to.
    pub fn numpat(&self) -> usize {
        self.registry.patterns.read().unwrap().len()
    }

    /// True when anyone listens on a channel or a pattern; lets the relay
    /// skip building notifications nobody would receive.
    pub fn has_subscribers(&self) -> bool {
        !self.registry.channels.read().unwrap().is_empty()
            || !self.registry.patterns.read().unwrap().is_empty()
    }
}
