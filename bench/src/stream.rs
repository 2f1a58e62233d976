//! A stream work queue: consumers of one group blocked in XREADGROUP,
//! acknowledging each batch with XACK, and a producer adding with XADD.
//! Two figures per target: entries through per second with 10 consumers
//! and one producer sending one XADD at a time, and the time from an XADD
//! being sent (to the target's first instance) to the reply of an
//! XREADGROUP already blocked on its subscriber instance (the second
//! instance of a multi-instance target).

use std::time::{Duration, Instant};

use anyhow::bail;

use super::report::Row;
use super::resp::{Conn, Value};
use super::targets::{DB, Target};
use super::workers::Percentiles;

const STREAM: &str = "respire-bench:jobs";
const GROUP: &str = "workers";
const CONSUMERS: usize = 10;

/// The entry ids of an XREADGROUP reply (RESP2).
fn ids(reply: &Value) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Value::Array(Some(streams)) = reply {
        for stream in streams {
            if let Value::Array(Some(pair)) = stream
                && let Some(Value::Array(Some(entries))) = pair.get(1)
            {
                for entry in entries {
                    if let Value::Array(Some(e)) = entry
                        && let Some(Value::Bulk(Some(id))) = e.first()
                    {
                        out.push(id.clone());
                    }
                }
            }
        }
    }
    out
}

/// A fresh stream with the group, on `addr`.
async fn fresh(addr: &str) -> anyhow::Result<()> {
    let mut conn = Conn::connect_db(addr, DB).await?;
    conn.cmd(&["DEL", STREAM]).await?.ok()?;
    conn.cmd(&["XGROUP", "CREATE", STREAM, GROUP, "$", "MKSTREAM"])
        .await?
        .ok()?;
    Ok(())
}

/// Entries per second through the group over about `seconds`.
async fn rate(addr: &str, seconds: f64) -> anyhow::Result<f64> {
    fresh(addr).await?;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut consumers = Vec::new();
    for i in 0..CONSUMERS {
        let mut conn = Conn::connect_db(addr, DB).await?;
        let done = done.clone();
        consumers.push(tokio::spawn(async move {
            let name = format!("c{i}");
            let mut consumed = 0u64;
            loop {
                let reply = conn
                    .cmd(&[
                        "XREADGROUP",
                        "GROUP",
                        GROUP,
                        &name,
                        "COUNT",
                        "10",
                        "BLOCK",
                        "1000",
                        "STREAMS",
                        STREAM,
                        ">",
                    ])
                    .await?
                    .ok()?;
                let got = ids(&reply);
                if got.is_empty() {
                    // Timed out after the producer stopped: drained.
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        return anyhow::Ok(consumed);
                    }
                    continue;
                }
                let mut ack: Vec<&[u8]> = vec![b"XACK", STREAM.as_bytes(), GROUP.as_bytes()];
                ack.extend(got.iter().map(|id| &id[..]));
                match conn.cmd(&ack).await?.ok()? {
                    Value::Int(n) if n as usize == got.len() => {}
                    other => bail!("XACK of {} answered {other:?}", got.len()),
                }
                consumed += got.len() as u64;
            }
        }));
    }
    let mut producer = Conn::connect_db(addr, DB).await?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut added = 0u64;
    while Instant::now() < deadline {
        producer
            .cmd(&["XADD", STREAM, "*", "job", "x"])
            .await?
            .ok()?;
        added += 1;
    }
    let producing = start.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut consumed = 0;
    for c in consumers {
        consumed += c.await??;
    }
    if consumed != added {
        bail!("{added} entries added, {consumed} consumed");
    }
    Ok(consumed as f64 / producing)
}

/// XADD sent on `addr` → reply of an XREADGROUP blocked on `sub_addr`,
/// `samples` times.
async fn latency(
    addr: &str,
    sub_addr: &str,
    samples: usize,
) -> anyhow::Result<Option<Percentiles>> {
    fresh(addr).await?;
    let mut consumer = Conn::connect_db(sub_addr, DB).await?;
    let mut producer = Conn::connect_db(addr, DB).await?;
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        consumer.queue(&[
            "XREADGROUP",
            "GROUP",
            GROUP,
            "c",
            "BLOCK",
            "5000",
            "STREAMS",
            STREAM,
            ">",
        ]);
        consumer.flush().await?;
        // Let the XREADGROUP block before the add.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let sent = Instant::now();
        producer
            .cmd(&["XADD", STREAM, "*", "job", "x"])
            .await?
            .ok()?;
        let reply = consumer.read().await?;
        let got = ids(&reply);
        if got.len() != 1 {
            bail!("XREADGROUP answered {reply:?}");
        }
        times.push(sent.elapsed());
        let mut ack: Vec<&[u8]> = vec![b"XACK", STREAM.as_bytes(), GROUP.as_bytes()];
        ack.push(&got[0]);
        consumer.cmd(&ack).await?.ok()?;
    }
    Ok(Percentiles::of(times))
}

/// The stream queue's rows on every target.
pub async fn rows(targets: &[Target], seconds: f64, samples: usize) -> anyhow::Result<Vec<Row>> {
    let mut rates = Vec::new();
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for target in targets {
        rates.push(Some(rate(&target.addr, seconds).await?));
        let timing = latency(&target.addr, &target.sub_addr, samples).await?;
        p50.push(timing.map(|p| p.p50));
        p99.push(timing.map(|p| p.p99));
    }
    Ok(vec![
        Row::new(
            "xqueue.rate",
            format!("XREADGROUP+XACK x{CONSUMERS} / XADD x1 group"),
            "entries/s",
        )
        .with_values(rates),
        Row::new(
            "xqueue.p50",
            "XADD -> blocked XREADGROUP (other instance) p50",
            "ms",
        )
        .with_values(p50),
        Row::new(
            "xqueue.p99",
            "XADD -> blocked XREADGROUP (other instance) p99",
            "ms",
        )
        .with_values(p99),
    ])
}
