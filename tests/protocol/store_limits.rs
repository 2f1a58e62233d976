//! Lists on the MySQL backend at its limits: an element over what the
//! database accepts fails the whole command cleanly and changes nothing.

use crate::common::TestDb;
use redis::AsyncCommands;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_element_over_the_store_limit_changes_nothing() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let s = db.server().await;
    let mut c = s.client().await;
    let _: () = c.rpush("l", &["a", "b"]).await.unwrap();
    let big = vec![b'v'; 17 * 1024 * 1024];
    let small = b"c".to_vec();
    for (name, result) in [
        (
            "RPUSH",
            redis::cmd("RPUSH")
                .arg("l")
                .arg(&small)
                .arg(&big)
                .query_async::<i64>(&mut c)
                .await
                .map(|_| ()),
        ),
        (
            "LPUSH new",
            redis::cmd("LPUSH")
                .arg("new")
                .arg(&big)
                .query_async::<i64>(&mut c)
                .await
                .map(|_| ()),
        ),
        (
            "LSET",
            redis::cmd("LSET")
                .arg("l")
                .arg(0)
                .arg(&big)
                .query_async::<()>(&mut c)
                .await,
        ),
        (
            "LINSERT",
            redis::cmd("LINSERT")
                .arg("l")
                .arg("BEFORE")
                .arg("b")
                .arg(&big)
                .query_async::<i64>(&mut c)
                .await
                .map(|_| ()),
        ),
    ] {
        let err = result.expect_err(name);
        assert!(err.to_string().contains("too large"), "{name}: {err}");
    }
    let long_key = "k".repeat(3001);
    let err = c.rpush::<_, _, i64>(&long_key, "v").await.unwrap_err();
    assert!(err.to_string().contains("key is too long"), "{err}");
    let all: Vec<String> = c.lrange("l", 0, -1).await.unwrap();
    assert_eq!(all, ["a", "b"]);
    assert_eq!(c.exists::<_, i64>("new").await.unwrap(), 0);
    assert_eq!(c.llen::<_, i64>("l").await.unwrap(), 2);
}
