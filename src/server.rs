//! The listeners (the RESP port, and the TLS port beside it): accept
//! connections, bound their number, start the background tasks (event
//! relay, expiry sweeper, certificate reload) and shut everything down
//! gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use dashmap::DashMap;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::bus::Bus;
use crate::bus::nats::NatsLink;
use crate::client::Client;
use crate::cmd::errors;
use crate::cmd::run::lanes::Batcher;
use crate::cmd::table;
use crate::config::{Config, redact_url};
use crate::events::{self, Events, sweeper};
use crate::instance::state::Instance;
use crate::metrics::Metrics;
use crate::ops;
use crate::store;
use crate::tls::Tls;

/// Where clients connect: the RESP port and, with `--tls-port`, the TLS
/// port (bound by [`run`] from the configuration when not given).
pub struct Listeners {
    pub plain: TcpListener,
    pub tls: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(plain: TcpListener) -> Listeners {
        Listeners { plain, tls: None }
    }
}

/// Runs the server on `listeners` until `shutdown` completes.
pub async fn run(
    listeners: impl Into<Listeners>,
    mut config: Config,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let Listeners {
        plain: listener,
        tls: tls_listener,
    } = listeners.into();
    if config.port == 0 {
        // Port 0 picked a free port; name the instance after the real one.
        config.port = listener.local_addr()?.port();
    }
    // TLS is checked and its files read before anything else starts, as
    // Redis refuses to start with an incomplete TLS configuration.
    let tls = match (config.tls_port, tls_listener) {
        (None, None) => None,
        (port, given) => {
            let tls = Arc::new(Tls::load(&config)?);
            let listener = match given {
                Some(listener) => listener,
                None => {
                    let addr = parse_addr(&config.bind, port.unwrap_or(0))?;
                    listen(addr, config.tcp_backlog)
                        .with_context(|| format!("cannot listen on {addr} for TLS (--tls-port)"))?
                }
            };
            config.tls_port = Some(listener.local_addr()?.port());
            Some((listener, tls))
        }
    };
    fit_maxclients_to_file_limit(&mut config);
    let url = config.store_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.dir)
            .with_context(|| format!("cannot create data directory {}", config.dir.display()))?;
    }
    let store = store::open(&url)
        .await
        .with_context(|| format!("cannot open the store at {}", redact_url(&url)))?;
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
    let scripts = crate::instance::scripts::Scripts::new(
        config.lua_memory_limit,
        (crate::cmd::family::connection::REDIS_VERSION, 0x0007_000f),
    );
    let instance = Arc::new(Instance {
        local_addr: listener.local_addr()?,
        config,
        store,
        bus,
        events,
        clients: DashMap::new(),
        next_client_id: AtomicU64::new(1),
        started: Instant::now(),
        shutdown: stop_rx,
        protected_mode: AtomicBool::new(protected_mode),
        kept_parameters: Default::default(),
        event_scans: Default::default(),
        metrics: Metrics::new(table::table().names()),
        access: Default::default(),
        pause: Default::default(),
        monitors: Default::default(),
        scripts,
    });
    if instance.config.protected_mode
        && instance.config.requirepass.is_none()
        && !instance.local_addr.ip().is_loopback()
    {
        warn!(
            addr = %instance.local_addr,
            "protected mode is on and no password is set: only loopback clients are accepted; set --requirepass or --protected-mode no"
        );
    }

    let mut background = JoinSet::new();
    if let Some(port) = instance.config.metrics_port {
        let host = instance
            .config
            .metrics_bind
            .as_ref()
            .unwrap_or(&instance.config.bind);
        let addr = parse_addr(host, port)?;
        let ops_listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for metrics on {addr} (--metrics-port)"))?;
        info!(addr = %ops_listener.local_addr()?, "serving /metrics, /healthz and /readyz");
        background.spawn(ops::serve(
            ops_listener,
            instance.clone(),
            instance.shutdown.clone(),
        ));
    }
    match &tls {
        Some((tls_listener, _)) => info!(
            addr = %instance.local_addr,
            tls_addr = %tls_listener.local_addr()?,
            "respire ready to accept connections"
        ),
        None => info!(addr = %instance.local_addr, "respire ready to accept connections"),
    }
    background.spawn(events::run(instance.events.clone()));
    background.spawn(sweeper::run(instance.events.clone()));
    background.spawn(give_back_memory(instance.clone()));
    if let Some((_, tls)) = &tls {
        let interval = instance.config.tls_poll_interval;
        background.spawn(tls.clone().watch(interval, instance.shutdown.clone()));
    }

    let lanes = match instance.config.write_lanes {
        0 => instance.store.write_lanes(),
        n => n,
    };
    let (batcher, lanes) = Batcher::start(&instance, lanes);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                admit(&instance, &batcher, &mut connections, accepted, None).await;
            }
            accepted = accept_on(tls.as_ref().map(|(l, _)| l)) => {
                let tls = tls.as_ref().map(|(_, tls)| tls.as_ref());
                admit(&instance, &batcher, &mut connections, accepted, tls).await;
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }

    info!("shutting down: no new connections, finishing in-flight commands");
    drop(listener);
    drop(tls);
    let _ = stop_tx.send(true);
    // A script that would run on holds its connection (and its lane).
    instance.scripts.kill_all();
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
    instance.events.sequencer_wake.notify_one();
    instance.events.relay_wake.notify_one();
    let stop_background = async { while background.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), stop_background)
        .await
        .is_err()
    {
        background.shutdown().await;
    }
    instance.store.close().await;
    info!("bye");
    Ok(())
}

/// After many clients left, or when a busy server falls quiet, hands the
/// memory freed meanwhile back to the system: glibc's malloc keeps freed
/// small blocks in its arenas, so without this RSS would stay at the peak.
async fn give_back_memory(instance: Arc<Instance>) {
    let mut shutdown = instance.shutdown.clone();
    let mut peak = instance.clients.len();
    let commands = || instance.metrics.commands_processed.load(Ordering::Relaxed);
    let (mut last, mut trimmed_at) = (commands(), commands());
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        let now = instance.clients.len();
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

/// Accepts on the TLS listener, or never when there is none.
async fn accept_on(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Starts serving an accepted connection (over TLS when `tls` is given),
/// or refuses it: over maxclients, or from another host in protected mode.
/// Nothing here waits on the client: a TLS handshake runs in the
/// connection's own task.
async fn admit(
    instance: &Arc<Instance>,
    batcher: &Batcher,
    connections: &mut JoinSet<()>,
    accepted: std::io::Result<(TcpStream, SocketAddr)>,
    tls: Option<&Tls>,
) {
    let (socket, addr) = match accepted {
        Ok(accepted) => accepted,
        Err(e) => {
            // Out of descriptors and the like: back off, don't spin.
            warn!(error = %e, "accept failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            return;
        }
    };
    let _ = socket.set_nodelay(true);
    instance
        .metrics
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let refusal = if instance.clients.len() >= instance.config.maxclients {
        Some(errors::MAX_CLIENTS)
    } else if instance.refuses_as_protected(addr) {
        Some(errors::DENIED)
    } else {
        None
    };
    let handshake_timeout = instance.config.tls_handshake_timeout;
    match (refusal, tls) {
        (Some(text), tls) => {
            instance
                .metrics
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            let acceptor = tls.map(|tls| tls.acceptor());
            tokio::spawn(reject(socket, acceptor, handshake_timeout, text));
        }
        (None, None) => {
            let conn = Client::new(instance.clone(), batcher.clone(), socket, addr);
            connections.spawn(conn.run());
        }
        (None, Some(tls)) => {
            connections.spawn(Client::run_tls(
                instance.clone(),
                batcher.clone(),
                socket,
                addr,
                tls.acceptor(),
                handshake_timeout,
            ));
        }
    }
}

/// How long a refused client has to take its error line.
const REJECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers a refused client its one error line (over TLS on the TLS port,
/// after the handshake) and closes it, without holding up the accept loop.
async fn reject(
    mut socket: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handshake_timeout: Duration,
    text: &'static str,
) {
    let line = format!("-{text}\r\n");
    match tls {
        None => {
            let _ = tokio::time::timeout(REJECT_TIMEOUT, async {
                let _ = socket.write_all(line.as_bytes()).await;
                let _ = socket.shutdown().await;
            })
            .await;
        }
        Some(acceptor) => {
            let _ = tokio::time::timeout(handshake_timeout + REJECT_TIMEOUT, async {
                let Ok(Ok(mut stream)) =
                    tokio::time::timeout(handshake_timeout, acceptor.accept(socket)).await
                else {
                    return;
                };
                let _ = stream.write_all(line.as_bytes()).await;
                let _ = stream.shutdown().await;
            })
            .await;
        }
    }
}

/// `bind:port` as a socket address.
pub fn parse_addr(bind: &str, port: u16) -> anyhow::Result<SocketAddr> {
    format!("{bind}:{port}")
        .parse()
        .with_context(|| format!("invalid --bind address {bind:?}"))
}

/// Binds a port with Redis's listen backlog (tcp-backlog).
pub fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    if let Ok(max) = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        && let Ok(max) = max.trim().parse::<u32>()
        && max < backlog
    {
        warn!(
            tcp_backlog = backlog,
            somaxconn = max,
            "the TCP backlog cannot be enforced because /proc/sys/net/core/somaxconn is lower"
        );
    }
    socket.listen(backlog)
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
