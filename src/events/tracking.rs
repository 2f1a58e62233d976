//! Client-side caching (CLIENT TRACKING) on this instance: which of its
//! clients track which keys, and the invalidations sent to them as the
//! event log's keyspace events reach the instance ([`super::delivery`]).
//! A write on any instance, in any datacenter, reaches every instance's
//! log position, so it invalidates every tracking client everywhere, no
//! later than a keyspace notification of it. FLUSHDB and FLUSHALL travel
//! the log as a setting event ([`FLUSHED_SETTING`]) and send every
//! tracking client the null invalidation, as Redis does.
//!
//! - Default mode remembers the keys a client reads (registered *before*
//!   the read runs, so a write committed after the read is always seen);
//!   a key's entry goes with its first invalidation, as in Redis.
//! - BCAST sends, per prefix, the keys written under it, grouped per batch
//!   of the log ([`Tracking::flush`]).
//! - This instance's own commits invalidate at once, before their replies
//!   go out ([`Tracking::committing`], [`Tracking::committed`]), as Redis
//!   invalidates during the command: a client that sees a write's reply
//!   and then reads is never told about that write afterwards. Their
//!   events, reaching the instance again through the log, are then passed
//!   over (counted per key: each one noted before its commit is passed
//!   over once). NOLOOP leaves out the writer itself.
//! - When the instance cannot tell what changed, its clients get the null
//!   invalidation ([`Tracking::lost_track`]): a gap in the log's numbers as
//!   they reach it, a delivery start it chose (its first, or after NATS
//!   came back with events it never saw), the database out of reach. While
//!   NATS is down the instance follows the log in the database itself
//!   ([`super::delivery::Position`]), so invalidations keep coming.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;

use crate::bus::{Delivery, Subscriber};
use crate::store::SETTING_CLASS;

/// The setting event FLUSHDB and FLUSHALL log: every instance sends its
/// tracking clients the null invalidation when the log reaches it.
pub const FLUSHED_SETTING: &str = "keys-flushed";

/// True for the events that invalidate their key: keyspace events but
/// `new` (it comes with another event of the same write) and settings.
pub fn invalidates(class: u8) -> bool {
    class != b'n' && class != SETTING_CLASS
}

/// What [`Tracking::committing`] noted of a commit.
#[derive(Clone, Copy, Debug)]
pub struct Noted {
    keys: bool,
    flush: bool,
}

/// CLIENT TRACKING's options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// The client that gets the invalidations (0: this one).
    pub redirect: u64,
    /// BCAST's prefixes (none: every key).
    pub prefixes: Vec<Bytes>,
}

/// What CLIENT TRACKINGINFO shows of a tracking client.
#[derive(Clone, Debug)]
pub struct Info {
    pub options: Options,
    /// CLIENT CACHING was given for the next command.
    pub caching: bool,
    /// Its redirect target went away.
    pub broken: bool,
}

/// A tracking client: its options and where its invalidations go.
struct Tracker {
    options: Options,
    caching: bool,
    broken: bool,
    /// Its own delivery queue.
    own: Subscriber,
    /// Its redirect target's queue.
    target: Option<Subscriber>,
}

impl Tracker {
    /// Sends an invalidation where the client wants it; a redirect target
    /// gone marks the redirect broken and tells the client (RESP3).
    fn send(&mut self, keys: Option<Vec<Bytes>>) {
        if self.options.redirect == 0 {
            self.own.send(Delivery::Invalidate {
                keys,
                redirected: false,
            });
            return;
        }
        match &self.target {
            Some(target) if !target.is_closed() => {
                target.send(Delivery::Invalidate {
                    keys,
                    redirected: true,
                });
            }
            _ => {
                self.broken = true;
                self.own.send(Delivery::RedirectBroken {
                    to: self.options.redirect,
                });
            }
        }
    }
}

#[derive(Default)]
struct Inner {
    clients: HashMap<u64, Tracker>,
    /// Default mode: key → the clients that may cache it.
    keys: HashMap<Bytes, HashSet<u64>>,
    /// The client ids the key table holds in all.
    items: usize,
    /// BCAST: prefix → its clients.
    prefixes: BTreeMap<Bytes, HashSet<u64>>,
    /// BCAST: per prefix, the keys written under it since the last flush,
    /// each with the client whose write its last one was (0: another
    /// instance's).
    pending: BTreeMap<Bytes, BTreeMap<Bytes, u64>>,
    /// Events of this instance's commits, invalidated already, that the
    /// log has not brought back yet: per key, and FLUSHDB/FLUSHALL's.
    local: HashMap<Bytes, u32>,
    local_flushes: u32,
}

impl Inner {
    fn forget_client(&mut self, id: u64) {
        if let Some(tracker) = self.clients.remove(&id) {
            for prefix in &tracker.options.prefixes {
                if let Some(clients) = self.prefixes.get_mut(prefix) {
                    clients.remove(&id);
                    if clients.is_empty() {
                        self.prefixes.remove(prefix);
                        self.pending.remove(prefix);
                    }
                }
            }
        }
        if self.clients.is_empty() {
            // Nobody left to tell: the tables start again empty. The notes
            // of this instance's commits stay until their events come back
            // (a client tracking by then must not be told of them).
            self.clear_tables();
        }
    }

    /// Invalidates one key written by `writer` (0: not a client of this
    /// instance): its default-mode clients are told at once (a NOLOOP
    /// writer not), BCAST ones at the next [`Inner::flush`].
    fn invalidate_key(&mut self, key: &Bytes, writer: u64) {
        self.untrack(key, writer);
        self.broadcast(key, writer);
    }

    /// Tells the default-mode clients that read `key` (not a NOLOOP
    /// writer) and forgets them.
    fn untrack(&mut self, key: &Bytes, writer: u64) {
        if let Some(ids) = self.keys.remove(key) {
            self.items -= ids.len();
            for id in ids {
                if let Some(tracker) = self.clients.get_mut(&id)
                    && !tracker.options.bcast
                    && !(id == writer && tracker.options.noloop)
                {
                    tracker.send(Some(vec![key.clone()]));
                }
            }
        }
    }

    /// Queues `key` for the BCAST clients of the prefixes it is under.
    fn broadcast(&mut self, key: &Bytes, writer: u64) {
        if self.prefixes.is_empty() {
            return;
        }
        let matching: Vec<Bytes> = self
            .prefixes
            .keys()
            .filter(|p| key.starts_with(p))
            .cloned()
            .collect();
        for prefix in matching {
            // Redis, too, keeps the key's last writer.
            self.pending
                .entry(prefix)
                .or_default()
                .insert(key.clone(), writer);
        }
    }

    /// Sends BCAST clients the keys written under their prefixes since the
    /// last flush: one message per prefix (a NOLOOP client's own writes
    /// left out).
    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for (prefix, keys) in pending {
            let Some(ids) = self.prefixes.get(&prefix).cloned() else {
                continue;
            };
            for id in ids {
                let Some(tracker) = self.clients.get_mut(&id) else {
                    continue;
                };
                let noloop = tracker.options.noloop;
                let keys: Vec<Bytes> = keys
                    .iter()
                    .filter(|&(_, &writer)| !noloop || writer != id)
                    .map(|(key, _)| key.clone())
                    .collect();
                if !keys.is_empty() {
                    tracker.send(Some(keys));
                }
            }
        }
    }

    /// Every tracking client drops all it cached.
    fn invalidate_all(&mut self) {
        self.clear_tables();
        for tracker in self.clients.values_mut() {
            tracker.send(None);
        }
    }

    /// Forgets every key read and every BCAST write not yet sent.
    fn clear_tables(&mut self) {
        self.keys.clear();
        self.items = 0;
        self.pending.clear();
    }
}

/// This instance's tracking clients and tables.
pub struct Tracking {
    inner: Mutex<Inner>,
    /// Tracking clients (checked without the lock on every event and every
    /// commit).
    clients: AtomicUsize,
    /// tracking-table-max-keys (0: no limit).
    max_keys: AtomicUsize,
    /// The database did not answer the last lease renewal.
    unreachable: AtomicBool,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            inner: Mutex::default(),
            clients: AtomicUsize::new(0),
            max_keys: AtomicUsize::new(1_000_000),
            unreachable: AtomicBool::new(false),
        }
    }
}

impl Tracking {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, inner: &Inner) {
        self.clients.store(inner.clients.len(), Ordering::Relaxed);
    }

    /// CLIENT TRACKING ON: starts tracking for `id`, or changes its options
    /// (the keys it tracks stay; BCAST prefixes add to those it has).
    /// `own` is its delivery queue, `target` its redirect target's.
    pub fn enable(
        &self,
        id: u64,
        mut options: Options,
        own: Subscriber,
        target: Option<Subscriber>,
    ) {
        let mut inner = self.lock();
        let caching = inner.clients.get(&id).is_some_and(|t| t.caching);
        if options.bcast {
            let mut prefixes = inner
                .clients
                .get(&id)
                .map(|t| t.options.prefixes.clone())
                .unwrap_or_default();
            if options.prefixes.is_empty() {
                options.prefixes.push(Bytes::new());
            }
            for prefix in &options.prefixes {
                if !prefixes.contains(prefix) {
                    prefixes.push(prefix.clone());
                }
                inner.prefixes.entry(prefix.clone()).or_default().insert(id);
            }
            prefixes.sort();
            options.prefixes = prefixes;
        }
        inner.clients.insert(
            id,
            Tracker {
                options,
                caching,
                broken: false,
                own,
                target,
            },
        );
        self.count(&inner);
    }

    /// CLIENT TRACKING OFF, or the client is gone.
    pub fn disable(&self, id: u64) {
        let mut inner = self.lock();
        inner.forget_client(id);
        self.count(&inner);
    }

    /// The client's tracking state, if it tracks.
    pub fn info(&self, id: u64) -> Option<Info> {
        if self.clients.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.lock().clients.get(&id).map(|t| Info {
            options: t.options.clone(),
            caching: t.caching,
            broken: t.broken,
        })
    }

    /// True while some client of this instance tracks keys.
    pub fn active(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0
    }

    /// True if the client tracks keys.
    pub fn tracks(&self, id: u64) -> bool {
        self.clients.load(Ordering::Relaxed) > 0 && self.lock().clients.contains_key(&id)
    }

    /// CLIENT CACHING YES|NO: for the client's next command.
    pub fn set_caching(&self, id: u64, caching: bool) {
        if let Some(tracker) = self.lock().clients.get_mut(&id) {
            tracker.caching = caching;
        }
    }

    /// Remembers that the client may cache `keys` (it is about to read
    /// them), as its mode allows: not in BCAST, in OPTIN only after CLIENT
    /// CACHING YES, in OPTOUT unless CLIENT CACHING NO.
    pub fn remember<'k>(&self, id: u64, keys: impl IntoIterator<Item = &'k Bytes>) {
        if self.clients.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut inner = self.lock();
        let Some(tracker) = inner.clients.get(&id) else {
            return;
        };
        let o = &tracker.options;
        if o.bcast || (o.optin && !tracker.caching) || (o.optout && tracker.caching) {
            return;
        }
        for key in keys {
            if inner.keys.entry(key.clone()).or_default().insert(id) {
                inner.items += 1;
            }
        }
        self.limit(&mut inner);
    }

    /// tracking-table-max-keys: keys past it are invalidated (for the
    /// clients that read them), as Redis evicts them.
    fn limit(&self, inner: &mut Inner) {
        let max = self.max_keys.load(Ordering::Relaxed);
        if max == 0 || inner.keys.len() <= max {
            return;
        }
        let excess = inner.keys.len() - max;
        let victims: Vec<Bytes> = inner.keys.keys().take(excess).cloned().collect();
        for key in victims {
            inner.untrack(&key, 0);
        }
    }

    /// Sets tracking-table-max-keys (0: no limit).
    pub fn set_max_keys(&self, max: usize) {
        self.max_keys.store(max, Ordering::Relaxed);
        let mut inner = self.lock();
        self.limit(&mut inner);
    }

    /// Before a commit of this instance: notes its writes (client, key;
    /// one per invalidating event) and whether it flushes, so that their
    /// events are passed over when the log brings them back. What it noted
    /// goes to [`Tracking::committed`], which must follow.
    pub fn committing(&self, writes: &[(u64, Bytes)], flush: bool) -> Noted {
        // A flush is noted even with no client tracking: one may start
        // tracking before the log brings the flush back.
        let keys = self.clients.load(Ordering::Relaxed) > 0 && !writes.is_empty();
        let noted = Noted { keys, flush };
        if !keys && !flush {
            return noted;
        }
        let mut inner = self.lock();
        if keys {
            for (_, key) in writes {
                *inner.local.entry(key.clone()).or_default() += 1;
            }
        }
        inner.local_flushes += u32::from(flush);
        noted
    }

    /// After the commit [`Tracking::committing`] noted: if it committed,
    /// its writes invalidate now (before its replies are sent); if not,
    /// the notes are taken back.
    pub fn committed(&self, writes: &[(u64, Bytes)], noted: Noted, committed: bool) {
        if !noted.keys && !noted.flush {
            return;
        }
        let flush = noted.flush;
        let mut inner = self.lock();
        if !committed {
            for (_, key) in writes.iter().filter(|_| noted.keys) {
                if let Some(n) = inner.local.get_mut(key) {
                    *n -= 1;
                    if *n == 0 {
                        inner.local.remove(key);
                    }
                }
            }
            inner.local_flushes = inner.local_flushes.saturating_sub(u32::from(flush));
            return;
        }
        for (writer, key) in writes.iter().filter(|_| noted.keys) {
            inner.invalidate_key(key, *writer);
        }
        if flush && !inner.clients.is_empty() {
            inner.invalidate_all();
        }
        inner.flush();
    }

    /// A keyspace event of `key` reached this instance through the log: its
    /// tracking clients are told (default mode at once, BCAST at the next
    /// [`Tracking::flush`]), unless this instance's own commit told them.
    pub fn invalidate(&self, key: &Bytes) {
        if self.clients.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut inner = self.lock();
        if let Some(n) = inner.local.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                inner.local.remove(key);
            }
            return;
        }
        inner.invalidate_key(key, 0);
    }

    /// Sends the BCAST invalidations the log's events gathered.
    pub fn flush(&self) {
        if self.clients.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut inner = self.lock();
        if !inner.pending.is_empty() {
            inner.flush();
        }
    }

    /// FLUSHDB / FLUSHALL reached this instance through the log (or it
    /// cannot tell what changed): every tracking client is told to drop
    /// all it cached, unless this instance's own commit told them.
    pub fn invalidate_all(&self) {
        let mut inner = self.lock();
        if inner.local_flushes > 0 {
            inner.local_flushes -= 1;
        } else if !inner.clients.is_empty() {
            inner.invalidate_all();
        }
    }

    /// This instance cannot tell what changed (its event stream had a gap,
    /// it started delivering at a point it chose, the database was out of
    /// reach): every tracking client is told to drop all it cached. The
    /// notes of its own commits go too: their events may never come back,
    /// and one left behind would pass over a later write of its key (one
    /// that does come back invalidates once more, which does no harm).
    ///
    /// Only clients that may have cached something are told: BCAST ones,
    /// and default-mode ones with keys in the table.
    pub fn lost_track(&self, why: &str) {
        let mut inner = self.lock();
        inner.local.clear();
        inner.local_flushes = 0;
        let mut told: HashSet<u64> = inner.keys.values().flatten().copied().collect();
        told.extend(inner.prefixes.values().flatten().copied());
        inner.clear_tables();
        if !told.is_empty() {
            tracing::info!(
                clients = told.len(),
                "{why}: tracking clients told to drop what they cached"
            );
        }
        for id in told {
            if let Some(tracker) = inner.clients.get_mut(&id) {
                tracker.send(None);
            }
        }
    }

    /// Whether the database answered a lease's renewal: when it stops
    /// answering, writes elsewhere (instances that still reach it) are
    /// unknown here until it answers again, so tracking clients drop what
    /// they cached (their reads fail meanwhile, caching nothing new).
    pub fn database_reached(&self, reached: bool) {
        if reached {
            self.unreachable.store(false, Ordering::Relaxed);
        } else if !self.unreachable.swap(true, Ordering::Relaxed) {
            self.lost_track("the database is out of reach");
        }
    }

    /// INFO: tracking clients, keys in the table, client ids it holds,
    /// BCAST prefixes.
    pub fn stats(&self) -> (usize, usize, usize, usize) {
        if self.clients.load(Ordering::Relaxed) == 0 {
            return (0, 0, 0, 0);
        }
        let inner = self.lock();
        (
            inner.clients.len(),
            inner.keys.len(),
            inner.items,
            inner.prefixes.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use tokio::sync::Notify;

    use crate::bus::{Delivery, OutputLimits, Subscriber};
    use crate::config::Config;
    use crate::events::tracking::{Options, Tracking};

    /// An instance's own write invalidates at once; its event, coming back
    /// through the log after tracking was turned off and on (on MariaDB
    /// the sequencer can take a while), is passed over: Redis's
    /// unit/tracking "NOLOOP mode in BCAST mode" caught this.
    #[test]
    fn an_own_write_coming_back_after_tracking_restarted_is_passed_over() {
        let tracking = Tracking::default();
        let limits = OutputLimits::from_config(&Config::defaults());
        let (own, mut rx) = Subscriber::new(limits, Arc::new(Notify::new()));
        let k = Bytes::from_static(b"k");
        let noloop = Options {
            noloop: true,
            ..Options::default()
        };
        tracking.enable(1, noloop.clone(), own.clone(), None);
        tracking.remember(1, [&k]);
        let writes = [(1, k.clone())];
        let noted = tracking.committing(&writes, false);
        tracking.committed(&writes, noted, true);
        tracking.disable(1);
        let bcast = Options {
            bcast: true,
            ..noloop
        };
        tracking.enable(1, bcast, own, None);
        tracking.invalidate(&k);
        tracking.flush();
        let sent: Vec<Box<Delivery>> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert!(sent.is_empty(), "{sent:?}");
    }
}
