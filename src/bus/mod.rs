//! Pub/sub transport: fans PUBLISH and keyspace notifications out to the
//! subscribed connections of this process, and (with `--nats-url`) joins
//! every instance into one pub/sub space over NATS core subjects.
//!
//! Without NATS, PUBLISH delivers straight to the local [`Registry`]. With
//! NATS, PUBLISH goes to NATS only, and this instance receives its own
//! messages back like every other instance: one NATS subscription per
//! channel that local clients want (delivering to channel subscribers) and
//! one wildcard subscription while any pattern is active (delivering to
//! pattern subscribers), so each matching subscription gets a message once.
//!
//! [`fanout`]: the [`Bus`]; [`registry`]: this process's subscriptions;
//! [`subscriptions`]: one client's, released on drop; [`delivery`]: what a
//! connection receives and its queue's limits; [`nats`]: the NATS link,
//! with [`subject`] (channel names as subjects) and [`chunk`] (large
//! messages in pieces); [`error`]: why a PUBLISH failed. This file only
//! declares the modules and re-exports the names callers outside use.

pub mod chunk;
pub mod delivery;
pub mod error;
pub mod fanout;
pub mod nats;
pub mod registry;
pub mod subject;
pub mod subscriptions;

pub use delivery::{Backlog, Delivery, DeliveryRx, OutputLimits, Subscriber};
pub use error::BusError;
pub use fanout::Bus;
pub use registry::{Registry, SubscriberId};
pub use subscriptions::Subscriptions;
