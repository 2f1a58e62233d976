//! Every parameter Redis 7.0 answers in CONFIG GET, with its default and
//! the kind of value CONFIG SET takes for it: one table. Parameters
//! respire implements answer their live value (see
//! `server::live_parameter`); the encoding thresholds are deployment-wide
//! (`events::settings::LIMITS`); the rest keep what CONFIG SET gave them, per instance,
//! unless [`MISLEADING`] (accepting another value would claim a behaviour
//! respire does not have).

/// (name, Redis 7.0 default), sorted by name; aliases (`hash-max-ziplist-*`,
/// `slave-*`, ...) are rows of their own, as CONFIG GET lists them.
pub static PARAMETERS: &[(&str, &str)] = &[
    ("acl-pubsub-default", "resetchannels"),
    ("aclfile", ""),
    ("acllog-max-len", "128"),
    ("active-defrag-cycle-max", "25"),
    ("active-defrag-cycle-min", "1"),
    ("active-defrag-ignore-bytes", "104857600"),
    ("active-defrag-max-scan-fields", "1000"),
    ("active-defrag-threshold-lower", "10"),
    ("active-defrag-threshold-upper", "100"),
    ("active-expire-effort", "1"),
    ("activedefrag", "no"),
    ("activerehashing", "yes"),
    ("always-show-logo", "no"),
    ("aof-disable-auto-gc", "no"),
    ("aof-load-truncated", "yes"),
    ("aof-rewrite-incremental-fsync", "yes"),
    ("aof-timestamp-enabled", "no"),
    ("aof-use-rdb-preamble", "yes"),
    ("aof_rewrite_cpulist", ""),
    ("appenddirname", "appendonlydir"),
    ("appendfilename", "appendonly.aof"),
    ("appendfsync", "everysec"),
    ("appendonly", "no"),
    ("auto-aof-rewrite-min-size", "67108864"),
    ("auto-aof-rewrite-percentage", "100"),
    ("bgsave_cpulist", ""),
    ("bind", "* -::*"),
    ("bind-source-addr", ""),
    ("bio_cpulist", ""),
    ("busy-reply-threshold", "5000"),
    (
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    ("client-query-buffer-limit", "1073741824"),
    ("cluster-allow-pubsubshard-when-down", "yes"),
    ("cluster-allow-reads-when-down", "no"),
    ("cluster-allow-replica-migration", "yes"),
    ("cluster-announce-bus-port", "0"),
    ("cluster-announce-hostname", ""),
    ("cluster-announce-ip", ""),
    ("cluster-announce-port", "0"),
    ("cluster-announce-tls-port", "0"),
    ("cluster-config-file", "nodes.conf"),
    ("cluster-enabled", "no"),
    ("cluster-link-sendbuf-limit", "0"),
    ("cluster-migration-barrier", "1"),
    ("cluster-node-timeout", "15000"),
    ("cluster-port", "0"),
    ("cluster-preferred-endpoint-type", "ip"),
    ("cluster-replica-no-failover", "no"),
    ("cluster-replica-validity-factor", "10"),
    ("cluster-require-full-coverage", "yes"),
    ("cluster-slave-no-failover", "no"),
    ("cluster-slave-validity-factor", "10"),
    ("crash-log-enabled", "yes"),
    ("crash-memcheck-enabled", "yes"),
    ("daemonize", "no"),
    ("databases", "16"),
    ("dbfilename", "dump.rdb"),
    ("dir", ""),
    ("disable-thp", "yes"),
    ("dynamic-hz", "yes"),
    ("enable-debug-command", "no"),
    ("enable-module-command", "no"),
    ("enable-protected-configs", "no"),
    ("hash-max-listpack-entries", "512"),
    ("hash-max-listpack-value", "64"),
    ("hash-max-ziplist-entries", "512"),
    ("hash-max-ziplist-value", "64"),
    ("hll-sparse-max-bytes", "3000"),
    ("hz", "10"),
    ("ignore-warnings", ""),
    ("io-threads", "1"),
    ("io-threads-do-reads", "no"),
    ("jemalloc-bg-thread", "yes"),
    ("latency-monitor-threshold", "0"),
    ("latency-tracking", "yes"),
    ("latency-tracking-info-percentiles", "50 99 99.9"),
    ("lazyfree-lazy-eviction", "no"),
    ("lazyfree-lazy-expire", "no"),
    ("lazyfree-lazy-server-del", "no"),
    ("lazyfree-lazy-user-del", "no"),
    ("lazyfree-lazy-user-flush", "no"),
    ("lfu-decay-time", "1"),
    ("lfu-log-factor", "10"),
    ("list-compress-depth", "0"),
    ("list-max-listpack-size", "-2"),
    ("list-max-ziplist-size", "-2"),
    ("logfile", ""),
    ("loglevel", "notice"),
    ("lua-time-limit", "5000"),
    ("masterauth", ""),
    ("masteruser", ""),
    ("maxclients", "10000"),
    ("maxmemory", "0"),
    ("maxmemory-clients", "0"),
    ("maxmemory-eviction-tenacity", "10"),
    ("maxmemory-policy", "noeviction"),
    ("maxmemory-samples", "5"),
    ("min-replicas-max-lag", "10"),
    ("min-replicas-to-write", "0"),
    ("min-slaves-max-lag", "10"),
    ("min-slaves-to-write", "0"),
    ("no-appendfsync-on-rewrite", "no"),
    ("notify-keyspace-events", ""),
    ("oom-score-adj", "no"),
    ("oom-score-adj-values", "0 200 800"),
    ("pidfile", ""),
    ("port", "6379"),
    ("proc-title-template", "{title} {listen-addr} {server-mode}"),
    ("propagation-error-behavior", "ignore"),
    ("protected-mode", "yes"),
    ("proto-max-bulk-len", "536870912"),
    ("rdb-del-sync-files", "no"),
    ("rdb-save-incremental-fsync", "yes"),
    ("rdbchecksum", "yes"),
    ("rdbcompression", "yes"),
    ("repl-backlog-size", "1048576"),
    ("repl-backlog-ttl", "3600"),
    ("repl-disable-tcp-nodelay", "no"),
    ("repl-diskless-load", "disabled"),
    ("repl-diskless-sync", "yes"),
    ("repl-diskless-sync-delay", "5"),
    ("repl-diskless-sync-max-replicas", "0"),
    ("repl-ping-replica-period", "10"),
    ("repl-ping-slave-period", "10"),
    ("repl-timeout", "60"),
    ("replica-announce-ip", ""),
    ("replica-announce-port", "0"),
    ("replica-announced", "yes"),
    ("replica-ignore-disk-write-errors", "no"),
    ("replica-ignore-maxmemory", "yes"),
    ("replica-lazy-flush", "no"),
    ("replica-priority", "100"),
    ("replica-read-only", "yes"),
    ("replica-serve-stale-data", "yes"),
    ("replicaof", ""),
    ("requirepass", ""),
    ("sanitize-dump-payload", "no"),
    ("save", ""),
    ("server_cpulist", ""),
    ("set-max-intset-entries", "512"),
    ("set-proc-title", "yes"),
    ("shutdown-on-sigint", "default"),
    ("shutdown-on-sigterm", "default"),
    ("shutdown-timeout", "10"),
    ("slave-announce-ip", ""),
    ("slave-announce-port", "0"),
    ("slave-ignore-maxmemory", "yes"),
    ("slave-lazy-flush", "no"),
    ("slave-priority", "100"),
    ("slave-read-only", "yes"),
    ("slave-serve-stale-data", "yes"),
    ("slaveof", ""),
    ("slowlog-log-slower-than", "10000"),
    ("slowlog-max-len", "128"),
    ("socket-mark-id", "0"),
    ("stop-writes-on-bgsave-error", "yes"),
    ("stream-node-max-bytes", "4096"),
    ("stream-node-max-entries", "100"),
    ("supervised", "no"),
    ("syslog-enabled", "no"),
    ("syslog-facility", "local0"),
    ("syslog-ident", "redis"),
    ("tcp-backlog", "511"),
    ("tcp-keepalive", "300"),
    ("timeout", "0"),
    ("tls-auth-clients", "yes"),
    ("tls-ca-cert-dir", ""),
    ("tls-ca-cert-file", ""),
    ("tls-cert-file", ""),
    ("tls-ciphers", ""),
    ("tls-ciphersuites", ""),
    ("tls-client-cert-file", ""),
    ("tls-client-key-file", ""),
    ("tls-client-key-file-pass", ""),
    ("tls-cluster", "no"),
    ("tls-dh-params-file", ""),
    ("tls-key-file", ""),
    ("tls-key-file-pass", ""),
    ("tls-port", "0"),
    ("tls-prefer-server-ciphers", "no"),
    ("tls-protocols", ""),
    ("tls-replication", "no"),
    ("tls-session-cache-size", "20480"),
    ("tls-session-cache-timeout", "300"),
    ("tls-session-caching", "yes"),
    ("tracking-table-max-keys", "1000000"),
    ("unixsocket", ""),
    ("unixsocketperm", "0"),
    ("zset-max-listpack-entries", "128"),
    ("zset-max-listpack-value", "64"),
    ("zset-max-ziplist-entries", "128"),
    ("zset-max-ziplist-value", "64"),
];

/// What CONFIG SET accepts for a parameter, as Redis 7.0's config table
/// types it (errors worded as `config.c`'s).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// `yes` or `no`, any case.
    Bool,
    /// An integer (`string2ll`) in the inclusive range.
    Integer(i64, i64),
    /// A memory amount (`memtoull`: digits and an optional unit b, k, kb,
    /// m, mb, g, gb, any case) in the inclusive range.
    Memory(u64, u64),
    /// One of these words, any case; kept in the table's case.
    Choice(&'static [&'static str]),
    /// Any string.
    Text,
    /// Set only at start (Redis: `can't set immutable config`).
    Immutable,
    /// One respire gives a meaning of its own, or cannot change: handled
    /// by name in `server.rs`.
    Own,
}

/// Parameters whose other values would promise what respire does not do
/// (evict under a memory limit, close idle clients, snapshot or append to
/// a file of its own, refuse writes without replicas): CONFIG SET accepts
/// only the value they have.
pub const MISLEADING: &[&str] = &[
    "appendonly",
    "appendfsync",
    "maxmemory",
    "maxmemory-clients",
    "maxmemory-policy",
    "min-replicas-max-lag",
    "min-replicas-to-write",
    "timeout",
];

/// The kind of a parameter (table name, aliases included).
pub fn kind(name: &str) -> Kind {
    match name {
        "acl-pubsub-default" => Kind::Choice(&["allchannels", "resetchannels"]),
        "acllog-max-len"
        | "busy-reply-threshold"
        | "cluster-node-timeout"
        | "hash-max-listpack-entries"
        | "hash-max-ziplist-entries"
        | "latency-monitor-threshold"
        | "lua-time-limit"
        | "repl-backlog-ttl"
        | "set-max-intset-entries"
        | "slowlog-max-len"
        | "stream-node-max-entries"
        | "tracking-table-max-keys"
        | "zset-max-listpack-entries"
        | "zset-max-ziplist-entries" => Kind::Integer(0, i64::MAX),
        "active-defrag-cycle-max" | "active-defrag-cycle-min" => Kind::Integer(1, 99),
        "active-defrag-ignore-bytes" | "repl-backlog-size" => Kind::Memory(1, i64::MAX as u64),
        "active-defrag-max-scan-fields" => Kind::Integer(1, i64::MAX),
        "active-defrag-threshold-lower" | "active-defrag-threshold-upper" => Kind::Integer(0, 1000),
        "active-expire-effort" => Kind::Integer(1, 10),
        "activedefrag"
        | "activerehashing"
        | "aof-disable-auto-gc"
        | "aof-load-truncated"
        | "aof-rewrite-incremental-fsync"
        | "aof-timestamp-enabled"
        | "aof-use-rdb-preamble"
        | "appendonly"
        | "cluster-allow-pubsubshard-when-down"
        | "cluster-allow-reads-when-down"
        | "cluster-allow-replica-migration"
        | "cluster-replica-no-failover"
        | "cluster-require-full-coverage"
        | "cluster-slave-no-failover"
        | "crash-log-enabled"
        | "crash-memcheck-enabled"
        | "dynamic-hz"
        | "jemalloc-bg-thread"
        | "latency-tracking"
        | "lazyfree-lazy-eviction"
        | "lazyfree-lazy-expire"
        | "lazyfree-lazy-server-del"
        | "lazyfree-lazy-user-del"
        | "lazyfree-lazy-user-flush"
        | "no-appendfsync-on-rewrite"
        | "rdb-del-sync-files"
        | "rdb-save-incremental-fsync"
        | "rdbcompression"
        | "repl-disable-tcp-nodelay"
        | "repl-diskless-sync"
        | "replica-announced"
        | "replica-ignore-disk-write-errors"
        | "replica-ignore-maxmemory"
        | "replica-lazy-flush"
        | "replica-read-only"
        | "replica-serve-stale-data"
        | "slave-ignore-maxmemory"
        | "slave-lazy-flush"
        | "slave-read-only"
        | "slave-serve-stale-data"
        | "stop-writes-on-bgsave-error" => Kind::Bool,
        "always-show-logo"
        | "aof_rewrite_cpulist"
        | "bgsave_cpulist"
        | "bio_cpulist"
        | "cluster-enabled"
        | "cluster-port"
        | "disable-thp"
        | "io-threads-do-reads"
        | "rdbchecksum"
        | "server_cpulist"
        | "set-proc-title"
        | "socket-mark-id"
        | "syslog-enabled"
        | "syslog-facility" => Kind::Immutable,
        "appendfsync" => Kind::Choice(&["everysec", "always", "no"]),
        "auto-aof-rewrite-min-size"
        | "hash-max-listpack-value"
        | "hash-max-ziplist-value"
        | "hll-sparse-max-bytes"
        | "stream-node-max-bytes"
        | "zset-max-listpack-value"
        | "zset-max-ziplist-value" => Kind::Memory(0, i64::MAX as u64),
        "auto-aof-rewrite-percentage"
        | "cluster-migration-barrier"
        | "cluster-replica-validity-factor"
        | "cluster-slave-validity-factor"
        | "hz"
        | "lfu-decay-time"
        | "lfu-log-factor"
        | "list-compress-depth"
        | "min-replicas-max-lag"
        | "min-replicas-to-write"
        | "min-slaves-max-lag"
        | "min-slaves-to-write"
        | "repl-diskless-sync-delay"
        | "repl-diskless-sync-max-replicas"
        | "replica-priority"
        | "shutdown-timeout"
        | "slave-priority"
        | "tcp-keepalive"
        | "timeout" => Kind::Integer(0, i32::MAX as i64),
        "cluster-announce-bus-port"
        | "cluster-announce-port"
        | "cluster-announce-tls-port"
        | "replica-announce-port"
        | "slave-announce-port" => Kind::Integer(0, 65535),
        "cluster-link-sendbuf-limit" | "maxmemory" | "maxmemory-clients" => {
            Kind::Memory(0, u64::MAX)
        }
        "cluster-preferred-endpoint-type" => Kind::Choice(&["ip", "hostname", "unknown-endpoint"]),
        "ignore-warnings" | "latency-tracking-info-percentiles" | "proc-title-template" => {
            Kind::Text
        }
        "list-max-listpack-size" | "list-max-ziplist-size" => {
            Kind::Integer(i32::MIN as i64, i32::MAX as i64)
        }
        "loglevel" => Kind::Choice(&["debug", "verbose", "notice", "warning"]),
        "maxmemory-eviction-tenacity" => Kind::Integer(0, 100),
        "maxmemory-policy" => Kind::Choice(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        "maxmemory-samples"
        | "repl-ping-replica-period"
        | "repl-ping-slave-period"
        | "repl-timeout" => Kind::Integer(1, i32::MAX as i64),
        "oom-score-adj" => Kind::Choice(&["no", "yes", "relative", "absolute"]),
        "propagation-error-behavior" => Kind::Choice(&["ignore", "panic", "panic-on-replicas"]),
        "repl-diskless-load" => Kind::Choice(&["disabled", "on-empty-db", "swapdb"]),
        "sanitize-dump-payload" => Kind::Choice(&["no", "yes", "clients"]),
        "shutdown-on-sigint" | "shutdown-on-sigterm" => {
            Kind::Choice(&["default", "save", "nosave", "now", "force"])
        }
        "slowlog-log-slower-than" => Kind::Integer(-1, i64::MAX),
        "save" => Kind::Text,
        _ => Kind::Own,
    }
}

/// Checks `value` for a parameter of this kind; answers the value as
/// CONFIG GET will show it, or the reason Redis gives for refusing it.
pub fn check(kind: Kind, value: &[u8]) -> Result<String, String> {
    let text = || String::from_utf8_lossy(value).into_owned();
    match kind {
        Kind::Bool => match value.to_ascii_lowercase().as_slice() {
            b"yes" => Ok("yes".into()),
            b"no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Integer(min, max) => {
            let n = crate::protocol::parse_i64(value)
                .ok_or("argument couldn't be parsed into an integer")?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Kind::Memory(min, max) => {
            let n = memory(value).ok_or("argument must be a memory value")?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Kind::Choice(words) => words
            .iter()
            .find(|w| w.as_bytes().eq_ignore_ascii_case(value))
            .map(|w| w.to_string())
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    words.join(", ")
                )
            }),
        Kind::Text => Ok(text()),
        Kind::Immutable | Kind::Own => Err("can't set immutable config".into()),
    }
}

/// Redis's `memtoull`: an unsigned number (saturating at `u64::MAX`, as
/// `strtoull` does) and an optional unit; `None` when malformed.
pub fn memory(value: &[u8]) -> Option<u64> {
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    let unit: u64 = match value[digits..].to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits == 0 {
        return None;
    }
    let n = std::str::from_utf8(&value[..digits])
        .ok()?
        .parse::<u64>()
        .unwrap_or(u64::MAX);
    Some(n.wrapping_mul(unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_as_redis_7_0_checks_them() {
        assert_eq!(
            check(kind("hash-max-ziplist-value"), b"1k").unwrap(),
            "1000"
        );
        assert_eq!(
            check(kind("hash-max-listpack-value"), b"2KB").unwrap(),
            "2048"
        );
        assert_eq!(
            check(kind("hash-max-listpack-value"), b"-1").unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(
            check(kind("hash-max-listpack-value"), b"99999999999999999999").unwrap_err(),
            "argument must be between 0 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            check(kind("timeout"), b"2147483648").unwrap_err(),
            "argument must be between 0 and 2147483647 inclusive"
        );
        assert_eq!(
            check(kind("hz"), b"1.5").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            check(kind("lazyfree-lazy-user-del"), b"YES").unwrap(),
            "yes"
        );
        assert_eq!(check(kind("loglevel"), b"WARNING").unwrap(), "warning");
        assert!(
            check(kind("loglevel"), b"x")
                .unwrap_err()
                .ends_with("debug, verbose, notice, warning")
        );
        assert_eq!(
            check(kind("rdbchecksum"), b"yes").unwrap_err(),
            "can't set immutable config"
        );
        // Every threshold and MISLEADING name is a parameter.
        for name in crate::events::settings::LIMITS.iter().chain(MISLEADING) {
            assert!(PARAMETERS.iter().any(|(n, _)| n == name), "{name}");
        }
    }
}
