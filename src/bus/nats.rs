//! The NATS side of the bus: the connection, per-channel subscriptions, the
//! pattern wildcard subscription, and PUBLISH.
//!
//! Subjects (under `--nats-prefix`, default `respire`):
//! - `<prefix>.msg.<token>`: PUBLISH on a channel ([`subject`] encodes it);
//! - `<prefix>.ev.<db>`: keyspace events in the JetStream stream;
//! - `<prefix>.hint`: "events were committed", to wake the relay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_nats::connection::State;
use bytes::Bytes;
use futures::StreamExt;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{BusUnavailable, Registry, subject};
use crate::config::Config;

pub struct NatsLink {
    pub client: async_nats::Client,
    pub prefix: String,
    /// One task per channel local clients subscribe to, holding its NATS
    /// subscription.
    channels: Mutex<HashMap<Bytes, JoinHandle<()>>>,
    /// The wildcard subscription, while any pattern is subscribed.
    patterns: Mutex<Option<JoinHandle<()>>>,
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
        if let Some(ca) = &config.nats_tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&config.nats_tls_cert, &config.nats_tls_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        let client = options
            .name(format!("respire {}", config.instance_name()))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => info!("NATS connected"),
                    async_nats::Event::Disconnected => warn!("NATS disconnected; reconnecting"),
                    other => info!(event = %other, "NATS event"),
                }
            })
            .connect(url.as_str())
            .await
            .with_context(|| format!("connecting to NATS at {url}"))?;
        Ok(NatsLink {
            client,
            prefix: config.nats_prefix.clone(),
            channels: Mutex::new(HashMap::new()),
            patterns: Mutex::new(None),
        })
    }

    pub fn connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    fn message_subject(&self, channel: &[u8]) -> String {
        format!("{}.msg.{}", self.prefix, subject::encode(channel))
    }

    pub fn event_subject(&self, db: u32) -> String {
        format!("{}.ev.{db}", self.prefix)
    }

    pub fn events_filter(&self) -> String {
        format!("{}.ev.>", self.prefix)
    }

    pub fn hint_subject(&self) -> String {
        format!("{}.hint", self.prefix)
    }

    /// Subscribes on NATS to a channel for the local registry. Waits until
    /// the server has the subscription (when connected), so a message
    /// published after SUBSCRIBE answers is not missed.
    pub async fn watch_channel(&self, channel: Bytes, registry: Arc<Registry>) {
        let Ok(mut sub) = self.client.subscribe(self.message_subject(&channel)).await else {
            warn!("cannot subscribe on NATS");
            return;
        };
        self.sync().await;
        let name = channel.clone();
        let task = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                registry.deliver_channel(&name, &msg.payload, None);
            }
        });
        if let Some(old) = self.channels.lock().unwrap().insert(channel, task) {
            old.abort();
        }
    }

    pub fn unwatch_channel(&self, channel: &[u8]) {
        if let Some(task) = self.channels.lock().unwrap().remove(channel) {
            task.abort();
        }
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
        let prefix_len = self.prefix.len() + ".msg.".len();
        let task = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                if let Some(channel) = msg.subject.get(prefix_len..).and_then(subject::decode) {
                    registry.deliver_patterns(&Bytes::from(channel), &msg.payload, None);
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
    /// wait in a buffer that may never be sent.
    pub async fn publish(&self, channel: &[u8], payload: Bytes) -> Result<(), BusUnavailable> {
        if !self.connected() {
            return Err(BusUnavailable("NATS unavailable".into()));
        }
        self.client
            .publish(self.message_subject(channel), payload)
            .await
            .map_err(|e| BusUnavailable(format!("NATS publish failed: {e}")))
    }

    /// Tells the relay holder that events were committed.
    pub async fn hint(&self) {
        if self.connected() {
            let _ = self.client.publish(self.hint_subject(), Bytes::new()).await;
        }
    }

    /// Waits (briefly) until the server has processed what was sent.
    async fn sync(&self) {
        if self.connected() {
            let _ = tokio::time::timeout(Duration::from_secs(1), self.client.flush()).await;
        }
    }
}
