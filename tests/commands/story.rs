//! The conformance ("story") suite: the same stories run against every
//! store backend — the embedded SQLite store and MariaDB (standing in for
//! TiDB/MySQL).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::{TestDb, TestServer};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

type Conn = MultiplexedConnection;

async fn strings(c: &mut Conn) {
    let _: () = c.set("s", "v1").await.unwrap();
    assert_eq!(c.get::<_, String>("s").await.unwrap(), "v1");
    assert_eq!(c.append::<_, _, i64>("s", "+").await.unwrap(), 3);
    assert_eq!(c.incr::<_, _, i64>("n", 41).await.unwrap(), 41);
    assert_eq!(c.incr::<_, _, i64>("n", 1).await.unwrap(), 42);
    let f: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("10.5")
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(f, "10.5");
    let f: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("0.1")
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(f, "10.6");
    let r: Option<String> = redis::cmd("SET")
        .arg("s")
        .arg("x")
        .arg("NX")
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(r, None);
    let r: Option<String> = redis::cmd("SET")
        .arg("s")
        .arg("x")
        .arg("XX")
        .arg("GET")
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(r.as_deref(), Some("v1+"));
    let vals: Vec<Option<String>> = c.mget(&["s", "missing", "n"]).await.unwrap();
    assert_eq!(vals, vec![Some("x".into()), None, Some("42".into())]);
    let _: () = c.hset("h", "f", "v").await.unwrap();
    let err = c.get::<_, String>("h").await.unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
}

async fn binary_and_large(c: &mut Conn) {
    let key: Vec<u8> = vec![0, 255, b'\r', b'\n', 1, 2];
    let value: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    let _: () = c.set(&key, &value).await.unwrap();
    assert_eq!(c.get::<_, Vec<u8>>(&key).await.unwrap(), value);
    let _: () = c.set("", "").await.unwrap();
    assert_eq!(c.get::<_, Vec<u8>>("").await.unwrap(), Vec::<u8>::new());
    assert_eq!(c.exists::<_, i64>("").await.unwrap(), 1);
    let hkey = [&key[..], b"h"].concat();
    let _: () = c.hset(&hkey, &key[..3], "").await.unwrap();
    assert_eq!(
        c.hget::<_, _, Vec<u8>>(&hkey, &key[..3]).await.unwrap(),
        Vec::<u8>::new()
    );
}

async fn hashes(c: &mut Conn) {
    let n: i64 = redis::cmd("HSET")
        .arg("user")
        .arg("a")
        .arg(1)
        .arg("b")
        .arg(2)
        .arg("a")
        .arg(3)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let all: std::collections::HashMap<String, String> = c.hgetall("user").await.unwrap();
    assert_eq!(all.get("a").map(String::as_str), Some("3"));
    assert_eq!(all.len(), 2);
    assert_eq!(c.hlen::<_, i64>("user").await.unwrap(), 2);
    assert_eq!(c.hincr::<_, _, _, i64>("user", "b", 5).await.unwrap(), 7);
    assert_eq!(c.hdel::<_, _, i64>("user", &["a", "zz"]).await.unwrap(), 1);
    assert_eq!(c.hdel::<_, _, i64>("user", "b").await.unwrap(), 1);
    assert_eq!(
        c.exists::<_, i64>("user").await.unwrap(),
        0,
        "the last HDEL removes the key"
    );
    let many: Vec<(String, String)> = (0..2000)
        .map(|i| (format!("f{i}"), format!("v{i}")))
        .collect();
    let _: () = c.hset_multiple("big", &many).await.unwrap();
    assert_eq!(c.hlen::<_, i64>("big").await.unwrap(), 2000);
    // HSCAN visits every field of a large hash.
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg("big")
            .arg(cursor)
            .arg("COUNT")
            .arg(100)
            .query_async(c)
            .await
            .unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 2000);
}

async fn expiry(c: &mut Conn) {
    let _: () = redis::cmd("SET")
        .arg("e")
        .arg(1)
        .arg("PX")
        .arg(150)
        .query_async(c)
        .await
        .unwrap();
    let ttl: i64 = c.pttl("e").await.unwrap();
    assert!((1..=150).contains(&ttl), "{ttl}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Lazily absent on every read path, whatever the sweeper did.
    assert_eq!(c.get::<_, Option<String>>("e").await.unwrap(), None);
    assert_eq!(c.exists::<_, i64>("e").await.unwrap(), 0);
    let keys: Vec<String> = c.keys("e*").await.unwrap();
    assert!(keys.is_empty());
    let t: String = redis::cmd("TYPE").arg("e").query_async(c).await.unwrap();
    assert_eq!(t, "none");
    let _: () = c.set("p", 1).await.unwrap();
    assert!(c.expire::<_, bool>("p", 100).await.unwrap());
    assert!(c.persist::<_, bool>("p").await.unwrap());
    assert_eq!(c.ttl::<_, i64>("p").await.unwrap(), -1);
}

async fn scan_never_skips(c: &mut Conn) {
    let stable: Vec<String> = (0..500).map(|i| format!("stable:{i}")).collect();
    for chunk in stable.chunks(100) {
        let pairs: Vec<(&String, i32)> = chunk.iter().map(|k| (k, 1)).collect();
        let _: () = c.mset(&pairs).await.unwrap();
    }
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut round = 0;
    loop {
        // Churn other keys during the iteration.
        let _: () = c.set(format!("churn:{round}"), 1).await.unwrap();
        let _: () = c.del(format!("churn:{}", round / 2)).await.unwrap();
        round += 1;
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(37)
            .query_async(c)
            .await
            .unwrap();
        seen.extend(
            keys.into_iter()
                .map(|k| String::from_utf8_lossy(&k).into_owned()),
        );
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for k in &stable {
        assert!(seen.contains(k), "SCAN skipped {k}");
    }
}

/// A leaderboard of 1,000 players: ranks and ranges agree with a model
/// kept here, a large ZSCAN returns every member exactly once while the
/// set churns, and the set algebra stores its results.
async fn sorted_sets(c: &mut Conn) {
    let mut model: Vec<(f64, String)> = (0..1000)
        .map(|i| (((i * 7919) % 1000) as f64 / 4.0, format!("player:{i:04}")))
        .collect();
    for chunk in model.chunks(250) {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg("board");
        for (score, member) in chunk {
            cmd.arg(*score).arg(member);
        }
        let added: i64 = cmd.query_async(c).await.unwrap();
        assert_eq!(added, 250);
    }
    let bonus: f64 = redis::cmd("ZINCRBY")
        .arg("board")
        .arg("0.1")
        .arg("player:0003")
        .query_async(c)
        .await
        .unwrap();
    let entry = model.iter_mut().find(|(_, m)| m == "player:0003").unwrap();
    entry.0 += 0.1;
    assert_eq!(bonus, entry.0);
    model.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    assert_eq!(c.zcard::<_, i64>("board").await.unwrap(), 1000);
    for rank in [0usize, 1, 499, 500, 998, 999] {
        let (_, member) = &model[rank];
        let got: Option<i64> = redis::cmd("ZRANK")
            .arg("board")
            .arg(member)
            .query_async(c)
            .await
            .unwrap();
        assert_eq!(got, Some(rank as i64), "{member}");
        let rev: Option<i64> = redis::cmd("ZREVRANK")
            .arg("board")
            .arg(member)
            .query_async(c)
            .await
            .unwrap();
        assert_eq!(rev, Some(999 - rank as i64), "{member}");
    }
    let page: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg("board")
        .arg(100)
        .arg(104)
        .arg("WITHSCORES")
        .query_async(c)
        .await
        .unwrap();
    let want: Vec<(String, f64)> = model[100..105]
        .iter()
        .map(|(s, m)| (m.clone(), *s))
        .collect();
    assert_eq!(page, want);
    let top: Vec<String> = redis::cmd("ZRANGE")
        .arg("board")
        .arg("+inf")
        .arg("(200")
        .arg("BYSCORE")
        .arg("REV")
        .arg("LIMIT")
        .arg(0)
        .arg(3)
        .query_async(c)
        .await
        .unwrap();
    let want: Vec<String> = model.iter().rev().take(3).map(|(_, m)| m.clone()).collect();
    assert_eq!(top, want);
    let between: i64 = redis::cmd("ZCOUNT")
        .arg("board")
        .arg("(10")
        .arg(20)
        .query_async(c)
        .await
        .unwrap();
    let want = model
        .iter()
        .filter(|(s, _)| *s > 10.0 && *s <= 20.0)
        .count();
    assert_eq!(between, want as i64);

    // ZSCAN pages a large set; members present throughout come back once.
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor = 0u64;
    let mut round = 0;
    loop {
        let _: () = redis::cmd("ZADD")
            .arg("board")
            .arg(1)
            .arg(format!("churn:{round}"))
            .query_async(c)
            .await
            .unwrap();
        round += 1;
        let (next, items): (u64, Vec<String>) = redis::cmd("ZSCAN")
            .arg("board")
            .arg(cursor)
            .arg("COUNT")
            .arg(53)
            .query_async(c)
            .await
            .unwrap();
        for pair in items.chunks(2) {
            if pair[0].starts_with("player:") {
                assert!(seen.insert(pair[0].clone()), "ZSCAN repeated {}", pair[0]);
            }
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    let removed: i64 = redis::cmd("ZREMRANGEBYSCORE")
        .arg("board")
        .arg(1)
        .arg(1)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(
        removed as usize,
        round + model.iter().filter(|(s, _)| *s == 1.0).count()
    );

    // The lowest scores pop first; a store of the intersection.
    let popped: Vec<(String, f64)> = redis::cmd("ZPOPMIN")
        .arg("board")
        .arg(2)
        .query_async(c)
        .await
        .unwrap();
    let want: Vec<(String, f64)> = model[..2].iter().map(|(s, m)| (m.clone(), *s)).collect();
    assert_eq!(popped, want);
    let _: () = redis::cmd("ZADD")
        .arg("vip")
        .arg(1000)
        .arg(&model[500].1)
        .arg(1000)
        .arg("nobody")
        .query_async(c)
        .await
        .unwrap();
    let stored: i64 = redis::cmd("ZINTERSTORE")
        .arg("both")
        .arg(2)
        .arg("board")
        .arg("vip")
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    let score: f64 = redis::cmd("ZSCORE")
        .arg("both")
        .arg(&model[500].1)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(score, model[500].0 + 1000.0);
}

async fn transactions(c: &mut Conn, other: &mut Conn) {
    let _: () = c.set("t", 1).await.unwrap();
    let r: (i64, i64) = redis::pipe()
        .atomic()
        .incr("t", 1)
        .incr("t", 1)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(r, (2, 3));
    let _: () = redis::cmd("WATCH").arg("t").query_async(c).await.unwrap();
    let _: () = other.set("t", 10).await.unwrap();
    let r: Option<(i64,)> = redis::pipe()
        .atomic()
        .incr("t", 1)
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(r, None);
    assert_eq!(c.get::<_, i64>("t").await.unwrap(), 10);
}

async fn rename(c: &mut Conn) {
    let _: () = c.hset("r1", "f", "v").await.unwrap();
    let _: () = c.expire("r1", 100).await.unwrap();
    let _: () = c.rename("r1", "r2").await.unwrap();
    assert_eq!(c.hget::<_, _, String>("r2", "f").await.unwrap(), "v");
    assert!(c.ttl::<_, i64>("r2").await.unwrap() > 90);
    assert_eq!(c.exists::<_, i64>("r1").await.unwrap(), 0);
}

async fn events(c: &mut Conn, server: &TestServer) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query_async(c)
        .await
        .unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    sub.psubscribe("__keyspace@0__:ev").await.unwrap();
    let _: () = redis::cmd("SETEX")
        .arg("ev")
        .arg(100)
        .arg("v")
        .query_async(c)
        .await
        .unwrap();
    let _: () = c.hset("ev", "f", "v").await.unwrap_err_or_unit();
    let _: () = c.del("ev").await.unwrap();
    let _: () = c.del("ev").await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("ev")
        .arg(1)
        .arg("PX")
        .arg(50)
        .query_async(c)
        .await
        .unwrap();
    let want = ["set", "expire", "del", "set", "expire", "expired"];
    let mut got = Vec::new();
    let mut stream = sub.on_message();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < want.len() && Instant::now() < deadline {
        use futures::StreamExt;
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(100), stream.next()).await
        {
            got.push(msg.get_payload::<String>().unwrap());
        }
    }
    assert_eq!(got, want);
}

/// `unwrap` for a command that is expected to fail with WRONGTYPE.
trait UnwrapErr {
    fn unwrap_err_or_unit(self);
}

impl UnwrapErr for redis::RedisResult<()> {
    fn unwrap_err_or_unit(self) {
        let err = self.expect_err("expected WRONGTYPE");
        assert_eq!(err.code(), Some("WRONGTYPE"));
    }
}

/// A list used as a work queue and edited in the middle, checked against
/// a model (a VecDeque) after every step; one item is left for the restart.
async fn lists(c: &mut Conn) {
    use std::collections::VecDeque;
    let mut model: VecDeque<String> = VecDeque::new();
    for i in 0..300 {
        let item = format!("job{i}");
        if i % 3 == 0 {
            let _: () = c.lpush("q", &item).await.unwrap();
            model.push_front(item);
        } else {
            let _: () = c.rpush("q", &item).await.unwrap();
            model.push_back(item);
        }
    }
    for _ in 0..50 {
        let got: Option<String> = c.rpop("q", None).await.unwrap();
        assert_eq!(got, model.pop_back());
        let got: Option<String> = c.lpop("q", None).await.unwrap();
        assert_eq!(got, model.pop_front());
    }
    let check = |model: &VecDeque<String>| model.iter().cloned().collect::<Vec<_>>();
    let all: Vec<String> = c.lrange("q", 0, -1).await.unwrap();
    assert_eq!(all, check(&model));
    assert_eq!(c.llen::<_, usize>("q").await.unwrap(), model.len());
    for i in [0isize, 7, -1, -13] {
        let at = if i < 0 { model.len() as isize + i } else { i } as usize;
        assert_eq!(
            c.lindex::<_, Option<String>>("q", i)
                .await
                .unwrap()
                .as_ref(),
            model.get(at)
        );
    }
    // Edits in the middle keep the positions contiguous.
    let pivot = model[100].clone();
    let n: i64 = redis::cmd("LINSERT")
        .arg("q")
        .arg("BEFORE")
        .arg(&pivot)
        .arg("inserted")
        .query_async(c)
        .await
        .unwrap();
    model.insert(100, "inserted".into());
    assert_eq!(n as usize, model.len());
    let _: () = c.lset("q", 5, "five").await.unwrap();
    model[5] = "five".into();
    let removed: i64 = c.lrem("q", 0, "inserted").await.unwrap();
    assert_eq!(removed, 1);
    model.retain(|j| j != "inserted");
    let _: () = c.ltrim("q", 10, -11).await.unwrap();
    let kept: Vec<String> = model
        .iter()
        .skip(10)
        .take(model.len() - 20)
        .cloned()
        .collect();
    model = kept.into();
    let all: Vec<String> = c.lrange("q", 0, -1).await.unwrap();
    assert_eq!(all, check(&model));
    let tail: Vec<String> = c.lrange("q", -3, -1).await.unwrap();
    assert_eq!(tail, check(&model)[model.len() - 3..].to_vec());
    // LMOVE to a second queue, then drain both.
    let moved: String = redis::cmd("LMOVE")
        .arg("q")
        .arg("done")
        .arg("LEFT")
        .arg("RIGHT")
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(Some(moved), model.pop_front());
    let _: () = c.del("q").await.unwrap();
    assert_eq!(c.exists::<_, i64>("q").await.unwrap(), 0);
    assert_eq!(c.llen::<_, i64>("done").await.unwrap(), 1);
    let _: () = c.rpush("kept", &["a", "b", "c"]).await.unwrap();
}

/// Sets: membership, algebra and SORT over them.
async fn sets(c: &mut Conn) {
    let _: () = c.sadd("s1", &["a", "b", "c", "d"]).await.unwrap();
    let _: () = c.sadd("s2", &["c", "d", "e"]).await.unwrap();
    assert!(c.sismember::<_, _, bool>("s1", "a").await.unwrap());
    assert!(!c.sismember::<_, _, bool>("s2", "a").await.unwrap());
    let mut inter: Vec<String> = c.sinter(&["s1", "s2"]).await.unwrap();
    inter.sort();
    assert_eq!(inter, ["c", "d"]);
    let sorted: Vec<String> = redis::cmd("SORT")
        .arg("s1")
        .arg("ALPHA")
        .arg("DESC")
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(sorted, ["d", "c", "b", "a"]);
    let n: i64 = c.sunionstore("kept_set", &["s1", "s2"]).await.unwrap();
    assert_eq!(n, 5);
}

async fn run_stories(server: &TestServer) {
    let mut c = server.client().await;
    let mut other = server.client().await;
    strings(&mut c).await;
    binary_and_large(&mut c).await;
    hashes(&mut c).await;
    expiry(&mut c).await;
    scan_never_skips(&mut c).await;
    sorted_sets(&mut c).await;
    lists(&mut c).await;
    sets(&mut c).await;
    transactions(&mut c, &mut other).await;
    rename(&mut c).await;
    events(&mut c, server).await;
}

/// Data written before a restart is there after it.
async fn check_survives(c: &mut Conn) {
    assert_eq!(c.get::<_, i64>("n").await.unwrap(), 42);
    assert_eq!(c.hlen::<_, i64>("big").await.unwrap(), 2000);
    assert_eq!(c.zcard::<_, i64>("board").await.unwrap(), 997);
    let kept: Vec<String> = c.lrange("kept", 0, -1).await.unwrap();
    assert_eq!(kept, ["a", "b", "c"]);
    assert_eq!(c.scard::<_, i64>("kept_set").await.unwrap(), 5);
    let cfg: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query_async(c)
        .await
        .unwrap();
    assert_eq!(cfg[1], "AKE", "the setting lives in the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_stories() {
    let server = TestServer::start().await;
    run_stories(&server).await;
    let config = {
        let mut c = respire::config::Config::defaults();
        c.port = 0;
        c
    };
    let mut dir_config = config;
    let dir = server.stop().await;
    dir_config.dir = dir.path().to_path_buf();
    let again = TestServer::start_in(dir, dir_config).await;
    check_survives(&mut again.client().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_stories() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let server = db.server().await;
    run_stories(&server).await;
    server.stop().await;
    let again = db.server().await;
    check_survives(&mut again.client().await).await;
}
