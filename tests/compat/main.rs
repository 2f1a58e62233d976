//! Differential tests against the reference Redis (127.0.0.1:6379): the
//! compat/*.case suite, ion's traffic, and MONITOR's lines.

#[path = "../common/mod.rs"]
mod common;

mod compat;
mod ion;
mod monitor;
