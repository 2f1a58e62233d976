//! The operations listener (`--metrics-port`): `/metrics` in the
//! Prometheus text format, `/healthz` (the process serves) and `/readyz`
//! (the database answers with the schema in place, NATS is connected when
//! configured, the server is not shutting down). HTTP is axum's, the text
//! format prometheus-client's; what is reported is read off the server's
//! state at each scrape.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::instance::state::Instance;
use crate::metrics::{HistogramSnapshot, STORE_ERRORS, STORE_RETRIES};
use crate::store::PoolUse;

/// How long a readiness check or a scrape waits for the database.
const DATABASE_WAIT: Duration = Duration::from_secs(2);
/// The Prometheus text format's content type.
const TEXT_FORMAT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves the endpoints on `listener` until the server begins shutting
/// down.
pub async fn serve(
    listener: TcpListener,
    instance: Arc<Instance>,
    mut stop: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(instance);
    let stopped = async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!(error = %e, "the metrics listener failed");
    }
}

/// The log's last number, read within [`DATABASE_WAIT`].
async fn last_sequence(instance: &Instance) -> Result<i64, String> {
    match tokio::time::timeout(DATABASE_WAIT, instance.store.last_sequence()).await {
        Ok(Ok(sequence)) => Ok(sequence),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".into()),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when every dependency is in place, else 503 naming what is not.
async fn readyz(State(instance): State<Arc<Instance>>) -> Response {
    let mut problems = Vec::new();
    if instance.is_shutting_down() {
        problems.push("shutting down".to_string());
    }
    // The sequence lives in a table the migrations create: reading it
    // proves the database answers and the schema is in place.
    if let Err(problem) = last_sequence(&instance).await {
        problems.push(format!("database: {problem}"));
    }
    if let Some(nats) = &instance.bus.nats
        && !nats.connected()
    {
        problems.push("nats: not connected".into());
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let text = problems.join("\n") + "\n";
        (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
    }
}

async fn metrics(State(instance): State<Arc<Instance>>) -> Response {
    let sequence = last_sequence(&instance).await.ok();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape { instance, sequence }));
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// One scrape's view of the server.
struct Scrape {
    instance: Arc<Instance>,
    /// The last sequenced event, when the database answered.
    sequence: Option<i64>,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrape").finish_non_exhaustive()
    }
}

fn histogram(
    metric: prometheus_client::encoding::MetricEncoder<'_>,
    h: &HistogramSnapshot,
) -> std::fmt::Result {
    let mut metric = metric;
    metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        h.sum, h.count, &h.buckets, None,
    )
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let instance = &self.instance;
        let m = &instance.metrics;
        let stats = &instance.metrics;
        let config = &instance.config;

        let info = [
            ("version", env!("CARGO_PKG_VERSION").to_string()),
            ("store", config.store_kind().to_string()),
            ("datacenter", config.datacenter.clone()),
            ("instance", config.instance_name()),
        ];
        let mut metric = e.encode_descriptor(
            "respire_build_info",
            "Always 1: this instance's version, store, datacenter and name",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1).encode(metric.encode_family(&info)?)?;

        // Commands.
        let called = m.called();
        let mut metric = e.encode_descriptor(
            "respire_commands",
            "Commands run, by name",
            None,
            MetricType::Counter,
        )?;
        for (name, s) in &called {
            let c = ConstCounter::new(s.calls.load(Relaxed));
            c.encode(metric.encode_family(&[("command", *name)])?)?;
        }
        let mut metric = e.encode_descriptor(
            "respire_command_errors",
            "Commands answered with an error, by name",
            None,
            MetricType::Counter,
        )?;
        for (name, s) in &called {
            let c = ConstCounter::new(s.errors.load(Relaxed));
            c.encode(metric.encode_family(&[("command", *name)])?)?;
        }
        let mut metric = e.encode_descriptor(
            "respire_command_duration_seconds",
            "From a command's start to its reply (after its commit), by name",
            None,
            MetricType::Histogram,
        )?;
        for (name, s) in &called {
            histogram(
                metric.encode_family(&[("command", *name)])?,
                &s.latency.snapshot(),
            )?;
        }
        let metric = e.encode_descriptor(
            "respire_group_commit_batch_size",
            "Write commands per group-commit transaction",
            None,
            MetricType::Histogram,
        )?;
        histogram(metric, &m.batch_sizes.snapshot())?;

        let mut subscribed = 0;
        for client in instance.clients.iter() {
            let info = client.info.lock().unwrap();
            if info.sub + info.psub > 0 {
                subscribed += 1;
            }
        }
        let events = &instance.events;
        let nats = &instance.bus.nats;
        let counters: [(&str, &str, u64); 11] = [
            (
                "respire_commands_processed",
                "Requests read, known or not (INFO's total_commands_processed)",
                stats.commands_processed.load(Relaxed),
            ),
            (
                "respire_connections_received",
                "Connections accepted",
                stats.connections_received.load(Relaxed),
            ),
            (
                "respire_rejected_connections",
                "Connections refused (maxclients, protected mode)",
                stats.rejected_connections.load(Relaxed),
            ),
            (
                "respire_net_input_bytes",
                "Bytes read from clients",
                stats.net_input_bytes.load(Relaxed),
            ),
            (
                "respire_net_output_bytes",
                "Bytes written to clients",
                stats.net_output_bytes.load(Relaxed),
            ),
            (
                "respire_keyspace_hits",
                "Key lookups that found the key",
                stats.keyspace_hits.load(Relaxed),
            ),
            (
                "respire_keyspace_misses",
                "Key lookups that did not",
                stats.keyspace_misses.load(Relaxed),
            ),
            (
                "respire_expired_keys",
                "Keys expired by this instance",
                stats.expired_keys.load(Relaxed),
            ),
            (
                "respire_store_errors",
                "Database statements that failed",
                STORE_ERRORS.load(Relaxed),
            ),
            (
                "respire_store_retries",
                "Transactions or connections tried again after a conflict, deadlock or lost connection",
                STORE_RETRIES.load(Relaxed),
            ),
            (
                "respire_sequenced_events",
                "Events this instance numbered",
                events.sequenced_events.load(Relaxed),
            ),
        ];
        for (name, help, value) in counters {
            let c = ConstCounter::new(value);
            c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let mut gauges: Vec<(&str, &str, i64)> = vec![
            (
                "respire_connected_clients",
                "Client connections",
                instance.clients.len() as i64,
            ),
            (
                "respire_maxclients",
                "Most client connections accepted",
                config.maxclients as i64,
            ),
            (
                "respire_blocked_clients",
                "Clients waiting in a blocking command",
                m.blocked_clients.load(Relaxed),
            ),
            (
                "respire_pubsub_clients",
                "Clients subscribed to a channel or pattern",
                subscribed,
            ),
            (
                "respire_pubsub_channels",
                "Channels with a subscriber on this instance",
                instance.bus.channels(None).len() as i64,
            ),
            (
                "respire_pubsub_patterns",
                "Pattern subscriptions on this instance",
                instance.bus.numpat() as i64,
            ),
            (
                "respire_nats_enabled",
                "1 when NATS joins this instance to others",
                nats.is_some() as i64,
            ),
            (
                "respire_nats_connected",
                "1 while the NATS connection is up (0 without NATS)",
                nats.as_ref().is_some_and(|n| n.connected()) as i64,
            ),
            (
                "respire_database_up",
                "1 when the database answered this scrape",
                self.sequence.is_some() as i64,
            ),
            (
                "respire_event_delivered_sequence",
                "The last sequenced event handed to this instance's subscribers",
                *events.stream_tip.borrow(),
            ),
            (
                "respire_sequencer_holder",
                "1 when this instance numbers the event log",
                events.sequencer_holder.load(Relaxed) as i64,
            ),
            (
                "respire_publisher_holder",
                "1 when this instance publishes its datacenter's event stream",
                events.relay_holder.load(Relaxed) as i64,
            ),
            (
                "respire_publisher_position",
                "The last sequenced event published to the datacenter's stream",
                events.relay_position.load(Relaxed),
            ),
        ];
        let lag = self.sequence.and_then(|s| events.publisher_lag(s));
        if let Some(sequence) = self.sequence {
            gauges.push((
                "respire_event_sequence",
                "The last number given in the sequenced event log",
                sequence,
            ));
        }
        if let Some((lag_events, _)) = lag {
            gauges.push((
                "respire_publisher_lag_events",
                "Sequenced events not yet published",
                lag_events,
            ));
        }
        for (name, help, value) in gauges {
            let g = ConstGauge::new(value);
            g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        if let Some((_, lag_ms)) = lag {
            let g = ConstGauge::new(lag_ms as f64 / 1000.0);
            g.encode(e.encode_descriptor(
                "respire_publisher_lag_seconds",
                "How long the publisher has been behind",
                None,
                MetricType::Gauge,
            )?)?;
        }

        let pools = instance.store.pools();
        if !pools.is_empty() {
            let mut metric = e.encode_descriptor(
                "respire_db_pool_connections",
                "Database connections, by pool and state (in_use, idle)",
                None,
                MetricType::Gauge,
            )?;
            for PoolUse {
                pool, in_use, idle, ..
            } in &pools
            {
                for (state, n) in [("in_use", in_use), ("idle", idle)] {
                    let g = ConstGauge::new(*n as i64);
                    g.encode(metric.encode_family(&[("pool", *pool), ("state", state)])?)?;
                }
            }
            let mut metric = e.encode_descriptor(
                "respire_db_pool_max_connections",
                "Most connections a pool opens",
                None,
                MetricType::Gauge,
            )?;
            for p in &pools {
                let g = ConstGauge::new(p.max as i64);
                g.encode(metric.encode_family(&[("pool", p.pool)])?)?;
            }
        }

        Ok(())
    }
}
