//! The sequenced event log: every logged event gets one sequence number,
//! exactly once, gap-free and in commit order, whichever instance wrote it
//! and whichever instance sequenced it, through late commits and a kill -9
//! of the sequencer's holder.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::{ProcessServer, TestDb, TestServer, connect, query};
use sqlx::Connection as _;

/// (id, seq, key) of every event, in id order.
type Row = (i64, Option<i64>, Vec<u8>);

async fn mysql_rows(db: &TestDb) -> Vec<Row> {
    let mut conn = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
    sqlx::query_as("SELECT id, seq, `key` FROM kv_events ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

/// Waits until every event in the log has its number, and returns them.
async fn all_sequenced(db: &TestDb) -> Vec<Row> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = mysql_rows(db).await;
        if rows.iter().all(|r| r.1.is_some()) {
            return rows;
        }
        assert!(Instant::now() < deadline, "events left unsequenced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The log's numbers are exactly 1..=n, each once, and for every key in
/// the same order as its ids (its commit order).
fn check_numbering(rows: &[Row]) {
    let mut seqs: Vec<i64> = rows.iter().map(|r| r.1.unwrap()).collect();
    seqs.sort_unstable();
    let expected: Vec<i64> = (1..=rows.len() as i64).collect();
    assert_eq!(seqs, expected, "numbers skipped or repeated");
    let mut last: HashMap<&[u8], (i64, i64)> = HashMap::new();
    for (id, seq, key) in rows {
        if let Some((prev_id, prev_seq)) = last.insert(key, (*id, seq.unwrap())) {
            assert!(
                prev_seq < seq.unwrap(),
                "key {:?}: id {prev_id} numbered {prev_seq}, later id {id} numbered {}",
                String::from_utf8_lossy(key),
                seq.unwrap()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_on_several_instances_are_numbered_once_in_commit_order() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let servers = [db.server().await, db.server().await];
    let mut tasks = Vec::new();
    for w in 0..8 {
        let url = servers[w % 2].url();
        tasks.push(tokio::spawn(async move {
            let mut con = connect(&url).await;
            for i in 0..40 {
                // Shared keys: their events must keep their commit order.
                let shared = format!("shared:{}", i % 3);
                let _: i64 = query(&mut con, &["INCR", &shared]).await.unwrap();
                let own = format!("own:{w}:{i}");
                let _: String = query(&mut con, &["SET", &own, "v"]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rows = all_sequenced(&db).await;
    // Each SET logs `new` and `set`; each INCR `incrby`, and the first
    // of each shared key `new`.
    assert_eq!(rows.len(), 8 * 40 * 3 + 3);
    check_numbering(&rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_committed_late_is_numbered_not_skipped() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let server = db.server().await;
    let mut con = server.client().await;
    let _: String = query(&mut con, &["SET", "before", "1"]).await.unwrap();
    // A writer takes an id, then waits before committing...
    let mut late = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
    let mut tx = late.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO kv_events (db, `key`, name, class, at_ms) VALUES (0, 'late', 'set', 36, 0)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    // ...while higher ids commit and are numbered.
    for i in 0..5 {
        let _: String = query(&mut con, &["SET", &format!("after:{i}"), "1"])
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = mysql_rows(&db).await;
        // `new` and `set` for each of the six SETs.
        if rows.iter().filter(|r| r.1.is_some()).count() == 12 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the committed events were not numbered: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.commit().await.unwrap();
    let rows = all_sequenced(&db).await;
    check_numbering(&rows);
    // The late event has the lowest id after "before"'s but the last number.
    let late_row = rows.iter().find(|r| r.2 == b"late").unwrap();
    assert_eq!(late_row.1, Some(13));
    assert_eq!(late_row.0, rows[2].0);
}

/// The instance holding the sequencer lease (none before the migrations).
async fn sequencer_holder(db: &TestDb) -> Option<String> {
    let mut conn = sqlx::MySqlConnection::connect(&db.url).await.ok()?;
    sqlx::query_scalar("SELECT holder FROM kv_leases WHERE name = 'sequencer'")
        .fetch_optional(&mut conn)
        .await
        .ok()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_sequencer_after_kill_9_skips_and_repeats_nothing() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spawn = |name: &'static str| {
        let dir = dir.path().join(name);
        let url = db.url.clone();
        async move {
            std::fs::create_dir_all(&dir).unwrap();
            ProcessServer::spawn(&dir, &["--database-url", &url, "--instance-name", name]).await
        }
    };
    let mut servers = [spawn("a").await, spawn("b").await];
    // Wait for a holder.
    let deadline = Instant::now() + Duration::from_secs(10);
    let holder = loop {
        if let Some(h) = sequencer_holder(&db).await {
            break h;
        }
        assert!(Instant::now() < deadline, "no sequencer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (victim, survivor) = if holder == "a" { (0, 1) } else { (1, 0) };
    let survivor_url = servers[survivor].url();
    // Load on the survivor all along, acknowledged writes counted.
    let load = tokio::spawn(async move {
        let mut con = connect(&survivor_url).await;
        let mut acknowledged = 0;
        let until = Instant::now() + Duration::from_secs(6);
        while Instant::now() < until {
            let key = format!("k:{}", acknowledged % 7);
            if query::<i64>(&mut con, &["INCR", &key]).await.is_ok() {
                acknowledged += 1;
            }
        }
        acknowledged
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    servers[victim].kill9();
    let acknowledged = load.await.unwrap();
    let rows = all_sequenced(&db).await;
    assert!(
        rows.len() >= acknowledged,
        "acknowledged writes lost events"
    );
    check_numbering(&rows);
    assert_eq!(
        sequencer_holder(&db).await.as_deref(),
        Some(if survivor == 0 { "a" } else { "b" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_numbers_are_the_ids() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    for i in 0..30 {
        let _: i64 = query(&mut con, &["HSET", &format!("h:{}", i % 4), "f", "v"])
            .await
            .unwrap_or(0);
        let _: i64 = query(&mut con, &["DEL", &format!("h:{}", i % 5)])
            .await
            .unwrap();
    }
    let path = server.dir.path().join("respire.db");
    let url = format!("sqlite://{}", path.display());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let rows: Vec<(i64, Option<i64>)> =
            sqlx::query_as("SELECT id, seq FROM kv_events ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        if !rows.is_empty() && rows.iter().all(|r| r.1.is_some()) {
            for (id, seq) in rows {
                assert_eq!(Some(id), seq);
            }
            return;
        }
        assert!(Instant::now() < deadline, "events left unsequenced");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
