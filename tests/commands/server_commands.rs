//! Server behaviour through a real client (the `redis` crate) and raw RESP
//! where the exact bytes matter: CONFIG, INFO and COMMAND, and graceful shutdown.
//!
//! Every expected reply here was checked against Redis 7.0.15.

use std::time::Duration;

use crate::common::{Events, Raw, TestServer, connect, query, show};
use redis::Value;

// --- CONFIG, INFO, COMMAND ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_notify_keyspace_events_round_trip() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    let get = ["CONFIG", "GET", "notify-keyspace-events"];
    assert_eq!(
        query::<Vec<String>>(&mut con, &get).await,
        Ok(vec!["notify-keyspace-events".into(), "".into()])
    );
    for (set, reads_back) in [
        ("KEA", "AKE"),
        ("Egx", "gxE"),
        ("Kx", "xK"),
        ("KEx$", "$xKE"),
        ("A", "A"),
        ("AKE", "AKE"),
        ("", ""),
        ("KEA", "AKE"),
    ] {
        assert_eq!(
            query::<String>(&mut con, &["CONFIG", "SET", "notify-keyspace-events", set]).await,
            Ok("OK".into()),
            "CONFIG SET notify-keyspace-events {set:?}"
        );
        assert_eq!(
            query::<Vec<String>>(&mut con, &get).await,
            Ok(vec!["notify-keyspace-events".into(), reads_back.into()]),
            "after setting {set:?}"
        );
    }
    assert_eq!(
        query::<String>(&mut con, &["CONFIG", "SET", "notify-keyspace-events", "zz?"]).await,
        Err("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into())
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &get).await,
        Ok(vec!["notify-keyspace-events".into(), "AKE".into()])
    );
    // Visible to every connection.
    let mut other = connect(&server.url()).await;
    assert_eq!(
        query::<Vec<String>>(&mut other, &get).await,
        Ok(vec!["notify-keyspace-events".into(), "AKE".into()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_get_name_forms_and_duplicate_set() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    let get = ["CONFIG", "GET", "notify-keyspace-events"];
    assert_eq!(
        query::<String>(
            &mut con,
            &["CONFIG", "SET", "notify-keyspace-events", "KEA"]
        )
        .await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["CONFIG", "GET", "notify-keyspace-*"]).await,
        Ok(vec!["notify-keyspace-events".into(), "AKE".into()])
    );
    assert_eq!(
        query::<String>(
            &mut con,
            &["CONFIG", "SET", "notify-keyspace-events", "E", "notify-keyspace-events", "K"]
        )
        .await,
        Err("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - duplicate parameter".into())
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &get).await,
        Ok(vec!["notify-keyspace-events".into(), "AKE".into()])
    );
    // Redis 7.0 echoes a glob-free name as it was asked.
    assert_eq!(
        query::<Vec<String>>(&mut con, &["CONFIG", "GET", "NOTIFY-KEYSPACE-EVENTS"]).await,
        Ok(vec!["NOTIFY-KEYSPACE-EVENTS".into(), "AKE".into()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_sections_and_keyspace() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    assert_eq!(
        query::<String>(&mut con, &["INFO", "keyspace"]).await,
        Ok("# Keyspace\r\n".into())
    );
    assert_eq!(
        query::<String>(&mut con, &["SET", "k", "v"]).await,
        Ok("OK".into())
    );
    let info: String = query(&mut con, &["INFO"]).await.unwrap();
    assert!(info.starts_with("# Server\r\n"), "{info}");
    assert!(info.contains("\r\nredis_version:"), "{info}");
    let clients = info
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .unwrap_or_else(|| panic!("no connected_clients in\n{info}"));
    assert!(clients.trim().parse::<u64>().unwrap() >= 1, "{clients}");
    assert!(
        info.contains("\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"),
        "{info}"
    );
    assert_eq!(
        query::<String>(&mut con, &["INFO", "keyspace"]).await,
        Ok("# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n".into())
    );
    let server_only: String = query(&mut con, &["INFO", "server"]).await.unwrap();
    assert!(server_only.starts_with("# Server\r\n"), "{server_only}");
    assert!(!server_only.contains("# Keyspace"), "{server_only}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_count_and_docs() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    let count: i64 = query(&mut con, &["COMMAND", "COUNT"]).await.unwrap();
    assert!(count > 40, "COMMAND COUNT = {count}");
    let docs: Value = query(&mut con, &["COMMAND", "DOCS", "get"]).await.unwrap();
    let items = match docs {
        Value::Array(items) => items,
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => panic!("COMMAND DOCS get: {other:?}"),
    };
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0], Value::BulkString(b"get".to_vec()));
    let fields: Vec<Value> = match &items[1] {
        Value::Array(f) => f.clone(),
        other => panic!("docs of get: {other:?}"),
    };
    let field = |name: &str| {
        fields
            .chunks(2)
            .find(|p| p[0] == Value::BulkString(name.as_bytes().to_vec()))
            .map(|p| p[1].clone())
    };
    assert_eq!(
        field("summary"),
        Some(Value::BulkString(b"Get the value of a key".to_vec()))
    );
    assert_eq!(field("since"), Some(Value::BulkString(b"1.0.0".to_vec())));
    assert_eq!(field("group"), Some(Value::BulkString(b"string".to_vec())));
    // An unknown name is a nil bulk in COMMAND INFO's array, and absent
    // from COMMAND DOCS.
    let mut raw = Raw::connect(server.addr).await;
    assert_eq!(
        show(&raw.cmd(&["COMMAND", "INFO", "nosuch"]).await),
        show(b"*1\r\n$-1\r\n")
    );
    assert_eq!(
        show(&raw.cmd(&["COMMAND", "DOCS", "nosuch"]).await),
        show(b"*0\r\n")
    );
    let info = raw.cmd(&["COMMAND", "INFO", "get"]).await;
    assert!(
        info.starts_with(
            b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
        ),
        "{}",
        show(&info)
    );
}

// --- Shutdown ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_with_clients_connected() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    assert_eq!(
        query::<String>(&mut con, &["SET", "k", "v"]).await,
        Ok("OK".into())
    );
    let mut idle = Raw::connect(server.addr).await;
    assert_eq!(show(&idle.cmd(&["PING"]).await), "+PONG\\r\\n");
    let mut partial = Raw::connect(server.addr).await;
    partial.send(b"*2\r\n$3\r\nGET\r\n").await;
    let _subscriber = Events::psubscribe(&server.url(), "*").await;
    let addr = server.addr;

    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(15), server.stop())
        .await
        .expect("stop() did not return within 15 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited {:?} for idle clients",
        started.elapsed()
    );
    idle.expect_closed().await;
    partial.expect_closed().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

/// INFO's section selection answers the sections Redis 7.0 answers, in its
/// order (respire's own `Respire` section aside): several names, `all`,
/// `everything`, `default`, unknown names, any case. Errorstats and
/// Commandstats count as Redis counts (per error code; calls and failed
/// calls per command), and CONFIG RESETSTAT clears them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_sections_as_redis_answers_them() {
    if !crate::common::service_available("reference Redis", crate::common::REFERENCE_REDIS).await {
        return;
    }
    let server = TestServer::start().await;
    let mut ours = Raw::connect(server.addr).await;
    let mut reference = Raw::connect(crate::common::REFERENCE_REDIS).await;
    let headers = |reply: Vec<u8>| -> Vec<String> {
        String::from_utf8_lossy(&reply)
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|h| *h != "Respire")
            .map(str::to_string)
            .collect()
    };
    for args in [
        vec!["INFO"],
        vec!["INFO", "default"],
        vec!["INFO", "all"],
        vec!["INFO", "everything"],
        vec!["INFO", "server", "clients"],
        vec!["INFO", "KEYSPACE", "Server"],
        vec!["INFO", "commandstats"],
        vec!["INFO", "errorstats", "latencystats"],
        vec!["INFO", "modules", "cluster"],
        vec!["INFO", "no-such-section"],
        vec!["INFO", "server", "no-such-section", "server"],
        vec!["INFO", "default", "commandstats"],
        vec!["INFO", "all", "default"],
    ] {
        assert_eq!(
            headers(ours.cmd(&args).await),
            headers(reference.cmd(&args).await),
            "{args:?}"
        );
    }
    let cluster = ours.cmd(&["INFO", "cluster"]).await;
    assert!(show(&cluster).contains("# Cluster\\r\\ncluster_enabled:0\\r\\n"));

    ours.cmd(&["CONFIG", "RESETSTAT"]).await;
    ours.cmd(&["SET", "s", "v"]).await;
    ours.cmd(&["LPUSH", "s", "x"]).await;
    ours.cmd(&["INCR", "s"]).await;
    ours.cmd(&["GET", "s"]).await;
    let info = String::from_utf8_lossy(
        &ours
            .cmd(&["INFO", "errorstats", "commandstats", "stats"])
            .await,
    )
    .into_owned();
    assert!(info.contains("errorstat_ERR:count=1\r\n"), "{info}");
    assert!(info.contains("errorstat_WRONGTYPE:count=1\r\n"), "{info}");
    assert!(info.contains("total_error_replies:2\r\n"), "{info}");
    let lpush = info
        .lines()
        .find(|l| l.starts_with("cmdstat_lpush:"))
        .unwrap_or_else(|| panic!("{info}"));
    assert!(
        lpush.starts_with("cmdstat_lpush:calls=1,usec=")
            && lpush.ends_with(",rejected_calls=0,failed_calls=1"),
        "{lpush}"
    );
    let latency = String::from_utf8_lossy(&ours.cmd(&["INFO", "latencystats"]).await).into_owned();
    assert!(
        latency
            .lines()
            .any(|l| l.starts_with("latency_percentiles_usec_get:p50=")
                && l.contains(",p99=")
                && l.contains(",p99.9=")),
        "{latency}"
    );
    ours.cmd(&["CONFIG", "RESETSTAT"]).await;
    let info = String::from_utf8_lossy(&ours.cmd(&["INFO", "errorstats", "commandstats"]).await)
        .into_owned();
    assert!(!info.contains("errorstat_"), "{info}");
    assert!(
        info.lines().all(|l| !l.starts_with("cmdstat_")
            || l.starts_with("cmdstat_info:")
            || l.starts_with("cmdstat_config:")),
        "{info}"
    );
}
