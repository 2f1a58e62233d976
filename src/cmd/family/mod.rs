//! The command families: each file parses and executes one group of
//! commands and ends with its table rows.

pub mod bits;
pub mod connection;
pub mod event_stream;
pub mod hash;
pub mod keys;
pub mod list;
pub mod object;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod stream_group;
pub mod string;
pub mod transaction;
pub mod zset;
pub mod zset_algebra;
