//! List commands, and the blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
//! BLMPOP) whose non-blocking attempt runs here and whose waiting runs in
//! [`super::blocking`].
//!
//! Layout: a list's elements are member rows whose score is their
//! position, kept contiguous, so the head and the tail are the two ends of
//! the score index (`Ends`), the length is `tail - head + 1`, an index is
//! a point read at `head + i`, pushes write below the head or above the
//! tail without touching other rows, and pops delete at the ends. LINSERT
//! and LREM renumber the shorter side; LTRIM deletes two score ranges.

use bytes::Bytes;

use crate::cmd::args::{int_arg, is, timeout};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::spec::{
    BlockOn, CommandSpec, KeySpec, ONE_KEY, every_key, key_at, keys_counted, keys_to,
};
use crate::reply::{OK, Reply};
use crate::store::{Bound, KeyKind, Member, MemberRange, position_member};

const WDF: &[&str] = &["write", "denyoom", "fast"];
const WF: &[&str] = &["write", "fast"];
const RF: &[&str] = &["readonly", "fast"];
const R: &[&str] = &["readonly"];
const WD: &[&str] = &["write", "denyoom"];
const W: &[&str] = &["write"];

const INSERT: &[KeySpec] = &[key_at(1, &["RW", "insert"])];
const POP: &[KeySpec] = &[key_at(1, &["RW", "access", "delete"])];
const DELETE: &[KeySpec] = &[key_at(1, &["RW", "delete"])];
const UPDATE: &[KeySpec] = &[key_at(1, &["RW", "update"])];
const READ: &[KeySpec] = &[key_at(1, &["RO"])];
const READ_ACCESS: &[KeySpec] = &[key_at(1, &["RO", "access"])];
const MOVE_KEYS: &[KeySpec] = &[
    key_at(1, &["RW", "access", "delete"]),
    key_at(2, &["RW", "insert"]),
];

const COUNTED_POP: &[KeySpec] = &[keys_counted(1, &["RW", "access", "delete"], 0, 1)];
const BLOCKING_POP: &[KeySpec] = &[keys_to(1, &["RW", "access", "delete"], -2)];
const BLOCKING_COUNTED_POP: &[KeySpec] = &[keys_counted(2, &["RW", "access", "delete"], 0, 1)];

pub static COMMANDS: &[CommandSpec] = commands! { family: List, group: "list";
    "lpush", -3, WDF, ONE_KEY, "1.0.0", data!(cmd_lpush; args), "Prepend one or multiple elements to a list", keys: INSERT;
    "rpush", -3, WDF, ONE_KEY, "1.0.0", data!(cmd_rpush; args), "Append one or multiple elements to a list", keys: INSERT;
    "lpushx", -3, WDF, ONE_KEY, "2.2.0", data!(cmd_lpushx; args), "Prepend an element to a list, only if the list exists", keys: INSERT;
    "rpushx", -3, WDF, ONE_KEY, "2.2.0", data!(cmd_rpushx; args), "Append an element to a list, only if the list exists", keys: INSERT;
    "lpop", -2, WF, ONE_KEY, "1.0.0", data!(cmd_lpop; args), "Remove and get the first elements in a list", keys: POP;
    "rpop", -2, WF, ONE_KEY, "1.0.0", data!(cmd_rpop; args), "Remove and get the last elements in a list", keys: POP;
    "llen", 2, RF, ONE_KEY, "1.0.0", data!(llen; args), "Get the length of a list", keys: READ;
    "lrange", 4, R, ONE_KEY, "1.0.0", data!(lrange; args), "Get a range of elements from a list", keys: READ_ACCESS;
    "lindex", 3, R, ONE_KEY, "1.0.0", data!(lindex; args), "Get an element from a list by its index", keys: READ_ACCESS;
    "lset", 4, WD, ONE_KEY, "1.0.0", data!(lset; args), "Set the value of an element in a list by its index", keys: UPDATE;
    "linsert", 5, WD, ONE_KEY, "2.2.0", data!(linsert; args), "Insert an element before or after another element in a list", keys: INSERT;
    "lrem", 4, W, ONE_KEY, "1.0.0", data!(lrem; args), "Remove elements from a list", keys: DELETE;
    "ltrim", 4, W, ONE_KEY, "1.0.0", data!(ltrim; args), "Trim a list to the specified range", keys: DELETE;
    "lpos", -3, R, ONE_KEY, "6.0.6", data!(lpos; args), "Return the index of matching elements on a list", keys: READ_ACCESS;
    "lmove", 5, WD, (1, 2, 1), "6.2.0", data!(cmd_lmove), "Pop an element from a list, push it to another list and return it", keys: MOVE_KEYS;
    "rpoplpush", 3, WD, (1, 2, 1), "1.2.0", data!(cmd_lmove), "Remove the last element in a list, prepend it to another list and return it", keys: MOVE_KEYS;
    "lmpop", -4, &["write", "movablekeys"], (0, 0, 0), "7.0.0", data!(cmd_lmpop), "Pop elements from a list", keys: COUNTED_POP;
    "blpop", -3, &["write", "noscript", "blocking"], (1, -2, 1), "2.0.0", blocking!(cmd_blpop, every_key), "Remove and get the first element in a list, or block until one is available", keys: BLOCKING_POP;
    "brpop", -3, &["write", "noscript", "blocking"], (1, -2, 1), "2.0.0", blocking!(cmd_brpop, every_key), "Remove and get the last element in a list, or block until one is available", keys: BLOCKING_POP;
    "blmove", 6, &["write", "denyoom", "noscript", "blocking"], (1, 2, 1), "6.2.0", blocking!(cmd_blmove, block_on_source), "Pop an element from a list, push it to another list and return it; or block until one is available", keys: MOVE_KEYS;
    "brpoplpush", 4, &["write", "denyoom", "noscript", "blocking"], (1, 2, 1), "2.2.0", blocking!(cmd_blmove, block_on_source), "Pop an element from a list, push it to another list and return it; or block until one is available", keys: MOVE_KEYS;
    "blmpop", -5, &["write", "blocking", "movablekeys"], (0, 0, 0), "7.0.0", blocking!(cmd_blmpop, block_on_numkeys), "Pop elements from a list, or block until one is available", keys: BLOCKING_COUNTED_POP;
};

/// The positions of a list's first and last elements (contiguous between).
#[derive(Clone, Copy, Debug)]
struct Ends {
    head: i64,
    tail: i64,
}

impl Ends {
    fn len(self) -> i64 {
        self.tail - self.head + 1
    }
}

/// One element row at `position`.
fn element(position: i64, value: Bytes) -> Member {
    Member {
        member: position_member(position),
        score: position,
        value,
    }
}

/// The positions `lo..=hi` as a score range.
fn positions(lo: i64, hi: i64) -> MemberRange {
    MemberRange::Score(Bound::Included(lo), Bound::Included(hi))
}

/// Reads a list's two ends: one row from each end of the score index.
async fn ends(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Ends>, CmdError> {
    let span = ctx.txn.members_span(ctx.db, key).await?;
    Ok(span.map(|(head, tail)| Ends { head, tail }))
}

/// A live list's ends for a read (`None`: absent or empty); counts the
/// hit or miss, WRONGTYPE for another kind.
async fn read_list(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Ends>, CmdError> {
    if crate::cmd::helpers::members::read(ctx, key, KeyKind::List)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    ends(ctx, key).await
}

/// A list's ends for a write (expired keys go first, WRONGTYPE for another
/// kind): `None` when there is no list.
async fn write_list(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<Option<Ends>, CmdError> {
    if ctx.for_write_of(key, KeyKind::List).await?.is_none() {
        return Ok(None);
    }
    ends(ctx, key).await
}

/// The elements at positions `lo..=hi`, in order.
async fn elements(ctx: &mut Ctx<'_>, key: &[u8], lo: i64, hi: i64) -> Result<Vec<Bytes>, CmdError> {
    Ok(ctx
        .txn
        .members_range(ctx.db, key, &positions(lo, hi), false, 0, None)
        .await?
        .into_iter()
        .map(|m| m.value)
        .collect())
}

/// Deletes a list that lost its last element, with Redis's `del` event.
async fn drop_emptied(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<(), CmdError> {
    ctx.txn.delete(ctx.db, key).await?;
    ctx.notify(b'g', "del", key);
    Ok(())
}

/// Which end: `LEFT` (the head) or `RIGHT` (the tail).
fn side(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        err(errors::SYNTAX)
    }
}

/// Writes `values` at one end of `key` (a list or nothing, already
/// looked up as `list`): at the head one after another (LPUSH's order) or
/// at the tail. Logs `new` first when it creates the list, then the push
/// event. Returns the new length.
async fn push_values(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    list: Option<Ends>,
    exists: bool,
    left: bool,
    values: &[Bytes],
) -> Result<i64, CmdError> {
    let n = values.len() as i64;
    let (rows, len): (Vec<Member>, i64) = match (list, left) {
        (Some(e), true) => (
            (0..n)
                .map(|i| element(e.head - 1 - i, values[i as usize].clone()))
                .collect(),
            e.len() + n,
        ),
        (Some(e), false) => (
            (0..n)
                .map(|i| element(e.tail + 1 + i, values[i as usize].clone()))
                .collect(),
            e.len() + n,
        ),
        (None, true) => (
            (0..n)
                .map(|i| element(-i, values[i as usize].clone()))
                .collect(),
            n,
        ),
        (None, false) => (
            (0..n)
                .map(|i| element(i, values[i as usize].clone()))
                .collect(),
            n,
        ),
    };
    if !exists {
        ctx.notify(b'n', "new", key);
    }
    ctx.txn
        .members_put(ctx.db, key, KeyKind::List, &rows)
        .await?;
    ctx.notify(b'l', if left { "lpush" } else { "rpush" }, key);
    Ok(len)
}

/// LPUSH key element [element ...]
async fn cmd_lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, true, false).await
}

/// RPUSH key element [element ...]
async fn cmd_rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, false, false).await
}

/// LPUSHX key element [element ...]
async fn cmd_lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, true, true).await
}

/// RPUSHX key element [element ...]
async fn cmd_rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, false, true).await
}

/// Pushes at the left end or the right; `only_existing`: not onto a
/// missing list (the X forms).
async fn push(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool, only_existing: bool) -> CmdResult {
    let key = &args[1];
    let exists = ctx.for_write_of(key, KeyKind::List).await?.is_some();
    if only_existing && !exists {
        return Ok(Reply::Int(0));
    }
    let list = if exists { ends(ctx, key).await? } else { None };
    let len = push_values(ctx, key, list, exists, left, &args[2..]).await?;
    Ok(Reply::Int(len))
}

/// Removes up to `count` elements from one end of a list whose ends are
/// `e`, with the pop event (and `del` when it empties). Returns them in
/// pop order.
async fn pop_values(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    e: Ends,
    left: bool,
    count: i64,
) -> Result<Vec<Bytes>, CmdError> {
    let count = count.min(e.len());
    let (lo, hi) = if left {
        (e.head, e.head + count - 1)
    } else {
        (e.tail - count + 1, e.tail)
    };
    let mut values = elements(ctx, key, lo, hi).await?;
    if !left {
        values.reverse();
    }
    ctx.txn
        .members_delete_range(ctx.db, key, &positions(lo, hi))
        .await?;
    ctx.notify(b'l', if left { "lpop" } else { "rpop" }, key);
    if count == e.len() {
        drop_emptied(ctx, key).await?;
    }
    Ok(values)
}

/// LPOP key [count]
async fn cmd_lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, true).await
}

/// RPOP key [count]
async fn cmd_rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, false).await
}

/// Pops from the left end or the right.
async fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool) -> CmdResult {
    let key = &args[1];
    let count = match &args[2..] {
        [] => None,
        [n] => Some(
            crate::protocol::parse_i64(n)
                .filter(|&n| n >= 0)
                .ok_or_else(|| CmdError::Reply(errors::NEGATIVE_COUNT.into()))?,
        ),
        _ => return err(errors::wrong_arity(if left { "lpop" } else { "rpop" })),
    };
    let Some(e) = write_list(ctx, key).await? else {
        return Ok(if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        });
    };
    match count {
        None => {
            let mut values = pop_values(ctx, key, e, left, 1).await?;
            Ok(Reply::opt_bulk(values.pop()))
        }
        Some(0) => Ok(Reply::Array(Vec::new())),
        Some(n) => Ok(Reply::bulks(pop_values(ctx, key, e, left, n).await?)),
    }
}

/// LLEN key
async fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let list = read_list(ctx, &args[1]).await?;
    Ok(Reply::Int(list.map_or(0, Ends::len)))
}

/// LRANGE key start stop: reads only the rows it returns.
async fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, stop) = (int_arg(&args[2])?, int_arg(&args[3])?);
    let Some(e) = read_list(ctx, &args[1]).await? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some((from, to)) = crate::cmd::helpers::members::index_range(start, stop, e.len()) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let values = elements(ctx, &args[1], e.head + from, e.head + to).await?;
    Ok(Reply::bulks(values))
}

/// The position of index `index` (negative: from the tail) in a list.
fn position_of(e: Ends, index: i64) -> Option<i64> {
    let i = if index < 0 {
        e.len().checked_add(index)?
    } else {
        index
    };
    (0..e.len()).contains(&i).then(|| e.head + i)
}

/// The element at `position`.
async fn element_at(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    position: i64,
) -> Result<Option<Bytes>, CmdError> {
    Ok(ctx
        .txn
        .members_get(ctx.db, key, &[position_member(position)])
        .await?
        .pop()
        .flatten()
        .map(|m| m.value))
}

/// LINDEX key index: a point read.
///
/// As in Redis, the key is looked up before the index is parsed.
async fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(e) = read_list(ctx, &args[1]).await? else {
        return Ok(Reply::Nil);
    };
    let index = int_arg(&args[2])?;
    let Some(p) = position_of(e, index) else {
        return Ok(Reply::Nil);
    };
    Ok(Reply::opt_bulk(element_at(ctx, &args[1], p).await?))
}

/// LSET key index element (the key is looked up first, as in Redis)
async fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(e) = write_list(ctx, key).await? else {
        return err(errors::NO_SUCH_KEY);
    };
    let index = int_arg(&args[2])?;
    let Some(p) = position_of(e, index) else {
        return err(errors::INDEX_OUT_OF_RANGE);
    };
    ctx.txn
        .members_put(ctx.db, key, KeyKind::List, &[element(p, args[3].clone())])
        .await?;
    ctx.notify(b'l', "lset", key);
    Ok(OK)
}

/// Every element of a list with its position, in order.
async fn all_rows(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Vec<Member>, CmdError> {
    Ok(ctx
        .txn
        .members_range(ctx.db, key, &MemberRange::All, false, 0, None)
        .await?)
}

/// LINSERT key BEFORE|AFTER pivot element: finds the pivot, then moves
/// the shorter side one place outwards to open a gap for the element.
async fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let before = if is(&args[2], "before") {
        true
    } else if is(&args[2], "after") {
        false
    } else {
        return err(errors::SYNTAX);
    };
    let Some(e) = write_list(ctx, key).await? else {
        return Ok(Reply::Int(0));
    };
    let rows = all_rows(ctx, key).await?;
    let Some(i) = rows.iter().position(|m| m.value == args[3]) else {
        return Ok(Reply::Int(-1));
    };
    // The new element goes between rows[gap - 1] and rows[gap].
    let gap = if before { i } else { i + 1 };
    let mut writes = Vec::new();
    if gap <= rows.len() - gap {
        // Move rows[..gap] one place towards the head.
        for m in &rows[..gap] {
            writes.push(element(m.score - 1, m.value.clone()));
        }
        writes.push(element(e.head + gap as i64 - 1, args[4].clone()));
    } else {
        for m in &rows[gap..] {
            writes.push(element(m.score + 1, m.value.clone()));
        }
        writes.push(element(e.head + gap as i64, args[4].clone()));
    }
    ctx.txn
        .members_put(ctx.db, key, KeyKind::List, &writes)
        .await?;
    ctx.notify(b'l', "linsert", key);
    Ok(Reply::Int(e.len() + 1))
}

/// LREM key count element: removes matches from the head (count > 0),
/// the tail (< 0) or everywhere (0), then closes the gaps from the side
/// that moves fewer rows.
async fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let count = int_arg(&args[2])?;
    let Some(e) = write_list(ctx, key).await? else {
        return Ok(Reply::Int(0));
    };
    let rows = all_rows(ctx, key).await?;
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs().min(usize::MAX as u64) as usize
    };
    let matches = |m: &&Member| m.value == args[3];
    let mut removed: Vec<usize> = if count >= 0 {
        (0..rows.len())
            .filter(|&i| matches(&&rows[i]))
            .take(limit)
            .collect()
    } else {
        (0..rows.len())
            .rev()
            .filter(|&i| matches(&&rows[i]))
            .take(limit)
            .collect()
    };
    if removed.is_empty() {
        return Ok(Reply::Int(0));
    }
    removed.sort_unstable();
    let n = removed.len();
    if n == rows.len() {
        ctx.txn
            .members_delete_range(ctx.db, key, &MemberRange::All)
            .await?;
        ctx.notify(b'l', "lrem", key);
        drop_emptied(ctx, key).await?;
        return Ok(Reply::Int(n as i64));
    }
    let (first, last) = (removed[0], removed[n - 1]);
    let kept = |range: std::ops::Range<usize>| {
        range
            .filter(|i| removed.binary_search(i).is_err())
            .map(|i| rows[i].value.clone())
            .collect::<Vec<_>>()
    };
    if rows.len() - first <= last + 1 {
        // Close the gaps towards the head: rewrite from the first removal.
        let tail: Vec<Bytes> = kept(first..rows.len());
        let writes: Vec<Member> = tail
            .into_iter()
            .enumerate()
            .map(|(j, v)| element(e.head + (first + j) as i64, v))
            .collect();
        ctx.txn
            .members_put(ctx.db, key, KeyKind::List, &writes)
            .await?;
        ctx.txn
            .members_delete_range(ctx.db, key, &positions(e.tail - n as i64 + 1, e.tail))
            .await?;
    } else {
        // Towards the tail: rewrite up to the last removal.
        let head: Vec<Bytes> = kept(0..last + 1);
        let top = e.head + last as i64;
        let k = head.len();
        let writes: Vec<Member> = head
            .into_iter()
            .enumerate()
            .map(|(j, v)| element(top - (k - 1 - j) as i64, v))
            .collect();
        ctx.txn
            .members_put(ctx.db, key, KeyKind::List, &writes)
            .await?;
        ctx.txn
            .members_delete_range(ctx.db, key, &positions(e.head, e.head + n as i64 - 1))
            .await?;
    }
    ctx.notify(b'l', "lrem", key);
    Ok(Reply::Int(n as i64))
}

/// LTRIM key start stop: deletes the two ranges outside the kept one.
async fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let (start, stop) = (int_arg(&args[2])?, int_arg(&args[3])?);
    let Some(e) = write_list(ctx, key).await? else {
        return Ok(OK);
    };
    match crate::cmd::helpers::members::index_range(start, stop, e.len()) {
        None => {
            ctx.txn
                .members_delete_range(ctx.db, key, &MemberRange::All)
                .await?;
            ctx.notify(b'l', "ltrim", key);
            drop_emptied(ctx, key).await?;
        }
        Some((from, to)) => {
            if from > 0 {
                ctx.txn
                    .members_delete_range(ctx.db, key, &positions(e.head, e.head + from - 1))
                    .await?;
            }
            if e.head + to < e.tail {
                ctx.txn
                    .members_delete_range(ctx.db, key, &positions(e.head + to + 1, e.tail))
                    .await?;
            }
            ctx.notify(b'l', "ltrim", key);
        }
    }
    Ok(OK)
}

/// Rows LPOS reads at a time.
const LPOS_PAGE: u64 = 256;

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
async fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return err(errors::SYNTAX);
        };
        if is(&args[i], "rank") {
            rank = int_arg(value)?;
            if rank == 0 {
                return err(errors::LPOS_RANK_ZERO);
            }
        } else if is(&args[i], "count") {
            let n = crate::protocol::parse_i64(value)
                .filter(|&n| n >= 0)
                .ok_or_else(|| CmdError::Reply(errors::LPOS_COUNT_NEGATIVE.into()))?;
            count = Some(n);
        } else if is(&args[i], "maxlen") {
            maxlen = crate::protocol::parse_i64(value)
                .filter(|&n| n >= 0)
                .ok_or_else(|| CmdError::Reply(errors::LPOS_MAXLEN_NEGATIVE.into()))?;
        } else {
            return err(errors::SYNTAX);
        }
        i += 2;
    }
    let Some(e) = read_list(ctx, key).await? else {
        return Ok(if count.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Nil
        });
    };
    let rev = rank < 0;
    // Redis negates a negative rank in C: LLONG_MIN stays negative, and
    // then every match qualifies, as with -1.
    let mut skip = if rank == i64::MIN {
        0
    } else {
        rank.unsigned_abs() - 1
    };
    let wanted = match count {
        Some(0) => u64::MAX,
        Some(n) => n as u64,
        None => 1,
    };
    let budget = if maxlen == 0 { u64::MAX } else { maxlen as u64 };
    let mut found = Vec::new();
    let mut read: u64 = 0;
    'scan: while read < budget {
        let page = ctx
            .txn
            .members_range(
                ctx.db,
                key,
                &MemberRange::All,
                rev,
                read,
                Some(LPOS_PAGE.min(budget - read)),
            )
            .await?;
        let n = page.len() as u64;
        for m in page {
            if m.value == args[2] {
                if skip > 0 {
                    skip -= 1;
                } else {
                    found.push(Reply::Int(m.score - e.head));
                    if found.len() as u64 >= wanted {
                        break 'scan;
                    }
                }
            }
        }
        read += n;
        if n < LPOS_PAGE {
            break;
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Nil),
    })
}

/// Moves one element from an end of `src` to an end of `dst`: `None` when
/// `src` is absent. Redis's order: the push event on `dst` (after `new`
/// when it creates it), then the pop event on `src`, then `del` when
/// `src` emptied.
async fn move_one(
    ctx: &mut Ctx<'_>,
    src: &Bytes,
    dst: &Bytes,
    from_left: bool,
    to_left: bool,
) -> Result<Option<Bytes>, CmdError> {
    let Some(e) = write_list(ctx, src).await? else {
        return Ok(None);
    };
    let dst_exists = if dst == src {
        true
    } else {
        ctx.for_write_of(dst, KeyKind::List).await?.is_some()
    };
    let p = if from_left { e.head } else { e.tail };
    let Some(value) = element_at(ctx, src, p).await? else {
        return Ok(None);
    };
    ctx.txn
        .members_delete(ctx.db, src, &[position_member(p)])
        .await?;
    let dst_ends = if dst_exists {
        ends(ctx, dst).await?
    } else {
        None
    };
    push_values(
        ctx,
        dst,
        dst_ends,
        dst_exists,
        to_left,
        std::slice::from_ref(&value),
    )
    .await?;
    ctx.notify(b'l', if from_left { "lpop" } else { "rpop" }, src);
    if e.len() == 1 && dst != src {
        drop_emptied(ctx, src).await?;
    }
    Ok(Some(value))
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT / RPOPLPUSH source
/// destination (and the attempts of BLMOVE / BRPOPLPUSH).
async fn cmd_lmove(ctx: &mut Ctx<'_>, _spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    let (from_left, to_left) = if args.len() >= 5 {
        (side(&args[3])?, side(&args[4])?)
    } else {
        (false, true)
    };
    Ok(Reply::opt_bulk(
        move_one(ctx, &args[1], &args[2], from_left, to_left).await?,
    ))
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout / BRPOPLPUSH
/// source destination timeout: the non-blocking attempt.
async fn cmd_blmove(ctx: &mut Ctx<'_>, _spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    let (from_left, to_left) = if args.len() == 6 {
        (side(&args[3])?, side(&args[4])?)
    } else {
        (false, true)
    };
    timeout(&args[args.len() - 1])?;
    Ok(Reply::opt_bulk(
        move_one(ctx, &args[1], &args[2], from_left, to_left).await?,
    ))
}

/// BLPOP key [key ...] timeout: the non-blocking attempt.
async fn cmd_blpop(ctx: &mut Ctx<'_>, _spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    bpop(ctx, args, true).await
}

/// BRPOP key [key ...] timeout: the non-blocking attempt.
async fn cmd_brpop(ctx: &mut Ctx<'_>, _spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    bpop(ctx, args, false).await
}

/// BLPOP / BRPOP's attempt: one element from the first non-empty list,
/// from its left end or its right.
async fn bpop(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool) -> CmdResult {
    timeout(&args[args.len() - 1])?;
    for key in &args[1..args.len() - 1] {
        if let Some(e) = write_list(ctx, key).await? {
            let mut values = pop_values(ctx, key, e, left, 1).await?;
            if let Some(v) = values.pop() {
                return Ok(Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Bulk(v)]));
            }
        }
    }
    Ok(Reply::NilArray)
}

/// LMPOP's and BLMPOP's arguments from `numkeys` on: the keys, the side
/// and the count.
fn mpop_args(args: &[Bytes]) -> Result<(&[Bytes], bool, i64), CmdError> {
    let numkeys = crate::protocol::parse_i64(&args[0])
        .filter(|&n| n > 0)
        .ok_or_else(|| CmdError::Reply(errors::NUMKEYS_NOT_POSITIVE.into()))?;
    let rest = &args[1..];
    if numkeys as u64 >= rest.len() as u64 {
        return err(errors::SYNTAX);
    }
    let (keys, options) = rest.split_at(numkeys as usize);
    let left = side(&options[0])?;
    let mut count = None;
    let mut i = 1;
    while i < options.len() {
        if is(&options[i], "count") && i + 1 < options.len() && count.is_none() {
            let n = crate::protocol::parse_i64(&options[i + 1])
                .filter(|&n| n > 0)
                .ok_or_else(|| CmdError::Reply(errors::COUNT_NOT_POSITIVE.into()))?;
            count = Some(n);
            i += 2;
        } else {
            return err(errors::SYNTAX);
        }
    }
    Ok((keys, left, count.unwrap_or(1)))
}

/// Pops up to `count` elements from the first non-empty list of `keys`.
async fn mpop(ctx: &mut Ctx<'_>, keys: &[Bytes], left: bool, count: i64) -> CmdResult {
    for key in keys {
        if let Some(e) = write_list(ctx, key).await? {
            let values = pop_values(ctx, key, e, left, count).await?;
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::bulks(values),
            ]));
        }
    }
    Ok(Reply::NilArray)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
async fn cmd_lmpop(ctx: &mut Ctx<'_>, _spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    let (keys, left, count) = mpop_args(&args[1..])?;
    mpop(ctx, keys, left, count).await
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: the
/// non-blocking attempt.
async fn cmd_blmpop(ctx: &mut Ctx<'_>, _spec: &'static CommandSpec, args: &[Bytes]) -> CmdResult {
    timeout(&args[1])?;
    let (keys, left, count) = mpop_args(&args[2..])?;
    mpop(ctx, keys, left, count).await
}

/// BLMOVE / BRPOPLPUSH wait on the source; the timeout is last.
fn block_on_source(args: &[Bytes]) -> BlockOn {
    BlockOn::seconds(vec![args[1].clone()], args.len() - 1)
}

/// BLMPOP waits on its `numkeys` keys; the timeout comes first.
fn block_on_numkeys(args: &[Bytes]) -> BlockOn {
    let keys = match mpop_args(&args[2..]) {
        Ok((keys, _, _)) => keys.to_vec(),
        Err(_) => Vec::new(),
    };
    BlockOn::seconds(keys, 1)
}
