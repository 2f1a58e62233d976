//! Server commands: INFO, CONFIG, TIME, LASTSAVE.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;

use crate::clock::{now_ms, now_us};
use crate::cmd::errors::{self, CmdResult, err};
use crate::cmd::family::connection::REDIS_VERSION;
use crate::cmd::helpers::parameters::{self, Kind, PARAMETERS};
use crate::cmd::session::Session;
use crate::cmd::spec::{ADMIN_SUB, CommandSpec, NO_KEYS, Props, SubSpec};
use crate::config::TlsAuthClients;
use crate::events::{flags, settings};
use crate::glob;
use crate::reply::{OK, Reply};
use crate::store::NOTIFY_SETTING;

pub static COMMANDS: &[CommandSpec] = commands! { family: Server, group: "server";
    "info", -1, &["loading", "stale", "sentinel"], NO_KEYS, "1.0.0", session!(info; args), "Get information and statistics about the server";
    "config", -2, &[], NO_KEYS, "2.0.0", session!(config; args), "A container for server configuration commands", subs: CONFIG_SUBCOMMANDS, props: Props::ADMIN;
    "time", 1, &["loading", "stale", "fast"], NO_KEYS, "2.6.0", session!(cmd_time), "Return the current server time";
    "monitor", 1, &["admin", "noscript", "loading", "stale"], NO_KEYS, "1.0.0", session!(cmd_monitor), "Listen for all requests received by the server in real time";
    "lastsave", 1, &["loading", "stale", "fast"], NO_KEYS, "1.0.0", session!(cmd_lastsave), "Get the UNIX time stamp of the last successful save to disk";
};

static CONFIG_SUBCOMMANDS: &[SubSpec] = subcommands! {
    "get", -3, "Get the values of configuration parameters", flags: ADMIN_SUB, props: Props::ADMIN;
    "set", -4, "Set configuration parameters to the given values", flags: ADMIN_SUB, props: Props::ADMIN;
    "resetstat", 2, "Reset the stats returned by INFO", flags: ADMIN_SUB, props: Props::ADMIN;
    "rewrite", 2, "Rewrite the configuration file with the in memory configuration", flags: ADMIN_SUB, props: Props::ADMIN;
    help;
};

/// TIME.
pub(crate) async fn cmd_time(
    _conn: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    let us = now_us();
    Ok(Reply::Array(vec![
        Reply::bulk_str(&(us / 1_000_000).to_string()),
        Reply::bulk_str(&(us % 1_000_000).to_string()),
    ]))
}

/// MONITOR: from now on this client also receives a line for every
/// command this instance runs (see [`crate::instance::local::monitor_line`]). A
/// second MONITOR answers nothing, as in Redis.
pub(crate) async fn cmd_monitor(
    session: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    if session.deny_blocking {
        return err(errors::MONITOR_DENY_BLOCKING);
    }
    if session.monitor.is_some() {
        return Ok(Reply::Many(Vec::new()));
    }
    session.monitor = Some(
        session
            .instance
            .monitors
            .add(session.id, session.kill.clone()),
    );
    session.info.lock().unwrap().monitor = true;
    Ok(OK)
}

/// LASTSAVE.
pub(crate) async fn cmd_lastsave(
    _conn: &mut Session,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    Ok(Reply::Int(now_ms() / 1000))
}

/// A parameter's canonical name: aliases (`hash-max-ziplist-entries`,
/// `slave-read-only`, ...) name the same setting as their 7.0 name.
fn canonical(name: &str) -> &str {
    match name {
        "hash-max-ziplist-entries" => "hash-max-listpack-entries",
        "hash-max-ziplist-value" => "hash-max-listpack-value",
        "zset-max-ziplist-entries" => "zset-max-listpack-entries",
        "zset-max-ziplist-value" => "zset-max-listpack-value",
        "list-max-ziplist-size" => "list-max-listpack-size",
        "slaveof" => "replicaof",
        "lua-time-limit" => "busy-reply-threshold",
        "masterauth" | "masteruser" => name,
        other => match other.strip_prefix("slave-") {
            Some(rest) => match rest {
                "announce-ip" => "replica-announce-ip",
                "announce-port" => "replica-announce-port",
                "ignore-maxmemory" => "replica-ignore-maxmemory",
                "lazy-flush" => "replica-lazy-flush",
                "priority" => "replica-priority",
                "read-only" => "replica-read-only",
                "serve-stale-data" => "replica-serve-stale-data",
                _ => other,
            },
            None => match other {
                "min-slaves-max-lag" => "min-replicas-max-lag",
                "min-slaves-to-write" => "min-replicas-to-write",
                "repl-ping-slave-period" => "repl-ping-replica-period",
                "cluster-slave-no-failover" => "cluster-replica-no-failover",
                "cluster-slave-validity-factor" => "cluster-replica-validity-factor",
                _ => other,
            },
        },
    }
}

/// The value of a parameter respire implements (by canonical name), or
/// `None` for one that answers its Redis default from [`PARAMETERS`].
fn live_parameter(session: &Session, name: &str, notify: u32) -> Option<String> {
    let c = &session.instance.config;
    Some(match name {
        "notify-keyspace-events" => flags::format(notify),
        "bind" => c.bind.clone(),
        "port" => session.instance.local_addr.port().to_string(),
        "databases" => c.databases.to_string(),
        "maxclients" => c.maxclients.to_string(),
        "requirepass" => c.requirepass.clone().unwrap_or_default(),
        "dir" => c.dir.display().to_string(),
        "proto-max-bulk-len" => c.proto_max_bulk_len.to_string(),
        "protected-mode" => yes_no(session.instance.protected_mode.load(Relaxed)).into(),
        "tcp-backlog" => c.tcp_backlog.to_string(),
        "tls-port" => c.tls_port.unwrap_or(0).to_string(),
        "tls-cert-file" => path_text(&c.tls_cert_file),
        "tls-key-file" => path_text(&c.tls_key_file),
        "tls-ca-cert-file" => path_text(&c.tls_ca_cert_file),
        "tls-auth-clients" => match c.tls_auth_clients {
            TlsAuthClients::Yes => "yes",
            TlsAuthClients::No => "no",
            TlsAuthClients::Optional => "optional",
        }
        .into(),
        "client-query-buffer-limit" => c.client_query_buffer_limit.to_string(),
        "busy-reply-threshold" | "lua-time-limit" => session
            .instance
            .busy_reply_threshold()
            .as_millis()
            .to_string(),
        "client-output-buffer-limit" => format!(
            "normal 0 0 0 slave 268435456 67108864 60 pubsub {} {} {}",
            c.pubsub_hard_limit, c.pubsub_soft_limit, c.pubsub_soft_seconds
        ),
        _ => return None,
    })
}

/// Every parameter CONFIG GET answers, with its value: (name, value).
fn parameters(
    session: &Session,
    notify: u32,
    fresh: &std::collections::HashMap<&str, String>,
) -> Vec<(&'static str, String)> {
    PARAMETERS
        .iter()
        .map(|&(name, default)| {
            let canon = canonical(name);
            if let Some(value) = fresh.get(canon) {
                return (name, value.clone());
            }
            let value = live_parameter(session, canon, notify).unwrap_or_else(|| {
                match parameter_name(canon.as_bytes()) {
                    Some(canon) => parameter_value(session, canon),
                    None => default.to_string(),
                }
            });
            (name, value)
        })
        .collect()
}

/// A parameter's table name, looked up case-insensitively.
fn parameter_name(name: &[u8]) -> Option<&'static str> {
    PARAMETERS
        .iter()
        .map(|&(n, _)| n)
        .find(|n| n.as_bytes().eq_ignore_ascii_case(name))
}

/// A path setting as CONFIG GET shows it ("" when unset).
fn path_text(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

async fn config(session: &mut Session, args: &[Bytes]) -> CmdResult {
    let sub = args[1].to_ascii_lowercase();
    match &sub[..] {
        b"get" => {
            // The database holds the deployment-wide value; read it fresh
            // (current as soon as a CONFIG SET anywhere has replied).
            let notify = match session.instance.store.get_setting(NOTIFY_SETTING).await {
                Ok(Some(text)) => flags::parse(text.as_bytes()),
                Ok(None) => Some(0),
                Err(_) => None,
            };
            // So are the thresholds named (an instance that has just
            // started may not have read them yet).
            let mut fresh = std::collections::HashMap::new();
            for limit in settings::LIMITS {
                let named = PARAMETERS.iter().any(|(name, _)| {
                    canonical(name) == *limit
                        && args[2..]
                            .iter()
                            .any(|p| glob::matches(&p.to_ascii_lowercase(), name.as_bytes()))
                });
                if named && let Ok(Some(value)) = session.instance.store.get_setting(limit).await {
                    fresh.insert(*limit, value);
                }
            }
            let params = parameters(
                session,
                notify.unwrap_or(session.instance.events.notify_flags()),
                &fresh,
            );
            let mut pairs: Vec<(Reply, Reply)> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for pattern in &args[2..] {
                let lower = pattern.to_ascii_lowercase();
                for (name, value) in &params {
                    if !glob::matches(&lower, name.as_bytes()) || !seen.insert(*name) {
                        continue;
                    }
                    // A plain name is echoed as typed, as Redis does.
                    let shown = if glob::is_literal(pattern) {
                        Reply::Bulk(pattern.clone())
                    } else {
                        Reply::bulk_str(name)
                    };
                    pairs.push((shown, Reply::bulk_str(value)));
                }
            }
            Ok(Reply::Map(pairs))
        }
        b"set" => config_set(session, args).await,
        b"resetstat" => {
            let s = &session.instance.metrics;
            for counter in [
                &s.connections_received,
                &s.commands_processed,
                &s.rejected_connections,
                &s.keyspace_hits,
                &s.keyspace_misses,
                &s.expired_keys,
                &s.net_input_bytes,
                &s.net_output_bytes,
            ] {
                counter.store(0, Relaxed);
            }
            s.reset_command_stats();
            Ok(OK)
        }
        b"rewrite" => err(errors::NO_CONFIG_FILE),
        b"help" => Ok(Reply::help(&[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Print this help.",
        ])),
        _ => err(errors::unknown_subcommand(&args[1], "config")),
    }
}

/// A setting CONFIG SET changes.
enum NewValue {
    Notify(u32),
    ProtectedMode(bool),
    /// A deployment-wide encoding threshold (canonical name, value).
    Limit(&'static str, String),
    /// Kept on this instance and read back (canonical name, value).
    Kept(&'static str, String),
}

/// Whether CONFIG SET may change a parameter (by table name).
fn settable(name: &'static str) -> bool {
    matches!(canonical(name), NOTIFY_SETTING | "protected-mode")
        || !matches!(parameters::kind(name), Kind::Immutable | Kind::Own)
}

/// CONFIG SET name value [name value ...]: all or nothing, as Redis 7.0's
/// configSetCommand: every name is checked first (the first unknown,
/// immutable or repeated one is the error; an alias is not a repeat of
/// its name in 7.0), then every value; only then is anything changed (the
/// deployment-wide ones in one database transaction, before the rest).
async fn config_set(session: &mut Session, args: &[Bytes]) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return err(errors::SYNTAX);
    }
    let mut names: Vec<&'static str> = Vec::new();
    for pair in args[2..].chunks(2) {
        let Some(name) = parameter_name(&pair[0]) else {
            return err(errors::config_set_unknown(&pair[0]));
        };
        let typed = String::from_utf8_lossy(&pair[0]);
        if !settable(name) {
            return err(errors::config_set_failed(
                &typed,
                "can't set immutable config",
            ));
        }
        if names.contains(&name) {
            return err(errors::config_set_failed(&typed, "duplicate parameter"));
        }
        names.push(name);
    }
    let mut values = Vec::with_capacity(names.len());
    for (name, pair) in names.iter().zip(args[2..].chunks(2)) {
        let (typed, value) = (String::from_utf8_lossy(&pair[0]), &pair[1]);
        let failed = |reason: &str| {
            errors::CmdError::Reply(errors::config_set_failed(&typed, reason).into())
        };
        let canon = canonical(name);
        values.push(match canon {
            NOTIFY_SETTING => NewValue::Notify(flags::parse(value).ok_or_else(|| {
                failed("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
            })?),
            "protected-mode" => NewValue::ProtectedMode(match value.to_ascii_lowercase().as_slice() {
                b"yes" => true,
                b"no" => false,
                _ => return Err(failed("argument must be 'yes' or 'no'")),
            }),
            _ => {
                let shown = parameters::check(parameters::kind(name), value)
                    .map_err(|reason| failed(&reason))?;
                let canon = parameter_name(canon.as_bytes()).unwrap_or(name);
                if parameters::MISLEADING.contains(&canon) {
                    let current = parameter_value(session, canon);
                    if shown != current {
                        return Err(failed(&format!(
                            "respire does not support this setting: only its value '{current}' is accepted"
                        )));
                    }
                }
                if settings::LIMITS.contains(&canon) {
                    NewValue::Limit(canon, shown)
                } else {
                    NewValue::Kept(canon, shown)
                }
            }
        });
    }
    // The deployment-wide ones first, in one transaction: if it fails,
    // nothing has changed.
    let shared: Vec<(&'static str, String)> = values
        .iter()
        .filter_map(|v| match v {
            // Every instance applies it at its place in the event log.
            NewValue::Notify(bits) => Some((NOTIFY_SETTING, flags::format_lossless(*bits))),
            NewValue::Limit(name, value) => Some((*name, value.clone())),
            _ => None,
        })
        .collect();
    if !shared.is_empty() {
        settings::set(&session.instance.events, &shared).await?;
    }
    for value in values {
        match value {
            NewValue::Notify(_) => {}
            // In force here at once (this client's next OBJECT ENCODING
            // follows it); on the others when their log reaches it.
            NewValue::Limit(name, value) => {
                settings::apply(&session.instance.events, name, value.as_bytes())
            }
            // This instance's own listener setting, as in Redis.
            NewValue::ProtectedMode(on) => session.instance.protected_mode.store(on, Relaxed),
            NewValue::Kept(name, value) => {
                if name == "tracking-table-max-keys"
                    && let Ok(max) = value.parse::<usize>()
                {
                    session.instance.events.tracking.set_max_keys(max);
                }
                session
                    .instance
                    .kept_parameters
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name, value);
            }
        }
    }
    Ok(OK)
}

/// What CONFIG GET answers for a parameter that is not live (by its
/// canonical table name): a deployment-wide threshold in force, a value
/// kept on this instance, else Redis's default.
fn parameter_value(session: &Session, canon: &str) -> String {
    let limits = session.instance.events.limits.read();
    if let Some(v) = limits.unwrap_or_else(|e| e.into_inner()).get(canon) {
        return v.clone();
    }
    let kept = session.instance.kept_parameters.lock();
    if let Some(v) = kept.unwrap_or_else(|e| e.into_inner()).get(canon) {
        return v.clone();
    }
    PARAMETERS
        .iter()
        .find(|(n, _)| *n == canon)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// INFO's sections in Redis 7.0's order, and which of them INFO (or
/// `default`) shows; `all` and `everything` show every one (respire has
/// no modules: `everything` adds nothing to `all`). `respire` is its own.
const SECTIONS: [(&str, bool); 14] = [
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("respire", true),
    ("keyspace", true),
];

/// INFO [section ...], as Redis 7.0: sections named (any case, unknown
/// ones ignored), `default`, `all`, `everything`, in Redis's order, each
/// once.
async fn info(session: &mut Session, args: &[Bytes]) -> CmdResult {
    let requested: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let every = requested.iter().any(|s| s == "all" || s == "everything");
    let default = requested.is_empty() || requested.iter().any(|s| s == "default");
    let mut out = String::new();
    for (section, shown_by_default) in SECTIONS {
        if !(every || (default && shown_by_default) || requested.iter().any(|r| r == section)) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section_text(session, section, &mut out).await?;
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

async fn section_text(
    session: &Session,
    section: &str,
    out: &mut String,
) -> Result<(), errors::CmdError> {
    let instance = &session.instance;
    let s = &instance.metrics;
    let mut w = InfoWriter(out);
    match section {
        "server" => {
            w.header("Server");
            w.field("redis_version", &REDIS_VERSION);
            w.field("respire_version", &env!("CARGO_PKG_VERSION"));
            w.field("redis_git_sha1", &"00000000");
            w.field("redis_git_dirty", &0);
            w.field("redis_mode", &"standalone");
            w.field("os", &std::env::consts::OS);
            w.field("arch_bits", &64);
            w.field("multiplexing_api", &"epoll");
            w.field("process_id", &std::process::id());
            w.field("run_id", &run_id());
            w.field("tcp_port", &instance.local_addr.port());
            w.field("server_time_usec", &now_us());
            let up = instance.started.elapsed().as_secs();
            w.field("uptime_in_seconds", &up);
            w.field("uptime_in_days", &(up / 86400));
            w.field("hz", &10);
            w.field("configured_hz", &10);
            w.field(
                "executable",
                &std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
            let config_file = instance.config.config.as_ref().map(|path| {
                std::fs::canonicalize(path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
                    .to_string()
            });
            w.field("config_file", &config_file.unwrap_or_default());
        }
        "clients" => {
            w.header("Clients");
            w.field("connected_clients", &instance.clients.len());
            w.field("cluster_connections", &0);
            w.field("maxclients", &instance.config.maxclients);
            w.field("client_recent_max_input_buffer", &0);
            w.field("client_recent_max_output_buffer", &0);
            w.field(
                "blocked_clients",
                &instance.metrics.blocked_clients.load(Relaxed),
            );
            w.field("tracking_clients", &instance.events.tracking.stats().0);
            w.field("clients_in_timeout_table", &0);
        }
        "memory" => {
            w.header("Memory");
            let rss = rss_bytes();
            w.field("used_memory", &rss);
            w.field("used_memory_human", &human(rss));
            w.field("used_memory_rss", &rss);
            w.field("used_memory_rss_human", &human(rss));
            w.field("used_memory_peak", &rss);
            w.field("used_memory_peak_human", &human(rss));
            let lua = session.instance.scripts.vm_memory();
            w.field("used_memory_lua", &lua);
            w.field("used_memory_lua_human", &human(lua as u64));
            w.field(
                "number_of_cached_scripts",
                &session.instance.scripts.cached(),
            );
            w.field("maxmemory", &0);
            w.field("maxmemory_human", &"0B");
            w.field("maxmemory_policy", &"noeviction");
            w.field("mem_fragmentation_ratio", &"1.00");
        }
        "persistence" => {
            w.header("Persistence");
            w.field("loading", &0);
            w.field("async_loading", &0);
            w.field("rdb_changes_since_last_save", &0);
            w.field("rdb_bgsave_in_progress", &0);
            w.field("rdb_last_save_time", &(now_ms() / 1000));
            w.field("rdb_last_bgsave_status", &"ok");
            w.field("aof_enabled", &0);
            w.field("aof_rewrite_in_progress", &0);
        }
        "stats" => {
            w.header("Stats");
            w.field(
                "total_connections_received",
                &s.connections_received.load(Relaxed),
            );
            w.field(
                "total_commands_processed",
                &s.commands_processed.load(Relaxed),
            );
            w.field("instantaneous_ops_per_sec", &0);
            w.field("total_net_input_bytes", &s.net_input_bytes.load(Relaxed));
            w.field("total_net_output_bytes", &s.net_output_bytes.load(Relaxed));
            w.field(
                "rejected_connections",
                &s.rejected_connections.load(Relaxed),
            );
            w.field("expired_keys", &s.expired_keys.load(Relaxed));
            w.field("evicted_keys", &0);
            w.field("keyspace_hits", &s.keyspace_hits.load(Relaxed));
            w.field("keyspace_misses", &s.keyspace_misses.load(Relaxed));
            w.field("pubsub_channels", &instance.bus.channels(None).len());
            w.field("pubsub_patterns", &instance.bus.numpat());
            w.field("pubsubshard_channels", &0);
            let (_, keys, items, prefixes) = instance.events.tracking.stats();
            w.field("tracking_total_keys", &keys);
            w.field("tracking_total_items", &items);
            w.field("tracking_total_prefixes", &prefixes);
            w.field("unexpected_error_replies", &0);
            w.field("total_error_replies", &s.error_replies.load(Relaxed));
        }
        "replication" => {
            w.header("Replication");
            w.field("role", &"master");
            w.field("connected_slaves", &0);
            w.field("master_failover_state", &"no-failover");
            w.field("master_repl_offset", &0);
        }
        "cpu" => {
            w.header("CPU");
            let (user, sys) = cpu_seconds();
            w.field("used_cpu_sys", &format!("{sys:.6}"));
            w.field("used_cpu_user", &format!("{user:.6}"));
        }
        "modules" => w.header("Modules"),
        "cluster" => {
            w.header("Cluster");
            w.field("cluster_enabled", &0);
        }
        "commandstats" => {
            w.header("Commandstats");
            for (name, stats) in s.called() {
                let calls = stats.calls.load(Relaxed);
                let usec = (stats.latency.snapshot().sum * 1e6).round() as u64;
                w.field(
                    &format!("cmdstat_{name}"),
                    &format!(
                        "calls={calls},usec={usec},usec_per_call={:.2},rejected_calls=0,failed_calls={}",
                        usec as f64 / calls.max(1) as f64,
                        stats.errors.load(Relaxed)
                    ),
                );
            }
        }
        "errorstats" => {
            w.header("Errorstats");
            let codes = s.error_codes.lock().unwrap_or_else(|e| e.into_inner());
            for (code, count) in codes.iter() {
                w.field(&format!("errorstat_{code}"), &format!("count={count}"));
            }
        }
        "latencystats" => {
            w.header("Latencystats");
            for (name, stats) in s.called() {
                let snapshot = stats.latency.snapshot();
                // The upper bound of the bucket each percentile falls in.
                let at = |p: f64| {
                    let rank = (p / 100.0 * snapshot.count as f64).ceil().max(1.0) as u64;
                    let mut seen = 0;
                    for (bound, n) in &snapshot.buckets {
                        seen += n;
                        if seen >= rank {
                            return (bound.min(snapshot.sum) * 1e6).max(1.0);
                        }
                    }
                    0.0
                };
                w.field(
                    &format!("latency_percentiles_usec_{name}"),
                    &format!(
                        "p50={:.3},p99={:.3},p99.9={:.3}",
                        at(50.0),
                        at(99.0),
                        at(99.9)
                    ),
                );
            }
        }
        "respire" => {
            w.header("Respire");
            w.field("store", &instance.config.store_kind());
            w.field("instance_name", &instance.config.instance_name());
            match &instance.bus.nats {
                None => w.field("nats_enabled", &0),
                Some(nats) => {
                    w.field("nats_enabled", &1);
                    w.field("nats_connected", &(nats.connected() as u8));
                    w.field("nats_connects", &*nats.connects().borrow());
                    w.field("nats_prefix", &nats.prefix);
                    w.field(
                        "nats_stream",
                        &instance.events.stream_name.get().map_or("", |s| s.as_str()),
                    );
                }
            }
            w.field("datacenter", &instance.config.datacenter);
            let sequence = instance.store.last_sequence().await.unwrap_or(0);
            w.field(
                "sequencer_holder",
                &(instance.events.sequencer_holder.load(Relaxed) as u8),
            );
            w.field("sequence", &sequence);
            w.field(
                "sequencer_batches",
                &instance.events.sequencer_batches.load(Relaxed),
            );
            w.field(
                "sequenced_events",
                &instance.events.sequenced_events.load(Relaxed),
            );
            w.field(
                "delivering",
                &(instance.events.delivering.load(Relaxed) as u8),
            );
            w.field("delivered_sequence", &*instance.events.stream_tip.borrow());
            let position = instance.events.relay_position.load(Relaxed);
            w.field(
                "relay_holder",
                &(instance.events.relay_holder.load(Relaxed) as u8),
            );
            w.field("relay_position", &position);
            if let Some((events, ms)) = instance.events.publisher_lag(sequence) {
                w.field("relay_lag_events", &events);
                w.field("relay_lag_ms", &ms);
            }
        }
        "keyspace" => {
            w.header("Keyspace");
            let mut txn = instance.store.begin(crate::store::Access::Read).await?;
            for c in txn.counts(now_ms()).await? {
                w.field(
                    &format!("db{}", c.db),
                    &format!("keys={},expires={},avg_ttl=0", c.keys, c.expires),
                );
            }
        }
        _ => {}
    }
    Ok(())
}

/// Writes INFO's `# Section` headers and `name:value` lines.
struct InfoWriter<'a>(&'a mut String);

impl InfoWriter<'_> {
    fn header(&mut self, title: &str) {
        let _ = write!(self.0, "# {title}\r\n");
    }

    fn field(&mut self, name: &str, value: &dyn std::fmt::Display) {
        let _ = write!(self.0, "{name}:{value}\r\n");
    }
}

fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        (0..40)
            .map(|_| format!("{:x}", rand::random::<u8>() % 16))
            .collect()
    })
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    (tick(11), tick(12))
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

fn yes_no(on: bool) -> &'static str {
    if on { "yes" } else { "no" }
}
