//! What every command may use beyond its own session: the store, the bus,
//! the event side, the client registry, the statistics and the limits. The
//! server builds it; commands receive it (never the server's wiring).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::{Notify, watch};

use super::instance::{AccessTimes, Monitors, Pause};
use crate::bus::Bus;
use crate::config::Config;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::store::Store;

/// State every connection and background task shares.
pub struct Shared {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub bus: Arc<Bus>,
    /// The event side: relay state, notify flags, commit-and-wake.
    pub events: Arc<Events>,
    /// Connected clients, for CLIENT LIST/KILL and INFO.
    pub clients: DashMap<u64, ClientHandle>,
    pub next_client_id: AtomicU64,
    pub stats: Stats,
    pub started: Instant,
    /// Flips to true when the server begins shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Where the listener is bound (INFO's tcp_port, CLIENT LIST's laddr).
    pub local_addr: SocketAddr,
    /// protected-mode (CONFIG SET may turn it off at run time).
    pub protected_mode: AtomicBool,
    /// How far fruitless XREAD scans of filtered event streams got, so
    /// repeated polls move on (see [`super::event_view`]).
    pub event_scans: super::event_view::ScanMemo,
    /// Per-command calls, errors and latency, batch sizes, blocked
    /// clients (for /metrics).
    pub metrics: Metrics,
    /// When this instance's clients last touched each key (OBJECT
    /// IDLETIME).
    pub access: AccessTimes,
    /// CLIENT PAUSE on this instance.
    pub pause: Pause,
    /// The clients in MONITOR mode.
    pub monitors: Monitors,
}

/// Counters INFO stats reports.
#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub expired_keys: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

/// What other connections may see and do to a connection.
pub struct ClientHandle {
    pub info: Arc<Mutex<ClientInfo>>,
    /// Notified by CLIENT KILL.
    pub kill: Arc<Notify>,
    /// Ends the client's blocking command early (CLIENT UNBLOCK).
    pub unblock: Arc<Unblock>,
}

/// How CLIENT UNBLOCK ends a blocked command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnblockHow {
    /// As if its timeout passed.
    Timeout,
    /// With `-UNBLOCKED client unblocked via CLIENT UNBLOCK`.
    Error,
}

/// A client's blocked state, as CLIENT UNBLOCK sees and ends it.
#[derive(Default)]
pub struct Unblock {
    /// True while the client waits in a blocking command.
    blocked: AtomicBool,
    /// What CLIENT UNBLOCK asked for, taken by the waiting command.
    how: Mutex<Option<UnblockHow>>,
    notify: Notify,
}

impl Unblock {
    /// Marks the client blocked until the guard drops: CLIENT UNBLOCK may
    /// end its wait, CLIENT LIST shows the `b` flag, INFO and /metrics
    /// count it in blocked_clients.
    pub fn block<'a>(
        &'a self,
        info: &'a Mutex<ClientInfo>,
        metrics: &'a Metrics,
    ) -> BlockedGuard<'a> {
        *self.how.lock().unwrap() = None;
        self.blocked.store(true, Ordering::SeqCst);
        info.lock().unwrap().blocked = true;
        metrics.blocked_clients.fetch_add(1, Ordering::Relaxed);
        BlockedGuard {
            unblock: self,
            info,
            metrics,
        }
    }

    /// CLIENT UNBLOCK: true when the client was blocked.
    pub fn unblock(&self, how: UnblockHow) -> bool {
        if !self.blocked.load(Ordering::SeqCst) {
            return false;
        }
        *self.how.lock().unwrap() = Some(how);
        self.notify.notify_one();
        true
    }

    /// Waits for CLIENT UNBLOCK.
    pub async fn requested(&self) -> UnblockHow {
        loop {
            if let Some(how) = self.how.lock().unwrap().take() {
                return how;
            }
            self.notify.notified().await;
        }
    }
}

/// A blocked client (see [`Unblock::block`]).
pub struct BlockedGuard<'a> {
    unblock: &'a Unblock,
    info: &'a Mutex<ClientInfo>,
    metrics: &'a Metrics,
}

impl BlockedGuard<'_> {
    /// Waits for CLIENT UNBLOCK.
    pub async fn requested(&self) -> UnblockHow {
        self.unblock.requested().await
    }
}

impl Drop for BlockedGuard<'_> {
    fn drop(&mut self) {
        self.unblock.blocked.store(false, Ordering::SeqCst);
        *self.unblock.how.lock().unwrap() = None;
        self.info.lock().unwrap().blocked = false;
        self.metrics.blocked_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The fields CLIENT LIST/INFO print.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub name: Bytes,
    pub lib_name: Bytes,
    pub lib_ver: Bytes,
    pub db: u32,
    pub created: Instant,
    pub last_active: Instant,
    pub last_cmd: String,
    pub sub: usize,
    pub psub: usize,
    /// Queued commands while in MULTI, -1 outside.
    pub multi: i64,
    /// Waiting in a blocking command (flag `b`).
    pub blocked: bool,
    pub resp: u8,
}

impl Shared {
    /// Protected mode refuses clients from other hosts while no password
    /// is set (Redis 7: whatever the bind address).
    pub fn refuses_as_protected(&self, peer: SocketAddr) -> bool {
        self.protected_mode.load(Ordering::Relaxed)
            && self.config.requirepass.is_none()
            && (self.config.peers_are_remote || !peer.ip().is_loopback())
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
