//! Test support: a respire server in-process on an ephemeral port, and
//! helpers to reach the services tests need.
#![allow(dead_code)]

use std::net::SocketAddr;

use respire::config::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server; it shuts down (gracefully) when dropped or stopped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// A server on 127.0.0.1:0 with a fresh data directory.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestServer::start`], after `adjust` edits the config.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::defaults();
        config.dir = dir.path().to_path_buf();
        config.port = 0;
        adjust(&mut config);
        Self::start_in(dir, config).await
    }

    /// Starts on an existing data directory (to test restarts).
    pub async fn start_in(dir: tempfile::TempDir, config: Config) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(respire::server::run(listener, config, async {
            let _ = stopped.await;
        }));
        // Wait until it answers.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        TestServer {
            addr,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `redis://` URL of this server.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    pub fn url_resp3(&self) -> String {
        format!("redis://{}/?protocol=resp3", self.addr)
    }

    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Stops gracefully and returns the data directory for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server run");
        }
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// True when a TCP service answers at `addr`. When it does not: under
/// `CI=true` this panics; otherwise it prints a loud skip message and
/// returns false so the test can return early.
pub async fn service_available(name: &str, addr: &str) -> bool {
    let up = matches!(
        tokio::time::timeout(
            std::time::Duration::from_secs(2),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    );
    if !up {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{name} at {addr} is unreachable and CI=true: failing instead of skipping");
        }
        eprintln!(
            "\n******** SKIPPED: {name} at {addr} is unreachable; start it to run this test ********\n"
        );
    }
    up
}

/// The reference Redis the differential tests compare against.
pub const REFERENCE_REDIS: &str = "127.0.0.1:6379";
