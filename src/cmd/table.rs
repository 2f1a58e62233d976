//! The command table: every command's spec, collected from the family
//! files, looked up once per request; and the checks every request passes
//! before it runs.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use super::errors::{self, CmdResult, err};
use super::{CommandSpec, Ctx, Family};
use super::{HELP_SUBCOMMAND, NO_KEYS, SubSpec, spec};
use super::{connection, hash, keys, pubsub, string, transaction};

/// Every command, collected from the family tables.
pub fn table() -> &'static HashMap<&'static str, &'static CommandSpec> {
    static TABLE: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let families: [&'static [CommandSpec]; 9] = [
            string::COMMANDS,
            hash::COMMANDS,
            keys::COMMANDS,
            connection::COMMANDS,
            crate::cmd::server::COMMANDS,
            COMMAND,
            pubsub::COMMANDS,
            transaction::COMMANDS,
            string::EXTRA,
        ];
        families
            .iter()
            .flat_map(|f| f.iter())
            .map(|s| (s.name, s))
            .collect()
    })
}

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > 32 {
        return None;
    }
    let mut lower = [0u8; 32];
    let lower = &mut lower[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    std::str::from_utf8(lower)
        .ok()
        .and_then(|n| table().get(n).copied())
}

/// The table lookup, arity and subcommand checks every request goes
/// through once, before anything runs: the command's spec, or the error
/// Redis answers.
pub fn check(args: &[Bytes]) -> Result<&'static CommandSpec, Bytes> {
    let spec = lookup(&args[0]).ok_or_else(|| errors::unknown_command(&args[0], &args[1..]))?;
    if !CommandSpec::arity_ok(spec.arity, args.len()) {
        return Err(errors::wrong_arity(spec.name).into());
    }
    // A container command without a subcommand (a bare COMMAND) is the
    // container's own form; its arity was checked above.
    if !spec.subcommands.is_empty()
        && let Some(name) = args.get(1)
    {
        let sub = spec
            .subcommand(name)
            .ok_or_else(|| errors::unknown_subcommand(name, spec.name))?;
        if !CommandSpec::arity_ok(sub.arity, args.len()) {
            return Err(errors::wrong_arity(&format!("{}|{}", spec.name, sub.name)).into());
        }
    }
    Ok(spec)
}

/// Runs a data command. `args[0]` is the command name.
pub async fn execute(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    match spec.family {
        Family::String => string::execute(ctx, spec.name, args).await,
        Family::Hash => hash::execute(ctx, spec.name, args).await,
        Family::Keys => keys::execute(ctx, spec.name, args).await,
        _ => err(format!("ERR '{}' is not a data command", spec.name)),
    }
}

/// COMMAND, answered from this table itself (see `introspection`).
static COMMAND: &[CommandSpec] = &[CommandSpec {
    subcommands: COMMAND_SUBCOMMANDS,
    ..spec(
        "command",
        -1,
        &["loading", "stale"],
        NO_KEYS,
        Family::Introspection,
        "server",
        "2.8.13",
        "Get array of Redis command details",
    )
}];

static COMMAND_SUBCOMMANDS: &[SubSpec] = &[
    SubSpec {
        name: "count",
        arity: 2,
        summary: "Get total number of Redis commands",
    },
    SubSpec {
        name: "info",
        arity: -2,
        summary: "Get array of specific Redis command details, or all when no argument is given.",
    },
    SubSpec {
        name: "docs",
        arity: -2,
        summary: "Get array of specific Redis command documentation",
    },
    SubSpec {
        name: "list",
        arity: -2,
        summary: "Get an array of Redis command names",
    },
    SubSpec {
        name: "getkeys",
        arity: -3,
        summary: "Extract keys given a full Redis command",
    },
    HELP_SUBCOMMAND,
];
