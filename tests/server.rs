//! Server-level behaviour through a real client (the `redis` crate) and raw
//! RESP where the exact bytes matter: AUTH, SELECT, CLIENT, CONFIG, INFO,
//! COMMAND, transactions, keyspace notifications, expiry, pub/sub and
//! graceful shutdown.
//!
//! Every expected reply here was checked against Redis 7.0.15.

mod common;

use std::time::Duration;

use common::{Events, Raw, TestServer, key_event, key_events, query, show};
use redis::Value;
use redis::aio::MultiplexedConnection;

/// A fresh connection of its own (SELECT and AUTH are per connection).
async fn connect(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

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

// --- MULTI / EXEC / WATCH ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_exec_applies_everything() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"MULTI\r\nSET a 1\r\nINCR a\r\nGET a\r\nSET b x\r\nEXEC\r\n")
        .await;
    raw.expect(
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*4\r\n+OK\r\n:2\r\n$1\r\n2\r\n+OK\r\n",
    )
    .await;
    raw.send(b"MGET a b\r\n").await;
    raw.expect(b"*2\r\n$1\r\n2\r\n$1\r\nx\r\n").await;
    // Empty transaction.
    raw.send(b"MULTI\r\nEXEC\r\n").await;
    raw.expect(b"+OK\r\n*0\r\n").await;
    // Misuse.
    raw.send(b"EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nWATCH a\r\nDISCARD\r\n")
        .await;
    raw.expect(
        b"-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n\
          -ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n+OK\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_applies_nothing() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"MULTI\r\nSET gone 1\r\nDISCARD\r\nGET gone\r\n")
        .await;
    raw.expect(b"+OK\r\n+QUEUED\r\n+OK\r\n$-1\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_key_changed_by_another_connection_aborts_exec() {
    let server = TestServer::start().await;
    let mut a = Raw::connect(server.addr).await;
    let mut b = Raw::connect(server.addr).await;
    assert_eq!(show(&a.cmd(&["SET", "w", "0"]).await), "+OK\\r\\n");
    a.send(b"WATCH w\r\n").await;
    a.expect(b"+OK\r\n").await;
    assert_eq!(show(&b.cmd(&["SET", "w", "theirs"]).await), "+OK\\r\\n");
    a.send(b"MULTI\r\nSET w mine\r\nSET other 1\r\nEXEC\r\n")
        .await;
    a.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*-1\r\n").await;
    a.send(b"MGET w other\r\n").await;
    a.expect(b"*2\r\n$6\r\ntheirs\r\n$-1\r\n").await;

    // EXEC forgets the watch: the next transaction goes through.
    a.send(b"MULTI\r\nSET w mine\r\nEXEC\r\n").await;
    a.expect(b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n").await;

    // Watching a missing key that another connection creates.
    a.send(b"WATCH fresh\r\n").await;
    a.expect(b"+OK\r\n").await;
    assert_eq!(show(&b.cmd(&["SET", "fresh", "1"]).await), "+OK\\r\\n");
    a.send(b"MULTI\r\nINCR fresh\r\nEXEC\r\n").await;
    a.expect(b"+OK\r\n+QUEUED\r\n*-1\r\n").await;

    // An unchanged watched key lets EXEC run; UNWATCH forgets.
    a.send(b"WATCH w\r\nMULTI\r\nINCR n\r\nEXEC\r\n").await;
    a.expect(b"+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n:1\r\n").await;
    a.send(b"WATCH w\r\nUNWATCH\r\n").await;
    a.expect(b"+OK\r\n+OK\r\n").await;
    assert_eq!(show(&b.cmd(&["SET", "w", "again"]).await), "+OK\\r\\n");
    a.send(b"MULTI\r\nINCR n\r\nEXEC\r\n").await;
    a.expect(b"+OK\r\n+QUEUED\r\n*1\r\n:2\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_wrong_arity_aborts_exec() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"MULTI\r\nSET k v\r\nGET\r\nNOSUCHCMD\r\nEXEC\r\nGET k\r\n")
        .await;
    raw.expect(
        b"+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'get' command\r\n\
          -ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n\
          -EXECABORT Transaction discarded because of previous errors.\r\n$-1\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_with_wrong_arity_aborts_the_transaction() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    // EXEC itself with the wrong arity aborts (and ends) the transaction.
    raw.send(b"MULTI\r\nSET k v\r\nEXEC x\r\nEXEC\r\nGET k\r\n")
        .await;
    raw.expect(
        b"+OK\r\n+QUEUED\r\n\
          -EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n\
          -ERR EXEC without MULTI\r\n$-1\r\n",
    )
    .await;
    // Outside MULTI too, Redis words it as an EXECABORT.
    raw.send(b"EXEC x\r\n").await;
    raw.expect(b"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_error_inside_exec_does_not_stop_the_others() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"SET s abc\r\nMULTI\r\nSET a 1\r\nINCR s\r\nINCR a\r\nEXEC\r\n")
        .await;
    raw.expect(
        b"+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n\
          *3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n:2\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrongtype_inside_exec_does_not_stop_the_others() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(
        b"HSET h f v\r\nMULTI\r\nSET a 1\r\nINCR h\r\nGET h\r\nINCR a\r\nHGET h f\r\nEXEC\r\n",
    )
    .await;
    raw.expect(
        b":1\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*5\r\n+OK\r\n\
          -WRONGTYPE Operation against a key holding the wrong kind of value\r\n\
          -WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n$1\r\nv\r\n",
    )
    .await;
}

/// Optimistic locking: every client increments with WATCH / GET / MULTI /
/// SET / EXEC and retries on a nil EXEC. The total is exact only if EXEC
/// checks the watched version and commits atomically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_based_increments_from_many_clients_are_exact() {
    let server = TestServer::start().await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let mut raw = Raw::connect(addr).await;
            let mut retries = 0;
            for _ in 0..30 {
                loop {
                    assert_eq!(raw.cmd(&["WATCH", "c"]).await, b"+OK\r\n");
                    let frame = raw.cmd(&["GET", "c"]).await;
                    let n: i64 = if frame == b"$-1\r\n" {
                        0
                    } else {
                        let text = String::from_utf8_lossy(&frame);
                        text.lines().nth(1).unwrap().parse().unwrap()
                    };
                    let next = (n + 1).to_string();
                    raw.send(&common::encode(&[b"MULTI"])).await;
                    raw.send(&common::encode(&[b"SET", b"c", next.as_bytes()]))
                        .await;
                    raw.send(&common::encode(&[b"EXEC"])).await;
                    raw.expect(b"+OK\r\n+QUEUED\r\n").await;
                    match &raw.read_frame().await[..] {
                        b"*1\r\n+OK\r\n" => break,
                        b"*-1\r\n" => retries += 1,
                        other => panic!("EXEC answered {}", show(other)),
                    }
                }
            }
            retries
        }));
    }
    let mut retries = 0;
    for t in tasks {
        retries += t.await.unwrap();
    }
    let mut raw = Raw::connect(server.addr).await;
    assert_eq!(
        show(&raw.cmd(&["GET", "c"]).await),
        "$3\\r\\n180\\r\\n",
        "after {retries} retries"
    );
}

/// Readers never see half of a transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_exec_is_atomic_for_other_clients() {
    let server = TestServer::start().await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (addr, done) = (server.addr, done.clone());
        tokio::spawn(async move {
            let mut raw = Raw::connect(addr).await;
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let frame = raw.cmd(&["MGET", "a", "b"]).await;
                // *2, then the two values: equal, or a torn read.
                let first = common::frame_len(&frame[4..]).unwrap();
                let (a, b) = frame[4..].split_at(first);
                assert_eq!(show(a), show(b), "torn read: {}", show(&frame));
                reads += 1;
            }
            reads
        })
    };
    let mut raw = Raw::connect(server.addr).await;
    for i in 0..150 {
        let v = i.to_string();
        let mut batch = common::encode(&[b"MULTI"]);
        batch.extend(common::encode(&[b"SET", b"a", v.as_bytes()]));
        batch.extend(common::encode(&[b"SET", b"b", v.as_bytes()]));
        batch.extend(common::encode(&[b"EXEC"]));
        raw.send(&batch).await;
        raw.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n+OK\r\n")
            .await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.await.unwrap();
    assert!(reads > 0);
}

// --- Keyspace notifications and expiry ----------------------------------------

/// Subscribes to every keyspace/keyevent channel, then turns events on
/// (the order ion uses: subscribe, then CONFIG SET).
async fn watch_all(server: &TestServer) -> (Events, MultiplexedConnection) {
    let events = Events::psubscribe(&server.url(), "__key*__:*").await;
    let mut con = connect(&server.url()).await;
    assert_eq!(
        query::<String>(
            &mut con,
            &["CONFIG", "SET", "notify-keyspace-events", "KEA"]
        )
        .await,
        Ok("OK".into())
    );
    (events, con)
}

/// Runs `commands`, then `SET end-marker 1`, and returns every event that
/// arrived before the marker's own.
async fn events_of(
    events: &mut Events,
    con: &mut MultiplexedConnection,
    commands: &[&[&str]],
) -> Vec<(String, String)> {
    for args in commands {
        query::<Value>(con, args)
            .await
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }
    query::<Value>(con, &["SET", "end-marker", "1"])
        .await
        .unwrap();
    let mut got = events
        .until("__keyevent@0__:set", "end-marker", Duration::from_secs(5))
        .await;
    let marker = key_event(0, "end-marker", "set");
    assert_eq!(got.split_off(got.len() - 2), marker.to_vec());
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_events_for_strings() {
    let server = TestServer::start().await;
    let (mut events, mut con) = watch_all(&server).await;
    let got = events_of(
        &mut events,
        &mut con,
        &[
            &["SET", "k", "v"],
            &["SETEX", "k2", "100", "v"],
            &["SET", "k3", "v", "PX", "100000"],
            &["INCR", "n"],
            &["INCRBY", "n", "5"],
            &["APPEND", "k", "w"],
            &["GET", "k"],
            &["SETNX", "k", "other"],
            &["GETDEL", "k3"],
            &["GETDEL", "missing"],
        ],
    )
    .await;
    assert_eq!(
        got,
        key_events(&[
            ("k", "set"),
            ("k2", "set"),
            ("k2", "expire"),
            ("k3", "set"),
            ("k3", "expire"),
            ("n", "incrby"),
            ("n", "incrby"),
            ("k", "append"),
            ("k3", "del"),
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_events_for_keys_and_hashes() {
    let server = TestServer::start().await;
    let (mut events, mut con) = watch_all(&server).await;
    let got = events_of(
        &mut events,
        &mut con,
        &[
            &["SET", "k", "v"],
            &["SETEX", "k2", "100", "v"],
            &["DEL", "missing"],
            &["DEL", "k"],
            &["EXPIRE", "k2", "100"],
            &["EXPIRE", "missing", "100"],
            &["HSET", "h", "f", "1", "g", "2"],
            &["HDEL", "h", "f"],
            &["HDEL", "h", "nope"],
            &["HDEL", "h", "g"],
        ],
    )
    .await;
    assert_eq!(
        got,
        key_events(&[
            ("k", "set"),
            ("k2", "set"),
            ("k2", "expire"),
            ("k", "del"),
            ("k2", "expire"),
            ("h", "hset"),
            ("h", "hdel"),
            ("h", "hdel"),
            ("h", "del"),
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_events_filtered_by_flags() {
    let server = TestServer::start().await;
    let mut events = Events::psubscribe(&server.url(), "__key*__:*").await;
    let mut con = connect(&server.url()).await;
    // Only keyevent messages for generic commands (del, expire...) and strings.
    query::<String>(
        &mut con,
        &["CONFIG", "SET", "notify-keyspace-events", "E$g"],
    )
    .await
    .unwrap();
    query::<String>(&mut con, &["SET", "a", "1"]).await.unwrap();
    query::<String>(&mut con, &["SET", "marker", "1"])
        .await
        .unwrap();
    let got = events
        .until("__keyevent@0__:set", "marker", Duration::from_secs(5))
        .await;
    assert_eq!(
        got,
        vec![
            ("__keyevent@0__:set".to_string(), "a".to_string()),
            ("__keyevent@0__:set".to_string(), "marker".to_string()),
        ]
    );
    // Events off: nothing at all, then back on.
    query::<String>(&mut con, &["CONFIG", "SET", "notify-keyspace-events", ""])
        .await
        .unwrap();
    query::<String>(&mut con, &["SET", "quiet", "1"])
        .await
        .unwrap();
    query::<String>(&mut con, &["CONFIG", "SET", "notify-keyspace-events", "K$"])
        .await
        .unwrap();
    query::<String>(&mut con, &["SET", "loud", "1"])
        .await
        .unwrap();
    let got = events
        .until("__keyspace@0__:loud", "set", Duration::from_secs(5))
        .await;
    assert_eq!(
        got,
        vec![("__keyspace@0__:loud".to_string(), "set".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_events_carry_the_database_number() {
    let server = TestServer::start().await;
    let (mut events, _) = watch_all(&server).await;
    let mut db3 = connect(&format!("redis://{}/3", server.addr)).await;
    query::<String>(&mut db3, &["SET", "k", "v"]).await.unwrap();
    query::<i64>(&mut db3, &["DEL", "k"]).await.unwrap();
    let got = events
        .until("__keyevent@3__:del", "k", Duration::from_secs(5))
        .await;
    let want: Vec<_> = [key_event(3, "k", "set"), key_event(3, "k", "del")].concat();
    assert_eq!(got, want);
}

/// A key that expires is reported `expired` exactly once, whether the
/// sweeper or a write that finds it dead gets there first; a write to it
/// then starts from nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_is_emitted_exactly_once_under_lazy_and_active_expiry() {
    let server = TestServer::start().await;
    let (mut events, mut con) = watch_all(&server).await;
    let keys: Vec<String> = (0..20).map(|i| format!("e{i}")).collect();
    for k in &keys {
        query::<String>(&mut con, &["SET", k, "v", "PX", "40"])
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(45)).await;
    for k in &keys {
        assert_eq!(query::<i64>(&mut con, &["APPEND", k, "x"]).await, Ok(1));
    }
    query::<String>(&mut con, &["SET", "end-marker", "1"])
        .await
        .unwrap();
    let got = events
        .until("__keyevent@0__:set", "end-marker", Duration::from_secs(5))
        .await;
    for k in &keys {
        let channel = format!("__keyspace@0__:{k}");
        let mine: Vec<&str> = got
            .iter()
            .filter(|(c, _)| *c == channel)
            .map(|(_, e)| e.as_str())
            .collect();
        assert_eq!(mine, ["set", "expire", "expired", "append"], "{k}: {got:?}");
    }
    // Nothing more (no late duplicate from the sweeper).
    assert_eq!(events.next(Duration::from_millis(300)).await, None);
    for k in &keys {
        assert_eq!(query::<i64>(&mut con, &["TTL", k]).await, Ok(-1), "{k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_expiry_emits_expired_without_any_read() {
    let server = TestServer::start().await;
    let (mut events, mut con) = watch_all(&server).await;
    let started = std::time::Instant::now();
    query::<String>(&mut con, &["SET", "short", "v", "PX", "100"])
        .await
        .unwrap();
    let got = events
        .until(
            "__keyevent@0__:expired",
            "short",
            Duration::from_millis(1500),
        )
        .await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(
        got,
        key_events(&[("short", "set"), ("short", "expire"), ("short", "expired")])
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["GET", "short"]).await,
        Ok(None)
    );
    // The sweeper really deleted it (not only hidden by lazy expiry).
    assert_eq!(
        query::<String>(&mut con, &["INFO", "keyspace"]).await,
        Ok("# Keyspace\r\n".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_expiry_hides_the_key_at_the_deadline() {
    let server = TestServer::start().await;
    let mut con = server.client().await;
    for i in 0..3 {
        let key = format!("lazy{i}");
        query::<String>(&mut con, &["SET", &key, "v", "PX", "200"])
            .await
            .unwrap();
        let set_at = std::time::Instant::now();
        assert_eq!(
            query::<Option<String>>(&mut con, &["GET", &key]).await,
            Ok(Some("v".into()))
        );
        tokio::time::sleep_until((set_at + Duration::from_millis(202)).into()).await;
        assert_eq!(
            query::<Option<String>>(&mut con, &["GET", &key]).await,
            Ok(None),
            "GET {key} just after its deadline"
        );
        assert_eq!(
            query::<Vec<Option<String>>>(&mut con, &["MGET", &key]).await,
            Ok(vec![None])
        );
        assert_eq!(
            query::<i64>(&mut con, &["APPEND", &key, "x"]).await,
            Ok(1),
            "APPEND to {key} after its deadline starts from empty"
        );
    }
}

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
