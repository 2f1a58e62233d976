//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS),
//! answered from the command table the request path hands in.

use bytes::Bytes;

use crate::cmd::args::is;
use crate::cmd::errors::{self, CmdResult, err};
use crate::cmd::key_args::{key_args_with_flags, key_positions};
use crate::cmd::registry::Registry;
use crate::cmd::spec::{BeginSearch, CommandSpec, Handler, KeySpec, NO_KEYS, SubSpec};
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
    "getkeys", -4, "Extract keys given a full Redis command";
    "getkeysandflags", -4, "Extract keys and access flags given a full Redis command";
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
        b"list" => list(table, args),
        b"getkeys" => getkeys(table, &args[2..], false),
        b"getkeysandflags" => getkeys(table, &args[2..], true),
        b"help" => Ok(Reply::help(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Print this help.",
        ])),
        _ => err(errors::unknown_subcommand(&args[1], "command")),
    }
}

/// Redis's ACL categories, in the order COMMAND INFO lists them.
const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The categories Redis gives a command by name (its command table's
/// `acl_categories`), beside those its flags imply: by its group, but for
/// the commands named here. `name` is the full name (`client|list`).
fn named_categories(name: &str, group: &str) -> &'static [&'static str] {
    let container = name.split('|').next().unwrap_or(name);
    match (container, name) {
        (_, "sort" | "sort_ro") => &["set", "sortedset", "list", "dangerous"],
        (_, "keys" | "restore") => &["keyspace", "dangerous"],
        (_, "flushall" | "flushdb" | "swapdb") => &["keyspace", "dangerous"],
        (_, "dbsize") => &["keyspace"],
        (_, "info") => &["dangerous"],
        (_, "lastsave") => &["admin", "dangerous"],
        // The containers themselves (CLIENT, CONFIG) have none.
        ("client", "client") => &[],
        ("client" | "command", _) => &["connection"],
        _ => match group {
            "generic" => &["keyspace"],
            "string" => &["string"],
            "bitmap" => &["bitmap"],
            "hash" => &["hash"],
            "list" => &["list"],
            "set" => &["set"],
            "sorted-set" => &["sortedset"],
            "stream" => &["stream"],
            "connection" => &["connection"],
            "transactions" => &["transaction"],
            "scripting" => &["scripting"],
            // pubsub's come from the `pubsub` flag; server's are named.
            _ => &[],
        },
    }
}

/// The categories of a command or subcommand as a set of bits (in
/// [`CATEGORIES`]' order): its named ones and those its flags imply, as
/// Redis adds them (`write`, `read`, `admin` and `dangerous`, `pubsub`,
/// `fast`, else `slow`, `blocking`).
fn category_bits(name: &str, group: &str, flags: &[&str]) -> u32 {
    let bit = |cat: &str| {
        CATEGORIES
            .iter()
            .position(|c| *c == cat)
            .map_or(0, |i| 1u32 << i)
    };
    let mut bits = named_categories(name, group)
        .iter()
        .fold(0, |bits, cat| bits | bit(cat));
    for (flag, cats) in [
        ("write", &["write"][..]),
        ("readonly", &["read"]),
        ("admin", &["admin", "dangerous"]),
        ("pubsub", &["pubsub"]),
        ("fast", &["fast"]),
        ("blocking", &["blocking"]),
    ] {
        // Redis gives read-only scripting commands (EVAL_RO) no @read.
        if flags.contains(&flag) && !(flag == "readonly" && bits & bit("scripting") != 0) {
            bits = cats.iter().fold(bits, |bits, cat| bits | bit(cat));
        }
    }
    if bits & bit("fast") == 0 {
        bits |= bit("slow");
    }
    bits
}

/// COMMAND INFO's categories of a command or subcommand.
fn categories(name: &str, group: &str, flags: &[&str]) -> Vec<Reply> {
    let bits = category_bits(name, group, flags);
    CATEGORIES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, cat)| {
            Reply::Status(match *cat {
                "keyspace" => "@keyspace",
                "read" => "@read",
                "write" => "@write",
                "set" => "@set",
                "sortedset" => "@sortedset",
                "list" => "@list",
                "hash" => "@hash",
                "string" => "@string",
                "bitmap" => "@bitmap",
                "hyperloglog" => "@hyperloglog",
                "geo" => "@geo",
                "stream" => "@stream",
                "pubsub" => "@pubsub",
                "admin" => "@admin",
                "fast" => "@fast",
                "slow" => "@slow",
                "blocking" => "@blocking",
                "dangerous" => "@dangerous",
                "connection" => "@connection",
                "transaction" => "@transaction",
                _ => "@scripting",
            })
        })
        .collect()
}

/// A command's flags as COMMAND INFO prints them: with Redis's
/// underscores (`no_auth`, `allow_busy`), without the sentinel-mode ones
/// it never prints.
fn printed_flags(flags: &[&'static str]) -> Vec<Reply> {
    flags
        .iter()
        .filter(|f| !matches!(**f, "sentinel" | "only-sentinel"))
        .map(|f| match *f {
            "no-auth" => Reply::Status("no_auth"),
            "allow-busy" => Reply::Status("allow_busy"),
            "skip-slowlog" => Reply::Status("skip_slowlog"),
            "skip-monitor" => Reply::Status("skip_monitor"),
            "may-replicate" => Reply::Status("may_replicate"),
            "no-mandatory-keys" => Reply::Status("no_mandatory_keys"),
            "no-multi" => Reply::Status("no_multi"),
            "no-async-loading" => Reply::Status("no_async_loading"),
            f => Reply::Status(f),
        })
        .collect()
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
        Reply::Set(printed_flags(flags)),
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
                        categories(&name, spec.group, info.flags),
                        info.tips,
                        info.key_specs,
                        None,
                    ),
                    None => {
                        let flags = sub.flags.unwrap_or(spec.flags);
                        info_row(
                            &name,
                            sub.arity,
                            flags,
                            (0, 0, 0),
                            categories(&name, spec.group, flags),
                            &[],
                            &[],
                            None,
                        )
                    }
                }
            })
            .collect()
    });
    info_row(
        spec.name,
        spec.arity,
        spec.flags,
        (spec.first_key, spec.last_key, spec.step),
        // A container without flags of its own is just slow.
        if container && spec.flags.is_empty() {
            vec![Reply::Status("@slow")]
        } else {
            categories(spec.name, spec.group, spec.flags)
        },
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

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN
/// pattern]: every command and subcommand (`client|list`) by its full
/// name, or those the filter keeps. Respire has no modules; an unknown
/// category keeps none; a pattern is matched ignoring case.
fn list(table: &Registry, args: &[Bytes]) -> CmdResult {
    enum Filter {
        All,
        Module,
        Category(u32),
        Pattern(Vec<u8>),
    }
    let filter = match &args[2..] {
        [] => Filter::All,
        [by, kind, value] if is(by, "filterby") => {
            if is(kind, "module") {
                Filter::Module
            } else if is(kind, "aclcat") {
                let bit = CATEGORIES
                    .iter()
                    .position(|c| c.as_bytes().eq_ignore_ascii_case(value))
                    .map_or(0, |i| 1u32 << i);
                Filter::Category(bit)
            } else if is(kind, "pattern") {
                Filter::Pattern(value.to_ascii_lowercase())
            } else {
                return err(errors::SYNTAX);
            }
        }
        _ => return err(errors::SYNTAX),
    };
    let keeps = |name: &str, group: &str, flags: &[&str]| match &filter {
        Filter::All => true,
        Filter::Module => false,
        Filter::Category(bit) => category_bits(name, group, flags) & bit != 0,
        Filter::Pattern(pattern) => crate::glob::matches(pattern, name.as_bytes()),
    };
    let mut names = Vec::new();
    for spec in table.sorted() {
        let container = !spec.subcommands.is_empty();
        let own = if container && spec.flags.is_empty() {
            // A container without flags of its own is just slow.
            keeps(spec.name, "", &[])
        } else {
            keeps(spec.name, spec.group, spec.flags)
        };
        if own {
            names.push(Reply::bulk_str(spec.name));
        }
        for sub in spec.subcommands {
            let name = format!("{}|{}", spec.name, sub.name);
            let flags = match spec.sub_info.iter().find(|i| i.name == sub.name) {
                Some(info) => info.flags,
                None => sub.flags.unwrap_or(spec.flags),
            };
            if keeps(&name, spec.group, flags) {
                names.push(Reply::bulk_str(&name));
            }
        }
    }
    Ok(Reply::Array(names))
}

/// COMMAND GETKEYS and GETKEYSANDFLAGS: the key arguments of a full
/// command, by the row's key specs (a subcommand's own, when the table
/// has them), with their key-spec flags for GETKEYSANDFLAGS.
fn getkeys(table: &Registry, command: &[Bytes], with_flags: bool) -> CmdResult {
    let Some(spec) = table.lookup(&command[0]) else {
        return err(errors::GETKEYS_INVALID_COMMAND);
    };
    let sub = match command.get(1) {
        Some(name) if !spec.subcommands.is_empty() => match spec.subcommand(name) {
            Some(sub) => Some(sub),
            None => return err(errors::GETKEYS_INVALID_COMMAND),
        },
        _ => None,
    };
    let (first_key, key_specs) = key_positions(spec, command);
    if first_key.0 == 0 && key_specs.is_empty() {
        return err(errors::GETKEYS_NO_KEYS);
    }
    if !CommandSpec::arity_ok(spec.arity, command.len())
        || sub.is_some_and(|sub| !CommandSpec::arity_ok(sub.arity, command.len()))
    {
        return err(errors::GETKEYS_INVALID_ARITY);
    }
    let keys = key_args_with_flags(spec, command);
    if keys.is_empty() {
        // A count of keys that is no count, or more keys than arguments;
        // a command whose keys are all optional has none.
        return if spec.has_flag("no-mandatory-keys") {
            Ok(Reply::Array(vec![]))
        } else {
            err(errors::GETKEYS_INVALID_ARGS)
        };
    }
    Ok(Reply::Array(
        keys.into_iter()
            .map(|(key, flags)| {
                if with_flags {
                    Reply::Array(vec![
                        Reply::Bulk(key.clone()),
                        Reply::Set(flags.iter().map(|f| Reply::Status(f)).collect()),
                    ])
                } else {
                    Reply::Bulk(key.clone())
                }
            })
            .collect(),
    ))
}
