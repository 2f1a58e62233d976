//! Commands: one table describes every command once ([`table`], rows of
//! [`spec::CommandSpec`]), one file per family parses and executes them
//! ([`family`]), helpers they share ([`helpers`]), and the one path a
//! request takes from the client to its reply ([`run`]).
//!
//! Data commands (strings, hashes, lists, keys ...) run against a store
//! transaction through [`ctx::Ctx`]; connection-level commands (PING,
//! CLIENT, MULTI, SUBSCRIBE, ...) run against the client's
//! [`session::Session`].

/// A data command's handler, for its table row: `data!(cmd_get)`.
macro_rules! data {
    ($f:path) => {
        $crate::cmd::spec::Handler::Data(|ctx, spec, args| Box::pin($f(ctx, spec, args)))
    };
    // A body that needs no spec: `data!(hincrby; args)`.
    ($f:path; args) => {
        $crate::cmd::spec::Handler::Data(|ctx, _spec, args| Box::pin($f(ctx, args)))
    };
}

/// A blocking data command's handler: its non-blocking attempt and where
/// it waits, `blocking!(cmd_bpop, block_on_keys)` (see [`blocking`]).
macro_rules! blocking {
    ($f:path, $on:path) => {
        $crate::cmd::spec::Handler::Blocking(|ctx, spec, args| Box::pin($f(ctx, spec, args)), $on)
    };
}

/// A session command's handler, for its table row: `session!(cmd_ping)`.
macro_rules! session {
    ($f:path) => {
        $crate::cmd::spec::Handler::Session(|session, spec, args| Box::pin($f(session, spec, args)))
    };
    // A body that needs no spec: `session!(info; args)`.
    ($f:path; args) => {
        $crate::cmd::spec::Handler::Session(|session, _spec, args| Box::pin($f(session, args)))
    };
    // ... and does not wait: `session!(ping; sync args)`.
    ($f:path; sync args) => {
        $crate::cmd::spec::Handler::Session(|session, _spec, args| {
            Box::pin(async move { $f(session, args) })
        })
    };
}

pub mod args;
pub mod command;
pub mod ctx;
pub mod errors;
pub mod family;
pub mod helpers;
pub mod key_args;
pub mod registry;
pub mod run;
pub mod session;
pub mod spec;
pub mod table;
