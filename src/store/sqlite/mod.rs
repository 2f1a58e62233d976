//! The embedded store: SQLite in WAL mode, called synchronously.
//!
//! SQLite runs in this process, so a statement on a cached page costs a
//! few microseconds: far less than handing it to another thread and waking
//! back up. Every call here therefore runs on the calling task's thread,
//! through rusqlite with prepared, cached statements, and a whole group
//! commit costs no hop at all. (sqlx still runs the migrations, so
//! databases made by earlier versions keep their migration history.)
//!
//! Writers are serialised in-process by an async mutex around the one
//! writing connection and open their transaction with `BEGIN IMMEDIATE`, so
//! SQLite never makes a writer of this process wait; another process on the
//! same file waits in SQLite's busy handler. Readers take a connection of
//! their own from a small pool and read a snapshot (WAL readers never wait
//! for the writer).
//!
//! [`open`]: the store, opening it (with sqlx's migrations) and the WAL
//! checkpointer; [`conn`]: connections and row reading; [`txn`]: a
//! transaction and the connection it holds; [`keyspace`], [`members`],
//! [`event_log`]: the store traits, one file each.

mod conn;
mod event_log;
mod keyspace;
mod members;
pub mod open;
mod txn;

pub use open::SqliteStore;
