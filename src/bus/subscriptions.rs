//! One client's subscriptions, owned by the bus: released when dropped.

use std::sync::Arc;

use bytes::Bytes;
use indexmap::IndexSet;

use super::delivery::Subscriber;
use super::fanout::Bus;
use super::registry::SubscriberId;

/// One client's subscriptions and its delivery queue. The bus owns this
/// state: dropping the handle unsubscribes everything, so a connection
/// that ends (however it ends) leaves no subscription behind.
pub struct Subscriptions {
    bus: Arc<Bus>,
    id: SubscriberId,
    subscriber: Arc<Subscriber>,
    /// Subscribed channels and patterns (sets: a client may hold 100,000
    /// of them; in subscription order until one is removed).
    channels: IndexSet<Bytes>,
    patterns: IndexSet<Bytes>,
    /// The bus's mark to settle before confirming the channels added.
    unsettled: u64,
    /// Subscriptions removed since the allocator was last asked to give
    /// memory back.
    removed: usize,
}

/// Removals after which freed memory is given back ([`crate::trim`]).
const TRIM_AFTER: usize = 1000;

impl Subscriptions {
    pub fn new(bus: Arc<Bus>, id: SubscriberId, subscriber: Subscriber) -> Subscriptions {
        Subscriptions {
            bus,
            id,
            subscriber: Arc::new(subscriber),
            channels: IndexSet::new(),
            patterns: IndexSet::new(),
            unsettled: 0,
            removed: 0,
        }
    }

    pub fn channels(&self) -> &IndexSet<Bytes> {
        &self.channels
    }

    pub fn patterns(&self) -> &IndexSet<Bytes> {
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
    /// A channel takes effect across instances once [`settle`] returns.
    ///
    /// [`settle`]: Subscriptions::settle
    pub async fn add(&mut self, name: Bytes, pattern: bool) -> bool {
        let list = if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        };
        if !list.insert(name.clone()) {
            return false;
        }
        let sub = self.subscriber.clone();
        if pattern {
            self.bus.psubscribe(self.id, name, sub).await;
        } else {
            let mark = self.bus.subscribe(self.id, name, sub);
            self.unsettled = self.unsettled.max(mark);
        }
        true
    }

    /// Waits until the channels added so far reach this instance from
    /// every other (one round trip to NATS for all of them, at most).
    pub async fn settle(&mut self) {
        let mark = std::mem::take(&mut self.unsettled);
        self.bus.settle(mark).await;
    }

    /// Unsubscribes from a channel (or pattern); false when it was not.
    pub fn remove(&mut self, name: &[u8], pattern: bool) -> bool {
        let list = if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        };
        // Redis keeps no order among a client's subscriptions either; a
        // swap keeps removal O(1) for a client holding 100,000.
        if !list.swap_remove(name) {
            return false;
        }
        if list.capacity() > 64 && list.len() < list.capacity() / 4 {
            let keep = list.len() * 2;
            list.shrink_to(keep);
        }
        self.released(1);
        if pattern {
            self.bus.punsubscribe(self.id, name);
        } else {
            self.bus.unsubscribe(self.id, name);
        }
        true
    }

    fn released(&mut self, n: usize) {
        self.removed += n;
        if self.removed >= TRIM_AFTER {
            self.removed = 0;
            crate::trim::soon();
        }
    }

    /// Unsubscribes from everything.
    pub fn clear(&mut self) {
        let n = self.count();
        for channel in std::mem::take(&mut self.channels) {
            self.bus.unsubscribe(self.id, &channel);
        }
        for pattern in std::mem::take(&mut self.patterns) {
            self.bus.punsubscribe(self.id, &pattern);
        }
        self.released(n);
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.clear();
    }
}
