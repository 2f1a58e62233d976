//! The data commands and client modes, through real clients and raw RESP:
//! strings, keys, lists, sets, members, pipelines, transactions, blocking
//! pops, AUTH/SELECT/CLIENT, CONFIG/INFO/COMMAND — on every store backend.

#[path = "../common/mod.rs"]
mod common;

mod batching;
mod blocking;
mod client_modes;
mod connection_commands;
mod dump_restore;
mod keys_copy;
mod scripting;
mod server_commands;
mod sets;
mod store_members;
mod story;
mod streams;
mod tracking;
mod transactions;
