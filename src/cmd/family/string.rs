//! String commands.

use bytes::{Bytes, BytesMut};

use crate::cmd::args::{int_arg, is};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::helpers::long_double;
use crate::cmd::spec::{CommandSpec, KeySpec, ONE_KEY, key_at, keys_to, ks};
use crate::reply::{OK, Reply};
use crate::store::KeyKind;

const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "denyoom", "fast"];
const R: &[&str] = &["readonly", "fast"];

static SET_KEYS: &[KeySpec] = &[KeySpec {
    notes: Some("RW and ACCESS due to the optional `GET` argument"),
    ..key_at(1, &["RW", "access", "update", "variable_flags"])
}];
static GETEX_KEYS: &[KeySpec] = &[KeySpec {
    notes: Some("RW and UPDATE because it changes the TTL"),
    ..key_at(1, &["RW", "access", "update"])
}];
static MSET_KEYS: &[KeySpec] = &[KeySpec {
    step: 2,
    ..keys_to(1, &["OW", "update"], -1)
}];
static MSETNX_KEYS: &[KeySpec] = &[KeySpec {
    step: 2,
    ..keys_to(1, &["OW", "insert"], -1)
}];
static LCS_KEYS: &[KeySpec] = &[keys_to(1, &["RO", "access"], 1)];

pub static COMMANDS: &[CommandSpec] = commands! { family: String, group: "string";
    "get", 2, R, ONE_KEY, "1.0.0", data!(cmd_get), "Get the value of a key", keys: ks::RO_ACCESS;
    "set", -3, W, ONE_KEY, "1.0.0", data!(set; args), "Set the string value of a key", keys: SET_KEYS;
    "setnx", 3, WF, ONE_KEY, "1.0.0", data!(cmd_setnx), "Set the value of a key, only if the key does not exist", keys: ks::OW_INSERT;
    "setex", 4, W, ONE_KEY, "2.0.0", data!(cmd_setex), "Set the value and expiration of a key", keys: ks::OW_UPDATE;
    "psetex", 4, W, ONE_KEY, "2.6.0", data!(cmd_psetex), "Set the value and expiration in milliseconds of a key", keys: ks::OW_UPDATE;
    "getset", 3, WF, ONE_KEY, "1.0.0", data!(cmd_getset), "Set the string value of a key and return its old value", keys: ks::RW_ACCESS_UPDATE;
    "getdel", 2, &["write", "fast"], ONE_KEY, "6.2.0", data!(cmd_getdel), "Get the value of a key and delete the key", keys: ks::RW_ACCESS_DELETE;
    "getex", -2, &["write", "fast"], ONE_KEY, "6.2.0", data!(getex; args), "Get the value of a key and optionally set its expiration", keys: GETEX_KEYS;
    "mget", -2, R, (1, -1, 1), "1.0.0", data!(cmd_mget), "Get the values of all the given keys", keys: ks::RO_ACCESS_ALL;
    "mset", -3, W, (1, -1, 2), "1.0.1", data!(cmd_mset), "Set multiple keys to multiple values", keys: MSET_KEYS;
    "msetnx", -3, W, (1, -1, 2), "1.0.1", data!(cmd_msetnx), "Set multiple keys to multiple values, only if none of the keys exist", keys: MSETNX_KEYS;
    "incr", 2, WF, ONE_KEY, "1.0.0", data!(cmd_incr), "Increment the integer value of a key by one", keys: ks::RW_ACCESS_UPDATE;
    "decr", 2, WF, ONE_KEY, "1.0.0", data!(cmd_decr), "Decrement the integer value of a key by one", keys: ks::RW_ACCESS_UPDATE;
    "incrby", 3, WF, ONE_KEY, "1.0.0", data!(cmd_incrby), "Increment the integer value of a key by the given amount", keys: ks::RW_ACCESS_UPDATE;
    "decrby", 3, WF, ONE_KEY, "1.0.0", data!(cmd_decrby), "Decrement the integer value of a key by the given number", keys: ks::RW_ACCESS_UPDATE;
    "incrbyfloat", 3, WF, ONE_KEY, "2.6.0", data!(cmd_incrbyfloat), "Increment the float value of a key by the given amount", keys: ks::RW_ACCESS_UPDATE;
    "append", 3, WF, ONE_KEY, "2.0.0", data!(cmd_append), "Append a value to a key", keys: ks::RW_INSERT;
    "strlen", 2, R, ONE_KEY, "2.2.0", data!(cmd_strlen), "Get the length of the value stored in a key", keys: ks::RO;
    "getrange", 4, &["readonly"], ONE_KEY, "2.4.0", data!(getrange; args), "Get a substring of the string stored at a key", keys: ks::RO_ACCESS;
    "setrange", 4, W, ONE_KEY, "2.2.0", data!(setrange; args), "Overwrite part of a string at key starting at the specified offset", keys: ks::RW_UPDATE;
    "substr", 4, &["readonly"], ONE_KEY, "1.0.0", data!(getrange; args), "Get a substring of the string stored at a key", keys: ks::RO_ACCESS;
    "lcs", -3, &["readonly"], (1, 2, 1), "7.0.0", data!(lcs; args), "Find longest common substring", keys: LCS_KEYS;
};

/// GET.
pub(crate) async fn cmd_get(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    Ok(Reply::opt_bulk(get(ctx, &args[1]).await?))
}

/// SETNX.
pub(crate) async fn cmd_setnx(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let done = set_value(
        ctx,
        &args[1],
        &args[2],
        SetOptions {
            nx: true,
            ..Default::default()
        },
    )
    .await?;
    Ok(Reply::Int(done.is_some() as i64))
}

/// SETEX key seconds value
async fn cmd_setex(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    setex(ctx, spec.name, args, true).await
}

/// PSETEX key milliseconds value
async fn cmd_psetex(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    setex(ctx, spec.name, args, false).await
}

/// Sets a value expiring in `seconds` or milliseconds (`name` for the
/// error texts).
async fn setex(ctx: &mut Ctx<'_>, name: &str, args: &[Bytes], seconds: bool) -> CmdResult {
    let at = expire_at(ctx, &args[2], seconds, false, name)?;
    set_value(
        ctx,
        &args[1],
        &args[3],
        SetOptions {
            expire_at: Some(at),
            ..Default::default()
        },
    )
    .await?;
    Ok(OK)
}

/// GETSET.
pub(crate) async fn cmd_getset(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let old = get(ctx, &args[1]).await?;
    set_value(ctx, &args[1], &args[2], SetOptions::default()).await?;
    Ok(Reply::opt_bulk(old))
}

/// GETDEL.
pub(crate) async fn cmd_getdel(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let old = get(ctx, &args[1]).await?;
    if old.is_some() {
        ctx.txn.delete(ctx.db, &args[1]).await?;
        ctx.notify(b'g', "del", &args[1]);
    }
    Ok(Reply::opt_bulk(old))
}

/// MGET.
pub(crate) async fn cmd_mget(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let mut out = Vec::with_capacity(args.len() - 1);
    for key in &args[1..] {
        let value = match ctx.txn.string_get(ctx.db, key).await? {
            Some((meta, value)) if meta.is_live(ctx.now) && meta.kind == KeyKind::String => {
                Some(value)
            }
            _ => None,
        };
        ctx.count_lookup(value.is_some());
        out.push(Reply::opt_bulk(value));
    }
    Ok(Reply::Array(out))
}

/// MSET key value [key value ...]
async fn cmd_mset(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    mset(ctx, spec.name, args, false).await
}

/// MSETNX key value [key value ...]: only if none of the keys exists.
async fn cmd_msetnx(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    mset(ctx, spec.name, args, true).await
}

/// INCR.
pub(crate) async fn cmd_incr(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    incr_by(ctx, &args[1], 1).await
}

/// DECR.
pub(crate) async fn cmd_decr(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    incr_by(ctx, &args[1], -1).await
}

/// INCRBY.
pub(crate) async fn cmd_incrby(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let by = int_arg(&args[2])?;
    incr_by(ctx, &args[1], by).await
}

/// DECRBY.
pub(crate) async fn cmd_decrby(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let by = int_arg(&args[2])?;
    if by == i64::MIN {
        return err(errors::DECR_OVERFLOW);
    }
    incr_by(ctx, &args[1], -by).await
}

/// INCRBYFLOAT.
pub(crate) async fn cmd_incrbyfloat(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    incr_by_float(ctx, &args[1], &args[2]).await
}

/// APPEND.
pub(crate) async fn cmd_append(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    append(ctx, &args[1], &args[2]).await
}

/// STRLEN.
pub(crate) async fn cmd_strlen(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    Ok(Reply::Int(
        get(ctx, &args[1]).await?.map_or(0, |v| v.len() as i64),
    ))
}

/// A live string value; WRONGTYPE for other kinds.
pub async fn get(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, CmdError> {
    if ctx.event_stream(key).is_some() {
        return Err(CmdError::WrongType);
    }
    let found = match ctx.txn.string_get(ctx.db, key).await? {
        Some((meta, _)) if !meta.is_live(ctx.now) => None,
        Some((meta, _)) if meta.kind != KeyKind::String => return Err(CmdError::WrongType),
        Some((_, value)) => Some(value),
        None => None,
    };
    ctx.count_lookup(found.is_some());
    Ok(found)
}

#[derive(Default, Clone, Copy)]
struct SetOptions {
    nx: bool,
    xx: bool,
    keep_ttl: bool,
    /// Absolute deadline in ms.
    expire_at: Option<i64>,
}

/// Writes a string with SET's semantics and events. Returns `None` when NX
/// or XX prevented the write, else whether the key existed before.
async fn set_value(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    value: &Bytes,
    opts: SetOptions,
) -> Result<Option<bool>, CmdError> {
    let existing = ctx.for_write(key).await?;
    if (opts.nx && existing.is_some()) || (opts.xx && existing.is_none()) {
        return Ok(None);
    }
    let expire_at = match (opts.expire_at, opts.keep_ttl, existing) {
        (Some(at), _, _) => Some(at),
        (None, true, Some(meta)) => meta.expire_at,
        _ => None,
    };
    if existing.is_some_and(|m| m.kind != KeyKind::String) {
        ctx.txn.delete(ctx.db, key).await?;
    }
    if existing.is_none() {
        ctx.notify(b'n', "new", key);
    }
    // A deadline already in the past (EXAT/PXAT) is stored as given: the
    // key reads as absent and expires (with its event) like any other.
    ctx.txn.string_put(ctx.db, key, value, expire_at).await?;
    ctx.notify(b'$', "set", key);
    if opts.expire_at.is_some() {
        ctx.notify(b'g', "expire", key);
    }
    Ok(Some(existing.is_some()))
}

/// Writes a string as a plain SET does (its events, no TTL kept): the
/// destination of BITOP.
pub(crate) async fn set_plain(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    value: &Bytes,
) -> Result<(), CmdError> {
    set_value(ctx, key, value, SetOptions::default()).await?;
    Ok(())
}

/// Parses an expire argument into an absolute deadline, with Redis's
/// checks and its `invalid expire time in '<cmd>' command` error.
fn expire_at(
    ctx: &Ctx<'_>,
    arg: &[u8],
    seconds: bool,
    absolute: bool,
    cmd: &str,
) -> Result<i64, CmdError> {
    let n = int_arg(arg)?;
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return err(errors::invalid_expire(cmd));
    }
    let ms = if seconds { n * 1000 } else { n };
    if absolute {
        return Ok(ms);
    }
    ms.checked_add(ctx.now)
        .ok_or_else(|| CmdError::Reply(errors::invalid_expire(cmd).into()))
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
async fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut opts = SetOptions::default();
    let mut want_get = false;
    // (unit is seconds, is absolute, argument)
    let mut expire: Option<(bool, bool, &Bytes)> = None;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        if is(a, "nx") && !opts.xx {
            opts.nx = true;
        } else if is(a, "xx") && !opts.nx {
            opts.xx = true;
        } else if is(a, "get") {
            want_get = true;
        } else if is(a, "keepttl") && expire.is_none() {
            opts.keep_ttl = true;
        } else if let (Some(form), Some(value)) = (expire_form(a), next) {
            if opts.keep_ttl || expire.is_some_and(|(s, abs, _)| (s, abs) != form) {
                return err(errors::SYNTAX);
            }
            expire = Some((form.0, form.1, value));
            i += 1;
        } else {
            return err(errors::SYNTAX);
        }
        i += 1;
    }
    if let Some((seconds, absolute, arg)) = expire {
        opts.expire_at = Some(expire_at(ctx, arg, seconds, absolute, "set")?);
    }
    let old = if want_get {
        Some(get(ctx, &args[1]).await?)
    } else {
        None
    };
    let done = set_value(ctx, &args[1], &args[2], opts).await?;
    Ok(match (old, done) {
        (Some(old), _) => Reply::opt_bulk(old),
        (None, Some(_)) => OK,
        (None, None) => Reply::Nil,
    })
}

/// EX / PX / EXAT / PXAT as (seconds?, absolute?).
fn expire_form(arg: &[u8]) -> Option<(bool, bool)> {
    if is(arg, "ex") {
        Some((true, false))
    } else if is(arg, "px") {
        Some((false, false))
    } else if is(arg, "exat") {
        Some((true, true))
    } else if is(arg, "pxat") {
        Some((false, true))
    } else {
        None
    }
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]
async fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut expire: Option<(bool, bool, &Bytes)> = None;
    let mut persist = false;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "persist") && expire.is_none() {
            persist = true;
        } else if let (Some(form), Some(value)) = (expire_form(a), args.get(i + 1)) {
            if persist || expire.is_some_and(|(s, abs, _)| (s, abs) != form) {
                return err(errors::SYNTAX);
            }
            expire = Some((form.0, form.1, value));
            i += 1;
        } else {
            return err(errors::SYNTAX);
        }
        i += 1;
    }
    let deadline = match expire {
        Some((seconds, absolute, arg)) => Some(expire_at(ctx, arg, seconds, absolute, "getex")?),
        None => None,
    };
    let key = &args[1];
    let Some(value) = get(ctx, key).await? else {
        return Ok(Reply::Nil);
    };
    if let Some(at) = deadline {
        if at <= ctx.now {
            ctx.txn.delete(ctx.db, key).await?;
            ctx.notify(b'g', "del", key);
        } else {
            ctx.txn.set_expire(ctx.db, key, Some(at)).await?;
            ctx.notify(b'g', "expire", key);
        }
    } else if persist {
        let had_ttl = ctx.live(key).await?.is_some_and(|m| m.expire_at.is_some());
        if had_ttl {
            ctx.txn.set_expire(ctx.db, key, None).await?;
            ctx.notify(b'g', "persist", key);
        }
    }
    Ok(Reply::Bulk(value))
}

/// Sets every pair, or (`nx`) none if a key exists (`name` for the arity
/// error).
async fn mset(ctx: &mut Ctx<'_>, name: &str, args: &[Bytes], nx: bool) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return err(errors::wrong_arity(name));
    }
    if nx {
        for pair in args[1..].chunks(2) {
            if ctx.live(&pair[0]).await?.is_some() {
                return Ok(Reply::Int(0));
            }
        }
    }
    for pair in args[1..].chunks(2) {
        set_value(ctx, &pair[0], &pair[1], SetOptions::default()).await?;
    }
    Ok(if nx { Reply::Int(1) } else { OK })
}

/// Reads a string for a read-modify-write, keeping its deadline.
pub(crate) async fn current(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
) -> Result<(Option<Bytes>, Option<i64>), CmdError> {
    match ctx.for_write_of(key, KeyKind::String).await? {
        Some(meta) => {
            let value = ctx.txn.string_get(ctx.db, key).await?.map(|(_, v)| v);
            Ok((value, meta.expire_at))
        }
        None => Ok((None, None)),
    }
}

/// Stores a read-modify-write result, with the `new` event for a new key.
pub(crate) async fn store(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    existed: bool,
    value: &[u8],
    expire_at: Option<i64>,
    event: &'static str,
) -> Result<(), CmdError> {
    if !existed {
        ctx.notify(b'n', "new", key);
    }
    ctx.txn.string_put(ctx.db, key, value, expire_at).await?;
    ctx.notify(b'$', event, key);
    Ok(())
}

async fn incr_by(ctx: &mut Ctx<'_>, key: &Bytes, by: i64) -> CmdResult {
    let (value, ttl) = current(ctx, key).await?;
    let old = match &value {
        Some(v) => crate::protocol::parse_i64(v)
            .ok_or_else(|| CmdError::Reply(errors::NOT_INTEGER.into()))?,
        None => 0,
    };
    let new = old
        .checked_add(by)
        .ok_or_else(|| CmdError::Reply(errors::OVERFLOW.into()))?;
    let mut buf = itoa::Buffer::new();
    store(
        ctx,
        key,
        value.is_some(),
        buf.format(new).as_bytes(),
        ttl,
        "incrby",
    )
    .await?;
    Ok(Reply::Int(new))
}

async fn incr_by_float(ctx: &mut Ctx<'_>, key: &Bytes, by: &[u8]) -> CmdResult {
    let (value, ttl) = current(ctx, key).await?;
    // Redis adds in C long double; emulate it so the digits match.
    let not_float = || CmdError::Reply(errors::NOT_FLOAT.into());
    let old = match &value {
        Some(v) => long_double::parse(v).ok_or_else(not_float)?,
        None => long_double::ZERO,
    };
    let by = long_double::parse(by).ok_or_else(not_float)?;
    let new = long_double::add(old, by);
    if !new.is_finite() {
        return err(errors::NAN_OR_INF);
    }
    let text = long_double::format(new);
    store(
        ctx,
        key,
        value.is_some(),
        text.as_bytes(),
        ttl,
        "incrbyfloat",
    )
    .await?;
    Ok(Reply::bulk(text))
}

async fn append(ctx: &mut Ctx<'_>, key: &Bytes, tail: &Bytes) -> CmdResult {
    let (value, ttl) = current(ctx, key).await?;
    let len = value.as_ref().map_or(0, Bytes::len) + tail.len();
    if len as i64 > ctx.instance.config.proto_max_bulk_len {
        return err(errors::STRING_TOO_LONG);
    }
    let mut joined = BytesMut::with_capacity(len);
    if let Some(v) = &value {
        joined.extend_from_slice(v);
    }
    joined.extend_from_slice(tail);
    store(ctx, key, value.is_some(), &joined, ttl, "append").await?;
    Ok(Reply::Int(len as i64))
}

async fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut start, mut end) = (int_arg(&args[2])?, int_arg(&args[3])?);
    let value = get(ctx, &args[1]).await?.unwrap_or_default();
    let len = value.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::bulk(Bytes::new()));
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Ok(Reply::bulk(Bytes::new()));
    }
    Ok(Reply::Bulk(value.slice(start as usize..=end as usize)))
}

async fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (key, patch) = (&args[1], &args[3]);
    let offset = int_arg(&args[2])?;
    if offset < 0 {
        return err(errors::OFFSET_OUT_OF_RANGE);
    }
    let (value, ttl) = current(ctx, key).await?;
    let old_len = value.as_ref().map_or(0, Bytes::len);
    if patch.is_empty() {
        return Ok(Reply::Int(old_len as i64));
    }
    let end = offset
        .checked_add(patch.len() as i64)
        .filter(|&e| e <= ctx.instance.config.proto_max_bulk_len)
        .ok_or_else(|| CmdError::Reply(errors::STRING_TOO_LONG.into()))? as usize;
    let mut out = BytesMut::from(value.as_deref().unwrap_or_default());
    if out.len() < end {
        out.resize(end, 0);
    }
    out[offset as usize..end].copy_from_slice(patch);
    store(ctx, key, value.is_some(), &out, ttl, "setrange").await?;
    Ok(Reply::Int(out.len() as i64))
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
async fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let a = get(ctx, &args[1]).await;
    let b = get(ctx, &args[2]).await;
    let wrong = |r: &Result<Option<Bytes>, CmdError>| matches!(r, Err(CmdError::WrongType));
    if wrong(&a) || wrong(&b) {
        return err(errors::LCS_NOT_STRINGS);
    }
    let (a, b) = (a?.unwrap_or_default(), b?.unwrap_or_default());
    let (mut get_idx, mut get_len, mut with_len) = (false, false, false);
    let mut min_len: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let more = j + 1 < args.len();
        if is(opt, "idx") {
            get_idx = true;
        } else if is(opt, "len") {
            get_len = true;
        } else if is(opt, "withmatchlen") {
            with_len = true;
        } else if is(opt, "minmatchlen") && more {
            min_len = int_arg(&args[j + 1])?.max(0);
            j += 1;
        } else {
            return err(errors::SYNTAX);
        }
        j += 1;
    }
    if get_idx && get_len {
        return err(errors::LCS_IDX_AND_LEN);
    }
    if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
        return err(errors::LCS_TOO_LONG);
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells * 4 > ctx.instance.config.proto_max_bulk_len as u64 {
        return err(errors::LCS_MEMORY);
    }
    let w = blen + 1;
    let mut table = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            table[i * w + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * w + j - 1] + 1
            } else {
                table[(i - 1) * w + j].max(table[i * w + j - 1])
            };
        }
    }
    let total = table[alen * w + blen];
    if get_len {
        return Ok(Reply::Int(total as i64));
    }
    // Walk back from the end, collecting the string and the matching
    // ranges (as Redis emits them: last first).
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    let mut matches = Vec::new();
    let (mut i, mut j) = (alen, blen);
    // (a_start, a_end, b_start, b_end); a_start == alen: no range open.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * w + j] > table[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let len = (a_end - a_start + 1) as i64;
            if get_idx && (min_len == 0 || len >= min_len) {
                let mut entry = vec![
                    Reply::Array(vec![Reply::Int(a_start as i64), Reply::Int(a_end as i64)]),
                    Reply::Array(vec![Reply::Int(b_start as i64), Reply::Int(b_end as i64)]),
                ];
                if with_len {
                    entry.push(Reply::Int(len));
                }
                matches.push(Reply::Array(entry));
            }
            a_start = alen;
        }
    }
    if get_idx {
        return Ok(Reply::Map(vec![
            (Reply::bulk_str("matches"), Reply::Array(matches)),
            (Reply::bulk_str("len"), Reply::Int(total as i64)),
        ]));
    }
    Ok(Reply::bulk(result))
}
