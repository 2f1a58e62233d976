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

use tracing::{info, warn};

use super::delivery::{BATCH, Position, catch_up};
use super::jetstream::EventStream;
use super::lease::Lease;
use super::state::Events;
use crate::clock::now_ms;
use crate::store::{LoggedEvent, StoreError};

/// How often delivery looks at the log without being woken (picks up the
/// sequencer's work on another instance when NATS cannot say).
const IDLE_POLL: Duration = Duration::from_millis(50);
/// How often a publisher's position is written back.
const SAVE_EVERY: Duration = Duration::from_millis(250);

/// Runs this instance's delivery: its own (without NATS) or its
/// datacenter's publisher (with NATS; the stream consumer runs beside it).
pub async fn run(events: Arc<Events>, stream: Option<Arc<EventStream>>) {
    match stream {
        None => run_local(events).await,
        Some(stream) => run_publisher(events, stream).await,
    }
}

/// Waits for a value from the store (which may still be starting).
async fn wait_for<T, F, Fut>(events: &Events, what: &str, mut op: F) -> Option<T>
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
                if events.is_shutting_down() {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Waits for a wake-up, the idle poll, or shutdown.
async fn idle(events: &Events) {
    let mut shutdown = events.shutdown.clone();
    tokio::select! {
        _ = events.relay_wake.notified() => {}
        _ = tokio::time::sleep(IDLE_POLL) => {}
        _ = shutdown.changed() => {}
    }
}

/// Without NATS: the sequenced log straight to this instance's subscribers,
/// from the log's end at start.
async fn run_local(events: Arc<Events>) {
    let Some(start) = wait_for(&events, "the sequence", || events.store.last_sequence()).await
    else {
        return;
    };
    let mut position = Position::default();
    position.start(&events, Some(start)).await;
    loop {
        if let Err(e) = catch_up(&events, &mut position).await {
            warn!(error = %e, "cannot read the event log; retrying");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if events.is_shutting_down() {
            return;
        }
        idle(&events).await;
    }
}

/// With NATS: whoever holds this datacenter's publisher lease publishes the
/// sequenced log to the datacenter's stream.
async fn run_publisher(events: Arc<Events>, stream: Arc<EventStream>) {
    let Some(link) = events.bus.nats.as_ref() else {
        return;
    };
    // The sequencer, wherever it runs, says when it numbered events.
    let hints = {
        let events = events.clone();
        link.on_hint(link.sequenced_subject(), move || {
            events.relay_wake.notify_one()
        })
    };
    let name = format!("publisher:{}", events.config.datacenter);
    let mut lease = Lease::new(name.clone(), events.config.instance_name());
    let mut position: Option<i64> = None;
    let mut saved = 0;
    let mut last_save = Instant::now();
    // A backlog being published (full batches in a row): since when, and
    // how many events, for the log line when it is caught up.
    let mut backlog: Option<(Instant, usize)> = None;
    // The batch after the one just published, read while it was stored.
    let mut prefetched: Option<Vec<LoggedEvent>> = None;
    loop {
        let stopping = events.is_shutting_down();
        let held = lease.held(&events).await;
        events.relay_holder.store(held, Ordering::Relaxed);
        if !held {
            position = None;
            prefetched = None;
        } else if position.is_none() {
            position = take_over(&events, &stream, &name).await;
            saved = position.unwrap_or(0);
        }
        if let Some(p) = position.as_mut() {
            let read = match prefetched.take() {
                Some(batch) => Ok(batch),
                None => events.store.sequenced_after(*p, BATCH).await,
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
                                events.store.sequenced_after(last, BATCH)
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
                            events.relay_position.store(*p, Ordering::Relaxed);
                            events.relay_progress_ms.store(now_ms(), Ordering::Relaxed);
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
                            // Again as soon as the link is back, or soon
                            // (the stream may be being restored).
                            if link.connected() {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            } else {
                                link.reconnect_or(Duration::from_millis(500)).await;
                            }
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
                match events.store.save_relay_position(&name, *p).await {
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
        idle(&events).await;
    }
}

/// Where a new publisher starts: after the last event in its stream, or
/// the saved position if that is further (the stream may have expired).
async fn take_over(events: &Events, stream: &EventStream, name: &str) -> Option<i64> {
    let saved = wait_for(events, "the publisher's position", || {
        events.store.relay_position(name)
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
