use anyhow::Context as _;
use std::io::IsTerminal as _;

use respire::config::{Command, Config, LogFormat, redact_url};
use respire::reply::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing_subscriber::EnvFilter;

/// jemalloc, as Redis uses: glibc's per-thread arenas kept what 100,000
/// unsubscribes freed (RSS stayed near its peak, or fell only when a later
/// load reused it); jemalloc's background thread hands freed pages back
/// within about a second. The settings are [`MALLOC_CONF`].
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Read by jemalloc before `main`: a background thread purges freed pages
/// (`dirty_decay_ms` after they were freed, straight back to the system,
/// not parked as MADV_FREE pages that still count in RSS); `MALLOC_CONF`
/// in the environment (prefixed `_RJEM_`) overrides it.
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static MALLOC_CONF: &[u8; 60] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> anyhow::Result<()> {
    // Scripts run on the runtime's threads (`cmd::run::script`): their
    // stacks are as deep as a script's run needs.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(respire::lua::threads::STACK)
        .build()?
        .block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::load();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter);
    match config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    match config.command {
        Some(Command::Migrate) => {
            let url = config.store_url();
            respire::store::migrate(&url)
                .await
                .with_context(|| format!("migrating {}", redact_url(&url)))?;
            tracing::info!("migrations applied");
            return Ok(());
        }
        Some(Command::Healthcheck) => match healthcheck(&config).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                eprintln!("respire healthcheck: {e:#}");
                std::process::exit(1);
            }
        },
        None => {}
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

/// Sends PING (after AUTH when a password is set) to the instance on this
/// machine that `config` describes, and expects PONG within 3 s.
async fn healthcheck(config: &Config) -> anyhow::Result<()> {
    let host = match config.bind.as_str() {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" => "::1",
        other => other,
    };
    let addr = (host, config.port);
    let check = async {
        let mut socket = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {host}:{}", config.port))?;
        // A request is an array of bulk strings: the reply encoder writes it.
        let mut request = bytes::BytesMut::new();
        if let Some(pass) = &config.requirepass {
            let auth = [Reply::bulk_str("AUTH"), Reply::bulk_str(pass)];
            Reply::Array(auth.into()).encode(&mut request, false);
        }
        Reply::Array(vec![Reply::bulk_str("PING")]).encode(&mut request, false);
        socket.write_all(&request).await?;
        let expected: &[u8] = if config.requirepass.is_some() {
            b"+OK\r\n+PONG\r\n"
        } else {
            b"+PONG\r\n"
        };
        let mut reply = Vec::new();
        let mut buf = [0u8; 256];
        while reply.len() < expected.len() {
            let n = socket.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
        }
        anyhow::ensure!(
            reply == expected,
            "unexpected reply: {:?}",
            String::from_utf8_lossy(&reply)
        );
        Ok(())
    };
    tokio::time::timeout(std::time::Duration::from_secs(3), check)
        .await
        .context("no answer within 3 s")?
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
