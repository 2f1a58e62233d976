//! OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT | HELP: what Redis 7.0
//! would say of a key's value, decided from the value itself (respire
//! stores no encodings) and this instance's access times.

use bytes::Bytes;

use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdResult, err};
use crate::cmd::spec::{CommandSpec, NO_KEYS, Props, SubInfo, SubSpec, ks};
use crate::reply::Reply;
use crate::store::{KeyKind, MemberRange};

pub static COMMANDS: &[CommandSpec] = commands! { family: Keys, group: "generic";
    "object", -2, &[], NO_KEYS, "2.2.3", data!(object; args), "A container for object introspection commands", subs: OBJECT_SUBCOMMANDS, info: OBJECT_INFO, props: Props::NO_TOUCH;
};

static OBJECT_SUBCOMMANDS: &[SubSpec] = subcommands! {
    "encoding", 3, "Inspect the internal encoding of a Redis object";
    "freq", 3, "Get the logarithmic access frequency counter of a Redis object";
    "idletime", 3, "Get the time since a Redis object was last accessed";
    "refcount", 3, "Get the number of references to the value of the key";
    help;
};

static OBJECT_INFO: &[SubInfo] = &[
    SubInfo {
        name: "encoding",
        flags: &["readonly"],
        keys: (2, 2, 1),
        tips: &["nondeterministic_output"],
        key_specs: ks::SUB_RO,
    },
    SubInfo {
        name: "freq",
        flags: &["readonly"],
        keys: (2, 2, 1),
        tips: &["nondeterministic_output"],
        key_specs: ks::SUB_RO,
    },
    SubInfo {
        name: "idletime",
        flags: &["readonly"],
        keys: (2, 2, 1),
        tips: &["nondeterministic_output"],
        key_specs: ks::SUB_RO,
    },
    SubInfo {
        name: "refcount",
        flags: &["readonly"],
        keys: (2, 2, 1),
        tips: &["nondeterministic_output"],
        key_specs: ks::SUB_RO,
    },
];

/// Redis's OBJ_SHARED_REFCOUNT: the refcount of its shared integers.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Integers below this are shared objects in Redis (OBJ_SHARED_INTEGERS).
const SHARED_INTEGERS: i64 = 10_000;
/// The longest string Redis stores as embstr.
const EMBSTR_MAX: usize = 44;

/// What OBJECT ENCODING needs to know of a value.
pub enum Shape {
    /// A string's bytes.
    String(Bytes),
    /// A hash: its number of fields and its longest field or value.
    Hash {
        len: usize,
        longest: usize,
    },
    Stream,
    List,
    /// A set: its number of members, and whether every member is an
    /// integer.
    Set {
        len: usize,
        integers: bool,
    },
    /// A sorted set: its number of members and its longest member.
    ZSet {
        len: usize,
        longest: usize,
    },
}

/// An encoding threshold in force (CONFIG SET, deployment-wide), else
/// Redis's default. A negative one (a value no size reaches) is 0.
fn limit(instance: &crate::instance::state::Instance, name: &str) -> usize {
    let set = instance
        .events
        .limits
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .cloned();
    set.as_deref()
        .and_then(|v| v.parse::<i64>().ok())
        .map_or_else(|| default_limit(name), |v| usize::try_from(v).unwrap_or(0))
}

/// Redis's default for an encoding threshold.
fn default_limit(name: &str) -> usize {
    crate::cmd::helpers::parameters::PARAMETERS
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// The encoding Redis 7.0 reports for a value of this shape. Where Redis's
/// answer depends on the value's history (a string changed in place by
/// APPEND, SETRANGE, SETBIT or BITFIELD is `raw`; a hash, set or sorted
/// set once converted stays a `hashtable` or `skiplist`), this answers as
/// for a value freshly written.
pub fn encoding(shape: &Shape, limit: &dyn Fn(&str) -> usize) -> &'static str {
    match shape {
        Shape::String(v) if v.len() <= 20 && crate::protocol::parse_i64(v).is_some() => "int",
        Shape::String(v) if v.len() <= EMBSTR_MAX => "embstr",
        Shape::String(_) => "raw",
        Shape::Hash { len, longest }
            if *len <= limit("hash-max-listpack-entries")
                && *longest <= limit("hash-max-listpack-value") =>
        {
            "listpack"
        }
        Shape::Hash { .. } => "hashtable",
        Shape::Stream => "stream",
        // Redis 7.0 reports every list as a quicklist (of listpacks).
        Shape::List => "quicklist",
        Shape::Set { len, integers } if *integers && *len <= limit("set-max-intset-entries") => {
            "intset"
        }
        Shape::Set { .. } => "hashtable",
        Shape::ZSet { len, longest }
            if *len <= limit("zset-max-listpack-entries")
                && *longest <= limit("zset-max-listpack-value") =>
        {
            "listpack"
        }
        Shape::ZSet { .. } => "skiplist",
    }
}

/// The shape of a live key's value.
async fn shape(ctx: &mut Ctx<'_>, key: &[u8], kind: KeyKind) -> Result<Shape, errors::CmdError> {
    Ok(match kind {
        KeyKind::String => Shape::String(
            ctx.txn
                .string_get(ctx.db, key)
                .await?
                .map(|(_, v)| v)
                .unwrap_or_default(),
        ),
        KeyKind::Hash => {
            let len = ctx.txn.hash_len(ctx.db, key).await? as usize;
            // Past the entry limit the lengths no longer matter.
            let longest = if len <= limit(ctx.instance, "hash-max-listpack-entries") {
                ctx.txn
                    .hash_all(ctx.db, key)
                    .await?
                    .iter()
                    .map(|(f, v)| f.len().max(v.len()))
                    .max()
                    .unwrap_or(0)
            } else {
                0
            };
            Shape::Hash { len, longest }
        }
        KeyKind::Stream => Shape::Stream,
        KeyKind::List => Shape::List,
        KeyKind::Set | KeyKind::ZSet => {
            let len = ctx.txn.members_len(ctx.db, key).await? as usize;
            let cap = limit(
                ctx.instance,
                if kind == KeyKind::Set {
                    "set-max-intset-entries"
                } else {
                    "zset-max-listpack-entries"
                },
            );
            // Past the entry limit the members no longer matter.
            let members = if len <= cap {
                ctx.txn
                    .members_range(ctx.db, key, &MemberRange::All, false, 0, None)
                    .await?
            } else {
                Vec::new()
            };
            if kind == KeyKind::Set {
                Shape::Set {
                    len,
                    integers: members
                        .iter()
                        .all(|m| crate::protocol::parse_i64(&m.member).is_some()),
                }
            } else {
                Shape::ZSet {
                    len,
                    longest: members.iter().map(|m| m.member.len()).max().unwrap_or(0),
                }
            }
        }
    })
}

/// OBJECT <subcommand> key
async fn object(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = args[1].to_ascii_lowercase();
    if sub == b"help" {
        return Ok(Reply::help(&[
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ]));
    }
    let key = &args[2];
    let Some(meta) = ctx.live(key).await? else {
        return Ok(Reply::Nil);
    };
    match &sub[..] {
        b"encoding" => {
            let shape = shape(ctx, key, meta.kind).await?;
            Ok(Reply::bulk_str(encoding(&shape, &|name| {
                limit(ctx.instance, name)
            })))
        }
        // maxmemory-policy is noeviction (read-only): never LFU.
        b"freq" => err(errors::LFU_NOT_SELECTED),
        b"idletime" => Ok(Reply::Int(
            ctx.instance.access.idle_seconds(ctx.db, key) as i64
        )),
        b"refcount" => {
            let shared_int = match shape(ctx, key, meta.kind).await? {
                Shape::String(v) if v.len() <= 20 => crate::protocol::parse_i64(&v)
                    .is_some_and(|n| (0..SHARED_INTEGERS).contains(&n)),
                _ => false,
            };
            Ok(Reply::Int(if shared_int { SHARED_REFCOUNT } else { 1 }))
        }
        _ => err(errors::unknown_subcommand(&args[1], "object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis_7_0() {
        let s = |v: &str| {
            encoding(
                &Shape::String(Bytes::copy_from_slice(v.as_bytes())),
                &default_limit,
            )
        };
        assert_eq!(s("123"), "int");
        assert_eq!(s("-9223372036854775808"), "int");
        assert_eq!(s("007"), "embstr");
        assert_eq!(s(&"x".repeat(44)), "embstr");
        assert_eq!(s(&"x".repeat(45)), "raw");
        let hash = |len, longest| encoding(&Shape::Hash { len, longest }, &default_limit);
        assert_eq!(hash(512, 64), "listpack");
        assert_eq!(hash(513, 1), "hashtable");
        assert_eq!(hash(1, 65), "hashtable");
        assert_eq!(encoding(&Shape::List, &default_limit), "quicklist");
        let set = |len, integers| encoding(&Shape::Set { len, integers }, &default_limit);
        assert_eq!(set(512, true), "intset");
        assert_eq!(set(513, true), "hashtable");
        assert_eq!(set(1, false), "hashtable");
        let zset = |len, longest| encoding(&Shape::ZSet { len, longest }, &default_limit);
        assert_eq!(zset(128, 64), "listpack");
        assert_eq!(zset(129, 1), "skiplist");
        assert_eq!(zset(1, 65), "skiplist");
    }
}
