//! CPU per command: the user+system time of a target's processes (its
//! respire instances, or the reference's redis-server) and, for a MySQL
//! target, of the database server, read from `/proc` around a fixed number
//! of commands from [`CONNECTIONS`] connections, one at a time each (as
//! redis-benchmark -c 50 -P 1). Unlike a rate, it holds on a busy shared
//! machine: what another process takes does not count.

use std::sync::Arc;

use super::report::Row;
use super::resp::Conn;
use super::targets::{DB, Store, Target};

const CONNECTIONS: usize = 50;
/// Commands per connection: 20,000 in all, 100-200 clock ticks of CPU on
/// the embedded store, so a tick (10 ms) is well under 10%.
const PER_CONNECTION: usize = 400;
/// `/proc`'s clock ticks per second (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// The commands measured, in order (GET reads what SET wrote).
const COMMANDS: [&str; 4] = ["SET", "GET", "HSET", "LPUSH"];

/// User+system clock ticks a process has used.
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses, which may hold spaces):
    // state, then 10 fields before utime and stime.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The MySQL-compatible server on this machine, if one runs.
fn database_pid() -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            matches!(comm.trim(), "mariadbd" | "mysqld").then_some(pid)
        })
}

fn args(command: &str, connection: usize, i: usize) -> Vec<String> {
    let key = format!("respire-bench:cpu:{connection}");
    match command {
        "SET" => vec!["SET".into(), format!("{key}:{i}"), "v".into()],
        "GET" => vec!["GET".into(), format!("{key}:{i}")],
        "HSET" => vec!["HSET".into(), format!("{key}:h"), i.to_string(), "v".into()],
        _ => vec!["LPUSH".into(), format!("{key}:l"), "v".into()],
    }
}

/// Sends [`PER_CONNECTION`] `command`s on each connection.
async fn drive(addr: &str, command: &'static str) -> anyhow::Result<()> {
    let mut conns = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        conns.push(Conn::connect_db(addr, DB).await?);
    }
    let start = Arc::new(tokio::sync::Barrier::new(CONNECTIONS));
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(c, mut conn)| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                for i in 0..PER_CONNECTION {
                    conn.cmd(&args(command, c, i)).await?.ok()?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Microseconds of CPU per command from ticks used over the run.
fn per_command(before: u64, after: u64) -> f64 {
    let commands = (CONNECTIONS * PER_CONNECTION) as f64;
    after.saturating_sub(before) as f64 / TICKS_PER_SECOND * 1e6 / commands
}

/// Two rows per command: the target's own processes, and the database's.
pub async fn rows(targets: &[Target]) -> anyhow::Result<Vec<Row>> {
    let database = database_pid();
    let mut rows = Vec::new();
    for command in COMMANDS {
        let (mut own, mut db) = (Vec::new(), Vec::new());
        for target in targets {
            let mut pids = vec![target.pid];
            if target.sub_pid != target.pid {
                pids.push(target.sub_pid);
            }
            let uses_db = matches!(target.store, Some(Store::MySql(_)));
            let sum = |pids: &[u32]| pids.iter().filter_map(|&p| ticks(p)).sum::<u64>();
            let db_ticks = || database.filter(|_| uses_db).and_then(ticks);
            let (before, db_before) = (sum(&pids), db_ticks());
            drive(&target.addr, command).await?;
            let (after, db_after) = (sum(&pids), db_ticks());
            own.push(Some(per_command(before, after)));
            db.push(db_before.zip(db_after).map(|(b, a)| per_command(b, a)));
        }
        let id = command.to_lowercase();
        rows.push(
            Row::new(
                format!("cpu.{id}"),
                format!("CPU per {command} -c 50 (server processes)"),
                "us",
            )
            .with_values(own),
        );
        rows.push(
            Row::new(
                format!("cpu.{id}.db"),
                format!("CPU per {command} -c 50 (database server)"),
                "us",
            )
            .with_values(db),
        );
    }
    Ok(rows)
}
