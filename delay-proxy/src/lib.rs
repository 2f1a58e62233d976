//! A TCP proxy on loopback that puts distance between two programs: every
//! chunk read from one side is written to the other `delay` after it
//! arrived, in both directions.
//!
//! Each chunk is timestamped when it is read and queued (one queue per
//! direction); a writer task sends each one when its time comes. Reading
//! never waits for writing, so order is kept and throughput is not limited:
//! the link behaves like a long fat pipe (latency added, bandwidth intact),
//! not like a slow one. A close or a reset travels the same way, after the
//! data that preceded it.
//!
//! One implementation serves both the integration tests (`tests/`, as a
//! dev-dependency) and `respire-bench` (its datacenter-distance figure).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// A running proxy: connections to [`DelayProxy::addr`] are relayed to the
/// target. Dropping it closes the listener and every relayed connection.
pub struct DelayProxy {
    /// Where clients connect (127.0.0.1, a free port).
    addr: SocketAddr,
    /// The one-way delay in nanoseconds; read for every chunk, so a change
    /// applies at once to connections already open.
    delay: Arc<AtomicU64>,
    /// The accept loop; it owns the connection tasks, so aborting it ends
    /// them too.
    accept: JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on a free loopback port and relays each connection to
    /// `target`, `delay` later each way.
    pub async fn start(target: SocketAddr, delay: Duration) -> io::Result<DelayProxy> {
        Self::start_on(
            "127.0.0.1:0".parse().expect("loopback address"),
            target,
            delay,
        )
        .await
    }

    /// [`DelayProxy::start`] on a given listening address (port 0: any).
    pub async fn start_on(
        listen: SocketAddr,
        target: SocketAddr,
        delay: Duration,
    ) -> io::Result<DelayProxy> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let delay = Arc::new(AtomicU64::new(nanos(delay)));
        let accept = tokio::spawn(serve(listener, target, delay.clone()));
        Ok(DelayProxy {
            addr,
            delay,
            accept,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The one-way delay now in force.
    pub fn delay(&self) -> Duration {
        Duration::from_nanos(self.delay.load(Ordering::Relaxed))
    }

    /// Changes the one-way delay for every chunk read from now on (chunks
    /// already queued keep their time; order is kept either way).
    pub fn set_delay(&self, delay: Duration) {
        self.delay.store(nanos(delay), Ordering::Relaxed);
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

async fn serve(listener: TcpListener, target: SocketAddr, delay: Arc<AtomicU64>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    connections.spawn(relay(client, target, delay.clone()));
                }
                // Out of file descriptors and the like: wait, then go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One relayed connection, until both directions closed or either failed.
async fn relay(client: TcpStream, target: SocketAddr, delay: Arc<AtomicU64>) {
    // A target that refuses: the client sees its connection closed.
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // A failure either way drops both sockets, closing the connection.
    let _ = tokio::try_join!(
        pipe(client_read, server_write, delay.clone()),
        pipe(server_read, client_write, delay),
    );
}

/// What one direction carries, each with the time it is due.
enum Chunk {
    Data(Vec<u8>),
    /// The sender closed its side cleanly.
    Eof,
    /// Reading failed (a reset): the connection goes down once the data
    /// before it was delivered.
    Reset(io::Error),
}

/// One direction: read and timestamp chunks as they come, write each when
/// due.
async fn pipe(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Arc<AtomicU64>,
) -> io::Result<()> {
    let (queue, mut due) = mpsc::unbounded_channel::<(Instant, Chunk)>();
    let read = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let result = from.read(&mut buf).await;
            let at = Instant::now() + Duration::from_nanos(delay.load(Ordering::Relaxed));
            let (chunk, last) = match result {
                Ok(0) => (Chunk::Eof, true),
                Ok(n) => (Chunk::Data(buf[..n].to_vec()), false),
                Err(e) => (Chunk::Reset(e), true),
            };
            // The writer is gone only when writing failed; that error ends
            // the connection.
            if queue.send((at, chunk)).is_err() || last {
                return Ok::<(), io::Error>(());
            }
        }
    };
    let write = async move {
        while let Some((at, chunk)) = due.recv().await {
            // Not a timer when already due: the timer's millisecond ticks
            // would add up to a millisecond to every chunk of a no-delay
            // link.
            if at > Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            match chunk {
                Chunk::Data(bytes) => to.write_all(&bytes).await?,
                Chunk::Eof => return to.shutdown().await,
                Chunk::Reset(e) => return Err(e),
            }
        }
        Ok(())
    };
    tokio::try_join!(read, write).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on a free port.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_round_trip_takes_twice_the_delay() {
        let proxy = DelayProxy::start(echo().await, Duration::from_millis(30))
            .await
            .unwrap();
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        let start = Instant::now();
        s.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        assert!(
            start.elapsed() >= Duration::from_millis(60),
            "{:?}",
            start.elapsed()
        );

        proxy.set_delay(Duration::ZERO);
        assert_eq!(proxy.delay(), Duration::ZERO);
        s.write_all(b"pong").await.unwrap();
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");
    }

    /// Many megabytes, in many chunks, come back whole and in order; the
    /// delay is paid once per direction, not once per chunk.
    #[tokio::test]
    async fn order_is_kept_and_chunks_do_not_queue_behind_each_other() {
        let proxy = DelayProxy::start(echo().await, Duration::from_millis(20))
            .await
            .unwrap();
        let s = TcpStream::connect(proxy.addr()).await.unwrap();
        let (mut r, mut w) = s.into_split();
        let data: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            // Small writes, each a chunk of its own for the proxy.
            for piece in sent.chunks(4096) {
                w.write_all(piece).await.unwrap();
            }
            w.shutdown().await.unwrap();
        });
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        assert!(back == data, "bytes changed or reordered");

        // 40 messages 2 ms apart: with chunks queued one behind another's
        // delay this would take 40 x 40 ms.
        let s = TcpStream::connect(proxy.addr()).await.unwrap();
        let (mut r, mut w) = s.into_split();
        let start = Instant::now();
        let writer = tokio::spawn(async move {
            for i in 0..40u8 {
                w.write_all(&[i]).await.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        let mut got = [0u8; 40];
        r.read_exact(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got.to_vec(), (0..40).collect::<Vec<u8>>());
        assert!(
            start.elapsed() < Duration::from_millis(800),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_close_travels_after_the_data() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = DelayProxy::start(listener.local_addr().unwrap(), Duration::from_millis(20))
            .await
            .unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"last words").await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
        // The other direction still works after a half close.
        server.write_all(b"reply").await.unwrap();
        drop(server);
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"reply");
    }

    #[tokio::test]
    async fn dropping_the_proxy_closes_its_connections() {
        let proxy = DelayProxy::start(echo().await, Duration::from_millis(1))
            .await
            .unwrap();
        let addr = proxy.addr();
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        s.read_exact(&mut one).await.unwrap();
        drop(proxy);
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
            .await
            .expect("closed in time");
        assert!(matches!(n, Ok(0) | Err(_)));
        assert!(TcpStream::connect(addr).await.is_err(), "still listening");
    }
}
