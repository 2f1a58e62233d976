//! The subscriptions of this process's connections, per channel and per
//! pattern, and delivery to them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::delivery::{Delivery, Subscriber};
use crate::glob;

/// Identifies a subscribing connection (its client id).
pub type SubscriberId = u64;

type Subscribers = HashMap<Bytes, Subs>;

/// The subscribers of one channel or pattern. Most have one, kept inline:
/// a client subscribed to 100,000 channels costs a map entry per channel
/// (the name, an id and a shared handle), not a map per channel. The map of
/// several is boxed so that every value is 16 bytes, not 56 (a map's size):
/// 100,000 channels' table is 4 MB smaller.
#[allow(clippy::box_collection)] // the box is the point: see above
pub(super) enum Subs {
    One(SubscriberId, Arc<Subscriber>),
    Many(Box<HashMap<SubscriberId, Arc<Subscriber>>>),
}

impl Subs {
    fn insert(&mut self, id: SubscriberId, sub: Arc<Subscriber>) {
        match self {
            Subs::One(only, _) if *only == id => *self = Subs::One(id, sub),
            Subs::One(only, first) => {
                let mut many = HashMap::with_capacity(2);
                many.insert(*only, first.clone());
                many.insert(id, sub);
                *self = Subs::Many(Box::new(many));
            }
            Subs::Many(many) => {
                many.insert(id, sub);
            }
        }
    }

    /// Removes `id`; true when none is left (a `Many` keeps two or more:
    /// it turns back into `One` when one is left).
    fn remove(&mut self, id: SubscriberId) -> bool {
        match self {
            Subs::One(only, _) => *only == id,
            Subs::Many(many) => {
                many.remove(&id);
                if many.len() == 1 {
                    let (id, sub) = many.drain().next().expect("one left");
                    *self = Subs::One(id, sub);
                }
                false
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Subs::One(..) => 1,
            Subs::Many(many) => many.len(),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = &Arc<Subscriber>> + '_> {
        match self {
            Subs::One(_, sub) => Box::new(std::iter::once(sub)),
            Subs::Many(many) => Box::new(many.values()),
        }
    }
}

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
        sub: Arc<Subscriber>,
    ) -> bool {
        let mut map = map.write().unwrap();
        match map.get_mut(&name) {
            Some(subs) => {
                subs.insert(id, sub);
                false
            }
            None => {
                map.insert(name, Subs::One(id, sub));
                true
            }
        }
    }

    /// Removes a subscription; true when it was the last one.
    pub(super) fn remove(map: &RwLock<Subscribers>, name: &[u8], id: SubscriberId) -> bool {
        let mut map = map.write().unwrap();
        if let Some(clients) = map.get_mut(name)
            && clients.remove(id)
        {
            map.remove(name);
            // A map that held many (a client that left 100,000 channels)
            // gives its room back.
            if map.capacity() > 1024 && map.len() < map.capacity() / 4 {
                let keep = map.len() * 2;
                map.shrink_to(keep);
            }
            return true;
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
            .iter()
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
            for sub in clients.iter() {
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
            .map_or(0, Subs::len);
        let patterns = self.patterns.read().unwrap();
        direct
            + patterns
                .iter()
                .filter(|(p, _)| glob::matches(p, channel))
                .map(|(_, c)| c.len())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod size {
    #[test]
    fn a_registry_entry_stays_small() {
        assert!(std::mem::size_of::<crate::bus::registry::Subs>() <= 24);
    }
}
