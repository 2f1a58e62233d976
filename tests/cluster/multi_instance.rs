//! Several respire instances on one MariaDB database behave as one Redis.

use std::time::{Duration, Instant};

use crate::common::{TestDb, TestServer};
use redis::AsyncCommands;

async fn conns(
    servers: &[TestServer],
    per_server: usize,
) -> Vec<redis::aio::MultiplexedConnection> {
    let mut out = Vec::new();
    for s in servers {
        for _ in 0..per_server {
            // A connection of its own (not multiplexed with the others).
            out.push(
                redis::Client::open(s.url())
                    .unwrap()
                    .get_multiplexed_async_connection()
                    .await
                    .unwrap(),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_nx_lock_is_exclusive_across_instances() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let servers = vec![db.server().await, db.server().await, db.server().await];
    let clients = conns(&servers, 2).await;
    let rounds = 60;
    let mut tasks = Vec::new();
    for mut c in clients {
        tasks.push(tokio::spawn(async move {
            let mut attempts = 0u64;
            for _ in 0..rounds {
                loop {
                    attempts += 1;
                    let got: Option<String> = redis::cmd("SET")
                        .arg("lock-k")
                        .arg(1)
                        .arg("EX")
                        .arg(3)
                        .arg("NX")
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    if got.is_some() {
                        break;
                    }
                }
                // A deliberately non-atomic read-modify-write: only correct
                // when the lock excludes every other holder.
                let n: i64 = c
                    .get::<_, Option<i64>>("counter")
                    .await
                    .unwrap()
                    .unwrap_or(0);
                let _: () = c.set("counter", n + 1).await.unwrap();
                let _: () = c.del("lock-k").await.unwrap();
            }
            attempts
        }));
    }
    let mut attempts = 0;
    for t in tasks {
        attempts += t.await.unwrap();
    }
    let mut c = servers[1].client().await;
    let total: i64 = c.get("counter").await.unwrap();
    assert_eq!(total, 6 * rounds);
    eprintln!("lock attempts: {attempts}");
    assert!(attempts >= 6 * rounds as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_are_exact() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let servers = vec![db.server().await, db.server().await, db.server().await];
    let clients = conns(&servers, 2).await;
    let per_client = 100;
    let mut tasks = Vec::new();
    for mut c in clients {
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_client {
                let _: i64 = c.incr("n", 1).await.unwrap();
                let _: i64 = c.hincr("h", "f", 2).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = servers[2].client().await;
    assert_eq!(c.get::<_, i64>("n").await.unwrap(), 6 * per_client);
    assert_eq!(
        c.hget::<_, _, i64>("h", "f").await.unwrap(),
        12 * per_client
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_on_one_instance_is_read_on_another_at_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    let (mut ca, mut cb) = (a.client().await, b.client().await);
    for i in 0..50 {
        let _: () = ca.set(format!("k{i}"), i).await.unwrap();
        assert_eq!(cb.get::<_, i64>(format!("k{i}")).await.unwrap(), i);
        let _: () = ca.hset(format!("h{i}"), "f", i).await.unwrap();
        assert_eq!(cb.hget::<_, _, i64>(format!("h{i}"), "f").await.unwrap(), i);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_sees_a_change_made_on_another_instance() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    let (mut ca, mut cb) = (a.client().await, b.client().await);
    let _: () = ca.set("w", 1).await.unwrap();
    let _: () = redis::cmd("WATCH")
        .arg("w")
        .query_async(&mut ca)
        .await
        .unwrap();
    let _: () = cb.set("w", 2).await.unwrap();
    let r: Option<Vec<String>> = redis::pipe()
        .atomic()
        .set("w", 3)
        .ignore()
        .get("w")
        .query_async(&mut ca)
        .await
        .unwrap();
    assert_eq!(
        r, None,
        "EXEC must fail after another instance changed the watched key"
    );
    assert_eq!(ca.get::<_, i64>("w").await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyspace_events_reach_subscribers_on_every_instance() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    let mut ca = a.client().await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query_async(&mut ca)
        .await
        .unwrap();
    // b picks the setting up from the database within a second.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let mut cb = b.client().await;
    let cfg: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query_async(&mut cb)
        .await
        .unwrap();
    assert_eq!(cfg, vec!["notify-keyspace-events", "AKE"]);
    let client = redis::Client::open(b.url()).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    sub.psubscribe("__keyspace@0__:*").await.unwrap();
    let _: () = ca.hset("ion/k", "f", "v").await.unwrap();
    let _: () = ca.del("ion/k").await.unwrap();
    let mut stream = sub.on_message();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < 2 && Instant::now() < deadline {
        use futures::StreamExt;
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(200), stream.next()).await
        {
            got.push(msg.get_payload::<String>().unwrap());
        }
    }
    assert_eq!(got, vec!["hset", "del"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_sweeper_per_deployment_and_takeover() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let a = db.server().await;
    let b = db.server().await;
    let mut cb = b.client().await;
    // Whoever holds the lease, expired keys go within a second or so.
    let _: () = redis::cmd("SET")
        .arg("e1")
        .arg(1)
        .arg("PX")
        .arg(50)
        .query_async(&mut cb)
        .await
        .unwrap();
    wait_gone(&db, "e1").await;
    // Stop a (it may hold the lease): b takes over within a few seconds.
    a.stop().await;
    let _: () = redis::cmd("SET")
        .arg("e2")
        .arg(1)
        .arg("PX")
        .arg(50)
        .query_async(&mut cb)
        .await
        .unwrap();
    wait_gone(&db, "e2").await;
}

/// Waits until the row of `key` is physically deleted (by a sweeper, not
/// hidden by lazy expiry).
async fn wait_gone(db: &TestDb, key: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kv_keys WHERE `key` = ?")
            .bind(key.as_bytes())
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if n == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{key} was never swept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_order_transactions_retry_through_deadlocks() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    let mut tasks = Vec::new();
    for (i, s) in [a.url(), b.url()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut c = redis::Client::open(s)
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let (first, second) = if i == 0 { ("x", "y") } else { ("y", "x") };
            for _ in 0..50 {
                let _: () = redis::pipe()
                    .atomic()
                    .incr(first, 1)
                    .ignore()
                    .incr(second, 1)
                    .ignore()
                    .query_async(&mut c)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = a.client().await;
    assert_eq!(c.get::<_, i64>("x").await.unwrap(), 100);
    assert_eq!(c.get::<_, i64>("y").await.unwrap(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_are_clear_errors() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let s = db.server().await;
    let mut c = s.client().await;
    let long_key = "k".repeat(3001);
    let err = c.set::<_, _, ()>(&long_key, "v").await.unwrap_err();
    assert!(err.to_string().contains("key is too long"), "{err}");
    let big = vec![b'v'; 17 * 1024 * 1024];
    let err = c.set::<_, _, ()>("big", big).await.unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
    // The connection and the server survive both.
    let _: () = c.set("ok", 1).await.unwrap();
    assert_eq!(c.get::<_, i64>("ok").await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_subcommand_prepares_the_database_and_exits() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_respire"))
        .args(["--database-url", &db.url, "migrate"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run respire migrate");
    assert!(status.success());
    use sqlx::Connection as _;
    let mut conn = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar("SHOW TABLES")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    for table in [
        "kv_keys",
        "kv_hash_fields",
        "kv_events",
        "kv_relay",
        "kv_settings",
        "kv_leases",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing: {tables:?}"
        );
    }
    // A second run is a no-op.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_respire"))
        .args(["--database-url", &db.url, "migrate"])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(again.success());
}

/// The encoding thresholds are deployment-wide: CONFIG SET on one instance
/// changes CONFIG GET and OBJECT ENCODING on every other (once its event
/// log reaches the change), and survives a restart of an instance (the
/// database keeps it). Other parameters are the instance's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_thresholds_are_one_setting_for_every_instance() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    let (mut ca, mut cb) = (a.client().await, b.client().await);
    use crate::common::query;
    let get = |name: &'static str| {
        move |reply: Vec<String>| -> String {
            assert_eq!(reply[0], name);
            reply[1].clone()
        }
    };
    let threshold = get("hash-max-listpack-entries");
    let hz = get("hz");
    let _: i64 = query(&mut ca, &["HSET", "h", "f", "v"]).await.unwrap();
    let _: String = query(
        &mut ca,
        &["CONFIG", "SET", "hash-max-ziplist-entries", "0", "hz", "42"],
    )
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let encoding: String = query(&mut cb, &["OBJECT", "ENCODING", "h"]).await.unwrap();
        let set = threshold(
            query(&mut cb, &["CONFIG", "GET", "hash-max-listpack-entries"])
                .await
                .unwrap(),
        );
        if encoding == "hashtable" && set == "0" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "instance b still answers {encoding}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // hz is each instance's own.
    assert_eq!(
        hz(query(&mut ca, &["CONFIG", "GET", "hz"]).await.unwrap()),
        "42"
    );
    assert_eq!(
        hz(query(&mut cb, &["CONFIG", "GET", "hz"]).await.unwrap()),
        "10"
    );
    // A new instance reads the threshold from the database.
    let c = db.server().await;
    let mut cc = c.client().await;
    let read = query(&mut cc, &["CONFIG", "GET", "hash-max-listpack-entries"]);
    assert_eq!(threshold(read.await.unwrap()), "0");
    // Values that would promise what respire does not do are refused.
    let refused = query::<String>(&mut cb, &["CONFIG", "SET", "maxmemory", "100mb"])
        .await
        .unwrap_err();
    assert!(
        refused.contains("only its value '0' is accepted"),
        "{refused}"
    );
    let _: String = query(
        &mut cb,
        &["CONFIG", "SET", "maxmemory", "0", "appendonly", "no"],
    )
    .await
    .unwrap();
}
