//! One client's state as commands see it: its database, protocol, MULTI
//! block, WATCHed keys, subscriptions and reply mode.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::bus::{Delivery, OutputLimits, Subscriber, Subscriptions};
use crate::instance::clients::{Buffers, ClientHandle, ClientInfo, Unblock};
use crate::instance::state::Instance;
use crate::store::Db;

/// A MULTI block being queued.
#[derive(Default)]
pub struct MultiState {
    /// The queued requests, each passed the table's check (EXEC looks
    /// their rows up again: the table is static, the queue stays plain).
    pub queue: Vec<Vec<Bytes>>,
    /// A queued command was rejected: EXEC must answer EXECABORT.
    pub dirty: bool,
}

/// A key under WATCH and the version it had (`None`: absent or expired).
pub struct Watched {
    pub db: Db,
    pub key: Bytes,
    pub version: Option<i64>,
}

pub struct Session {
    pub instance: Arc<Instance>,
    pub id: u64,
    pub addr: SocketAddr,
    pub db: Db,
    /// Negotiated with HELLO 3.
    pub resp3: bool,
    pub authenticated: bool,
    pub multi: Option<MultiState>,
    pub watched: Vec<Watched>,
    /// This client's subscriptions (released when the session ends).
    pub subs: Subscriptions,
    /// Per subscribed channel (pattern) that may carry keyspace events: the
    /// last event id logged before the subscription took effect (its
    /// watermark). Notifications of events up to it are dropped. Kept
    /// after an unsubscribe (pruned when they pile up), cleared by RESET.
    pub channel_marks: HashMap<Bytes, i64>,
    pub pattern_marks: HashMap<Bytes, i64>,
    /// What CLIENT LIST shows of this client.
    pub info: Arc<Mutex<ClientInfo>>,
    /// Notified by CLIENT KILL and the pub/sub output limits.
    pub kill: Arc<Notify>,
    /// How CLIENT UNBLOCK ends this client's wait.
    pub unblock: Arc<Unblock>,
    /// The connection's buffers as CLIENT LIST shows them.
    pub buffers: Arc<Buffers>,
    /// Set by QUIT and protocol errors: close once replies are written.
    pub close_after_reply: bool,
    /// Set while EXEC runs its queue: a blocking command answers at once,
    /// as if its timeout had passed (Redis's CLIENT_DENY_BLOCKING).
    pub deny_blocking: bool,
    /// CLIENT REPLY: which replies this client gets.
    pub reply_mode: ReplyMode,
    /// CLIENT NO-TOUCH: this client's commands leave keys' access times
    /// alone (TOUCH still touches).
    pub no_touch: bool,
    /// Set by MONITOR: the commands this instance runs, one line each.
    pub monitor: Option<tokio::sync::mpsc::Receiver<Bytes>>,
    /// CLIENT TRACKING is on (the instance's tracking table holds the
    /// rest, [`crate::events::tracking`]).
    pub tracking: bool,
    /// CLIENT CACHING was given for the next command.
    pub caching: bool,
}

/// Where a connection comes from: CLIENT LIST's `addr`, `laddr` and `fd`.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// The local address it connected to.
    pub laddr: SocketAddr,
    /// The socket's file descriptor (-1 when there is none).
    pub fd: i32,
}

/// CLIENT REPLY ON|OFF|SKIP, as Redis's reply flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// CLIENT REPLY SKIP ran: the next command's reply is dropped.
    SkipNext,
    /// This command's reply is dropped.
    Skip,
}

impl ReplyMode {
    /// Whether the reply of the command that just ran is sent.
    pub fn sends(self) -> bool {
        matches!(self, ReplyMode::On | ReplyMode::SkipNext)
    }

    /// The mode for the command after the one that just ran.
    pub fn next(self) -> ReplyMode {
        match self {
            ReplyMode::SkipNext => ReplyMode::Skip,
            ReplyMode::Skip => ReplyMode::On,
            other => other,
        }
    }
}

impl Session {
    /// Registers a new client; returns its session and the queue its
    /// pub/sub deliveries arrive on.
    pub fn new(instance: Arc<Instance>, peer: Peer) -> (Session, crate::bus::DeliveryRx) {
        let addr = peer.addr;
        let id = instance.next_client_id.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let info = Arc::new(Mutex::new(ClientInfo {
            id,
            addr,
            laddr: peer.laddr,
            fd: peer.fd,
            name: Bytes::new(),
            lib_name: Bytes::new(),
            lib_ver: Bytes::new(),
            db: 0,
            created: now,
            last_active: now,
            last_cmd: "NULL".into(),
            argv_mem: 0,
            sub: 0,
            psub: 0,
            multi: -1,
            multi_mem: 0,
            no_evict: false,
            monitor: false,
            close_after_reply: false,
            blocked: false,
            resp: 2,
        }));
        let kill = Arc::new(Notify::new());
        let unblock = Arc::new(Unblock::default());
        let buffers = Arc::new(Buffers::default());
        let (subscriber, delivery_rx) =
            Subscriber::new(OutputLimits::from_config(&instance.config), kill.clone());
        instance.clients.insert(
            id,
            ClientHandle {
                info: info.clone(),
                kill: kill.clone(),
                unblock: unblock.clone(),
                buffers: buffers.clone(),
                backlog: subscriber.backlog(),
                deliveries: subscriber.clone(),
            },
        );
        let authenticated = instance.config.requirepass.is_none();
        let subs = Subscriptions::new(instance.bus.clone(), id, subscriber);
        let session = Session {
            instance,
            id,
            addr,
            db: 0,
            resp3: false,
            authenticated,
            multi: None,
            watched: Vec::new(),
            subs,
            channel_marks: HashMap::new(),
            pattern_marks: HashMap::new(),
            info,
            kill,
            unblock,
            buffers,
            close_after_reply: false,
            deny_blocking: false,
            reply_mode: ReplyMode::On,
            no_touch: false,
            monitor: None,
            tracking: false,
            caching: false,
        };
        (session, delivery_rx)
    }

    /// Records the command about to run (CLIENT LIST's cmd, idle and
    /// argv-mem).
    pub fn touch_info(&self, full_name: String, args: &[Bytes]) {
        let mut info = self.info.lock().unwrap();
        info.last_active = Instant::now();
        info.last_cmd = full_name;
        info.argv_mem = args.iter().map(|a| a.len()).sum();
    }

    /// The command has answered: its arguments are released.
    pub fn command_done(&self) {
        self.info.lock().unwrap().argv_mem = 0;
    }

    /// Queues a command in the MULTI block, and shows it in CLIENT LIST's
    /// multi and multi-mem (each argument's bytes and a pointer, as Redis
    /// counts them).
    pub fn queue_command(&mut self, args: Vec<Bytes>) {
        let Some(multi) = self.multi.as_mut() else {
            return;
        };
        let cost: usize = args
            .iter()
            .map(|a| a.len() + std::mem::size_of::<usize>())
            .sum();
        multi.queue.push(args);
        let queued = multi.queue.len() as i64;
        let mut info = self.info.lock().unwrap();
        info.multi = queued;
        info.multi_mem += cost;
    }

    /// Shows a MULTI block begun (`true`) or ended in CLIENT LIST.
    pub fn show_multi(&self, begun: bool) {
        let mut info = self.info.lock().unwrap();
        info.multi = if begun { 0 } else { -1 };
        info.multi_mem = 0;
    }

    /// CLIENT TRACKING: remembers `keys` for this client, about to read
    /// them (callers check [`Session::tracking`] before naming the keys).
    pub fn track_reads<'k>(&self, keys: impl IntoIterator<Item = &'k Bytes>) {
        self.instance.events.tracking.remember(self.id, keys);
    }

    /// After a command: CLIENT CACHING lasts for one command (or one MULTI
    /// block), unless that command was CLIENT itself, as in Redis.
    pub fn caching_done(&mut self, client_command: bool) {
        if self.caching && self.multi.is_none() && !client_command {
            self.caching = false;
            self.instance.events.tracking.set_caching(self.id, false);
        }
    }

    pub fn is_subscribed(&self) -> bool {
        !self.subs.is_empty()
    }

    /// True when requests must still AUTH first.
    pub fn needs_auth(&self) -> bool {
        !self.authenticated && self.instance.config.requirepass.is_some()
    }

    /// True when the subscription `name` took effect after the logged
    /// event `event` (so it must not see it).
    pub fn predates(&self, delivery: &Delivery) -> bool {
        let (marks, name, event) = match delivery {
            Delivery::Message { channel, event, .. } => (&self.channel_marks, channel, event),
            Delivery::PMessage { pattern, event, .. } => (&self.pattern_marks, pattern, event),
            Delivery::Invalidate { .. } | Delivery::RedirectBroken { .. } => return false,
        };
        match (event, marks.get(name)) {
            (Some(id), Some(&mark)) => *id <= mark,
            _ => false,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The subscriptions release themselves; the client list entry and
        // the monitor feed here.
        self.instance.clients.remove(&self.id);
        if self.tracking {
            self.instance.events.tracking.disable(self.id);
        }
        if self.monitor.is_some() {
            self.instance.monitors.remove(self.id);
        }
    }
}
