//! Server behaviour through a real client (the `redis` crate) and raw RESP
//! where the exact bytes matter: MULTI, EXEC, DISCARD and WATCH.
//!
//! Every expected reply here was checked against Redis 7.0.15.

use crate::common;

use crate::common::{Raw, TestServer, show};

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
