//! The instance's own state, shared by its connections, its commands and
//! its background tasks: the store, bus and event handles, the client
//! registry, counters, CLIENT PAUSE, MONITOR feeds and key access times.

pub mod clients;
pub mod local;
pub mod scan_memo;
pub mod state;
