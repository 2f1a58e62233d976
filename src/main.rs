use anyhow::Context as _;
use clap::Parser;
use respire::config::Config;
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
    let addr = respire::server::parse_addr(&config.bind, config.port)?;
    let listener = match respire::server::listen(addr, config.tcp_backlog) {
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
