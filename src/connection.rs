//! One client connection: reads pipelined requests, runs them in order,
//! writes every reply of a batch with one flush, and interleaves pub/sub
//! deliveries.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tracing::{debug, error, warn};

use crate::batch::{self, Batcher, Job};
use crate::bus::{Delivery, OutputLimits, Subscriber};
use crate::cmd::errors::{self, CmdError};
use crate::cmd::{self, CommandSpec, Family};
use crate::protocol::{FrameError, FrameLimits, Framer};
use crate::reply::Reply;
use crate::server::{ClientHandle, ClientInfo, Shared};
use crate::store::Db;

/// Commands a RESP2 connection may run while subscribed.
const SUBSCRIBED_ALLOWED: [&str; 9] = [
    "subscribe",
    "psubscribe",
    "unsubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
    "ping",
    "quit",
    "reset",
];
/// Commands whose reply goes before the messages that arrived meanwhile.
const SUBSCRIBING: [&str; 3] = ["subscribe", "psubscribe", "ssubscribe"];
/// Commands that run at once even inside MULTI.
const NOT_QUEUED: [&str; 6] = ["exec", "discard", "multi", "watch", "quit", "reset"];

/// Bytes read from the socket at a time (Redis's PROTO_IOBUF_LEN).
const READ_CHUNK: usize = 16 * 1024;

/// Waits until the socket has bytes and reads them into `buf`. The buffer
/// is only allocated once there is something to read, so an idle client
/// holds none. Cancel-safe: bytes are only taken off the socket
/// synchronously.
async fn read_more(socket: &TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    loop {
        socket.readable().await?;
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        match socket.try_read_buf(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A MULTI block being queued.
#[derive(Default)]
pub struct MultiState {
    pub queue: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    /// A queued command was rejected: EXEC must answer EXECABORT.
    pub dirty: bool,
}

/// A key under WATCH and the version it had (`None`: absent or expired).
pub struct Watched {
    pub db: Db,
    pub key: Bytes,
    pub version: Option<i64>,
}

pub struct Connection {
    pub shared: Arc<Shared>,
    socket: TcpStream,
    /// Request framing state (a request may span many reads).
    framer: Framer,
    inbuf: BytesMut,
    outbuf: BytesMut,
    pub id: u64,
    pub addr: SocketAddr,
    pub db: Db,
    /// Negotiated with HELLO 3.
    pub resp3: bool,
    pub authenticated: bool,
    pub multi: Option<MultiState>,
    pub watched: Vec<Watched>,
    /// Subscribed channels and patterns, in subscription order.
    pub channels: Vec<Bytes>,
    pub patterns: Vec<Bytes>,
    /// Per subscribed channel (pattern) that may carry keyspace events: the
    /// last event id logged before the subscription took effect (its
    /// watermark). Notifications of events up to it are dropped here. Kept
    /// after an unsubscribe (pruned when they pile up), cleared by RESET.
    pub channel_marks: HashMap<Bytes, i64>,
    pub pattern_marks: HashMap<Bytes, i64>,
    /// This connection as a pub/sub subscriber (its queue and limits).
    pub subscriber: Subscriber,
    delivery_rx: mpsc::UnboundedReceiver<Delivery>,
    /// What CLIENT LIST shows of this connection.
    pub info: Arc<Mutex<ClientInfo>>,
    kill: Arc<Notify>,
    /// Set by QUIT and protocol errors: close once replies are written.
    pub close_after_reply: bool,
    /// Where write commands go for group commit.
    batcher: Batcher,
}

impl Connection {
    pub fn new(
        shared: Arc<Shared>,
        batcher: Batcher,
        socket: TcpStream,
        addr: SocketAddr,
    ) -> Connection {
        let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let info = Arc::new(Mutex::new(ClientInfo {
            id,
            addr,
            name: Bytes::new(),
            lib_name: Bytes::new(),
            lib_ver: Bytes::new(),
            db: 0,
            created: now,
            last_active: now,
            last_cmd: "NULL".into(),
            sub: 0,
            psub: 0,
            multi: -1,
            resp: 2,
        }));
        let kill = Arc::new(Notify::new());
        let (subscriber, delivery_rx) =
            Subscriber::new(OutputLimits::from_config(&shared.config), kill.clone());
        shared.clients.insert(
            id,
            ClientHandle {
                info: info.clone(),
                kill: kill.clone(),
            },
        );
        let authenticated = shared.config.requirepass.is_none();
        Connection {
            shared,
            socket,
            framer: Framer::default(),
            inbuf: BytesMut::new(),
            outbuf: BytesMut::new(),
            id,
            addr,
            db: 0,
            resp3: false,
            authenticated,
            multi: None,
            watched: Vec::new(),
            channels: Vec::new(),
            patterns: Vec::new(),
            channel_marks: HashMap::new(),
            pattern_marks: HashMap::new(),
            subscriber,
            delivery_rx,
            info,
            kill,
            close_after_reply: false,
            batcher,
        }
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
            Ok(Err(e)) => debug!(client = self.id, error = %e, "connection closed"),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let command = self
                    .info
                    .lock()
                    .map(|i| i.last_cmd.clone())
                    .unwrap_or_default();
                error!(
                    client = self.id,
                    command,
                    panic = what,
                    "a command panicked; closing its connection"
                );
            }
        }
    }

    fn limits(&self) -> FrameLimits {
        FrameLimits {
            max_bulk: self.shared.config.proto_max_bulk_len,
            max_query: self.shared.config.client_query_buffer_limit,
            authenticated: self.authenticated || self.shared.config.requirepass.is_none(),
        }
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            // Answer every complete request in the buffer, then flush once.
            // Consecutive plain writes are handed on together, so a
            // pipeline's writes share one group commit.
            let mut writes: Vec<Job> = Vec::new();
            loop {
                let limits = self.limits();
                let args = match self.framer.next(&mut self.inbuf, limits) {
                    Ok(Some(args)) if args.is_empty() => continue,
                    Ok(Some(args)) => args,
                    Ok(None) => {
                        self.answer_writes(&mut writes).await;
                        break;
                    }
                    Err(FrameError::Protocol(e)) => {
                        self.answer_writes(&mut writes).await;
                        Reply::Error(e.reply_text()).encode(&mut self.outbuf, self.resp3);
                        self.close_after_reply = true;
                        break;
                    }
                    Err(FrameError::QueryBufferLimit) => {
                        // Redis closes such a client without a reply.
                        self.answer_writes(&mut writes).await;
                        warn!(
                            client = self.id,
                            addr = %self.addr,
                            limit = limits.max_query,
                            "closing client that reached max query buffer length"
                        );
                        self.inbuf = BytesMut::new();
                        self.framer = Framer::default();
                        self.close_after_reply = true;
                        break;
                    }
                };
                self.shared
                    .stats
                    .commands_processed
                    .fetch_add(1, Ordering::Relaxed);
                let checked = self.check(&args);
                if let Ok(spec) = checked
                    && self.groups_with_writes(spec)
                {
                    self.touch_info(spec, &args);
                    writes.push(Job {
                        spec,
                        args,
                        db: self.db,
                        resp3: self.resp3,
                    });
                    continue;
                }
                self.answer_writes(&mut writes).await;
                // A subscription's confirmation precedes its messages.
                let subscribes = matches!(checked, Ok(spec) if SUBSCRIBING.contains(&spec.name));
                let reply = self.dispatch(args, checked).await;
                if subscribes {
                    reply.encode(&mut self.outbuf, self.resp3);
                }
                // Messages this command published to this very connection
                // go first, as Redis writes them first.
                if self.is_subscribed() {
                    while let Ok(delivery) = self.delivery_rx.try_recv() {
                        self.encode_delivery(delivery);
                    }
                }
                if !subscribes {
                    reply.encode(&mut self.outbuf, self.resp3);
                }
                if self.close_after_reply {
                    break;
                }
            }
            self.flush().await?;
            if self.close_after_reply || self.shared.is_shutting_down() {
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
                read = read_more(&self.socket, &mut self.inbuf) => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    self.shared.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Some(delivery) = self.delivery_rx.recv() => {
                    self.encode_delivery(delivery);
                    while let Ok(more) = self.delivery_rx.try_recv() {
                        self.encode_delivery(more);
                    }
                }
                _ = self.kill.notified() => return Ok(()),
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        self.shared
            .stats
            .net_output_bytes
            .fetch_add(self.outbuf.len() as u64, Ordering::Relaxed);
        // A client that stops reading blocks this write; CLIENT KILL and the
        // pub/sub output limits must still be able to close it.
        tokio::select! {
            written = self.socket.write_all(&self.outbuf) => written?,
            _ = self.kill.notified() => {
                return Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "client killed"));
            }
        }
        self.outbuf.clear();
        Ok(())
    }

    /// True when the subscription `name` took effect after the logged
    /// event `event` (so it must not see it).
    fn predates(&self, marks: &HashMap<Bytes, i64>, name: &Bytes, event: Option<i64>) -> bool {
        match (event, marks.get(name)) {
            (Some(id), Some(&mark)) => id <= mark,
            _ => false,
        }
    }

    fn encode_delivery(&mut self, delivery: Delivery) {
        self.subscriber.taken(&delivery);
        let early = match &delivery {
            Delivery::Message { channel, event, .. } => {
                self.predates(&self.channel_marks, channel, *event)
            }
            Delivery::PMessage { pattern, event, .. } => {
                self.predates(&self.pattern_marks, pattern, *event)
            }
        };
        if early {
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
        frame.encode(&mut self.outbuf, self.resp3);
    }

    /// True when a valid command is a write that may run in a group with
    /// the writes around it: allowed, outside MULTI and pub/sub.
    fn groups_with_writes(&self, spec: &CommandSpec) -> bool {
        spec.family.is_data()
            && spec.is_write()
            && self.multi.is_none()
            && !self.is_subscribed()
            && (self.authenticated || self.shared.config.requirepass.is_none())
    }

    /// Runs the writes collected from a pipeline and encodes their replies.
    async fn answer_writes(&mut self, writes: &mut Vec<Job>) {
        if writes.is_empty() {
            return;
        }
        for reply in self
            .batcher
            .write_many(&self.shared, std::mem::take(writes))
            .await
        {
            reply.encode(&mut self.outbuf, self.resp3);
        }
    }

    /// Runs (or queues) a request that went through [`Connection::check`].
    async fn dispatch(
        &mut self,
        args: Vec<Bytes>,
        checked: Result<&'static CommandSpec, Bytes>,
    ) -> Reply {
        let spec = match checked {
            Ok(spec) => spec,
            Err(text) => {
                if args[0].eq_ignore_ascii_case(b"exec") {
                    // A malformed EXEC aborts the transaction (if any) at once.
                    self.multi = None;
                    self.watched.clear();
                    self.info.lock().unwrap().multi = -1;
                    let reason = text.strip_prefix(b"ERR ").unwrap_or(&text);
                    let mut abort = errors::EXECABORT_BECAUSE.as_bytes().to_vec();
                    abort.extend_from_slice(reason);
                    return Reply::error(abort);
                }
                if let Some(multi) = &mut self.multi {
                    multi.dirty = true;
                }
                return Reply::Error(text);
            }
        };
        self.touch_info(spec, &args);
        if self.shared.config.requirepass.is_some()
            && !self.authenticated
            && !spec.has_flag("no-auth")
        {
            return Reply::error(errors::NOAUTH);
        }
        if let Some(multi) = &mut self.multi
            && !NOT_QUEUED.contains(&spec.name)
        {
            multi.queue.push((spec, args));
            self.info.lock().unwrap().multi = multi.queue.len() as i64;
            return Reply::Status("QUEUED");
        }
        if !self.resp3 && self.is_subscribed() && !SUBSCRIBED_ALLOWED.contains(&spec.name) {
            return Reply::error(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.full_name(&args)
            ));
        }
        self.call(spec, args).await
    }

    /// The table lookup, arity and subcommand checks.
    fn check(&self, args: &[Bytes]) -> Result<&'static CommandSpec, Bytes> {
        cmd::check(args)
    }

    fn touch_info(&self, spec: &CommandSpec, args: &[Bytes]) {
        let mut info = self.info.lock().unwrap();
        info.last_active = Instant::now();
        info.last_cmd = spec.full_name(args);
    }

    pub fn is_subscribed(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }

    /// Runs one validated command.
    pub async fn call(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Reply {
        if self.shared.config.panic_on_command.as_deref() == Some(spec.name) {
            panic!("panic_on_command {}", spec.name);
        }
        let result = match spec.family {
            Family::String | Family::Hash | Family::Keys => return self.run_data(spec, args).await,
            Family::Connection => cmd::connection::execute(self, spec, &args).await,
            Family::Server => cmd::info::execute(self, spec, &args).await,
            Family::Introspection => cmd::introspection::execute(self, spec, &args).await,
            Family::PubSub => cmd::pubsub::execute(self, spec, &args).await,
            Family::Transaction => cmd::transaction::execute(self, spec, &args).await,
        };
        result.unwrap_or_else(CmdError::into_reply)
    }

    /// Runs a data command: writes through the group-commit lanes, reads
    /// directly. Either way the reply follows the commit.
    async fn run_data(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Reply {
        let job = Job {
            spec,
            args,
            db: self.db,
            resp3: self.resp3,
        };
        if spec.is_write() {
            self.batcher.write(&self.shared, job).await
        } else {
            batch::run_alone(&self.shared, &job).await
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        cmd::pubsub::unsubscribe_all(self);
        self.shared.clients.remove(&self.id);
    }
}
