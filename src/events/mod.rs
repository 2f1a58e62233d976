//! Keyspace events: the notify-keyspace-events flags, the relay that moves
//! the event log to subscribers, and the active-expiry sweeper.

pub mod flags;
pub mod relay;
pub mod stream;
pub mod sweeper;
