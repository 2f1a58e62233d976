//! Client-side caching on one instance, in raw RESP: RESP3 invalidation
//! pushes after the write, a key tracked until its first invalidation,
//! NOLOOP, RESP2 redirection to a `__redis__:invalidate` subscriber,
//! BCAST prefixes grouped per transaction, and FLUSHALL's null
//! invalidation. (Redis's own `unit/tracking` runs against respire too:
//! README, "Client-side caching".)

use crate::common::{Raw, TestServer, invalidate, resp3_tracking};

fn show(frame: &[u8]) -> String {
    String::from_utf8_lossy(frame).into_owned()
}

/// A read tracks its key; another client's write pushes `invalidate`;
/// the key is then untracked until read again (a second write pushes
/// nothing: the PING's reply comes first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_invalidates_a_key_read_once() {
    let server = TestServer::start().await;
    let mut c = resp3_tracking(server.addr, &[]).await;
    let mut w = Raw::connect(server.addr).await;
    assert_eq!(w.cmd(&["SET", "k", "1"]).await, b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\n1\r\n");
    assert_eq!(w.cmd(&["SET", "k", "2"]).await, b"+OK\r\n");
    c.expect(&invalidate(&["k"])).await;
    assert_eq!(w.cmd(&["SET", "k", "3"]).await, b"+OK\r\n");
    assert_eq!(c.cmd(&["PING"]).await, b"+PONG\r\n");
    // MGET tracks every key it names; a key never read is not told.
    assert_eq!(c.cmd(&["MGET", "a", "b"]).await, b"*2\r\n_\r\n_\r\n");
    assert_eq!(w.cmd(&["MSET", "b", "1", "other", "1"]).await, b"+OK\r\n");
    c.expect(&invalidate(&["b"])).await;
    // The client's own write invalidates its own cache (no NOLOOP), after
    // the reply.
    assert_eq!(c.cmd(&["GET", "a"]).await, b"_\r\n");
    assert_eq!(c.cmd(&["SET", "a", "1"]).await, b"+OK\r\n");
    c.expect(&invalidate(&["a"])).await;
}

/// NOLOOP: the client's own writes do not invalidate what it cached
/// (they untrack the key, as in Redis); others' still do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noloop_leaves_out_the_clients_own_writes() {
    let server = TestServer::start().await;
    let mut c = resp3_tracking(server.addr, &["NOLOOP"]).await;
    let mut w = Raw::connect(server.addr).await;
    assert_eq!(c.cmd(&["GET", "k"]).await, b"_\r\n");
    assert_eq!(c.cmd(&["SET", "k", "mine"]).await, b"+OK\r\n");
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "k"])
            .await,
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["PING"]).await, b"+PONG\r\n");
    // As in Redis, the own write untracked the key: read it again.
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$1\r\nx\r\n");
    assert_eq!(w.cmd(&["SET", "k", "theirs"]).await, b"+OK\r\n");
    c.expect(&invalidate(&["k"])).await;
}

/// RESP2: invalidations go to the REDIRECT client, subscribed to
/// `__redis__:invalidate`, as messages whose payload is the array of
/// keys; FLUSHALL sends the null one. CLIENT GETREDIR names the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp2_invalidations_are_redirected_to_a_subscriber() {
    let server = TestServer::start().await;
    let mut r = Raw::connect(server.addr).await;
    let id = show(&r.cmd(&["CLIENT", "ID"]).await);
    let id = id.trim_start_matches(':').trim_end().to_string();
    r.cmd(&["SUBSCRIBE", "__redis__:invalidate"]).await;
    let mut c = Raw::connect(server.addr).await;
    assert_eq!(
        c.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &id]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "GETREDIR"]).await,
        format!(":{id}\r\n").as_bytes()
    );
    assert_eq!(c.cmd(&["GET", "k"]).await, b"$-1\r\n");
    let mut w = Raw::connect(server.addr).await;
    assert_eq!(w.cmd(&["SET", "k", "1"]).await, b"+OK\r\n");
    r.expect(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n")
        .await;
    assert_eq!(w.cmd(&["FLUSHALL"]).await, b"+OK\r\n");
    r.expect(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n")
        .await;
}

/// BCAST: every key written under a prefix, read or not, in one message
/// per prefix for a transaction's writes; other prefixes' keys not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcast_sends_a_transactions_keys_per_prefix() {
    let server = TestServer::start().await;
    let mut c = resp3_tracking(server.addr, &["BCAST", "PREFIX", "a:", "PREFIX", "b:"]).await;
    let mut w = Raw::connect(server.addr).await;
    w.cmd(&["MULTI"]).await;
    for key in ["a:2", "a:1", "c:1", "b:1"] {
        w.cmd(&["SET", key, "1"]).await;
    }
    let exec = w.cmd(&["EXEC"]).await;
    assert!(exec.starts_with(b"*4\r\n"), "{}", show(&exec));
    let mut got = vec![c.read_frame().await, c.read_frame().await];
    got.sort();
    let mut want = vec![invalidate(&["a:1", "a:2"]), invalidate(&["b:1"])];
    want.sort();
    assert_eq!(got, want);
}
