//! The command table: every command's spec, collected from the family
//! files, looked up once per request; the checks every request passes
//! before it runs; and COMMAND, answered from the table itself.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use super::Session;
use super::errors::{self, CmdResult, err};
use super::{CommandSpec, Ctx, Family, Handler};
use super::{HELP_SUBCOMMAND, NO_KEYS, SubSpec, spec};
use super::{connection, hash, keys, pubsub, string, transaction};
use crate::reply::Reply;

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
    match spec.handler {
        Handler::Data(run) => run(ctx, spec, args).await,
        _ => err(errors::unhandled(spec.name)),
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
    .with(session!(cmd_command))
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

/// COMMAND and its subcommands.
pub(crate) async fn cmd_command(
    _conn: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    if args.len() == 1 {
        return Ok(Reply::Array(sorted().into_iter().map(info_entry).collect()));
    }
    let sub = args[1].to_ascii_lowercase();
    match &sub[..] {
        b"count" => Ok(Reply::Int(table().len() as i64)),
        b"info" => {
            if args.len() == 2 {
                return Ok(Reply::Array(sorted().into_iter().map(info_entry).collect()));
            }
            Ok(Reply::Array(
                args[2..]
                    .iter()
                    .map(|n| lookup(n).map_or(Reply::Nil, info_entry))
                    .collect(),
            ))
        }
        b"docs" => {
            let specs: Vec<&'static CommandSpec> = if args.len() == 2 {
                sorted()
            } else {
                args[2..].iter().filter_map(|n| lookup(n)).collect()
            };
            Ok(Reply::Map(
                specs
                    .into_iter()
                    .map(|s| (Reply::bulk_str(s.name), docs_entry(s)))
                    .collect(),
            ))
        }
        b"list" => {
            if args.len() > 2 {
                return err(errors::SYNTAX);
            }
            Ok(Reply::Array(
                sorted()
                    .into_iter()
                    .map(|s| Reply::bulk_str(s.name))
                    .collect(),
            ))
        }
        b"getkeys" => getkeys(&args[2..]),
        b"help" => Ok(Reply::help(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "HELP",
            "    Print this help.",
        ])),
        _ => err(errors::unknown_subcommand(&args[1], "command")),
    }
}

fn sorted() -> Vec<&'static CommandSpec> {
    let mut all: Vec<_> = table().values().copied().collect();
    all.sort_by_key(|s| s.name);
    all
}

/// Redis's ACL categories for a command, derived from its group and flags.
fn categories(spec: &CommandSpec) -> Vec<Reply> {
    let mut cats = Vec::new();
    let group = match spec.group {
        "generic" => Some("@keyspace"),
        "string" => Some("@string"),
        "hash" => Some("@hash"),
        "pubsub" => Some("@pubsub"),
        "connection" => Some("@connection"),
        "transactions" => Some("@transaction"),
        "server" => Some("@admin"),
        _ => None,
    };
    if spec.is_write() {
        cats.push("@write");
    }
    if spec.has_flag("readonly") {
        cats.push("@read");
    }
    cats.extend(group);
    cats.push(if spec.has_flag("fast") {
        "@fast"
    } else {
        "@slow"
    });
    cats.into_iter().map(Reply::Status).collect()
}

fn info_entry(spec: &'static CommandSpec) -> Reply {
    let subs = spec
        .subcommands
        .iter()
        .map(|sub| {
            Reply::Array(vec![
                Reply::bulk_str(&format!("{}|{}", spec.name, sub.name)),
                Reply::Int(sub.arity as i64),
                Reply::Set(spec.flags.iter().map(|f| Reply::Status(f)).collect()),
                Reply::Int(0),
                Reply::Int(0),
                Reply::Int(0),
                Reply::Set(categories(spec)),
                Reply::Set(vec![]),
                Reply::Array(vec![]),
                Reply::Array(vec![]),
            ])
        })
        .collect();
    Reply::Array(vec![
        Reply::bulk_str(spec.name),
        Reply::Int(spec.arity as i64),
        Reply::Set(spec.flags.iter().map(|f| Reply::Status(f)).collect()),
        Reply::Int(spec.first_key as i64),
        Reply::Int(spec.last_key as i64),
        Reply::Int(spec.step as i64),
        Reply::Set(categories(spec)),
        Reply::Set(vec![]),
        Reply::Array(vec![]),
        Reply::Array(subs),
    ])
}

fn docs_entry(spec: &'static CommandSpec) -> Reply {
    let mut fields = vec![
        (Reply::bulk_str("summary"), Reply::bulk_str(spec.summary)),
        (Reply::bulk_str("since"), Reply::bulk_str(spec.since)),
        (Reply::bulk_str("group"), Reply::bulk_str(spec.group)),
    ];
    if !spec.subcommands.is_empty() {
        let subs = spec
            .subcommands
            .iter()
            .map(|sub| {
                (
                    Reply::bulk_str(&format!("{}|{}", spec.name, sub.name)),
                    Reply::Map(vec![
                        (Reply::bulk_str("summary"), Reply::bulk_str(sub.summary)),
                        (Reply::bulk_str("since"), Reply::bulk_str(spec.since)),
                        (Reply::bulk_str("group"), Reply::bulk_str(spec.group)),
                    ]),
                )
            })
            .collect();
        fields.push((Reply::bulk_str("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(fields)
}

/// COMMAND GETKEYS: the key arguments by the table's first/last/step.
fn getkeys(command: &[Bytes]) -> CmdResult {
    let Some(spec) = lookup(&command[0]) else {
        return err(errors::GETKEYS_INVALID_COMMAND);
    };
    if !CommandSpec::arity_ok(spec.arity, command.len()) {
        return err(errors::GETKEYS_INVALID_ARITY);
    }
    if spec.first_key == 0 {
        return err(errors::GETKEYS_NO_KEYS);
    }
    let last = if spec.last_key < 0 {
        command.len() as i32 + spec.last_key
    } else {
        spec.last_key
    };
    let keys = (spec.first_key..=last)
        .step_by(spec.step.max(1) as usize)
        .filter_map(|i| command.get(i as usize).cloned());
    Ok(Reply::bulks(keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_its_handler() {
        for spec in table().values() {
            assert!(
                !matches!(spec.handler, Handler::None),
                "{} has no handler",
                spec.name
            );
            let data = matches!(spec.handler, Handler::Data(_));
            assert_eq!(data, spec.family.is_data(), "{}", spec.name);
        }
    }
}
