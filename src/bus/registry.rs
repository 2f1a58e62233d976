//! The subscriptions of this process's connections, per channel and per
//! pattern, and delivery to them.

use std::collections::HashMap;
use std::sync::RwLock;

use bytes::Bytes;

use super::delivery::{Delivery, Subscriber};
use crate::glob;

/// Identifies a subscribing connection (its client id).
pub type SubscriberId = u64;

type Subscribers = HashMap<Bytes, HashMap<SubscriberId, Subscriber>>;

/// The subscriptions of this process's connections.
#[derive(Default)]
pub struct Registry {
    pub(super) channels: RwLock<Subscribers>,
    pub(super) patterns: RwLock<Subscribers>,
}

impl Registry {
    /// Adds a subscription; true when it is the channel's (or pattern's) first.
    pub(super) fn add(
        map: &RwLock<Subscribers>,
        name: Bytes,
        id: SubscriberId,
        sub: Subscriber,
    ) -> bool {
        let mut map = map.write().unwrap();
        let first = !map.contains_key(&name);
        map.entry(name).or_default().insert(id, sub);
        first
    }

    /// Removes a subscription; true when it was the last one.
    pub(super) fn remove(map: &RwLock<Subscribers>, name: &[u8], id: SubscriberId) -> bool {
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
    pub(super) fn receivers(&self, channel: &[u8]) -> usize {
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
