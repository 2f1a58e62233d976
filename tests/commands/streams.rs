//! Blocking stream reads on one instance: XREAD BLOCK `$` gets only what
//! came after it blocked, every blocked reader gets a new entry, a
//! blocked XREADGROUP is told when its stream or group goes away (Redis's
//! texts), and scripts may not block.

use std::time::Duration;

use redis::Value;

use crate::common::{TestServer, connect, query, until_blocked};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_blocked_reader_gets_a_new_entry() {
    let server = TestServer::start().await;
    let mut admin = server.client().await;
    let _: String = query(&mut admin, &["XADD", "s", "1-1", "old", "1"])
        .await
        .unwrap();
    let mut readers = Vec::new();
    for _ in 0..3 {
        let url = server.url();
        readers.push(tokio::spawn(async move {
            let mut con = connect(&url).await;
            query::<Value>(&mut con, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]).await
        }));
    }
    until_blocked(&mut admin, 3).await;
    let _: String = query(&mut admin, &["XADD", "s", "2-1", "new", "1"])
        .await
        .unwrap();
    for r in readers {
        let got = format!("{:?}", r.await.unwrap().unwrap());
        assert!(got.contains("2-1") && !got.contains("1-1"), "{got}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_xreadgroup_is_told_when_its_stream_or_group_goes() {
    let server = TestServer::start().await;
    let mut admin = server.client().await;
    let cases: [(&[&str], &str); 3] = [
        (
            &["SET", "s", "x"],
            "UNBLOCKED the stream key no longer exists",
        ),
        (&["DEL", "s"], "UNBLOCKED the stream key no longer exists"),
        (
            &["XGROUP", "DESTROY", "s", "g"],
            "NOGROUP the consumer group this client was blocked on no longer exists",
        ),
    ];
    for (change, text) in cases {
        let _: i64 = query(&mut admin, &["DEL", "s"]).await.unwrap();
        let _: String = query(&mut admin, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])
            .await
            .unwrap();
        let url = server.url();
        let reader = tokio::spawn(async move {
            let mut con = connect(&url).await;
            query::<Value>(
                &mut con,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "c",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            )
            .await
        });
        until_blocked(&mut admin, 1).await;
        let _: Value = query(&mut admin, change).await.unwrap();
        let e = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect("the reader was never released")
            .unwrap()
            .unwrap_err();
        assert_eq!(e, text, "{change:?}");
    }
}
