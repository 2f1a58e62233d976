//! Server behaviour through a real client (the `redis` crate) and raw RESP
//! where the exact bytes matter: AUTH, SELECT and CLIENT.
//!
//! Every expected reply here was checked against Redis 7.0.15.

use std::time::Duration;

use crate::common::{self, NOAUTH, Raw, TestServer, WRONGPASS, connect, query, show};
use redis::Value;

// --- AUTH -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_required_before_any_command() {
    let server = TestServer::start_with(|c| c.requirepass = Some("secret".into())).await;
    let mut con = connect(&server.url()).await;
    for args in [
        &["GET", "k"][..],
        &["SET", "k", "v"],
        &["PING"],
        &["CLIENT", "ID"],
        &["SELECT", "1"],
        &["INFO"],
        &["CONFIG", "GET", "notify-keyspace-events"],
        &["SUBSCRIBE", "ch"],
        &["MULTI"],
    ] {
        assert_eq!(
            query::<Value>(&mut con, args).await,
            Err(NOAUTH.to_string()),
            "{args:?} before AUTH"
        );
    }
    // An unknown command is still reported as unknown.
    assert_eq!(
        query::<Value>(&mut con, &["FOO"]).await,
        Err("ERR unknown command 'FOO', with args beginning with: ".to_string())
    );
    assert_eq!(
        query::<Value>(&mut con, &["AUTH", "wrong"]).await,
        Err(WRONGPASS.to_string())
    );
    assert_eq!(
        query::<Value>(&mut con, &["AUTH", "default", "wrong"]).await,
        Err(WRONGPASS.to_string())
    );
    assert_eq!(
        query::<Value>(&mut con, &["AUTH", "bob", "secret"]).await,
        Err(WRONGPASS.to_string())
    );
    assert_eq!(
        query::<Value>(&mut con, &["GET", "k"]).await,
        Err(NOAUTH.to_string())
    );
    assert_eq!(
        query::<String>(&mut con, &["AUTH", "secret"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<String>(&mut con, &["SET", "k", "v"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<String>(&mut con, &["GET", "k"]).await,
        Ok("v".into())
    );

    let mut other = connect(&server.url()).await;
    assert_eq!(
        query::<String>(&mut other, &["AUTH", "default", "secret"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<String>(&mut other, &["GET", "k"]).await,
        Ok("v".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_hello_3_with_credentials() {
    let server = TestServer::start_with(|c| c.requirepass = Some("secret".into())).await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"HELLO 3\r\n").await;
    raw.expect(b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n").await;
    raw.send(b"HELLO 3 AUTH default wrong\r\n").await;
    raw.expect(format!("-{WRONGPASS}\r\n").as_bytes()).await;
    // QUIT needs no authentication.
    let mut quitter = Raw::connect(server.addr).await;
    assert_eq!(show(&quitter.cmd(&["QUIT"]).await), "+OK\\r\\n");

    raw.send(b"HELLO 3 AUTH default secret\r\n").await;
    let hello = raw.read_frame().await;
    assert!(
        hello.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{}",
        show(&hello)
    );
    raw.send(b"GET nothing\r\n").await;
    raw.expect(b"_\r\n").await;

    // The redis crate's own RESP3 handshake (HELLO 3 AUTH default secret).
    let url = format!("redis://default:secret@{}/?protocol=resp3", server.addr);
    let mut con = connect(&url).await;
    assert_eq!(
        query::<String>(&mut con, &["SET", "k", "v"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<String>(&mut con, &["GET", "k"]).await,
        Ok("v".into())
    );
    // RESP2 with a password (AUTH secret on connect).
    let mut con2 = connect(&format!("redis://:secret@{}/", server.addr)).await;
    assert_eq!(
        query::<String>(&mut con2, &["GET", "k"]).await,
        Ok("v".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_reset_and_failed_auth() {
    let server = TestServer::start_with(|c| c.requirepass = Some("secret".into())).await;
    let mut raw = Raw::connect(server.addr).await;
    // A failed AUTH does not undo an earlier success; RESET does.
    raw.send(b"AUTH secret\r\nSELECT 2\r\nAUTH wrong\r\nGET k\r\nRESET\r\nGET k\r\n")
        .await;
    raw.expect(format!("+OK\r\n+OK\r\n-{WRONGPASS}\r\n$-1\r\n+RESET\r\n-{NOAUTH}\r\n").as_bytes())
        .await;
    // HELLO can authenticate and name the connection at once.
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"HELLO 3 AUTH default secret SETNAME ion\r\n")
        .await;
    let hello = raw.read_frame().await;
    assert!(hello.starts_with(b"%7\r\n"), "{}", show(&hello));
    assert_eq!(
        show(&raw.cmd(&["CLIENT", "GETNAME"]).await),
        "$3\\r\\nion\\r\\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_without_requirepass() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    assert_eq!(
        query::<String>(&mut con, &["AUTH", "whatever"]).await,
        Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into())
    );
    // The default user has no password: any password is accepted for it.
    assert_eq!(
        query::<String>(&mut con, &["AUTH", "default", "whatever"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<String>(&mut con, &["AUTH", "bob", "x"]).await,
        Err(WRONGPASS.into())
    );
}

// --- SELECT ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_isolates_databases() {
    let server = TestServer::start().await;
    let mut con = connect(&server.url()).await;
    assert_eq!(
        query::<String>(&mut con, &["SET", "k", "zero"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<String>(&mut con, &["SELECT", "1"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["GET", "k"]).await,
        Ok(None)
    );
    assert_eq!(
        query::<String>(&mut con, &["SET", "k", "one"]).await,
        Ok("OK".into())
    );
    assert_eq!(query::<i64>(&mut con, &["INCR", "only-in-1"]).await, Ok(1));
    assert_eq!(
        query::<String>(&mut con, &["SELECT", "15"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["GET", "k"]).await,
        Ok(None)
    );
    assert_eq!(
        query::<String>(&mut con, &["SELECT", "0"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<String>(&mut con, &["GET", "k"]).await,
        Ok("zero".into())
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["GET", "only-in-1"]).await,
        Ok(None)
    );
    // Another connection on db 1 (the URL's /1 sends SELECT 1).
    let mut one = connect(&format!("redis://{}/1", server.addr)).await;
    assert_eq!(
        query::<String>(&mut one, &["GET", "k"]).await,
        Ok("one".into())
    );
    for bad in ["16", "-1", "100000"] {
        assert_eq!(
            query::<String>(&mut con, &["SELECT", bad]).await,
            Err("ERR DB index is out of range".into())
        );
    }
    assert_eq!(
        query::<String>(&mut con, &["SELECT", "x"]).await,
        Err("ERR value is not an integer or out of range".into())
    );
    // A failed SELECT leaves the connection where it was.
    assert_eq!(
        query::<String>(&mut con, &["GET", "k"]).await,
        Ok("zero".into())
    );
}

// --- CLIENT ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_name_id_list_info() {
    let server = TestServer::start().await;
    let mut con = connect(&server.url()).await;
    assert_eq!(
        query::<Option<String>>(&mut con, &["CLIENT", "GETNAME"]).await,
        Ok(None)
    );
    assert_eq!(
        query::<String>(&mut con, &["CLIENT", "SETNAME", "worker-1"]).await,
        Ok("OK".into())
    );
    assert_eq!(
        query::<String>(&mut con, &["CLIENT", "GETNAME"]).await,
        Ok("worker-1".into())
    );
    assert_eq!(
        query::<String>(&mut con, &["CLIENT", "SETNAME", "a b"]).await,
        Err("ERR Client names cannot contain spaces, newlines or special characters.".into())
    );
    let id: i64 = query(&mut con, &["CLIENT", "ID"]).await.unwrap();
    assert!(id > 0);
    let mut other = connect(&server.url()).await;
    let other_id: i64 = query(&mut other, &["CLIENT", "ID"]).await.unwrap();
    assert_ne!(id, other_id);

    let list: String = query(&mut con, &["CLIENT", "LIST"]).await.unwrap();
    let mine = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("own id {id} not in CLIENT LIST:\n{list}"));
    assert!(mine.contains(" name=worker-1 "), "{mine}");
    assert!(mine.contains(" addr=127.0.0.1:"), "{mine}");
    assert!(mine.contains(" db=0 "), "{mine}");
    assert!(mine.contains(" cmd=client|list "), "{mine}");
    assert!(
        list.lines()
            .any(|l| l.starts_with(&format!("id={other_id} "))),
        "{list}"
    );
    assert!(list.ends_with('\n'), "{list:?}");

    let info: String = query(&mut con, &["CLIENT", "INFO"]).await.unwrap();
    assert!(info.starts_with(&format!("id={id} addr=")), "{info}");
    assert!(info.contains(" name=worker-1 "), "{info}");
    assert!(info.ends_with('\n'), "{info:?}");
    assert_eq!(info.lines().count(), 1, "{info}");

    let only: String = query(&mut con, &["CLIENT", "LIST", "ID", &other_id.to_string()])
        .await
        .unwrap();
    assert_eq!(only.lines().count(), 1, "{only}");
    assert!(only.starts_with(&format!("id={other_id} ")), "{only}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_disconnects_the_other_connection() {
    let server = TestServer::start().await;
    let mut victim = Raw::connect(server.addr).await;
    let id_frame = victim.cmd(&["CLIENT", "ID"]).await;
    let victim_id = std::str::from_utf8(&id_frame[1..id_frame.len() - 2])
        .unwrap()
        .to_string();
    let mut con = connect(&server.url()).await;
    assert_eq!(
        query::<i64>(&mut con, &["CLIENT", "KILL", "ID", &victim_id]).await,
        Ok(1)
    );
    victim.expect_closed().await;
    // The killed client is gone from the list.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let list: String = query(&mut con, &["CLIENT", "LIST"]).await.unwrap();
        if !list
            .lines()
            .any(|l| l.starts_with(&format!("id={victim_id} ")))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "killed client still listed:\n{list}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        query::<i64>(&mut con, &["CLIENT", "KILL", "ID", "999999"]).await,
        Ok(0)
    );
    assert_eq!(
        query::<String>(&mut con, &["CLIENT", "KILL", "1.2.3.4:5"]).await,
        Err("ERR No such client".into())
    );
    // Old form: CLIENT KILL ip:port.
    let mut victim2 = Raw::connect(server.addr).await;
    let info = victim2.cmd(&["CLIENT", "INFO"]).await;
    let info = String::from_utf8_lossy(&info);
    let addr = info
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    assert_eq!(
        query::<String>(&mut con, &["CLIENT", "KILL", &addr]).await,
        Ok("OK".into())
    );
    victim2.expect_closed().await;
    // SKIPME: by default a client does not kill itself.
    let own_id: i64 = query(&mut con, &["CLIENT", "ID"]).await.unwrap();
    assert_eq!(
        query::<i64>(&mut con, &["CLIENT", "KILL", "ID", &own_id.to_string()]).await,
        Ok(0)
    );
    assert_eq!(
        query::<String>(&mut con, &["PING"]).await,
        Ok("PONG".into())
    );
}

// --- CLIENT LIST / CLIENT INFO fields ----------------------------------------

/// A CLIENT LIST line's fields, in order.
fn fields(line: &str) -> Vec<(String, String)> {
    line.trim_end()
        .split(' ')
        .map(|f| {
            let (k, v) = f.split_once('=').unwrap_or((f, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn field(line: &str, name: &str) -> String {
    fields(line)
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .1
}

/// The text of a bulk (or verbatim) reply frame.
fn bulk_text(frame: &[u8]) -> String {
    let text = String::from_utf8_lossy(frame).into_owned();
    let body = text.split_once("\r\n").map_or("", |(_, b)| b);
    body.strip_prefix("txt:")
        .unwrap_or(body)
        .trim_end_matches("\r\n")
        .to_string()
}

/// This client's line in CLIENT LIST, as seen by `observer`.
async fn line_of(observer: &mut Raw, id: &str) -> String {
    bulk_text(&observer.cmd(&["CLIENT", "LIST", "ID", id]).await)
}

async fn id_of(raw: &mut Raw) -> String {
    let frame = raw.cmd(&["CLIENT", "ID"]).await;
    String::from_utf8_lossy(&frame[1..frame.len() - 2]).into_owned()
}

/// CLIENT INFO prints Redis 7.0's fields in its order (compared with the
/// reference at 127.0.0.1:6379 when it is up), and their values say what
/// the connection is doing: subscriptions, MULTI, the protocol, a partial
/// request, the socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_info_fields_are_redis_s_and_truthful() {
    let server = TestServer::start().await;
    let mut me = Raw::connect(server.addr).await;
    let mine = bulk_text(&me.cmd(&["CLIENT", "INFO"]).await);
    let names: Vec<String> = fields(&mine).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp"
        ]
    );
    if tokio::net::TcpStream::connect("127.0.0.1:6379")
        .await
        .is_ok()
    {
        let mut reference = Raw::connect("127.0.0.1:6379").await;
        let theirs = bulk_text(&reference.cmd(&["CLIENT", "INFO"]).await);
        let their_names: Vec<String> = fields(&theirs).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, their_names, "respire: {mine}\nredis: {theirs}");
    } else {
        eprintln!("reference Redis at 127.0.0.1:6379 unreachable: field names checked alone");
    }
    assert_eq!(field(&mine, "laddr"), server.addr.to_string());
    assert_eq!(field(&mine, "flags"), "N");
    assert_eq!(field(&mine, "cmd"), "client|info");
    assert_eq!(field(&mine, "argv-mem"), "10");
    assert_eq!(field(&mine, "multi"), "-1");
    assert_eq!(field(&mine, "resp"), "2");
    assert_eq!(field(&mine, "user"), "default");
    assert_eq!(field(&mine, "events"), "r");
    assert!(
        field(&mine, "tot-mem").parse::<u64>().unwrap() > 0,
        "{mine}"
    );
    // fd is the server's socket for this connection: open in this process
    // (the server runs in it), and a socket.
    let fd = field(&mine, "fd");
    let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    assert!(
        target.to_string_lossy().starts_with("socket:"),
        "{target:?}"
    );

    // Pub/sub: counts and flag P, the last command's name.
    let mut sub = Raw::connect(server.addr).await;
    let sub_id = id_of(&mut sub).await;
    sub.send(&common::encode(&[b"SUBSCRIBE", b"a", b"b"])).await;
    sub.read_frame().await;
    sub.read_frame().await;
    sub.send(&common::encode(&[b"PSUBSCRIBE", b"p*"])).await;
    sub.read_frame().await;
    let line = line_of(&mut me, &sub_id).await;
    assert_eq!(field(&line, "flags"), "P", "{line}");
    assert_eq!(field(&line, "sub"), "2", "{line}");
    assert_eq!(field(&line, "psub"), "1", "{line}");
    assert_eq!(field(&line, "cmd"), "psubscribe", "{line}");
    assert_eq!(field(&line, "argv-mem"), "0", "{line}");

    // MULTI: flag x, the queued commands and what they take (each
    // argument's bytes and a pointer, as Redis counts).
    let mut multi = Raw::connect(server.addr).await;
    let multi_id = id_of(&mut multi).await;
    multi.cmd(&["MULTI"]).await;
    multi.cmd(&["SET", "k", "v"]).await;
    multi.cmd(&["GET", "k"]).await;
    multi.cmd(&["CLIENT", "NO-EVICT", "on"]).await;
    let line = line_of(&mut me, &multi_id).await;
    assert_eq!(field(&line, "flags"), "x", "{line}");
    assert_eq!(field(&line, "multi"), "3", "{line}");
    assert_eq!(
        field(&line, "multi-mem"),
        (5 + 3 * 8 + 4 + 2 * 8 + 16 + 3 * 8).to_string(),
        "{line}"
    );
    assert_eq!(field(&line, "cmd"), "client|no-evict", "{line}");
    multi.cmd(&["EXEC"]).await;
    let line = line_of(&mut me, &multi_id).await;
    assert_eq!(field(&line, "flags"), "e", "{line}");
    assert_eq!(field(&line, "multi"), "-1", "{line}");
    assert_eq!(field(&line, "multi-mem"), "0", "{line}");
    assert_eq!(field(&line, "cmd"), "exec", "{line}");

    // RESP3 after HELLO 3; the database.
    let mut three = Raw::connect(server.addr).await;
    let three_id = id_of(&mut three).await;
    three.cmd(&["HELLO", "3"]).await;
    three.cmd(&["SELECT", "4"]).await;
    let line = line_of(&mut me, &three_id).await;
    assert_eq!(field(&line, "resp"), "3", "{line}");
    assert_eq!(field(&line, "db"), "4", "{line}");
    assert_eq!(field(&line, "cmd"), "select", "{line}");

    // A partial request waits in the query buffer.
    let mut partial = Raw::connect(server.addr).await;
    let partial_id = id_of(&mut partial).await;
    partial
        .send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc")
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let line = line_of(&mut me, &partial_id).await;
        let qbuf: usize = field(&line, "qbuf").parse().unwrap();
        if qbuf > 0 {
            assert!(qbuf <= 28, "{line}");
            assert!(
                field(&line, "qbuf-free").parse::<usize>().unwrap() > 0,
                "{line}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{line}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    partial.send(b"defghij\r\n").await;
    partial.expect(b"+OK\r\n").await;
    let line = line_of(&mut me, &partial_id).await;
    assert_eq!(field(&line, "qbuf"), "0", "{line}");

    // MONITOR: flag O.
    let mut monitor = Raw::connect(server.addr).await;
    let monitor_id = id_of(&mut monitor).await;
    monitor.cmd(&["MONITOR"]).await;
    let line = line_of(&mut me, &monitor_id).await;
    assert_eq!(field(&line, "flags"), "O", "{line}");

    // TYPE pubsub kills the subscriber alone, and it leaves the list at
    // once; SKIPME no kills the caller after its reply.
    assert_eq!(
        me.cmd(&["CLIENT", "KILL", "TYPE", "pubsub", "SKIPME", "yes"])
            .await,
        b":1\r\n"
    );
    sub.expect_closed().await;
    assert_eq!(line_of(&mut me, &sub_id).await, "");
    let addr = field(&line_of(&mut me, &three_id).await, "addr");
    assert_eq!(
        me.cmd(&[
            "CLIENT", "KILL", "ADDR", &addr, "TYPE", "normal", "USER", "default"
        ])
        .await,
        b":1\r\n"
    );
    three.expect_closed().await;
    let my_id = field(&mine, "id");
    assert_eq!(me.cmd(&["CLIENT", "KILL", "ID", &my_id]).await, b":0\r\n");
    let laddr = server.addr.to_string();
    let mut others = Raw::connect(server.addr).await;
    let killed = others
        .cmd(&["CLIENT", "KILL", "LADDR", &laddr, "SKIPME", "no"])
        .await;
    // Every client left: me, multi, partial, monitor and the caller.
    assert_eq!(killed, b":5\r\n");
    others.expect_closed().await;
    me.expect_closed().await;
}
