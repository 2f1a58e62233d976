//! Clients of this instance waiting in blocking commands (BLPOP, BLMOVE,
//! BZPOPMIN, ...), per key, first blocked first served.
//!
//! The event log is the wake-up signal: the relay hands every logged event
//! of the deployment on to each instance ([`super::delivery::hand_on`]), which
//! wakes the first waiter of the event's key. Only that waiter retries (in
//! its own transaction), so the clients of one instance are served in the
//! order they blocked; when it leaves after a wake (served, timed out or
//! gone), the wake passes to the next waiter of its keys, and a waiter
//! that found nothing stays first and keeps waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::store::Db;

/// Every waiter of this instance, and the queue of each key waited on.
/// What it keeps lasts only while clients block: a key's queue goes with
/// its last waiter, so it holds at most the keys that blocked clients
/// named (each a copy of the key and a few words).
#[derive(Default)]
pub struct Waiters {
    inner: Mutex<Inner>,
    /// How many waiters there are: the relay skips the lock when none.
    count: AtomicUsize,
}

#[derive(Default)]
struct Inner {
    /// Per key, its waiters' ids in the order they blocked.
    queues: HashMap<(Db, Bytes), VecDeque<u64>>,
    slots: HashMap<u64, Arc<Slot>>,
    next_id: u64,
}

/// One waiting client.
struct Slot {
    keys: Vec<(Db, Bytes)>,
    /// Woken by every change of its keys, not only when first.
    every: bool,
    notify: Notify,
    /// Wakes it was given, ever: one it has not answered with an attempt
    /// is passed on when it leaves.
    wakes: AtomicU64,
}

impl Waiters {
    /// Queues a client behind the earlier waiters of each of `keys`;
    /// with `every`, it is woken by every change of them, first or not
    /// (a reader that takes nothing away, as XREAD).
    pub fn register(&self, db: Db, keys: &[Bytes], every: bool) -> Waiter<'_> {
        let mut keys: Vec<(Db, Bytes)> = keys.iter().map(|k| (db, k.clone())).collect();
        keys.sort_unstable();
        keys.dedup();
        let slot = Arc::new(Slot {
            keys,
            every,
            notify: Notify::new(),
            wakes: AtomicU64::new(0),
        });
        let mut inner = self.inner.lock().unwrap();
        inner.next_id += 1;
        let id = inner.next_id;
        for key in &slot.keys {
            inner.queues.entry(key.clone()).or_default().push_back(id);
        }
        inner.slots.insert(id, slot.clone());
        self.count.fetch_add(1, Ordering::Relaxed);
        Waiter {
            waiters: self,
            id,
            slot,
            seen: 0,
            handled: 0,
            served: false,
        }
    }

    /// Wakes the first waiter of `key` (a write to it was handed on).
    pub fn wake(&self, db: Db, key: &[u8]) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let inner = self.inner.lock().unwrap();
        inner.wake_first(&(db, Bytes::copy_from_slice(key)));
    }

    /// How many clients wait.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Wakes the first waiter of `key`, and every waiter that asked to be
    /// woken by every change.
    fn wake_first(&self, key: &(Db, Bytes)) {
        let Some(queue) = self.queues.get(key) else {
            return;
        };
        for (i, id) in queue.iter().enumerate() {
            if let Some(slot) = self.slots.get(id)
                && (i == 0 || slot.every)
            {
                slot.wakes.fetch_add(1, Ordering::SeqCst);
                slot.notify.notify_one();
            }
        }
    }
}

/// A client's place in the queues of its keys; dropping it leaves them
/// (on every path: served, timed out, disconnected, killed).
pub struct Waiter<'a> {
    waiters: &'a Waiters,
    id: u64,
    slot: Arc<Slot>,
    /// The wakes counted when the current attempt began.
    seen: u64,
    /// The wakes answered by an attempt that found nothing.
    handled: u64,
    /// Its last attempt got something: the key may hold more for others.
    served: bool,
}

impl Waiter<'_> {
    /// Call before each attempt.
    pub fn attempting(&mut self) {
        self.seen = self.slot.wakes.load(Ordering::SeqCst);
    }

    /// The attempt found nothing: the wakes before it are answered.
    pub fn missed(&mut self) {
        self.handled = self.seen;
    }

    /// The attempt got elements (or failed): on leaving, the next waiters
    /// look for more.
    pub fn served(&mut self) {
        self.served = true;
    }

    /// Completes when woken (at once if a wake came since the last wait).
    pub async fn woken(&self) {
        self.slot.notify.notified().await;
    }

    /// True when it is the first waiter of any of its keys, or is woken
    /// by every change (only those poll as a safety net, so the order
    /// holds).
    pub fn is_first(&self) -> bool {
        if self.slot.every {
            return true;
        }
        let inner = self.waiters.inner.lock().unwrap();
        self.slot.keys.iter().any(|k| {
            inner
                .queues
                .get(k)
                .and_then(|q| q.front())
                .is_some_and(|&id| id == self.id)
        })
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let pass_on = self.served || self.slot.wakes.load(Ordering::SeqCst) > self.handled;
        let mut inner = self.waiters.inner.lock().unwrap();
        inner.slots.remove(&self.id);
        for key in &self.slot.keys {
            if let Some(queue) = inner.queues.get_mut(key) {
                queue.retain(|&id| id != self.id);
                if queue.is_empty() {
                    inner.queues.remove(key);
                }
            }
        }
        self.waiters.count.fetch_sub(1, Ordering::Relaxed);
        if pass_on {
            for key in &self.slot.keys {
                inner.wake_first(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::events::waiters::*;

    fn key(k: &str) -> Bytes {
        Bytes::copy_from_slice(k.as_bytes())
    }

    #[tokio::test]
    async fn the_first_waiter_is_woken_and_passes_the_wake_on() {
        let waiters = Waiters::default();
        let mut first = waiters.register(0, &[key("k")], false);
        let second = waiters.register(0, &[key("k"), key("j")], false);
        assert!(first.is_first() && second.is_first());
        waiters.wake(0, b"k");
        first.attempting();
        tokio::time::timeout(std::time::Duration::from_secs(1), first.woken())
            .await
            .unwrap();
        first.served();
        drop(first);
        tokio::time::timeout(std::time::Duration::from_secs(1), second.woken())
            .await
            .unwrap();
        drop(second);
        assert!(waiters.is_empty());
        assert!(waiters.inner.lock().unwrap().queues.is_empty());
    }

    #[tokio::test]
    async fn a_waiter_that_missed_keeps_its_place_quietly() {
        let waiters = Waiters::default();
        let mut first = waiters.register(0, &[key("k")], false);
        let second = waiters.register(0, &[key("k")], false);
        waiters.wake(0, b"k");
        first.attempting();
        first.missed();
        drop(first);
        // The wake was answered: the next one is not woken.
        let woken =
            tokio::time::timeout(std::time::Duration::from_millis(50), second.woken()).await;
        assert!(woken.is_err());
    }
}
