//! Pub/sub commands: (P)SUBSCRIBE, (P)UNSUBSCRIBE, PUBLISH, PUBSUB.

use bytes::Bytes;

use super::errors::{self, CmdResult, err};
use super::{CommandSpec, Family, HELP_SUBCOMMAND, NO_KEYS, SubSpec, spec};
use crate::bus::BusError;
use crate::connection::Connection;
use crate::reply::Reply;

const G: &str = "pubsub";
const F: Family = Family::PubSub;
const SUB: &[&str] = &["pubsub", "noscript", "loading", "stale"];

pub static COMMANDS: &[CommandSpec] = &[
    spec(
        "subscribe",
        -2,
        SUB,
        NO_KEYS,
        F,
        G,
        "2.0.0",
        "Listen for messages published to the given channels",
    ),
    spec(
        "unsubscribe",
        -1,
        SUB,
        NO_KEYS,
        F,
        G,
        "2.0.0",
        "Stop listening for messages posted to the given channels",
    ),
    spec(
        "psubscribe",
        -2,
        SUB,
        NO_KEYS,
        F,
        G,
        "2.0.0",
        "Listen for messages published to channels matching the given patterns",
    ),
    spec(
        "punsubscribe",
        -1,
        SUB,
        NO_KEYS,
        F,
        G,
        "2.0.0",
        "Stop listening for messages posted to channels matching the given patterns",
    ),
    spec(
        "publish",
        3,
        &["pubsub", "loading", "stale", "fast"],
        NO_KEYS,
        F,
        G,
        "2.0.0",
        "Post a message to a channel",
    ),
    CommandSpec {
        subcommands: PUBSUB_SUBCOMMANDS,
        ..spec(
            "pubsub",
            -2,
            &[],
            NO_KEYS,
            F,
            G,
            "2.8.0",
            "A container for Pub/Sub commands",
        )
    },
];

static PUBSUB_SUBCOMMANDS: &[SubSpec] = &[
    SubSpec {
        name: "channels",
        arity: -2,
        summary: "List active channels",
    },
    SubSpec {
        name: "numsub",
        arity: -2,
        summary: "Get the count of subscribers for channels",
    },
    SubSpec {
        name: "numpat",
        arity: 2,
        summary: "Get the count of unique patterns pattern subscriptions",
    },
    SubSpec {
        name: "shardchannels",
        arity: -2,
        summary: "List active shard channels",
    },
    SubSpec {
        name: "shardnumsub",
        arity: -2,
        summary: "Get the count of subscribers for shard channels",
    },
    HELP_SUBCOMMAND,
];

pub async fn execute(
    conn: &mut Connection,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    match spec.name {
        "subscribe" | "psubscribe" => {
            let pattern = spec.name == "psubscribe";
            let mut replies = Vec::with_capacity(args.len() - 1);
            for name in &args[1..] {
                replies.push(subscribe(conn, name.clone(), pattern).await);
            }
            Ok(Reply::Many(replies))
        }
        "unsubscribe" => Ok(unsubscribe_many(conn, &args[1..], false)),
        "punsubscribe" => Ok(unsubscribe_many(conn, &args[1..], true)),
        "publish" => match conn.shared.bus.publish(&args[1], &args[2]).await {
            Ok(receivers) => Ok(Reply::Int(receivers as i64)),
            Err(BusError::Unavailable(_)) => err(errors::PUBSUB_UNAVAILABLE),
            Err(BusError::Rejected(text)) => err(text),
        },
        "pubsub" => pubsub(conn, args),
        _ => err(format!("ERR unhandled command '{}'", spec.name)),
    }
}

fn count(conn: &Connection) -> Reply {
    Reply::Int((conn.channels.len() + conn.patterns.len()) as i64)
}

fn sync_info(conn: &Connection) {
    let mut info = conn.info.lock().unwrap();
    info.sub = conn.channels.len();
    info.psub = conn.patterns.len();
}

async fn subscribe(conn: &mut Connection, name: Bytes, pattern: bool) -> Reply {
    let list = if pattern {
        &mut conn.patterns
    } else {
        &mut conn.channels
    };
    if !list.contains(&name) {
        list.push(name.clone());
        let sub = conn.subscriber.clone();
        if pattern {
            conn.shared.bus.psubscribe(conn.id, name.clone(), sub).await;
        } else {
            conn.shared.bus.subscribe(conn.id, name.clone(), sub).await;
        }
    }
    sync_info(conn);
    let kind = if pattern { "psubscribe" } else { "subscribe" };
    Reply::Push(vec![Reply::bulk_str(kind), Reply::Bulk(name), count(conn)])
}

fn unsubscribe(conn: &mut Connection, name: Option<Bytes>, pattern: bool) -> Reply {
    if let Some(name) = &name {
        let list = if pattern {
            &mut conn.patterns
        } else {
            &mut conn.channels
        };
        if let Some(pos) = list.iter().position(|c| c == name) {
            list.remove(pos);
            if pattern {
                conn.shared.bus.punsubscribe(conn.id, name);
            } else {
                conn.shared.bus.unsubscribe(conn.id, name);
            }
        }
    }
    sync_info(conn);
    let kind = if pattern {
        "punsubscribe"
    } else {
        "unsubscribe"
    };
    Reply::Push(vec![
        Reply::bulk_str(kind),
        Reply::opt_bulk(name),
        count(conn),
    ])
}

/// Unsubscribes from the named channels/patterns, or from all of them when
/// none are named (one reply per name; a single nil reply if there were none).
fn unsubscribe_many(conn: &mut Connection, names: &[Bytes], pattern: bool) -> Reply {
    let names: Vec<Bytes> = if names.is_empty() {
        if pattern {
            conn.patterns.clone()
        } else {
            conn.channels.clone()
        }
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        return Reply::Many(vec![unsubscribe(conn, None, pattern)]);
    }
    Reply::Many(
        names
            .into_iter()
            .map(|n| unsubscribe(conn, Some(n), pattern))
            .collect(),
    )
}

/// Drops every subscription (RESET, disconnect).
pub fn unsubscribe_all(conn: &mut Connection) {
    for channel in std::mem::take(&mut conn.channels) {
        conn.shared.bus.unsubscribe(conn.id, &channel);
    }
    for pattern in std::mem::take(&mut conn.patterns) {
        conn.shared.bus.punsubscribe(conn.id, &pattern);
    }
    sync_info(conn);
}

fn pubsub(conn: &mut Connection, args: &[Bytes]) -> CmdResult {
    let bus = &conn.shared.bus;
    let sub = args[1].to_ascii_lowercase();
    match &sub[..] {
        b"channels" | b"shardchannels" => {
            if args.len() > 3 {
                return err(errors::subcommand_syntax(&args[1], "pubsub"));
            }
            if &sub[..] == b"shardchannels" {
                return Ok(Reply::Array(vec![]));
            }
            Ok(Reply::bulks(bus.channels(args.get(2).map(|p| &p[..]))))
        }
        b"numsub" | b"shardnumsub" => {
            let shard = &sub[..] == b"shardnumsub";
            // A flat array in RESP3 too, as Redis 7 answers.
            let mut items = Vec::new();
            for channel in &args[2..] {
                let n = if shard { 0 } else { bus.numsub(channel) };
                items.push(Reply::Bulk(channel.clone()));
                items.push(Reply::Int(n as i64));
            }
            Ok(Reply::Array(items))
        }
        b"numpat" => Ok(Reply::Int(bus.numpat() as i64)),
        b"help" => Ok(Reply::help(&[
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "HELP",
            "    Print this help.",
        ])),
        _ => err(errors::unknown_subcommand(&args[1], "pubsub")),
    }
}
