//! Throughput with `redis-benchmark`: each test at each concurrency on
//! every target, targets alternating within a test so machine drift hits
//! all alike; the median of the runs is reported.

use std::collections::HashMap;

use anyhow::{Context as _, bail};
use tokio::process::Command;

use super::report::Row;
use super::resp::Conn;
use super::targets::{DB, Target};
use super::workers::alternate;

/// The hash HGETALL reads, filled before the runs.
const HASH_KEY: &str = "respire-bench:hash";
const HASH_FIELDS: usize = 10;
/// The sorted set ZRANGE reads, filled before the runs.
const ZSET_KEY: &str = "respire-bench:zset";
const ZSET_MEMBERS: usize = 100;
/// The script EVALSHA runs, and its SHA1.
const INCR_SCRIPT: &str = "return redis.call('incr', KEYS[1])";
const INCR_SCRIPT_SHA: &str = "2bab3b661081db58bd2341920e0ba7cf5dc77b25";

/// One redis-benchmark test: built in (`-t name`) or a custom command.
pub struct Test {
    pub name: &'static str,
    args: &'static [&'static str],
}

pub const TESTS: &[Test] = &[
    Test {
        name: "SET",
        args: &["-t", "set"],
    },
    Test {
        name: "GET",
        args: &["-t", "get"],
    },
    Test {
        name: "HSET",
        args: &["HSET", "respire-bench:h:__rand_int__", "f", "v"],
    },
    Test {
        name: "HGETALL",
        args: &["HGETALL", HASH_KEY],
    },
    Test {
        name: "INCR",
        args: &["-t", "incr"],
    },
    // LPOP pops what LPUSH pushed (redis-benchmark's `mylist`).
    Test {
        name: "LPUSH",
        args: &["-t", "lpush"],
    },
    Test {
        name: "LPOP",
        args: &["-t", "lpop"],
    },
    Test {
        name: "SADD",
        args: &["-t", "sadd"],
    },
    Test {
        name: "ZADD",
        args: &["-t", "zadd"],
    },
    Test {
        name: "ZRANGE",
        args: &["ZRANGE", ZSET_KEY, "0", "9", "WITHSCORES"],
    },
    // One entry to one of 10,000 streams.
    Test {
        name: "XADD",
        args: &["XADD", "respire-bench:stream:__rand_int__", "*", "f", "v"],
    },
    // A small script, loaded on every target before the runs.
    Test {
        name: "EVALSHA",
        args: &[
            "EVALSHA",
            INCR_SCRIPT_SHA,
            "1",
            "respire-bench:counter:__rand_int__",
        ],
    },
    Test {
        name: "PUBLISH",
        args: &["PUBLISH", "respire-bench:chan:__rand_int__", "hello"],
    },
];

/// Clients and pipeline depth.
pub struct Mode {
    pub id: &'static str,
    pub name: &'static str,
    pub clients: u32,
    pub pipeline: u32,
}

pub const MODES: &[Mode] = &[
    Mode {
        id: "c1",
        name: "-c 1",
        clients: 1,
        pipeline: 1,
    },
    Mode {
        id: "c50",
        name: "-c 50",
        clients: 50,
        pipeline: 1,
    },
    Mode {
        id: "c50p16",
        name: "-c 50 -P 16",
        clients: 50,
        pipeline: 16,
    },
];

/// The row id of a test in a mode, e.g. `set.c50`.
pub fn row_id(test: &str, mode: &str) -> String {
    format!("{}.{mode}", test.to_ascii_lowercase())
}

/// How long each measured run should last and how many there are.
pub struct Plan {
    pub seconds: f64,
    pub runs: usize,
}

/// Fills the HGETALL hash and the ZRANGE sorted set, and loads EVALSHA's
/// script, on every target.
pub async fn prepare(targets: &[Target]) -> anyhow::Result<()> {
    let mut args = vec!["HSET".to_string(), HASH_KEY.to_string()];
    for i in 0..HASH_FIELDS {
        args.push(format!("field:{i}"));
        args.push(format!("value-{i:04}"));
    }
    let mut zadd = vec!["ZADD".to_string(), ZSET_KEY.to_string()];
    for i in 0..ZSET_MEMBERS {
        zadd.push(i.to_string());
        zadd.push(format!("member:{i:04}"));
    }
    for target in targets {
        let mut conn = Conn::connect_db(&target.addr, DB).await?;
        conn.cmd(&args).await?.ok()?;
        conn.cmd(&zadd).await?.ok()?;
        let load = ["SCRIPT".to_string(), "LOAD".into(), INCR_SCRIPT.into()];
        let sha = conn.cmd(&load).await?.ok()?;
        let expected = super::resp::Value::Bulk(Some(INCR_SCRIPT_SHA.as_bytes().to_vec()));
        anyhow::ensure!(sha == expected, "SCRIPT LOAD answered {sha:?}");
    }
    Ok(())
}

/// Every test in every mode on every target; one row per test and mode.
pub async fn measure(targets: &[Target], plan: &Plan) -> anyhow::Result<Vec<Row>> {
    // The last rate seen per target, test and mode, to size the next run.
    let mut rates: HashMap<(usize, &str, &str), f64> = HashMap::new();
    let mut rows = Vec::new();
    for test in TESTS {
        for (m, mode) in MODES.iter().enumerate() {
            let samples = alternate(targets.len(), plan.runs, async |t, _| {
                let previous = m.checked_sub(1).map(|p| (t, test.name, MODES[p].id));
                let estimate = rates
                    .get(&(t, test.name, mode.id))
                    .or_else(|| rates.get(&previous?))
                    .copied()
                    .unwrap_or(1000.0);
                let measured = sized_run(&targets[t].addr, test, mode, estimate, plan.seconds)
                    .await
                    .with_context(|| {
                        format!("{} {} on {}", test.name, mode.name, targets[t].name)
                    })?;
                rates.insert((t, test.name, mode.id), measured);
                Ok(measured)
            })
            .await?;
            let row = Row::new(
                row_id(test.name, mode.id),
                format!("{} {}", test.name, mode.name),
                "ops/s",
            )
            .with_samples(samples);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// A run of about `seconds` given the rate `estimate`; when the estimate
/// was far too low (the run was too short to time well), the run is
/// repeated with the rate it found.
async fn sized_run(
    addr: &str,
    test: &Test,
    mode: &Mode,
    mut estimate: f64,
    seconds: f64,
) -> anyhow::Result<f64> {
    let least = (mode.clients * mode.pipeline * 4).max(100) as f64;
    for _ in 0..3 {
        let requests = (estimate * seconds).clamp(least, 5_000_000.0);
        let rate = run(addr, test, mode, requests as u64).await?;
        if requests / rate >= seconds / 3.0 {
            return Ok(rate);
        }
        estimate = rate;
    }
    Ok(estimate)
}

/// One redis-benchmark run; answers its requests per second.
async fn run(addr: &str, test: &Test, mode: &Mode, requests: u64) -> anyhow::Result<f64> {
    let (host, port) = addr.rsplit_once(':').context("address without a port")?;
    let output = Command::new("redis-benchmark")
        .args(["-h", host, "-p", port, "--dbnum", &DB.to_string()])
        .args([
            "-c",
            &mode.clients.to_string(),
            "-P",
            &mode.pipeline.to_string(),
        ])
        .args(["-n", &requests.to_string(), "-r", "10000", "--csv"])
        .args(test.args)
        .kill_on_drop(true)
        .output()
        .await
        .context("running redis-benchmark (is it installed?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    parse_csv(&stdout).with_context(|| {
        format!(
            "redis-benchmark printed no result: {}{}",
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })
}

/// The rps of the first result line of `--csv` output: `"test","rps",...`.
fn parse_csv(text: &str) -> anyhow::Result<f64> {
    let mut lines = text.lines().filter(|l| l.starts_with('"'));
    let header = lines.next().context("no CSV header")?;
    if !header.starts_with("\"test\",\"rps\"") {
        bail!("unexpected CSV header {header}");
    }
    let row = lines.next().context("no CSV row")?;
    let fields: Vec<&str> = row.split("\",\"").map(|f| f.trim_matches('"')).collect();
    fields
        .get(1)
        .and_then(|f| f.parse::<f64>().ok())
        .context("no rps in the CSV row")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_csv() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\"\n\"HGETALL foo\",\"38461.54\",\"0.035\"\n";
        assert_eq!(parse_csv(text).unwrap(), 38461.54);
        assert!(parse_csv("Error from server: ERR x\n\"test\",\"rps\"\n").is_err());
    }
}
