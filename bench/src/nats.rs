//! Just enough of the NATS text protocol to delete the JetStream stream a
//! benchmark run created.

use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// Deletes stream `name` on the server at `url` (`nats://host:port`).
pub async fn delete_stream(url: &str, name: &str) -> anyhow::Result<()> {
    let addr = url.trim_start_matches("nats://").trim_end_matches('/');
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to NATS at {addr}"))?;
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    stream.read_line(&mut line).await?; // INFO {...}
    let request = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\n\
         PUB $JS.API.STREAM.DELETE.{name} 0\r\n\r\nPING\r\n"
    );
    stream.get_mut().write_all(request.as_bytes()).await?;
    // PONG once the server has taken the request.
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                bail!("NATS closed the connection");
            }
            if line.starts_with("PONG") {
                return Ok(());
            }
            if line.starts_with("-ERR") {
                bail!("NATS answered {}", line.trim());
            }
        }
    })
    .await
    .context("no PONG from NATS")?
}
