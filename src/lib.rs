//! # respire: a Redis-protocol server whose state lives in SQL
//!
//! Layout, from the socket inwards:
//!
//! - [`server`]: the listener, connection limit, background tasks and
//!   graceful shutdown; [`Shared`](server::Shared) is the state they share.
//! - [`connection`]: one task per client; pipelined request framing
//!   ([`protocol`]), RESP2/RESP3 replies ([`reply`]), MULTI queueing,
//!   subscribed mode.
//! - [`batch`]: runs data commands against the store; write commands that
//!   arrive together share one transaction (group commit).
//! - [`cmd`]: the command table and one file per command family; every
//!   error text lives in [`cmd::errors`].
//! - [`store`]: the [`Store`](store::Store)/[`Txn`](store::Txn) traits
//!   (typed, no SQL in their signatures) and the SQLite implementation.
//! - [`events`]: keyspace-event flags, the relay from the event log to the
//!   bus, and the active-expiry sweeper.
//! - [`bus`]: pub/sub fan-out to subscribed connections.
//! - [`config`], [`clock`], [`glob`]: flags, time, Redis glob matching.

pub mod bus;
pub mod client;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod events;
pub mod glob;
pub mod protocol;
pub mod reply;
pub mod server;

pub mod store;
