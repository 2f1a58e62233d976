//! MULTI/EXEC from 50 clients: transfers between two of 1,000 accounts
//! (MULTI, INCRBY, INCRBY, EXEC, sent at once) and audits reading ten
//! accounts in one transaction (MULTI, MGET, EXEC). What EXEC's isolation
//! costs shows here (compat/README.md quotes these figures).

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use super::report::Row;
use super::resp::{Conn, Value};
use super::targets::{DB, Target};
use super::workers::{alternate, ops_per_sec};

const CLIENTS: usize = 50;
const ACCOUNTS: usize = 1000;
/// Accounts one audit reads.
const AUDITED: usize = 10;

fn account(i: usize) -> String {
    format!("respire-bench:acct:{i}")
}

/// Sends one MULTI block at once; checks EXEC's array arrived.
async fn block(conn: &mut Conn, cmds: &[Vec<String>]) -> anyhow::Result<()> {
    conn.queue(&["MULTI"]);
    for args in cmds {
        conn.queue(args);
    }
    conn.queue(&["EXEC"]);
    conn.flush().await?;
    for _ in 0..=cmds.len() {
        conn.read().await?.ok()?;
    }
    match conn.read().await? {
        Value::Array(Some(_)) => Ok(()),
        other => anyhow::bail!("EXEC answered {other:?}"),
    }
}

/// One client's loop of transactions (transfers, or audits).
async fn client(addr: String, audit: bool, seed: u64, deadline: Instant) -> anyhow::Result<u64> {
    let mut conn = Conn::connect_db(&addr, DB).await?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut done = 0;
    while Instant::now() < deadline {
        let cmds = if audit {
            let first = rng.gen_range(0..ACCOUNTS - AUDITED);
            let mut mget = vec!["MGET".to_string()];
            mget.extend((first..first + AUDITED).map(account));
            vec![mget]
        } else {
            let a = rng.gen_range(0..ACCOUNTS);
            let b = (a + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
            let amount = rng.gen_range(1..20).to_string();
            vec![
                vec!["DECRBY".into(), account(a), amount.clone()],
                vec!["INCRBY".into(), account(b), amount],
            ]
        };
        block(&mut conn, &cmds).await?;
        done += 1;
    }
    Ok(done)
}

/// Both figures on every target, `runs` rounds of `seconds` each, targets
/// alternating; transactions per second (the median).
pub async fn rows(targets: &[Target], seconds: f64, runs: usize) -> anyhow::Result<Vec<Row>> {
    let duration = Duration::from_secs_f64(seconds);
    let mut rows = Vec::new();
    for (id, what, audit) in [
        (
            "exec.transfer",
            "MULTI/EXEC transfer (2 INCRBY), 50 clients",
            false,
        ),
        (
            "exec.audit",
            "MULTI/EXEC audit (MGET of 10), 50 clients",
            true,
        ),
    ] {
        let samples = alternate(targets.len(), runs, async |t, round| {
            let addr = targets[t].addr.clone();
            ops_per_sec(CLIENTS, duration, |c, deadline| {
                client(addr.clone(), audit, (round * CLIENTS + c) as u64, deadline)
            })
            .await
        })
        .await?;
        rows.push(Row::new(id, what, "txn/s").with_samples(samples));
    }
    Ok(rows)
}
