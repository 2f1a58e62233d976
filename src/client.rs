//! One client connection: the socket (plain or TLS), request framing,
//! one flush per batch of replies, pub/sub deliveries and MONITOR lines.
//! Each framed request goes to the command layer's request path
//! ([`crate::cmd::run::request`]), which decides what it does; this file
//! names no command. It imports the command layer; nothing in the command
//! layer imports it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{debug, error, info, warn};

use crate::bus::{Delivery, DeliveryRx};
use crate::cmd::run::lanes::Batcher;
use crate::cmd::run::request::{Next, Requests, Wire};
use crate::cmd::session::{Peer, ReplyMode, Session};
use crate::instance::clients::Buffers;
use crate::instance::state::Instance;
use crate::protocol::{FrameError, FrameLimits, Framer};
use crate::reply::Reply;

/// Where a RESP2 redirect target receives invalidations.
const TRACKING_CHANNEL: &str = "__redis__:invalidate";

/// Bytes read from the socket at a time (Redis's PROTO_IOBUF_LEN).
const READ_CHUNK: usize = 16 * 1024;
/// A reply buffer past this size, once released, has the allocator give
/// memory back ([`crate::trim`]).
const BIG_BUFFER: usize = 1 << 20;
/// How long CLIENT LIST's `rbp` remembers a reply buffer's peak (Redis
/// resets it every 5 seconds).
const PEAK_WINDOW: Duration = Duration::from_secs(5);

/// Where a connection comes from, for CLIENT LIST.
fn peer_of(socket: &TcpStream, addr: SocketAddr) -> Peer {
    use std::os::fd::AsRawFd as _;
    Peer {
        addr,
        laddr: socket.local_addr().unwrap_or(addr),
        fd: socket.as_raw_fd(),
    }
}

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
/// layer's request path with its session, writes the replies and
/// interleaves its pub/sub deliveries and MONITOR lines. It names no
/// command: what a request does is decided in [`crate::cmd::run`].
pub struct Client {
    /// Everything the commands see of this client.
    session: Session,
    /// Request framing state (a request may span many reads).
    framer: Framer,
    inbuf: BytesMut,
    /// Where replies and deliveries are encoded and written.
    wire: ClientWire,
    /// The requests in flight (a pipeline's group).
    requests: Requests,
}

/// The writing side of a connection, as the request path sees it.
struct ClientWire {
    socket: Socket,
    outbuf: BytesMut,
    /// Where this client's pub/sub deliveries arrive.
    delivery_rx: DeliveryRx,
    /// Notified by CLIENT KILL and the pub/sub output limits.
    kill: Arc<Notify>,
    instance: Arc<Instance>,
    /// What CLIENT LIST shows of the buffers.
    buffers: Arc<Buffers>,
    /// The reply buffer's peak in the current window, and when the window
    /// began.
    peak: usize,
    peak_since: std::time::Instant,
}

impl Client {
    pub fn new(
        instance: Arc<Instance>,
        batcher: Batcher,
        socket: TcpStream,
        addr: SocketAddr,
    ) -> Client {
        let (session, delivery_rx) = Session::new(instance, peer_of(&socket, addr));
        Client::with_session(session, delivery_rx, batcher, Socket::Plain(socket))
    }

    fn with_session(
        session: Session,
        delivery_rx: DeliveryRx,
        batcher: Batcher,
        socket: Socket,
    ) -> Client {
        let buffers = session.buffers.clone();
        buffers.base.store(
            std::mem::size_of::<Client>()
                + std::mem::size_of::<crate::instance::clients::ClientInfo>(),
            Ordering::Relaxed,
        );
        let wire = ClientWire {
            socket,
            outbuf: BytesMut::new(),
            delivery_rx,
            kill: session.kill.clone(),
            instance: session.instance.clone(),
            buffers,
            peak: 0,
            peak_since: std::time::Instant::now(),
        };
        Client {
            session,
            framer: Framer::default(),
            inbuf: BytesMut::new(),
            wire,
            requests: Requests::new(batcher),
        }
    }

    /// Serves a client of the TLS port: it is registered at once (so it
    /// counts against maxclients, shows in CLIENT LIST and can be killed
    /// while its handshake runs), and served once the handshake completes
    /// within `timeout`. A failed handshake only closes its connection.
    pub async fn run_tls(
        instance: Arc<Instance>,
        batcher: Batcher,
        socket: TcpStream,
        addr: SocketAddr,
        acceptor: TlsAcceptor,
        timeout: Duration,
    ) {
        let (session, delivery_rx) = Session::new(instance, peer_of(&socket, addr));
        let mut shutdown = session.instance.shutdown.clone();
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
        self.wire.socket.close().await;
    }

    fn limits(&self) -> FrameLimits {
        let config = &self.session.instance.config;
        FrameLimits {
            max_bulk: config.proto_max_bulk_len,
            max_query: config.client_query_buffer_limit,
            authenticated: !self.session.needs_auth(),
        }
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        let mut shutdown = self.session.instance.shutdown.clone();
        loop {
            // Answer every complete request in the buffer, then flush once.
            loop {
                let limits = self.limits();
                let args = match self.framer.next(&mut self.inbuf, limits) {
                    Ok(Some(args)) if args.is_empty() => continue,
                    Ok(Some(args)) => args,
                    Ok(None) => {
                        self.requests
                            .finish(&mut self.session, &mut self.wire)
                            .await;
                        break;
                    }
                    Err(FrameError::Protocol(e)) => {
                        self.requests
                            .finish(&mut self.session, &mut self.wire)
                            .await;
                        let reply = Reply::Error(e.reply_text());
                        self.wire.send(&reply, self.session.resp3);
                        self.session.close_after_reply = true;
                        break;
                    }
                    Err(FrameError::QueryBufferLimit) => {
                        // Redis closes such a client without a reply.
                        self.requests
                            .finish(&mut self.session, &mut self.wire)
                            .await;
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
                self.wire
                    .buffers
                    .read_buffer(self.inbuf.len(), self.inbuf.capacity());
                let next = self
                    .requests
                    .handle(&mut self.session, &mut self.wire, args)
                    .await?;
                if next == Next::Close {
                    return Ok(());
                }
                if self.session.close_after_reply {
                    break;
                }
            }
            self.wire.flush().await?;
            if self.session.close_after_reply || self.session.instance.is_shutting_down() {
                return Ok(());
            }
            // Between requests a client holds no buffers: they are taken
            // again when bytes arrive or a reply is written.
            if self.inbuf.is_empty() && self.inbuf.capacity() > 0 {
                self.inbuf = BytesMut::new();
            }
            self.wire
                .buffers
                .read_buffer(self.inbuf.len(), self.inbuf.capacity());
            if self.wire.outbuf.capacity() > 0 {
                if self.wire.outbuf.capacity() > BIG_BUFFER {
                    crate::trim::soon();
                }
                self.wire.outbuf = BytesMut::new();
                self.wire.buffers.rbs.store(0, Ordering::Relaxed);
            }
            tokio::select! {
                read = self.wire.socket.read_more(&mut self.inbuf) => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    self.wire
                        .buffers
                        .read_buffer(self.inbuf.len(), self.inbuf.capacity());
                    self.session.instance.metrics.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Some(delivery) = self.wire.delivery_rx.recv() => {
                    self.wire.encode_delivery(&self.session, *delivery);
                    self.wire.send_deliveries(&self.session);
                }
                Some(line) = next_line(&mut self.session.monitor) => {
                    self.wire.outbuf.extend_from_slice(&line);
                    while let Some(more) = self.session.monitor.as_mut().and_then(|rx| rx.try_recv().ok()) {
                        self.wire.outbuf.extend_from_slice(&more);
                    }
                }
                _ = self.session.kill.notified() => return Ok(()),
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}

/// Writes replies; while the socket does not take them at once, CLIENT
/// LIST shows the client waiting to write (`events=rw`).
async fn write_all(socket: &mut Socket, bytes: &[u8], buffers: &Buffers) -> std::io::Result<()> {
    let write = socket.write_all(bytes);
    tokio::pin!(write);
    if let Some(done) = (&mut write).now_or_never() {
        return done;
    }
    buffers.writing.store(true, Ordering::Relaxed);
    let done = write.await;
    buffers.writing.store(false, Ordering::Relaxed);
    done
}

impl ClientWire {
    /// CLIENT LIST's view of the reply buffer about to be written: its
    /// bytes (`obl`), allocation (`rbs`) and recent peak (`rbp`).
    fn note_reply_buffer(&mut self) {
        let len = self.outbuf.len();
        if self.peak_since.elapsed() >= PEAK_WINDOW {
            self.peak = 0;
            self.peak_since = std::time::Instant::now();
        }
        self.peak = self.peak.max(len);
        self.buffers.obl.store(len, Ordering::Relaxed);
        self.buffers
            .rbs
            .store(self.outbuf.capacity(), Ordering::Relaxed);
        self.buffers.rbp.store(self.peak, Ordering::Relaxed);
    }

    fn encode_delivery(&mut self, session: &Session, delivery: Delivery) {
        session.subs.subscriber().taken(&delivery);
        // CLIENT REPLY OFF silences pub/sub messages too (Redis 7.0), not
        // tracking's pushes.
        let tracking = matches!(
            delivery,
            Delivery::Invalidate { .. } | Delivery::RedirectBroken { .. }
        );
        if session.predates(&delivery) || (session.reply_mode == ReplyMode::Off && !tracking) {
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
            // As Redis's sendTrackingMessage: a RESP3 connection gets the
            // push; a RESP2 one only when it is a redirect target in
            // subscribed mode, as a message on __redis__:invalidate.
            Delivery::Invalidate { keys, redirected } => {
                let keys = keys.map_or(Reply::Nil, |keys| {
                    Reply::Array(keys.into_iter().map(Reply::Bulk).collect())
                });
                if session.resp3 {
                    Reply::Push(vec![Reply::bulk_str("invalidate"), keys])
                } else if redirected && session.is_subscribed() {
                    Reply::Push(vec![
                        Reply::bulk_str("message"),
                        Reply::bulk_str(TRACKING_CHANNEL),
                        keys,
                    ])
                } else {
                    return;
                }
            }
            Delivery::RedirectBroken { to } if session.resp3 => Reply::Push(vec![
                Reply::bulk_str("tracking-redir-broken"),
                Reply::Int(to as i64),
            ]),
            Delivery::RedirectBroken { .. } => return,
        };
        frame.encode(&mut self.outbuf, session.resp3);
    }
}

impl Wire for ClientWire {
    fn send(&mut self, reply: &Reply, resp3: bool) {
        reply.encode(&mut self.outbuf, resp3);
    }

    fn send_deliveries(&mut self, session: &Session) {
        while let Ok(delivery) = self.delivery_rx.try_recv() {
            self.encode_delivery(session, *delivery);
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        self.instance
            .metrics
            .net_output_bytes
            .fetch_add(self.outbuf.len() as u64, Ordering::Relaxed);
        self.note_reply_buffer();
        // A client that stops reading blocks this write; CLIENT KILL and the
        // pub/sub output limits must still be able to close it.
        // Biased: a client killed while its command ran (a blocked pop
        // hands the kill back) gets no reply at all, as in Redis.
        tokio::select! {
            biased;
            _ = self.kill.notified() => {
                return Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "client killed"));
            }
            written = write_all(&mut self.socket, &self.outbuf, &self.buffers) => written?,
        }
        self.outbuf.clear();
        self.buffers.obl.store(0, Ordering::Relaxed);
        Ok(())
    }

    async fn closed(&mut self) {
        self.socket.peer_closed().await
    }
}

/// The next MONITOR line, once the client monitors (never otherwise).
async fn next_line(feed: &mut Option<tokio::sync::mpsc::Receiver<Bytes>>) -> Option<Bytes> {
    match feed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
