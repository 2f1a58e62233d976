//! Delivery latency: a write's reply to the keyspace notification reaching
//! a PSUBSCRIBE connection, and a PUBLISH being sent to the message
//! reaching a SUBSCRIBE connection.

use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::mpsc;

use super::resp::{Conn, Value, pushed_message};
use super::targets::{DB, Target};
use super::workers::Percentiles;

/// Unrecorded iterations before the measured ones.
const WARMUP: usize = 20;
/// How long one message may take before it counts as lost.
const LOST_AFTER: Duration = Duration::from_secs(1);
/// Consecutive losses after which a probe gives up.
const GIVE_UP_AFTER: usize = 5;

/// One kind of round trip to time.
struct Probe {
    subscribe: [String; 2],
    /// The command of iteration `i`.
    command: fn(usize) -> Vec<String>,
    /// Whether message `(channel, payload)` is the one iteration `i` causes.
    matches: fn(usize, &[u8], &[u8]) -> bool,
    /// Time from the reply (else from sending the command).
    from_reply: bool,
    /// The subscriber gets the invalidations of a connection tracking the
    /// probe's keys (BCAST, redirected to it).
    tracking: bool,
}

/// What a probe found.
pub struct Timing {
    pub percentiles: Option<Percentiles>,
    pub lost: usize,
}

const LATENCY_KEY: &str = "respire-bench:lat:";
const LATENCY_CHANNEL: &str = "respire-bench:lat-chan";

/// Keyspace notifications: `SET` reply → `__keyspace@15__:<key>` receipt.
pub async fn notification(target: &Target, samples: usize) -> anyhow::Result<Timing> {
    let mut addrs = vec![&target.addr];
    if target.sub_addr != target.addr {
        addrs.push(&target.sub_addr);
    }
    let mut restore = Vec::new();
    for addr in addrs {
        let mut conn = Conn::connect(addr).await?;
        if target.is_reference() {
            let value = config_get(&mut conn, "notify-keyspace-events").await?;
            restore.push((addr.clone(), value));
        }
        conn.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"])
            .await?
            .ok()?;
    }
    let probe = Probe {
        subscribe: [
            "PSUBSCRIBE".into(),
            format!("__keyspace@{DB}__:{LATENCY_KEY}*"),
        ],
        command: |i| vec!["SET".into(), format!("{LATENCY_KEY}{i}"), "v".into()],
        matches: |i, channel, _| {
            channel == format!("__keyspace@{DB}__:{LATENCY_KEY}{i}").as_bytes()
        },
        from_reply: true,
        tracking: false,
    };
    let timing = run(&target.addr, &target.sub_addr, &probe, samples).await;
    for (addr, value) in restore {
        let mut conn = Conn::connect(&addr).await?;
        conn.cmd(&["CONFIG", "SET", "notify-keyspace-events", &value])
            .await?
            .ok()?;
    }
    timing
}

/// PUBLISH sent → message received on a SUBSCRIBE connection.
pub async fn publish(target: &Target, samples: usize) -> anyhow::Result<Timing> {
    let probe = Probe {
        subscribe: ["SUBSCRIBE".into(), LATENCY_CHANNEL.into()],
        command: |i| vec!["PUBLISH".into(), LATENCY_CHANNEL.into(), i.to_string()],
        matches: |i, _, payload| payload == i.to_string().as_bytes(),
        from_reply: false,
        tracking: false,
    };
    run(&target.addr, &target.sub_addr, &probe, samples).await
}

/// Keyspace notifications between two instances of one deployment: a
/// `SET` sent on `writer` → its `__keyspace@15__:<key>` notification
/// received by a PSUBSCRIBE connection on `subscriber`. Timed from sending
/// the write: across datacenters the notification may arrive before the
/// writer's reply has travelled back.
pub async fn notification_across(
    writer: &str,
    subscriber: &str,
    samples: usize,
) -> anyhow::Result<Timing> {
    let probe = Probe {
        subscribe: [
            "PSUBSCRIBE".into(),
            format!("__keyspace@{DB}__:{LATENCY_KEY}*"),
        ],
        command: |i| vec!["SET".into(), format!("{LATENCY_KEY}{i}"), "v".into()],
        matches: |i, channel, _| {
            channel == format!("__keyspace@{DB}__:{LATENCY_KEY}{i}").as_bytes()
        },
        from_reply: false,
        tracking: false,
    };
    run(writer, subscriber, &probe, samples).await
}

/// Client-side caching: a `SET` sent on `writer` → the invalidation of its
/// key received on `reader`, by the connection a tracking client there
/// redirects its invalidations to (BCAST on the probe's keys). Timed from
/// sending the write.
pub async fn invalidation(writer: &str, reader: &str, samples: usize) -> anyhow::Result<Timing> {
    let probe = Probe {
        subscribe: ["SUBSCRIBE".into(), "__redis__:invalidate".into()],
        command: |i| vec!["SET".into(), format!("{LATENCY_KEY}{i}"), "v".into()],
        matches: |i, _, key| key == format!("{LATENCY_KEY}{i}").as_bytes(),
        from_reply: false,
        tracking: true,
    };
    run(writer, reader, &probe, samples).await
}

/// Each `SET` on `addr`, sent → reply.
pub async fn write(addr: &str, samples: usize) -> anyhow::Result<Option<Percentiles>> {
    let mut conn = Conn::connect_db(addr, DB).await?;
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..WARMUP + samples {
        let key = format!("respire-bench:write:{i}");
        let sent = Instant::now();
        conn.cmd(&["SET", key.as_str(), "v"]).await?.ok()?;
        if i >= WARMUP {
            latencies.push(sent.elapsed());
        }
    }
    Ok(Percentiles::of(latencies))
}

async fn config_get(conn: &mut Conn, name: &str) -> anyhow::Result<String> {
    match conn.cmd(&["CONFIG", "GET", name]).await?.ok()? {
        Value::Array(Some(items)) => match items.get(1) {
            Some(Value::Bulk(Some(v))) => Ok(String::from_utf8_lossy(v).into_owned()),
            _ => bail!("CONFIG GET {name} answered no value"),
        },
        other => bail!("CONFIG GET {name} answered {other:?}"),
    }
}

async fn run(addr: &str, sub_addr: &str, probe: &Probe, samples: usize) -> anyhow::Result<Timing> {
    let mut subscriber = Conn::connect(sub_addr).await?;
    // Kept open while the probe runs.
    let mut _tracker = None;
    if probe.tracking {
        let id = match subscriber.cmd(&["CLIENT", "ID"]).await?.ok()? {
            Value::Int(id) => id.to_string(),
            other => bail!("CLIENT ID answered {other:?}"),
        };
        let mut conn = Conn::connect(sub_addr).await?;
        conn.cmd(&[
            "CLIENT",
            "TRACKING",
            "ON",
            "REDIRECT",
            &id,
            "BCAST",
            "PREFIX",
            LATENCY_KEY,
        ])
        .await?
        .ok()?;
        _tracker = Some(conn);
    }
    subscriber.cmd(&probe.subscribe).await?.ok()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = tokio::spawn(async move {
        while let Ok(value) = subscriber.read().await {
            let at = Instant::now();
            if let Some((channel, payload)) = pushed_message(&value)
                && tx.send((channel.to_vec(), payload.to_vec(), at)).is_err()
            {
                break;
            }
        }
    });
    let mut writer = Conn::connect_db(addr, DB).await?;
    let mut latencies = Vec::with_capacity(samples);
    let (mut lost, mut lost_in_a_row) = (0, 0);
    for i in 0..WARMUP + samples {
        let sent = Instant::now();
        writer.cmd(&(probe.command)(i)).await?.ok()?;
        let start = if probe.from_reply {
            Instant::now()
        } else {
            sent
        };
        let deadline = tokio::time::Instant::now() + LOST_AFTER;
        let received = loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((channel, payload, at))) if (probe.matches)(i, &channel, &payload) => {
                    break Some(at);
                }
                Ok(Some(_)) => continue,
                Ok(None) => bail!("the subscriber connection closed"),
                Err(_) => break None,
            }
        };
        match received {
            Some(at) => {
                lost_in_a_row = 0;
                if i >= WARMUP {
                    latencies.push(at.saturating_duration_since(start));
                }
            }
            None => {
                lost += 1;
                lost_in_a_row += 1;
                if lost_in_a_row >= GIVE_UP_AFTER {
                    break;
                }
            }
        }
    }
    listener.abort();
    Ok(Timing {
        percentiles: Percentiles::of(latencies),
        lost,
    })
}
