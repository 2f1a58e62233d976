//! The production store: TiDB, MySQL 8 or MariaDB through sqlx's MySQL
//! driver.
//!
//! Write transactions run at READ COMMITTED and lock every key they read
//! or write (`SELECT ... FOR UPDATE`, held to the commit: two-phase
//! locking), so writers of one key serialise and their events enter the
//! log in commit order. Reads over several keys or statements (MGET, a
//! read-only EXEC) run in a REPEATABLE READ transaction whose snapshot is
//! taken at its start: they see one committed state, which with two-phase
//! locking writers is a state between whole transactions. A key seen absent is created
//! with a plain INSERT, so two instances racing to create it (SET NX) cannot
//! both succeed: the loser gets a duplicate-key error, reported as a
//! conflict, and its command is retried from the start.
//!
//! [`open`]: the store, its pools, readiness and migrations; [`held`]: the
//! connections commands run on; [`txn`]: a transaction, what it knows of
//! its keys and what it holds back ([`staged`]); [`keyspace`],
//! [`members`], [`event_log`]: the store traits, one file each.

mod event_log;
mod held;
mod keyspace;
mod members;
pub mod open;
mod staged;
mod txn;

pub use open::MySqlStore;
pub use txn::MAX_KEY_LEN;
