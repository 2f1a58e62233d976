//! One client's session: the state commands read and change (selected
//! database, protocol, AUTH, the MULTI queue, watched keys, subscriptions),
//! and what other clients see of it (CLIENT LIST). The connection that
//! carries it only frames requests and writes replies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use super::CommandSpec;
use super::shared::{ClientHandle, ClientInfo, Shared};
use crate::bus::{Delivery, OutputLimits, Subscriber, Subscriptions};
use crate::store::Db;

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

pub struct Session {
    pub shared: Arc<Shared>,
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
    /// Set by QUIT and protocol errors: close once replies are written.
    pub close_after_reply: bool,
}

impl Session {
    /// Registers a new client; returns its session and the queue its
    /// pub/sub deliveries arrive on.
    pub fn new(
        shared: Arc<Shared>,
        addr: SocketAddr,
    ) -> (Session, mpsc::UnboundedReceiver<Delivery>) {
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
        let subs = Subscriptions::new(shared.bus.clone(), id, subscriber);
        let session = Session {
            shared,
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
            close_after_reply: false,
        };
        (session, delivery_rx)
    }

    /// Records the command about to run (CLIENT LIST's cmd and idle).
    pub fn touch_info(&self, spec: &CommandSpec, args: &[Bytes]) {
        let mut info = self.info.lock().unwrap();
        info.last_active = Instant::now();
        info.last_cmd = spec.full_name(args);
    }

    pub fn is_subscribed(&self) -> bool {
        !self.subs.is_empty()
    }

    /// True when requests must still AUTH first.
    pub fn needs_auth(&self) -> bool {
        !self.authenticated && self.shared.config.requirepass.is_some()
    }

    /// True when a valid command is a write that may run in a group with
    /// the writes around it: allowed, outside MULTI and pub/sub.
    pub fn groups_with_writes(&self, spec: &CommandSpec) -> bool {
        spec.family.is_data()
            && spec.is_write()
            && self.multi.is_none()
            && !self.is_subscribed()
            && !self.needs_auth()
    }

    /// True when the subscription `name` took effect after the logged
    /// event `event` (so it must not see it).
    pub fn predates(&self, delivery: &Delivery) -> bool {
        let (marks, name, event) = match delivery {
            Delivery::Message { channel, event, .. } => (&self.channel_marks, channel, event),
            Delivery::PMessage { pattern, event, .. } => (&self.pattern_marks, pattern, event),
        };
        match (event, marks.get(name)) {
            (Some(id), Some(&mark)) => *id <= mark,
            _ => false,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The subscriptions release themselves; the client list entry here.
        self.shared.clients.remove(&self.id);
    }
}
