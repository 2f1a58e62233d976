//! The instance's counters, one holder for INFO and the `/metrics`
//! endpoint: connections, commands, keyspace hits and misses, bytes in and
//! out, calls, errors and latency per command, group-commit batch sizes,
//! blocked clients, and the store's statement errors and retries. Plain atomics,
//! so counting costs a few relaxed adds; the HTTP side (`crate::ops`)
//! renders them, with the gauges it reads elsewhere, on each scrape.
//!
//! The lowest layer: it imports nothing of the crate, so the store and the
//! command layer can both count into it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Command latency bucket bounds, in microseconds (exported in seconds).
const LATENCY_BOUNDS_US: &[u64] = &[
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];
/// Group-commit batch size bucket bounds (commands per transaction).
const BATCH_BOUNDS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/// Statements that failed in either store (every driver error becomes a
/// `StoreError` in one place, which counts it here).
pub static STORE_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Transactions or statements run again after a conflict, a deadlock or a
/// lost connection.
pub static STORE_RETRIES: AtomicU64 = AtomicU64::new(0);

/// A histogram over integer observations, with fixed bounds.
pub struct Histogram {
    bounds: &'static [u64],
    /// Divides observations and bounds on export (1e6: µs to seconds).
    unit: f64,
    /// Per bucket (not cumulative); the last one is +Inf.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    count: AtomicU64,
}

/// A histogram as exported: sum, count and (upper bound, count) per bucket.
pub struct HistogramSnapshot {
    pub sum: f64,
    pub count: u64,
    pub buckets: Vec<(f64, u64)>,
}

impl Histogram {
    fn new(bounds: &'static [u64], unit: f64) -> Histogram {
        Histogram {
            bounds,
            unit,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: u64) {
        let bucket = self.bounds.partition_point(|&bound| bound < value);
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum.fetch_add(value, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    /// Back to no observations (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for bucket in self.buckets.iter().chain([&self.sum, &self.count]) {
            bucket.store(0, Relaxed);
        }
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let bounds = self.bounds.iter().map(|&b| b as f64 / self.unit);
        HistogramSnapshot {
            sum: self.sum.load(Relaxed) as f64 / self.unit,
            count: self.count.load(Relaxed),
            buckets: bounds
                // prometheus-client writes f64::MAX as +Inf.
                .chain([f64::MAX])
                .zip(self.buckets.iter().map(|b| b.load(Relaxed)))
                .collect(),
        }
    }
}

/// One command's counters.
pub struct CommandStats {
    pub calls: AtomicU64,
    /// Calls answered with an error reply.
    pub errors: AtomicU64,
    /// From the command's start to its reply being ready (for a write,
    /// after its commit).
    pub latency: Histogram,
}

/// The server's own counters (one per server; the store's are statics):
/// what INFO stats and `/metrics` report.
pub struct Metrics {
    commands: HashMap<&'static str, CommandStats>,
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub expired_keys: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Commands per group-commit transaction.
    pub batch_sizes: Histogram,
    /// Clients waiting in a blocking command.
    pub blocked_clients: AtomicI64,
    /// Error replies by their code (the first word: `ERR`, `WRONGTYPE`),
    /// for INFO errorstats; at most [`ERROR_CODES`] codes, as Redis.
    pub error_codes: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    /// Every error reply (INFO stats `total_error_replies`).
    pub error_replies: AtomicU64,
}

/// How many distinct error codes INFO errorstats counts (Redis's
/// ERRORSTATS_LIMIT); replies with further codes count in the totals only.
pub const ERROR_CODES: usize = 128;

impl Metrics {
    /// Counters for the commands named (the command table's names).
    pub fn new(names: impl IntoIterator<Item = &'static str>) -> Metrics {
        let commands = names
            .into_iter()
            .map(|name| {
                let stats = CommandStats {
                    calls: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                    latency: Histogram::new(LATENCY_BOUNDS_US, 1e6),
                };
                (name, stats)
            })
            .collect();
        Metrics {
            commands,
            connections_received: AtomicU64::new(0),
            commands_processed: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            keyspace_hits: AtomicU64::new(0),
            keyspace_misses: AtomicU64::new(0),
            expired_keys: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            batch_sizes: Histogram::new(BATCH_BOUNDS, 1.0),
            blocked_clients: AtomicI64::new(0),
            error_codes: Default::default(),
            error_replies: AtomicU64::new(0),
        }
    }

    /// Counts one call of `command` that took `micros`, and its error
    /// reply's text when it failed.
    pub fn record(&self, command: &str, micros: u64, error: Option<&[u8]>) {
        if let Some(stats) = self.commands.get(command) {
            stats.calls.fetch_add(1, Relaxed);
            if error.is_some() {
                stats.errors.fetch_add(1, Relaxed);
            }
            stats.latency.observe(micros);
        }
        if let Some(text) = error {
            self.error_replies.fetch_add(1, Relaxed);
            let code = text.split(|&b| b == b' ').next().unwrap_or_default();
            let code = String::from_utf8_lossy(code);
            let mut codes = self.error_codes.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = codes.get_mut(code.as_ref()) {
                *n += 1;
            } else if codes.len() < ERROR_CODES {
                codes.insert(code.into_owned(), 1);
            }
        }
    }

    /// CONFIG RESETSTAT: the per-command counters and error counts (the
    /// /metrics histogram of batch sizes stays).
    pub fn reset_command_stats(&self) {
        for stats in self.commands.values() {
            stats.calls.store(0, Relaxed);
            stats.errors.store(0, Relaxed);
            stats.latency.reset();
        }
        self.error_replies.store(0, Relaxed);
        self.error_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The commands called at least once, by name.
    pub fn called(&self) -> Vec<(&'static str, &CommandStats)> {
        let mut called: Vec<_> = self
            .commands
            .iter()
            .filter(|(_, s)| s.calls.load(Relaxed) > 0)
            .map(|(name, s)| (*name, s))
            .collect();
        called.sort_unstable_by_key(|(name, _)| *name);
        called
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_observation_in_the_first_bucket_it_fits() {
        let h = Histogram::new(&[1, 10], 1.0);
        for v in [0, 1, 2, 10, 11, 1000] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.count, 6);
        assert_eq!(s.sum, 1024.0);
        assert_eq!(s.buckets, vec![(1.0, 2), (10.0, 2), (f64::MAX, 2)]);
    }

    #[test]
    fn only_known_commands_are_counted() {
        let m = Metrics::new(["get", "set"]);
        m.record("get", 120, None);
        m.record("get", 80, Some(b"ERR x"));
        m.record("nosuch", 1, None);
        let called = m.called();
        assert_eq!(called.len(), 1);
        assert_eq!(called[0].0, "get");
        assert_eq!(called[0].1.calls.load(Relaxed), 2);
        assert_eq!(called[0].1.errors.load(Relaxed), 1);
    }
}
