//! The NATS side of the bus: the connection, per-channel subscriptions, the
//! pattern wildcard subscription, and PUBLISH.
//!
//! Subjects (under `--nats-prefix`, default `respire`):
//! - `<prefix>.msg.<bucket>`: PUBLISH on a channel, on its bucket's subject
//!   with the exact channel in the message ([`subject`]);
//! - `<prefix>.ev.<datacenter>.<db>`: keyspace events in the datacenter's
//!   JetStream stream;
//! - `<prefix>.hint`: "events were committed", to wake the sequencer;
//! - `<prefix>.seq`: "events were sequenced", to wake the publishers.
//!
//! A PUBLISH larger than the server's `max_payload` goes as chunks on its
//! channel's subject, reassembled by each receiving subscription
//! ([`super::chunk`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use async_nats::connection::State;
use async_nats::{PublishError, PublishErrorKind};
use bytes::Bytes;
use futures::StreamExt;
use futures::future::{FutureExt as _, Shared};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::chunk::{self, Budget, Reassembler};
use super::error::BusError;
use super::registry::Registry;
use super::subject;
use crate::config::Config;

pub struct NatsLink {
    pub client: async_nats::Client,
    pub prefix: String,
    /// The buckets of the channels local clients subscribe to.
    buckets: Mutex<Buckets>,
    /// How many bucket SUBs the server is known to have (see
    /// [`NatsLink::settle`]).
    subs_synced: AtomicU64,
    /// The wildcard subscription, while any pattern is subscribed.
    patterns: Mutex<Option<JoinHandle<()>>>,
    /// Memory for chunked messages being reassembled, across every
    /// subscription of this instance.
    budget: Arc<Budget>,
    /// Chunked message ids: this link's random prefix and a counter.
    id_prefix: u64,
    next_id: AtomicU64,
    /// A subject only this link answers (an inbox of its own): a request
    /// to it is a round trip through the server (see [`NatsLink::sync`]).
    sync_subject: String,
    /// How many times the link has connected (the first time and every
    /// reconnect): what was built on the old connection's server (a
    /// JetStream consumer above all) may be gone with it.
    connects: Arc<watch::Sender<u64>>,
    /// How many times the link has lost its connection.
    disconnects: Arc<watch::Sender<u64>>,
}

/// The bucket subscriptions, and the SUBs still to be settled.
#[derive(Default)]
struct Buckets {
    live: HashMap<u32, Bucket>,
    /// Bucket SUBs made so far (each bucket's `sent` is its number).
    sent: u64,
}

/// One bucket's NATS subscription.
struct Bucket {
    channels: usize,
    task: JoinHandle<()>,
    /// The SUB's number among those sent ([`NatsLink::settle`]).
    sent: u64,
    /// Resolves once its task has queued the SUB on the connection.
    queued: Shared<oneshot::Receiver<()>>,
}

/// The wait before reconnect attempt `attempts` (1 after the first failed
/// one): the first at once, then 100–250 ms apart (random, so instances
/// spread out), never longer, so an instance is back within a quarter
/// second of its server accepting connections. (async-nats's default
/// backs off to seconds: the events of the outage waited that long.) A
/// refused connection costs a down server next to nothing.
fn reconnect_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        Duration::ZERO
    } else {
        Duration::from_millis(100 + rand::random::<u64>() % 150)
    }
}

impl NatsLink {
    /// Connects (retrying in the background if NATS is down at start).
    pub async fn connect(config: &Config) -> anyhow::Result<NatsLink> {
        let url = config.nats_url.clone().context("no NATS URL")?;
        let mut options = match &config.nats_creds {
            Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .with_context(|| format!("reading NATS credentials {}", path.display()))?,
            None => async_nats::ConnectOptions::new(),
        };
        if let Some(token) = &config.nats_token {
            options = options.token(token.clone());
        }
        if let Some(seed) = &config.nats_nkey {
            options = options.nkey(seed.clone());
        }
        // Any TLS flag means TLS (a tls:// URL means it too).
        if let Some(ca) = &config.nats_tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        match (&config.nats_tls_cert, &config.nats_tls_key) {
            (Some(cert), Some(key)) => {
                for file in [cert, key] {
                    std::fs::metadata(file)
                        .with_context(|| format!("NATS TLS file {}", file.display()))?;
                }
                options = options
                    .add_client_certificate(cert.clone(), key.clone())
                    .require_tls(true);
            }
            (None, None) => {}
            _ => bail!("--nats-tls-cert and --nats-tls-key go together"),
        }
        let connects = Arc::new(watch::Sender::new(0u64));
        let counter = connects.clone();
        let disconnects = Arc::new(watch::Sender::new(0u64));
        let lost = disconnects.clone();
        let options = options
            .name(format!("respire {}", config.instance_name()))
            .max_reconnects(None)
            .reconnect_delay_callback(reconnect_delay)
            .connection_timeout(Duration::from_secs(2))
            .event_callback(move |event| {
                let counter = counter.clone();
                let lost = lost.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            info!("NATS connected");
                            counter.send_modify(|n| *n += 1);
                        }
                        async_nats::Event::Disconnected => {
                            warn!("NATS disconnected; reconnecting");
                            lost.send_modify(|n| *n += 1);
                        }
                        other => info!(event = %other, "NATS event"),
                    }
                }
            });
        // One attempt first, so what keeps NATS out (a certificate it
        // refuses, a CA that does not match) is said in full; the
        // background retries only report its kind.
        let client = match options.clone().connect(url.as_str()).await {
            Ok(client) => client,
            Err(e) => {
                warn!(url = %url, error = %e, "cannot connect to NATS; retrying in the background");
                options
                    .retry_on_initial_connect()
                    .connect(url.as_str())
                    .await
                    .with_context(|| format!("connecting to NATS at {url}"))?
            }
        };
        let sync_subject = client.new_inbox();
        let mut requests = client
            .subscribe(sync_subject.clone())
            .await
            .context("subscribing on NATS")?;
        let answerer = client.clone();
        tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                if let Some(reply) = request.reply {
                    let _ = answerer.publish(reply, Bytes::new()).await;
                }
            }
        });
        Ok(NatsLink {
            connects,
            disconnects,
            sync_subject,
            client,
            prefix: config.nats_prefix.clone(),
            buckets: Mutex::new(Buckets::default()),
            subs_synced: AtomicU64::new(0),
            patterns: Mutex::new(None),
            budget: Budget::new(config.nats_reassembly_limit),
            id_prefix: rand::random(),
            next_id: AtomicU64::new(0),
        })
    }

    pub fn connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// Changes each time the link (re)connects.
    pub fn connects(&self) -> watch::Receiver<u64> {
        self.connects.subscribe()
    }

    /// Changes each time the link loses its connection.
    pub fn disconnects(&self) -> watch::Receiver<u64> {
        self.disconnects.subscribe()
    }

    /// Waits until the link reconnects, at most `limit`.
    pub async fn reconnect_or(&self, limit: Duration) {
        let mut connects = self.connects();
        connects.borrow_and_update();
        let _ = tokio::time::timeout(limit, connects.changed()).await;
    }

    fn message_subject(&self, channel: &[u8]) -> String {
        format!("{}.msg.{}", self.prefix, subject::bucket(channel))
    }

    /// The subject of datacenter `dc`'s events of database `db`.
    pub fn event_subject(&self, dc: &str, db: u32) -> String {
        format!("{}.ev.{dc}.{db}", self.prefix)
    }

    /// Every subject of datacenter `dc`'s event stream.
    pub fn events_filter(&self, dc: &str) -> String {
        format!("{}.ev.{dc}.>", self.prefix)
    }

    /// "Events were committed": wakes the sequencer.
    pub fn hint_subject(&self) -> String {
        format!("{}.hint", self.prefix)
    }

    /// "Events were sequenced": wakes every datacenter's publisher.
    pub fn sequenced_subject(&self) -> String {
        format!("{}.seq", self.prefix)
    }

    /// Makes sure this instance receives the messages of a channel local
    /// clients subscribe to (its bucket's subject). Answers the mark to
    /// [`settle`](NatsLink::settle) before the subscription may be
    /// confirmed to the client.
    pub fn watch_channel(&self, channel: &[u8], registry: &Arc<Registry>) -> u64 {
        let bucket = subject::bucket(channel);
        let mut buckets = self.buckets.lock().unwrap();
        if let Some(b) = buckets.live.get_mut(&bucket) {
            b.channels += 1;
            return b.sent;
        }
        buckets.sent += 1;
        let sent = buckets.sent;
        let (client, subject) = (self.client.clone(), self.message_subject(channel));
        let (registry, budget) = (registry.clone(), self.budget.clone());
        // The SUB is queued in order before the settle's request, even
        // though the task sends it.
        let (queued, is_queued) = oneshot::channel();
        let task = tokio::spawn(async move {
            let sub = client.subscribe(subject).await;
            let _ = queued.send(());
            let Ok(mut sub) = sub else {
                warn!("cannot subscribe on NATS");
                return;
            };
            let mut chunks = Reassembler::new(budget);
            while let Some((_, message)) = next_message(&mut sub, &mut chunks).await {
                if let Some((channel, payload)) = subject::unframe(message) {
                    registry.deliver_channel(&channel, &payload, None);
                }
            }
        });
        buckets.live.insert(
            bucket,
            Bucket {
                channels: 1,
                task,
                sent,
                queued: is_queued.shared(),
            },
        );
        sent
    }

    /// A channel local clients no longer subscribe to: its bucket's NATS
    /// subscription goes with the bucket's last channel.
    pub fn unwatch_channel(&self, channel: &[u8]) {
        let bucket = subject::bucket(channel);
        let mut buckets = self.buckets.lock().unwrap();
        if let Some(b) = buckets.live.get_mut(&bucket) {
            b.channels -= 1;
            if b.channels == 0 {
                b.task.abort();
                buckets.live.remove(&bucket);
            }
        }
    }

    /// Waits until the server has every SUB up to `mark` (one round trip,
    /// for all the channels of a SUBSCRIBE, and none when an earlier one
    /// covered them), so a message published after the subscription is
    /// confirmed is not missed.
    pub async fn settle(&self, mark: u64) {
        if self.subs_synced.load(Ordering::Relaxed) >= mark {
            return;
        }
        // Every bucket SUB numbered up to `upto` and not known synced is
        // queued on the connection before the round trip that proves it.
        let synced = self.subs_synced.load(Ordering::Relaxed);
        let (upto, waiting): (u64, Vec<_>) = {
            let buckets = self.buckets.lock().unwrap();
            let waiting = buckets
                .live
                .values()
                .filter(|b| b.sent > synced)
                .map(|b| b.queued.clone())
                .collect();
            (buckets.sent, waiting)
        };
        futures::future::join_all(waiting).await;
        self.sync().await;
        self.subs_synced.fetch_max(upto, Ordering::Relaxed);
    }

    /// Subscribes to every channel's subject while patterns are active;
    /// the registry matches them locally with Redis's glob rules.
    pub async fn watch_patterns(&self, registry: Arc<Registry>) {
        if self.patterns.lock().unwrap().is_some() {
            return;
        }
        let Ok(mut sub) = self
            .client
            .subscribe(format!("{}.msg.*", self.prefix))
            .await
        else {
            warn!("cannot subscribe on NATS");
            return;
        };
        self.sync().await;
        let mut chunks = Reassembler::new(self.budget.clone());
        let task = tokio::spawn(async move {
            while let Some((_, message)) = next_message(&mut sub, &mut chunks).await {
                if let Some((channel, payload)) = subject::unframe(message) {
                    registry.deliver_patterns(&channel, &payload, None);
                }
            }
        });
        let mut slot = self.patterns.lock().unwrap();
        match slot.as_ref() {
            Some(_) => task.abort(),
            None => *slot = Some(task),
        }
    }

    pub fn unwatch_patterns(&self) {
        if let Some(task) = self.patterns.lock().unwrap().take() {
            task.abort();
        }
    }

    /// Publishes a message; refuses while disconnected rather than let it
    /// wait in a buffer that may never be sent. A message over the server's
    /// `max_payload` goes as chunks, in order, on the channel's subject.
    pub async fn publish(&self, channel: &[u8], payload: Bytes) -> Result<(), BusError> {
        if !self.connected() {
            return Err(BusError::Unavailable("NATS unavailable".into()));
        }
        let subject = self.message_subject(channel);
        let payload = subject::frame(channel, &payload);
        // The limit this connection's server announced (1 MiB by default).
        let max = self.client.max_payload();
        if payload.len() <= max {
            return self
                .client
                .publish(subject, payload)
                .await
                .map_err(publish_error);
        }
        let limit = self.budget.limit;
        if payload.len() > limit {
            let e = BusError::OverReassemblyLimit {
                size: payload.len(),
                limit,
            };
            // The name as far as a log line shows it (it may be megabytes).
            let shown = String::from_utf8_lossy(&channel[..channel.len().min(200)]);
            warn!(channel = %shown, error = %e, "PUBLISH refused");
            return Err(e);
        }
        let Some(size) = max.checked_sub(chunk::HEADER_ROOM).filter(|&n| n >= 1024) else {
            let e = BusError::PayloadLimitTooSmall {
                max,
                size: payload.len(),
            };
            warn!(error = %e, "PUBLISH refused");
            return Err(e);
        };
        let id = format!(
            "{:016x}.{}",
            self.id_prefix,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        for (headers, part) in chunk::split(&id, &payload, size) {
            self.client
                .publish_with_headers(subject.clone(), headers, part)
                .await
                .map_err(publish_error)?;
        }
        Ok(())
    }

    /// Publishes an empty wake-up on `subject`, if connected.
    pub async fn hint(&self, subject: String) {
        if self.connected() {
            let _ = self.client.publish(subject, Bytes::new()).await;
        }
    }

    /// Calls `wake` for every wake-up published on `subject` ([`hint`]),
    /// until the returned task is aborted.
    ///
    /// [`hint`]: NatsLink::hint
    pub fn on_hint(&self, subject: String, wake: impl Fn() + Send + 'static) -> JoinHandle<()> {
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Ok(mut sub) = client.subscribe(subject).await {
                while sub.next().await.is_some() {
                    wake();
                }
            }
        })
    }

    /// The memory held by chunked messages being reassembled.
    pub fn reassembly_bytes(&self) -> usize {
        self.budget.used()
    }

    /// Waits (briefly) until the server has processed what was sent (a
    /// SUB above all): a request to this link's own subject comes back
    /// only after the server has read everything this connection sent
    /// before it, in order. (`flush` only writes the socket: a PUBLISH on
    /// another instance could still reach the server before the SUB.)
    async fn sync(&self) {
        if self.connected() {
            let round_trip = self.client.request(self.sync_subject.clone(), Bytes::new());
            let _ = tokio::time::timeout(Duration::from_secs(1), round_trip).await;
        }
    }
}

/// The next whole message of a subscription (its subject and payload):
/// chunks of a large one are reassembled first, and incomplete ones are
/// given up when their time runs out.
async fn next_message(
    sub: &mut async_nats::Subscriber,
    chunks: &mut Reassembler,
) -> Option<(async_nats::Subject, Bytes)> {
    loop {
        let msg = match chunks.next_deadline() {
            None => sub.next().await?,
            Some(deadline) => tokio::select! {
                msg = sub.next() => msg?,
                _ = tokio::time::sleep_until(deadline) => {
                    chunks.expire(tokio::time::Instant::now());
                    continue;
                }
            },
        };
        let now = tokio::time::Instant::now();
        if let Some(payload) = chunks.feed(msg.headers.as_ref(), msg.payload, now) {
            return Some((msg.subject, payload));
        }
    }
}

/// What a failed NATS publish means for the client: TRYAGAIN when the
/// transport may take it later, a permanent error (logged) when it never
/// will.
fn publish_error(e: PublishError) -> BusError {
    match e.kind() {
        PublishErrorKind::Send => BusError::Unavailable(format!("NATS publish failed: {e}")),
        // The server's limit changed under us (a reconnect to another
        // server): the next try splits by the new limit.
        PublishErrorKind::MaxPayloadExceeded => {
            warn!(error = %e, "NATS refused a message as too large; the client may retry");
            BusError::Unavailable(format!("NATS publish failed: {e}"))
        }
        PublishErrorKind::InvalidSubject => {
            warn!(error = %e, "PUBLISH refused");
            BusError::Refused(e.to_string())
        }
    }
}
