//! Limits on clients: what a hostile or careless client can and cannot do
//! to a server — limits before AUTH, protected mode, huge requests, the
//! client slot of a connection whatever way it ends, the open-files limit,
//! and Redis's exact texts for malformed input (compared with the
//! reference).

use crate::common;

use std::time::Duration;

use crate::common::{
    RAW_TIMEOUT, REFERENCE_REDIS, Raw, TestServer, encode, rss_kib, service_available, show,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// connected_clients from INFO clients, on a fresh connection (counted).
async fn connected_clients(server: &TestServer, password: Option<&str>) -> i64 {
    let mut raw = Raw::connect(server.addr).await;
    if let Some(p) = password {
        assert_eq!(raw.cmd(&["AUTH", p]).await, b"+OK\r\n");
    }
    let info = raw.cmd(&["INFO", "clients"]).await;
    let text = String::from_utf8_lossy(&info).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no connected_clients in {text}"))
}

/// Polls until connected_clients (the asking client included) is `want`.
async fn wait_clients(server: &TestServer, password: Option<&str>, want: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = connected_clients(server, password).await;
        if now == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "connected_clients stays {now}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn bare_command_answers_the_table_and_frees_its_slot() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"COMMAND\r\n").await;
    let table = raw.read_frame().await;
    assert!(table.starts_with(b"*"), "{}", show(&table[..40]));
    let count = raw.cmd(&["COMMAND", "COUNT"]).await;
    let count: usize = std::str::from_utf8(&count[1..count.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        table[1..].split(|&b| b == b'\r').next().unwrap(),
        count.to_string().as_bytes()
    );
    drop(raw);
    // Many clients doing the same leave nothing behind.
    for _ in 0..50 {
        let mut raw = Raw::connect(server.addr).await;
        raw.send(b"*1\r\n$7\r\nCOMMAND\r\n").await;
        assert!(raw.read_frame().await.starts_with(b"*"));
    }
    wait_clients(&server, None, 1).await;
}

#[tokio::test]
async fn unauthenticated_commands_cannot_lock_out_everyone() {
    let server = TestServer::start_with(|c| {
        c.maxclients = 5;
        c.requirepass = Some("secret".into());
    })
    .await;
    for _ in 0..5 {
        let mut raw = Raw::connect(server.addr).await;
        raw.send(b"COMMAND\r\n").await;
        raw.expect(b"-NOAUTH Authentication required.\r\n").await;
    }
    // Every slot is free again: a client authenticates and works.
    wait_clients(&server, Some("secret"), 1).await;
    let mut raw = Raw::connect(server.addr).await;
    assert_eq!(raw.cmd(&["AUTH", "secret"]).await, b"+OK\r\n");
    assert!(raw.cmd(&["COMMAND"]).await.starts_with(b"*"));
}

#[tokio::test]
async fn requests_before_auth_are_limited_as_in_redis() {
    let server = TestServer::start_with(|c| c.requirepass = Some("secret".into())).await;
    // More than 10 arguments.
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"*11\r\n").await;
    raw.expect(b"-ERR Protocol error: unauthenticated multibulk length\r\n")
        .await;
    raw.expect_closed().await;
    // A bulk over 16 KB: refused from its length line, before its bytes.
    for _ in 0..4 {
        let mut raw = Raw::connect(server.addr).await;
        raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$209715200\r\n")
            .await;
        raw.expect(b"-ERR Protocol error: unauthenticated bulk length\r\n")
            .await;
        raw.expect_closed().await;
    }
    // Exactly 10 arguments of 16 KB are still answered (NOAUTH).
    let big = vec![b'x'; 16 * 1024];
    let mut args: Vec<&[u8]> = vec![b"MSET"];
    for _ in 0..9 {
        args.push(&big);
    }
    let mut raw = Raw::connect(server.addr).await;
    raw.send(&encode(&args)).await;
    raw.expect(b"-NOAUTH Authentication required.\r\n").await;
    // After AUTH the limits are Redis's ordinary ones.
    assert_eq!(raw.cmd(&["AUTH", "secret"]).await, b"+OK\r\n");
    let mut args: Vec<&[u8]> = vec![b"MSET"];
    for _ in 0..12 {
        args.push(&big);
    }
    raw.send(&encode(&args)).await;
    raw.expect(b"+OK\r\n").await;
    wait_clients(&server, Some("secret"), 2).await;
}

#[tokio::test]
async fn protected_mode_refuses_other_hosts_without_a_password() {
    // Every peer is treated as another host (loopback is all we may use).
    let server = TestServer::start_with(|c| c.peers_are_remote = true).await;
    let mut raw = Raw::connect(server.addr).await;
    let denied = format!(
        "-{}\r\n",
        "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside."
    );
    raw.expect(denied.as_bytes()).await;
    raw.expect_closed().await;

    // A password, or protected mode off, lets them in.
    let with_password = TestServer::start_with(|c| {
        c.peers_are_remote = true;
        c.requirepass = Some("secret".into());
    })
    .await;
    let mut raw = Raw::connect(with_password.addr).await;
    assert_eq!(raw.cmd(&["AUTH", "secret"]).await, b"+OK\r\n");
    let off = TestServer::start_with(|c| {
        c.peers_are_remote = true;
        c.protected_mode = false;
    })
    .await;
    let mut raw = Raw::connect(off.addr).await;
    assert_eq!(raw.cmd(&["PING"]).await, b"+PONG\r\n");

    // CONFIG GET/SET protected-mode, from loopback.
    let local = TestServer::start().await;
    let mut raw = Raw::connect(local.addr).await;
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "protected-mode"]).await,
        b"*2\r\n$14\r\nprotected-mode\r\n$3\r\nyes\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "protected-mode", "no"]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "protected-mode"]).await,
        b"*2\r\n$14\r\nprotected-mode\r\n$2\r\nno\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_a_million_arguments_are_answered() {
    // (A DEL of as many keys is answered too, but deletes key by key: too
    // slow for a debug-build test. An arity error needs no store.)
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    let n = 1_100_000;
    let mut request = format!("*{}\r\n$4\r\nPING\r\n", n + 1).into_bytes();
    for i in 0..n {
        let key = format!("k{i}");
        request.extend_from_slice(format!("${}\r\n{key}\r\n", key.len()).as_bytes());
    }
    let (mut read, mut write) = raw.stream.split();
    let send = async {
        write.write_all(&request).await.unwrap();
    };
    let mut reply = Vec::new();
    let receive = async {
        let mut buf = [0u8; 128];
        let deadline = Duration::from_secs(120);
        let n = tokio::time::timeout(deadline, read.read(&mut buf))
            .await
            .expect("DEL of 1.1 million keys answered")
            .unwrap();
        reply.extend_from_slice(&buf[..n]);
    };
    tokio::join!(send, receive);
    assert_eq!(
        show(&reply),
        show(b"-ERR wrong number of arguments for 'ping' command\r\n")
    );
    // The same connection goes on.
    assert_eq!(raw.cmd(&["PING"]).await, b"+PONG\r\n");
}

#[tokio::test]
async fn a_request_over_the_query_buffer_limit_closes_the_client() {
    let server = TestServer::start_with(|c| c.client_query_buffer_limit = 1024 * 1024).await;
    let mut raw = Raw::connect(server.addr).await;
    let value = vec![b'v'; 2 * 1024 * 1024];
    let request = encode(&[b"SET", b"k", &value]);
    // The server may close while we still write.
    let _ = raw.stream.write_all(&request).await;
    raw.expect_closed().await;
    // Many small arguments count too.
    let mut raw = Raw::connect(server.addr).await;
    let mut request = b"*200001\r\n$4\r\nMSET\r\n".to_vec();
    for _ in 0..100_000 {
        request.extend_from_slice(b"$1\r\nk\r\n$1\r\nv\r\n");
    }
    let _ = raw.stream.write_all(&request).await;
    raw.expect_closed().await;
    // The server still serves.
    let mut raw = Raw::connect(server.addr).await;
    assert_eq!(raw.cmd(&["SET", "k", "v"]).await, b"+OK\r\n");
}

/// Sends `bytes` and returns everything the server says before closing
/// (or before a short quiet period).
async fn exchange(addr: impl tokio::net::ToSocketAddrs, bytes: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[tokio::test]
async fn malformed_input_gets_the_reference_redis_bytes() {
    if !service_available("the reference Redis", REFERENCE_REDIS).await {
        return;
    }
    let server = TestServer::start().await;
    let cases: &[&[u8]] = &[
        b"*1\r\n\r\n",
        b"*1\r\n \r\n",
        b"*1\r\nx\r\n",
        b"*1\r\n\xff\r\n",
        b"*2\r\n$4\r\nPING\r\n\x01\r\n",
        b"\xff\xfe\x80cmd a\xff b\r\n",
        b"*3\r\n$3\r\n\xc3\x28z\r\n$2\r\na\x00\r\n$1\r\n\xfe\r\n",
        b"*1\r\n$7\r\nCOMMAND\r\n*2\r\n$6\r\nCONFIG\r\n$3\r\n\xfe\xfe\xfe\r\n",
    ];
    for case in cases {
        let theirs = exchange(REFERENCE_REDIS, case).await;
        let ours = exchange(server.addr, case).await;
        if case.starts_with(b"*1\r\n$7\r\nCOMMAND") {
            // The command tables differ; compare the error that follows.
            let tail = |v: &[u8]| v[v.iter().rposition(|&b| b == b'-').unwrap()..].to_vec();
            assert_eq!(show(&tail(&ours)), show(&tail(&theirs)), "{}", show(case));
        } else {
            assert_eq!(show(&ours), show(&theirs), "{}", show(case));
        }
    }
    let _ = RAW_TIMEOUT;
}

/// Starts the binary with its open-files limit set to `nofile`.
fn spawn_with_file_limit(
    dir: &std::path::Path,
    nofile: u64,
) -> (std::process::Child, std::net::SocketAddr) {
    use std::os::unix::process::CommandExt;
    let port = common::free_port();
    let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_respire"));
    command
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--dir"])
        .arg(dir)
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs here.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: nofile,
                rlim_max: nofile,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().expect("spawn respire");
    (child, format!("127.0.0.1:{port}").parse().unwrap())
}

async fn wait_accepting(addr: std::net::SocketAddr) {
    for _ in 0..1000 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("respire did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxclients_fits_the_open_files_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_with_file_limit(dir.path(), 256);
    wait_accepting(addr).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut probe = Raw::connect(addr).await;
    let reply = probe.cmd(&["CONFIG", "GET", "maxclients"]).await;
    let text = String::from_utf8_lossy(&reply).to_string();
    let maxclients: usize = text.lines().nth(4).unwrap().parse().unwrap();
    assert!(maxclients < 256, "maxclients {maxclients} not reduced");
    drop(probe);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // 400 clients at once: each is served or told the server is full; none
    // is left hanging.
    let mut clients = Vec::new();
    for _ in 0..400 {
        clients.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let (mut served, mut refused, mut silent) = (0, 0, 0);
    for stream in &mut clients {
        let _ = stream.write_all(b"PING\r\n").await;
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(n)) if buf[..n].starts_with(b"+PONG") => served += 1,
            Ok(Ok(n)) if buf[..n].starts_with(b"-ERR max number of clients reached") => {
                refused += 1
            }
            _ => silent += 1,
        }
    }
    assert_eq!(silent, 0, "served {served}, refused {refused}");
    assert_eq!(served, maxclients, "refused {refused}");
    assert_eq!(refused, 400 - maxclients);
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(log.contains("maxclients has been reduced"), "{log}");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_returns_after_many_clients_come_and_go() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_with_file_limit(dir.path(), 20_000);
    wait_accepting(addr).await;
    let value = vec![b'v'; 8 * 1024];
    let round = |n: usize| {
        let value = value.clone();
        async move {
            let mut clients = Vec::new();
            for i in 0..n {
                let mut raw = Raw::connect(addr).await;
                let key = format!("k{}", i % 50);
                raw.send(&encode(&[b"SET", key.as_bytes(), &value])).await;
                raw.send(&encode(&[b"GET", key.as_bytes()])).await;
                clients.push(raw);
            }
            for raw in &mut clients {
                assert_eq!(raw.read_frame().await, b"+OK\r\n");
                assert_eq!(raw.read_frame().await.len(), 8 * 1024 + 9);
            }
        }
    };
    round(200).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(child.id());
    round(3000).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = rss_kib(child.id());
    eprintln!("RSS before {before} KiB, after 3000 clients came and went {after} KiB");
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Keys a client names are not kept in proportion to their number: 100,000
/// GETs of distinct missing keys, one request at a time (each in its own
/// read, as redis-benchmark -r sends them), grow RSS by a few MB at most.
/// When a remembered key was a slice of its connection's read buffer, each
/// kept kilobytes of input alive: 270 MB for this load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_keys_named_do_not_hold_memory() {
    const CLIENTS: usize = 4;
    const KEYS: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let server = common::ProcessServer::spawn(dir.path(), &[]).await;
    let addr = server.addr;
    let load = |round: usize, keys: usize| async move {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(async move {
                    let mut raw = Raw::connect(addr).await;
                    for i in (c..keys).step_by(CLIENTS) {
                        let key = format!("key:{round}:{i:012}");
                        raw.send(&encode(&[b"GET", key.as_bytes()])).await;
                        assert_eq!(raw.read_frame().await, b"$-1\r\n");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    };
    // The allocator's and the runtime's first growth, before the baseline.
    load(0, 5_000).await;
    let before = rss_kib(server.child.id());
    load(1, KEYS).await;
    let after = rss_kib(server.child.id());
    eprintln!("RSS before {before} KiB, after {KEYS} distinct keys {after} KiB");
    assert!(
        after < before + 20 * 1024,
        "RSS grew from {before} KiB to {after} KiB for {KEYS} distinct keys"
    );
}

#[tokio::test]
async fn a_panicking_command_leaves_nothing_behind() {
    let server = TestServer::start_with(|c| c.panic_on_command = Some("echo".into())).await;
    let mut raw = Raw::connect(server.addr).await;
    raw.cmd(&["HELLO", "3"]).await;
    raw.cmd(&["CLIENT", "SETNAME", "doomed"]).await;
    raw.cmd(&["SUBSCRIBE", "ch"]).await;
    raw.cmd(&["PSUBSCRIBE", "p*"]).await;
    raw.send(&encode(&[b"ECHO", b"boom"])).await;
    raw.expect_closed().await;
    let mut probe = Raw::connect(server.addr).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let numsub = probe.cmd(&["PUBSUB", "NUMSUB", "ch"]).await;
        let numpat = probe.cmd(&["PUBSUB", "NUMPAT"]).await;
        let list = probe.cmd(&["CLIENT", "LIST"]).await;
        if numsub == b"*2\r\n$2\r\nch\r\n:0\r\n"
            && numpat == b":0\r\n"
            && !show(&list).contains("doomed")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "left behind: {} {} {}",
            show(&numsub),
            show(&numpat),
            show(&list)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_clients(&server, None, 2).await;
}
