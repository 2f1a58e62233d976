//! Distance between datacenters. Instance A (the `mariadb+nats` target's
//! first instance) reaches MariaDB and NATS directly; instance B, a further
//! instance of the same deployment started for this figure, reaches both
//! through delaying proxies (the `delay-proxy` crate: every chunk forwarded
//! the delay later, each way). Measured first with no delay, then with it:
//! a `SET`'s latency on A and on B, and a keyspace notification's trip
//! across (written on one, received by a PSUBSCRIBE connection on the
//! other, timed from sending the write).

use std::time::{Duration, Instant};

use anyhow::bail;

use super::latency;
use super::report::Row;
use super::resp::{Conn, info_field};
use super::targets::Far;
use super::workers::Percentiles;

/// Where the figure's values go: one column of `columns`.
pub struct Column {
    pub index: usize,
    pub count: usize,
}

/// The figure's rows: for no delay and for `delay`, p50 and p99 of each
/// measure.
pub async fn rows(
    near: &str,
    far: &Far,
    delay: Duration,
    samples: usize,
    column: Column,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<Row>> {
    // A shared setting: every instance applies it to later writes.
    Conn::connect(near)
        .await?
        .cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"])
        .await?
        .ok()?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut rows = Vec::new();
    for d in [Duration::ZERO, delay] {
        far.set_delay(d);
        let ms = d.as_millis();
        wait_flowing(near, &far.addr).await?;
        wait_flowing(&far.addr, near).await?;
        let mut found: Vec<(&str, &str, Option<Percentiles>)> = vec![
            ("set_a", "SET on A", latency::write(near, samples).await?),
            (
                "set_b",
                "SET on B",
                latency::write(&far.addr, samples).await?,
            ),
        ];
        for (id, what, writer, subscriber) in [
            (
                "a_to_b",
                "write on A -> notified at B",
                near,
                far.addr.as_str(),
            ),
            (
                "b_to_a",
                "write on B -> notified at A",
                far.addr.as_str(),
                near,
            ),
        ] {
            let timing = latency::notification_across(writer, subscriber, samples).await?;
            if timing.lost > 0 {
                notes.push(format!(
                    "distance {ms} ms: {what}: {} of {samples} notifications lost (>1 s)",
                    timing.lost
                ));
            }
            found.push((id, what, timing.percentiles));
        }
        for (id, what, p) in found {
            for (q, value) in [("p50", p.map(|p| p.p50)), ("p99", p.map(|p| p.p99))] {
                let mut values = vec![None; column.count];
                values[column.index] = value;
                rows.push(
                    Row::new(
                        format!("distance.{ms}ms.{id}.{q}"),
                        format!("B {ms} ms away: {what} {q}"),
                        "ms",
                    )
                    .with_values(values),
                );
            }
        }
    }
    // Every event is numbered by the sequencer's holder before anyone is
    // notified: which side holds it shapes the figures.
    let mut holders = Vec::new();
    for (name, addr) in [("A", near), ("B", far.addr.as_str())] {
        if info_field(addr, "respire", "sequencer_holder")
            .await
            .as_deref()
            == Some("1")
        {
            holders.push(name);
        }
    }
    notes.push(format!(
        "distance: the sequencer lease was held by {} at the end",
        if holders.is_empty() {
            "neither A nor B".into()
        } else {
            holders.join(" and ")
        }
    ));
    Ok(rows)
}

/// Waits (up to 30 s) until a write on `writer` is notified on
/// `subscriber`: the far instance's event consumer is running.
async fn wait_flowing(writer: &str, subscriber: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let timing = latency::notification_across(writer, subscriber, 1).await?;
        if timing.lost == 0 && timing.percentiles.is_some() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("keyspace notifications from {writer} never reached {subscriber}");
        }
    }
}
