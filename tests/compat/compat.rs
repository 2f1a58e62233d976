//! Differential compatibility suite.
//!
//! Every case in `compat/cases/*.case` runs against the reference Redis 7
//! (127.0.0.1:6379, database 9) and against respire; the raw RESP replies and
//! the messages received by subscriber connections must be byte-for-byte
//! equal, unless a case directive relaxes the comparison. The case syntax and
//! the environment variables are documented in `compat/README.md`.

use crate::common;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

/// The reference Redis. It is shared: cases only ever touch database [`DB`].
const REFERENCE: &str = common::REFERENCE_REDIS;
const DB: &str = "9";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one reply may take before the case is aborted.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Subscribers are drained until no message arrived for this long...
const QUIET: Duration = Duration::from_millis(300);
/// ...or until this much time has passed.
const DRAIN_MAX: Duration = Duration::from_secs(3);
const MAX_SLEEP_MS: u64 = 5_000;
/// Escaped byte strings longer than this are cut in reports.
const SHOW_BYTES: usize = 400;
/// Message lists longer than this are cut in reports.
const SHOW_MESSAGES: usize = 12;

// ---------------------------------------------------------------------------
// RESP frames
// ---------------------------------------------------------------------------

/// One reply frame: its exact bytes and the parsed structure.
#[derive(Clone, Debug)]
struct Frame {
    raw: Vec<u8>,
    value: Value,
}

/// The parsed form of a frame, as far as the comparisons need it; scalar
/// payloads are read from `Frame::raw`.
#[derive(Clone, Debug)]
enum Value {
    /// `$-1`, `*-1` and `_`.
    Null,
    /// `:`.
    Integer(i64),
    /// Every other scalar: `+ - $ , ( # ! =`.
    Scalar,
    /// `*`, `~` (set) and `>` (push).
    Array(Vec<Frame>),
    /// `%`.
    Map(Vec<(Frame, Frame)>),
}

impl Frame {
    /// The RESP type byte (`+`, `$`, `*`, ...); for an attributed reply, `|`.
    fn kind(&self) -> u8 {
        self.raw[0]
    }
}

type Parsed<T> = Result<Option<(T, usize)>, String>;

/// Parses one frame starting at `start`. `Ok(None)` means more bytes are
/// needed; on success returns the frame and the offset just after it.
fn parse_frame(buf: &[u8], start: usize) -> Parsed<Frame> {
    let Some(crlf) = find_crlf(buf, start) else {
        return Ok(None);
    };
    let kind = buf[start];
    let header = &buf[start + 1..crlf];
    let mut pos = crlf + 2;
    let value = match kind {
        b'+' | b'-' | b',' | b'(' | b'#' => Value::Scalar,
        b'_' => Value::Null,
        b':' => Value::Integer(parse_number(header)?),
        b'$' | b'!' | b'=' => match parse_length(header)? {
            None if kind == b'$' => Value::Null,
            None => return Err(format!("negative length in {:?} frame", kind as char)),
            Some(len) => {
                let end = pos + len;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err("bulk payload not followed by CRLF".into());
                }
                pos = end + 2;
                Value::Scalar
            }
        },
        b'*' | b'~' | b'>' => match parse_length(header)? {
            None => Value::Null,
            Some(n) => {
                let Some((items, next)) = parse_items(buf, pos, n)? else {
                    return Ok(None);
                };
                pos = next;
                Value::Array(items)
            }
        },
        b'%' | b'|' => {
            let n = parse_length(header)?.ok_or("negative map length")?;
            let Some((items, next)) = parse_items(buf, pos, 2 * n)? else {
                return Ok(None);
            };
            pos = next;
            if kind == b'|' {
                // Attributes decorate the reply that follows: both make one frame.
                let Some((reply, next)) = parse_frame(buf, pos)? else {
                    return Ok(None);
                };
                let raw = buf[start..next].to_vec();
                return Ok(Some((
                    Frame {
                        raw,
                        value: reply.value,
                    },
                    next,
                )));
            }
            Value::Map(pairs(items))
        }
        other => return Err(format!("unknown RESP type byte 0x{other:02x}")),
    };
    let raw = buf[start..pos].to_vec();
    Ok(Some((Frame { raw, value }, pos)))
}

fn parse_items(buf: &[u8], mut pos: usize, n: usize) -> Parsed<Vec<Frame>> {
    let mut items = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let Some((item, next)) = parse_frame(buf, pos)? else {
            return Ok(None);
        };
        items.push(item);
        pos = next;
    }
    Ok(Some((items, pos)))
}

fn pairs(items: Vec<Frame>) -> Vec<(Frame, Frame)> {
    let mut items = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        out.push((k, v));
    }
    out
}

fn find_crlf(buf: &[u8], start: usize) -> Option<usize> {
    let from = start + 1;
    if from > buf.len() {
        return None;
    }
    buf[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

fn parse_number(text: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad number in frame header: {}", escape(text)))
}

/// A length header: `None` for the `-1` null marker.
fn parse_length(text: &[u8]) -> Result<Option<usize>, String> {
    match parse_number(text)? {
        -1 => Ok(None),
        n => usize::try_from(n)
            .map(Some)
            .map_err(|_| format!("bad length {n}")),
    }
}

fn encode_command(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

// ---------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------

/// A raw RESP client connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> Result<Conn, String> {
        let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connecting to {addr} timed out"))?
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    /// Opens a connection and selects the test database.
    async fn open_selected(addr: &str) -> Result<Conn, String> {
        let mut conn = Conn::open(addr).await?;
        conn.expect_ok(&["SELECT", DB]).await?;
        Ok(conn)
    }

    async fn send(&mut self, args: &[Vec<u8>]) -> Result<(), String> {
        self.stream
            .write_all(&encode_command(args))
            .await
            .map_err(|e| format!("write failed: {e}"))
    }

    /// Reads exactly one frame. Cancel-safe: bytes read so far stay buffered.
    async fn read_frame(&mut self) -> Result<Frame, String> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf, 0)? {
                self.buf.drain(..used);
                return Ok(frame);
            }
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => return Err("connection closed by the server".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("read failed: {e}")),
            }
        }
    }

    async fn read_frames(&mut self, n: usize) -> Result<Vec<Frame>, String> {
        let mut frames = Vec::with_capacity(n);
        for _ in 0..n {
            let frame = timeout(READ_TIMEOUT, self.read_frame())
                .await
                .map_err(|_| format!("no reply within {READ_TIMEOUT:?}"))??;
            frames.push(frame);
        }
        Ok(frames)
    }

    /// Sends a command whose reply must be `+OK`.
    async fn expect_ok(&mut self, args: &[&str]) -> Result<(), String> {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        self.send(&args).await?;
        let reply = self.read_frames(1).await?.remove(0);
        if reply.raw != b"+OK\r\n" {
            return Err(format!(
                "{} replied {}",
                show_args(&args),
                escape(&reply.raw)
            ));
        }
        Ok(())
    }

    /// Collects frames until none arrived for [`QUIET`], at most [`DRAIN_MAX`].
    async fn drain(&mut self) -> Result<Vec<Frame>, String> {
        let end = Instant::now() + DRAIN_MAX;
        let mut frames = Vec::new();
        loop {
            let wait = QUIET.min(end.saturating_duration_since(Instant::now()));
            if wait.is_zero() {
                return Ok(frames);
            }
            match timeout(wait, self.read_frame()).await {
                Ok(frame) => frames.push(frame?),
                Err(_) => return Ok(frames),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/// How a reply is compared.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Check {
    /// Byte-for-byte.
    Exact,
    /// Only the RESP type byte.
    Type,
    /// The type byte and the number of elements of an aggregate.
    Len,
    /// An integer reply within `lo..=hi` on both sides.
    Range(i64, i64),
    /// An aggregate compared as a multiset of elements.
    Unordered,
    /// An aggregate compared as a multiset of consecutive (field, value) pairs.
    Pairs,
    /// A `[cursor, elements]` scan reply: exact cursor, unordered elements.
    Scan,
    /// Like `Scan`, the elements being (field, value) pairs.
    ScanPairs,
}

impl Check {
    fn describe(self) -> String {
        match self {
            Check::Exact => "exact".into(),
            Check::Type => "@type".into(),
            Check::Len => "@len".into(),
            Check::Range(lo, hi) => format!("@range {lo} {hi}"),
            Check::Unordered => "@unordered".into(),
            Check::Pairs => "@pairs".into(),
            Check::Scan => "@scan".into(),
            Check::ScanPairs => "@scan-pairs".into(),
        }
    }
}

#[derive(Debug)]
enum Action {
    /// Send a command on a connection and read `frames` reply frames.
    Command {
        conn: u32,
        args: Vec<Vec<u8>>,
        check: Check,
        frames: usize,
    },
    /// Read one more frame (e.g. a pub/sub message) from a connection.
    Read {
        conn: u32,
    },
    /// Open a subscriber connection and send a (P)SUBSCRIBE command on it.
    Subscribe {
        args: Vec<Vec<u8>>,
        frames: usize,
    },
    /// Drain every subscriber and compare what each received since the last
    /// drain.
    ExpectMessages,
    Sleep(Duration),
}

#[derive(Debug)]
struct Step {
    line: usize,
    text: String,
    action: Action,
}

#[derive(Debug)]
struct Case {
    file: String,
    name: String,
    line: usize,
    steps: Vec<Step>,
    /// Set by `@known-difference <reason>`: a mismatch is reported, not
    /// failed (compat/README.md lists each one with its reason).
    known_difference: Option<String>,
}

impl Case {
    /// What `COMPAT_FILTER` matches and reports show: `file: name`.
    fn id(&self) -> String {
        format!("{}: {}", self.file, self.name)
    }
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("compat")
        .join("cases")
}

fn load_cases(dir: &Path) -> Result<Vec<Case>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "case"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        cases.extend(parse_case_file(&file, &text)?);
    }
    Ok(cases)
}

fn parse_case_file(file: &str, text: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    let mut names = HashSet::new();
    let mut conn = 1;
    for (index, line) in text.lines().enumerate() {
        let lineno = index + 1;
        let at = |msg: String| format!("{file}:{lineno}: {msg}");
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("===") {
            let name = name.trim();
            if name.is_empty() || !names.insert(name.to_string()) {
                return Err(at(format!("missing or duplicate case name {name:?}")));
            }
            cases.push(Case {
                file: file.to_string(),
                name: name.to_string(),
                line: lineno,
                steps: Vec::new(),
                known_difference: None,
            });
            conn = 1;
            continue;
        }
        let case = cases
            .last_mut()
            .ok_or_else(|| at("command before the first `=== name` header".into()))?;
        if let Some(reason) = line.strip_prefix("@known-difference") {
            case.known_difference = Some(reason.trim().to_string());
            continue;
        }
        if let Some(action) = parse_line(line, &mut conn).map_err(at)? {
            case.steps.push(Step {
                line: lineno,
                text: line.to_string(),
                action,
            });
        }
    }
    for case in &mut cases {
        finish_case(case).map_err(|e| format!("{file}:{}: {e}", case.line))?;
    }
    Ok(cases)
}

/// Adds the implicit end-of-case drain when the case has subscribers.
fn finish_case(case: &mut Case) -> Result<(), String> {
    let Some(last) = case.steps.last() else {
        return Err(format!("case {:?} has no commands", case.name));
    };
    let subscribes = case
        .steps
        .iter()
        .any(|s| matches!(s.action, Action::Subscribe { .. }));
    if subscribes && !matches!(last.action, Action::ExpectMessages) {
        let line = last.line;
        case.steps.push(Step {
            line,
            text: "(end of case)".into(),
            action: Action::ExpectMessages,
        });
    }
    Ok(())
}

/// Parses a command or directive line; `conn` is the current connection,
/// which `@conn` changes. Returns `None` for pure state changes.
fn parse_line(line: &str, conn: &mut u32) -> Result<Option<Action>, String> {
    let Some(directive) = line.strip_prefix('@') else {
        return command(split_args(line)?, Check::Exact, None, *conn).map(Some);
    };
    let (word, rest) = directive
        .split_once(char::is_whitespace)
        .unwrap_or((directive, ""));
    let mut tokens = split_args(rest)?.into_iter();
    let mut number = |what: &str| -> Result<i64, String> {
        let token = tokens.next().ok_or(format!("@{word} needs {what}"))?;
        String::from_utf8_lossy(&token)
            .parse()
            .map_err(|_| format!("@{word}: {what} must be an integer"))
    };
    let (check, frames) = match word {
        "conn" => {
            let n = number("a connection number")?;
            *conn = u32::try_from(n)
                .ok()
                .filter(|&n| n > 0)
                .ok_or("@conn needs a number >= 1")?;
            return no_more(word, tokens).map(|()| None);
        }
        "sleep" => {
            let ms = number("milliseconds")?;
            let ms = u64::try_from(ms).ok().filter(|&ms| ms <= MAX_SLEEP_MS);
            let ms = ms.ok_or(format!("@sleep takes 0..={MAX_SLEEP_MS} ms"))?;
            return no_more(word, tokens).map(|()| Some(Action::Sleep(Duration::from_millis(ms))));
        }
        "expect-messages" => return no_more(word, tokens).map(|()| Some(Action::ExpectMessages)),
        "read" => return no_more(word, tokens).map(|()| Some(Action::Read { conn: *conn })),
        "resp3" => {
            no_more(word, tokens)?;
            let hello = vec![b"HELLO".to_vec(), b"3".to_vec()];
            return command(hello, Check::Type, None, *conn).map(Some);
        }
        "sub" => {
            let args: Vec<Vec<u8>> = tokens.collect();
            if args.is_empty() {
                return Err("@sub needs a command, e.g. `@sub PSUBSCRIBE __key*@9__:*`".into());
            }
            let frames = default_frames(&args);
            return Ok(Some(Action::Subscribe { args, frames }));
        }
        "frames" => {
            let frames = number("a frame count")?;
            let frames = usize::try_from(frames)
                .ok()
                .filter(|&n| n > 0)
                .ok_or("@frames needs a count >= 1")?;
            (Check::Exact, Some(frames))
        }
        "range" => {
            let lo = number("a lower bound")?;
            let hi = number("an upper bound")?;
            (Check::Range(lo, hi), None)
        }
        "type" => (Check::Type, None),
        "len" => (Check::Len, None),
        "unordered" => (Check::Unordered, None),
        "pairs" => (Check::Pairs, None),
        "scan" => (Check::Scan, None),
        "scan-pairs" => (Check::ScanPairs, None),
        _ => return Err(format!("unknown directive @{word}")),
    };
    command(tokens.collect(), check, frames, *conn).map(Some)
}

/// A command step; `frames` defaults to what [`default_frames`] says.
fn command(
    args: Vec<Vec<u8>>,
    check: Check,
    frames: Option<usize>,
    conn: u32,
) -> Result<Action, String> {
    if args.is_empty() {
        return Err("missing command".into());
    }
    let frames = frames.unwrap_or_else(|| default_frames(&args));
    Ok(Action::Command {
        conn,
        args,
        check,
        frames,
    })
}

fn no_more(word: &str, mut tokens: impl Iterator<Item = Vec<u8>>) -> Result<(), String> {
    match tokens.next() {
        None => Ok(()),
        Some(extra) => Err(format!("@{word}: unexpected argument {}", escape(&extra))),
    }
}

/// (Un)subscribe commands with N channels reply with N frames.
fn default_frames(args: &[Vec<u8>]) -> usize {
    const MULTI_REPLY: [&str; 6] = [
        "SUBSCRIBE",
        "PSUBSCRIBE",
        "SSUBSCRIBE",
        "UNSUBSCRIBE",
        "PUNSUBSCRIBE",
        "SUNSUBSCRIBE",
    ];
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    if MULTI_REPLY.contains(&name.as_str()) && args.len() > 1 {
        args.len() - 1
    } else {
        1
    }
}

/// Splits a line into arguments. Whitespace separates arguments; inside
/// double quotes, whitespace is kept and `\"`, `\\`, `\r`, `\n`, `\t` and
/// `\xHH` are escapes. Outside quotes every byte, backslash included, is
/// literal. Quoted and unquoted parts next to each other form one argument.
fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            return Ok(args);
        }
        let mut arg = Vec::new();
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            if bytes[i] == b'"' {
                i = parse_quoted(bytes, i + 1, &mut arg)?;
            } else {
                arg.push(bytes[i]);
                i += 1;
            }
        }
        args.push(arg);
    }
}

/// Parses a quoted part whose content starts at `i`; returns the offset after
/// the closing quote.
fn parse_quoted(bytes: &[u8], mut i: usize, arg: &mut Vec<u8>) -> Result<usize, String> {
    loop {
        match bytes.get(i) {
            None => return Err("unterminated double quote".into()),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => {
                let escaped = match bytes.get(i + 1) {
                    Some(b'"') => b'"',
                    Some(b'\\') => b'\\',
                    Some(b'r') => b'\r',
                    Some(b'n') => b'\n',
                    Some(b't') => b'\t',
                    Some(b'x') => {
                        let hex = bytes
                            .get(i + 2..i + 4)
                            .and_then(|h| std::str::from_utf8(h).ok());
                        let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                        arg.push(byte.ok_or("\\x needs two hex digits")?);
                        i += 4;
                        continue;
                    }
                    _ => return Err("unknown escape in quoted argument".into()),
                };
                arg.push(escaped);
                i += 2;
            }
            Some(&b) => {
                arg.push(b);
                i += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Running a case against one server
// ---------------------------------------------------------------------------

/// What one step produced on one server.
#[derive(Debug)]
enum Outcome {
    Frames(Vec<Frame>),
    /// One list per subscriber, in subscription order.
    Messages(Vec<Vec<Frame>>),
    Nothing,
}

/// The connections of one case on one server.
struct Session<'a> {
    addr: &'a str,
    /// Command connections by `@conn` number, opened lazily.
    conns: Vec<(u32, Conn)>,
    subscribers: Vec<Conn>,
}

impl<'a> Session<'a> {
    fn new(addr: &'a str) -> Self {
        Session {
            addr,
            conns: Vec::new(),
            subscribers: Vec::new(),
        }
    }

    /// Empties the test database and turns keyspace notifications off.
    async fn reset(&self) -> Result<(), String> {
        let mut admin = Conn::open_selected(self.addr).await?;
        admin.expect_ok(&["FLUSHDB"]).await?;
        admin
            .expect_ok(&["CONFIG", "SET", "notify-keyspace-events", ""])
            .await
    }

    async fn conn(&mut self, id: u32) -> Result<&mut Conn, String> {
        let index = match self.conns.iter().position(|(n, _)| *n == id) {
            Some(index) => index,
            None => {
                let conn = Conn::open_selected(self.addr).await?;
                self.conns.push((id, conn));
                self.conns.len() - 1
            }
        };
        Ok(&mut self.conns[index].1)
    }

    async fn exec(&mut self, action: &Action) -> Result<Outcome, String> {
        match action {
            Action::Command {
                conn, args, frames, ..
            } => {
                let conn = self.conn(*conn).await?;
                conn.send(args).await?;
                conn.read_frames(*frames).await.map(Outcome::Frames)
            }
            Action::Read { conn } => self
                .conn(*conn)
                .await?
                .read_frames(1)
                .await
                .map(Outcome::Frames),
            Action::Subscribe { args, frames } => {
                let mut conn = Conn::open(self.addr).await?;
                conn.send(args).await?;
                let confirmations = conn.read_frames(*frames).await?;
                self.subscribers.push(conn);
                Ok(Outcome::Frames(confirmations))
            }
            Action::ExpectMessages => {
                let drained = join_all(self.subscribers.iter_mut().map(Conn::drain)).await;
                drained
                    .into_iter()
                    .collect::<Result<_, _>>()
                    .map(Outcome::Messages)
            }
            Action::Sleep(duration) => {
                sleep(*duration).await;
                Ok(Outcome::Nothing)
            }
        }
    }
}

/// Runs a whole case on one server. The outcomes follow the steps; after the
/// first error (a broken connection, a timeout) the case stops there.
async fn run_on(addr: &str, case: &Case) -> Result<Vec<Result<Outcome, String>>, String> {
    let mut session = Session::new(addr);
    session
        .reset()
        .await
        .map_err(|e| format!("resetting {addr} failed: {e}"))?;
    let mut outcomes = Vec::with_capacity(case.steps.len());
    for step in &case.steps {
        let outcome = session.exec(&step.action).await;
        let failed = outcome.is_err();
        outcomes.push(outcome);
        if failed {
            break;
        }
    }
    Ok(outcomes)
}

// ---------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------

/// The part of a reply that `check` compares. `Err` means the reply does not
/// have the shape the check needs (e.g. `@range` on a non-integer).
fn canonical(check: Check, frame: &Frame) -> Result<Vec<u8>, String> {
    match check {
        Check::Exact => Ok(frame.raw.clone()),
        Check::Type => Ok(vec![frame.kind()]),
        Check::Len => {
            Ok(format!("{}{}", frame.kind() as char, elements(frame)?.len()).into_bytes())
        }
        Check::Range(lo, hi) => match frame.value {
            Value::Integer(n) if (lo..=hi).contains(&n) => Ok(b"in range".to_vec()),
            _ => Err(format!("expected an integer in {lo}..={hi}")),
        },
        Check::Unordered => multiset(frame, 1),
        Check::Pairs => multiset(frame, 2),
        Check::Scan | Check::ScanPairs => match &frame.value {
            Value::Array(items) if items.len() == 2 => {
                let group = if check == Check::Scan { 1 } else { 2 };
                let mut out = items[0].raw.clone();
                out.extend(multiset(&items[1], group)?);
                Ok(out)
            }
            _ => Err("expected a [cursor, elements] array".into()),
        },
    }
}

/// The elements of an aggregate; a map's pairs are flattened.
fn elements(frame: &Frame) -> Result<Vec<&Frame>, String> {
    match &frame.value {
        Value::Array(items) => Ok(items.iter().collect()),
        Value::Map(pairs) => Ok(pairs.iter().flat_map(|(k, v)| [k, v]).collect()),
        _ => Err("expected an aggregate reply".into()),
    }
}

/// An aggregate as a sorted multiset of groups of `group` elements (a map
/// always groups by pairs).
fn multiset(frame: &Frame, group: usize) -> Result<Vec<u8>, String> {
    let items = elements(frame)?;
    let group = if matches!(frame.value, Value::Map(_)) {
        2
    } else {
        group
    };
    if items.len() % group != 0 {
        return Err("odd number of elements for pairs".into());
    }
    let mut groups: Vec<Vec<u8>> = items
        .chunks(group)
        .map(|chunk| chunk.iter().flat_map(|f| f.raw.iter().copied()).collect())
        .collect();
    groups.sort();
    let mut out = format!("{}{}:", frame.kind() as char, items.len()).into_bytes();
    groups.into_iter().for_each(|g| out.extend(g));
    Ok(out)
}

/// A mismatch, or a broken case, ready to print.
struct Failure {
    case: String,
    line: usize,
    what: String,
    lines: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "--- {} (line {}): {}", self.case, self.line, self.what)?;
        self.lines
            .iter()
            .try_for_each(|line| writeln!(f, "    {line}"))
    }
}

fn compare_case(
    case: &Case,
    expected: &[Result<Outcome, String>],
    got: &[Result<Outcome, String>],
) -> Option<Failure> {
    let verbose = std::env::var_os("COMPAT_VERBOSE").is_some();
    for (index, step) in case.steps.iter().enumerate() {
        let failure = |what: String, lines: Vec<String>| Failure {
            case: case.id(),
            line: step.line,
            what,
            lines,
        };
        let (Some(expected), Some(got)) = (expected.get(index), got.get(index)) else {
            return None;
        };
        if verbose {
            loud(&format!(
                "{}:{} {} => {}",
                case.file,
                step.line,
                step.text,
                show_outcome(expected)
            ));
            if let Ok(Outcome::Messages(lists)) = expected {
                lists
                    .iter()
                    .flat_map(|list| show_messages(list))
                    .for_each(|line| loud(&line));
            }
        }
        let mismatch = match (expected, got) {
            (Err(e), _) => {
                let what = format!("{} [reference failed: the case is broken]", step.text);
                return Some(failure(what, vec![e.clone()]));
            }
            (Ok(_), Err(e)) => Some(vec![
                format!("expected: {}", show_outcome(expected)),
                format!("got:      error: {e}"),
            ]),
            (Ok(Outcome::Frames(expected)), Ok(Outcome::Frames(got))) => {
                compare_frames(step, expected, got)
            }
            (Ok(Outcome::Messages(expected)), Ok(Outcome::Messages(got))) => {
                compare_messages(case, expected, got)
            }
            _ => None,
        };
        if let Some(lines) = mismatch {
            return Some(failure(step.text.clone(), lines));
        }
    }
    None
}

fn compare_frames(step: &Step, expected: &[Frame], got: &[Frame]) -> Option<Vec<String>> {
    let check = match step.action {
        Action::Command { check, .. } => check,
        _ => Check::Exact,
    };
    for (e, g) in expected.iter().zip(got) {
        let reference = canonical(check, e);
        let note = match (&reference, canonical(check, g)) {
            (Err(problem), _) => {
                format!("the reference reply fails the check ({problem}): the case is broken")
            }
            (Ok(_), Err(problem)) => problem,
            (Ok(a), Ok(b)) if *a != b => format!("replies differ (check: {})", check.describe()),
            _ => continue,
        };
        return Some(vec![
            format!("note:     {note}"),
            format!("expected: {}", escape(&concat(expected))),
            format!("got:      {}", escape(&concat(got))),
        ]);
    }
    None
}

fn compare_messages(
    case: &Case,
    expected: &[Vec<Frame>],
    got: &[Vec<Frame>],
) -> Option<Vec<String>> {
    let subscribes: Vec<&Step> = case
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::Subscribe { .. }))
        .collect();
    for (n, (e, g)) in expected.iter().zip(got).enumerate() {
        let first_diff = e.iter().zip(g).position(|(a, b)| a.raw != b.raw);
        let first_diff = first_diff.or((e.len() != g.len()).then(|| e.len().min(g.len())));
        let Some(at) = first_diff else { continue };
        let sub = subscribes
            .get(n)
            .map_or(String::new(), |s| format!("{} (line {})", s.text, s.line));
        let mut lines = vec![format!(
            "subscriber #{} {sub}: {} messages expected, {} received, first difference at #{at}",
            n + 1,
            e.len(),
            g.len()
        )];
        lines.push("expected:".into());
        lines.extend(show_messages(e));
        lines.push("got:".into());
        lines.extend(show_messages(g));
        return Some(lines);
    }
    None
}

fn show_messages(frames: &[Frame]) -> Vec<String> {
    let mut lines: Vec<String> = frames
        .iter()
        .take(SHOW_MESSAGES)
        .enumerate()
        .map(|(i, f)| format!("  #{i} {}", escape(&f.raw)))
        .collect();
    if frames.len() > SHOW_MESSAGES {
        lines.push(format!("  ... {} more", frames.len() - SHOW_MESSAGES));
    }
    if frames.is_empty() {
        lines.push("  (none)".into());
    }
    lines
}

fn show_outcome(outcome: &Result<Outcome, String>) -> String {
    match outcome {
        Ok(Outcome::Frames(frames)) => escape(&concat(frames)),
        Ok(Outcome::Messages(lists)) => {
            let counts: Vec<String> = lists.iter().map(|l| l.len().to_string()).collect();
            format!("messages per subscriber: [{}]", counts.join(", "))
        }
        Ok(Outcome::Nothing) => "-".into(),
        Err(e) => format!("error: {e}"),
    }
}

fn concat(frames: &[Frame]) -> Vec<u8> {
    frames.iter().flat_map(|f| f.raw.iter().copied()).collect()
}

fn show_args(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| escape(a)).collect::<Vec<_>>().join(" ")
}

/// Quotes bytes with `\r`, `\n`, `\"`, `\\` and `\xHH` escapes.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes.iter().take(SHOW_BYTES) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    if bytes.len() > SHOW_BYTES {
        let _ = write!(out, "... ({} bytes)", bytes.len());
    }
    out
}

/// Writes to the real stderr, bypassing the test harness's output capture.
fn loud(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

/// The server under test: `COMPAT_TARGET=host:port`, or a fresh respire.
struct Target {
    /// Which store backs it, for the report.
    label: &'static str,
    addr: String,
    /// Keeps the started server alive; it shuts down on drop.
    _server: Option<common::TestServer>,
    _db: Option<common::TestDb>,
}

impl Target {
    /// Every target to compare: the explicit one, or respire on the
    /// embedded store and (when MariaDB is reachable) on MariaDB.
    async fn all() -> Vec<Target> {
        if let Ok(addr) = std::env::var("COMPAT_TARGET") {
            return vec![Target {
                label: "target",
                addr,
                _server: None,
                _db: None,
            }];
        }
        let server = common::TestServer::start().await;
        let mut targets = vec![Target {
            label: "sqlite",
            addr: server.addr.to_string(),
            _server: Some(server),
            _db: None,
        }];
        if std::env::var("COMPAT_BACKENDS").is_ok_and(|b| b == "sqlite") {
            return targets;
        }
        if let Some(db) = common::TestDb::create().await {
            let server = db.server().await;
            targets.push(Target {
                label: "mariadb",
                addr: server.addr.to_string(),
                _server: Some(server),
                _db: Some(db),
            });
        }
        targets
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn compat() {
    // The cases change the reference's CONFIG and subscribe to its
    // database 9's events: no other test may meanwhile.
    let _reference = crate::common::reference_lock().await;
    let filter = std::env::var("COMPAT_FILTER").unwrap_or_default();
    let cases: Vec<Case> = load_cases(&cases_dir())
        .unwrap_or_else(|e| panic!("bad case file: {e}"))
        .into_iter()
        .filter(|case| case.id().contains(&filter))
        .collect();

    if let Err(e) = Conn::open(REFERENCE).await {
        let message = format!("reference Redis at {REFERENCE} unreachable ({e})");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        crate::common::skipped(&message);
        return;
    }
    // An explicit target may be the reference itself (to check that the
    // cases are deterministic), so cases then run one server at a time.
    let sequential = std::env::var_os("COMPAT_TARGET").is_some();

    let mut failures = Vec::new();
    let mut runs = 0;
    for target in Target::all().await {
        let mut known = 0;
        let mut failed = 0;
        for case in &cases {
            runs += 1;
            let (expected, got) = if sequential {
                (
                    run_on(REFERENCE, case).await,
                    run_on(&target.addr, case).await,
                )
            } else {
                tokio::join!(run_on(REFERENCE, case), run_on(&target.addr, case))
            };
            let failure = match (expected, got) {
                (Err(e), _) | (_, Err(e)) => Some(Failure {
                    case: format!("[{}] {}", target.label, case.id()),
                    line: case.line,
                    what: "reset".into(),
                    lines: vec![e],
                }),
                (Ok(expected), Ok(got)) => compare_case(case, &expected, &got).map(|mut f| {
                    f.case = format!("[{}] {}", target.label, f.case);
                    f
                }),
            };
            match (failure, &case.known_difference) {
                (Some(_), Some(reason)) => {
                    known += 1;
                    loud(&format!(
                        "compat [{}] known difference: {}: {reason}",
                        target.label,
                        case.id()
                    ));
                }
                (Some(f), None) => {
                    failed += 1;
                    failures.push(f);
                }
                (None, _) => {}
            }
        }
        loud(&format!(
            "compat [{}]: {} cases, {failed} failed, {known} known differences",
            target.label,
            cases.len()
        ));
    }
    // Leave the shared reference as the next user expects it.
    let _ = Session::new(REFERENCE).reset().await;

    if !failures.is_empty() {
        let report: String = failures.iter().map(|f| f.to_string()).collect();
        panic!(
            "{} of {runs} compat case runs failed:\n{report}",
            failures.len()
        );
    }
}

// ---------------------------------------------------------------------------
// Tests of the runner itself (no server needed)
// ---------------------------------------------------------------------------

mod runner {
    use super::*;

    fn frame(raw: &[u8]) -> Frame {
        let (frame, used) = parse_frame(raw, 0).unwrap().expect("complete frame");
        assert_eq!(used, raw.len(), "{}", escape(raw));
        frame
    }

    #[test]
    fn split_args_quotes_and_escapes() {
        let args = split_args(r#"SET "a b" "\x00\r\n\"\\" c\d "" x"y z"  "#).unwrap();
        let expected: Vec<&[u8]> = vec![b"SET", b"a b", b"\x00\r\n\"\\", b"c\\d", b"", b"xy z"];
        assert_eq!(args, expected);
        assert!(split_args(r#"GET "open"#).is_err());
        assert!(split_args(r#"GET "\q""#).is_err());
        assert!(split_args(r#"GET "\xZZ""#).is_err());
    }

    #[test]
    fn parse_every_frame_type() {
        let samples: [&[u8]; 14] = [
            b"+OK\r\n",
            b"-ERR x\r\n",
            b":-5\r\n",
            b"$-1\r\n",
            b"$4\r\na\r\nb\r\n",
            b"*-1\r\n",
            b"_\r\n",
            b",1.5\r\n",
            b"#t\r\n",
            b"(12345678901234567890\r\n",
            b"!3\r\nerr\r\n",
            b"=7\r\ntxt:abc\r\n",
            b"~1\r\n+a\r\n",
            b"*2\r\n%1\r\n+a\r\n:1\r\n>2\r\n$1\r\nx\r\n_\r\n",
        ];
        for raw in samples {
            assert_eq!(frame(raw).raw, raw);
            for cut in 0..raw.len() {
                assert!(
                    parse_frame(&raw[..cut], 0).unwrap().is_none(),
                    "{}",
                    escape(&raw[..cut])
                );
            }
        }
        assert!(matches!(frame(b":42\r\n").value, Value::Integer(42)));
        let attributed = frame(b"|1\r\n+key\r\n+val\r\n:7\r\n");
        assert!(matches!(attributed.value, Value::Integer(7)));
        assert!(parse_frame(b"?x\r\n", 0).is_err());
        assert!(parse_frame(b"$1\r\nab\r\n", 0).is_err());
    }

    #[test]
    fn checks_relax_the_comparison() {
        let same =
            |check, a: &[u8], b: &[u8]| canonical(check, &frame(a)) == canonical(check, &frame(b));
        assert!(same(
            Check::Unordered,
            b"*2\r\n+a\r\n+b\r\n",
            b"*2\r\n+b\r\n+a\r\n"
        ));
        assert!(!same(
            Check::Unordered,
            b"*2\r\n+a\r\n+a\r\n",
            b"*2\r\n+a\r\n+b\r\n"
        ));
        assert!(same(
            Check::Pairs,
            b"*4\r\n+f\r\n+1\r\n+g\r\n+2\r\n",
            b"*4\r\n+g\r\n+2\r\n+f\r\n+1\r\n"
        ));
        assert!(!same(
            Check::Pairs,
            b"*4\r\n+f\r\n+1\r\n+g\r\n+2\r\n",
            b"*4\r\n+f\r\n+2\r\n+g\r\n+1\r\n"
        ));
        assert!(same(
            Check::Unordered,
            b"%2\r\n+f\r\n+1\r\n+g\r\n+2\r\n",
            b"%2\r\n+g\r\n+2\r\n+f\r\n+1\r\n"
        ));
        assert!(same(
            Check::Scan,
            b"*2\r\n$1\r\n0\r\n*2\r\n+a\r\n+b\r\n",
            b"*2\r\n$1\r\n0\r\n*2\r\n+b\r\n+a\r\n"
        ));
        assert!(!same(
            Check::Scan,
            b"*2\r\n$1\r\n0\r\n*0\r\n",
            b"*2\r\n$1\r\n5\r\n*0\r\n"
        ));
        assert!(same(Check::Type, b":1\r\n", b":2\r\n"));
        assert!(!same(Check::Type, b":1\r\n", b"$1\r\n1\r\n"));
        assert!(same(Check::Len, b"*1\r\n+a\r\n", b"*1\r\n+b\r\n"));
        assert!(same(Check::Range(1, 2), b":1\r\n", b":2\r\n"));
        assert!(canonical(Check::Range(1, 2), &frame(b":3\r\n")).is_err());
        assert!(canonical(Check::Unordered, &frame(b"+OK\r\n")).is_err());
    }

    #[test]
    fn parse_case_files() {
        let text = "# comment\n=== one\nSET k v\n@conn 2\n@range 1 2 TTL k\n@sub PSUBSCRIBE a b\n\
                    @frames 2 UNSUBSCRIBE\n@sleep 10\n=== two\n@resp3\n@read\n";
        let cases = parse_case_file("t.case", text).unwrap();
        assert_eq!(cases.len(), 2);
        let one = &cases[0];
        assert_eq!((one.line, one.steps.len()), (2, 6));
        assert!(matches!(
            &one.steps[0].action,
            Action::Command {
                conn: 1,
                check: Check::Exact,
                frames: 1,
                ..
            }
        ));
        assert!(matches!(
            &one.steps[1].action,
            Action::Command {
                conn: 2,
                check: Check::Range(1, 2),
                ..
            }
        ));
        assert!(matches!(
            &one.steps[2].action,
            Action::Subscribe { frames: 2, .. }
        ));
        assert!(matches!(
            &one.steps[3].action,
            Action::Command {
                conn: 2,
                frames: 2,
                ..
            }
        ));
        assert!(matches!(one.steps[5].action, Action::ExpectMessages));
        let two = &cases[1];
        assert!(matches!(
            &two.steps[0].action,
            Action::Command {
                conn: 1,
                check: Check::Type,
                ..
            }
        ));
        assert!(matches!(two.steps[1].action, Action::Read { conn: 1 }));
        for bad in [
            "SET k v\n",
            "=== a\n@bogus x\n",
            "=== a\nGET a\n=== a\nGET b\n",
            "=== a\n",
            "=== a\n@conn 0\n",
        ] {
            assert!(parse_case_file("t.case", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn case_files_parse() {
        let cases = load_cases(&cases_dir()).unwrap();
        assert!(cases.len() >= 170, "only {} cases", cases.len());
    }
}
