//! Resident memory (VmRSS) of the servers: idle, holding many idle
//! connections, and holding many pub/sub subscribers.

use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;

use super::resp::{Conn, Value};
use super::targets::Target;

/// How long the server gets to settle before its RSS is read.
const SETTLE: Duration = Duration::from_millis(300);

/// The process's resident set, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// This process's (soft, hard) open-file limits, from /proc/self/limits.
fn fd_limits() -> anyhow::Result<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .context("no open-files limit")?;
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match numbers.as_slice() {
        [soft, hard, ..] => Ok((*soft, *hard)),
        _ => bail!("cannot read {line:?}"),
    }
}

/// Raises this process's soft open-file limit towards `want` (up to the
/// hard limit) with `prlimit`, so no libc binding is needed; children
/// started afterwards inherit it. Answers the soft limit in force.
pub fn raise_fd_limit(want: u64) -> u64 {
    let Ok((soft, hard)) = fd_limits() else {
        return 0;
    };
    if soft >= want {
        return soft;
    }
    let _ = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={}:{hard}", want.min(hard)))
        .status();
    fd_limits().map(|(soft, _)| soft).unwrap_or(soft)
}

/// Connections held open, each having run its setup command.
pub struct Held {
    pub conns: Vec<Conn>,
    /// Why fewer than asked were opened, if they were.
    pub shortfall: Option<String>,
}

/// Opens up to `n` connections to `addr`, each sending `setup(i)` and
/// expecting a non-error reply; stops at the first failure (e.g. the fd
/// limit) and keeps what it has.
pub async fn hold(addr: &str, n: usize, setup: fn(usize) -> Vec<String>) -> Held {
    let mut opened = futures::stream::iter(0..n)
        .map(|i| async move {
            let mut conn = Conn::connect(addr).await?;
            match conn.cmd(&setup(i)).await? {
                Value::Error(e) => bail!("server answered {e}"),
                _ => Ok(conn),
            }
        })
        .buffer_unordered(64);
    let mut held = Held {
        conns: Vec::with_capacity(n),
        shortfall: None,
    };
    while let Some(result) = opened.next().await {
        match result {
            Ok(conn) => held.conns.push(conn),
            Err(e) => {
                held.shortfall = Some(format!("{e:#}"));
                break;
            }
        }
    }
    held
}

/// RSS with `n` connections held (each set up by `setup`), and the number
/// actually held.
pub struct Loaded {
    pub base_kib: u64,
    pub loaded_kib: u64,
    pub held: usize,
    pub shortfall: Option<String>,
}

impl Loaded {
    /// KiB added per held connection.
    pub fn per_connection(&self) -> Option<f64> {
        (self.held > 0).then(|| (self.loaded_kib as f64 - self.base_kib as f64) / self.held as f64)
    }
}

/// Measures `target`'s RSS before and while `n` connections are held.
pub async fn loaded(
    target: &Target,
    n: usize,
    setup: fn(usize) -> Vec<String>,
) -> anyhow::Result<Loaded> {
    tokio::time::sleep(SETTLE).await;
    let base_kib = rss_kib(target.pid)?;
    let held = hold(&target.addr, n, setup).await;
    tokio::time::sleep(SETTLE).await;
    let loaded_kib = rss_kib(target.pid)?;
    let result = Loaded {
        base_kib,
        loaded_kib,
        held: held.conns.len(),
        shortfall: held.shortfall,
    };
    drop(held.conns);
    Ok(result)
}

/// An idle connection's setup: one PING.
pub fn ping(_: usize) -> Vec<String> {
    vec!["PING".into()]
}

/// A subscriber's setup: SUBSCRIBE to its own channel.
pub fn subscribe(i: usize) -> Vec<String> {
    vec!["SUBSCRIBE".into(), format!("respire-bench:sub:{i}")]
}

/// Connections that share the distinct-key load.
const KEY_CLIENTS: usize = 8;

/// RSS growth per distinct key a client names, in bytes: `n` GETs of
/// distinct keys that do not exist, one request at a time on each of a few
/// connections (as `redis-benchmark -r` sends them), measured around the
/// load. A server that remembers what clients name (for OBJECT IDLETIME,
/// say) must not keep memory in proportion to it.
pub async fn per_distinct_key(target: &Target, n: usize) -> anyhow::Result<f64> {
    tokio::time::sleep(SETTLE).await;
    let base_kib = rss_kib(target.pid)?;
    let run = rand::random::<u32>();
    let loads = (0..KEY_CLIENTS).map(|c| {
        let addr = target.addr.clone();
        async move {
            let mut conn = Conn::connect(&addr).await?;
            for i in (c..n).step_by(KEY_CLIENTS) {
                let key = format!("respire-bench:missing:{run}:{i:012}");
                if let Value::Error(e) = conn.cmd(&["GET", &key]).await? {
                    bail!("GET answered {e}");
                }
            }
            anyhow::Ok(())
        }
    });
    futures::future::try_join_all(loads).await?;
    tokio::time::sleep(SETTLE).await;
    let grown_kib = rss_kib(target.pid)?.saturating_sub(base_kib);
    Ok(grown_kib as f64 * 1024.0 / n as f64)
}

/// Names per SUBSCRIBE (or PSUBSCRIBE) command of [`subscriptions`].
const NAMES_PER_COMMAND: usize = 1000;

/// The reference's `used_memory` (INFO memory), bytes; `None` for respire.
async fn used_memory(target: &Target) -> Option<u64> {
    if target.store.is_some() {
        return None;
    }
    super::resp::info_field(&target.sub_addr, "memory", "used_memory")
        .await?
        .parse()
        .ok()
}

/// What [`subscriptions`] measured.
pub struct SubscriptionCost {
    /// Seconds to subscribe.
    pub seconds: f64,
    /// RSS growth while subscribed, MiB.
    pub grown_mib: f64,
    /// RSS after unsubscribing all, over RSS before subscribing.
    pub after_ratio: f64,
}

/// What `n` subscriptions cost: one client subscribes to `n` distinct
/// channels (or patterns, `pattern`) on the target's subscriber instance
/// (with NATS, the instance that does not publish), then a message
/// published on the other instance must reach it; then it unsubscribes
/// from all and the RSS is read again.
pub async fn subscriptions(
    target: &Target,
    n: usize,
    pattern: bool,
) -> anyhow::Result<SubscriptionCost> {
    tokio::time::sleep(SETTLE).await;
    let base_kib = rss_kib(target.sub_pid)?;
    let used_before = used_memory(target).await;
    let run = rand::random::<u32>();
    let name = |i: usize| {
        if pattern {
            format!("respire-bench:pat:{run}:{i}:*")
        } else {
            format!("respire-bench:chan:{run}:{i}")
        }
    };
    let (subscribe, unsubscribe) = if pattern {
        ("PSUBSCRIBE", "PUNSUBSCRIBE")
    } else {
        ("SUBSCRIBE", "UNSUBSCRIBE")
    };
    let mut sub = Conn::connect(&target.sub_addr).await?;
    let start = std::time::Instant::now();
    for first in (0..n).step_by(NAMES_PER_COMMAND) {
        let mut args = vec![subscribe.to_string()];
        args.extend((first..(first + NAMES_PER_COMMAND).min(n)).map(name));
        sub.queue(&args);
        sub.flush().await?;
        for _ in 1..args.len() {
            sub.read().await?.ok()?;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut publisher = Conn::connect(&target.addr).await?;
    let last = format!(
        "respire-bench:{}:{run}:{}",
        if pattern { "pat" } else { "chan" },
        n - 1
    );
    let channel = if pattern { format!("{last}:x") } else { last };
    publisher.cmd(&["PUBLISH", &channel, "hello"]).await?.ok()?;
    let message = tokio::time::timeout(Duration::from_secs(10), sub.read())
        .await
        .context("the message to the last subscription never arrived")??;
    if super::resp::pushed_message(&message).map(|(c, _)| c) != Some(channel.as_bytes()) {
        bail!("unexpected message {message:?}");
    }
    tokio::time::sleep(SETTLE).await;
    let mut grown_kib = rss_kib(target.sub_pid)?.saturating_sub(base_kib);
    // Redis keeps the pages earlier figures freed and fills them first:
    // its RSS may hardly move for what it allocated. Its own count of
    // what it allocated is then the truer cost.
    if let (Some(before), Some(now)) = (used_before, used_memory(target).await) {
        grown_kib = grown_kib.max(now.saturating_sub(before) / 1024);
    }
    // All at once: one reply per name.
    sub.queue(&[unsubscribe]);
    sub.flush().await?;
    for _ in 0..n {
        sub.read().await?.ok()?;
    }
    tokio::time::sleep(SETTLE * 2).await;
    let after_kib = rss_kib(target.sub_pid)?;
    drop(sub);
    Ok(SubscriptionCost {
        seconds,
        grown_mib: grown_kib as f64 / 1024.0,
        after_ratio: after_kib as f64 / base_kib as f64,
    })
}
