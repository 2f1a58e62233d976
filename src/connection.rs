//! One client connection: reads pipelined requests, runs them in order,
//! writes every reply of a batch with one flush, and interleaves pub/sub
//! deliveries.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tracing::debug;

use crate::batch::{self, Batcher, Job};
use crate::bus::{Delivery, Subscriber};
use crate::cmd::errors::{self, CmdError};
use crate::cmd::{self, CommandSpec, Family};
use crate::protocol::parse_request;
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
/// Commands that run at once even inside MULTI.
const NOT_QUEUED: [&str; 6] = ["exec", "discard", "multi", "watch", "quit", "reset"];

/// A command's full name as Redis prints it: `get`, `client|id`.
pub fn full_name(spec: &CommandSpec, args: &[Bytes]) -> String {
    match args.get(1).and_then(|a| spec.subcommand(a)) {
        Some(sub) => format!("{}|{}", spec.name, sub.name),
        None => spec.name.to_string(),
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
            Subscriber::new(shared.config.output_limits(), kill.clone());
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
            inbuf: BytesMut::with_capacity(16 * 1024),
            outbuf: BytesMut::with_capacity(16 * 1024),
            id,
            addr,
            db: 0,
            resp3: false,
            authenticated,
            multi: None,
            watched: Vec::new(),
            channels: Vec::new(),
            patterns: Vec::new(),
            subscriber,
            delivery_rx,
            info,
            kill,
            close_after_reply: false,
            batcher,
        }
    }

    pub async fn run(mut self) {
        if let Err(e) = self.serve().await {
            debug!(client = self.id, error = %e, "connection closed");
        }
        self.cleanup();
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        let mut shutdown = self.shared.shutdown.clone();
        let max_bulk = self.shared.config.proto_max_bulk_len;
        loop {
            // Answer every complete request in the buffer, then flush once.
            // Consecutive plain writes are handed on together, so a
            // pipeline's writes share one group commit.
            let mut writes: Vec<Job> = Vec::new();
            loop {
                let args = match parse_request(&mut self.inbuf, max_bulk) {
                    Ok(Some(args)) if args.is_empty() => continue,
                    Ok(Some(args)) => args,
                    Ok(None) => {
                        self.answer_writes(&mut writes).await;
                        break;
                    }
                    Err(e) => {
                        self.answer_writes(&mut writes).await;
                        Reply::Error(e.reply_text()).encode(&mut self.outbuf, self.resp3);
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
                let reply = self.dispatch(args, checked).await;
                // Messages this command published to this very connection
                // go first, as Redis writes them first.
                if self.is_subscribed() {
                    while let Ok(delivery) = self.delivery_rx.try_recv() {
                        self.encode_delivery(delivery);
                    }
                }
                reply.encode(&mut self.outbuf, self.resp3);
                if self.close_after_reply {
                    break;
                }
            }
            self.flush().await?;
            if self.close_after_reply || self.shared.is_shutting_down() {
                return Ok(());
            }
            tokio::select! {
                read = self.socket.read_buf(&mut self.inbuf) => {
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
        if self.outbuf.capacity() > 1024 * 1024 {
            // Give back the memory a huge reply needed.
            self.outbuf = BytesMut::with_capacity(16 * 1024);
        }
        Ok(())
    }

    fn encode_delivery(&mut self, delivery: Delivery) {
        self.subscriber.taken(&delivery);
        let frame = match delivery {
            Delivery::Message { channel, payload } => Reply::Push(vec![
                Reply::bulk_str("message"),
                Reply::Bulk(channel),
                Reply::Bulk(payload),
            ]),
            Delivery::PMessage {
                pattern,
                channel,
                payload,
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
        checked: Result<&'static CommandSpec, String>,
    ) -> Reply {
        let spec = match checked {
            Ok(spec) => spec,
            Err(text) => {
                if args[0].eq_ignore_ascii_case(b"exec") {
                    // A malformed EXEC aborts the transaction (if any) at once.
                    self.multi = None;
                    self.watched.clear();
                    self.info.lock().unwrap().multi = -1;
                    let reason = text.strip_prefix("ERR ").unwrap_or(&text);
                    return Reply::Error(format!("{}{reason}", errors::EXECABORT_BECAUSE));
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
            return Reply::Error(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                full_name(spec, &args)
            ));
        }
        self.call(spec, args).await
    }

    /// The table lookup, arity and subcommand checks.
    fn check(&self, args: &[Bytes]) -> Result<&'static CommandSpec, String> {
        check_command(args)
    }

    fn touch_info(&self, spec: &CommandSpec, args: &[Bytes]) {
        let mut info = self.info.lock().unwrap();
        info.last_active = Instant::now();
        info.last_cmd = full_name(spec, args);
    }

    pub fn is_subscribed(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }

    /// Runs one validated command.
    pub async fn call(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Reply {
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

    fn cleanup(&mut self) {
        cmd::pubsub::unsubscribe_all(self);
        self.shared.clients.remove(&self.id);
    }
}

/// The table lookup, arity and subcommand checks of a request (`args[0]`
/// is the command name; never empty). No state: the fuzz target runs it.
pub fn check_command(args: &[Bytes]) -> Result<&'static CommandSpec, String> {
    let spec =
        cmd::lookup(&args[0]).ok_or_else(|| errors::unknown_command(&args[0], &args[1..]))?;
    if !CommandSpec::arity_ok(spec.arity, args.len()) {
        return Err(errors::wrong_arity(spec.name));
    }
    if !spec.subcommands.is_empty() && args.len() > 1 {
        let sub = spec
            .subcommand(&args[1])
            .ok_or_else(|| errors::unknown_subcommand(&args[1], spec.name))?;
        if !CommandSpec::arity_ok(sub.arity, args.len()) {
            return Err(errors::wrong_arity(&format!("{}|{}", spec.name, sub.name)));
        }
    }
    Ok(spec)
}
