//! Connection churn: hundreds of connections send every command in the
//! table with no argument, one argument and random bytes, before and after
//! AUTH. Each request gets a well-formed reply (or, after an error reply or
//! QUIT's OK, the connection closes, as Redis closes it); afterwards no
//! client entry is left behind and the server still serves.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{TestServer, encode, frame_len, show};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "churn-secret";
/// Connections opened by the churn (reconnections come on top).
const CONNECTIONS: usize = 300;
/// Most connections working at once.
const PARALLEL: usize = 100;
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A small xorshift generator: the run is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// 1 to 32 random bytes, without glob characters (a random pattern must
    /// not match another connection's channel).
    fn bytes(&mut self) -> Vec<u8> {
        let n = 1 + self.next() as usize % 32;
        (0..n)
            .map(|_| self.next() as u8)
            .map(|b| if b"*?[]\\".contains(&b) { b'_' } else { b })
            .collect()
    }
}

/// One request of the churn: RESP-encoded args, or raw bytes.
enum Request {
    Args(Vec<Vec<u8>>),
    Raw(Vec<u8>),
}

impl Request {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Request::Args(args) => encode(&args.iter().map(Vec::as_slice).collect::<Vec<_>>()),
            Request::Raw(bytes) => bytes.clone(),
        }
    }

    fn show(&self) -> String {
        show(&self.bytes())
    }

    fn is(&self, name: &[u8]) -> bool {
        matches!(self, Request::Args(a) if a[0].eq_ignore_ascii_case(name))
    }
}

/// The reply frames to one request (SUBSCRIBE with two channels has two),
/// and whether the server then closed the connection. Panics on a timeout,
/// on bytes that are not RESP, and on a close without any reply.
async fn replies(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    what: &Request,
) -> (Vec<Vec<u8>>, bool) {
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
    loop {
        while !buf.is_empty() {
            assert!(
                b"+-:$*_,#!=(%~>|".contains(&buf[0]),
                "not a RESP reply to {}: {}",
                what.show(),
                show(buf)
            );
            let Some(n) = frame_len(buf) else { break };
            frames.push(buf.drain(..n).collect());
        }
        buf.reserve(16 * 1024);
        // Once a reply came, wait only briefly for more of the same flush.
        let read = if frames.is_empty() {
            tokio::time::timeout_at(deadline, stream.read_buf(buf)).await
        } else {
            tokio::time::timeout(Duration::from_millis(15), stream.read_buf(buf)).await
        };
        match read {
            Err(_) if frames.is_empty() => {
                panic!("no reply within {REPLY_TIMEOUT:?} to {}", what.show())
            }
            Err(_) => return (frames, false),
            Ok(Ok(0)) | Ok(Err(_)) => {
                assert!(
                    buf.is_empty(),
                    "closed mid-reply to {}: {}",
                    what.show(),
                    show(buf)
                );
                assert!(
                    !frames.is_empty(),
                    "closed without a reply to {}",
                    what.show()
                );
                return (frames, true);
            }
            Ok(Ok(_)) => {}
        }
    }
}

/// Runs `requests` in order, reconnecting whenever the server closes a
/// connection the way Redis does. Returns the connection left open (if
/// any) and how many connections it used.
async fn churn(addr: std::net::SocketAddr, requests: Vec<Request>) -> (Option<TcpStream>, usize) {
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::new();
    let mut used = 0;
    for request in &requests {
        if conn.is_none() {
            conn = Some(TcpStream::connect(addr).await.expect("connect"));
            buf.clear();
            used += 1;
        }
        let stream = conn.as_mut().unwrap();
        if stream.write_all(&request.bytes()).await.is_err() {
            panic!("connection lost before {}", request.show());
        }
        let (frames, mut closed) = replies(stream, &mut buf, request).await;
        let last = frames.last().unwrap();
        let quit = request.is(b"quit") && last == b"+OK\r\n";
        let protocol_error = last.starts_with(b"-ERR Protocol error");
        // Redis closes after QUIT's OK and after a protocol error, and
        // only then.
        if (quit || protocol_error) && !closed {
            let mut rest = Vec::new();
            let read = tokio::time::timeout(REPLY_TIMEOUT, stream.read_to_end(&mut rest)).await;
            assert!(
                matches!(read, Ok(Ok(0))),
                "{} answered {} and did not close: {read:?} {}",
                request.show(),
                show(last),
                show(&rest)
            );
            closed = true;
        }
        assert!(
            !closed || quit || protocol_error,
            "{} answered {} and closed",
            request.show(),
            show(last)
        );
        if closed {
            conn = None;
        }
    }
    (conn, used)
}

/// The requests of connection `i`: its command with no argument, one
/// argument and random bytes, then AUTH (when a password is set) and the
/// same again; every tenth also ends with a protocol error.
fn requests(i: usize, names: &[&str], password: Option<&str>, rng: &mut Rng) -> Vec<Request> {
    let name = names[i % names.len()].as_bytes().to_vec();
    let own = format!("churn:{i}").into_bytes();
    let round = |rng: &mut Rng| {
        vec![
            Request::Args(vec![name.clone()]),
            Request::Args(vec![name.clone(), own.clone()]),
            Request::Args(vec![name.clone(), rng.bytes()]),
            Request::Args(vec![name.clone(), rng.bytes(), rng.bytes()]),
        ]
    };
    let mut out = round(rng);
    if let Some(pw) = password {
        out.push(Request::Args(vec![b"AUTH".to_vec(), pw.into()]));
        out.extend(round(rng));
    }
    out.push(Request::Args(vec![b"PING".to_vec()]));
    if i.is_multiple_of(10) {
        let mut garbage = b"*1\r\n".to_vec();
        garbage.extend(
            rng.bytes()
                .into_iter()
                .map(|b| if b == b'$' { b'x' } else { b }),
        );
        garbage.extend_from_slice(b"\r\n");
        out.push(Request::Raw(garbage));
    }
    out
}

/// `connected_clients` from INFO clients.
async fn connected_clients(checker: &mut common::Raw) -> i64 {
    let frame = checker.cmd(&["INFO", "clients"]).await;
    let text = String::from_utf8_lossy(&frame);
    text.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .unwrap_or_else(|| panic!("no connected_clients in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Polls until `connected_clients` is `want`; returns the last value.
async fn settle(checker: &mut common::Raw, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = connected_clients(checker).await;
        if now == want || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run_churn(password: Option<&'static str>) {
    let started = Instant::now();
    let server = TestServer::start_with(|c| c.requirepass = password.map(String::from)).await;
    let mut checker = common::Raw::connect(server.addr).await;
    if let Some(pw) = password {
        assert_eq!(checker.cmd(&["AUTH", pw]).await, b"+OK\r\n");
    }
    let id_frame = checker.cmd(&["CLIENT", "ID"]).await;
    let checker_id = String::from_utf8_lossy(&id_frame[1..id_frame.len() - 2]).to_string();
    // The checker alone, once the server has seen the start-up probe's
    // connection (TestServer's "does it answer" connect) close: counted
    // while it lingers, it would leave `before` one too high.
    let before = settle(&mut checker, 1).await;

    let mut names: Vec<&str> = respire::cmd::table::table().names().collect();
    names.sort_unstable();
    let mut rng = Rng(0x5eed_0000_0000_0001 ^ password.map_or(0, |p| p.len() as u64));
    let all: Vec<Vec<Request>> = (0..CONNECTIONS)
        .map(|i| requests(i, &names, password, &mut rng))
        .collect();

    let mut open = Vec::new();
    let mut used = 0;
    let mut batches = all.into_iter().peekable();
    while batches.peek().is_some() {
        let tasks: Vec<_> = batches
            .by_ref()
            .take(PARALLEL)
            .map(|reqs| tokio::spawn(churn(server.addr, reqs)))
            .collect();
        for task in tasks {
            let (conn, n) = task.await.expect("a churn connection failed");
            open.extend(conn);
            used += n;
        }
    }
    assert!(used >= CONNECTIONS);

    // The connections still open are counted; the closed ones are not.
    let with_open = before + open.len() as i64;
    assert_eq!(
        settle(&mut checker, with_open).await,
        with_open,
        "connected_clients with {} churn connections open",
        open.len()
    );
    drop(open);
    assert_eq!(
        settle(&mut checker, before).await,
        before,
        "connected_clients back to its start after {used} connections"
    );
    let list = checker.cmd(&["CLIENT", "LIST"]).await;
    let list = String::from_utf8_lossy(&list).to_string();
    let lines: Vec<&str> = list.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "CLIENT LIST: {list}");
    assert!(
        lines[0].starts_with(&format!("id={checker_id} ")),
        "CLIENT LIST: {list}"
    );
    // Still serving, on the checker and on a new connection.
    assert_eq!(checker.cmd(&["SET", "after", "churn"]).await, b"+OK\r\n");
    let mut fresh = common::Raw::connect(server.addr).await;
    if let Some(pw) = password {
        assert_eq!(fresh.cmd(&["AUTH", pw]).await, b"+OK\r\n");
    }
    assert_eq!(fresh.cmd(&["GET", "after"]).await, b"$5\r\nchurn\r\n");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "churn took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_with_requirepass_leaves_no_client_behind() {
    run_churn(Some(PASSWORD)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_without_password_leaves_no_client_behind() {
    run_churn(None).await;
}

/// What fuzz/ found (command_args, before the fix): a bare COMMAND, here
/// inline as the fuzzer sent it, panicked the table check on `args[1]`.
#[test]
fn fuzz_found_bare_command_passes_the_table_check() {
    let input = b"COMMAND\n\0\0\0 BOGUS\r\n";
    let mut buf = bytes::BytesMut::from(&input[..]);
    let max = 512 * 1024 * 1024;
    let args = respire::protocol::parse_request(&mut buf, max)
        .unwrap()
        .unwrap();
    let spec = respire::cmd::table::check(&args).expect("bare COMMAND is valid");
    assert_eq!(spec.full_name(&args), "command");
    for name in ["COMMAND", "CLIENT", "CONFIG", "PUBSUB"] {
        let args = vec![bytes::Bytes::from(name)];
        let _ = respire::cmd::table::check(&args);
    }
}
