//! A job queue: consumers blocked in BLPOP, a producer pushing with LPUSH.
//! Two figures per target: jobs through per second with 10 consumers and
//! one producer sending one LPUSH at a time, and the time from an LPUSH
//! being sent to the blocked consumer's BLPOP reply.

use std::time::{Duration, Instant};

use anyhow::bail;

use super::report::Row;
use super::resp::{Conn, Value};
use super::targets::{DB, Target};
use super::workers::Percentiles;

const QUEUE: &str = "respire-bench:queue";
const CONSUMERS: usize = 10;

/// Jobs per second through the queue over about `seconds`.
async fn rate(addr: &str, seconds: f64) -> anyhow::Result<f64> {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        let mut conn = Conn::connect_db(addr, DB).await?;
        let done = done.clone();
        consumers.push(tokio::spawn(async move {
            let mut popped = 0u64;
            loop {
                match conn.cmd(&["BLPOP", QUEUE, "1"]).await? {
                    Value::Array(Some(_)) => popped += 1,
                    // Timed out after the producer stopped: the queue is
                    // drained. (A timeout while it still pushes is a stall,
                    // a slow disk say: keep consuming.)
                    _ if done.load(std::sync::atomic::Ordering::SeqCst) => {
                        return anyhow::Ok(popped);
                    }
                    _ => {}
                }
            }
        }));
    }
    let mut producer = Conn::connect_db(addr, DB).await?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut pushed = 0u64;
    while Instant::now() < deadline {
        producer.cmd(&["LPUSH", QUEUE, "job"]).await?.ok()?;
        pushed += 1;
    }
    let producing = start.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut popped = 0;
    for c in consumers {
        popped += c.await??;
    }
    if popped != pushed {
        bail!("{pushed} jobs pushed, {popped} popped");
    }
    // Every LPUSH was answered within `producing`; its job reached a
    // consumer shortly after.
    Ok(popped as f64 / producing)
}

/// LPUSH sent → BLPOP reply on a consumer already blocked, `samples` times.
async fn latency(addr: &str, samples: usize) -> anyhow::Result<Option<Percentiles>> {
    let mut consumer = Conn::connect_db(addr, DB).await?;
    let mut producer = Conn::connect_db(addr, DB).await?;
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        consumer.queue(&["BLPOP", QUEUE, "5"]);
        consumer.flush().await?;
        // Let the BLPOP block before the push.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let sent = Instant::now();
        producer.cmd(&["LPUSH", QUEUE, "job"]).await?.ok()?;
        match consumer.read().await? {
            Value::Array(Some(_)) => times.push(sent.elapsed()),
            other => bail!("BLPOP answered {other:?}"),
        }
    }
    Ok(Percentiles::of(times))
}

/// The queue's rows: throughput and push-to-pop latency on every target.
pub async fn rows(targets: &[Target], seconds: f64, samples: usize) -> anyhow::Result<Vec<Row>> {
    let mut rates = Vec::new();
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for target in targets {
        rates.push(Some(rate(&target.addr, seconds).await?));
        let timing = latency(&target.addr, samples).await?;
        p50.push(timing.map(|p| p.p50));
        p99.push(timing.map(|p| p.p99));
    }
    Ok(vec![
        Row::new(
            "queue.rate",
            format!("BLPOP x{CONSUMERS} / LPUSH x1 queue"),
            "jobs/s",
        )
        .with_values(rates),
        Row::new("queue.p50", "LPUSH -> blocked BLPOP p50", "ms").with_values(p50),
        Row::new("queue.p99", "LPUSH -> blocked BLPOP p99", "ms").with_values(p99),
    ])
}
