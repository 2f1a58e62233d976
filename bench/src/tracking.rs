//! Client-side caching (CLIENT TRACKING): what tracking costs the reads of
//! the clients that track, and how long an invalidation takes.
//!
//! - GET -c 50 with every connection tracking (default mode, so each read
//!   registers its key) against the same load without tracking, both from
//!   this tool's own closed-loop workers (redis-benchmark cannot turn
//!   tracking on), alternating so machine drift hits both alike.
//! - A write on the target's first instance → the invalidation reaching a
//!   tracking client of its second instance (the same instance where there
//!   is one): BCAST on the benchmark's key prefix, redirected to a
//!   connection subscribed to `__redis__:invalidate` (RESP2, as Redis 6
//!   clients do). Timed from sending the write.

use std::time::Duration;

use anyhow::bail;

use super::latency;
use super::report::Row;
use super::resp::{Conn, Value};
use super::targets::{DB, Target};
use super::workers::{alternate, median, ops_per_sec};

const CONNECTIONS: usize = 50;
/// The keys read, written before the runs.
const KEYS: usize = 1000;
const KEY: &str = "respire-bench:trk:";

/// This connection's client id.
async fn client_id(conn: &mut Conn) -> anyhow::Result<i64> {
    match conn.cmd(&["CLIENT", "ID"]).await?.ok()? {
        Value::Int(id) => Ok(id),
        other => bail!("CLIENT ID answered {other:?}"),
    }
}

/// A connection subscribed to `__redis__:invalidate` (its messages are
/// read and dropped while the load runs) and its client id.
async fn sink(addr: &str) -> anyhow::Result<(tokio::task::JoinHandle<()>, i64)> {
    let mut conn = Conn::connect(addr).await?;
    let id = client_id(&mut conn).await?;
    conn.cmd(&["SUBSCRIBE", "__redis__:invalidate"])
        .await?
        .ok()?;
    let task = tokio::spawn(async move { while conn.read().await.is_ok() {} });
    Ok((task, id))
}

/// GETs per second from [`CONNECTIONS`] connections, each tracking (its
/// invalidations redirected to a sink) or not.
async fn get_rate(addr: &str, seconds: f64, tracking: bool) -> anyhow::Result<f64> {
    let sink = if tracking {
        Some(sink(addr).await?)
    } else {
        None
    };
    let redirect = sink.as_ref().map(|(_, id)| id.to_string());
    let rate = ops_per_sec(
        CONNECTIONS,
        Duration::from_secs_f64(seconds),
        |i, deadline| {
            let (addr, redirect) = (addr.to_string(), redirect.clone());
            async move {
                let mut conn = Conn::connect_db(&addr, DB).await?;
                if let Some(id) = &redirect {
                    conn.cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", id])
                        .await?
                        .ok()?;
                }
                let mut done = 0u64;
                let mut key = i * 7919;
                while std::time::Instant::now() < deadline {
                    key = (key + 7) % KEYS;
                    conn.cmd(&["GET", &format!("{KEY}{key}")]).await?.ok()?;
                    done += 1;
                }
                Ok(done)
            }
        },
    )
    .await?;
    if let Some((task, _)) = sink {
        task.abort();
    }
    Ok(rate)
}

/// Writes the keys the GETs read.
async fn prepare(addr: &str) -> anyhow::Result<()> {
    let mut conn = Conn::connect_db(addr, DB).await?;
    let mut args = vec!["MSET".to_string()];
    for k in 0..KEYS {
        args.push(format!("{KEY}{k}"));
        args.push("v".into());
    }
    conn.cmd(&args).await?.ok()?;
    Ok(())
}

/// The tracking rows on every target.
pub async fn rows(
    targets: &[Target],
    seconds: f64,
    runs: usize,
    samples: usize,
) -> anyhow::Result<Vec<Row>> {
    for target in targets {
        prepare(&target.addr).await?;
    }
    let mut figures = Vec::new();
    for tracking in [false, true] {
        let samples = alternate(targets.len(), runs, async |t, _| {
            get_rate(&targets[t].addr, seconds, tracking).await
        })
        .await?;
        figures.push(samples.iter().map(|s| median(s)).collect::<Vec<_>>());
    }
    let (mut p50, mut p99) = (Vec::new(), Vec::new());
    for target in targets {
        let timing = latency::invalidation(&target.addr, &target.sub_addr, samples).await?;
        p50.push(timing.percentiles.map(|p| p.p50));
        p99.push(timing.percentiles.map(|p| p.p99));
    }
    let on = figures.pop().unwrap_or_default();
    let off = figures.pop().unwrap_or_default();
    Ok(vec![
        Row::new(
            "trk.get.off",
            "GET -c 50, no tracking (own workers)",
            "ops/s",
        )
        .with_values(off),
        Row::new("trk.get.on", "GET -c 50, every client tracking", "ops/s").with_values(on),
        Row::new("trk.inv.p50", "write on A -> invalidation on B p50", "ms").with_values(p50),
        Row::new("trk.inv.p99", "write on A -> invalidation on B p99", "ms").with_values(p99),
    ])
}
