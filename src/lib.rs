//! # respire: a Redis-protocol server whose state lives in SQL
//!
//! Layout, from the socket inwards. Each layer uses only the ones below it
//! (`python3 ../shared/tools/module-cycles.py` finds no import cycle).
//!
//! - [`ops`]: the operations HTTP listener (`--metrics-port`):
//!   `/metrics` in the Prometheus text format, `/healthz`, `/readyz`.
//!   Reads the server's state through [`cmd::shared`]; only [`server`]
//!   starts it.
//! - [`server`]: the listeners (plain and TLS), protected mode and the
//!   connection limit, the background tasks, graceful shutdown. Builds
//!   everything below and uses all of it; nothing imports it.
//! - [`tls`]: the TLS port's certificates from their files, and their
//!   reload on SIGHUP or a change. Uses [`config`].
//! - [`client`]: one task per connection: frames requests ([`protocol`]),
//!   hands each to the command layer with the client's session, writes
//!   replies ([`reply`]) and pub/sub deliveries. Uses [`cmd`], [`bus`]'s
//!   delivery type, [`protocol`], [`reply`].
//! - [`cmd`]: the commands. `cmd/mod.rs` holds the core types: a
//!   command's spec row with its [`Handler`](cmd::Handler), the per-client
//!   [`Session`](cmd::Session) and the data commands' [`Ctx`](cmd::Ctx);
//!   [`cmd::table`] collects every row (checked once per request; COMMAND
//!   answers from it), [`cmd::dispatch`] is the one path a command runs
//!   (AUTH, MULTI queueing, subscribed mode, EXEC), [`cmd::shared`] what
//!   commands may use (store, bus, events, client registry, stats, limits),
//!   [`cmd::batch`] group commit of writes, [`cmd::blocking`] the wait of
//!   blocking commands (BLPOP, ...), one file per family (string, hash,
//!   list, keys, connection, server, pubsub, transaction, stream: the
//!   read-only event streams, named and scanned by [`cmd::event_view`]),
//!   and [`cmd::errors`] every text a command answers with. Uses [`events`],
//!   [`store`], [`bus`], [`config`], [`reply`], [`glob`], [`clock`].
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
//!   [`metrics`] (counters only the metrics endpoint reads), [`clock`],
//!   [`glob`].

pub mod bus;
pub mod client;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod events;
pub mod glob;
pub mod metrics;
pub mod ops;
pub mod protocol;
pub mod reply;
pub mod server;
pub mod tls;

pub mod store;
