//! The instance's registry of connected clients: what CLIENT LIST shows
//! of each, and how other connections kill or unblock one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::metrics::Metrics;

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
