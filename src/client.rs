//! One client connection: reads pipelined requests, hands them in order to
//! the command layer, writes every reply of a batch with one flush, and
//! interleaves pub/sub deliveries. It imports the command layer; nothing
//! in the command layer imports it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{debug, error, info, warn};

use crate::bus::{Delivery, DeliveryRx};
use crate::cmd::batch::{self, Batcher, Job};
use crate::cmd::dispatch::{self, dispatch};
use crate::cmd::shared::Shared;
use crate::cmd::table;
use crate::cmd::{CommandSpec, ReplyMode, Session, instance};
use crate::protocol::{FrameError, FrameLimits, Framer};
use crate::reply::Reply;

/// Commands whose reply goes before the messages that arrived meanwhile.
const SUBSCRIBING: [&str; 3] = ["subscribe", "psubscribe", "ssubscribe"];

/// Bytes read from the socket at a time (Redis's PROTO_IOBUF_LEN).
const READ_CHUNK: usize = 16 * 1024;

/// A client's byte stream: plain TCP, or TLS over TCP. The plain path
/// stays as it was (readiness, then a non-blocking read into a buffer
/// allocated only then); TLS goes through rustls's plaintext buffer.
pub enum Socket {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Socket {
    /// Waits until the socket has bytes and reads them into `buf`. The
    /// buffer is only allocated once there is something to read, so an
    /// idle client holds none. Cancel-safe: bytes are only taken off the
    /// socket (or out of rustls's buffer) synchronously.
    async fn read_more(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        match self {
            Socket::Plain(socket) => loop {
                socket.readable().await?;
                if buf.capacity() - buf.len() < READ_CHUNK / 2 {
                    buf.reserve(READ_CHUNK);
                }
                match socket.try_read_buf(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                }
            },
            Socket::Tls(tls) => {
                // Decrypted bytes wait in rustls until taken (at most one
                // record, 16 KB): copied out, then consumed.
                let chunk = tls.fill_buf().await?;
                let n = chunk.len();
                if buf.capacity() - buf.len() < n {
                    buf.reserve(n.max(READ_CHUNK));
                }
                buf.extend_from_slice(chunk);
                std::pin::Pin::new(tls.as_mut()).consume(n);
                Ok(n)
            }
        }
    }

    /// Completes when the peer has closed the connection. Bytes it sent
    /// meanwhile stay unread for after the command (as Redis keeps them),
    /// and then a close can no longer be seen here.
    async fn peer_closed(&mut self) {
        match self {
            Socket::Plain(socket) => {
                let mut byte = [0u8; 1];
                match socket.peek(&mut byte).await {
                    Ok(0) | Err(_) => {}
                    Ok(_) => std::future::pending().await,
                }
            }
            // Decrypted bytes stay in rustls until read_more takes them;
            // an empty buffer is a close_notify.
            Socket::Tls(tls) => match tls.fill_buf().await {
                Ok([]) | Err(_) => {}
                Ok(_) => std::future::pending().await,
            },
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Socket::Plain(socket) => socket.write_all(bytes).await,
            Socket::Tls(tls) => {
                tls.write_all(bytes).await?;
                // rustls may still hold encrypted bytes the socket did not
                // take.
                tls.flush().await
            }
        }
    }

    /// Ends a TLS session with its close_notify (a client leaving on QUIT
    /// sees a clean end); plain TCP just closes on drop.
    async fn close(&mut self) {
        if let Socket::Tls(tls) = self {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, tls.shutdown()).await;
        }
    }
}

/// How long a TLS close waits to send its close_notify.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// A client's connection: frames its requests, hands each to the command
/// layer with its session, writes the replies and interleaves its pub/sub
/// deliveries. It knows nothing of what the commands do.
pub struct Client {
    /// Everything the commands see of this client.
    session: Session,
    socket: Socket,
    /// Request framing state (a request may span many reads).
    framer: Framer,
    inbuf: BytesMut,
    outbuf: BytesMut,
    /// Where this client's pub/sub deliveries arrive.
    delivery_rx: DeliveryRx,
    /// Where write commands go for group commit.
    batcher: Batcher,
}

impl Client {
    pub fn new(
        shared: Arc<Shared>,
        batcher: Batcher,
        socket: TcpStream,
        addr: SocketAddr,
    ) -> Client {
        let (session, delivery_rx) = Session::new(shared, addr);
        Client::with_session(session, delivery_rx, batcher, Socket::Plain(socket))
    }

    fn with_session(
        session: Session,
        delivery_rx: DeliveryRx,
        batcher: Batcher,
        socket: Socket,
    ) -> Client {
        Client {
            session,
            socket,
            framer: Framer::default(),
            inbuf: BytesMut::new(),
            outbuf: BytesMut::new(),
            delivery_rx,
            batcher,
        }
    }

    /// Serves a client of the TLS port: it is registered at once (so it
    /// counts against maxclients, shows in CLIENT LIST and can be killed
    /// while its handshake runs), and served once the handshake completes
    /// within `timeout`. A failed handshake only closes its connection.
    pub async fn run_tls(
        shared: Arc<Shared>,
        batcher: Batcher,
        socket: TcpStream,
        addr: SocketAddr,
        acceptor: TlsAcceptor,
        timeout: Duration,
    ) {
        let (session, delivery_rx) = Session::new(shared, addr);
        let mut shutdown = session.shared.shutdown.clone();
        let handshake = tokio::time::timeout(timeout, acceptor.accept(socket));
        let stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    // A refused certificate is a client to fix, worth
                    // seeing; other failures (scanners, plaintext) are not.
                    let certificate = matches!(
                        e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
                        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
                    );
                    if certificate {
                        info!(client = session.id, %addr, error = %e, "TLS client certificate refused");
                    } else {
                        debug!(client = session.id, %addr, error = %e, "TLS handshake failed");
                    }
                    return;
                }
                Err(_) => {
                    debug!(client = session.id, %addr, "TLS handshake timed out");
                    return;
                }
            },
            _ = session.kill.notified() => return,
            _ = shutdown.changed() => return,
        };
        Client::with_session(session, delivery_rx, batcher, Socket::Tls(Box::new(stream)))
            .run()
            .await
    }

    /// Serves the client until it leaves. Whatever the connection
    /// registered is released when it is dropped (see `Drop`), on every
    /// path: a normal close, an error, a panic in a command, or the task
    /// being aborted at shutdown.
    pub async fn run(mut self) {
        match std::panic::AssertUnwindSafe(self.serve())
            .catch_unwind()
            .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => debug!(client = self.session.id, error = %e, "connection closed"),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let command = self
                    .session
                    .info
                    .lock()
                    .map(|i| i.last_cmd.clone())
                    .unwrap_or_default();
                error!(
                    client = self.session.id,
                    command,
                    panic = what,
                    "a command panicked; closing its connection"
                );
            }
        }
        self.socket.close().await;
    }

    fn limits(&self) -> FrameLimits {
        let config = &self.session.shared.config;
        FrameLimits {
            max_bulk: config.proto_max_bulk_len,
            max_query: config.client_query_buffer_limit,
            authenticated: !self.session.needs_auth(),
        }
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        let mut shutdown = self.session.shared.shutdown.clone();
        loop {
            // Answer every complete request in the buffer, then flush once.
            // Consecutive plain writes are handed on together, so a
            // pipeline's writes share one group commit; consecutive plain
            // reads too, so their keys are read together.
            let mut group: Vec<Job> = Vec::new();
            loop {
                let limits = self.limits();
                let args = match self.framer.next(&mut self.inbuf, limits) {
                    Ok(Some(args)) if args.is_empty() => continue,
                    Ok(Some(args)) => args,
                    Ok(None) => {
                        self.answer_group(&mut group).await;
                        break;
                    }
                    Err(FrameError::Protocol(e)) => {
                        self.answer_group(&mut group).await;
                        Reply::Error(e.reply_text()).encode(&mut self.outbuf, self.session.resp3);
                        self.session.close_after_reply = true;
                        break;
                    }
                    Err(FrameError::QueryBufferLimit) => {
                        // Redis closes such a client without a reply.
                        self.answer_group(&mut group).await;
                        warn!(
                            client = self.session.id,
                            addr = %self.session.addr,
                            limit = limits.max_query,
                            "closing client that reached max query buffer length"
                        );
                        self.inbuf = BytesMut::new();
                        self.framer = Framer::default();
                        self.session.close_after_reply = true;
                        break;
                    }
                };
                self.session
                    .shared
                    .stats
                    .commands_processed
                    .fetch_add(1, Ordering::Relaxed);
                let checked = table::check(&args);
                if let Ok(spec) = checked
                    && self.session.shared.pause.holds(self.pause_writes(spec))
                {
                    // CLIENT PAUSE: what came before is answered; this
                    // command (and everything after it) waits.
                    self.answer_group(&mut group).await;
                    self.flush().await?;
                    let writes = self.pause_writes(spec);
                    tokio::select! {
                        _ = self.session.shared.pause.wait(writes) => {}
                        _ = self.session.kill.notified() => return Ok(()),
                        _ = shutdown.changed() => return Ok(()),
                    }
                }
                // MONITOR shows the commands that run (not those refused
                // or queued), credentials redacted.
                let monitored = match checked {
                    Ok(spec) if self.session.shared.monitors.is_active() => {
                        (dispatch::will_run(&self.session, spec)
                            && !instance::is_admin(spec, &args))
                        .then(|| instance::redacted(&args))
                    }
                    _ => None,
                };
                if let Ok(spec) = checked
                    && self.session.runs_in_group(spec)
                {
                    // Reads and writes never share a group: the group so
                    // far is answered first, so order holds.
                    if group
                        .first()
                        .is_some_and(|j| j.spec.is_write() != spec.is_write())
                    {
                        self.answer_group(&mut group).await;
                    }
                    self.session.touch_info(spec, &args);
                    if let Some(shown) = &monitored {
                        self.feed_monitors(shown);
                    }
                    group.push(Job::new(&self.session, spec, args));
                    continue;
                }
                self.answer_group(&mut group).await;
                // A subscription's confirmation precedes its messages.
                let subscribes = matches!(checked, Ok(spec) if SUBSCRIBING.contains(&spec.name));
                let blocking = matches!(checked, Ok(spec) if spec.has_flag("blocking"));
                let name = checked.as_ref().ok().map(|spec| spec.name);
                // EXEC shows the commands of its block as they run, then itself.
                let exec_block: Option<Vec<Vec<Bytes>>> = match (&monitored, name) {
                    (Some(_), Some("exec")) => self.session.multi.as_ref().map(|m| {
                        m.queue
                            .iter()
                            .filter(|(spec, args)| !instance::is_admin(spec, args))
                            .map(|(_, args)| instance::redacted(args))
                            .collect()
                    }),
                    _ => None,
                };
                let started = Instant::now();
                let run = dispatch(&mut self.session, &self.batcher, args, checked);
                let reply = if blocking {
                    // A command that may wait (BLPOP, XREAD BLOCK) ends with
                    // its client: nothing else is read until it answers.
                    tokio::select! {
                        reply = run => reply,
                        _ = self.socket.peer_closed() => return Ok(()),
                    }
                } else {
                    run.await
                };
                if let Some(name) = name {
                    let micros = started.elapsed().as_micros() as u64;
                    let metrics = &self.session.shared.metrics;
                    metrics.record(name, micros, reply.is_error());
                }
                if let Some(shown) = &monitored {
                    let ran = !matches!(reply, Reply::NilArray | Reply::Error(_));
                    for args in exec_block.iter().flatten().filter(|_| ran) {
                        self.feed_monitors(args);
                    }
                    self.feed_monitors(shown);
                }
                // CLIENT REPLY: the mode after the command decides.
                let sends = self.session.reply_mode.sends();
                if name.is_some() {
                    self.session.reply_mode = self.session.reply_mode.next();
                }
                if subscribes && sends {
                    reply.encode(&mut self.outbuf, self.session.resp3);
                }
                // Messages this command published to this very connection
                // go first, as Redis writes them first.
                if self.session.is_subscribed() {
                    while let Ok(delivery) = self.delivery_rx.try_recv() {
                        self.encode_delivery(*delivery);
                    }
                }
                if !subscribes && sends {
                    reply.encode(&mut self.outbuf, self.session.resp3);
                }
                if self.session.close_after_reply {
                    break;
                }
            }
            self.flush().await?;
            if self.session.close_after_reply || self.session.shared.is_shutting_down() {
                return Ok(());
            }
            // Between requests a client holds no buffers: they are taken
            // again when bytes arrive or a reply is written.
            if self.inbuf.is_empty() && self.inbuf.capacity() > 0 {
                self.inbuf = BytesMut::new();
            }
            if self.outbuf.capacity() > 0 {
                self.outbuf = BytesMut::new();
            }
            tokio::select! {
                read = self.socket.read_more(&mut self.inbuf) => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    self.session.shared.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Some(delivery) = self.delivery_rx.recv() => {
                    self.encode_delivery(*delivery);
                    while let Ok(more) = self.delivery_rx.try_recv() {
                        self.encode_delivery(*more);
                    }
                }
                Some(line) = next_line(&mut self.session.monitor) => {
                    self.outbuf.extend_from_slice(&line);
                    while let Some(more) = self.session.monitor.as_mut().and_then(|rx| rx.try_recv().ok()) {
                        self.outbuf.extend_from_slice(&more);
                    }
                }
                _ = self.session.kill.notified() => return Ok(()),
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    /// Whether CLIENT PAUSE WRITE holds this command: writes, PUBLISH, and
    /// an EXEC whose block writes (Redis's "may replicate" commands).
    fn pause_writes(&self, spec: &CommandSpec) -> bool {
        spec.is_write()
            || matches!(spec.name, "publish" | "spublish")
            || (spec.name == "exec"
                && self
                    .session
                    .multi
                    .as_ref()
                    .is_some_and(|m| m.queue.iter().any(|(s, _)| s.is_write())))
    }

    /// Sends a command's MONITOR line (its arguments as shown) to the
    /// monitors, with the client's database as it is now.
    fn feed_monitors(&self, args: &[Bytes]) {
        let line = instance::monitor_line(
            crate::clock::now_us(),
            self.session.db,
            self.session.addr,
            args,
        );
        self.session.shared.monitors.feed(line);
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        self.session
            .shared
            .stats
            .net_output_bytes
            .fetch_add(self.outbuf.len() as u64, Ordering::Relaxed);
        // A client that stops reading blocks this write; CLIENT KILL and the
        // pub/sub output limits must still be able to close it.
        // Biased: a client killed while its command ran (a blocked pop
        // hands the kill back) gets no reply at all, as in Redis.
        tokio::select! {
            biased;
            _ = self.session.kill.notified() => {
                return Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "client killed"));
            }
            written = self.socket.write_all(&self.outbuf) => written?,
        }
        self.outbuf.clear();
        Ok(())
    }

    fn encode_delivery(&mut self, delivery: Delivery) {
        self.session.subs.subscriber().taken(&delivery);
        // CLIENT REPLY OFF silences pushes too (Redis 7.0).
        if self.session.predates(&delivery) || self.session.reply_mode == ReplyMode::Off {
            return;
        }
        let frame = match delivery {
            Delivery::Message {
                channel, payload, ..
            } => Reply::Push(vec![
                Reply::bulk_str("message"),
                Reply::Bulk(channel),
                Reply::Bulk(payload),
            ]),
            Delivery::PMessage {
                pattern,
                channel,
                payload,
                ..
            } => Reply::Push(vec![
                Reply::bulk_str("pmessage"),
                Reply::Bulk(pattern),
                Reply::Bulk(channel),
                Reply::Bulk(payload),
            ]),
        };
        frame.encode(&mut self.outbuf, self.session.resp3);
    }

    /// Runs the writes (or the reads) collected from a pipeline and
    /// encodes their replies.
    async fn answer_group(&mut self, group: &mut Vec<Job>) {
        let Some(first) = group.first() else {
            return;
        };
        let shared = &self.session.shared;
        let started = Instant::now();
        let names: Vec<&'static str> = group.iter().map(|job| job.spec.name).collect();
        let replies = if first.spec.is_write() {
            self.batcher.write_many(shared, std::mem::take(group)).await
        } else {
            let replies = batch::read_many(shared, group).await;
            group.clear();
            replies
        };
        // Each command of the group waited for all of it.
        let micros = started.elapsed().as_micros() as u64;
        for (reply, name) in replies.into_iter().zip(names) {
            shared.metrics.record(name, micros, reply.is_error());
            if self.session.reply_mode.sends() {
                reply.encode(&mut self.outbuf, self.session.resp3);
            }
            self.session.reply_mode = self.session.reply_mode.next();
        }
    }
}

/// The next MONITOR line, once the client monitors (never otherwise).
async fn next_line(feed: &mut Option<tokio::sync::mpsc::Receiver<Bytes>>) -> Option<Bytes> {
    match feed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
