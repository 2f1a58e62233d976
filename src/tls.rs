//! TLS on the RESP port: the server certificate, its key and the CA that
//! client certificates must chain to, read from Redis's settings
//! (`--tls-cert-file`, `--tls-key-file`, `--tls-ca-cert-file`,
//! `--tls-auth-clients`), and reloaded on SIGHUP or when a file changes:
//! new handshakes use the new certificates, open connections go on with
//! theirs, and a reload that fails keeps the previous ones.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, anyhow, bail};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{error, info, warn};

use crate::config::{Config, TlsAuthClients};

/// Redis's start-up errors for an incomplete TLS configuration.
pub const NO_CERT_FILE: &str = "No tls-cert-file configured!";
pub const NO_KEY_FILE: &str = "No tls-key-file configured!";
pub const NO_CA: &str = "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!";

/// The TLS settings of the RESP port and the server configuration built
/// from their files.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    ca: Option<PathBuf>,
    auth: TlsAuthClients,
    /// What new handshakes use; swapped whole by a reload.
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Checks the settings as Redis does at start and loads the files.
    pub fn load(config: &Config) -> anyhow::Result<Tls> {
        let cert = config
            .tls_cert_file
            .clone()
            .ok_or_else(|| anyhow!(NO_CERT_FILE))?;
        let key = config
            .tls_key_file
            .clone()
            .ok_or_else(|| anyhow!(NO_KEY_FILE))?;
        let ca = config.tls_ca_cert_file.clone();
        if config.tls_auth_clients != TlsAuthClients::No && ca.is_none() {
            bail!(NO_CA);
        }
        let server = build(&cert, &key, ca.as_deref(), config.tls_auth_clients)?;
        Ok(Tls {
            cert,
            key,
            ca,
            auth: config.tls_auth_clients,
            current: RwLock::new(Arc::new(server)),
        })
    }

    /// An acceptor with the current certificates, for one handshake.
    pub fn acceptor(&self) -> TlsAcceptor {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        TlsAcceptor::from(current.clone())
    }

    /// Reads the files again; on success, new handshakes use them.
    pub fn reload(&self) -> anyhow::Result<()> {
        let server = build(&self.cert, &self.key, self.ca.as_deref(), self.auth)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(server);
        Ok(())
    }

    /// Reloads on SIGHUP, and when a file's modification time, size or
    /// inode changes (checked every `interval`; a Kubernetes Secret update
    /// swaps a symlink, which changes the inode), until shutdown.
    pub async fn watch(self: Arc<Self>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => Some(signal),
            Err(e) => {
                warn!(error = %e, "cannot install the SIGHUP handler; TLS certificates reload on file changes only");
                None
            }
        };
        let mut seen = self.stamps();
        loop {
            let hup = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            let why = tokio::select! {
                _ = tokio::time::sleep(interval) => {
                    let now = self.stamps();
                    if now == seen {
                        continue;
                    }
                    // Stamped before reading: a write still under way
                    // changes the stamp again, so it is read again.
                    seen = now;
                    "a certificate file changed"
                }
                _ = hup => {
                    seen = self.stamps();
                    "SIGHUP"
                }
                _ = shutdown.changed() => return,
            };
            match self.reload() {
                Ok(()) => info!(reason = why, "TLS certificates reloaded"),
                Err(e) => error!(
                    reason = why,
                    error = %format!("{e:#}"),
                    "TLS certificate reload failed; new connections keep the previous certificates"
                ),
            }
        }
    }

    fn stamps(&self) -> [Option<Stamp>; 3] {
        [
            stamp(&self.cert),
            stamp(&self.key),
            self.ca.as_deref().and_then(stamp),
        ]
    }
}

/// What tells a file's new version from its old one.
type Stamp = (SystemTime, u64, u64, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt as _;
    // Follows symlinks: a swapped link shows as the new file.
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino(), meta.dev()))
}

/// The rustls server configuration for the files, with Redis's messages
/// for what fails.
fn build(
    cert: &Path,
    key: &Path,
    ca: Option<&Path>,
    auth: TlsAuthClients,
) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = read_certs(cert)
        .with_context(|| format!("Failed to load certificate: {}", cert.display()))?;
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("Failed to load private key: {}", key.display()))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match (auth, ca) {
        (TlsAuthClients::No, _) | (_, None) => builder.with_no_client_auth(),
        (auth, Some(ca)) => {
            let roots =
                client_roots(ca).context("Failed to configure CA certificate(s) file/directory")?;
            let verifier = verifier(roots, provider, auth)?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder
        .with_single_cert(chain, private_key)
        .with_context(|| format!("Failed to load private key: {}", key.display()))
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow!("{e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{e}"))?;
    if certs.is_empty() {
        bail!("no PEM certificate in the file");
    }
    Ok(certs)
}

fn client_roots(path: &Path) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path).with_context(|| path.display().to_string())? {
        roots
            .add(cert)
            .with_context(|| format!("{}: not a usable CA certificate", path.display()))?;
    }
    Ok(roots)
}

fn verifier(
    roots: RootCertStore,
    provider: Arc<CryptoProvider>,
    auth: TlsAuthClients,
) -> anyhow::Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = match auth {
        TlsAuthClients::Optional => builder.allow_unauthenticated(),
        _ => builder,
    };
    builder
        .build()
        .context("Failed to configure CA certificate(s) file/directory")
}
