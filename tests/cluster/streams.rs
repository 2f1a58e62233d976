//! Streams across instances on one MariaDB: a consumer group whose
//! consumers are split over two instances gets every entry exactly once,
//! blocked readers on one instance are woken by XADD on the other, both
//! instances see one pending list, and what a consumer on an instance
//! killed with -9 left pending is reclaimed from the other.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis::Value;

use crate::common::{ProcessServer, TestDb, connect, query, stream_ids as ids_of, until_blocked};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_split_over_two_instances_consumes_each_entry_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut a = ProcessServer::spawn(dir.path(), &["--database-url", &db.url]).await;
    let b = db.server().await;
    let mut admin_a = connect(&a.url()).await;
    let mut admin_b = b.client().await;
    let ok: String = query(
        &mut admin_a,
        &["XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM"],
    )
    .await
    .unwrap();
    assert_eq!(ok, "OK");

    // Four consumers, two on each instance, blocked in XREADGROUP and
    // acknowledging what they get, until every entry has been seen.
    const N: usize = 300;
    let seen = Arc::new(AtomicUsize::new(0));
    let mut consumers = Vec::new();
    for (i, url) in [a.url(), a.url(), b.url(), b.url()].into_iter().enumerate() {
        let seen = seen.clone();
        consumers.push(tokio::spawn(async move {
            let mut con = connect(&url).await;
            let name = format!("c{i}");
            let mut got = Vec::new();
            while seen.load(Ordering::SeqCst) < N {
                let reply: Value = query(
                    &mut con,
                    &[
                        "XREADGROUP",
                        "GROUP",
                        "g",
                        &name,
                        "COUNT",
                        "7",
                        "BLOCK",
                        "500",
                        "STREAMS",
                        "jobs",
                        ">",
                    ],
                )
                .await
                .unwrap();
                let ids = ids_of(&reply);
                for id in &ids {
                    let n: i64 = query(&mut con, &["XACK", "jobs", "g", id]).await.unwrap();
                    assert_eq!(n, 1, "{name} acked {id}");
                }
                seen.fetch_add(ids.len(), Ordering::SeqCst);
                got.extend(ids);
            }
            got
        }));
    }
    // The producer writes on A, one entry at a time.
    let mut added = HashSet::new();
    for i in 0..N {
        let id: String = query(&mut admin_a, &["XADD", "jobs", "*", "n", &i.to_string()])
            .await
            .unwrap();
        added.insert(id);
    }
    let mut consumed = Vec::new();
    for c in consumers {
        consumed.extend(c.await.unwrap());
    }
    let unique: HashSet<String> = consumed.iter().cloned().collect();
    assert_eq!(consumed.len(), N, "an entry was delivered twice");
    assert_eq!(unique, added, "every entry, exactly once");
    // (Which instance's consumers got them is a race: A's are woken
    // first.) A consumer blocked on B alone gets an entry added on A.
    let url = b.url();
    let on_b = tokio::spawn(async move {
        let mut con = connect(&url).await;
        query::<Value>(
            &mut con,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "on-b",
                "BLOCK",
                "0",
                "STREAMS",
                "jobs",
                ">",
            ],
        )
        .await
        .unwrap()
    });
    until_blocked(&mut admin_b, 1).await;
    let id: String = query(&mut admin_a, &["XADD", "jobs", "*", "for", "b"])
        .await
        .unwrap();
    let got = ids_of(&on_b.await.unwrap());
    assert_eq!(got, vec![id.clone()]);
    let n: i64 = query(&mut admin_b, &["XACK", "jobs", "g", &id])
        .await
        .unwrap();
    assert_eq!(n, 1);
    for con in [&mut admin_a, &mut admin_b] {
        let pending: Value = query(con, &["XPENDING", "jobs", "g"]).await.unwrap();
        assert_eq!(
            pending,
            Value::Array(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil])
        );
    }

    // A consumer on A takes five entries and never acknowledges them; both
    // instances see the same pending list.
    for i in 0..5 {
        let _: String = query(&mut admin_b, &["XADD", "jobs", "*", "late", &i.to_string()])
            .await
            .unwrap();
    }
    let mut doomed = connect(&a.url()).await;
    let taken: Value = query(
        &mut doomed,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "doomed",
            "COUNT",
            "5",
            "STREAMS",
            "jobs",
            ">",
        ],
    )
    .await
    .unwrap();
    let taken = ids_of(&taken);
    assert_eq!(taken.len(), 5);
    let on_a: Value = query(&mut admin_a, &["XPENDING", "jobs", "g"])
        .await
        .unwrap();
    let on_b: Value = query(&mut admin_b, &["XPENDING", "jobs", "g"])
        .await
        .unwrap();
    assert_eq!(on_a, on_b);
    let Value::Array(summary) = &on_b else {
        panic!("{on_b:?}")
    };
    assert_eq!(summary[0], Value::Int(5));

    // A dies with them; B's XAUTOCLAIM hands them to another consumer.
    a.kill9();
    let claimed: Value = query(
        &mut admin_b,
        &[
            "XAUTOCLAIM",
            "jobs",
            "g",
            "rescuer",
            "0",
            "0-0",
            "COUNT",
            "100",
            "JUSTID",
        ],
    )
    .await
    .unwrap();
    let Value::Array(parts) = &claimed else {
        panic!("{claimed:?}")
    };
    let ids: Vec<String> = match &parts[1] {
        Value::Array(ids) => ids
            .iter()
            .map(|v| match v {
                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(ids, taken);
    let mut args = vec!["XACK", "jobs", "g"];
    args.extend(ids.iter().map(String::as_str));
    let n: i64 = query(&mut admin_b, &args).await.unwrap();
    assert_eq!(n, 5);
    let pending: Value = query(&mut admin_b, &["XPENDING", "jobs", "g"])
        .await
        .unwrap();
    assert_eq!(
        pending,
        Value::Array(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil])
    );
}

/// XREAD BLOCK with `$` on one instance is woken by an XADD on the other
/// and gets the entries added since it blocked (none from before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_xread_is_woken_by_an_xadd_on_another_instance() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = (db.server().await, db.server().await);
    let mut writer = b.client().await;
    let _: String = query(&mut writer, &["XADD", "s", "1-1", "old", "1"])
        .await
        .unwrap();
    let url = a.url();
    let reader = tokio::spawn(async move {
        let mut con = connect(&url).await;
        let reply: Value = query(&mut con, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])
            .await
            .unwrap();
        ids_of(&reply)
    });
    // Entries keep coming until the reader has one (it may block after
    // the first of them); it gets one written after it blocked.
    let mut written = Vec::new();
    let mut i = 2;
    while !reader.is_finished() {
        let id: String = query(&mut writer, &["XADD", "s", &format!("{i}-1"), "new", "1"])
            .await
            .unwrap();
        written.push(id);
        i += 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(i < 1000, "the blocked XREAD was never woken");
    }
    let got = reader.await.unwrap();
    // A run of what was written, up to the last entry before the wake.
    let start = written
        .iter()
        .position(|id| Some(id) == got.first())
        .unwrap_or_else(|| panic!("{got:?} not among {written:?}"));
    assert_eq!(got[..], written[start..start + got.len()]);
}
