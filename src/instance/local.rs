//! What one instance keeps for itself, shared by its connections and by no
//! other instance: when its clients last touched each key (OBJECT
//! IDLETIME), a CLIENT PAUSE in force, and the MONITOR feeds.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use crate::store::Db;

/// Keys remembered at most; past it the older half is forgotten.
const ACCESS_CAP: usize = 100_000;

/// The second this instance started, on the clock the entries keep: far
/// enough from 0 that a key may be made idle since before the start
/// (RESTORE ... IDLETIME), up to about 34 years.
const START_SECOND: u32 = 1 << 30;

/// When this instance's clients last accessed each key (OBJECT IDLETIME).
/// A key it never saw (or forgot) counts as idle since the start or since
/// older entries were last dropped.
///
/// Bounded whatever clients name: at most [`ACCESS_CAP`] entries, each a
/// 64-bit hash of (database, key) and a 32-bit second, never the key's
/// bytes, so an entry costs about 17 bytes of table (≈2.2 MB when full)
/// however long its key. Two keys whose hashes collide (one chance in
/// 2^64 per pair, with a seed drawn at start) share an idle time.
pub struct AccessTimes {
    inner: Mutex<AccessInner>,
    seed: RandomState,
    start: Instant,
}

struct AccessInner {
    /// Hash of (database, key) → the second of the last access
    /// ([`START_SECOND`] at `start`).
    last: HashMap<u64, u32>,
    /// Keys not in `last` count as accessed at this second.
    floor: u32,
}

impl Default for AccessTimes {
    fn default() -> Self {
        AccessTimes {
            inner: Mutex::new(AccessInner {
                last: HashMap::new(),
                floor: START_SECOND,
            }),
            seed: RandomState::new(),
            start: Instant::now(),
        }
    }
}

impl AccessTimes {
    fn slot(&self, db: Db, key: &[u8]) -> u64 {
        self.seed.hash_one((db, key))
    }

    fn now(&self) -> u32 {
        u32::try_from(self.start.elapsed().as_secs())
            .unwrap_or(u32::MAX)
            .saturating_add(START_SECOND)
    }

    /// Records an access to each key, now.
    pub fn touch<'a>(&self, db: Db, keys: impl IntoIterator<Item = &'a Bytes>) {
        let now = self.now();
        let slots: Vec<u64> = keys.into_iter().map(|k| self.slot(db, k)).collect();
        let mut inner = self.inner.lock().unwrap();
        for slot in slots {
            inner.last.insert(slot, now);
        }
        if inner.last.len() > ACCESS_CAP {
            // Keep the newer half; what goes counts from its cut on.
            let mut times: Vec<u32> = inner.last.values().copied().collect();
            let (_, &mut cut, _) = times.select_nth_unstable(ACCESS_CAP / 2);
            inner.last.retain(|_, t| *t > cut);
            inner.floor = cut;
            inner.last.shrink_to(ACCESS_CAP);
        }
    }

    /// How long the key has been idle, in whole seconds.
    pub fn idle_seconds(&self, db: Db, key: &[u8]) -> u64 {
        let slot = self.slot(db, key);
        let inner = self.inner.lock().unwrap();
        let since = inner.last.get(&slot).copied().unwrap_or(inner.floor);
        u64::from(self.now().saturating_sub(since))
    }

    /// Makes a key idle for `seconds` from now (RESTORE ... IDLETIME).
    pub fn set_idle(&self, db: Db, key: &[u8], seconds: u64) {
        let slot = self.slot(db, key);
        let since = self
            .now()
            .saturating_sub(u32::try_from(seconds).unwrap_or(u32::MAX));
        self.inner.lock().unwrap().last.insert(slot, since);
    }

    /// Drops a key's access time (a key swapped away by SWAPDB).
    pub fn forget(&self, db: Db, key: &[u8]) {
        let slot = self.slot(db, key);
        self.inner.lock().unwrap().last.remove(&slot);
    }
}

/// A CLIENT PAUSE in force: until when, and whether every command waits
/// (ALL) or only those that write (WRITE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PauseState {
    pub until: Instant,
    pub all: bool,
}

/// CLIENT PAUSE / UNPAUSE on this instance.
pub struct Pause {
    state: watch::Sender<Option<PauseState>>,
}

impl Default for Pause {
    fn default() -> Self {
        Pause {
            state: watch::Sender::new(None),
        }
    }
}

impl Pause {
    /// Pauses for `duration`; as in Redis, a pause never gets shorter or
    /// narrower while another is in force.
    pub fn pause(&self, duration: Duration, all: bool) {
        let until = Instant::now() + duration;
        self.state.send_modify(|state| {
            *state = Some(match *state {
                Some(old) if old.until > Instant::now() => PauseState {
                    until: old.until.max(until),
                    all: old.all || all,
                },
                _ => PauseState { until, all },
            });
        });
    }

    pub fn unpause(&self) {
        self.state.send_replace(None);
    }

    /// Waits until a command that writes (`writes`) or not may run.
    pub async fn wait(&self, writes: bool) {
        let mut rx = self.state.subscribe();
        loop {
            let state = *rx.borrow_and_update();
            let Some(p) = state else { return };
            if p.until <= Instant::now() || !(p.all || writes) {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(p.until.into()) => {}
                changed = rx.changed() => if changed.is_err() { return },
            }
        }
    }

    /// True when a command that writes (`writes`) or not would wait now.
    pub fn holds(&self, writes: bool) -> bool {
        match *self.state.borrow() {
            Some(p) => p.until > Instant::now() && (p.all || writes),
            None => false,
        }
    }
}

/// Lines a monitor may have waiting before it is disconnected (Redis
/// closes a monitor over its output buffer limit).
const MONITOR_BACKLOG: usize = 100_000;

/// The clients in MONITOR mode: each gets every command this instance
/// runs, as one status line.
#[derive(Default)]
pub struct Monitors {
    feeds: Mutex<Vec<Feed>>,
    /// Whether any monitor is connected: the fast path checks only this.
    active: std::sync::atomic::AtomicBool,
}

struct Feed {
    client: u64,
    tx: mpsc::Sender<Bytes>,
    kill: std::sync::Arc<tokio::sync::Notify>,
}

impl Monitors {
    /// Registers `client` as a monitor; its lines arrive on the receiver.
    pub fn add(
        &self,
        client: u64,
        kill: std::sync::Arc<tokio::sync::Notify>,
    ) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(MONITOR_BACKLOG);
        let mut feeds = self.feeds.lock().unwrap();
        feeds.push(Feed { client, tx, kill });
        self.active
            .store(true, std::sync::atomic::Ordering::Relaxed);
        rx
    }

    pub fn remove(&self, client: u64) {
        let mut feeds = self.feeds.lock().unwrap();
        feeds.retain(|f| f.client != client);
        self.active
            .store(!feeds.is_empty(), std::sync::atomic::Ordering::Relaxed);
    }

    pub fn is_active(&self) -> bool {
        self.active.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends one command's line (see [`monitor_line`]) to every monitor;
    /// one too far behind is disconnected.
    pub fn feed(&self, line: Bytes) {
        let feeds = self.feeds.lock().unwrap();
        for f in feeds.iter() {
            if let Err(mpsc::error::TrySendError::Full(_)) = f.tx.try_send(line.clone()) {
                f.kill.notify_one();
            }
        }
    }
}
