//! The listener: accepts connections, bounds their number, starts the
//! background tasks (event relay, expiry sweeper) and shuts everything down
//! gracefully.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use dashmap::DashMap;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::bus::Bus;
use crate::bus::nats::NatsLink;
use crate::client::Client;
use crate::cmd::batch::Batcher;
use crate::cmd::errors;
use crate::cmd::shared::{Shared, Stats};
use crate::cmd::table;
use crate::config::Config;
use crate::events::{self, Events, sweeper};
use crate::metrics::Metrics;
use crate::ops;
use crate::store;

/// Runs the server on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    mut config: Config,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    if config.port == 0 {
        // Port 0 picked a free port; name the instance after the real one.
        config.port = listener.local_addr()?.port();
    }
    fit_maxclients_to_file_limit(&mut config);
    let url = config.store_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.dir)
            .with_context(|| format!("cannot create data directory {}", config.dir.display()))?;
    }
    let store = store::open(&url)
        .await
        .with_context(|| format!("cannot open the store at {url}"))?;
    let nats = match &config.nats_url {
        Some(_) => Some(NatsLink::connect(&config).await?),
        None => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let protected_mode = config.protected_mode;
    let config = Arc::new(config);
    let bus = Arc::new(Bus::new(nats));
    let events = Arc::new(Events::new(
        config.clone(),
        store.clone(),
        bus.clone(),
        stop_rx.clone(),
    ));
    let shared = Arc::new(Shared {
        local_addr: listener.local_addr()?,
        config,
        store,
        bus,
        events,
        clients: DashMap::new(),
        next_client_id: AtomicU64::new(1),
        stats: Stats::default(),
        started: Instant::now(),
        shutdown: stop_rx,
        protected_mode: AtomicBool::new(protected_mode),
        event_scans: Default::default(),
        metrics: Metrics::new(table::table().keys().copied()),
    });
    if shared.config.protected_mode
        && shared.config.requirepass.is_none()
        && !shared.local_addr.ip().is_loopback()
    {
        warn!(
            addr = %shared.local_addr,
            "protected mode is on and no password is set: only loopback clients are accepted; set --requirepass or --protected-mode no"
        );
    }

    let mut background = JoinSet::new();
    if let Some(port) = shared.config.metrics_port {
        let host = shared
            .config
            .metrics_bind
            .as_ref()
            .unwrap_or(&shared.config.bind);
        let addr = format!("{host}:{port}");
        let ops_listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen for metrics on {addr}"))?;
        info!(addr = %ops_listener.local_addr()?, "serving /metrics, /healthz and /readyz");
        background.spawn(ops::serve(
            ops_listener,
            shared.clone(),
            shared.shutdown.clone(),
        ));
    }
    info!(addr = %shared.local_addr, "respire ready to accept connections");
    background.spawn(events::run(shared.events.clone()));
    background.spawn(sweeper::run(shared.events.clone()));
    background.spawn(give_back_memory(shared.clone()));

    let lanes = match shared.config.write_lanes {
        0 => shared.store.write_lanes(),
        n => n,
    };
    let (batcher, lanes) = Batcher::start(&shared, lanes);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, addr)) => {
                    let _ = socket.set_nodelay(true);
                    shared.stats.connections_received.fetch_add(1, Ordering::Relaxed);
                    if shared.clients.len() >= shared.config.maxclients {
                        shared.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(reject(socket, errors::MAX_CLIENTS));
                        continue;
                    }
                    if shared.refuses_as_protected(addr) {
                        shared.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(reject(socket, errors::DENIED));
                        continue;
                    }
                    let conn = Client::new(shared.clone(), batcher.clone(), socket, addr);
                    connections.spawn(conn.run());
                }
                Err(e) => {
                    // Out of descriptors and the like: back off, don't spin.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }

    info!("shutting down: no new connections, finishing in-flight commands");
    drop(listener);
    let _ = stop_tx.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        warn!("connections still busy after 10 s; closing them");
        connections.shutdown().await;
    }
    // No connection is left to write: the lanes finish and stop.
    drop(batcher);
    for lane in lanes {
        let _ = lane.await;
    }
    // The sequencer numbers what is left in the log, and delivery hands
    // it on, then they stop.
    shared.events.sequencer_wake.notify_one();
    shared.events.relay_wake.notify_one();
    let stop_background = async { while background.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), stop_background)
        .await
        .is_err()
    {
        background.shutdown().await;
    }
    shared.store.close().await;
    info!("bye");
    Ok(())
}

/// After many clients left, or when a busy server falls quiet, hands the
/// memory freed meanwhile back to the system: glibc's malloc keeps freed
/// small blocks in its arenas, so without this RSS would stay at the peak.
async fn give_back_memory(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut peak = shared.clients.len();
    let commands = || shared.stats.commands_processed.load(Ordering::Relaxed);
    let (mut last, mut trimmed_at) = (commands(), commands());
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        let now = shared.clients.len();
        let count = commands();
        // Quiet for a second after at least 10,000 commands since the last
        // trim.
        let fell_quiet = count == last && count >= trimmed_at + 10_000;
        last = count;
        if now + 256 <= peak || fell_quiet {
            trimmed_at = count;
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only walks the allocator's own free lists.
            unsafe {
                libc::malloc_trim(0);
            }
            peak = now;
        }
        peak = peak.max(now);
    }
}

/// Answers a refused client its one error line and closes it, without
/// holding up the accept loop.
async fn reject(mut socket: tokio::net::TcpStream, text: &'static str) {
    let line = format!("-{text}\r\n");
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = socket.write_all(line.as_bytes()).await;
        let _ = socket.shutdown().await;
    })
    .await;
}

/// File descriptors respire needs beyond its clients: the listener, the
/// database pool (up to 32), NATS, logs (Redis reserves 32).
const RESERVED_FDS: u64 = 64;

/// Raises the open-files limit to what `maxclients` needs, or lowers
/// `maxclients` to what the limit allows, as Redis does at start.
fn fit_maxclients_to_file_limit(config: &mut Config) {
    let wanted = config.maxclients as u64 + RESERVED_FDS;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur >= wanted {
        return;
    }
    let raised = libc::rlimit {
        rlim_cur: wanted.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: as above.
    if raised.rlim_cur > limit.rlim_cur
        && unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0
    {
        limit.rlim_cur = raised.rlim_cur;
    }
    if limit.rlim_cur >= wanted {
        info!(
            open_files = limit.rlim_cur,
            "raised the open files limit for maxclients"
        );
        return;
    }
    let fitted = limit.rlim_cur.saturating_sub(RESERVED_FDS).max(1) as usize;
    warn!(
        requested = config.maxclients,
        open_files = limit.rlim_cur,
        maxclients = fitted,
        "the open files limit is too low for maxclients: maxclients has been reduced to compensate; raise 'ulimit -n' for more"
    );
    config.maxclients = fitted;
}
