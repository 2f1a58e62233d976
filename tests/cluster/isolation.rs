//! MULTI/EXEC is isolated as in Redis, on every store and across
//! instances: the bank check. Ten accounts hold 1000 in all, five as
//! string keys and five as the fields of one hash (so that a transaction
//! reads them in more than one statement); clients move money between two
//! accounts at a time (WATCH, read, MULTI, two writes, EXEC; and blind
//! MULTI/INCRBY/HINCRBY/EXEC that read nothing), while auditors on every
//! instance read all ten in one MULTI/MGET/HMGET/EXEC. Every audit must see
//! the total, and the final total must be exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::connect;
use crate::common::{TestDb, TestServer};
use redis::aio::MultiplexedConnection;

const ACCOUNTS: usize = 10;
const START: i64 = 100;
const TOTAL: i64 = START * ACCOUNTS as i64;
/// Transferring clients per instance, and transfers each makes.
const MOVERS: usize = 4;
const TRANSFERS: usize = 250;

/// Accounts below this are string keys; the others, fields of [`BANK`].
const STRINGS: usize = 5;
const BANK: &str = "bank";

fn account(i: usize) -> String {
    format!("acct:{i}")
}

/// The key an account lives in (WATCHed for it).
fn key_of(i: usize) -> String {
    if i < STRINGS { account(i) } else { BANK.into() }
}

/// Adds the read of account `i` to a pipeline.
fn read(pipe: &mut redis::Pipeline, i: usize) {
    if i < STRINGS {
        pipe.get(account(i));
    } else {
        pipe.hget(BANK, i);
    }
}

/// Adds a write of account `i` (its new balance) to a pipeline.
fn write(pipe: &mut redis::Pipeline, i: usize, balance: i64) {
    if i < STRINGS {
        pipe.set(account(i), balance);
    } else {
        pipe.hset(BANK, i, balance);
    }
}

/// Adds `delta` to account `i`, in a pipeline.
fn add(pipe: &mut redis::Pipeline, i: usize, delta: i64) {
    if i < STRINGS {
        pipe.incr(account(i), delta);
    } else {
        pipe.hincr(BANK, i, delta);
    }
}

/// Two distinct accounts and an amount, from a small generator of its own.
fn pick(state: &mut u64) -> (usize, usize, i64) {
    let mut next = || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    };
    let a = (next() % ACCOUNTS as u64) as usize;
    let b = (a + 1 + (next() % (ACCOUNTS as u64 - 1)) as usize) % ACCOUNTS;
    (a, b, (next() % 20) as i64 + 1)
}

/// One transfer with WATCH: read both balances, write both new ones; again
/// when a watched key changed. Answers the attempts it took.
async fn watched_transfer(c: &mut MultiplexedConnection, a: usize, b: usize, amount: i64) -> u64 {
    for attempt in 1.. {
        let _: () = redis::cmd("WATCH")
            .arg(key_of(a))
            .arg(key_of(b))
            .query_async(c)
            .await
            .unwrap();
        let mut reads = redis::pipe();
        read(&mut reads, a);
        read(&mut reads, b);
        let (va, vb): (i64, i64) = reads.query_async(c).await.unwrap();
        let mut block = redis::pipe();
        block.atomic();
        write(&mut block, a, va - amount);
        write(&mut block, b, vb + amount);
        let done: Option<redis::Value> = block.query_async(c).await.unwrap();
        if done.is_some() {
            return attempt;
        }
    }
    unreachable!()
}

/// One transfer that reads nothing: MULTI, (H)INCRBY, (H)INCRBY, EXEC.
async fn blind_transfer(c: &mut MultiplexedConnection, a: usize, b: usize, amount: i64) {
    let mut block = redis::pipe();
    block.atomic();
    add(&mut block, a, -amount);
    add(&mut block, b, amount);
    let _: (i64, i64) = block.query_async(c).await.unwrap();
}

/// Audits in MULTI/MGET/EXEC until `done`; answers (audits, sums that were
/// off, one of them).
async fn audit(mut c: MultiplexedConnection, done: Arc<AtomicBool>) -> (u64, u64, Option<i64>) {
    let strings: Vec<String> = (0..STRINGS).map(account).collect();
    let fields: Vec<usize> = (STRINGS..ACCOUNTS).collect();
    let (mut audits, mut off, mut example) = (0, 0, None);
    // At least a few audits, however fast the transfers end.
    while !done.load(Ordering::Relaxed) || audits < 20 {
        let (some, others): (Vec<i64>, Vec<i64>) = redis::pipe()
            .atomic()
            .mget(&strings)
            .hget(BANK, &fields)
            .query_async(&mut c)
            .await
            .unwrap();
        let sum: i64 = some.iter().chain(&others).sum();
        audits += 1;
        if sum != TOTAL {
            off += 1;
            example = Some(sum);
        }
    }
    (audits, off, example)
}

/// The bank check over `urls` (one or more instances of one keyspace).
async fn bank_check(urls: &[String]) {
    let mut setup = connect(&urls[0]).await;
    let mut fill = redis::pipe();
    for i in 0..ACCOUNTS {
        write(&mut fill, i, START);
    }
    let _: redis::Value = fill.query_async(&mut setup).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mut auditors = Vec::new();
    for url in urls {
        auditors.push(tokio::spawn(audit(connect(url).await, done.clone())));
    }
    let mut movers = Vec::new();
    for (n, url) in urls.iter().enumerate() {
        for m in 0..MOVERS {
            let mut c = connect(url).await;
            let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ ((n * MOVERS + m) as u64 + 1);
            movers.push(tokio::spawn(async move {
                let mut retries = 0;
                for t in 0..TRANSFERS {
                    let (a, b, amount) = pick(&mut seed);
                    // One transfer in four reads nothing.
                    if t % 4 == 3 {
                        blind_transfer(&mut c, a, b, amount).await;
                    } else {
                        retries += watched_transfer(&mut c, a, b, amount).await - 1;
                    }
                }
                retries
            }));
        }
    }
    let mut retries = 0;
    for m in movers {
        retries += m.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let (mut audits, mut off) = (0, 0);
    let mut example = None;
    for a in auditors {
        let (n, bad, sum) = a.await.unwrap();
        audits += n;
        off += bad;
        example = example.or(sum);
    }
    let transfers = urls.len() * MOVERS * TRANSFERS;
    eprintln!(
        "{transfers} transfers ({retries} WATCH retries), {audits} audits, {off} off (e.g. {example:?})"
    );
    assert_eq!(
        off, 0,
        "{off} of {audits} MULTI/MGET/EXEC audits saw a total other than {TOTAL}, e.g. {example:?}"
    );
    let mut reads = redis::pipe();
    for i in 0..ACCOUNTS {
        read(&mut reads, i);
    }
    let balances: Vec<i64> = reads.query_async(&mut setup).await.unwrap();
    assert_eq!(balances.iter().sum::<i64>(), TOTAL, "{balances:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exec_is_isolated_on_the_embedded_store() {
    let server = TestServer::start().await;
    bank_check(&[server.url()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exec_is_isolated_across_instances_on_mariadb() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let servers = [db.server().await, db.server().await];
    let urls: Vec<String> = servers.iter().map(TestServer::url).collect();
    bank_check(&urls).await;
}
