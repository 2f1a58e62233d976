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

/// A family's command table, one line per command, its family and Redis
/// group given once (as kvrocks registers a command per line under one
/// category):
///
/// ```text
/// pub static COMMANDS: &[CommandSpec] = commands! { family: String, group: "string";
///     "get", 2, R, ONE_KEY, "1.0.0", data!(cmd_get), "Get the value of a key";
/// };
/// ```
///
/// A row is the name, arity, Redis's flags, (first, last, step) key
/// positions, the version it came in, its handler and its summary, then
/// any of `keys:` (key specs), `tips:`, `subs:` (subcommands), `info:`
/// (subcommands' COMMAND INFO) and `props:` (respire's [`spec::Props`]),
/// each the [`spec::CommandSpec`] builder of that name.
macro_rules! commands {
    (family: $family:ident, group: $group:literal;
     $($name:literal, $arity:expr, $flags:expr, $keys:expr, $since:literal, $handler:expr,
       $summary:literal $(, $item:ident: $value:expr)*;)*) => {
        &[$(
            $crate::cmd::spec::spec(
                $name, $arity, $flags, $keys, $crate::cmd::spec::Family::$family, $group, $since,
                $summary,
            )
            .with($handler)
            $(.$item($value))*
        ),*]
    };
}

/// A container command's subcommands, one line each: name, arity,
/// summary, any `flags:` (Redis's, when not the container's) and any
/// `props:` ([`spec::SubSpec`]); `help;` is the HELP
/// subcommand every container has.
macro_rules! subcommands {
    (@rows [$($row:expr,)*]) => { &[$($row),*] };
    (@rows [$($row:expr,)*] help; $($rest:tt)*) => {
        subcommands!(@rows [$($row,)* $crate::cmd::spec::HELP_SUBCOMMAND,] $($rest)*)
    };
    (@rows [$($row:expr,)*] $name:literal, $arity:expr, $summary:literal
     $(, flags: $flags:expr)? $(, props: $props:expr)?; $($rest:tt)*) => {
        subcommands!(@rows [$($row,)* $crate::cmd::spec::SubSpec {
            name: $name,
            arity: $arity,
            summary: $summary,
            flags: None,
            props: $crate::cmd::spec::Props::NONE,
        } $(.flags($flags))? $(.props($props))?,] $($rest)*)
    };
    ($($rows:tt)*) => { subcommands!(@rows [] $($rows)*) };
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
