//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS),
//! answered from the command table the request path hands in.

use bytes::Bytes;

use crate::cmd::errors::{self, CmdResult, err};
use crate::cmd::key_args::{key_args, key_positions};
use crate::cmd::registry::Registry;
use crate::cmd::spec::{BeginSearch, CommandSpec, Handler, KeySpec, NO_KEYS, Props, SubSpec};
use crate::reply::Reply;

/// COMMAND, answered from this table itself (see `introspection`).
pub static COMMANDS: &[CommandSpec] = commands! { family: Introspection, group: "server";
    "command", -1, &["loading", "stale"], NO_KEYS, "2.8.13", Handler::Introspection, "Get array of Redis command details", subs: COMMAND_SUBCOMMANDS;
};

static COMMAND_SUBCOMMANDS: &[SubSpec] = subcommands! {
    "count", 2, "Get total number of Redis commands";
    "info", -2, "Get array of specific Redis command details, or all when no argument is given.";
    "docs", -2, "Get array of specific Redis command documentation";
    "list", -2, "Get an array of Redis command names";
    "getkeys", -3, "Extract keys given a full Redis command";
    help;
};

/// COMMAND and its subcommands, answered from `table`.
pub fn run(table: &Registry, args: &[Bytes]) -> CmdResult {
    if args.len() == 1 {
        return Ok(Reply::Array(
            table.sorted().into_iter().map(info_entry).collect(),
        ));
    }
    let sub = args[1].to_ascii_lowercase();
    match &sub[..] {
        b"count" => Ok(Reply::Int(table.len() as i64)),
        b"info" => {
            if args.len() == 2 {
                return Ok(Reply::Array(
                    table.sorted().into_iter().map(info_entry).collect(),
                ));
            }
            Ok(Reply::Array(
                args[2..]
                    .iter()
                    .map(|n| table.lookup(n).map_or(Reply::Nil, info_entry))
                    .collect(),
            ))
        }
        b"docs" => {
            let specs: Vec<&'static CommandSpec> = if args.len() == 2 {
                table.sorted()
            } else {
                args[2..].iter().filter_map(|n| table.lookup(n)).collect()
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
                table
                    .sorted()
                    .into_iter()
                    .map(|s| Reply::bulk_str(s.name))
                    .collect(),
            ))
        }
        b"getkeys" => getkeys(table, &args[2..]),
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

/// Redis's ACL categories for a command or subcommand, derived from its
/// group and flags (a container without flags of its own is just slow),
/// plus @dangerous where the row says so; listed in Redis's order of the
/// categories (@keyspace, @read, @write, the type's, ..., @fast, @slow,
/// @blocking, @dangerous, @connection, @transaction).
fn categories(group: &str, flags: &[&str], container: bool, dangerous: bool) -> Vec<Reply> {
    if container && flags.is_empty() {
        return vec![Reply::Status("@slow")];
    }
    const ORDER: &[&str] = &[
        "@keyspace",
        "@read",
        "@write",
        "@set",
        "@sortedset",
        "@list",
        "@hash",
        "@string",
        "@stream",
        "@pubsub",
        "@admin",
        "@fast",
        "@slow",
        "@blocking",
        "@dangerous",
        "@connection",
        "@transaction",
    ];
    let mut cats = Vec::new();
    let group = match group {
        "generic" => Some("@keyspace"),
        "string" => Some("@string"),
        "hash" => Some("@hash"),
        "list" => Some("@list"),
        "set" => Some("@set"),
        "stream" => Some("@stream"),
        "sorted-set" => Some("@sortedset"),
        "pubsub" => Some("@pubsub"),
        "connection" => Some("@connection"),
        "transactions" => Some("@transaction"),
        "server" => Some("@admin"),
        _ => None,
    };
    if flags.contains(&"write") {
        cats.push("@write");
    }
    if flags.contains(&"readonly") {
        cats.push("@read");
    }
    cats.extend(group);
    cats.push(if flags.contains(&"fast") {
        "@fast"
    } else {
        "@slow"
    });
    if flags.contains(&"blocking") {
        cats.push("@blocking");
    }
    if dangerous {
        cats.push("@dangerous");
    }
    cats.sort_by_key(|c| ORDER.iter().position(|o| o == c));
    cats.into_iter().map(Reply::Status).collect()
}

/// One COMMAND INFO row.
#[allow(clippy::too_many_arguments)]
fn info_row(
    name: &str,
    arity: i32,
    flags: &[&'static str],
    keys: (i32, i32, i32),
    categories: Vec<Reply>,
    tips: &[&str],
    key_specs: &[KeySpec],
    subcommands: Option<Vec<Reply>>,
) -> Reply {
    Reply::Array(vec![
        Reply::bulk_str(name),
        Reply::Int(arity as i64),
        Reply::Set(flags.iter().map(|f| Reply::Status(f)).collect()),
        Reply::Int(keys.0 as i64),
        Reply::Int(keys.1 as i64),
        Reply::Int(keys.2 as i64),
        Reply::Set(categories),
        Reply::Set(tips.iter().map(|t| Reply::bulk_str(t)).collect()),
        Reply::Set(key_specs.iter().map(key_spec_entry).collect()),
        // Redis answers an empty set for a command without subcommands.
        subcommands.map_or(Reply::Set(vec![]), Reply::Array),
    ])
}

fn key_spec_entry(ks: &KeySpec) -> Reply {
    let map = |pairs: Vec<(&str, Reply)>| {
        Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Reply::bulk_str(k), v))
                .collect(),
        )
    };
    let begin = match ks.begin {
        BeginSearch::Index(i) => map(vec![
            ("type", Reply::bulk_str("index")),
            ("spec", map(vec![("index", Reply::Int(i as i64))])),
        ]),
        BeginSearch::Unknown => map(vec![
            ("type", Reply::bulk_str("unknown")),
            ("spec", map(vec![])),
        ]),
        BeginSearch::Keyword { keyword, from } => map(vec![
            ("type", Reply::bulk_str("keyword")),
            (
                "spec",
                map(vec![
                    ("keyword", Reply::bulk_str(keyword)),
                    ("startfrom", Reply::Int(from as i64)),
                ]),
            ),
        ]),
    };
    let find = match &ks.keynum {
        _ if matches!(ks.begin, BeginSearch::Unknown) => map(vec![
            ("type", Reply::bulk_str("unknown")),
            ("spec", map(vec![])),
        ]),
        Some(k) => map(vec![
            ("type", Reply::bulk_str("keynum")),
            (
                "spec",
                map(vec![
                    ("keynumidx", Reply::Int(k.keynumidx as i64)),
                    ("firstkey", Reply::Int(k.firstkey as i64)),
                    ("keystep", Reply::Int(k.keystep as i64)),
                ]),
            ),
        ]),
        None => map(vec![
            ("type", Reply::bulk_str("range")),
            (
                "spec",
                map(vec![
                    ("lastkey", Reply::Int(ks.last as i64)),
                    ("keystep", Reply::Int(ks.step as i64)),
                    ("limit", Reply::Int(ks.limit as i64)),
                ]),
            ),
        ]),
    };
    let mut pairs = Vec::new();
    if let Some(notes) = ks.notes {
        pairs.push(("notes", Reply::bulk_str(notes)));
    }
    pairs.push((
        "flags",
        Reply::Set(ks.flags.iter().map(|f| Reply::Status(f)).collect()),
    ));
    pairs.push(("begin_search", begin));
    pairs.push(("find_keys", find));
    map(pairs)
}

fn info_entry(spec: &'static CommandSpec) -> Reply {
    let container = !spec.subcommands.is_empty();
    let subs = container.then(|| {
        spec.subcommands
            .iter()
            .map(|sub| {
                let name = format!("{}|{}", spec.name, sub.name);
                match spec.sub_info.iter().find(|i| i.name == sub.name) {
                    Some(info) => info_row(
                        &name,
                        sub.arity,
                        info.flags,
                        info.keys,
                        categories(spec.group, info.flags, false, false),
                        info.tips,
                        info.key_specs,
                        None,
                    ),
                    None => info_row(
                        &name,
                        sub.arity,
                        spec.flags,
                        (0, 0, 0),
                        categories(spec.group, spec.flags, false, false),
                        &[],
                        &[],
                        None,
                    ),
                }
            })
            .collect()
    });
    info_row(
        spec.name,
        spec.arity,
        spec.flags,
        (spec.first_key, spec.last_key, spec.step),
        categories(
            spec.group,
            spec.flags,
            container,
            spec.props.has(Props::DANGEROUS),
        ),
        spec.tips,
        spec.key_specs,
        subs,
    )
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

/// COMMAND GETKEYS: the key arguments, by the row's key positions (a
/// subcommand's own, when the table has them).
fn getkeys(table: &Registry, command: &[Bytes]) -> CmdResult {
    let Some(spec) = table.lookup(&command[0]) else {
        return err(errors::GETKEYS_INVALID_COMMAND);
    };
    let sub = command.get(1).and_then(|name| spec.subcommand(name));
    if !CommandSpec::arity_ok(spec.arity, command.len())
        || sub.is_some_and(|sub| !CommandSpec::arity_ok(sub.arity, command.len()))
    {
        return err(errors::GETKEYS_INVALID_ARITY);
    }
    let keys = key_args(spec, command);
    let (first_key, key_specs) = key_positions(spec, command);
    if keys.is_empty() && key_specs.iter().any(|ks| ks.keynum.is_some()) {
        // A count of keys that is no count, or more keys than arguments.
        return err(errors::GETKEYS_INVALID_ARGS);
    }
    if keys.is_empty() && first_key.0 == 0 {
        return err(errors::GETKEYS_NO_KEYS);
    }
    Ok(Reply::bulks(keys.into_iter().cloned()))
}
