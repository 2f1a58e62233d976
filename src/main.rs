use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use respire::config::Config;
use tokio::net::{TcpListener, TcpSocket};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    if let Some(respire::config::Command::Migrate) = config.command {
        let url = config.store_url();
        respire::store::migrate(&url)
            .await
            .with_context(|| format!("migrating {url}"))?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let addr: SocketAddr = format!("{}:{}", config.bind, config.port)
        .parse()
        .with_context(|| format!("invalid --bind address {:?}", config.bind))?;
    let listener = match listen(addr, config.tcp_backlog) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            eprintln!(
                "respire: port {} on {} is already in use; choose another with --port (or RESPIRE_PORT)",
                config.port, config.bind
            );
            std::process::exit(1);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {addr}")),
    };
    tracing::info!(config = ?config, "starting");
    respire::server::run(listener, config, shutdown_signal()).await
}

/// Binds the RESP port with Redis's listen backlog (tcp-backlog).
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
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
        tracing::warn!(
            tcp_backlog = backlog,
            somaxconn = max,
            "the TCP backlog cannot be enforced because /proc/sys/net/core/somaxconn is lower"
        );
    }
    socket.listen(backlog)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("cannot install the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
