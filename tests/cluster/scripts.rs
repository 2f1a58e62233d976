//! Scripts across instances on one MariaDB: each script is one
//! transaction that serialises with every other instance's, and scripts
//! and function libraries loaded on one instance serve every instance.

use std::time::Duration;

use crate::common::{TestDb, query};

/// Two instances run a read-modify-write script concurrently, thousands
/// of times in all: the counter is exact, whether the key is declared
/// (KEYS) or only named in ARGV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scripts_on_two_instances_count_exactly() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    const BODY: &str = "local v = tonumber(redis.call('get', KEYS[1]) or '0') \
                        redis.call('set', KEYS[1], v + 1) return v + 1";
    const UNDECLARED: &str = "local v = tonumber(redis.call('get', ARGV[1]) or '0') \
                              redis.call('set', ARGV[1], v + 1) return v + 1";
    const CLIENTS: usize = 4;
    const EACH: usize = 125;
    let mut tasks = Vec::new();
    for server in [&a, &b] {
        for _ in 0..CLIENTS {
            let url = server.url();
            tasks.push(tokio::spawn(async move {
                let mut con = crate::common::connect(&url).await;
                for _ in 0..EACH {
                    let _: i64 = query(&mut con, &["EVAL", BODY, "1", "counter"])
                        .await
                        .unwrap();
                    let _: i64 = query(&mut con, &["EVAL", UNDECLARED, "0", "loose"])
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut con = a.client().await;
    let total = (2 * CLIENTS * EACH).to_string();
    let counter: String = query(&mut con, &["GET", "counter"]).await.unwrap();
    let loose: String = query(&mut con, &["GET", "loose"]).await.unwrap();
    assert_eq!(counter, total);
    assert_eq!(loose, total);
}

/// SCRIPT LOAD on one instance serves EVALSHA on another at once;
/// SCRIPT FLUSH on one reaches the other; FUNCTION LOAD on one serves
/// FCALL on the other at once, and FUNCTION DELETE reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_and_functions_load_once_for_every_instance() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    let (mut ca, mut cb) = (a.client().await, b.client().await);
    let sha: String = query(&mut ca, &["SCRIPT", "LOAD", "return 'from a'"])
        .await
        .unwrap();
    let reply: String = query(&mut cb, &["EVALSHA", &sha, "0"]).await.unwrap();
    assert_eq!(reply, "from a");
    let exists: Vec<i64> = query(&mut cb, &["SCRIPT", "EXISTS", &sha]).await.unwrap();
    assert_eq!(exists, vec![1]);

    let library = "#!lua name=counters\n\
                   redis.register_function('bump', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)\n\
                   redis.register_function{function_name='peek', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";
    let name: String = query(&mut ca, &["FUNCTION", "LOAD", library])
        .await
        .unwrap();
    assert_eq!(name, "counters");
    let n: i64 = query(&mut cb, &["FCALL", "bump", "1", "c", "5"])
        .await
        .unwrap();
    assert_eq!(n, 5);
    let n: String = query(&mut cb, &["FCALL_RO", "peek", "1", "c"])
        .await
        .unwrap();
    assert_eq!(n, "5");
    let e = query::<i64>(&mut cb, &["FCALL_RO", "bump", "1", "c", "1"])
        .await
        .unwrap_err();
    assert!(e.contains("write flag"), "{}", e);

    // Deletions travel the event log: wait for them on the other instance.
    let _: String = query(&mut ca, &["FUNCTION", "DELETE", "counters"])
        .await
        .unwrap();
    let _: String = query(&mut ca, &["SCRIPT", "FLUSH"]).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let fcall = query::<i64>(&mut cb, &["FCALL", "bump", "1", "c", "1"]).await;
        let evalsha = query::<String>(&mut cb, &["EVALSHA", &sha, "0"]).await;
        match (fcall, evalsha) {
            (Err(f), Err(e)) if f.contains("Function not found") && e.starts_with("NOSCRIPT") => {
                break;
            }
            other => assert!(
                std::time::Instant::now() < deadline,
                "instance b still runs them: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
