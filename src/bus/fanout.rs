//! The [`Bus`]: PUBLISH and keyspace notifications fanned out to the local
//! registry and, with NATS, to every instance.

use std::sync::Arc;

use bytes::Bytes;

use super::delivery::Subscriber;
use super::error::BusError;
use super::nats::NatsLink;
use super::registry::{Registry, Subs, SubscriberId};
use crate::glob;

/// The pub/sub bus: the local registry, and NATS when configured.
pub struct Bus {
    registry: Arc<Registry>,
    pub nats: Option<NatsLink>,
}

impl Bus {
    pub fn new(nats: Option<NatsLink>) -> Bus {
        Bus {
            registry: Arc::new(Registry::default()),
            nats,
        }
    }

    /// Subscribes locally and, with NATS, makes sure this instance hears
    /// the channel; answers the mark to [`settle`](Bus::settle) before the
    /// subscription is confirmed (0: nothing to wait for).
    pub fn subscribe(&self, id: SubscriberId, channel: Bytes, sub: Arc<Subscriber>) -> u64 {
        let first = Registry::add(&self.registry.channels, channel.clone(), id, sub);
        match &self.nats {
            Some(nats) if first => nats.watch_channel(&channel, &self.registry),
            _ => 0,
        }
    }

    /// Waits until NATS has the subscriptions up to `mark`.
    pub async fn settle(&self, mark: u64) {
        if let Some(nats) = &self.nats
            && mark > 0
        {
            nats.settle(mark).await;
        }
    }

    pub fn unsubscribe(&self, id: SubscriberId, channel: &[u8]) {
        if Registry::remove(&self.registry.channels, channel, id)
            && let Some(nats) = &self.nats
        {
            nats.unwatch_channel(channel);
        }
    }

    pub async fn psubscribe(&self, id: SubscriberId, pattern: Bytes, sub: Arc<Subscriber>) {
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

    /// How many of this process's subscribers a message on `channel`
    /// would reach (by channel or pattern), without sending it.
    pub fn receivers(&self, channel: &[u8]) -> usize {
        self.registry.receivers(channel)
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
            .map_or(0, Subs::len)
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
