//! Keyspace events on a datacenter's JetStream stream: the datacenter's
//! publisher publishes the sequenced log to it (one message per event,
//! `Nats-Msg-Id` = the log's identity and the event's sequence number, so a
//! re-sent event is dropped by JetStream), and every instance of the
//! datacenter consumes it to notify its own subscribers.
//!
//! A message's subject is `<prefix>.ev.<datacenter>.<db>`, its payload the
//! key, and its headers the event's name, class, id and sequencing time.
//! Setting events (class `!`, see [`super::settings`]) travel the same way,
//! in order with the others. The stream is created without a placement,
//! so JetStream puts it in the NATS cluster the instance is connected to:
//! its own datacenter's.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use tracing::{info, warn};

use super::delivery::{Position, catch_up};
use super::state::Events;
use crate::bus::nats::NatsLink;
use crate::config::Config;
use crate::store::LoggedEvent;

const NAME_HEADER: &str = "Respire-Event";
const CLASS_HEADER: &str = "Respire-Class";
const ID_HEADER: &str = "Respire-Id";
const MS_HEADER: &str = "Respire-Ms";
/// The longest a pull request of the stream's consumer waits: the server
/// sends an idle heartbeat every half of it, and a consumer that vanished
/// while the connection stayed up (deleted, lost with a JetStream leader)
/// is noticed after two are missed, within 2 s, and then recreated from the
/// last delivered message. (The default, 30 s with a 15 s heartbeat, left
/// a consumer lost in a NATS restart unnoticed for 15 s.) The cost: one
/// pull request a second per instance while idle.
const PULL_EXPIRES: Duration = Duration::from_secs(1);
/// Between attempts to (re)create the consumer.
const RETRY: Duration = Duration::from_millis(200);
/// How often the log in the database is read while NATS is down.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

pub struct EventStream {
    js: jetstream::Context,
    name: String,
    /// The datacenter whose events it holds.
    dc: String,
    /// The event log's identity (a setting written by the migrations),
    /// prefixed to every message id.
    log_id: String,
    /// The stream's settings, to recreate it if it disappears (a NATS
    /// restart with memory storage, an operator's mistake).
    settings: stream::Config,
}

impl EventStream {
    /// Creates the stream or updates its settings. Waits for NATS.
    pub async fn open(
        link: &NatsLink,
        config: &Config,
        log_id: String,
    ) -> anyhow::Result<EventStream> {
        let js = jetstream::new(link.client.clone());
        let name = config.stream_name();
        let settings = stream::Config {
            name: name.clone(),
            subjects: vec![link.events_filter(&config.datacenter)],
            storage: match config.nats_stream_storage.as_str() {
                "memory" => stream::StorageType::Memory,
                _ => stream::StorageType::File,
            },
            num_replicas: config.nats_stream_replicas,
            max_age: Duration::from_secs(config.nats_stream_max_age),
            duplicate_window: Duration::from_secs(config.nats_duplicate_window),
            ..Default::default()
        };
        let stream = EventStream {
            js,
            name,
            dc: config.datacenter.clone(),
            settings,
            log_id,
        };
        stream.ensure().await?;
        info!(stream = %stream.name, "event stream ready");
        Ok(stream)
    }

    /// Creates the stream if missing, or brings its settings up to date.
    async fn ensure(&self) -> anyhow::Result<()> {
        self.js
            .create_or_update_stream(self.settings.clone())
            .await
            .with_context(|| format!("creating stream {}", self.name))?;
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Publishes events in order and waits until JetStream stored them all;
    /// on failure, makes sure the stream exists for the retry.
    pub async fn publish(&self, link: &NatsLink, events: &[LoggedEvent]) -> anyhow::Result<()> {
        let result = self.try_publish(link, events).await;
        if result.is_err() && link.connected() {
            let _ = self.ensure().await;
        }
        result
    }

    async fn try_publish(&self, link: &NatsLink, events: &[LoggedEvent]) -> anyhow::Result<()> {
        // Not queued for a connection that may take seconds to come back:
        // the publisher retries when it does.
        anyhow::ensure!(link.connected(), "NATS unavailable");
        let mut acks = Vec::with_capacity(events.len());
        for e in events {
            let mut headers = HeaderMap::new();
            let id = format!("{}:{}", self.log_id, e.seq);
            headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
            headers.insert(NAME_HEADER, e.name.as_str());
            headers.insert(CLASS_HEADER, (e.class as char).to_string().as_str());
            headers.insert(ID_HEADER, e.id.to_string().as_str());
            headers.insert(MS_HEADER, e.ms.to_string().as_str());
            acks.push(
                self.js
                    .publish_with_headers(
                        link.event_subject(&self.dc, e.db),
                        headers,
                        e.key.clone(),
                    )
                    .await?,
            );
        }
        for ack in acks {
            ack.await?;
        }
        Ok(())
    }

    /// The sequence number of the last event in the stream, if any.
    pub async fn last_seq(&self) -> anyhow::Result<Option<i64>> {
        Ok(self.tip().await?.1)
    }

    /// The stream's state, and the log's number of its last message if it
    /// is one of this log's.
    async fn tip(&self) -> anyhow::Result<(stream::Info, Option<i64>)> {
        let mut stream = self.js.get_stream(&self.name).await?;
        let info = stream.info().await?.clone();
        let last = info.state.last_sequence;
        if last == 0 {
            return Ok((info, None));
        }
        let msg = match stream.get_raw_message(last).await {
            Ok(msg) => msg,
            // Expired or deleted: nothing newer than what the log says.
            Err(_) => return Ok((info, None)),
        };
        // Another log's events (a recreated database) say nothing about ours.
        let seq = msg
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .and_then(|v| self.seq_of(v.as_str()));
        Ok((info, seq))
    }

    /// The sequence number in a message id of this log.
    fn seq_of(&self, message_id: &str) -> Option<i64> {
        let (log, id) = message_id.split_once(':')?;
        if log != self.log_id {
            return None;
        }
        id.parse().ok()
    }
}

fn decode(
    stream: &EventStream,
    msg: &async_nats::Message,
    prefix_len: usize,
) -> Option<LoggedEvent> {
    let headers = msg.headers.as_ref()?;
    Some(LoggedEvent {
        seq: stream.seq_of(headers.get(async_nats::header::NATS_MESSAGE_ID)?.as_str())?,
        id: headers.get(ID_HEADER)?.as_str().parse().ok()?,
        ms: headers.get(MS_HEADER)?.as_str().parse().ok()?,
        db: msg.subject.get(prefix_len..)?.parse().ok()?,
        key: msg.payload.clone(),
        name: headers.get(NAME_HEADER)?.as_str().to_string(),
        class: *headers.get(CLASS_HEADER)?.as_str().as_bytes().first()?,
    })
}

/// Delivers the stream's events to this instance's subscribers, from the
/// stream's end at start; after an interruption it resumes right after the
/// last message it delivered, so nothing is skipped or repeated. While the
/// NATS link is down (or the stream cannot be read) the instance follows
/// the log in the database itself ([`catch_up`]), so its subscribers,
/// blocked readers and tracking clients keep hearing of every write; the
/// stream's copies of those events are passed over when it resumes (the
/// log's numbers say which were handed on, see [`Position`]).
pub async fn consume(events: Arc<Events>, stream: Arc<EventStream>, mut position: Position) {
    let Some(link) = events.bus.nats.as_ref() else {
        return;
    };
    let prefix_len = format!("{}.ev.{}.", link.prefix, stream.dc).len();
    let mut shutdown = events.shutdown.clone();
    let mut connects = link.connects();
    let mut disconnects = link.disconnects();
    // Where to read from, in the stream created at `created`: its end as
    // it is when first read.
    let (mut next, mut created) = loop {
        if events.is_shutting_down() {
            return;
        }
        disconnects.borrow_and_update();
        if !link.connected() {
            follow_log(&events, link, &mut position).await;
            continue;
        }
        // A request in flight when the link goes waits out its timeout:
        // the log is followed meanwhile instead.
        let tip = tokio::select! {
            tip = stream.tip() => tip,
            _ = disconnects.changed() => continue,
            _ = shutdown.changed() => return,
        };
        match tip {
            Ok((info, seq)) => {
                if position.last().is_none() {
                    position.start(&events, seq).await;
                }
                break (info.state.last_sequence + 1, info.created);
            }
            Err(e) => {
                warn!(error = %e, "cannot read the event stream");
                fall_back(&events, &mut position).await;
            }
        }
    };
    loop {
        if events.is_shutting_down() {
            return;
        }
        // A reconnect or a lost link from here on restarts the consumer
        // (see below).
        connects.borrow_and_update();
        disconnects.borrow_and_update();
        if !link.connected() {
            follow_log(&events, link, &mut position).await;
            continue;
        }
        let messages = async {
            let mut handle = stream.js.get_stream(&stream.name).await?;
            // A stream recreated since (a NATS server replaced with an
            // empty store, memory storage restarted): its sequences start
            // over, and all it holds came after what was delivered.
            let info = handle.info().await?;
            if info.created != created {
                info!(stream = %stream.name, "the event stream was recreated; reading it from its start");
                next = info.state.first_sequence.max(1);
                created = info.created;
            }
            let consumer = handle
                .create_consumer(consumer::pull::OrderedConfig {
                    filter_subject: link.events_filter(&stream.dc),
                    deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: next,
                    },
                    max_expires: PULL_EXPIRES,
                    ..Default::default()
                })
                .await?;
            anyhow::Ok(consumer.messages().await?)
        };
        let messages = tokio::select! {
            messages = messages => messages,
            _ = disconnects.changed() => continue,
            _ = shutdown.changed() => return,
        };
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "cannot consume the event stream; retrying");
                fall_back(&events, &mut position).await;
                continue;
            }
        };
        loop {
            // Messages already here are handed on together; BCAST
            // invalidations go out once none is left waiting.
            let ready = futures::FutureExt::now_or_never(messages.next());
            if ready.is_none() {
                events.tracking.flush();
            }
            let item = if let Some(item) = ready {
                item
            } else {
                tokio::select! {
                    item = messages.next() => item,
                    _ = shutdown.changed() => return,
                    // The consumer lived on the server the link just lost (an
                    // ordered consumer is kept in memory only): start a new one
                    // at once, after the last message delivered, rather than
                    // wait for the old one's pull request to fail.
                    _ = connects.changed() => {
                        info!(next, "NATS reconnected; resuming the event stream");
                        break;
                    }
                    // Lost: the log in the database is followed meanwhile.
                    _ = disconnects.changed() => break,
                }
            };
            match item {
                Some(Ok(msg)) => {
                    if let Ok(info) = msg.info() {
                        next = info.stream_sequence + 1;
                    }
                    // The log's numbers only grow: one already handed on
                    // (published again after a takeover, into a stream
                    // recreated meanwhile, or read from the database while
                    // NATS was down) is passed over.
                    if let Some(event) = decode(&stream, &msg, prefix_len) {
                        position.hand_on(&events, &event);
                    }
                }
                Some(Err(e)) => {
                    warn!(error = %e, "event stream interrupted; resuming");
                    fall_back(&events, &mut position).await;
                    break;
                }
                None => break,
            }
        }
    }
}

/// The stream cannot be read for now: what the database's log holds is
/// handed on meanwhile, then the stream is tried again.
async fn fall_back(events: &Events, position: &mut Position) {
    if let Err(e) = catch_up(events, position).await {
        warn!(error = %e, "cannot read the event log either");
    }
    tokio::time::sleep(RETRY).await;
}

/// While the NATS link is down: the log in the database, followed until
/// the link is back (or shutdown).
async fn follow_log(events: &Events, link: &NatsLink, position: &mut Position) {
    info!("NATS is down: following the event log in the database");
    let mut connects = link.connects();
    let mut shutdown = events.shutdown.clone();
    while !link.connected() && !events.is_shutting_down() {
        if let Err(e) = catch_up(events, position).await {
            warn!(error = %e, "cannot read the event log; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = connects.changed() => {}
            _ = shutdown.changed() => {}
        }
    }
}
