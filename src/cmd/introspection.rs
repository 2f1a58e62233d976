//! COMMAND and its subcommands, generated from the command table.

use bytes::Bytes;

use super::CommandSpec;
use super::errors::{self, CmdResult, err};
use super::session::Session;
use super::table::{lookup, table};
use crate::reply::Reply;

pub async fn execute(
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
        return err("ERR Invalid command specified");
    };
    if !CommandSpec::arity_ok(spec.arity, command.len()) {
        return err("ERR Invalid number of arguments specified for command");
    }
    if spec.first_key == 0 {
        return err("ERR The command has no key arguments");
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
