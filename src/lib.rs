//! # respire: a Redis-protocol server whose state lives in SQL
//!
//! Layout, from the socket inwards. Each layer uses only the ones below it
//! (`python3 ../shared/tools/module-cycles.py` finds no import cycle).
//!
//! - [`ops`]: the operations HTTP listener (`--metrics-port`):
//!   `/metrics` in the Prometheus text format, `/healthz`, `/readyz`.
//!   Reads the [`instance`]'s state; only [`server`] starts it.
//! - [`server`]: the listeners (plain and TLS), protected mode and the
//!   connection limit, the background tasks, graceful shutdown. Builds
//!   everything below and uses all of it; nothing imports it.
//! - [`tls`]: the TLS port's certificates from their files, and their
//!   reload on SIGHUP or a change. Uses [`config`].
//! - [`client`]: one task per connection: the socket, request framing
//!   ([`protocol`]), one flush per batch of replies ([`reply`]), pub/sub
//!   deliveries and MONITOR lines. It hands each framed request to the
//!   command layer's request path and names no command.
//! - [`cmd`]: the commands, in three parts.
//!   - The request path, [`cmd::run`]: [`cmd::run::request`] is the one
//!     entry of a request (the table's check, AUTH, MULTI queueing,
//!     subscribed mode, CLIENT PAUSE, pipeline grouping, MONITOR, metrics,
//!     CLIENT REPLY); [`cmd::run::txn`] the open transaction every data
//!     command runs in ([`Open`](cmd::run::txn::Open): group commit, reads,
//!     EXEC share it); [`cmd::run::lanes`] the group-commit lanes;
//!     [`cmd::run::exec`] EXEC; [`cmd::run::blocking`] the wait of
//!     blocking commands; [`cmd::run::direct`] the commands that run
//!     against the session; [`cmd::run::monitor`] MONITOR's lines.
//!   - The command surface: [`cmd::spec`] a command's row (arity, flags,
//!     keys, handler), [`cmd::table`] every row in one
//!     [`Registry`](cmd::registry::Registry), [`cmd::command`] COMMAND
//!     answered from it, [`cmd::key_args`] where a command's keys are,
//!     [`cmd::session`] a client's state as commands see it, [`cmd::ctx`]
//!     what a data command runs with, [`cmd::args`] argument parsing,
//!     [`cmd::errors`] every text a command answers with.
//!   - [`cmd::family`]: one file per family (string, hash, list, set,
//!     zset, keys, bits, sort, object, connection, server, pubsub,
//!     transaction, stream: the read-only event streams), and
//!     [`cmd::helpers`] what several families share (numbers, scores,
//!     members, the event log read as streams, CONFIG's parameters).
//!
//!   Uses [`instance`], [`events`], [`store`], [`bus`], [`config`],
//!   [`reply`], [`glob`], [`clock`].
//! - [`instance`]: the instance's own state, shared by its connections,
//!   commands and background tasks: the store, bus and event handles, the
//!   client registry, CLIENT PAUSE, MONITOR feeds, key access times.
//!   Uses [`events`], [`store`], [`bus`], [`config`], [`metrics`].
//! - [`events`]: the event log's way to subscribers: [`events::Events`]
//!   (`events/state.rs`: delivery state, notify flags, the one
//!   commit-and-wake sequence), the sequencer (one global order, under a
//!   lease), the relay (local delivery or a datacenter's publisher), the
//!   datacenter's JetStream stream, the hand-on of one event that both end
//!   in (`events/delivery.rs`), shared settings that travel the log, the
//!   expiry sweeper, leases, the registry of clients blocked on keys that
//!   the hand-on wakes, and `events/start.rs` that runs it all. Uses
//!   [`store`], [`bus`], [`config`], [`clock`].
//! - [`bus`]: pub/sub: the [`Bus`](bus::Bus) (`bus/fanout.rs`), the local
//!   registry, each client's [`Subscriptions`](bus::Subscriptions)
//!   (released on drop), deliveries and their queues' limits, NATS (large
//!   messages in chunks). Uses [`config`], [`glob`].
//! - [`store`]: the traits, typed with no SQL in their signatures:
//!   [`Keyspace`](store::Keyspace) and [`Txn`](store::Txn) (keys,
//!   strings, hashes, and the one rule for an emptied key) with
//!   [`Members`](store::Members), [`EventLog`](store::EventLog) and
//!   [`LogWrites`](store::LogWrites), joined as [`Store`](store::Store);
//!   the domain types, the errors, the conflict-retry policy, the SQL and
//!   the event-log plans both backends share, and the SQLite and
//!   MySQL/TiDB implementations (`store/sqlite/`, `store/mysql/`, split the
//!   same way), opened from a URL (`store/open.rs`). Uses
//!   [`glob`] (KEYS ranges) and [`metrics`] (its error and retry counters).
//! - Leaves: [`protocol`] (request framing and its limits), [`reply`]
//!   (RESP2/RESP3 encoding), [`config`] (flags, the config file),
//!   [`metrics`] (the counters INFO and the metrics endpoint read), [`clock`],
//!   [`glob`], [`trim`] (freed memory back to the system after large
//!   releases; the binary's allocator is jemalloc, set in `main.rs`).

pub mod bus;
pub mod client;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod events;
pub mod glob;
pub mod instance;
pub mod lua;
pub mod metrics;
pub mod ops;
pub mod protocol;
pub mod reply;
pub mod server;
pub mod tls;
pub mod trim;

pub mod store;
