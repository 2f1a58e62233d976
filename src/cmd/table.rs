//! The command table: every command's spec, collected from the family
//! files, looked up once per request; the checks every request passes
//! before it runs; and COMMAND, answered from the table itself.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use super::Session;
use super::errors::{self, CmdResult, err};
use super::{BeginSearch, CommandSpec, Ctx, Family, Handler, KeySpec};
use super::{HELP_SUBCOMMAND, NO_KEYS, SubSpec, spec};
use super::{
    bits, connection, event_view, hash, keys, list, object, pubsub, set, sort, stream, string,
    transaction, zset,
};
use crate::reply::Reply;

/// Every command, collected from the family tables.
pub fn table() -> &'static HashMap<&'static str, &'static CommandSpec> {
    static TABLE: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let families: [&'static [CommandSpec]; 16] = [
            string::COMMANDS,
            hash::COMMANDS,
            keys::COMMANDS,
            connection::COMMANDS,
            crate::cmd::server::COMMANDS,
            COMMAND,
            pubsub::COMMANDS,
            transaction::COMMANDS,
            string::EXTRA,
            stream::COMMANDS,
            list::COMMANDS,
            set::COMMANDS,
            zset::COMMANDS,
            sort::COMMANDS,
            bits::COMMANDS,
            object::COMMANDS,
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

/// Runs a data command. `args[0]` is the command name. Every data command
/// passes here, so this is where a write to an event stream's name (SET,
/// DEL, RENAME, EXPIRE, HSET, ... at any of the row's key positions) is
/// refused, before it runs.
pub async fn execute(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    if spec.is_write()
        && let Some(key) = key_args(spec, args)
            .into_iter()
            .find(|k| event_view::is_reserved(k))
    {
        return err(errors::read_only_stream(key));
    }
    if touches_keys(spec, ctx.touches) {
        ctx.shared.access.touch(ctx.db, key_args(spec, args));
    }
    match spec.handler {
        Handler::Data(run) | Handler::Blocking(run, _) => run(ctx, spec, args).await,
        _ => err(errors::unhandled(spec.name)),
    }
}

/// Whether a command counts as an access to the keys it names (resets
/// OBJECT IDLETIME): not the commands Redis looks keys up for with
/// LOOKUP_NOTOUCH (OBJECT, TYPE, EXISTS, the TTL family), nor any of a
/// CLIENT NO-TOUCH client's but TOUCH.
fn touches_keys(spec: &CommandSpec, client_touches: bool) -> bool {
    const NO_TOUCH: [&str; 7] = [
        "object",
        "type",
        "exists",
        "ttl",
        "pttl",
        "expiretime",
        "pexpiretime",
    ];
    spec.name == "touch" || (client_touches && !NO_TOUCH.contains(&spec.name))
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

/// Redis's ACL categories for a command or subcommand, derived from its
/// group and flags (a container without flags of its own is just slow).
fn categories(group: &str, flags: &[&str], container: bool) -> Vec<Reply> {
    if container && flags.is_empty() {
        return vec![Reply::Status("@slow")];
    }
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
                        categories(spec.group, info.flags, false),
                        info.tips,
                        info.key_specs,
                        None,
                    ),
                    None => info_row(
                        &name,
                        sub.arity,
                        spec.flags,
                        (0, 0, 0),
                        categories(spec.group, spec.flags, false),
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
        categories(spec.group, spec.flags, container),
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
fn getkeys(command: &[Bytes]) -> CmdResult {
    let Some(spec) = lookup(&command[0]) else {
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

/// Where a command's keys are: first/last/step and key specs, of its
/// subcommand when the table describes that one.
fn key_positions(spec: &CommandSpec, args: &[Bytes]) -> ((i32, i32, i32), &'static [KeySpec]) {
    let sub = args.get(1).and_then(|name| {
        spec.sub_info
            .iter()
            .find(|i| i.name.as_bytes().eq_ignore_ascii_case(name))
    });
    match sub {
        Some(info) => (info.keys, info.key_specs),
        None => ((spec.first_key, spec.last_key, spec.step), spec.key_specs),
    }
}

/// The key arguments of a command: by its key specs when it has them
/// (movable keys), else by first/last/step.
pub fn key_args<'a>(spec: &CommandSpec, args: &'a [Bytes]) -> Vec<&'a Bytes> {
    let ((first_key, last_key, step), key_specs) = key_positions(spec, args);
    if key_specs.is_empty() {
        if first_key == 0 {
            return Vec::new();
        }
        let last = if last_key < 0 {
            args.len() as i32 + last_key
        } else {
            last_key
        };
        return (first_key..=last)
            .step_by(step.max(1) as usize)
            .filter_map(|i| args.get(i as usize))
            .collect();
    }
    let mut keys = Vec::new();
    for ks in key_specs {
        let first = match ks.begin {
            BeginSearch::Unknown => continue,
            BeginSearch::Index(i) => i as usize,
            BeginSearch::Keyword { keyword, from } => {
                match (from.max(1) as usize..args.len()).find(|&i| super::is(&args[i], keyword)) {
                    Some(i) => i + 1,
                    None => continue,
                }
            }
        };
        if first >= args.len() {
            continue;
        }
        if let Some(k) = &ks.keynum {
            let count = args
                .get(first + k.keynumidx as usize)
                .and_then(|a| crate::protocol::parse_i64(a))
                .unwrap_or(0)
                .max(0) as usize;
            let start = first + k.firstkey as usize;
            let step = k.keystep.max(1) as usize;
            // A count beyond the arguments names no keys (Redis: invalid).
            if count > 0 && start + (count - 1) * step < args.len() {
                keys.extend((0..count).map(|i| &args[start + i * step]));
            }
            continue;
        }
        let last = if ks.last >= 0 {
            (first + ks.last as usize).min(args.len() - 1)
        } else {
            let rest = args.len() - first;
            let rest = if ks.limit > 1 {
                rest / ks.limit as usize
            } else {
                rest
            };
            let back = (-ks.last - 1) as usize;
            match (first + rest).checked_sub(1 + back) {
                Some(last) => last,
                None => continue,
            }
        };
        keys.extend(
            (first..=last)
                .step_by(step.max(1) as usize)
                .map(|i| &args[i]),
        );
    }
    keys
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
            let data = matches!(spec.handler, Handler::Data(_) | Handler::Blocking(..));
            assert_eq!(data, spec.family.is_data(), "{}", spec.name);
            for info in spec.sub_info {
                assert!(
                    spec.subcommand(info.name.as_bytes()).is_some(),
                    "{}|{} describes no subcommand",
                    spec.name,
                    info.name
                );
            }
        }
    }

    #[test]
    fn key_args_follow_the_key_specs() {
        let args = |line: &str| -> Vec<Bytes> {
            line.split(' ')
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        };
        let keys = |line: &str| -> Vec<String> {
            let args = args(line);
            let spec = lookup(&args[0]).unwrap();
            key_args(spec, &args)
                .into_iter()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect()
        };
        assert_eq!(keys("XREAD COUNT 2 STREAMS a b c 1 2 3"), ["a", "b", "c"]);
        assert_eq!(keys("XREAD STREAMS a 0"), ["a"]);
        assert_eq!(keys("XINFO STREAM k FULL"), ["k"]);
        assert_eq!(keys("XINFO HELP"), Vec::<String>::new());
        assert_eq!(keys("MSET a 1 b 2"), ["a", "b"]);
        assert_eq!(keys("RENAME a b"), ["a", "b"]);
        assert_eq!(keys("SINTERCARD 2 a b LIMIT 1"), ["a", "b"]);
        assert_eq!(keys("SINTERCARD 1 a b"), ["a"]);
        assert!(keys("SINTERCARD 3 a b").is_empty());
        assert_eq!(keys("SINTERSTORE d a b"), ["d", "a", "b"]);
        assert_eq!(keys("SMOVE a b m"), ["a", "b"]);
        assert_eq!(keys("SET k v"), ["k"]);
        assert_eq!(keys("PING"), Vec::<String>::new());
        assert_eq!(keys("ZUNIONSTORE d 2 a b WEIGHTS 1 2"), ["d", "a", "b"]);
        assert_eq!(keys("ZMPOP 2 a b MIN"), ["a", "b"]);
        assert_eq!(keys("ZUNION 0 a"), Vec::<String>::new());
    }
}
