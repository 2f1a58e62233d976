//! Handing one sequenced event on to this instance: its setting put in
//! force, or its keyspace notifications published and its key's first
//! blocked client woken. The relay and the stream consumer both end here.

use std::sync::atomic::Ordering;

use bytes::{BufMut, Bytes, BytesMut};

use super::flags;
use super::settings;
use super::state::Events;
use super::tracking;
use crate::store::{LoggedEvent, StoreResult};

/// Events read from the log per batch.
pub const BATCH: u32 = 1000;

/// Where this instance's delivery is in the log: the number of the last
/// event handed on. Whoever delivers (the local relay, the stream consumer,
/// the consumer's fallback to the database while NATS is down) hands on
/// through it, so an event is handed on once whichever way it comes, and a
/// gap in the numbers is noticed.
#[derive(Default)]
pub struct Position {
    last: Option<i64>,
}

impl Position {
    /// The last number handed on, once delivery started.
    pub fn last(&self) -> Option<i64> {
        self.last
    }

    /// Starts delivery after `seq` (None: wherever the first event comes),
    /// without knowing what came before it: tracking clients (which may
    /// have read before this) drop what they cached. Then the shared
    /// settings are read: a change before this point is in them, a later
    /// one arrives as its setting event.
    pub async fn start(&mut self, events: &Events, seq: Option<i64>) {
        self.last = seq;
        events.tracking.lost_track("delivery starts");
        settings::load_waiting(events).await;
        events.delivering.store(true, Ordering::Relaxed);
    }

    /// Hands `event` on unless it already was; a gap before it (events
    /// this instance will never see: a stream that lost them, a start it
    /// chose) tells tracking clients to drop everything.
    pub fn hand_on(&mut self, events: &Events, event: &LoggedEvent) {
        if let Some(last) = self.last {
            if event.seq <= last {
                return;
            }
            if event.seq != last + 1 {
                events
                    .tracking
                    .lost_track("events missing from the log as it reached this instance");
            }
        }
        self.last = Some(event.seq);
        hand_on(events, event);
    }
}

/// Hands on what the log in the database holds after `position` (its end,
/// the first time), batch by batch: the local relay's way, and the stream
/// consumer's while NATS is down.
pub async fn catch_up(events: &Events, position: &mut Position) -> StoreResult<()> {
    let mut last = match position.last() {
        Some(last) => last,
        None => {
            let end = events.store.last_sequence().await?;
            position.start(events, Some(end)).await;
            end
        }
    };
    loop {
        let batch = events.store.sequenced_after(last, BATCH).await?;
        for event in &batch {
            position.hand_on(events, event);
        }
        events.tracking.flush();
        match batch.last() {
            Some(event) if batch.len() as u32 == BATCH => last = event.seq,
            _ => return Ok(()),
        }
    }
}

/// Hands one sequenced event on to this instance's subscribers, in log
/// order: a setting event puts its value in force for the events after it;
/// a keyspace event is notified as the flags in force allow, tagged with
/// its id (each subscription drops those logged before it took effect).
/// Blocked readers of the event streams are woken, and the first client
/// blocked on the event's key.
fn hand_on(events: &Events, event: &LoggedEvent) {
    events
        .delivered_event
        .fetch_max(event.id, Ordering::Relaxed);
    events.stream_tip.send_if_modified(|tip| {
        let newer = event.seq > *tip;
        if newer {
            *tip = event.seq;
        }
        newer
    });
    if event.is_setting() {
        settings::apply(events, &event.name, &event.key);
        return;
    }
    events.waiters.wake(event.db, &event.key);
    if tracking::invalidates(event.class) {
        events.tracking.invalidate(&event.key);
    }
    deliver(events, events.notify_flags(), event);
}

/// Publishes one event as `__keyspace@<db>__:<key>` and
/// `__keyevent@<db>__:<event>` to this instance's subscribers, as the
/// flags allow.
fn deliver(events: &Events, flags: u32, event: &LoggedEvent) {
    if !flags::wanted(flags, event.class) || !events.bus.has_subscribers() {
        return;
    }
    let mut db = itoa::Buffer::new();
    let db = db.format(event.db).as_bytes();
    if flags & flags::KEYSPACE != 0 {
        let channel = channel_name(b"__keyspace@", db, &event.key);
        events.bus.publish_event(
            &channel,
            &Bytes::copy_from_slice(event.name.as_bytes()),
            event.id,
        );
    }
    if flags & flags::KEYEVENT != 0 {
        let channel = channel_name(b"__keyevent@", db, event.name.as_bytes());
        events.bus.publish_event(&channel, &event.key, event.id);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use tokio::sync::{Notify, watch};

    use crate::bus::{Bus, Delivery, DeliveryRx, OutputLimits, Subscriber};
    use crate::config::Config;
    use crate::events::delivery::Position;
    use crate::events::state::Events;
    use crate::events::tracking::Options;
    use crate::store::LoggedEvent;
    use crate::store::sqlite::SqliteStore;

    fn event(seq: i64, key: &str) -> LoggedEvent {
        LoggedEvent {
            id: seq,
            seq,
            ms: 0,
            db: 0,
            key: Bytes::copy_from_slice(key.as_bytes()),
            name: "set".into(),
            class: b'$',
        }
    }

    /// What the tracking client was sent since last asked: each
    /// invalidation's keys (`None`: the null invalidation).
    fn sent(rx: &mut DeliveryRx) -> Vec<Option<Vec<Bytes>>> {
        let mut got = Vec::new();
        while let Ok(delivery) = rx.try_recv() {
            if let Delivery::Invalidate { keys, .. } = *delivery {
                got.push(keys);
            }
        }
        got
    }

    #[tokio::test]
    async fn an_event_is_handed_on_once_and_a_gap_drops_every_cache() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        let config = Arc::new(Config::defaults());
        let (_stop, shutdown) = watch::channel(false);
        let events = Events::new(config.clone(), store, Arc::new(Bus::new(None)), shutdown);
        let (own, mut rx) =
            Subscriber::new(OutputLimits::from_config(&config), Arc::new(Notify::new()));
        events.tracking.enable(1, Options::default(), own, None);
        let k = Bytes::from_static(b"k");
        let mut position = Position::default();

        // A start it chose: whatever was cached before is dropped.
        events.tracking.remember(1, [&k]);
        position.start(&events, Some(5)).await;
        assert_eq!(sent(&mut rx), vec![None]);

        // The next number: the key read is invalidated; again, nothing.
        events.tracking.remember(1, [&k]);
        position.hand_on(&events, &event(6, "k"));
        assert_eq!(sent(&mut rx), vec![Some(vec![k.clone()])]);
        events.tracking.remember(1, [&k]);
        position.hand_on(&events, &event(6, "k"));
        position.hand_on(&events, &event(3, "k"));
        assert_eq!(sent(&mut rx), Vec::<Option<Vec<Bytes>>>::new());

        // A gap (7 and 8 never came): everything is dropped first.
        position.hand_on(&events, &event(9, "other"));
        assert_eq!(sent(&mut rx), vec![None]);
        assert_eq!(position.last(), Some(9));
    }
}
