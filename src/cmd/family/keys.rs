//! Generic keyspace commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, the
//! TTL and EXPIRE families, DBSIZE, FLUSHDB, FLUSHALL, ...

use bytes::Bytes;

use crate::cmd::args::{int_arg, is};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::helpers::rdb::{self, DecodeError, Object};
use crate::cmd::helpers::scan::{parse_cursor, scan_options, scan_reply};
use crate::cmd::spec::{CommandSpec, KeySpec, NO_KEYS, ONE_KEY, Props, key_at, ks};
use crate::reply::{OK, Reply};
use crate::store::{Db, KeyKind, Member, MemberRange, position_member, score_of, score_order};

const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const W: &[&str] = &["write"];
const WF: &[&str] = &["write", "fast"];
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);

static RENAME_KEYS: &[KeySpec] = &[
    key_at(1, &["RW", "access", "delete"]),
    key_at(2, &["OW", "update"]),
];
static RENAMENX_KEYS: &[KeySpec] = &[
    key_at(1, &["RW", "access", "delete"]),
    key_at(2, &["OW", "insert"]),
];
static COPY_KEYS: &[KeySpec] = &[key_at(1, &["RO", "access"]), key_at(2, &["OW", "update"])];

pub static COMMANDS: &[CommandSpec] = commands! { family: Keys, group: "generic";
    "del", -2, W, ALL_KEYS, "1.0.0", data!(cmd_del), "Delete a key", keys: ks::RM_DELETE_ALL;
    "unlink", -2, WF, ALL_KEYS, "4.0.0", data!(cmd_del), "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", keys: ks::RM_DELETE_ALL;
    "exists", -2, RF, ALL_KEYS, "1.0.0", data!(cmd_exists), "Determine if a key exists", props: Props::NO_TOUCH, keys: ks::RO_ALL;
    "touch", -2, RF, ALL_KEYS, "3.2.1", data!(cmd_exists), "Alters the last access time of a key(s). Returns the number of existing keys specified.", props: Props::ALWAYS_TOUCHES, keys: ks::RO_ALL;
    "type", 2, RF, ONE_KEY, "1.0.0", data!(cmd_type), "Determine the type stored at key", props: Props::NO_TOUCH, keys: ks::RO;
    "keys", 2, R, NO_KEYS, "1.0.0", data!(cmd_keys), "Find all keys matching the given pattern";
    "scan", -2, R, NO_KEYS, "2.8.0", data!(scan; args), "Incrementally iterate the keys space";
    "randomkey", 1, R, NO_KEYS, "1.0.0", data!(cmd_randomkey), "Return a random key from the keyspace";
    "rename", 3, W, (1, 2, 1), "1.0.0", data!(cmd_rename; args), "Rename a key", keys: RENAME_KEYS;
    "renamenx", 3, WF, (1, 2, 1), "1.0.0", data!(cmd_renamenx; args), "Rename a key, only if the new key does not exist", keys: RENAMENX_KEYS;
    "ttl", 2, RF, ONE_KEY, "1.0.0", data!(cmd_ttl), "Get the time to live for a key in seconds", props: Props::NO_TOUCH, keys: ks::RO_ACCESS;
    "pttl", 2, RF, ONE_KEY, "2.6.0", data!(cmd_pttl), "Get the time to live for a key in milliseconds", props: Props::NO_TOUCH, keys: ks::RO_ACCESS;
    "expiretime", 2, RF, ONE_KEY, "7.0.0", data!(cmd_expiretime), "Get the expiration Unix timestamp for a key", props: Props::NO_TOUCH, keys: ks::RO_ACCESS;
    "pexpiretime", 2, RF, ONE_KEY, "7.0.0", data!(cmd_pexpiretime), "Get the expiration Unix timestamp for a key in milliseconds", props: Props::NO_TOUCH, keys: ks::RO_ACCESS;
    "expire", -3, WF, ONE_KEY, "1.0.0", data!(cmd_expire), "Set a key's time to live in seconds", keys: ks::RW_UPDATE;
    "pexpire", -3, WF, ONE_KEY, "2.6.0", data!(cmd_pexpire), "Set a key's time to live in milliseconds", keys: ks::RW_UPDATE;
    "expireat", -3, WF, ONE_KEY, "1.2.0", data!(cmd_expireat), "Set the expiration for a key as a UNIX timestamp", keys: ks::RW_UPDATE;
    "pexpireat", -3, WF, ONE_KEY, "2.6.0", data!(cmd_pexpireat), "Set the expiration for a key as a UNIX timestamp specified in milliseconds", keys: ks::RW_UPDATE;
    "persist", 2, WF, ONE_KEY, "2.2.0", data!(cmd_persist), "Remove the expiration from a key", keys: ks::RW_UPDATE;
    "move", 3, WF, ONE_KEY, "1.0.0", data!(move_key; args), "Move a key to another database", keys: ks::RW_ACCESS_UPDATE;
    "copy", -3, &["write", "denyoom"], (1, 2, 1), "6.2.0", data!(copy; args), "Copy a key", keys: COPY_KEYS;
    "dump", 2, R, ONE_KEY, "2.6.0", data!(dump; args), "Return a serialized version of the value stored at the specified key.", keys: DUMP_KEYS, tips: &["nondeterministic_output"];
    "restore", -4, &["write", "denyoom"], ONE_KEY, "2.6.0", data!(restore; args), "Create a key using the provided serialized value, previously obtained using DUMP.", keys: RESTORE_KEYS;
};

static DUMP_KEYS: &[KeySpec] = &[key_at(1, &["RO", "access"])];
static RESTORE_KEYS: &[KeySpec] = &[key_at(1, &["OW", "update"])];

/// The commands over a whole database, which Redis groups under server.
pub static KEYSPACE: &[CommandSpec] = commands! { family: Keys, group: "server";
    "swapdb", 3, WF, NO_KEYS, "4.0.0", data!(swapdb; args), "Swaps two Redis databases";
    "dbsize", 1, RF, NO_KEYS, "1.0.0", data!(cmd_dbsize), "Return the number of keys in the selected database";
    "flushdb", -1, W, NO_KEYS, "1.0.0", data!(cmd_flushdb; args), "Remove all keys from the current database";
    "flushall", -1, W, NO_KEYS, "1.0.0", data!(cmd_flushall; args), "Remove all keys from all databases";
};

/// DEL / UNLINK.
pub(crate) async fn cmd_del(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let mut deleted = 0;
    for key in &args[1..] {
        if ctx.for_write(key).await?.is_some() && ctx.txn.delete(ctx.db, key).await? {
            ctx.notify(b'g', "del", key);
            deleted += 1;
        }
    }
    Ok(Reply::Int(deleted))
}

/// EXISTS / TOUCH.
pub(crate) async fn cmd_exists(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let mut found = 0;
    for key in &args[1..] {
        let hit = ctx.live(key).await?.is_some();
        ctx.count_lookup(hit);
        found += hit as i64;
    }
    Ok(Reply::Int(found))
}

/// TYPE.
pub(crate) async fn cmd_type(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let meta = ctx.live(&args[1]).await?;
    ctx.count_lookup(meta.is_some());
    Ok(Reply::Status(meta.map_or("none", |m| m.kind.name())))
}

/// KEYS.
pub(crate) async fn cmd_keys(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    keys(ctx, &args[1]).await
}

/// RANDOMKEY.
pub(crate) async fn cmd_randomkey(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    Ok(Reply::opt_bulk(ctx.txn.random_key(ctx.db, ctx.now).await?))
}

/// RENAME key newkey
async fn cmd_rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rename(ctx, &args[1], &args[2], false).await
}

/// RENAMENX key newkey
async fn cmd_renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rename(ctx, &args[1], &args[2], true).await
}

/// TTL.
pub(crate) async fn cmd_ttl(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    ttl(ctx, &args[1], false, false).await
}

/// PTTL.
pub(crate) async fn cmd_pttl(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    ttl(ctx, &args[1], true, false).await
}

/// EXPIRETIME.
pub(crate) async fn cmd_expiretime(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    ttl(ctx, &args[1], false, true).await
}

/// PEXPIRETIME.
pub(crate) async fn cmd_pexpiretime(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    ttl(ctx, &args[1], true, true).await
}

/// EXPIRE key seconds [NX|XX|GT|LT]
async fn cmd_expire(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    expire(ctx, spec.name, args, true, true).await
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]
async fn cmd_pexpire(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    expire(ctx, spec.name, args, false, true).await
}

/// EXPIREAT key unix-time-seconds [NX|XX|GT|LT]
async fn cmd_expireat(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    expire(ctx, spec.name, args, true, false).await
}

/// PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]
async fn cmd_pexpireat(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    expire(ctx, spec.name, args, false, false).await
}

/// PERSIST.
pub(crate) async fn cmd_persist(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let key = &args[1];
    match ctx.for_write(key).await? {
        Some(meta) if meta.expire_at.is_some() => {
            ctx.txn.set_expire(ctx.db, key, None).await?;
            ctx.notify(b'g', "persist", key);
            Ok(Reply::Int(1))
        }
        _ => Ok(Reply::Int(0)),
    }
}

/// DBSIZE.
pub(crate) async fn cmd_dbsize(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    _args: &[Bytes],
) -> CmdResult {
    let counts = ctx.txn.counts(ctx.now).await?;
    Ok(Reply::Int(
        counts.iter().find(|c| c.db == ctx.db).map_or(0, |c| c.keys),
    ))
}

/// FLUSHDB [ASYNC|SYNC]
async fn cmd_flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let db = ctx.db;
    flush(ctx, args, Some(db)).await
}

/// FLUSHALL [ASYNC|SYNC]
async fn cmd_flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    flush(ctx, args, None).await
}

/// Empties one database, or all (`db` None).
async fn flush(ctx: &mut Ctx<'_>, args: &[Bytes], db: Option<Db>) -> CmdResult {
    // Redis's getFlushCommandFlags: nothing, SYNC or ASYNC.
    let mode_ok = match args.get(1) {
        None => true,
        Some(mode) => args.len() == 2 && (is(mode, "sync") || is(mode, "async")),
    };
    if !mode_ok {
        return err(errors::SYNTAX);
    }
    ctx.txn.flush(db).await?;
    // Every instance's tracking clients drop what they cached.
    ctx.events.push(crate::store::Event::setting(
        crate::events::tracking::FLUSHED_SETTING,
        "",
    ));
    Ok(OK)
}

/// KEYS pattern: every live key matching, narrowed to the pattern's
/// literal prefix in the store.
async fn keys(ctx: &mut Ctx<'_>, pattern: &[u8]) -> CmdResult {
    let found = ctx.txn.keys_matching(ctx.db, pattern, ctx.now).await?;
    Ok(Reply::bulks(found))
}

/// SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]
///
/// The cursor is the [`key_hash`](crate::store::key_hash) of the last key
/// returned: each page holds about COUNT keys in hash order (the store
/// never splits keys sharing a hash), then MATCH, TYPE and expiry filter
/// it, so a page may come back short or empty with a non-zero cursor.
async fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[1])?;
    let opts = scan_options(&args[2..], true)?;
    // Key hashes are below 2^62: a larger cursor is past the end.
    let Ok(cursor) = i64::try_from(cursor) else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let limit = u32::try_from(opts.count).unwrap_or(u32::MAX);
    let (page, next) = ctx.txn.scan(ctx.db, cursor, limit).await?;
    let now = ctx.now;
    let keys = page
        .into_iter()
        .filter(|(key, meta)| {
            meta.is_live(now)
                && opts.matches(key)
                && opts
                    .kind
                    .is_none_or(|k| k.eq_ignore_ascii_case(meta.kind.name().as_bytes()))
        })
        .map(|(key, _)| Reply::Bulk(key))
        .collect();
    Ok(scan_reply(next as u64, keys))
}

/// RENAME / RENAMENX, as Redis's renameGenericCommand: the source must
/// exist (even when renamed to itself); the value and its TTL move to the
/// destination, which is replaced if it exists (RENAMENX answers 0).
async fn rename(ctx: &mut Ctx<'_>, src: &Bytes, dst: &Bytes, nx: bool) -> CmdResult {
    let Some(meta) = ctx.for_write(src).await? else {
        return err(errors::NO_SUCH_KEY);
    };
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { OK });
    }
    if ctx.for_write(dst).await?.is_some() {
        if nx {
            return Ok(Reply::Int(0));
        }
        ctx.txn.delete(ctx.db, dst).await?;
    }
    let value = read_value(ctx, ctx.db, src, meta.kind).await?;
    write_value(ctx, ctx.db, dst, &value, meta.expire_at).await?;
    ctx.txn.delete(ctx.db, src).await?;
    // Redis's dbAdd announces the destination as a new key first.
    ctx.notify(b'n', "new", dst);
    ctx.notify(b'g', "rename_from", src);
    ctx.notify(b'g', "rename_to", dst);
    Ok(if nx { Reply::Int(1) } else { OK })
}

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 for a missing key, -1 for no
/// deadline; seconds are rounded to the nearest as Redis does.
async fn ttl(ctx: &mut Ctx<'_>, key: &[u8], ms: bool, absolute: bool) -> CmdResult {
    let meta = ctx.live(key).await?;
    ctx.count_lookup(meta.is_some());
    let Some(meta) = meta else {
        return Ok(Reply::Int(-2));
    };
    let Some(at) = meta.expire_at else {
        return Ok(Reply::Int(-1));
    };
    let left = if absolute { at } else { at - ctx.now }.max(0);
    Ok(Reply::Int(if ms {
        left
    } else {
        ((left as i128 + 500) / 1000) as i64
    }))
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key n [NX|XX|GT|LT], as Redis's
/// expireGenericCommand (a key without a TTL counts as an infinite one).
/// Sets a key's expiry from a time in seconds or milliseconds, relative
/// to now or absolute (`name` for the error texts).
async fn expire(
    ctx: &mut Ctx<'_>,
    name: &str,
    args: &[Bytes],
    seconds: bool,
    relative: bool,
) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            return err(errors::unsupported_option(opt));
        }
    }
    if nx && (xx || gt || lt) {
        return err(errors::EXPIRE_OPTIONS);
    }
    if gt && lt {
        return err(errors::GT_LT);
    }
    let mut when = int_arg(&args[2])?;
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return err(errors::invalid_expire(name));
        }
        when *= 1000;
    }
    let base = if relative { ctx.now } else { 0 };
    if when > i64::MAX - base {
        return err(errors::invalid_expire(name));
    }
    when += base;

    let key = &args[1];
    let Some(meta) = ctx.for_write(key).await? else {
        return Ok(Reply::Int(0));
    };
    let current = meta.expire_at;
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        return Ok(Reply::Int(0));
    }
    if when <= ctx.now {
        ctx.txn.delete(ctx.db, key).await?;
        ctx.notify(b'g', "del", key);
    } else {
        ctx.txn.set_expire(ctx.db, key, Some(when)).await?;
        ctx.notify(b'g', "expire", key);
    }
    Ok(Reply::Int(1))
}

/// A key's whole value, read to be written elsewhere (RENAME, MOVE,
/// COPY). A new kind adds its variant here, with its arms in
/// [`read_value`] and [`write_value`].
pub enum Value {
    String(Bytes),
    /// Field/value pairs.
    Hash(Vec<(Bytes, Bytes)>),
    /// A list's, set's or sorted set's member rows.
    Members(KeyKind, Vec<Member>),
}

/// Reads the whole value of a live key of `kind` in database `db`.
pub async fn read_value(
    ctx: &mut Ctx<'_>,
    db: Db,
    key: &Bytes,
    kind: KeyKind,
) -> Result<Value, CmdError> {
    Ok(match kind {
        KeyKind::String => Value::String(
            ctx.txn
                .string_get(db, key)
                .await?
                .map(|(_, v)| v)
                .unwrap_or_default(),
        ),
        KeyKind::Hash => Value::Hash(ctx.txn.hash_all(db, key).await?),
        // An event stream has no rows (its writes are refused first).
        KeyKind::Stream if ctx.event_stream(key).is_some() => {
            return err(errors::read_only_stream(key));
        }
        kind @ (KeyKind::List | KeyKind::Set | KeyKind::ZSet | KeyKind::Stream) => Value::Members(
            kind,
            ctx.txn
                .members_range(db, key, &MemberRange::All, false, 0, None)
                .await?,
        ),
    })
}

/// Creates `key` in database `db` (absent: the caller deleted whatever
/// was there) holding `value`, with the deadline `expire_at`.
pub async fn write_value(
    ctx: &mut Ctx<'_>,
    db: Db,
    key: &Bytes,
    value: &Value,
    expire_at: Option<i64>,
) -> Result<(), CmdError> {
    match value {
        Value::String(v) => ctx.txn.string_put(db, key, v, expire_at).await?,
        Value::Hash(pairs) => {
            ctx.txn.hash_put(db, key, pairs).await?;
            if expire_at.is_some() {
                ctx.txn.set_expire(db, key, expire_at).await?;
            }
        }
        Value::Members(kind, rows) => {
            ctx.txn.members_put(db, key, *kind, rows).await?;
            if expire_at.is_some() {
                ctx.txn.set_expire(db, key, expire_at).await?;
            }
        }
    }
    Ok(())
}

/// A database number argument (MOVE, COPY DB): a C `int` below
/// `databases` (else out of range).
fn db_arg(ctx: &Ctx<'_>, arg: &[u8]) -> Result<Db, CmdError> {
    db_in_range(ctx, db_number(arg, None)?)
}

/// A C `int` argument, as Redis's getIntFromObjectOrReply: `message` for
/// any failure when given, else its two errors (not an integer; out of
/// `int`'s range).
fn db_number(arg: &[u8], message: Option<&'static str>) -> Result<i64, CmdError> {
    let fail = |default: &'static str| CmdError::Reply(message.unwrap_or(default).into());
    let n = crate::protocol::parse_i64(arg).ok_or_else(|| fail(errors::NOT_INTEGER))?;
    if i32::try_from(n).is_err() {
        return Err(fail(errors::NOT_C_INT));
    }
    Ok(n)
}

fn db_in_range(ctx: &Ctx<'_>, n: i64) -> Result<Db, CmdError> {
    if n < 0 || n >= ctx.instance.config.databases as i64 {
        return err(errors::DB_OUT_OF_RANGE);
    }
    Ok(n as Db)
}

/// [`Ctx::for_write`] in another database.
async fn for_write_in(
    ctx: &mut Ctx<'_>,
    db: Db,
    key: &Bytes,
) -> Result<Option<crate::store::KeyMeta>, CmdError> {
    let home = std::mem::replace(&mut ctx.db, db);
    let found = ctx.for_write(key).await;
    ctx.db = home;
    found
}

/// MOVE key db, as Redis 7.0's moveCommand: 0 when the key is missing or
/// already in the target; events `new` and `move_to` in the target,
/// `move_from` in the source.
async fn move_key(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let dst = db_arg(ctx, &args[2])?;
    if dst == ctx.db {
        return err(errors::SAME_OBJECT);
    }
    let Some(meta) = ctx.for_write(key).await? else {
        return Ok(Reply::Int(0));
    };
    if for_write_in(ctx, dst, key).await?.is_some() {
        return Ok(Reply::Int(0));
    }
    let value = read_value(ctx, ctx.db, key, meta.kind).await?;
    write_value(ctx, dst, key, &value, meta.expire_at).await?;
    ctx.txn.delete(ctx.db, key).await?;
    ctx.notify_in(dst, b'n', "new", key);
    ctx.notify(b'g', "move_from", key);
    ctx.notify_in(dst, b'g', "move_to", key);
    Ok(Reply::Int(1))
}

/// COPY source destination [DB db] [REPLACE], as Redis 7.0's copyCommand:
/// events `new` and `copy_to` in the target database (a replaced
/// destination goes without a `del`).
async fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (src, dst) = (&args[1], &args[2]);
    let mut replace = false;
    let mut db = ctx.db;
    let mut j = 3;
    while j < args.len() {
        if is(&args[j], "replace") {
            replace = true;
        } else if is(&args[j], "db") && j + 1 < args.len() {
            db = db_arg(ctx, &args[j + 1])?;
            j += 1;
        } else {
            return err(errors::SYNTAX);
        }
        j += 1;
    }
    if db == ctx.db && src == dst {
        return err(errors::SAME_OBJECT);
    }
    let Some(meta) = ctx.live(src).await? else {
        return Ok(Reply::Int(0));
    };
    if for_write_in(ctx, db, dst).await?.is_some() {
        if !replace {
            return Ok(Reply::Int(0));
        }
        ctx.txn.delete(db, dst).await?;
    }
    let value = read_value(ctx, ctx.db, src, meta.kind).await?;
    write_value(ctx, db, dst, &value, meta.expire_at).await?;
    ctx.notify_in(db, b'n', "new", dst);
    ctx.notify_in(db, b'g', "copy_to", dst);
    Ok(Reply::Int(1))
}

/// SWAPDB index1 index2: the two databases trade contents (no keyspace
/// events, as in Redis 7.0).
async fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let a = db_number(&args[1], Some(errors::INVALID_FIRST_DB))?;
    let b = db_number(&args[2], Some(errors::INVALID_SECOND_DB))?;
    let (a, b) = (db_in_range(ctx, a)?, db_in_range(ctx, b)?);
    if a != b {
        ctx.txn.swap_db(a, b).await?;
    }
    Ok(OK)
}

/// DUMP key: the value in Redis's RDB serialization ([`rdb::encode`]), or
/// nil for a missing key.
async fn dump(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let meta = ctx.live(key).await?;
    ctx.count_lookup(meta.is_some());
    let Some(meta) = meta else {
        return Ok(Reply::Nil);
    };
    if meta.kind == KeyKind::Stream && ctx.event_stream(key).is_none() {
        return err(errors::DUMP_STREAM);
    }
    let value = read_value(ctx, ctx.db, key, meta.kind).await?;
    Ok(Reply::Bulk(Bytes::from(rdb::encode(&to_object(value)))))
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency], as Redis 7.0's restoreCommand: options first (IDLETIME
/// and FREQ exclude each other), then BUSYKEY, the TTL, the payload's
/// version and CRC, its value; a TTL already past creates nothing (and a
/// replaced key goes with a `del` event). Events `new` and `restore`.
///
/// IDLETIME sets the key's idle time on this instance (OBJECT IDLETIME);
/// FREQ is checked and ignored, as OBJECT FREQ has no LFU policy to report.
async fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(&args[j], "replace") {
            replace = true;
        } else if is(&args[j], "absttl") {
            absttl = true;
        } else if is(&args[j], "idletime") && more && freq.is_none() {
            let n = int_arg(&args[j + 1])?;
            if n < 0 {
                return err(errors::INVALID_IDLETIME);
            }
            idle = Some(n);
            j += 1;
        } else if is(&args[j], "freq") && more && idle.is_none() {
            let n = int_arg(&args[j + 1])?;
            if !(0..=255).contains(&n) {
                return err(errors::INVALID_FREQ);
            }
            freq = Some(n);
            j += 1;
        } else {
            return err(errors::SYNTAX);
        }
        j += 1;
    }
    if !replace && ctx.for_write(key).await?.is_some() {
        return err(errors::BUSYKEY);
    }
    let ttl = int_arg(&args[2])?;
    if ttl < 0 {
        return err(errors::INVALID_TTL);
    }
    let object = rdb::decode(&args[3]).map_err(|e| {
        CmdError::Reply(
            match e {
                DecodeError::VersionOrChecksum => errors::DUMP_PAYLOAD,
                DecodeError::BadFormat => errors::BAD_DATA_FORMAT,
            }
            .into(),
        )
    })?;
    let mut deleted = false;
    if replace && ctx.for_write(key).await?.is_some() {
        deleted = ctx.txn.delete(ctx.db, key).await?;
    }
    let expire_at = match ttl {
        0 => None,
        ttl if absttl => Some(ttl),
        ttl => Some(ttl.saturating_add(ctx.now)),
    };
    if expire_at.is_some_and(|at| at <= ctx.now) {
        if deleted {
            ctx.notify(b'g', "del", key);
        }
        return Ok(OK);
    }
    write_value(ctx, ctx.db, key, &from_object(object), expire_at).await?;
    if let Some(idle) = idle {
        ctx.instance
            .access
            .set_idle(ctx.db, key, u64::try_from(idle).unwrap_or(0));
    }
    ctx.notify(b'n', "new", key);
    ctx.notify(b'g', "restore", key);
    Ok(OK)
}

/// A value read from the store as the payload's object.
fn to_object(value: Value) -> Object {
    match value {
        Value::String(s) => Object::String(s),
        Value::Hash(pairs) => Object::Hash(pairs),
        Value::Members(KeyKind::List, rows) => {
            Object::List(rows.into_iter().map(|m| m.value).collect())
        }
        Value::Members(KeyKind::ZSet, rows) => Object::ZSet(
            rows.into_iter()
                .map(|m| (m.member, score_of(m.score)))
                .collect(),
        ),
        Value::Members(_, rows) => Object::Set(rows.into_iter().map(|m| m.member).collect()),
    }
}

/// A payload's object as the rows [`write_value`] stores.
fn from_object(object: Object) -> Value {
    match object {
        Object::String(s) => Value::String(s),
        Object::Hash(pairs) => Value::Hash(pairs),
        Object::List(items) => Value::Members(
            KeyKind::List,
            items
                .into_iter()
                .enumerate()
                .map(|(i, value)| Member {
                    member: position_member(i as i64),
                    score: i as i64,
                    value,
                })
                .collect(),
        ),
        Object::Set(members) => Value::Members(
            KeyKind::Set,
            members
                .into_iter()
                .map(|member| Member {
                    member,
                    score: 0,
                    value: Bytes::new(),
                })
                .collect(),
        ),
        Object::ZSet(members) => Value::Members(
            KeyKind::ZSet,
            members
                .into_iter()
                .map(|(member, score)| Member {
                    member,
                    score: score_order(score),
                    value: Bytes::new(),
                })
                .collect(),
        ),
    }
}
