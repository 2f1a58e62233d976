//! The wire and what a client can do to a server: the protocol byte for
//! byte, connection churn, the limits on clients and on stored values, and
//! TLS on the RESP port.

#[path = "../common/mod.rs"]
mod common;

mod churn;
mod client_limits;
mod protocol;
mod store_limits;
mod tls;
