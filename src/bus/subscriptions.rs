//! One client's subscriptions, owned by the bus: released when dropped.

use std::sync::Arc;

use bytes::Bytes;

use super::delivery::Subscriber;
use super::fanout::Bus;
use super::registry::SubscriberId;

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
