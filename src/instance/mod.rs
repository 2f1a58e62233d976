//! The instance's own state, shared by its connections, its commands and
//! its background tasks: the store, bus and event handles, the client
//! registry, counters, CLIENT PAUSE, MONITOR feeds, key access times and
//! scripting's interpreters and running scripts.

pub mod clients;
pub mod local;
pub mod scan_memo;
pub mod scripts;
pub mod state;
