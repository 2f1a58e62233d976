//! The event relay: tails the event log in id order and hands each event on.
//!
//! Without NATS, every instance runs its own relay under its instance name
//! and delivers to its own subscribers. With NATS, exactly one relay per
//! deployment (the holder of the `relay` lease) publishes the log to the
//! JetStream stream, and every instance consumes the stream
//! ([`super::jetstream::consume`]). Either way the position is saved in the
//! store, so an event whose mutation committed is relayed even if the
//! process died just after the commit.
//!
//! Ids follow allocation order, not commit order: with several writers a
//! higher id can commit before a lower one. The tail therefore remembers
//! the gaps it has passed and hands on their events when they appear, for
//! up to [`GAP_WAIT`]. Two events of one key never race like this, because
//! a writer holds the key's row lock from before it logs its event until it
//! commits, so per-key order is kept.
//!
//! The log also holds setting events (a CONFIG SET of a shared setting,
//! see [`super::settings`]); whoever delivers to subscribers applies them
//! at their position, so the flags that filter an event are the ones in
//! force when it was logged, on every instance. Every notification carries
//! its event id; a connection drops those logged before its subscription
//! took effect (see `cmd::pubsub`), so a subscriber never sees a write that
//! finished before it subscribed, however far behind the relay is.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use tracing::{info, warn};

use super::Events;
use super::flags;
use super::jetstream::EventStream;
use super::settings;
use crate::clock::now_ms;
use crate::store::{LoggedEvent, Store, StoreError, StoreResult};

/// Events read per batch.
const BATCH: u32 = 1000;
/// How often the relay looks at the log without being woken (picks up
/// writes of other instances sharing the database).
const IDLE_POLL: Duration = Duration::from_millis(50);
/// How often the relay's position is written back.
const SAVE_EVERY: Duration = Duration::from_millis(250);
/// How often events past their retention are trimmed.
const TRIM_EVERY: Duration = Duration::from_secs(60);
/// How long a gap in the ids is waited for (longer than any transaction).
const GAP_WAIT: Duration = Duration::from_secs(30);
/// Most gaps remembered at once.
const MAX_GAPS: usize = 100_000;
/// The lease naming the deployment's one NATS relay, and its term.
const RELAY_LEASE: &str = "relay";
const LEASE_TTL_MS: i64 = 3000;
const LEASE_EVERY: Duration = Duration::from_millis(1000);
/// The position row of the NATS relay (shared by whoever holds the lease).
const NATS_POSITION: &str = "nats";

/// A reader of the event log that remembers gaps. [`Tail::poll`] reads
/// without moving; [`Tail::commit`] moves once the events were handed on.
struct Tail {
    position: i64,
    gaps: BTreeMap<i64, Instant>,
    /// What `commit` will apply: the new position and gaps.
    pending: Option<(i64, BTreeMap<i64, Instant>)>,
}

impl Tail {
    fn new(position: i64) -> Tail {
        Tail {
            position,
            gaps: BTreeMap::new(),
            pending: None,
        }
    }

    /// The next events to hand on: up to a batch after the position, then
    /// any that appeared in earlier gaps. The bool is true when a full batch
    /// came back (more is waiting).
    async fn poll(&mut self, store: &dyn Store) -> StoreResult<(Vec<LoggedEvent>, bool)> {
        let batch = store.events_after(self.position, BATCH).await?;
        let full = batch.len() as u32 == BATCH;
        let filled = if self.gaps.is_empty() {
            Vec::new()
        } else {
            let ids: Vec<i64> = self.gaps.keys().copied().collect();
            store.events_by_id(&ids).await?
        };
        let out = self.plan(batch, filled, Instant::now());
        Ok((out, full))
    }

    /// The pure step of [`Tail::poll`]: given the events after the
    /// position (`batch`, in id order) and those that appeared in known
    /// gaps (`filled`), what to hand on (gap events first), and the
    /// position and gaps [`Tail::commit`] will apply. Gaps older than
    /// [`GAP_WAIT`] are given up.
    fn plan(
        &mut self,
        batch: Vec<LoggedEvent>,
        filled: Vec<LoggedEvent>,
        now: Instant,
    ) -> Vec<LoggedEvent> {
        let mut gaps = self.gaps.clone();
        let mut position = self.position;
        let mut out = Vec::with_capacity(batch.len() + filled.len());
        for event in filled {
            if gaps.remove(&event.id).is_some() {
                out.push(event);
            }
        }
        gaps.retain(|_, seen| now.duration_since(*seen) < GAP_WAIT);
        for event in batch {
            if event.id > position + 1 && gaps.len() < MAX_GAPS {
                gaps.extend(
                    (position + 1..event.id)
                        .take(MAX_GAPS - gaps.len())
                        .map(|id| (id, now)),
                );
            }
            position = position.max(event.id);
            out.push(event);
        }
        self.pending = Some((position, gaps));
        out
    }

    fn commit(&mut self) {
        if let Some((position, gaps)) = self.pending.take() {
            self.position = position;
            self.gaps = gaps;
        }
    }
}

/// Housekeeping every relay loop does between batches.
struct Chores {
    name: String,
    saved: i64,
    last_save: Instant,
    last_trim: Instant,
}

impl Chores {
    fn new(name: String, position: i64) -> Chores {
        let now = Instant::now();
        Chores {
            name,
            saved: position,
            last_save: now,
            last_trim: now,
        }
    }

    /// Saves the position at most every SAVE_EVERY (and when `force`): after
    /// a crash the relay re-reads at most that much of the log (for the
    /// local bus, only subscribers of the new process see those events; for
    /// NATS, JetStream drops the repeats by id).
    async fn run(&mut self, shared: &Events, position: i64, force: bool, trim_log: bool) {
        if position != self.saved && (force || self.last_save.elapsed() >= SAVE_EVERY) {
            match shared.store.save_relay_position(&self.name, position).await {
                Ok(()) => self.saved = position,
                Err(e) => warn!(error = %e, "relay cannot save its position"),
            }
            self.last_save = Instant::now();
        }
        if trim_log && self.last_trim.elapsed() > TRIM_EVERY {
            self.last_trim = Instant::now();
            trim(shared).await;
        }
    }
}

/// Runs the relay. Shared settings change at their setting events in the
/// log ([`super::settings`]); the local relay reads their values before
/// its first event (the stream consumer does the same with NATS).
pub async fn run(shared: Arc<Events>, events: Option<Arc<EventStream>>) {
    match events {
        None => {
            settings::load_waiting(&shared).await;
            run_local(shared).await
        }
        Some(events) => run_nats(shared, events).await,
    }
}

/// Waits for a position from the store (which may still be starting).
async fn position_of(shared: &Events, name: &str) -> Option<i64> {
    loop {
        match shared.store.relay_position(name).await {
            Ok(p) => return Some(p),
            Err(e) => {
                if !matches!(e, StoreError::Unavailable(_) | StoreError::Loading) {
                    warn!(error = %e, "relay cannot read its position; retrying");
                }
                if shared.is_shutting_down() {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Waits for a wake-up, the idle poll, or shutdown.
async fn idle(shared: &Events) {
    let mut shutdown = shared.shutdown.clone();
    tokio::select! {
        _ = shared.relay_wake.notified() => {}
        _ = tokio::time::sleep(IDLE_POLL) => {}
        _ = shutdown.changed() => {}
    }
}

/// The in-process relay: the log straight to this instance's subscribers.
async fn run_local(shared: Arc<Events>) {
    let name = shared.config.instance_name();
    let Some(position) = position_of(&shared, &name).await else {
        return;
    };
    let mut tail = Tail::new(position);
    let mut chores = Chores::new(name, position);
    loop {
        match tail.poll(&*shared.store).await {
            Ok((events, full)) => {
                for event in &events {
                    hand_on(&shared, event);
                }
                tail.commit();
                if full {
                    continue;
                }
            }
            Err(e) => {
                warn!(error = %e, "relay cannot read the event log; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        let stopping = shared.is_shutting_down();
        chores.run(&shared, tail.position, stopping, true).await;
        if stopping {
            return;
        }
        idle(&shared).await;
    }
}

/// The NATS relay: whoever holds the lease publishes the log to the stream.
async fn run_nats(shared: Arc<Events>, events: Arc<EventStream>) {
    let Some(link) = shared.bus.nats.as_ref() else {
        return;
    };
    // Commits on other instances wake the relay through hints.
    let hints = {
        let shared = shared.clone();
        let subject = link.hint_subject();
        let client = link.client.clone();
        tokio::spawn(async move {
            if let Ok(mut sub) = client.subscribe(subject).await {
                while sub.next().await.is_some() {
                    shared.relay_wake.notify_one();
                }
            }
        })
    };
    let holder = shared.config.instance_name();
    let mut tail: Option<Tail> = None;
    let mut chores = Chores::new(NATS_POSITION.to_string(), 0);
    let mut last_lease: Option<Instant> = None;
    loop {
        let stopping = shared.is_shutting_down();
        if last_lease.is_none_or(|at| at.elapsed() >= LEASE_EVERY) {
            last_lease = Some(Instant::now());
            let held = shared
                .store
                .try_lease(RELAY_LEASE, &holder, now_ms(), LEASE_TTL_MS)
                .await
                .unwrap_or(false);
            shared.relay_holder.store(held, Ordering::Relaxed);
            if !held {
                tail = None;
            } else if tail.is_none() {
                tail = take_over(&shared, &events).await;
                if let Some(t) = &tail {
                    chores = Chores::new(NATS_POSITION.to_string(), t.position);
                }
            }
        }
        if let Some(t) = tail.as_mut() {
            match t.poll(&*shared.store).await {
                Ok((batch, full)) => match events.publish(link, &batch).await {
                    Ok(()) => {
                        t.commit();
                        shared.relay_position.store(t.position, Ordering::Relaxed);
                        shared.relay_progress_ms.store(now_ms(), Ordering::Relaxed);
                        if full {
                            continue;
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "cannot publish events to NATS; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                },
                Err(e) => {
                    warn!(error = %e, "relay cannot read the event log; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            chores.run(&shared, t.position, stopping, true).await;
        } else {
            chores.run(&shared, chores.saved, false, false).await;
        }
        if stopping {
            hints.abort();
            return;
        }
        idle(&shared).await;
    }
}

/// Where a new lease holder starts: after the last event in the stream, or
/// the saved position if that is further (the stream may have expired).
async fn take_over(shared: &Events, events: &EventStream) -> Option<Tail> {
    let saved = position_of(shared, NATS_POSITION).await?;
    let streamed = match events.last_event_id().await {
        Ok(id) => id.unwrap_or(0),
        Err(e) => {
            warn!(error = %e, "cannot read the stream's last event; will retry");
            return None;
        }
    };
    let position = saved.max(streamed);
    info!(position, "this instance now relays events to NATS");
    Some(Tail::new(position))
}

/// Hands one logged event on to this instance's subscribers, in log
/// order: a setting event puts its value in force for the events after it;
/// a keyspace event is notified as the flags in force allow, tagged with
/// its id (each subscription drops those logged before it took effect).
pub fn hand_on(shared: &Events, event: &LoggedEvent) {
    shared
        .delivered_event
        .fetch_max(event.id, Ordering::Relaxed);
    if event.is_setting() {
        settings::apply(shared, &event.name, &event.key);
        return;
    }
    deliver(shared, shared.notify_flags(), event);
}

/// Publishes one event as `__keyspace@<db>__:<key>` and
/// `__keyevent@<db>__:<event>` to this instance's subscribers, as the
/// flags allow.
fn deliver(shared: &Events, flags: u32, event: &LoggedEvent) {
    if !flags::wanted(flags, event.class) || !shared.bus.has_subscribers() {
        return;
    }
    let mut db = itoa::Buffer::new();
    let db = db.format(event.db).as_bytes();
    if flags & flags::KEYSPACE != 0 {
        let channel = channel_name(b"__keyspace@", db, &event.key);
        shared.bus.publish_event(
            &channel,
            &Bytes::copy_from_slice(event.name.as_bytes()),
            event.id,
        );
    }
    if flags & flags::KEYEVENT != 0 {
        let channel = channel_name(b"__keyevent@", db, event.name.as_bytes());
        shared.bus.publish_event(&channel, &event.key, event.id);
    }
}

fn channel_name(prefix: &[u8], db: &[u8], suffix: &[u8]) -> Bytes {
    let mut name = BytesMut::with_capacity(prefix.len() + db.len() + 3 + suffix.len());
    name.put_slice(prefix);
    name.put_slice(db);
    name.put_slice(b"__:");
    name.put_slice(suffix);
    name.freeze()
}

/// Drops events older than the retention, in bounded batches.
async fn trim(shared: &Events) {
    let before = now_ms() - (shared.config.event_retention as i64).saturating_mul(1000);
    loop {
        match shared.store.trim_events(before, 10_000).await {
            Ok(10_000) => tokio::task::yield_now().await,
            Ok(_) => return,
            Err(e) => {
                warn!(error = %e, "cannot trim the event log");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64) -> LoggedEvent {
        LoggedEvent {
            id,
            db: 0,
            key: bytes::Bytes::from(format!("k{id}")),
            name: "set".into(),
            class: b'$',
        }
    }

    fn ids(events: &[LoggedEvent]) -> Vec<i64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn a_lower_id_committed_late_is_handed_on_once() {
        let now = Instant::now();
        let mut tail = Tail::new(0);
        // 1, 2 and 4 committed; 3 is still in flight.
        let out = tail.plan(vec![event(1), event(2), event(4)], vec![], now);
        assert_eq!(ids(&out), [1, 2, 4]);
        tail.commit();
        assert_eq!(tail.position, 4);
        assert_eq!(tail.gaps.keys().copied().collect::<Vec<_>>(), [3]);
        // 3 commits; 5 is new.
        let out = tail.plan(vec![event(5)], vec![event(3)], now);
        assert_eq!(ids(&out), [3, 5]);
        tail.commit();
        assert!(tail.gaps.is_empty());
        // 3 seen again (a repeated read) is not handed on twice.
        let out = tail.plan(vec![], vec![event(3)], now);
        assert!(out.is_empty());
    }

    #[test]
    fn nothing_moves_until_commit() {
        let now = Instant::now();
        let mut tail = Tail::new(10);
        let out = tail.plan(vec![event(12)], vec![], now);
        assert_eq!(ids(&out), [12]);
        // The hand-on failed: the next poll starts from the same place.
        assert_eq!(tail.position, 10);
        let out = tail.plan(vec![event(12)], vec![], now);
        assert_eq!(ids(&out), [12]);
        tail.commit();
        assert_eq!(tail.position, 12);
        assert_eq!(tail.gaps.keys().copied().collect::<Vec<_>>(), [11]);
    }

    #[test]
    fn gaps_are_given_up_after_the_wait_and_bounded() {
        let start = Instant::now();
        let mut tail = Tail::new(0);
        tail.plan(vec![event(3)], vec![], start);
        tail.commit();
        assert_eq!(tail.gaps.len(), 2);
        tail.plan(vec![], vec![], start + GAP_WAIT + Duration::from_secs(1));
        tail.commit();
        assert!(tail.gaps.is_empty());
        // A huge jump remembers at most MAX_GAPS ids.
        tail.plan(vec![event(3 + MAX_GAPS as i64 * 2)], vec![], start);
        tail.commit();
        assert_eq!(tail.gaps.len(), MAX_GAPS);
    }
}
