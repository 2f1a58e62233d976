//! The instance's registry of connected clients: what CLIENT LIST shows
//! of each, and how other connections kill or unblock one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// Its buffers as its connection last left them (CLIENT LIST).
    pub buffers: Arc<Buffers>,
    /// Its queue of pub/sub deliveries: bytes and messages waiting.
    pub backlog: Arc<crate::bus::Backlog>,
    /// Its queue itself (invalidations redirected to it).
    pub deliveries: crate::bus::Subscriber,
}

/// A connection's buffers, as CLIENT LIST shows them: stored by the
/// connection as it reads, frames and writes (relaxed stores, read only by
/// CLIENT LIST and CLIENT INFO).
#[derive(Default)]
pub struct Buffers {
    /// Bytes read and not yet framed into a request (`qbuf`).
    pub qbuf: AtomicUsize,
    /// Room left in the read buffer (`qbuf-free`).
    pub qbuf_free: AtomicUsize,
    /// Reply bytes encoded and not yet written (`obl`).
    pub obl: AtomicUsize,
    /// The reply buffer's allocation (`rbs`).
    pub rbs: AtomicUsize,
    /// The most the reply buffer held at once in the last 5 seconds
    /// (`rbp`).
    pub rbp: AtomicUsize,
    /// The connection waits for the socket to take its replies (`events=rw`).
    pub writing: AtomicBool,
    /// What the connection's own structures take (`tot-mem` adds its
    /// buffers to it).
    pub base: AtomicUsize,
}

impl Buffers {
    /// The read buffer after a read or a request was framed.
    pub fn read_buffer(&self, len: usize, capacity: usize) {
        self.qbuf.store(len, Ordering::Relaxed);
        self.qbuf_free
            .store(capacity.saturating_sub(len), Ordering::Relaxed);
    }
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

/// The fields CLIENT LIST/INFO print that commands change.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    /// The local end of its connection (`laddr`): the plain or the TLS
    /// port's address, as the client reached it.
    pub laddr: SocketAddr,
    /// Its socket's file descriptor.
    pub fd: i32,
    pub name: Bytes,
    pub lib_name: Bytes,
    pub lib_ver: Bytes,
    pub db: u32,
    pub created: Instant,
    pub last_active: Instant,
    pub last_cmd: String,
    /// Bytes of the arguments of the command running (`argv-mem`), 0
    /// between commands.
    pub argv_mem: usize,
    pub sub: usize,
    pub psub: usize,
    /// Queued commands while in MULTI, -1 outside.
    pub multi: i64,
    /// What the queued commands take (`multi-mem`): their arguments' bytes
    /// and a pointer per argument, as Redis counts them.
    pub multi_mem: usize,
    /// CLIENT NO-EVICT ON (flag `e`).
    pub no_evict: bool,
    /// MONITOR (flag `O`).
    pub monitor: bool,
    /// Closes once its reply is written (flag `c`: QUIT, killing itself).
    pub close_after_reply: bool,
    /// Waiting in a blocking command (flag `b`).
    pub blocked: bool,
    pub resp: u8,
}
