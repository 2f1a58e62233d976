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
//!   (delivery state, notify flags, the one commit-and-wake sequence), the
//!   sequencer (one global order, under a lease), the relay (local delivery
//!   or a datacenter's publisher), the datacenter's JetStream stream,
//!   shared settings that travel the log, the expiry sweeper, leases, and
//!   the registry of clients blocked on keys that the relay wakes. Uses
//!   [`store`], [`bus`], [`config`], [`clock`].
//! - [`bus`]: pub/sub: the local registry, each client's
//!   [`Subscriptions`](bus::Subscriptions) (released on drop), NATS (large
//!   messages in chunks). Uses [`config`], [`glob`].
//! - [`store`]: the [`Store`](store::Store)/[`Txn`](store::Txn) traits
//!   (typed, no SQL in their signatures), the SQLite and MySQL/TiDB
//!   implementations, the key hash, the conflict-retry policy and the
//!   setting names. Uses [`clock`] and [`metrics`] (its error and
//!   retry counters).
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
pub mod instance;
pub mod metrics;
pub mod ops;
pub mod protocol;
pub mod reply;
pub mod server;
pub mod tls;

pub mod store;
