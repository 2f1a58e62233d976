//! The wire protocol, byte for byte: pipelining, inline commands, RESP3,
//! Redis's exact `Protocol error` replies (and the close that follows),
//! subscribed mode, QUIT/RESET, the client limit, and garbage input.
//!
//! Every expected reply here was checked against Redis 7.0.15.

use crate::common::{ProcessServer, Raw, TestServer, encode, show};

/// Sends `input` on a fresh connection and asserts Redis's exact protocol
/// error followed by the server closing the connection; then checks that
/// the server still serves a new connection.
async fn assert_protocol_error(server: &TestServer, input: &[u8], text: &str) {
    let mut raw = Raw::connect(server.addr).await;
    raw.send(input).await;
    raw.expect(format!("-ERR Protocol error: {text}\r\n").as_bytes())
        .await;
    raw.expect_closed().await;
    let mut fresh = Raw::connect(server.addr).await;
    assert_eq!(show(&fresh.cmd(&["PING"]).await), "+PONG\\r\\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_1000_incr_in_one_write() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    let request = encode(&[b"INCR", b"counter"]).repeat(1000);
    raw.send(&request).await;
    let expected: String = (1..=1000).map(|i| format!(":{i}\r\n")).collect();
    raw.expect(expected.as_bytes()).await;
    assert_eq!(
        show(&raw.cmd(&["GET", "counter"]).await),
        "$4\\r\\n1000\\r\\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_mixed_commands_answer_in_order() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    let mut request = Vec::new();
    request.extend(encode(&[b"SET", b"a", b"1"]));
    request.extend(b"PING\r\n");
    request.extend(encode(&[b"GET", b"a"]));
    request.extend(encode(&[b"INCR", b"a"]));
    request.extend(b"ECHO hello\r\n");
    request.extend(encode(&[b"GET", b"missing"]));
    request.extend(encode(&[b"NOSUCH"]));
    request.extend(encode(&[b"GET", b"a"]));
    raw.send(&request).await;
    raw.expect(
        b"+OK\r\n+PONG\r\n$1\r\n1\r\n:2\r\n$5\r\nhello\r\n$-1\r\n\
          -ERR unknown command 'NOSUCH', with args beginning with: \r\n$1\r\n2\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_request_split_across_writes() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    let request = encode(&[b"SET", b"split", b"value"]);
    // One byte per write, with pauses so the server sees partial frames.
    for b in &request {
        raw.send(std::slice::from_ref(b)).await;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    raw.expect(b"+OK\r\n").await;
    raw.send(b"GET sp").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    raw.send(b"lit\r").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    raw.send(b"\n").await;
    raw.expect(b"$5\r\nvalue\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pipelines_from_many_clients() {
    let server = TestServer::start().await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let mut raw = Raw::connect(addr).await;
            raw.send(&encode(&[b"INCR", b"shared"]).repeat(250)).await;
            for _ in 0..250 {
                let frame = raw.read_frame().await;
                assert_eq!(frame[0], b':', "{}", show(&frame));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut raw = Raw::connect(server.addr).await;
    assert_eq!(
        show(&raw.cmd(&["GET", "shared"]).await),
        "$4\\r\\n2000\\r\\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_values_round_trip() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    let value: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut input = encode(&[b"SET", b"big", &value]);
    input.extend(encode(&[b"GET", b"big"]));
    input.extend(encode(&[b"STRLEN", b"big"]));
    raw.send(&input).await;
    raw.expect(b"+OK\r\n").await;
    let mut want = format!("${}\r\n", value.len()).into_bytes();
    want.extend(&value);
    want.extend(b"\r\n:4194304\r\n");
    let got = raw.read_bytes(want.len()).await;
    assert!(got == want, "4 MiB value came back different");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_commands() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"PING\r\n").await;
    raw.expect(b"+PONG\r\n").await;
    raw.send(b"SET k \"a b\"\r\n").await;
    raw.expect(b"+OK\r\n").await;
    // `\n`-only line ends.
    raw.send(b"GET k\n").await;
    raw.expect(b"$3\r\na b\r\n").await;
    // Blank lines are skipped without a reply.
    raw.send(b"\r\n\n   \r\nPING\n").await;
    raw.expect(b"+PONG\r\n").await;
    // Quoting and escapes as in redis-cli / sdssplitargs.
    raw.send(b"SET k2 \"\\x41\\tB\\n\"\r\nGET k2\r\n").await;
    raw.expect(b"+OK\r\n$4\r\nA\tB\n\r\n").await;
    raw.send(b"SET k3 'it\\'s'\r\nGET k3\r\n").await;
    raw.expect(b"+OK\r\n$4\r\nit's\r\n").await;
    raw.send(b"ECHO \"\"\r\n").await;
    raw.expect(b"$0\r\n\r\n").await;
    // Inline and multibulk mixed in one write.
    let mut mixed = b"PING one\r\n".to_vec();
    mixed.extend(encode(&[b"PING", b"two"]));
    mixed.extend(b"PING three\n");
    raw.send(&mixed).await;
    raw.expect(b"$3\r\none\r\n$3\r\ntwo\r\n$5\r\nthree\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_command_and_wrong_arity() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"foo a b\r\n").await;
    raw.expect(b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n")
        .await;
    raw.send(&encode(&[b"FOO"])).await;
    raw.expect(b"-ERR unknown command 'FOO', with args beginning with: \r\n")
        .await;
    raw.send(b"get\r\n").await;
    raw.expect(b"-ERR wrong number of arguments for 'get' command\r\n")
        .await;
    raw.send(&encode(&[b"GET", b"a", b"b"])).await;
    raw.expect(b"-ERR wrong number of arguments for 'get' command\r\n")
        .await;
    raw.send(&encode(&[b"CLIENT", b"NOPE"])).await;
    raw.expect(b"-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n")
        .await;
    // The connection is still usable after errors.
    assert_eq!(show(&raw.cmd(&["PING"]).await), "+PONG\\r\\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_hello_map_and_null() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    let id_frame = raw.cmd(&["CLIENT", "ID"]).await;
    let id = std::str::from_utf8(&id_frame[1..id_frame.len() - 2]).unwrap();
    let hello = |proto: u8| {
        format!(
            "$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
             $5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
             $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
        )
    };
    raw.send(b"HELLO 3\r\n").await;
    raw.expect(format!("%7\r\n{}", hello(3)).as_bytes()).await;
    raw.send(b"GET missing\r\n").await;
    raw.expect(b"_\r\n").await;
    raw.send(&encode(&[b"SET", b"k", b"v"])).await;
    raw.expect(b"+OK\r\n").await;
    raw.send(&encode(&[b"MGET", b"k", b"nope"])).await;
    raw.expect(b"*2\r\n$1\r\nv\r\n_\r\n").await;
    raw.send(b"HELLO 4\r\n").await;
    raw.expect(b"-NOPROTO unsupported protocol version\r\n")
        .await;
    // Back to RESP2: the map becomes a flat array, null a nil bulk.
    raw.send(b"HELLO 2\r\n").await;
    raw.expect(format!("*14\r\n{}", hello(2)).as_bytes()).await;
    raw.send(b"GET missing\r\n").await;
    raw.expect(b"$-1\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_hgetall_is_a_map() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"HELLO 3\r\n").await;
    let _ = raw.read_frame().await;
    assert_eq!(show(&raw.cmd(&["HSET", "h", "a", "1"]).await), ":1\\r\\n");
    assert_eq!(
        show(&raw.cmd(&["HGETALL", "h"]).await),
        show(b"%1\r\n$1\r\na\r\n$1\r\n1\r\n")
    );
    assert_eq!(show(&raw.cmd(&["HGETALL", "none"]).await), "%0\\r\\n");
    raw.send(b"HELLO 2\r\n").await;
    let _ = raw.read_frame().await;
    assert_eq!(
        show(&raw.cmd(&["HGETALL", "h"]).await),
        show(b"*2\r\n$1\r\na\r\n$1\r\n1\r\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_close_the_connection() {
    let server = TestServer::start().await;
    assert_protocol_error(&server, b"*x\r\n", "invalid multibulk length").await;
    assert_protocol_error(&server, b"*1\r\n+foo\r\n", "expected '$', got '+'").await;
    assert_protocol_error(
        &server,
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        "expected '$', got ':'",
    )
    .await;
    assert_protocol_error(&server, b"*1\r\n$-3\r\n", "invalid bulk length").await;
    assert_protocol_error(&server, b"*1\r\n$abc\r\n", "invalid bulk length").await;
    assert_protocol_error(&server, b"*2147483648\r\n", "invalid multibulk length").await;
    assert_protocol_error(&server, b"SET \"a\r\n", "unbalanced quotes in request").await;
    assert_protocol_error(&server, b"SET 'a\n", "unbalanced quotes in request").await;
    assert_protocol_error(&server, b"SET \"a\"b c\r\n", "unbalanced quotes in request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_error_after_good_requests_answers_them_first() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    let mut input = encode(&[b"SET", b"k", b"v"]);
    input.extend(b"*1\r\n+x\r\n");
    input.extend(encode(&[b"SET", b"never", b"v"]));
    raw.send(&input).await;
    raw.expect(b"+OK\r\n-ERR Protocol error: expected '$', got '+'\r\n")
        .await;
    raw.expect_closed().await;
    let mut fresh = Raw::connect(server.addr).await;
    assert_eq!(show(&fresh.cmd(&["GET", "k"]).await), "$1\\r\\nv\\r\\n");
    assert_eq!(show(&fresh.cmd(&["GET", "never"]).await), "$-1\\r\\n");
}

/// Redis 7.0 itself accepts counts up to INT_MAX and waits for the
/// arguments; respire refuses more than 1024*1024 arguments up front so a
/// 12-byte request cannot make it reserve memory for millions of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_multibulk_count_is_refused() {
    let server = TestServer::start().await;
    // Redis's limit is INT_MAX (a count of 2,000,000 waits for its data).
    assert_protocol_error(&server, b"*2147483648\r\n", "invalid multibulk length").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_longer_than_proto_max_bulk_len_is_refused_before_the_payload() {
    let server = TestServer::start_with(|c| c.proto_max_bulk_len = 1024).await;
    // The header alone is enough: the server must not wait for 2000 bytes.
    assert_protocol_error(&server, b"*1\r\n$2000\r\n", "invalid bulk length").await;
    assert_protocol_error(
        &server,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n",
        "invalid bulk length",
    )
    .await;
    // Exactly the limit is fine.
    let mut raw = Raw::connect(server.addr).await;
    let value = vec![b'x'; 1024];
    raw.send(&encode(&[b"SET", b"k", &value])).await;
    raw.expect(b"+OK\r\n").await;
    assert_eq!(raw.cmd(&["STRLEN", "k"]).await, b":1024\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_big_inline_request() {
    let server = TestServer::start().await;
    let line = vec![b'a'; 70 * 1024];
    assert_protocol_error(&server, &line, "too big inline request").await;
    // A length line that never ends.
    let mut count = b"*1\r\n$".to_vec();
    count.extend(vec![b'1'; 70 * 1024]);
    assert_protocol_error(&server, &count, "too big bulk count string").await;
    let mut mbulk = b"*".to_vec();
    mbulk.extend(vec![b'1'; 70 * 1024]);
    assert_protocol_error(&server, &mbulk, "too big mbulk count string").await;
}

/// A tiny deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a [u8]]) -> &'a [u8] {
        items[self.below(items.len())]
    }
}

/// Random bytes, biased towards RESP's special characters.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"*", b"$", b"\r\n", b"\n", b"\r", b"-1", b"0", b"1", b"3", b"99999", b"\"", b"'", b"\\x",
        b" ", b"+", b":", b"%", b">", b"GET", b"SET", b"PING",
    ];
    let len = 1 + rng.below(300);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        if rng.below(3) == 0 {
            out.extend_from_slice(rng.pick(PIECES));
        } else {
            out.push(rng.next() as u8);
        }
    }
    out
}

/// Well-framed requests for real commands with hostile arguments: these
/// reach the command code, not just the parser.
fn hostile_request(rng: &mut Rng) -> Vec<u8> {
    const COMMANDS: &[&[u8]] = &[
        b"GET",
        b"SET",
        b"SETEX",
        b"PSETEX",
        b"SETNX",
        b"GETEX",
        b"GETDEL",
        b"GETSET",
        b"MGET",
        b"MSET",
        b"MSETNX",
        b"INCR",
        b"DECR",
        b"INCRBY",
        b"DECRBY",
        b"INCRBYFLOAT",
        b"APPEND",
        b"STRLEN",
        b"GETRANGE",
        b"SETRANGE",
        b"SUBSTR",
        b"HSET",
        b"HMSET",
        b"HGET",
        b"HMGET",
        b"HGETALL",
        b"HDEL",
        b"HINCRBY",
        b"HINCRBYFLOAT",
        b"HSCAN",
        b"DEL",
        b"UNLINK",
        b"EXISTS",
        b"EXPIRE",
        b"PEXPIRE",
        b"EXPIREAT",
        b"TTL",
        b"PTTL",
        b"PERSIST",
        b"KEYS",
        b"SCAN",
        b"TYPE",
        b"RENAME",
        b"CLIENT",
        b"CONFIG",
        b"INFO",
        b"COMMAND",
        b"PUBSUB",
        b"PUBLISH",
        b"SUBSCRIBE",
        b"PSUBSCRIBE",
        b"UNSUBSCRIBE",
        b"PING",
        b"ECHO",
        b"HELLO",
        b"SELECT",
        b"MULTI",
        b"EXEC",
        b"DISCARD",
        b"WATCH",
        b"AUTH",
        b"RESET",
        b"TIME",
        b"DBSIZE",
    ];
    const ARGS: &[&[u8]] = &[
        b"",
        b"0",
        b"1",
        b"-1",
        b"2",
        b"100",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"9223372036854775808",
        b"1.5",
        b"-inf",
        b"inf",
        b"nan",
        b"1e308",
        b"k",
        b"h",
        b"f",
        b"EX",
        b"PX",
        b"EXAT",
        b"PXAT",
        b"NX",
        b"XX",
        b"GT",
        b"LT",
        b"KEEPTTL",
        b"GET",
        b"PERSIST",
        b"MATCH",
        b"COUNT",
        b"TYPE",
        b"*",
        b"[",
        b"\\",
        b"h*[a-",
        b"\x00\xff\xfe",
        b"ID",
        b"LIST",
        b"INFO",
        b"KILL",
        b"SETNAME",
        b"GETNAME",
        b"SETINFO",
        b"LIB-NAME",
        b"DOCS",
        b"COUNT",
        b"GETKEYS",
        b"CHANNELS",
        b"NUMSUB",
        b"NUMPAT",
        b"SKIPME",
        b"no",
        b"notify-keyspace-events",
        b"maxclients",
        b"3",
        b"AUTH",
        b"default",
        b"all",
    ];
    let cmd = rng.pick(COMMANDS);
    let mut args: Vec<&[u8]> = vec![cmd];
    for _ in 0..rng.below(7) {
        args.push(rng.pick(ARGS));
    }
    let mut out = encode(&args);
    if rng.below(4) == 0 {
        // Sometimes a second request in the same write.
        out.extend(hostile_request(rng));
    }
    out
}

/// Runs the real binary (so a panic anywhere shows on its stderr), throws a
/// few hundred random buffers and hostile requests at it, and checks it is
/// still alive, still answering, and never panicked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_garbage_never_crashes_the_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut server = ProcessServer::spawn(dir.path(), &[]).await;
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let inputs: Vec<Vec<u8>> = (0..600)
        .map(|i| {
            if i % 2 == 0 {
                garbage(&mut rng)
            } else {
                hostile_request(&mut rng)
            }
        })
        .collect();
    for batch in inputs.chunks(25) {
        let mut tasks = Vec::new();
        for input in batch {
            let (addr, input) = (server.addr, input.clone());
            tasks.push(tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                let _ = s.write_all(&input).await;
                // Half-close: the server sees EOF after this input and must
                // close its side; whatever it answered is drained.
                let _ = s.shutdown().await;
                let mut sink = Vec::new();
                let read = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    s.read_to_end(&mut sink),
                )
                .await;
                assert!(
                    read.is_ok(),
                    "server kept the connection open after EOF for input {}",
                    show(&input)
                );
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "server exited: {}",
        server.stderr()
    );
    let mut raw = Raw::connect(server.addr).await;
    assert_eq!(show(&raw.cmd(&["PING"]).await), "+PONG\\r\\n");
    assert_eq!(show(&raw.cmd(&["SET", "after", "fuzz"]).await), "+OK\\r\\n");
    assert_eq!(
        show(&raw.cmd(&["GET", "after"]).await),
        "$4\\r\\nfuzz\\r\\n"
    );
    let stderr = server.stderr();
    assert!(
        !stderr.contains("panicked"),
        "the server panicked during the fuzz run:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_mode_resp2() {
    let server = TestServer::start().await;
    let mut sub = Raw::connect(server.addr).await;
    sub.send(b"SUBSCRIBE ch\r\n").await;
    sub.expect(b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
        .await;
    sub.send(b"GET k\r\n").await;
    sub.expect(
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    )
    .await;
    sub.send(b"PING\r\n").await;
    sub.expect(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").await;
    sub.send(b"PING x\r\n").await;
    sub.expect(b"*2\r\n$4\r\npong\r\n$1\r\nx\r\n").await;
    sub.send(b"PSUBSCRIBE c*\r\n").await;
    sub.expect(b"*3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n")
        .await;

    let mut publisher = Raw::connect(server.addr).await;
    assert_eq!(
        show(&publisher.cmd(&["PUBLISH", "ch", "hi"]).await),
        ":2\\r\\n"
    );
    let first = sub.read_frame().await;
    let second = sub.read_frame().await;
    let mut got = [show(&first), show(&second)];
    got.sort();
    let mut want = [
        show(b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
        show(b"*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
    ];
    want.sort();
    assert_eq!(got, want);

    sub.send(b"UNSUBSCRIBE\r\n").await;
    sub.expect(b"*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:1\r\n")
        .await;
    // Still subscribed to the pattern.
    sub.send(b"GET k\r\n").await;
    sub.expect(
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    )
    .await;
    sub.send(b"PUNSUBSCRIBE\r\n").await;
    sub.expect(b"*3\r\n$12\r\npunsubscribe\r\n$2\r\nc*\r\n:0\r\n")
        .await;
    // Out of subscribed mode: everything works again.
    sub.send(b"GET k\r\nPING\r\n").await;
    sub.expect(b"$-1\r\n+PONG\r\n").await;
    sub.send(b"UNSUBSCRIBE\r\n").await;
    sub.expect(b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n")
        .await;
}

/// The refusal names the full command, subcommand included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_mode_refusal_names_the_subcommand() {
    let server = TestServer::start().await;
    let mut sub = Raw::connect(server.addr).await;
    sub.send(b"SUBSCRIBE ch\r\n").await;
    let _ = sub.read_frame().await;
    for (input, name) in [
        (&b"CLIENT ID\r\n"[..], "client|id"),
        (b"CONFIG GET x\r\n", "config|get"),
    ] {
        sub.send(input).await;
        sub.expect(format!("-ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n").as_bytes())
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_mode_resp3_push_frames() {
    let server = TestServer::start().await;
    let mut sub = Raw::connect(server.addr).await;
    sub.send(b"HELLO 3\r\n").await;
    let _ = sub.read_frame().await;
    sub.send(b"SUBSCRIBE ch\r\n").await;
    sub.expect(b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
        .await;
    // RESP3 allows every command while subscribed.
    sub.send(b"SET k v\r\nGET k\r\nPING\r\n").await;
    sub.expect(b"+OK\r\n$1\r\nv\r\n+PONG\r\n").await;
    let mut publisher = Raw::connect(server.addr).await;
    assert_eq!(
        show(&publisher.cmd(&["PUBLISH", "ch", "hi"]).await),
        ":1\\r\\n"
    );
    sub.expect(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n")
        .await;
    sub.send(b"UNSUBSCRIBE ch\r\n").await;
    sub.expect(b">3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_answers_ok_and_closes() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"QUIT\r\n").await;
    raw.expect(b"+OK\r\n").await;
    raw.expect_closed().await;
    // Requests pipelined after QUIT are not run.
    let mut raw = Raw::connect(server.addr).await;
    let mut input = encode(&[b"SET", b"before", b"1"]);
    input.extend(encode(&[b"QUIT"]));
    input.extend(encode(&[b"SET", b"after", b"1"]));
    raw.send(&input).await;
    raw.expect(b"+OK\r\n+OK\r\n").await;
    raw.expect_closed().await;
    let mut check = Raw::connect(server.addr).await;
    assert_eq!(
        show(&check.cmd(&["GET", "before"]).await),
        "$1\\r\\n1\\r\\n"
    );
    assert_eq!(show(&check.cmd(&["GET", "after"]).await), "$-1\\r\\n");
    // QUIT is allowed in subscribed mode.
    let mut sub = Raw::connect(server.addr).await;
    sub.send(b"SUBSCRIBE ch\r\n").await;
    let _ = sub.read_frame().await;
    sub.send(b"QUIT\r\n").await;
    sub.expect(b"+OK\r\n").await;
    sub.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_leaves_subscribed_mode() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"SELECT 3\r\nSUBSCRIBE ch\r\nPSUBSCRIBE p*\r\n")
        .await;
    raw.expect(b"+OK\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:2\r\n")
        .await;
    raw.send(b"RESET\r\n").await;
    raw.expect(b"+RESET\r\n").await;
    raw.send(b"GET k\r\n").await;
    raw.expect(b"$-1\r\n").await;
    let mut publisher = Raw::connect(server.addr).await;
    assert_eq!(
        show(&publisher.cmd(&["PUBLISH", "ch", "x"]).await),
        ":0\\r\\n"
    );
    assert_eq!(
        show(&publisher.cmd(&["PUBLISH", "pq", "x"]).await),
        ":0\\r\\n"
    );
    // RESET also went back to db 0 and RESP2.
    assert_eq!(
        show(&publisher.cmd(&["SET", "in0", "yes"]).await),
        "+OK\\r\\n"
    );
    raw.send(b"GET in0\r\n").await;
    raw.expect(b"$3\r\nyes\r\n").await;
    // RESET from RESP3 goes back to RESP2 too.
    raw.send(b"HELLO 3\r\n").await;
    let _ = raw.read_frame().await;
    raw.send(b"RESET\r\nGET nothing\r\n").await;
    raw.expect(b"+RESET\r\n$-1\r\n").await;
}

/// Connects and waits until the server has admitted the connection: a
/// rejected client is told at once, before it sends anything, so a quiet
/// connection is an admitted one. Retries while slots are still taken by
/// connections that are closing.
async fn connect_admitted(server: &TestServer) -> Raw {
    use tokio::io::AsyncReadExt;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mut raw = Raw::connect(server.addr).await;
        let mut first = [0u8; 64];
        let quiet = std::time::Duration::from_millis(200);
        match tokio::time::timeout(quiet, raw.stream.read(&mut first)).await {
            Err(_) => {
                assert_eq!(show(&raw.cmd(&["PING"]).await), "+PONG\\r\\n");
                return raw;
            }
            Ok(read) => {
                let n = read.unwrap_or(0);
                assert_eq!(
                    show(&first[..n]),
                    "-ERR max number of clients reached\\r\\n"
                );
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no client slot became free within 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxclients_rejects_the_extra_connection() {
    let server = TestServer::start_with(|c| c.maxclients = 2).await;
    let mut a = connect_admitted(&server).await;
    let b = connect_admitted(&server).await;
    let mut c = Raw::connect(server.addr).await;
    c.expect(b"-ERR max number of clients reached\r\n").await;
    c.expect_closed().await;
    // The two admitted clients are unaffected.
    assert_eq!(show(&a.cmd(&["PING"]).await), "+PONG\\r\\n");
    // Once one leaves, a new client gets in.
    drop(b);
    let mut d = connect_admitted(&server).await;
    assert_eq!(show(&d.cmd(&["PING"]).await), "+PONG\\r\\n");
}
