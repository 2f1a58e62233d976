//! Delivery of the sequenced log: read in sequence order, handed on.
//!
//! The sequencer ([`super::sequencer`]) numbers every committed event once,
//! gap-free; everything downstream simply follows the numbers, so no
//! reader ever has to wait on gaps or guess whether a late commit is
//! coming.
//!
//! Without NATS, every instance follows the log itself and hands each
//! event to its own subscribers ([`run_local`]), starting at the log's end
//! when it starts (its subscribers are new: nothing older is theirs). With
//! NATS, each datacenter has its own JetStream stream, and one instance per
//! datacenter (the holder of that datacenter's publisher lease) publishes
//! the log to it ([`run_publisher`]) with the sequence number as the
//! message id, so a repeat after a takeover is dropped by JetStream; every
//! instance consumes its own datacenter's stream
//! ([`super::jetstream::consume`]). A datacenter's keyspace events thus
//! depend only on the database and its own NATS; when it comes back after
//! an outage its publisher resumes where its stream stopped.
//!
//! The log also holds setting events (a CONFIG SET of a shared setting,
//! see [`super::settings`]); whoever delivers to subscribers applies them
//! at their position, so the flags that filter an event are the ones in
//! force when it was logged, on every instance. Every notification carries
//! its event id; a connection drops those logged before its subscription
//! took effect (see `cmd::pubsub`), so a subscriber never sees a write that
//! finished before it subscribed, however far behind delivery is (a
//! datacenter catching up publishes its backlog; its new subscribers see
//! none of it).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tracing::{info, warn};

use super::Events;
use super::flags;
use super::jetstream::EventStream;
use super::lease::Lease;
use super::settings;
use crate::clock::now_ms;
use crate::store::{LoggedEvent, StoreError};

/// Events read per batch.
const BATCH: u32 = 1000;
/// How often delivery looks at the log without being woken (picks up the
/// sequencer's work on another instance when NATS cannot say).
const IDLE_POLL: Duration = Duration::from_millis(50);
/// How often a publisher's position is written back.
const SAVE_EVERY: Duration = Duration::from_millis(250);

/// Runs this instance's delivery: its own (without NATS) or its
/// datacenter's publisher (with NATS; the stream consumer runs beside it).
pub async fn run(shared: Arc<Events>, stream: Option<Arc<EventStream>>) {
    match stream {
        None => run_local(shared).await,
        Some(stream) => run_publisher(shared, stream).await,
    }
}

/// Waits for a value from the store (which may still be starting).
async fn wait_for<T, F, Fut>(shared: &Events, what: &str, mut op: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::store::StoreResult<T>>,
{
    loop {
        match op().await {
            Ok(v) => return Some(v),
            Err(e) => {
                if !matches!(e, StoreError::Unavailable(_) | StoreError::Loading) {
                    warn!(error = %e, "cannot read {what}; retrying");
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

/// Without NATS: the sequenced log straight to this instance's subscribers,
/// from the log's end at start. The shared settings are read after fixing
/// the start: a change before it is in them, a later one arrives as its
/// setting event.
async fn run_local(shared: Arc<Events>) {
    let Some(mut position) =
        wait_for(&shared, "the sequence", || shared.store.last_sequence()).await
    else {
        return;
    };
    settings::load_waiting(&shared).await;
    loop {
        match shared.store.sequenced_after(position, BATCH).await {
            Ok(batch) => {
                for event in &batch {
                    hand_on(&shared, event);
                }
                if let Some(last) = batch.last() {
                    position = last.seq;
                }
                if batch.len() as u32 == BATCH {
                    continue;
                }
            }
            Err(e) => {
                warn!(error = %e, "cannot read the event log; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        if shared.is_shutting_down() {
            return;
        }
        idle(&shared).await;
    }
}

/// With NATS: whoever holds this datacenter's publisher lease publishes the
/// sequenced log to the datacenter's stream.
async fn run_publisher(shared: Arc<Events>, stream: Arc<EventStream>) {
    let Some(link) = shared.bus.nats.as_ref() else {
        return;
    };
    // The sequencer, wherever it runs, says when it numbered events.
    let hints = {
        let shared = shared.clone();
        link.on_hint(link.sequenced_subject(), move || {
            shared.relay_wake.notify_one()
        })
    };
    let name = format!("publisher:{}", shared.config.datacenter);
    let mut lease = Lease::new(name.clone(), shared.config.instance_name());
    let mut position: Option<i64> = None;
    let mut saved = 0;
    let mut last_save = Instant::now();
    // A backlog being published (full batches in a row): since when, and
    // how many events, for the log line when it is caught up.
    let mut backlog: Option<(Instant, usize)> = None;
    // The batch after the one just published, read while it was stored.
    let mut prefetched: Option<Vec<LoggedEvent>> = None;
    loop {
        let stopping = shared.is_shutting_down();
        let held = lease.held(&shared).await;
        shared.relay_holder.store(held, Ordering::Relaxed);
        if !held {
            position = None;
            prefetched = None;
        } else if position.is_none() {
            position = take_over(&shared, &stream, &name).await;
            saved = position.unwrap_or(0);
        }
        if let Some(p) = position.as_mut() {
            let read = match prefetched.take() {
                Some(batch) => Ok(batch),
                None => shared.store.sequenced_after(*p, BATCH).await,
            };
            match read {
                Ok(batch) => {
                    let full = batch.len() as u32 == BATCH;
                    let last = batch.last().map(|e| e.seq);
                    // Behind (a full batch): read the next batch while
                    // JetStream stores this one.
                    let (published, next) = match last {
                        Some(last) if full => {
                            let (published, next) = tokio::join!(
                                stream.publish(link, &batch),
                                shared.store.sequenced_after(last, BATCH)
                            );
                            (published, next.ok())
                        }
                        _ => (stream.publish(link, &batch).await, None),
                    };
                    match published {
                        Ok(()) => {
                            if let Some(last) = last {
                                *p = last;
                            }
                            prefetched = next;
                            shared.relay_position.store(*p, Ordering::Relaxed);
                            shared.relay_progress_ms.store(now_ms(), Ordering::Relaxed);
                            if full {
                                let (_, n) = backlog.get_or_insert((Instant::now(), 0));
                                *n += batch.len();
                                continue;
                            }
                            if let Some((since, n)) = backlog.take() {
                                info!(
                                    events = n + batch.len(),
                                    ms = since.elapsed().as_millis() as u64,
                                    "published a backlog of events; caught up"
                                );
                            }
                        }
                        Err(e) => {
                            warn!(error = %e, "cannot publish events to NATS; retrying");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, "cannot read the event log; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            // After a crash the next holder starts at the stream's last
            // message, so the saved position only matters when the stream
            // lost its messages.
            if *p != saved && (stopping || last_save.elapsed() >= SAVE_EVERY) {
                match shared.store.save_relay_position(&name, *p).await {
                    Ok(()) => saved = *p,
                    Err(e) => warn!(error = %e, "cannot save the publisher's position"),
                }
                last_save = Instant::now();
            }
        }
        if stopping {
            hints.abort();
            return;
        }
        idle(&shared).await;
    }
}

/// Where a new publisher starts: after the last event in its stream, or
/// the saved position if that is further (the stream may have expired).
async fn take_over(shared: &Events, stream: &EventStream, name: &str) -> Option<i64> {
    let saved = wait_for(shared, "the publisher's position", || {
        shared.store.relay_position(name)
    })
    .await?;
    let streamed = match stream.last_seq().await {
        Ok(seq) => seq.unwrap_or(0),
        Err(e) => {
            warn!(error = %e, "cannot read the stream's last event; will retry");
            return None;
        }
    };
    let position = saved.max(streamed);
    info!(position, stream = %stream.name(), "this instance now publishes its datacenter's events");
    Some(position)
}

/// Hands one sequenced event on to this instance's subscribers, in log
/// order: a setting event puts its value in force for the events after it;
/// a keyspace event is notified as the flags in force allow, tagged with
/// its id (each subscription drops those logged before it took effect).
/// Blocked readers of the event streams are woken, and the first client
/// blocked on the event's key.
pub fn hand_on(shared: &Events, event: &LoggedEvent) {
    shared
        .delivered_event
        .fetch_max(event.id, Ordering::Relaxed);
    shared.stream_tip.send_if_modified(|tip| {
        let newer = event.seq > *tip;
        if newer {
            *tip = event.seq;
        }
        newer
    });
    if event.is_setting() {
        settings::apply(shared, &event.name, &event.key);
        return;
    }
    shared.waiters.wake(event.db, &event.key);
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
