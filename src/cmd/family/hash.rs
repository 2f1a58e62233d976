//! Hash commands.

use bytes::Bytes;
use rand::Rng;

use crate::cmd::args::{int_arg, is};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::helpers::long_double;
use crate::cmd::helpers::scan::{
    decode_boundary, page_end, parse_cursor, scan_options, scan_reply,
};
use crate::cmd::spec::{CommandSpec, ONE_KEY, ks};
use crate::reply::{OK, Reply};
use crate::store::KeyKind;

const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const WF: &[&str] = &["write", "fast"];
const WDF: &[&str] = &["write", "denyoom", "fast"];

pub static COMMANDS: &[CommandSpec] = commands! { family: Hash, group: "hash";
    "hset", -4, WDF, ONE_KEY, "2.0.0", data!(cmd_hset), "Set the string value of a hash field", keys: ks::RW_UPDATE;
    "hsetnx", 4, WDF, ONE_KEY, "2.0.0", data!(cmd_hsetnx), "Set the value of a hash field, only if the field does not exist", keys: ks::RW_INSERT;
    "hmset", -4, WDF, ONE_KEY, "2.0.0", data!(cmd_hmset), "Set multiple hash fields to multiple values", keys: ks::RW_UPDATE;
    "hget", 3, RF, ONE_KEY, "2.0.0", data!(cmd_hget), "Get the value of a hash field", keys: ks::RO_ACCESS;
    "hmget", -3, RF, ONE_KEY, "2.0.0", data!(cmd_hmget), "Get the values of all the given hash fields", keys: ks::RO_ACCESS;
    "hgetall", 2, R, ONE_KEY, "2.0.0", data!(hgetall; args), "Get all the fields and values in a hash", keys: ks::RO_ACCESS;
    "hdel", -3, WF, ONE_KEY, "2.0.0", data!(cmd_hdel), "Delete one or more hash fields", keys: ks::RW_DELETE;
    "hexists", 3, RF, ONE_KEY, "2.0.0", data!(cmd_hexists), "Determine if a hash field exists", keys: ks::RO;
    "hlen", 2, RF, ONE_KEY, "2.0.0", data!(cmd_hlen), "Get the number of fields in a hash", keys: ks::RO;
    "hkeys", 2, R, ONE_KEY, "2.0.0", data!(hkeys; args), "Get all the fields in a hash", keys: ks::RO_ACCESS;
    "hvals", 2, R, ONE_KEY, "2.0.0", data!(hvals; args), "Get all the values in a hash", keys: ks::RO_ACCESS;
    "hincrby", 4, WDF, ONE_KEY, "2.0.0", data!(hincrby; args), "Increment the integer value of a hash field by the given number", keys: ks::RW_ACCESS_UPDATE;
    "hincrbyfloat", 4, WDF, ONE_KEY, "2.6.0", data!(hincrbyfloat; args), "Increment the float value of a hash field by the given amount", keys: ks::RW_ACCESS_UPDATE;
    "hstrlen", 3, RF, ONE_KEY, "3.2.0", data!(cmd_hstrlen), "Get the length of the value of a hash field", keys: ks::RO;
    "hscan", -3, R, ONE_KEY, "2.8.0", data!(hscan; args), "Incrementally iterate hash fields and associated values", keys: ks::RO_ACCESS;
    "hrandfield", -2, R, ONE_KEY, "6.2.0", data!(hrandfield; args), "Get one or multiple random fields from a hash", keys: ks::RO_ACCESS;
};

/// Redis keeps hashes of up to this many fields as one listpack, which
/// HSCAN returns whole whatever the cursor; we do the same.
const SMALL_HASH: i64 = 512;

/// Largest reply HRANDFIELD with a negative count builds (see there).
const MAX_RANDOM_REPEATS: u64 = 1 << 22;

/// HSET key field value [field value ...]: how many fields are new.
pub(crate) async fn cmd_hset(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    Ok(Reply::Int(put(ctx, spec.name, args).await?))
}

/// HMSET key field value [field value ...]: OK.
pub(crate) async fn cmd_hmset(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    put(ctx, spec.name, args).await?;
    Ok(OK)
}

/// HSET / HMSET's writes (`name` for the arity error): the number of
/// fields added.
async fn put(ctx: &mut Ctx<'_>, name: &str, args: &[Bytes]) -> Result<i64, CmdError> {
    let key = &args[1];
    if args.len() % 2 == 1 {
        return err(errors::wrong_arity(name));
    }
    let existed = write_hash(ctx, key).await?;
    let pairs: Vec<(Bytes, Bytes)> = args[2..]
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    if !existed {
        ctx.notify(b'n', "new", key);
    }
    let added = ctx.txn.hash_put(ctx.db, key, &pairs).await?;
    ctx.notify(b'h', "hset", key);
    Ok(added)
}

/// HSETNX.
pub(crate) async fn cmd_hsetnx(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let key = &args[1];
    let existed = write_hash(ctx, key).await?;
    if existed && field(ctx, key, &args[2]).await?.is_some() {
        return Ok(Reply::Int(0));
    }
    if !existed {
        ctx.notify(b'n', "new", key);
    }
    ctx.txn
        .hash_put(ctx.db, key, &[(args[2].clone(), args[3].clone())])
        .await?;
    ctx.notify(b'h', "hset", key);
    Ok(Reply::Int(1))
}

/// HGET.
pub(crate) async fn cmd_hget(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let key = &args[1];
    let value = if read_hash(ctx, key).await? {
        field(ctx, key, &args[2]).await?
    } else {
        None
    };
    Ok(Reply::opt_bulk(value))
}

/// HMGET.
pub(crate) async fn cmd_hmget(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let key = &args[1];
    let fields = &args[2..];
    let values = if read_hash(ctx, key).await? {
        ctx.txn.hash_get(ctx.db, key, fields).await?
    } else {
        vec![None; fields.len()]
    };
    Ok(Reply::Array(
        values.into_iter().map(Reply::opt_bulk).collect(),
    ))
}

/// HGETALL key
async fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Map(
        all(ctx, &args[1])
            .await?
            .into_iter()
            .map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v)))
            .collect(),
    ))
}

/// HKEYS key
async fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::bulks(
        all(ctx, &args[1]).await?.into_iter().map(|(f, _)| f),
    ))
}

/// HVALS key
async fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Reply::bulks(
        all(ctx, &args[1]).await?.into_iter().map(|(_, v)| v),
    ))
}

/// Every field of a hash with its value (none for a missing key).
async fn all(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Vec<(Bytes, Bytes)>, CmdError> {
    Ok(if read_hash(ctx, key).await? {
        ctx.txn.hash_all(ctx.db, key).await?
    } else {
        Vec::new()
    })
}

/// HDEL.
pub(crate) async fn cmd_hdel(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let key = &args[1];
    if ctx.for_write_of(key, KeyKind::Hash).await?.is_none() {
        return Ok(Reply::Int(0));
    }
    let (removed, key_gone) = ctx.txn.hash_delete(ctx.db, key, &args[2..]).await?;
    if removed > 0 {
        ctx.notify(b'h', "hdel", key);
        if key_gone {
            ctx.notify(b'g', "del", key);
        }
    }
    Ok(Reply::Int(removed))
}

/// HEXISTS.
pub(crate) async fn cmd_hexists(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let key = &args[1];
    let found = read_hash(ctx, key).await? && field(ctx, key, &args[2]).await?.is_some();
    Ok(Reply::Int(found as i64))
}

/// HLEN.
pub(crate) async fn cmd_hlen(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let key = &args[1];
    let len = if read_hash(ctx, key).await? {
        ctx.txn.hash_len(ctx.db, key).await?
    } else {
        0
    };
    Ok(Reply::Int(len))
}

/// HSTRLEN.
pub(crate) async fn cmd_hstrlen(
    ctx: &mut Ctx<'_>,
    _spec: &'static CommandSpec,
    args: &[Bytes],
) -> CmdResult {
    let key = &args[1];
    let value = if read_hash(ctx, key).await? {
        field(ctx, key, &args[2]).await?
    } else {
        None
    };
    Ok(Reply::Int(value.map_or(0, |v| v.len() as i64)))
}

/// Looks a hash up for reading, counting the hit or miss as Redis's
/// lookupKeyRead does; another kind of key is WRONGTYPE.
async fn read_hash(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool, CmdError> {
    let meta = ctx.live(key).await?;
    ctx.count_lookup(meta.is_some());
    match meta {
        Some(m) if m.kind != KeyKind::Hash => Err(CmdError::WrongType),
        other => Ok(other.is_some()),
    }
}

/// Looks a hash up for writing (see [`Ctx::for_write`]): whether it exists.
async fn write_hash(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<bool, CmdError> {
    Ok(ctx.for_write_of(key, KeyKind::Hash).await?.is_some())
}

/// One field's value.
async fn field(ctx: &mut Ctx<'_>, key: &[u8], field: &Bytes) -> Result<Option<Bytes>, CmdError> {
    Ok(ctx
        .txn
        .hash_get(ctx.db, key, std::slice::from_ref(field))
        .await?
        .pop()
        .flatten())
}

/// Writes one field of a read-modify-write, with the `new` event first
/// when the hash did not exist.
async fn put_field(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    field: &Bytes,
    value: Bytes,
    existed: bool,
    event: &'static str,
) -> Result<(), CmdError> {
    if !existed {
        ctx.notify(b'n', "new", key);
    }
    ctx.txn
        .hash_put(ctx.db, key, &[(field.clone(), value)])
        .await?;
    ctx.notify(b'h', event, key);
    Ok(())
}

/// HINCRBY key field increment
async fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (key, fname) = (&args[1], &args[2]);
    let by = int_arg(&args[3])?;
    let existed = write_hash(ctx, key).await?;
    let old = match if existed {
        field(ctx, key, fname).await?
    } else {
        None
    } {
        Some(v) => crate::protocol::parse_i64(&v)
            .ok_or_else(|| CmdError::Reply(errors::HASH_NOT_INTEGER.into()))?,
        None => 0,
    };
    let new = old
        .checked_add(by)
        .ok_or_else(|| CmdError::Reply(errors::OVERFLOW.into()))?;
    let mut buf = itoa::Buffer::new();
    let text = Bytes::copy_from_slice(buf.format(new).as_bytes());
    put_field(ctx, key, fname, text, existed, "hincrby").await?;
    Ok(Reply::Int(new))
}

/// HINCRBYFLOAT key field increment, in emulated `long double` (see
/// [`long_double`]) so the digits match Redis's.
async fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (key, fname) = (&args[1], &args[2]);
    let by =
        long_double::parse(&args[3]).ok_or_else(|| CmdError::Reply(errors::NOT_FLOAT.into()))?;
    if !by.is_finite() {
        return err(errors::INCR_NAN_OR_INF);
    }
    let existed = write_hash(ctx, key).await?;
    let old = match if existed {
        field(ctx, key, fname).await?
    } else {
        None
    } {
        Some(v) => {
            long_double::parse(&v).ok_or_else(|| CmdError::Reply(errors::HASH_NOT_FLOAT.into()))?
        }
        None => long_double::ZERO,
    };
    let new = long_double::add(old, by);
    if !new.is_finite() {
        return err(errors::NAN_OR_INF);
    }
    let text = Bytes::from(long_double::format(new));
    put_field(ctx, key, fname, text.clone(), existed, "hincrbyfloat").await?;
    Ok(Reply::Bulk(text))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
///
/// Like Redis, a missing key answers an empty scan before the options are
/// even parsed, and a hash of at most 512 fields (Redis's listpack) comes
/// back whole with cursor 0, whatever the cursor and COUNT.
///
/// Larger hashes are paged in field (byte) order. The cursor encodes a
/// boundary string `B` of 1 to 7 bytes: the next page starts at the first
/// field `>= B`. `B` is packed into a u64 below 2^59 (so it also fits a
/// signed 64-bit integer): its bytes, zero-padded to 7, big-endian in bits
/// 3..59, and its length in bits 0..3 (never 0, so a page cursor is never
/// the end cursor 0). A page of COUNT fields ending at field `L`, followed
/// by the unreturned field `N`, is closed with `B` = the shortest prefix of
/// `N` greater than `L`. When `L` and `N` share 7 or more leading bytes no
/// such `B` fits, so the page grows until two neighbours differ within
/// their first 7 bytes. Every field present for the whole iteration is
/// returned exactly once; arbitrary client cursors decode to some boundary
/// and never fail.
async fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let cursor = parse_cursor(&args[2])?;
    if !read_hash(ctx, key).await? {
        return Ok(scan_reply(0, Vec::new()));
    }
    let opts = scan_options(&args[3..], false)?;
    let (pairs, next) = if ctx.txn.hash_len(ctx.db, key).await? <= SMALL_HASH {
        (ctx.txn.hash_all(ctx.db, key).await?, 0)
    } else {
        hscan_page(ctx, key, cursor, opts.count).await?
    };
    let mut items = Vec::with_capacity(pairs.len() * 2);
    for (f, v) in pairs {
        if opts.matches(&f) {
            items.push(Reply::Bulk(f));
            items.push(Reply::Bulk(v));
        }
    }
    Ok(scan_reply(next, items))
}

/// One page of a large hash and the cursor after it (see [`hscan`]).
async fn hscan_page(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    cursor: u64,
    count: u64,
) -> Result<(Vec<(Bytes, Bytes)>, u64), CmdError> {
    let count = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(u32::MAX as usize - 1);
    let start = decode_boundary(cursor).map(Bytes::from);
    let mut page = Vec::new();
    if let Some(b) = &start {
        // `hash_scan` is exclusive: the boundary itself may be a field.
        if let Some(v) = field(ctx, key, b).await? {
            page.push((b.clone(), v));
        }
    }
    // COUNT fields plus the first one left over, which places the boundary.
    let want = count + 1 - page.len();
    let batch = ctx
        .txn
        .hash_scan(ctx.db, key, start.as_deref(), want as u32)
        .await?;
    let done = batch.len() < want;
    page.extend(batch);
    if done {
        return Ok((page, 0));
    }
    let mut from = count;
    loop {
        if let Some((end, cursor)) = page_end(&page, from, |(f, _)| f) {
            page.truncate(end);
            return Ok((page, cursor));
        }
        from = page.len();
        let after = page[from - 1].0.clone();
        let more = ctx
            .txn
            .hash_scan(ctx.db, key, Some(&after), count.clamp(16, 1024) as u32)
            .await?;
        if more.is_empty() {
            return Ok((page, 0));
        }
        page.extend(more);
    }
}

/// HRANDFIELD key [count [WITHVALUES]], as Redis's hrandfieldCommand.
///
/// One deliberate limit: a negative count (repeats allowed) is refused with
/// `ERR value is out of range` beyond 2^22 elements on an existing hash,
/// where Redis would try to build the reply whatever its size.
async fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(count_arg) = args.get(2) else {
        if !read_hash(ctx, key).await? {
            return Ok(Reply::Nil);
        }
        let pairs = ctx.txn.hash_all(ctx.db, key).await?;
        let pick = rand::thread_rng().gen_range(0..pairs.len().max(1));
        return Ok(Reply::opt_bulk(pairs.into_iter().nth(pick).map(|(f, _)| f)));
    };
    let n = int_arg(count_arg)?;
    if n == i64::MIN {
        return err(errors::RANDFIELD_COUNT_RANGE);
    }
    let with_values = match &args[3..] {
        [] => false,
        [opt] if is(opt, "withvalues") => true,
        _ => return err(errors::SYNTAX),
    };
    if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&n) {
        return err(errors::OUT_OF_RANGE);
    }
    if !read_hash(ctx, key).await? || n == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let pairs = ctx.txn.hash_all(ctx.db, key).await?;
    let count = n.unsigned_abs();
    let chosen: Vec<usize> = if n < 0 {
        if count > MAX_RANDOM_REPEATS {
            return err(errors::OUT_OF_RANGE);
        }
        let mut rng = rand::thread_rng();
        (0..count).map(|_| rng.gen_range(0..pairs.len())).collect()
    } else if count >= pairs.len() as u64 {
        (0..pairs.len()).collect()
    } else {
        rand::seq::index::sample(&mut rand::thread_rng(), pairs.len(), count as usize).into_vec()
    };
    let resp3 = ctx.resp3;
    let mut out = Vec::with_capacity(chosen.len() * if with_values && !resp3 { 2 } else { 1 });
    for i in chosen {
        let (f, v) = &pairs[i];
        match (with_values, resp3) {
            (false, _) => out.push(Reply::Bulk(f.clone())),
            (true, false) => {
                out.push(Reply::Bulk(f.clone()));
                out.push(Reply::Bulk(v.clone()));
            }
            (true, true) => out.push(Reply::Array(vec![
                Reply::Bulk(f.clone()),
                Reply::Bulk(v.clone()),
            ])),
        }
    }
    Ok(Reply::Array(out))
}
