//! Configuration: command-line flags, each also read from `RESPIRE_<NAME>`
//! and from a config file (`--config`): flags win over the environment,
//! the environment over the file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};

/// respire: a Redis-protocol server whose state lives in SQL.
#[derive(Parser, Clone)]
#[command(name = "respire", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "RESPIRE_BIND", default_value = "127.0.0.1")]
    pub bind: String,
    /// TCP port to listen on (0 picks a free one).
    #[arg(long, env = "RESPIRE_PORT", default_value_t = 6379)]
    pub port: u16,
    /// Data directory of the embedded store (created if missing).
    #[arg(long, env = "RESPIRE_DIR", default_value = "./data")]
    pub dir: PathBuf,
    /// Database URL: sqlite://path (default: respire.db in --dir) or
    /// mysql://user:pass@host:port/db.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Password clients must give with AUTH before anything else.
    #[arg(long, env = "RESPIRE_REQUIREPASS")]
    pub requirepass: Option<String>,
    /// Number of logical databases (SELECT 0..N-1).
    #[arg(long, env = "RESPIRE_DATABASES", default_value_t = 16)]
    pub databases: u32,
    /// Most simultaneous client connections.
    #[arg(long, env = "RESPIRE_MAXCLIENTS", default_value_t = 10000)]
    pub maxclients: usize,
    /// Refuse clients from other hosts while no password is set (Redis's
    /// protected mode): yes or no.
    #[arg(long, env = "RESPIRE_PROTECTED_MODE", default_value = "yes", value_parser = parse_yes_no, action = clap::ArgAction::Set)]
    pub protected_mode: bool,
    /// Listen backlog (Redis's tcp-backlog; the kernel caps it at
    /// net.core.somaxconn).
    #[arg(long, env = "RESPIRE_TCP_BACKLOG", default_value_t = 511)]
    pub tcp_backlog: u32,
    /// Most bytes one client's pending request may hold before the client
    /// is closed (Redis's client-query-buffer-limit; accepts kb/mb/gb).
    #[arg(long, env = "RESPIRE_CLIENT_QUERY_BUFFER_LIMIT", default_value = "1gb", value_parser = parse_memory)]
    pub client_query_buffer_limit: usize,
    /// Most memory one Lua interpreter may hold while a script runs (a
    /// script that needs more fails with "not enough memory"; respire runs
    /// several interpreters at once). Accepts kb/mb/gb; 0: no limit.
    #[arg(long, env = "RESPIRE_LUA_MEMORY_LIMIT", default_value = "256mb", value_parser = parse_memory)]
    pub lua_memory_limit: usize,
    /// Milliseconds a script runs before it is reported busy (Redis's
    /// busy-reply-threshold, alias lua-time-limit): a read-only script
    /// (EVAL_RO, FCALL_RO, no-writes) is stopped there; others can be
    /// stopped with SCRIPT KILL / FUNCTION KILL at any time.
    #[arg(long, env = "RESPIRE_BUSY_REPLY_THRESHOLD", default_value_t = 5000)]
    pub busy_reply_threshold: u64,
    // TLS on the RESP port, with Redis's names.
    /// Port for TLS clients (off unless given; 0 picks a free one). The
    /// plain --port keeps serving beside it.
    #[arg(long, env = "RESPIRE_TLS_PORT")]
    pub tls_port: Option<u16>,
    /// The server's certificate chain (PEM), reloaded on SIGHUP or change.
    #[arg(long, env = "RESPIRE_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, env = "RESPIRE_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// CA certificate(s) (PEM) client certificates must chain to.
    #[arg(long, env = "RESPIRE_TLS_CA_CERT_FILE")]
    pub tls_ca_cert_file: Option<PathBuf>,
    /// Client certificates: yes (required), optional (verified when one
    /// is presented) or no.
    #[arg(long, env = "RESPIRE_TLS_AUTH_CLIENTS", default_value = "yes", value_parser = parse_auth_clients)]
    pub tls_auth_clients: TlsAuthClients,
    /// How long a TLS client has to complete its handshake (tests shorten
    /// it).
    #[arg(skip = Duration::from_secs(10))]
    pub tls_handshake_timeout: Duration,
    /// How often the certificate files are checked for changes.
    #[arg(skip = Duration::from_secs(2))]
    pub tls_poll_interval: Duration,
    /// Tests only: treat every client as coming from another host, so
    /// protected mode can be tested over loopback.
    #[arg(skip)]
    pub peers_are_remote: bool,
    /// Tests only: the command (lower-case name) whose execution panics,
    /// to test that a panicking connection leaves nothing behind.
    #[arg(skip)]
    pub panic_on_command: Option<String>,
    /// Largest bulk string a request may carry, in bytes.
    #[arg(long, env = "RESPIRE_PROTO_MAX_BULK_LEN", default_value_t = 512 * 1024 * 1024)]
    pub proto_max_bulk_len: i64,
    /// How long the event log keeps events, in seconds.
    #[arg(long, env = "RESPIRE_EVENT_RETENTION", default_value_t = 7 * 24 * 3600)]
    pub event_retention: u64,
    /// This instance's name among those sharing a database (its relay
    /// position and leases are kept under it). Default: hostname:port.
    #[arg(long, env = "RESPIRE_INSTANCE_NAME")]
    pub instance_name: Option<String>,
    /// The datacenter this instance runs in: instances of one datacenter
    /// share its JetStream stream of keyspace events and its publisher.
    /// Letters, digits, `-` and `_`.
    #[arg(long, env = "RESPIRE_DATACENTER", default_value = DEFAULT_DATACENTER, value_parser = parse_datacenter)]
    pub datacenter: String,
    /// NATS server(s) joining instances into one pub/sub and keyspace
    /// notification space (without it, pub/sub stays in-process).
    #[arg(long, env = "NATS_URL")]
    pub nats_url: Option<String>,
    /// Prefix of every NATS subject (and of the stream name), so several
    /// deployments can share a NATS cluster.
    #[arg(long, env = "RESPIRE_NATS_PREFIX", default_value = "respire")]
    pub nats_prefix: String,
    /// NATS credentials file (JWT + nkey seed).
    #[arg(long, env = "RESPIRE_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// NATS token.
    #[arg(long, env = "RESPIRE_NATS_TOKEN")]
    pub nats_token: Option<String>,
    /// NATS nkey seed.
    #[arg(long, env = "RESPIRE_NATS_NKEY")]
    pub nats_nkey: Option<String>,
    /// CA certificate for TLS to NATS (turns TLS on).
    #[arg(long, env = "RESPIRE_NATS_TLS_CA")]
    pub nats_tls_ca: Option<PathBuf>,
    /// Client certificate and key for TLS to NATS.
    #[arg(long, env = "RESPIRE_NATS_TLS_CERT")]
    pub nats_tls_cert: Option<PathBuf>,
    #[arg(long, env = "RESPIRE_NATS_TLS_KEY")]
    pub nats_tls_key: Option<PathBuf>,
    /// JetStream stream for keyspace events (default: <PREFIX>_EVENTS).
    #[arg(long, env = "RESPIRE_NATS_STREAM")]
    pub nats_stream: Option<String>,
    /// Stream storage: file or memory.
    #[arg(long, env = "RESPIRE_NATS_STREAM_STORAGE", default_value = "file")]
    pub nats_stream_storage: String,
    /// Stream replicas.
    #[arg(long, env = "RESPIRE_NATS_STREAM_REPLICAS", default_value_t = 1)]
    pub nats_stream_replicas: usize,
    /// How long the stream keeps events, in seconds.
    #[arg(long, env = "RESPIRE_NATS_STREAM_MAX_AGE", default_value_t = 24 * 3600)]
    pub nats_stream_max_age: u64,
    /// JetStream duplicate window (Nats-Msg-Id deduplication), in seconds.
    #[arg(long, env = "RESPIRE_NATS_DUPLICATE_WINDOW", default_value_t = 600)]
    pub nats_duplicate_window: u64,
    /// Most bytes of large PUBLISH messages (sent over NATS in chunks) this
    /// instance reassembles at once; also the largest message it publishes.
    #[arg(long, env = "RESPIRE_NATS_REASSEMBLY_LIMIT", default_value_t = 64 * 1024 * 1024)]
    pub nats_reassembly_limit: usize,
    /// Pub/sub output buffer hard limit per client, in bytes.
    #[arg(long, env = "RESPIRE_PUBSUB_HARD_LIMIT", default_value_t = 32 * 1024 * 1024)]
    pub pubsub_hard_limit: usize,
    /// Pub/sub output buffer soft limit per client, in bytes...
    #[arg(long, env = "RESPIRE_PUBSUB_SOFT_LIMIT", default_value_t = 8 * 1024 * 1024)]
    pub pubsub_soft_limit: usize,
    /// ...that may be exceeded for this many seconds.
    #[arg(long, env = "RESPIRE_PUBSUB_SOFT_SECONDS", default_value_t = 60)]
    pub pubsub_soft_seconds: u64,
    /// Group-commit lanes for write commands (0: the store's default; 1
    /// for SQLite, 8 for MySQL/TiDB).
    #[arg(long, env = "RESPIRE_WRITE_LANES", default_value_t = 0)]
    pub write_lanes: usize,
    /// A config file: one setting per line, `name value`, with the flags'
    /// names (`port 6380`, `requirepass "a b"`); `#` starts a comment.
    /// Flags and environment variables win over it.
    #[arg(long, env = "RESPIRE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Port of the operations HTTP listener: /metrics (Prometheus),
    /// /healthz, /readyz. Off unless given (0 picks a free port).
    #[arg(long, env = "RESPIRE_METRICS_PORT")]
    pub metrics_port: Option<u16>,
    /// Address of the operations listener (default: --bind's).
    #[arg(long, env = "RESPIRE_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Log lines as text or as JSON objects (one per line, for log
    /// shippers).
    #[arg(long, env = "RESPIRE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Redis's tls-auth-clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsAuthClients {
    /// A client certificate is required and verified.
    Yes,
    /// A client certificate is verified when one is presented.
    Optional,
    /// Client certificates are neither asked for nor verified.
    No,
}

fn parse_auth_clients(text: &str) -> Result<TlsAuthClients, String> {
    match text.to_ascii_lowercase().as_str() {
        "yes" => Ok(TlsAuthClients::Yes),
        "optional" => Ok(TlsAuthClients::Optional),
        "no" => Ok(TlsAuthClients::No),
        _ => Err("argument must be 'yes', 'no' or 'optional'".into()),
    }
}

/// The datacenter of an instance not told its own.
pub const DEFAULT_DATACENTER: &str = "default";

fn parse_datacenter(name: &str) -> Result<String, String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("a datacenter name is 1 to 64 letters, digits, '-' or '_'".into());
    }
    Ok(name.to_string())
}

/// One-shot commands.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum Command {
    /// Run the database migrations and exit (for an init container).
    Migrate,
    /// Exit 0 when the instance these settings describe answers PING on
    /// its port (for a container's HEALTHCHECK), 1 otherwise.
    Healthcheck,
}

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The configuration with every default, as tests start from.
    pub fn defaults() -> Config {
        Config::parse_from(["respire"])
    }

    /// The configuration from the process's arguments, environment and
    /// config file; exits with clap's message on bad input.
    pub fn load() -> Config {
        Config::load_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// The configuration from `args` (the program's name first), the
    /// environment and the config file the two name.
    pub fn load_from(
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Result<Config, clap::Error> {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let command = Config::command();
        let first = command.clone().try_get_matches_from(&args)?;
        let Some(path) = first.get_one::<PathBuf>("config") else {
            return Config::from_arg_matches(&first);
        };
        // The file's settings go in as flags before the real ones, for
        // the settings neither a flag nor the environment gave.
        let mut full = vec![args[0].clone()];
        for (line, name, value) in read_config_file(path).map_err(|e| command_error(&e))? {
            let Some(arg) = command
                .get_arguments()
                .find(|a| a.get_long() == Some(name.as_str()) && name != "config")
            else {
                return Err(command_error(&format!(
                    "{}:{line}: unknown setting '{name}'",
                    path.display()
                )));
            };
            let source = first.value_source(arg.get_id().as_str());
            if matches!(
                source,
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            ) {
                continue;
            }
            full.push(format!("--{name}").into());
            full.push(value.into());
        }
        full.extend(args.into_iter().skip(1));
        let matches = command.try_get_matches_from(full)?;
        Config::from_arg_matches(&matches)
    }

    /// The instance name: the flag, or hostname:port.
    pub fn instance_name(&self) -> String {
        if let Some(name) = &self.instance_name {
            return name.clone();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "respire".into());
        format!("{host}:{}", self.port)
    }

    /// The JetStream stream holding this datacenter's keyspace events:
    /// `<PREFIX>_EVENTS`, with `_<DATACENTER>` after it outside the default
    /// datacenter (an explicit `--nats-stream` must differ per datacenter).
    pub fn stream_name(&self) -> String {
        self.nats_stream.clone().unwrap_or_else(|| {
            let prefix: String = self
                .nats_prefix
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            if self.datacenter == DEFAULT_DATACENTER {
                format!("{prefix}_EVENTS")
            } else {
                format!("{prefix}_EVENTS_{}", self.datacenter.to_ascii_uppercase())
            }
        })
    }

    /// The store's kind, as its URL's scheme: `sqlite` or `mysql`.
    pub fn store_kind(&self) -> &str {
        match &self.database_url {
            Some(url) => url.split("://").next().unwrap_or("sqlite"),
            None => "sqlite",
        }
    }

    /// The store URL: the explicit one or SQLite in the data directory.
    pub fn store_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.dir.join("respire.db").display()),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("port", &self.port)
            .field("dir", &self.dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field(
                "requirepass",
                &self.requirepass.as_ref().map(|_| "<hidden>"),
            )
            .field("databases", &self.databases)
            .field("maxclients", &self.maxclients)
            .field("tls_port", &self.tls_port)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field("tls_ca_cert_file", &self.tls_ca_cert_file)
            .field("tls_auth_clients", &self.tls_auth_clients)
            .field("nats_url", &self.nats_url.as_deref().map(redact_url))
            .field("nats_prefix", &self.nats_prefix)
            .field("nats_token", &self.nats_token.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
    }
}

/// A usage error in clap's format (clap prints it and exits 2).
fn command_error(text: &str) -> clap::Error {
    Config::command().error(clap::error::ErrorKind::InvalidValue, text)
}

/// A config file's settings: (line number, name, value) in file order.
/// Lines are `name value`, split as a shell would (quotes keep spaces);
/// blank lines and lines starting with `#` are skipped. A name may be
/// written with or without the leading `--`.
fn read_config_file(path: &Path) -> Result<Vec<(usize, String, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    let mut settings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = || format!("{}:{line_no}", path.display());
        let words = shlex::split(trimmed).ok_or_else(|| format!("{}: unbalanced quotes", at()))?;
        let [name, value] = <[String; 2]>::try_from(words).map_err(|words| {
            format!(
                "{}: expected 'name value', found {} word(s)",
                at(),
                words.len()
            )
        })?;
        let name = name
            .trim_start_matches("--")
            .to_ascii_lowercase()
            .replace('_', "-");
        settings.push((line_no, name, value));
    }
    Ok(settings)
}

/// Redis's boolean config values.
fn parse_yes_no(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// A byte count as Redis's memory settings take it: `1024`, `64kb`,
/// `512mb`, `1gb` (`k`/`m`/`g` are powers of 1000, `kb`/`mb`/`gb` of 1024).
pub fn parse_memory(text: &str) -> Result<usize, String> {
    let lower = text.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number: usize = number
        .parse()
        .map_err(|_| format!("invalid memory amount {text:?}"))?;
    let scale: usize = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(format!("invalid memory unit in {text:?}")),
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("memory amount {text:?} too large"))
}

/// Hides the password in a `scheme://user:pass@host` URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let auth = &url[s + 3..at];
            match auth.find(':') {
                Some(c) => format!("{}{}:<hidden>{}", &url[..s + 3], &auth[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
