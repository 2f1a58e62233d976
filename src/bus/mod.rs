//! Pub/sub transport. This is the in-process bus: it fans PUBLISH and
//! keyspace notifications out to the subscribed connections of this
//! process. (The NATS transport joins it when instances share a bus.)

use std::collections::HashMap;
use std::sync::RwLock;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::glob;

/// A message on its way to one subscribed connection.
#[derive(Clone, Debug)]
pub enum Delivery {
    Message {
        channel: Bytes,
        payload: Bytes,
    },
    PMessage {
        pattern: Bytes,
        channel: Bytes,
        payload: Bytes,
    },
}

/// Where a connection receives its deliveries.
pub type DeliveryTx = mpsc::UnboundedSender<Delivery>;

/// Identifies a subscribing connection (its client id).
pub type SubscriberId = u64;

#[derive(Default)]
struct Subscriptions {
    channels: HashMap<Bytes, HashMap<SubscriberId, DeliveryTx>>,
    patterns: HashMap<Bytes, HashMap<SubscriberId, DeliveryTx>>,
}

/// The in-process bus.
#[derive(Default)]
pub struct Bus {
    subs: RwLock<Subscriptions>,
}

impl Bus {
    pub fn subscribe(&self, id: SubscriberId, channel: Bytes, tx: DeliveryTx) {
        self.subs
            .write()
            .unwrap()
            .channels
            .entry(channel)
            .or_default()
            .insert(id, tx);
    }

    pub fn unsubscribe(&self, id: SubscriberId, channel: &[u8]) {
        remove(&mut self.subs.write().unwrap().channels, id, channel);
    }

    pub fn psubscribe(&self, id: SubscriberId, pattern: Bytes, tx: DeliveryTx) {
        self.subs
            .write()
            .unwrap()
            .patterns
            .entry(pattern)
            .or_default()
            .insert(id, tx);
    }

    pub fn punsubscribe(&self, id: SubscriberId, pattern: &[u8]) {
        remove(&mut self.subs.write().unwrap().patterns, id, pattern);
    }

    /// Delivers to channel subscribers, then pattern subscribers (Redis's
    /// order); returns how many received it.
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let subs = self.subs.read().unwrap();
        let mut receivers = 0;
        if let Some(clients) = subs.channels.get(channel) {
            for tx in clients.values() {
                let msg = Delivery::Message {
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                receivers += tx.send(msg).is_ok() as usize;
            }
        }
        for (pattern, clients) in &subs.patterns {
            if !glob::matches(pattern, channel) {
                continue;
            }
            for tx in clients.values() {
                let msg = Delivery::PMessage {
                    pattern: pattern.clone(),
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                receivers += tx.send(msg).is_ok() as usize;
            }
        }
        receivers
    }

    /// Active channels (with at least one subscriber) matching `pattern`.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let subs = self.subs.read().unwrap();
        subs.channels
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c)))
            .cloned()
            .collect()
    }

    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.subs
            .read()
            .unwrap()
            .channels
            .get(channel)
            .map_or(0, HashMap::len)
    }

    /// Number of distinct patterns subscribed to.
    pub fn numpat(&self) -> usize {
        self.subs.read().unwrap().patterns.len()
    }

    /// True when anyone listens on a channel or a pattern; lets the relay
    /// skip building notifications nobody would receive.
    pub fn has_subscribers(&self) -> bool {
        let subs = self.subs.read().unwrap();
        !subs.channels.is_empty() || !subs.patterns.is_empty()
    }
}

fn remove(
    map: &mut HashMap<Bytes, HashMap<SubscriberId, DeliveryTx>>,
    id: SubscriberId,
    name: &[u8],
) {
    if let Some(clients) = map.get_mut(name) {
        clients.remove(&id);
        if clients.is_empty() {
            map.remove(name);
        }
    }
}
