//! `respire-bench`: respire (embedded store, MariaDB, MariaDB + NATS when
//! available) against the reference Redis and the database's own ceiling,
//! in one run. It drives `respire` processes and never links the server's
//! library. See README.md, "Benchmark".

mod ceiling;
mod cpu;
mod distance;
mod exec;
mod goals;
mod ion;
mod latency;
mod memory;
mod nats;
mod queue;
mod report;
mod resp;
mod stream;
mod targets;
mod throughput;
mod tracking;
mod workers;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use ceiling::Ceiling;
use report::{Report, Row};
use targets::{DB, Fleet, Setup, Store, Target};

/// Command-line options.
#[derive(clap::Parser, Debug)]
#[command(
    name = "respire-bench",
    about = "Benchmark respire against Redis and its database"
)]
pub struct Options {
    /// One run per figure and shorter runs (finishes in under two minutes).
    #[arg(long)]
    pub quick: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// redis-benchmark runs per figure (the median is reported); default 3,
    /// 1 with --quick.
    #[arg(long)]
    pub runs: Option<usize>,
    /// The reference Redis.
    #[arg(long, default_value = "127.0.0.1:6379")]
    pub reference: String,
    /// MariaDB/MySQL server (a fresh database is created and dropped).
    #[arg(long, default_value = "mysql://root@127.0.0.1:3306")]
    pub mysql_url: String,
    /// NATS server, for respire builds that have --nats-url.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// The respire binary (default: next to this executable).
    #[arg(long)]
    pub respire: Option<PathBuf>,
    /// One-way delay, in milliseconds, between the two datacenters of the
    /// distance figure (0: no distance figure).
    #[arg(long, default_value_t = 20)]
    pub distance_ms: u64,
}

/// Durations and counts of one run.
struct Plan {
    throughput: throughput::Plan,
    ceiling_seconds: f64,
    latency_samples: usize,
    /// Samples per distance measure (each costs round trips to a far
    /// datacenter).
    distance_samples: usize,
    ion_seconds: f64,
    connections: usize,
    subscribers: usize,
    /// Distinct missing keys read for "RSS growth per distinct key".
    distinct_keys: usize,
    /// Channels one client subscribes to for "channel subscriptions".
    channels: usize,
    /// Patterns one client subscribes to for "pattern subscriptions".
    patterns: usize,
}

impl Plan {
    fn new(options: &Options) -> Plan {
        let runs = options
            .runs
            .unwrap_or(if options.quick { 1 } else { 3 })
            .max(1);
        let (seconds, ceiling_seconds, latency_samples, ion_seconds) = if options.quick {
            (0.5, 1.0, 300, 2.0)
        } else {
            (1.5, 4.0, 2000, 5.0)
        };
        Plan {
            throughput: throughput::Plan { seconds, runs },
            ceiling_seconds,
            latency_samples,
            distance_samples: if options.quick { 30 } else { 100 },
            ion_seconds,
            connections: 5000,
            subscribers: 10_000,
            distinct_keys: 100_000,
            channels: 100_000,
            patterns: 10_000,
        }
    }
}

/// Progress on stderr, with the time since the start.
struct Progress(Instant);

impl Progress {
    fn say(&self, what: &str) {
        eprintln!("[{:>5.1}s] {what}", self.0.elapsed().as_secs_f64());
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use clap::Parser as _;
    run(Options::parse()).await
}

async fn run(options: Options) -> anyhow::Result<()> {
    let progress = Progress(Instant::now());
    let plan = Plan::new(&options);
    let fd_limit = memory::raise_fd_limit(plan.connections as u64 * 2 + 1024);
    let setup = Setup {
        respire: match &options.respire {
            Some(path) => path.clone(),
            None => targets::locate_respire()?,
        },
        reference: options.reference.clone(),
        mysql: options.mysql_url.clone(),
        nats: options.nats_url.clone(),
    };
    progress.say(&format!("starting targets ({})", setup.respire.display()));
    let mut fleet = Fleet::new(&setup)?;
    // The respire instances start empty; the shared reference is emptied
    // before and after.
    flush(&options.reference).await?;
    let outcome = tokio::select! {
        outcome = async {
            fleet.start(&setup).await?;
            let (mut rows, mut notes) = measure(&fleet.targets, &plan, &progress).await?;
            if options.distance_ms > 0 {
                let delay = Duration::from_millis(options.distance_ms);
                progress.say(&format!("distance: a datacenter {} ms away", delay.as_millis()));
                match distance_rows(&mut fleet, &setup, &plan, delay, &mut notes).await {
                    Ok(more) => rows.extend(more),
                    Err(e) => notes.push(format!("distance figure skipped: {e:#}")),
                }
            }
            Ok((rows, notes))
        } => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    let _ = flush(&options.reference).await;
    let columns = fleet.targets.iter().map(|t| t.name.clone()).collect();
    let mut notes = std::mem::take(&mut fleet.notes);
    let targets = std::mem::take(&mut fleet.targets);
    notes.extend(fleet.shutdown().await);
    let (rows, more_notes) = outcome?;
    notes.extend(more_notes);
    notes.push(format!("open-file limit {fd_limit}"));
    let meta = vec![
        ("respire".into(), setup.respire.display().to_string()),
        (
            "mode".into(),
            if options.quick { "quick" } else { "full" }.into(),
        ),
        ("runs".into(), plan.throughput.runs.to_string()),
        (
            "seconds_per_run".into(),
            plan.throughput.seconds.to_string(),
        ),
        (
            "elapsed_s".into(),
            format!("{:.1}", progress.0.elapsed().as_secs_f64()),
        ),
    ];
    let mut report = Report {
        reference: targets.iter().position(Target::is_reference).unwrap_or(0),
        columns,
        rows,
        notes,
        meta,
        goals: Vec::new(),
    };
    report.goals = goals::evaluate(&report, &targets);
    print!("{}\n{}", report.table(), report.summary());
    if let Some(path) = &options.out {
        std::fs::write(path, report.json())?;
        println!("written: {}", path.display());
    }
    Ok(())
}

/// The distance figure on the `mariadb+nats` deployment: its first
/// instance is A, a far instance started now is B.
async fn distance_rows(
    fleet: &mut Fleet,
    setup: &Setup,
    plan: &Plan,
    delay: Duration,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<Row>> {
    let Some(index) = fleet.targets.iter().position(|t| t.name == "mariadb+nats") else {
        anyhow::bail!("it needs the mariadb+nats target");
    };
    let near = fleet.targets[index].addr.clone();
    let count = fleet.targets.len();
    let Some(far) = fleet.start_far(setup).await? else {
        anyhow::bail!("it needs the mariadb+nats target");
    };
    let column = distance::Column { index, count };
    distance::rows(&near, &far, delay, plan.distance_samples, column, notes).await
}

/// Empties database 15 of `addr`.
async fn flush(addr: &str) -> anyhow::Result<()> {
    resp::Conn::connect_db(addr, DB)
        .await?
        .cmd(&["FLUSHDB"])
        .await?
        .ok()?;
    Ok(())
}

/// Every phase; answers the rows and notes.
async fn measure(
    targets: &[Target],
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<(Vec<Row>, Vec<String>)> {
    let mut notes = Vec::new();
    progress.say("memory: idle, idle connections, subscribers, channels, distinct keys");
    let mut rows = memory_rows(targets, plan, &mut notes).await?;

    // First, while database 15 holds nothing else for KEYS to scan.
    progress.say("ion-like mix");
    let ion = ion::measure(targets, plan.ion_seconds, plan.throughput.runs).await?;

    progress.say("MULTI/EXEC: transfers and audits");
    rows.extend(exec::rows(targets, plan.ion_seconds, plan.throughput.runs).await?);

    progress.say("throughput: redis-benchmark");
    throughput::prepare(targets).await?;
    let mut bench = throughput::measure(targets, &plan.throughput).await?;

    progress.say("CPU per command: SET, GET, HSET, LPUSH");
    bench.extend(cpu::rows(targets).await?);

    progress.say("database ceiling");
    let ceilings = ceilings(targets, plan.ceiling_seconds).await?;
    attach_ceilings(&mut bench, targets, &ceilings);
    rows.extend(ceiling_rows(targets, &ceilings));
    rows.extend(bench);

    progress.say("latency: keyspace notifications and PUBLISH");
    rows.extend(latency_rows(targets, plan.latency_samples, &mut notes).await?);

    progress.say("queue: BLPOP consumers, an LPUSH producer");
    rows.extend(queue::rows(targets, plan.throughput.seconds, plan.latency_samples).await?);

    progress.say("stream queue: XREADGROUP consumers, an XADD producer");
    rows.extend(stream::rows(targets, plan.throughput.seconds, plan.latency_samples).await?);

    progress.say("client-side caching: GET with tracking, invalidation latency");
    rows.extend(
        tracking::rows(
            targets,
            plan.throughput.seconds,
            plan.throughput.runs,
            plan.latency_samples,
        )
        .await?,
    );

    rows.push(ion);
    rows.extend(sequencing_rows(targets).await);

    let after: Vec<Option<f64>> = targets
        .iter()
        .map(|t| memory::rss_kib(t.pid).ok().map(mib))
        .collect();
    rows.push(Row::new("rss.after", "RSS idle after the load", "MiB").with_values(after));
    progress.say("done");
    Ok((rows, notes))
}

/// The cost of sequencing the event log over the whole run: events each
/// sequencer transaction numbered, and the statements that costs per event
/// (a transaction is BEGIN, four statements and COMMIT), summed over a
/// target's instances (whichever holds the sequencer lease).
async fn sequencing_rows(targets: &[Target]) -> Vec<Row> {
    const STATEMENTS: f64 = 6.0;
    let mut per_batch = Vec::new();
    for target in targets {
        let mut addrs = vec![target.addr.as_str()];
        if target.sub_addr != target.addr {
            addrs.push(&target.sub_addr);
        }
        let (mut batches, mut events) = (0.0, 0.0);
        for addr in addrs {
            if let Ok(info) = info_fields(addr, "respire").await {
                batches += info.get("sequencer_batches").copied().unwrap_or(0.0);
                events += info.get("sequenced_events").copied().unwrap_or(0.0);
            }
        }
        per_batch.push((batches > 0.0).then(|| events / batches));
    }
    let per_event = per_batch
        .iter()
        .map(|v| v.map(|n| STATEMENTS / n))
        .collect();
    vec![
        Row::new("seq.batch", "events per sequencer transaction", "events").with_values(per_batch),
        Row::new("seq.cost", "sequencer statements per event", "stmts").with_values(per_event),
    ]
}

/// The numeric `name:value` lines of an INFO section.
async fn info_fields(
    addr: &str,
    section: &str,
) -> anyhow::Result<std::collections::HashMap<String, f64>> {
    let mut conn = resp::Conn::connect(addr).await?;
    let resp::Value::Bulk(Some(info)) = conn.cmd(&["INFO", section]).await?.ok()? else {
        return Err(anyhow!("INFO did not answer a bulk string"));
    };
    Ok(String::from_utf8_lossy(&info)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect())
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn memory_rows(
    targets: &[Target],
    plan: &Plan,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<Row>> {
    let idle = Row::new("rss.idle", "RSS idle (fresh start)", "MiB").with_values(
        targets
            .iter()
            .map(|t| memory::rss_kib(t.pid).ok().map(mib))
            .collect(),
    );
    let mut rows = vec![idle];
    let kinds = [
        (
            "conn",
            "idle connections",
            plan.connections,
            memory::ping as fn(usize) -> Vec<String>,
        ),
        ("sub", "subscribers", plan.subscribers, memory::subscribe),
    ];
    for (id, what, n, setup) in kinds {
        let mut total = Vec::new();
        let mut per = Vec::new();
        for target in targets {
            let loaded = memory::loaded(target, n, setup).await?;
            if let Some(why) = &loaded.shortfall {
                notes.push(format!(
                    "{}: held {} of {n} {what}: {why}",
                    target.name, loaded.held
                ));
            }
            total.push(Some(mib(loaded.loaded_kib)));
            per.push(loaded.per_connection());
        }
        rows.push(
            Row::new(format!("rss.{id}s"), format!("RSS with {n} {what}"), "MiB")
                .with_values(total),
        );
        rows.push(
            Row::new(
                format!("rss.per_{id}"),
                format!("RSS per {}", what.trim_end_matches('s')),
                "KiB",
            )
            .with_values(per),
        );
    }
    let mut per_key = Vec::new();
    for target in targets {
        per_key.push(Some(
            memory::per_distinct_key(target, plan.distinct_keys).await?,
        ));
    }
    for (id, what, n, pattern) in [
        ("chan", "channel subscriptions", plan.channels, false),
        ("pat", "pattern subscriptions", plan.patterns, true),
    ] {
        let (mut took, mut grown, mut after) = (Vec::new(), Vec::new(), Vec::new());
        for target in targets {
            let cost = memory::subscriptions(target, n, pattern).await?;
            took.push(Some(cost.seconds));
            grown.push(Some(cost.grown_mib));
            after.push(Some(cost.after_ratio));
        }
        rows.push(
            Row::new(format!("{id}.time"), format!("{n} {what}: time"), "s").with_values(took),
        );
        rows.push(
            Row::new(
                format!("{id}.rss"),
                format!("{n} {what}: RSS growth"),
                "MiB",
            )
            .with_values(grown),
        );
        rows.push(
            Row::new(
                format!("{id}.after"),
                format!("{n} {what}: RSS after unsubscribing / before"),
                "x",
            )
            .with_values(after),
        );
    }
    rows.push(
        Row::new(
            "rss.per_key",
            format!(
                "RSS growth per distinct key touched ({} GETs of missing keys)",
                plan.distinct_keys
            ),
            "B",
        )
        .with_values(per_key),
    );
    Ok(rows)
}

/// One ceiling per kind of store (every MySQL target shares the server).
async fn ceilings(targets: &[Target], seconds: f64) -> anyhow::Result<Vec<(Store, Ceiling)>> {
    let mut found: Vec<(Store, Ceiling)> = Vec::new();
    for store in targets.iter().filter_map(|t| t.store.as_ref()) {
        if found.iter().all(|(s, _)| !same_kind(s, store)) {
            found.push((store.clone(), ceiling::measure(store, seconds).await?));
        }
    }
    Ok(found)
}

fn same_kind(a: &Store, b: &Store) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn ceiling_of<'a>(target: &Target, ceilings: &'a [(Store, Ceiling)]) -> Option<&'a Ceiling> {
    let store = target.store.as_ref()?;
    ceilings
        .iter()
        .find(|(s, _)| same_kind(s, store))
        .map(|(_, c)| c)
}

/// The ceiling each write and read row is compared with: upserts for
/// SET/HSET/INCR, point selects for GET/HGETALL, at -c 1 the concurrency-1
/// figure, else the concurrency-50 one.
fn attach_ceilings(rows: &mut [Row], targets: &[Target], ceilings: &[(Store, Ceiling)]) {
    for row in rows {
        let (test, mode) = row.id.split_once('.').unwrap_or_default();
        let at = usize::from(mode != "c1");
        row.ceiling = targets
            .iter()
            .map(|t| {
                let c = ceiling_of(t, ceilings)?;
                match test {
                    "set" | "hset" | "incr" => Some(c.upsert[at]),
                    "get" | "hgetall" => Some(c.select[at]),
                    _ => None,
                }
            })
            .collect();
    }
}

fn ceiling_rows(targets: &[Target], ceilings: &[(Store, Ceiling)]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (id, what, pick) in [
        (
            "upsert",
            "DB upsert",
            (|c: &Ceiling| c.upsert) as fn(&Ceiling) -> [f64; 2],
        ),
        ("select", "DB point-select", |c: &Ceiling| c.select),
    ] {
        for (i, workers) in ceiling::CONCURRENCY.into_iter().enumerate() {
            let values = targets
                .iter()
                .map(|t| ceiling_of(t, ceilings).map(|c| pick(c)[i]))
                .collect();
            rows.push(
                Row::new(
                    format!("db.{id}.c{workers}"),
                    format!("{what} c{workers}"),
                    "ops/s",
                )
                .with_values(values),
            );
        }
    }
    rows
}

async fn latency_rows(
    targets: &[Target],
    samples: usize,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (id, what) in [
        ("notify", "keyspace notification"),
        ("publat", "PUBLISH -> receipt"),
    ] {
        let mut found = Vec::new();
        for target in targets {
            let timing = match id {
                "notify" => latency::notification(target, samples).await?,
                _ => latency::publish(target, samples).await?,
            };
            if timing.lost > 0 {
                notes.push(format!(
                    "{}: {what}: {} of {samples} messages lost (>1 s)",
                    target.name, timing.lost
                ));
            }
            found.push(timing.percentiles);
        }
        for (q, pick) in [
            (
                "p50",
                (|p: &workers::Percentiles| p.p50) as fn(&workers::Percentiles) -> f64,
            ),
            ("p99", |p| p.p99),
            ("p999", |p| p.p999),
        ] {
            let values = found.iter().map(|p| p.as_ref().map(pick)).collect();
            let label = if q == "p999" { "p99.9" } else { q };
            rows.push(
                Row::new(format!("{id}.{q}"), format!("{what} {label}"), "ms").with_values(values),
            );
        }
    }
    Ok(rows)
}
