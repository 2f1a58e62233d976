//! The one path a request takes from the client to its reply.

pub mod blocking;
pub mod direct;
pub mod exec;
pub mod lanes;
pub mod monitor;
pub mod request;
pub mod script;
pub mod txn;
