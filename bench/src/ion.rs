//! An ion-like mix from 50 clients: the SET NX lock, a media hash written
//! with HMSET and a day's TTL, the unlock, the hash read back, and the KEYS
//! pattern ion finds media with, over ~5,000 pre-filled media keys.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use super::report::Row;
use super::resp::Conn;
use super::targets::{DB, Target};
use super::workers::{alternate, ops_per_sec};

const CLIENTS: usize = 50;
const USERS: usize = 1000;
const MEDIA_PER_USER: usize = 5;

fn media_key(user: usize, mid: usize) -> String {
    format!("dc/node/room/user{user}/media/pub/{mid}")
}

/// HMSET of a media hash with 4 fields.
fn hmset(user: usize, mid: usize) -> Vec<String> {
    let fields = [
        ("mid", mid.to_string()),
        ("kind", "video".to_string()),
        ("codec", "VP8".to_string()),
        ("ssrc", (user * 10 + mid).to_string()),
    ];
    let mut args = vec!["HMSET".to_string(), media_key(user, mid)];
    for (f, v) in fields {
        args.push(f.to_string());
        args.push(v);
    }
    args
}

fn expire(user: usize, mid: usize) -> Vec<String> {
    vec!["EXPIRE".into(), media_key(user, mid), "86400".into()]
}

/// Writes every media hash, pipelined from [`CLIENTS`] connections.
async fn prefill(addr: &str) -> anyhow::Result<()> {
    let per_client = USERS.div_ceil(CLIENTS);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let addr = addr.to_string();
            tokio::spawn(async move {
                let mut conn = Conn::connect_db(&addr, DB).await?;
                let mut cmds = Vec::new();
                for user in (c * per_client..(c + 1) * per_client).filter(|u| *u < USERS) {
                    for mid in 0..MEDIA_PER_USER {
                        cmds.push(hmset(user, mid));
                        cmds.push(expire(user, mid));
                    }
                }
                for reply in conn.pipeline(&cmds).await? {
                    reply.ok()?;
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

/// One client's loop: the six commands per round, on random users.
async fn client(addr: String, seed: u64, deadline: Instant) -> anyhow::Result<u64> {
    let mut conn = Conn::connect_db(&addr, DB).await?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut done = 0;
    while Instant::now() < deadline {
        let user = rng.gen_range(0..USERS);
        let mid = rng.gen_range(0..MEDIA_PER_USER);
        let lock = format!("lock-k{user}");
        let key = media_key(user, mid);
        let pattern = format!("dc/*/room/user{user}/media/pub/*");
        conn.cmd(&["SET", lock.as_str(), "1", "EX", "3", "NX"])
            .await?
            .ok()?;
        conn.cmd(&hmset(user, mid)).await?.ok()?;
        conn.cmd(&expire(user, mid)).await?.ok()?;
        conn.cmd(&["DEL", lock.as_str()]).await?.ok()?;
        conn.cmd(&["HGETALL", key.as_str()]).await?.ok()?;
        conn.cmd(&["KEYS", pattern.as_str()]).await?.ok()?;
        done += 6;
    }
    Ok(done)
}

/// The mix on every target, `runs` rounds of `seconds` each, targets
/// alternating; one row of ops/s (the median).
pub async fn measure(targets: &[Target], seconds: f64, runs: usize) -> anyhow::Result<Row> {
    for target in targets {
        prefill(&target.addr).await?;
    }
    let duration = Duration::from_secs_f64(seconds);
    let samples = alternate(targets.len(), runs, async |t, round| {
        let addr = targets[t].addr.clone();
        ops_per_sec(CLIENTS, duration, |c, deadline| {
            client(addr.clone(), (round * CLIENTS + c) as u64, deadline)
        })
        .await
    })
    .await?;
    Ok(Row::new("ion.c50", "ion mix, 50 clients", "ops/s").with_samples(samples))
}
