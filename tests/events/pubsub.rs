//! Server behaviour through a real client (the `redis` crate) and raw RESP
//! where the exact bytes matter: pub/sub: SUBSCRIBE, PSUBSCRIBE, PUBLISH, PUBSUB.
//!
//! Every expected reply here was checked against Redis 7.0.15.

use crate::common;

use std::time::Duration;

use crate::common::{Raw, TestServer, query};
use redis::Value;

// --- Pub/sub -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_channel_and_pattern_subscribers() {
    let server = TestServer::start().await;
    let client = redis::Client::open(server.url()).unwrap();
    let mut by_channel = client.get_async_pubsub().await.unwrap();
    by_channel.subscribe("news").await.unwrap();
    let mut by_pattern = client.get_async_pubsub().await.unwrap();
    by_pattern.psubscribe("n*").await.unwrap();
    let mut both = client.get_async_pubsub().await.unwrap();
    both.subscribe("news").await.unwrap();
    both.psubscribe("ne?s").await.unwrap();
    let mut pattern_again = client.get_async_pubsub().await.unwrap();
    pattern_again.psubscribe("n*").await.unwrap();

    let mut con = server.client().await;
    // 2 channel subscriptions + 3 matching pattern subscriptions.
    assert_eq!(
        query::<i64>(&mut con, &["PUBLISH", "news", "hello"]).await,
        Ok(5)
    );
    assert_eq!(
        query::<i64>(&mut con, &["PUBLISH", "other", "x"]).await,
        Ok(0)
    );
    assert_eq!(
        query::<i64>(&mut con, &["PUBLISH", "nope", "y"]).await,
        Ok(2)
    );

    assert_eq!(
        query::<Vec<Value>>(&mut con, &["PUBSUB", "NUMSUB", "news", "other"]).await,
        Ok(vec![
            Value::BulkString(b"news".to_vec()),
            Value::Int(2),
            Value::BulkString(b"other".to_vec()),
            Value::Int(0),
        ])
    );
    // Unique patterns: n* (twice) and ne?s.
    assert_eq!(query::<i64>(&mut con, &["PUBSUB", "NUMPAT"]).await, Ok(2));
    assert_eq!(
        query::<Vec<String>>(&mut con, &["PUBSUB", "CHANNELS"]).await,
        Ok(vec!["news".into()])
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["PUBSUB", "CHANNELS", "n*"]).await,
        Ok(vec!["news".into()])
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["PUBSUB", "CHANNELS", "x*"]).await,
        Ok(vec![])
    );

    use futures::StreamExt;
    let wait = Duration::from_secs(5);
    let msg = tokio::time::timeout(wait, by_channel.on_message().next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            msg.get_channel_name(),
            msg.get_payload_bytes(),
            msg.from_pattern()
        ),
        ("news", &b"hello"[..], false)
    );
    let mut stream = by_pattern.on_message();
    for (channel, payload) in [("news", "hello"), ("nope", "y")] {
        let msg = tokio::time::timeout(wait, stream.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(msg.get_pattern::<String>().unwrap(), "n*");
        assert_eq!(
            (msg.get_channel_name(), msg.get_payload_bytes()),
            (channel, payload.as_bytes())
        );
    }
    drop(stream);
    let mut stream = both.on_message();
    let mut got = Vec::new();
    for _ in 0..2 {
        let msg = tokio::time::timeout(wait, stream.next())
            .await
            .unwrap()
            .unwrap();
        got.push((
            msg.get_pattern::<Option<String>>().unwrap(),
            msg.get_channel_name().to_string(),
        ));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            (None, "news".to_string()),
            (Some("ne?s".to_string()), "news".to_string())
        ]
    );
    drop(stream);

    // Unsubscribing updates the counts.
    by_channel.unsubscribe("news").await.unwrap();
    drop(both);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let numsub: Vec<Value> = query(&mut con, &["PUBSUB", "NUMSUB", "news"])
            .await
            .unwrap();
        if numsub == vec![Value::BulkString(b"news".to_vec()), Value::Int(0)] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{numsub:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(query::<i64>(&mut con, &["PUBSUB", "NUMPAT"]).await, Ok(1));
    assert_eq!(
        query::<i64>(&mut con, &["PUBLISH", "news", "again"]).await,
        Ok(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_in_publish_order() {
    let server = TestServer::start().await;
    let mut sub = Raw::connect(server.addr).await;
    sub.send(b"SUBSCRIBE ordered\r\n").await;
    let _ = sub.read_frame().await;
    let mut publisher = Raw::connect(server.addr).await;
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(common::encode(&[
            b"PUBLISH",
            b"ordered",
            i.to_string().as_bytes(),
        ]));
    }
    publisher.send(&batch).await;
    publisher.expect(":1\r\n".repeat(500).as_bytes()).await;
    for i in 0..500 {
        let payload = i.to_string();
        let want = format!(
            "*3\r\n$7\r\nmessage\r\n$7\r\nordered\r\n${}\r\n{payload}\r\n",
            payload.len()
        );
        sub.expect(want.as_bytes()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_subscriber_leaves_no_subscription_behind() {
    let server = TestServer::start().await;
    let mut sub = Raw::connect(server.addr).await;
    sub.send(b"CLIENT ID\r\nSUBSCRIBE gone\r\nPSUBSCRIBE gone*\r\n")
        .await;
    let id = sub.read_frame().await;
    let id = String::from_utf8_lossy(&id[1..id.len() - 2]).into_owned();
    let _ = sub.read_frame().await;
    let _ = sub.read_frame().await;
    let mut con = server.client().await;
    let list: String = query(&mut con, &["CLIENT", "LIST", "TYPE", "pubsub"])
        .await
        .unwrap();
    assert!(list.starts_with(&format!("id={id} ")), "{list}");
    assert!(list.contains(" sub=1 psub=1 "), "{list}");
    assert_eq!(
        query::<i64>(&mut con, &["CLIENT", "KILL", "ID", &id]).await,
        Ok(1)
    );
    sub.expect_closed().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n: i64 = query(&mut con, &["PUBLISH", "gone", "x"]).await.unwrap();
        if n == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "PUBLISH still reaches {n}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(query::<i64>(&mut con, &["PUBSUB", "NUMPAT"]).await, Ok(0));
    assert_eq!(
        query::<Vec<String>>(&mut con, &["PUBSUB", "CHANNELS"]).await,
        Ok(vec![])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_channels_with_too_many_arguments() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    assert_eq!(
        query::<Value>(&mut con, &["PUBSUB", "CHANNELS", "a", "b"]).await,
        Err(
            "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
                .into()
        )
    );
}
