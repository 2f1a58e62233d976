//! Starting the event side of an instance: the sequencer, and delivery
//! through the local relay or, with NATS, the datacenter's stream.

use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::delivery::{Position, catch_up};
use super::jetstream::{self, EventStream};
use super::relay;
use super::sequencer;
use super::state::Events;
use crate::store::EVENT_LOG_SETTING;

/// Runs this instance's part of the event log until shutdown: the
/// sequencer (active where its lease is held), and the local relay, or
/// with NATS its datacenter's stream (created once NATS answers), the
/// leased publisher into it and this instance's consumer. Whichever
/// delivers to this instance's subscribers reads the shared settings
/// before its first event.
pub async fn run(events: Arc<Events>) {
    let sequencer = tokio::spawn(sequencer::run(events.clone()));
    deliver(events).await;
    let _ = sequencer.await;
}

async fn deliver(events: Arc<Events>) {
    if events.bus.nats.is_some() {
        start_event_stream(events).await;
    } else {
        relay::run(events, None).await;
    }
}

/// Creates the event stream once NATS answers, then runs the relay and this
/// instance's stream consumer.
async fn start_event_stream(events: Arc<Events>) {
    let Some(link) = events.bus.nats.as_ref() else {
        return;
    };
    // Until the stream is there, this instance follows the log in the
    // database itself (see [`jetstream::consume`]).
    let mut position = Position::default();
    let stream = loop {
        let log_id = match events.store.get_setting(EVENT_LOG_SETTING).await {
            Ok(Some(id)) => id,
            _ => {
                // The database is not ready (or not migrated) yet.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let opened = if link.connected() {
            EventStream::open(link, &events.config, log_id).await
        } else {
            Err(anyhow::anyhow!("NATS unavailable"))
        };
        match opened {
            Ok(stream) => break Arc::new(stream),
            Err(e) => {
                if link.connected() {
                    warn!(error = %e, "cannot set up the event stream; retrying");
                }
                if events.is_shutting_down() {
                    return;
                }
                let _ = catch_up(&events, &mut position).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let _ = events.stream_name.set(stream.name().to_string());
    let consumer = tokio::spawn(jetstream::consume(events.clone(), stream.clone(), position));
    relay::run(events, Some(stream)).await;
    let _ = consumer.await;
}
