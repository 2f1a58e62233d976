//! The operations surface: /metrics parsed by the Prometheus client
//! library's own parsers (the Prometheus text and OpenMetrics formats),
//! /healthz and /readyz, the config file's precedence (flags > env >
//! file), JSON logs and `respire healthcheck`, all against the real binary.

use crate::common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{ProcessServer, free_port};
use redis::AsyncCommands;

const BIN: &str = env!("CARGO_BIN_EXE_respire");

/// `GET path` on 127.0.0.1:port: (status, body).
async fn http_get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the metrics port");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut response))
        .await
        .expect("an HTTP answer within 10 s")
        .unwrap();
    let text = String::from_utf8(response).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head and body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// Whether Prometheus's parsers (python3's prometheus_client) are here;
/// without them the parser checks skip loudly (and fail under CI=true).
fn prometheus_parser_available() -> bool {
    common::python_module_available("prometheus_client", "prometheus-client")
}

/// Parses `text` with prometheus_client's OpenMetrics parser (the format
/// served) and its Prometheus text-format parser; returns every sample as
/// (name, labels, value) from the OpenMetrics parse, after checking both
/// parsers read the same sample names and values.
fn parse_with_prometheus(text: &str) -> Vec<(String, HashMap<String, String>, f64)> {
    const SCRIPT: &str = r##"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
from prometheus_client.parser import text_string_to_metric_families as prom
text = sys.stdin.read()
samples = [(s.name, s.labels, s.value) for f in om(text) for s in f.samples]
# The Prometheus text format has no "# EOF" line; the rest must read alike.
plain = text.replace("# EOF\n", "")
other = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in prom(plain) for s in f.samples}
for name, labels, value in samples:
    key = (name, tuple(sorted(labels.items())))
    assert key in other, f"{key} missing from the Prometheus text parse"
    assert other[key] == value or (value != value and other[key] != other[key]), key
print(json.dumps(samples))
"##;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parsers rejected /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<(String, HashMap<String, String>, f64)> =
        serde_json::from_slice(&out.stdout).unwrap();
    samples
}

fn sample(
    samples: &[(String, HashMap<String, String>, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(v))
        })
        .map(|(_, _, v)| *v)
}

async fn wait_for_http(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the metrics port never opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_parse_with_prometheus_and_count_commands() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let server =
        ProcessServer::spawn(dir.path(), &["--metrics-port", &metrics_port.to_string()]).await;
    wait_for_http(metrics_port).await;
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = conn.set("k", "v").await.unwrap();
    let _: () = conn.set("n", "x").await.unwrap();
    let _: String = conn.get("k").await.unwrap();
    let incr: redis::RedisResult<i64> = conn.incr("n", 1).await;
    assert!(incr.is_err());
    let mut pipe = redis::pipe();
    for i in 0..20 {
        pipe.set(format!("p{i}"), i).ignore();
    }
    let _: () = pipe.query_async(&mut conn).await.unwrap();

    // A client blocked in XREAD counts as blocked while it waits.
    let mut blocked = client.get_multiplexed_async_connection().await.unwrap();
    let waiting = tokio::spawn(async move {
        let _: redis::RedisResult<redis::Value> = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(1500)
            .arg("STREAMS")
            .arg("__events")
            .arg("$")
            .query_async(&mut blocked)
            .await;
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, text) = http_get(metrics_port, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    waiting.await.unwrap();
    if !prometheus_parser_available() {
        assert!(
            text.contains("respire_commands_total{command=\"set\"} 22"),
            "{text}"
        );
        return;
    }
    let samples = parse_with_prometheus(&text);
    let get = |name: &str, labels: &[(&str, &str)]| {
        sample(&samples, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
    };
    assert_eq!(get("respire_commands_total", &[("command", "set")]), 22.0);
    assert_eq!(get("respire_commands_total", &[("command", "get")]), 1.0);
    assert_eq!(
        get("respire_command_errors_total", &[("command", "incrby")]),
        1.0
    );
    assert_eq!(
        get("respire_command_errors_total", &[("command", "set")]),
        0.0
    );
    assert_eq!(
        get(
            "respire_command_duration_seconds_count",
            &[("command", "set")]
        ),
        22.0
    );
    assert_eq!(
        get(
            "respire_command_duration_seconds_bucket",
            &[("command", "set"), ("le", "+Inf")]
        ),
        22.0
    );
    assert!(
        get(
            "respire_command_duration_seconds_sum",
            &[("command", "set")]
        ) > 0.0
    );
    // Two connections and the blocked one.
    assert_eq!(get("respire_connected_clients", &[]), 2.0);
    assert_eq!(get("respire_blocked_clients", &[]), 1.0);
    assert!(get("respire_group_commit_batch_size_count", &[]) >= 1.0);
    assert_eq!(get("respire_nats_enabled", &[]), 0.0);
    assert_eq!(get("respire_database_up", &[]), 1.0);
    assert!(get("respire_event_sequence", &[]) >= 0.0);
    assert_eq!(
        get(
            "respire_build_info",
            &[("store", "sqlite"), ("datacenter", "default")]
        ),
        1.0
    );
    assert!(sample(&samples, "respire_store_errors_total", &[]).is_some());

    let (status, body) = http_get(metrics_port, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, body) = http_get(metrics_port, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    let (status, _) = http_get(metrics_port, "/nosuch").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn readyz_fails_while_the_database_is_unreachable_and_healthz_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    // Nothing listens on this port: the store keeps retrying.
    let url = format!("mysql://root@127.0.0.1:{}/respire", free_port());
    let _server = ProcessServer::spawn(
        dir.path(),
        &[
            "--metrics-port",
            &metrics_port.to_string(),
            "--database-url",
            &url,
        ],
    )
    .await;
    wait_for_http(metrics_port).await;
    let (status, body) = http_get(metrics_port, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_get(metrics_port, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("database: "), "{body}");
    let (status, text) = http_get(metrics_port, "/metrics").await;
    assert_eq!(status, 200);
    assert!(text.contains("respire_database_up 0"), "{text}");
}

/// Starts the binary with `args` and `env` (and no inherited RESPIRE_*),
/// waiting for `port` to accept.
async fn spawn_raw(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    port: u16,
) -> (std::process::Child, std::path::PathBuf) {
    let log = dir.join("stderr.log");
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for (name, _) in std::env::vars() {
        if name.starts_with("RESPIRE_") || name == "DATABASE_URL" || name == "NATS_URL" {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "respire exited with {status}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "respire never listened on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, log)
}

async fn config_get(conn: &mut redis::aio::MultiplexedConnection, name: &str) -> String {
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(conn)
        .await
        .unwrap();
    pair[1].clone()
}

#[tokio::test]
async fn flags_beat_the_environment_which_beats_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let file = dir.path().join("respire.conf");
    std::fs::write(
        &file,
        format!(
            "# respire.conf\n\
             port {port}\n\
             bind 127.0.0.1\n\
             dir \"{}\"\n\
             requirepass \"from file\"\n\
             databases 4\n\
             --maxclients 100\n\
             \n\
             protected_mode no\n",
            dir.path().join("data dir").display()
        ),
    )
    .unwrap();
    let (mut child, _log) = spawn_raw(
        dir.path(),
        &["--config", file.to_str().unwrap(), "--databases", "8"],
        &[
            ("RESPIRE_REQUIREPASS", "from env"),
            ("RESPIRE_DATABASES", "6"),
        ],
        port,
    )
    .await;
    let url = format!("redis://:from%20env@127.0.0.1:{port}/");
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("the environment's password, not the file's");
    assert_eq!(config_get(&mut conn, "databases").await, "8", "flag wins");
    assert_eq!(config_get(&mut conn, "requirepass").await, "from env");
    assert_eq!(
        config_get(&mut conn, "maxclients").await,
        "100",
        "from the file"
    );
    assert_eq!(config_get(&mut conn, "protected-mode").await, "no");
    assert!(
        config_get(&mut conn, "dir").await.ends_with("data dir"),
        "a quoted value keeps its space"
    );
    assert!(dir.path().join("data dir").join("respire.db").exists());
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await
        .unwrap();
    let canonical = std::fs::canonicalize(&file).unwrap();
    assert!(
        info.contains(&format!("config_file:{}\r\n", canonical.display())),
        "{info}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_bad_config_file_stops_the_start_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.conf");
    for (text, expected) in [
        (
            "port 7000\nno-such-thing 1\n",
            "bad.conf:2: unknown setting 'no-such-thing'",
        ),
        (
            "port\n",
            "bad.conf:1: expected 'name value', found 1 word(s)",
        ),
        ("requirepass \"open\n", "bad.conf:1: unbalanced quotes"),
        (
            "port seventy\n",
            "invalid value 'seventy' for '--port <PORT>'",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = Command::new(BIN)
            .args(["--config", file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {stderr}");
        assert!(stderr.contains(expected), "{text:?}: {stderr}");
    }
    let out = Command::new(BIN)
        .args(["--config", "/nonexistent/respire.conf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read config file /nonexistent/respire.conf")
    );
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut child, log) = spawn_raw(
        dir.path(),
        &["--port", &port.to_string(), "--dir", "data"],
        &[("RESPIRE_LOG_FORMAT", "json")],
        port,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("respire ready to accept connections")
    {
        assert!(Instant::now() < deadline, "never logged that it is ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let mut ready = false;
    for line in text.lines() {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            object["level"].is_string() && object["timestamp"].is_string(),
            "{line}"
        );
        ready |= object["message"] == "respire ready to accept connections";
    }
    assert!(ready, "{text}");
}

#[tokio::test]
async fn healthcheck_passes_against_a_live_instance_and_fails_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut child, _log) = spawn_raw(
        dir.path(),
        &["--port", &port.to_string(), "--dir", "data"],
        &[("RESPIRE_REQUIREPASS", "secret")],
        port,
    )
    .await;
    let check = |env: &[(&str, &str)]| {
        let out = Command::new(BIN)
            .args(["--port", &port.to_string(), "healthcheck"])
            .envs(env.iter().copied())
            .env_remove("RESPIRE_PORT")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = check(&[("RESPIRE_REQUIREPASS", "secret")]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = check(&[("RESPIRE_REQUIREPASS", "wrong")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("unexpected reply"), "{stderr}");
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, stderr) = check(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
}

#[tokio::test]
async fn on_mysql_the_pools_and_the_store_counters_are_reported() {
    let Some(db) = common::TestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let server = ProcessServer::spawn(
        dir.path(),
        &[
            "--metrics-port",
            &metrics_port.to_string(),
            "--database-url",
            &db.url,
        ],
    )
    .await;
    wait_for_http(metrics_port).await;
    // Ready once the migrations ran.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_get(metrics_port, "/readyz").await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = conn.set("k", "v").await.unwrap();
    let (_, text) = http_get(metrics_port, "/metrics").await;
    if !prometheus_parser_available() {
        return;
    }
    let samples = parse_with_prometheus(&text);
    let get = |name: &str, labels: &[(&str, &str)]| {
        sample(&samples, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
    };
    assert_eq!(
        get("respire_db_pool_max_connections", &[("pool", "commands")]),
        24.0
    );
    let idle = get(
        "respire_db_pool_connections",
        &[("pool", "commands"), ("state", "idle")],
    );
    let in_use = get(
        "respire_db_pool_connections",
        &[("pool", "commands"), ("state", "in_use")],
    );
    assert!(idle + in_use >= 1.0, "the SET's connection: {text}");
    assert_eq!(get("respire_build_info", &[("store", "mysql")]), 1.0);
    assert_eq!(get("respire_commands_total", &[("command", "set")]), 1.0);
    assert!(sample(&samples, "respire_store_retries_total", &[]).is_some());
}
