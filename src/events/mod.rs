//! Keyspace events: the event log's way from a commit to the subscribers.
//!
//! Every mutation logs its events in its own transaction
//! ([`Events::commit`], the one commit-and-wake sequence, with the state
//! the event side shares in [`state`]); the sequencer ([`sequencer`], one
//! per deployment) numbers them in commit order; the relay ([`relay`])
//! follows the numbers and hands events to this instance's subscribers
//! ([`delivery`]), or publishes them to its datacenter's JetStream stream
//! ([`jetstream`]) that the datacenter's instances consume and hand on the
//! same way; shared settings travel the log the same way ([`settings`]);
//! the sweeper ([`sweeper`]) deletes expired keys and logs their `expired`
//! events. Deployment-wide jobs run under leases ([`lease`]); [`start`]
//! runs it all. This layer uses the store, the bus and the config, and
//! nothing above them.
//!
//! This file only declares the modules and re-exports [`Events`] and
//! [`run`] for the callers outside; the files inside reach each other
//! directly.

pub mod delivery;
pub mod flags;
pub mod jetstream;
pub mod lease;
pub mod relay;
pub mod sequencer;
pub mod settings;
pub mod start;
pub mod state;
pub mod sweeper;
pub mod tracking;
pub mod waiters;

pub use start::run;
pub use state::Events;
