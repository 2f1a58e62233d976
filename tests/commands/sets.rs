//! The set story, on the embedded SQLite store and on MariaDB: large sets
//! (SSCAN pages, set algebra, the STORE forms), uniform random picks
//! (SRANDMEMBER, SPOP), and the MySQL store's limit on a member's length.

use std::collections::{HashMap, HashSet};

use crate::common::{TestDb, TestServer};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

type Conn = MultiplexedConnection;

/// Members `prefix0 .. prefix{n-1}`.
fn members(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

async fn sadd_all(c: &mut Conn, key: &str, items: &[String]) {
    for chunk in items.chunks(500) {
        let _: i64 = c.sadd(key, chunk).await.unwrap();
    }
}

/// SSCAN over a set larger than one reply returns every member present
/// for the whole iteration, in pages, while other members come and go.
async fn sscan_pages(c: &mut Conn) {
    let stable = members("m:", 1500);
    sadd_all(c, "big", &stable).await;
    // Members sharing long prefixes, where a page boundary must widen.
    let long: Vec<String> = (0..40).map(|i| format!("prefix-shared-{i:03}")).collect();
    sadd_all(c, "big", &long).await;
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut pages = 0;
    loop {
        let _: i64 = c.sadd("big", format!("churn:{pages}")).await.unwrap();
        let _: i64 = c.srem("big", format!("churn:{}", pages / 2)).await.unwrap();
        let (next, page): (u64, Vec<String>) = redis::cmd("SSCAN")
            .arg("big")
            .arg(cursor)
            .arg("COUNT")
            .arg(100)
            .query_async(c)
            .await
            .unwrap();
        seen.extend(page);
        pages += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(pages > 10, "a large set comes in pages ({pages})");
    for m in stable.iter().chain(&long) {
        assert!(seen.contains(m), "SSCAN skipped {m}");
    }
    // MATCH filters each page.
    let (_, page): (u64, Vec<String>) = redis::cmd("SSCAN")
        .arg("big")
        .arg(0)
        .arg("MATCH")
        .arg("prefix-*")
        .arg("COUNT")
        .arg(10000)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(page.len(), 40);
}

/// Set algebra over sets of thousands of members.
async fn algebra(c: &mut Conn) {
    let a: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    let b: Vec<String> = (0..3000).step_by(3).map(|i| i.to_string()).collect();
    sadd_all(c, "a", &a).await;
    sadd_all(c, "b", &b).await;
    let inter: HashSet<String> = c.sinter(&["a", "b"]).await.unwrap();
    assert_eq!(inter.len(), 1000);
    let diff: HashSet<String> = c.sdiff(&["a", "b"]).await.unwrap();
    assert_eq!(diff.len(), 2000);
    assert!(diff.is_disjoint(&inter));
    let n: i64 = redis::cmd("SINTERCARD")
        .arg(2)
        .arg("a")
        .arg("b")
        .arg("LIMIT")
        .arg(10)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(n, 10);
    let n: i64 = c.sunionstore("u", &["b", "a"]).await.unwrap();
    assert_eq!(n, 3000);
    let n: i64 = c.sdiffstore("u", &["u", "b"]).await.unwrap();
    assert_eq!(n, 2000);
    assert_eq!(c.scard::<_, i64>("u").await.unwrap(), 2000);
    let n: i64 = c.sinterstore("u", &["u", "b"]).await.unwrap();
    assert_eq!(n, 0);
    assert_eq!(c.exists::<_, i64>("u").await.unwrap(), 0);
    // A small set of integers lists in numeric order, as Redis's intset.
    let _: i64 = c.sadd("ints", &[10, -1, 3, 200]).await.unwrap();
    let listed: Vec<i64> = c.smembers("ints").await.unwrap();
    assert_eq!(listed, [-1, 3, 10, 200]);
    // Popping most of such a set answers in its order too (Redis keeps
    // the rest aside and answers what is left).
    let _: i64 = c.sadd("pop", (1..=10).collect::<Vec<i64>>()).await.unwrap();
    let popped: Vec<i64> = redis::cmd("SPOP")
        .arg("pop")
        .arg(9)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(popped.len(), 9);
    assert!(popped.windows(2).all(|w| w[0] < w[1]), "{popped:?}");
    let moved: bool = c.smove("ints", "a", 200).await.unwrap();
    assert!(moved);
    let found: Vec<bool> = redis::cmd("SMISMEMBER")
        .arg("a")
        .arg(200)
        .arg(2999)
        .arg(3000)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(found, [true, true, false]);
}

/// Pearson's chi-square of observed counts against a uniform expectation.
fn chi_square(counts: &HashMap<String, u64>, cells: usize, total: u64) -> f64 {
    let expected = total as f64 / cells as f64;
    let mut chi = 0.0;
    for i in 0..cells {
        let seen = *counts.get(&format!("r{i}")).unwrap_or(&0) as f64;
        chi += (seen - expected).powi(2) / expected;
    }
    chi
}

/// SRANDMEMBER and SPOP pick every member with the same probability,
/// whether they pick one at a time or read the set once (Redis's own
/// suite runs this chi-square test on SRANDMEMBER).
async fn uniform_picks(c: &mut Conn) {
    const CELLS: usize = 50;
    sadd_all(c, "r", &members("r", CELLS)).await;
    // 49 degrees of freedom: about 99.997% of uniform samples stay
    // under 100.
    let limit = 100.0;
    let mut one_by_one = HashMap::new();
    let mut batches = HashMap::new();
    let mut repeats = HashMap::new();
    for _ in 0..1000 {
        let m: String = c.srandmember("r").await.unwrap();
        *one_by_one.entry(m).or_insert(0) += 1;
    }
    for _ in 0..50 {
        let picked: Vec<String> = c.srandmember_multiple("r", 20).await.unwrap();
        assert_eq!(picked.iter().collect::<HashSet<_>>().len(), 20);
        for m in picked {
            *batches.entry(m).or_insert(0) += 1;
        }
        let picked: Vec<String> = redis::cmd("SRANDMEMBER")
            .arg("r")
            .arg(-20)
            .query_async(c)
            .await
            .unwrap();
        assert_eq!(picked.len(), 20);
        for m in picked {
            *repeats.entry(m).or_insert(0) += 1;
        }
    }
    for (name, counts) in [
        ("one by one", &one_by_one),
        ("20 distinct", &batches),
        ("20 with repeats", &repeats),
    ] {
        let chi = chi_square(counts, CELLS, 1000);
        assert!(chi < limit, "SRANDMEMBER {name}: chi-square {chi}");
    }
    let mut popped = HashMap::new();
    for _ in 0..1000 {
        let m: String = c.spop("r").await.unwrap();
        let _: i64 = c.sadd("r", &m).await.unwrap();
        *popped.entry(m).or_insert(0) += 1;
    }
    let chi = chi_square(&popped, CELLS, 1000);
    assert!(chi < limit, "SPOP: chi-square {chi}");
    assert_eq!(c.scard::<_, i64>("r").await.unwrap(), CELLS as i64);
    let all: Vec<String> = redis::cmd("SPOP")
        .arg("r")
        .arg(CELLS)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(all.len(), CELLS);
    assert_eq!(c.exists::<_, i64>("r").await.unwrap(), 0);
}

async fn run(server: &TestServer) {
    let mut c = server.client().await;
    sscan_pages(&mut c).await;
    algebra(&mut c).await;
    uniform_picks(&mut c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_set_story() {
    let server = TestServer::start().await;
    run(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_set_story() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let server = db.server().await;
    run(&server).await;
    // A member longer than the store keeps fails the whole command
    // cleanly, as a hash field does; the set is unchanged.
    let mut c = server.client().await;
    let _: i64 = c.sadd("limited", "short").await.unwrap();
    let long = "m".repeat(3001);
    let err = c
        .sadd::<_, _, i64>("limited", &["other", long.as_str()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("member is too long"), "{err}");
    let err = c
        .hset::<_, _, _, i64>("limited-hash", long.as_str(), "v")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too long"), "{err}");
    let now: HashSet<String> = c.smembers("limited").await.unwrap();
    assert_eq!(now, HashSet::from(["short".to_string()]));
    assert!(
        !c.sismember::<_, _, bool>("limited", long.as_str())
            .await
            .unwrap()
    );
    assert_eq!(c.exists::<_, i64>("limited-new").await.unwrap(), 0);
    let err = c
        .sadd::<_, _, i64>("limited-new", long.as_str())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too long"), "{err}");
    assert_eq!(c.exists::<_, i64>("limited-new").await.unwrap(), 0);
}
