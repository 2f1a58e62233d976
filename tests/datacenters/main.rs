//! Three datacenters on one database under load, through datacenter and
//! NATS failures. Its own binary: each test runs nine servers, and the tests
//! take turns (one lock), so nothing else in the process competes with them.

#[path = "../common/mod.rs"]
mod common;

mod datacenters;
