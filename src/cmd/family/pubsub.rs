//! Pub/sub commands: (P)SUBSCRIBE, (P)UNSUBSCRIBE, PUBLISH, PUBSUB.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tracing::debug;

use crate::bus::BusError;
use crate::cmd::errors::{self, CmdResult, err};
use crate::cmd::session::Session;
use crate::cmd::spec::{CommandSpec, NO_KEYS, Props, SubSpec};
use crate::reply::Reply;

const SUB: &[&str] = &["pubsub", "noscript", "loading", "stale"];

pub static COMMANDS: &[CommandSpec] = commands! { family: PubSub, group: "pubsub";
    "subscribe", -2, SUB, NO_KEYS, "2.0.0", session!(cmd_subscribe; args), "Listen for messages published to the given channels", props: Props::SUBSCRIBED.and(Props::CONFIRMS_FIRST);
    "unsubscribe", -1, SUB, NO_KEYS, "2.0.0", session!(cmd_unsubscribe), "Stop listening for messages posted to the given channels", props: Props::SUBSCRIBED;
    "psubscribe", -2, SUB, NO_KEYS, "2.0.0", session!(cmd_psubscribe; args), "Listen for messages published to channels matching the given patterns", props: Props::SUBSCRIBED.and(Props::CONFIRMS_FIRST);
    "punsubscribe", -1, SUB, NO_KEYS, "2.0.0", session!(cmd_punsubscribe), "Stop listening for messages posted to channels matching the given patterns", props: Props::SUBSCRIBED;
    "publish", 3, &["pubsub", "loading", "stale", "fast"], NO_KEYS, "2.0.0", session!(cmd_publish), "Post a message to a channel", props: Props::MAY_REPLICATE;
    "pubsub", -2, &[], NO_KEYS, "2.8.0", session!(pubsub; sync args), "A container for Pub/Sub commands", subs: PUBSUB_SUBCOMMANDS;
};

const PUBSUB_SUB: &[&str] = &["pubsub", "loading", "stale"];

static PUBSUB_SUBCOMMANDS: &[SubSpec] = subcommands! {
    "channels", -2, "List active channels", flags: PUBSUB_SUB;
    "numsub", -2, "Get the count of subscribers for channels", flags: PUBSUB_SUB;
    "numpat", 2, "Get the count of unique patterns pattern subscriptions", flags: PUBSUB_SUB;
    "shardchannels", -2, "List active shard channels", flags: PUBSUB_SUB;
    "shardnumsub", -2, "Get the count of subscribers for shard channels", flags: PUBSUB_SUB;
    help;
};

/// SUBSCRIBE channel [channel ...]
async fn cmd_subscribe(session: &mut Session, args: &[Bytes]) -> CmdResult {
    subscribe_many(session, args, false).await
}

/// PSUBSCRIBE pattern [pattern ...]
async fn cmd_psubscribe(session: &mut Session, args: &[Bytes]) -> CmdResult {
    subscribe_many(session, args, true).await
}

/// Subscribes to channels, or to patterns (`pattern`).
async fn subscribe_many(session: &mut Session, args: &[Bytes], pattern: bool) -> CmdResult {
    let mut replies = Vec::with_capacity(args.len() - 1);
    let mut marked = Vec::new();
    for name in &args[1..] {
        let (reply, added) = subscribe(session, name.clone(), pattern).await;
        replies.push(reply);
        if added && may_carry_keyspace(name, pattern) {
            marked.push(name.clone());
        }
    }
    session.subs.settle().await;
    if !marked.is_empty() {
        // Registered first, then the log's end read: an event logged
        // after it reaches the new subscriptions (even if delivered
        // before the read finished), one logged before does not.
        let mark = watermark(session).await;
        let marks = if pattern {
            &mut session.pattern_marks
        } else {
            &mut session.channel_marks
        };
        for name in marked {
            marks.insert(name, mark);
        }
    }
    Ok(Reply::Many(replies))
}

/// UNSUBSCRIBE.
pub(crate) async fn cmd_unsubscribe(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    Ok(unsubscribe_many(session, &args[1..], false))
}

/// PUNSUBSCRIBE.
pub(crate) async fn cmd_punsubscribe(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    Ok(unsubscribe_many(session, &args[1..], true))
}

/// PUBLISH.
pub(crate) async fn cmd_publish(
    session: &mut Session,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    match session.instance.bus.publish(&args[1], &args[2]).await {
        Ok(receivers) => Ok(Reply::Int(receivers as i64)),
        Err(BusError::Unavailable(_)) => err(errors::PUBSUB_UNAVAILABLE),
        Err(e) => err(errors::bus_rejected(&e)),
    }
}

fn count(session: &Session) -> Reply {
    Reply::Int(session.subs.count() as i64)
}

fn sync_info(session: &Session) {
    let mut info = session.info.lock().unwrap();
    info.sub = session.subs.channels().len();
    info.psub = session.subs.patterns().len();
}

/// The last event id logged before a subscription: the log's end as the
/// store says, or (store unreachable) the last event this instance handed
/// on.
async fn watermark(session: &Session) -> i64 {
    match session.instance.store.last_event_id().await {
        Ok(id) => id,
        Err(e) => {
            let id = session
                .instance
                .events
                .delivered_event
                .load(Ordering::Relaxed);
            debug!(error = %e, id, "cannot read the event log's end; watermark from the relay");
            id
        }
    }
}

/// Channel prefixes of keyspace notifications.
const KEYSPACE_PREFIXES: [&[u8]; 2] = [b"__keyspace@", b"__keyevent@"];

/// True when a channel, or some channel a pattern matches, may be a
/// keyspace notification channel (conservative for patterns: judged by
/// the pattern's literal start).
pub fn may_carry_keyspace(name: &[u8], pattern: bool) -> bool {
    let literal = if pattern {
        let end = name
            .iter()
            .position(|c| matches!(c, b'*' | b'?' | b'[' | b'\\'))
            .unwrap_or(name.len());
        &name[..end]
    } else {
        name
    };
    KEYSPACE_PREFIXES.iter().any(|prefix| {
        let n = prefix.len().min(literal.len());
        literal[..n] == prefix[..n] && (pattern || literal.len() >= prefix.len())
    })
}

/// Subscribes to one channel or pattern; true when it is new for this
/// connection.
async fn subscribe(session: &mut Session, name: Bytes, pattern: bool) -> (Reply, bool) {
    let added = session.subs.add(name.clone(), pattern).await;
    sync_info(session);
    let kind = if pattern { "psubscribe" } else { "subscribe" };
    let reply = Reply::Push(vec![
        Reply::bulk_str(kind),
        Reply::Bulk(name),
        count(session),
    ]);
    (reply, added)
}

fn unsubscribe(session: &mut Session, name: Option<Bytes>, pattern: bool) -> Reply {
    // The watermark stays: notifications still queued from before the
    // subscription must not slip out once it is gone.
    if let Some(name) = &name
        && session.subs.remove(name, pattern)
    {
        prune_marks(session);
    }
    sync_info(session);
    let kind = if pattern {
        "punsubscribe"
    } else {
        "unsubscribe"
    };
    Reply::Push(vec![
        Reply::bulk_str(kind),
        Reply::opt_bulk(name),
        count(session),
    ])
}

/// Forgets the watermarks of past subscriptions once they pile up (a
/// connection cycling through many channels).
fn prune_marks(session: &mut Session) {
    const SPARE: usize = 1024;
    if session.channel_marks.len() > session.subs.channels().len() + SPARE {
        let live: HashSet<&Bytes> = session.subs.channels().iter().collect();
        session.channel_marks.retain(|name, _| live.contains(name));
    }
    if session.pattern_marks.len() > session.subs.patterns().len() + SPARE {
        let live: HashSet<&Bytes> = session.subs.patterns().iter().collect();
        session.pattern_marks.retain(|name, _| live.contains(name));
    }
}

/// Unsubscribes from the named channels/patterns, or from all of them when
/// none are named (one reply per name; a single nil reply if there were none).
fn unsubscribe_many(session: &mut Session, names: &[Bytes], pattern: bool) -> Reply {
    let names: Vec<Bytes> = if names.is_empty() {
        if pattern {
            session.subs.patterns().iter().cloned().collect::<Vec<_>>()
        } else {
            session.subs.channels().iter().cloned().collect::<Vec<_>>()
        }
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        return Reply::Many(vec![unsubscribe(session, None, pattern)]);
    }
    Reply::Many(
        names
            .into_iter()
            .map(|n| unsubscribe(session, Some(n), pattern))
            .collect(),
    )
}

/// Drops every subscription (RESET).
pub fn unsubscribe_all(session: &mut Session) {
    session.subs.clear();
    session.channel_marks.clear();
    session.pattern_marks.clear();
    sync_info(session);
}

fn pubsub(session: &mut Session, args: &[Bytes]) -> CmdResult {
    let bus = &session.instance.bus;
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

#[cfg(test)]
mod tests {
    use super::may_carry_keyspace;

    #[test]
    fn keyspace_channels_and_patterns() {
        assert!(may_carry_keyspace(b"__keyspace@0__:k", false));
        assert!(may_carry_keyspace(b"__keyevent@9__:set", false));
        assert!(!may_carry_keyspace(b"__keyspace", false));
        assert!(!may_carry_keyspace(b"news", false));
        for p in [
            "*",
            "__key*",
            "__key*__:k",
            "_?keyspace*",
            "__keyevent@0__:*",
            "\\_*",
            "[_]*",
        ] {
            assert!(may_carry_keyspace(p.as_bytes(), true), "{p}");
        }
        for p in ["news.*", "compat:c1:*", "__other*", "a*"] {
            assert!(!may_carry_keyspace(p.as_bytes(), true), "{p}");
        }
    }
}
