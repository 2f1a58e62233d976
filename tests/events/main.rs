//! Events: keyspace notifications and their timing across instances, the
//! sequenced event log and its streams, and pub/sub.

#[path = "../common/mod.rs"]
mod common;

mod event_streams;
mod notifications;
mod notify_timing;
mod pubsub;
mod sequence;
