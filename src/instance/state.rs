//! The instance: what every connection, command and background task of
//! one respire process shares (the store, the bus, the event side, the
//! client registry, the counters and the limits). The server builds it;
//! commands receive it (never the server's wiring).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use dashmap::DashMap;
use tokio::sync::watch;

use crate::bus::Bus;
use crate::config::Config;
use crate::events::Events;
use crate::instance::clients::ClientHandle;
use crate::instance::local::{AccessTimes, Monitors, Pause};
use crate::instance::scan_memo::ScanMemo;
use crate::metrics::Metrics;
use crate::store::Store;

/// State every connection and background task of this process shares.
pub struct Instance {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub bus: Arc<Bus>,
    /// The event side: relay state, notify flags, commit-and-wake.
    pub events: Arc<Events>,
    /// Connected clients, for CLIENT LIST/KILL and INFO.
    pub clients: DashMap<u64, ClientHandle>,
    pub next_client_id: AtomicU64,
    pub started: Instant,
    /// Flips to true when the server begins shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Where the listener is bound (INFO's tcp_port, CLIENT LIST's laddr).
    pub local_addr: SocketAddr,
    /// protected-mode (CONFIG SET may turn it off at run time).
    pub protected_mode: AtomicBool,
    /// Parameters CONFIG SET changed on this instance that change nothing
    /// else in respire (name → value), read back by CONFIG GET.
    pub kept_parameters: std::sync::Mutex<std::collections::HashMap<&'static str, String>>,
    /// How far fruitless XREAD scans of filtered event streams got, so
    /// repeated polls move on.
    pub event_scans: ScanMemo,
    /// The counters INFO and /metrics report.
    pub metrics: Metrics,
    /// When this instance's clients last touched each key (OBJECT
    /// IDLETIME).
    pub access: AccessTimes,
    /// CLIENT PAUSE on this instance.
    pub pause: Pause,
    /// The clients in MONITOR mode.
    pub monitors: Monitors,
    /// Scripting: bodies seen, libraries in force, interpreters, runs.
    pub scripts: crate::instance::scripts::Scripts,
}

impl Instance {
    /// Milliseconds a script runs before it is reported busy: CONFIG SET
    /// `busy-reply-threshold` (or its alias `lua-time-limit`) on this
    /// instance, else `--busy-reply-threshold`.
    pub fn busy_reply_threshold(&self) -> std::time::Duration {
        let kept = self
            .kept_parameters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get("busy-reply-threshold")
            .and_then(|v| v.parse::<u64>().ok());
        std::time::Duration::from_millis(kept.unwrap_or(self.config.busy_reply_threshold).max(1))
    }

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
