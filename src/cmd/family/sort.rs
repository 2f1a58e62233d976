//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted
//! numerically or alphabetically, by themselves or by other keys' values
//! (BY), with other keys' values fetched for each (GET), limited (LIMIT)
//! and optionally stored as a list (STORE), as Redis's sort.c does.

use std::cmp::Ordering;

use bytes::Bytes;

use crate::cmd::args::{int_arg, is};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors::{self, CmdError, CmdResult, err};
use crate::cmd::spec::{BeginSearch, CommandSpec, KeySpec, ONE_KEY, key_at};
use crate::reply::Reply;
use crate::store::{KeyKind, Member, MemberRange, position_member};

/// The spec Redis gives keys it cannot locate from the arguments.
const fn unknown(notes: &'static str, flags: &'static [&'static str]) -> KeySpec {
    KeySpec {
        notes: Some(notes),
        begin: BeginSearch::Unknown,
        ..key_at(0, flags)
    }
}

const BY_GET: KeySpec = unknown(
    "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
    &["RO", "access"],
);

/// SORT's keys: the one it sorts, BY/GET's, STORE's.
static SORT_KEYS: &[KeySpec] = &[
    key_at(1, &["RO", "access"]),
    BY_GET,
    unknown(
        "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
        &["OW", "update"],
    ),
];
/// SORT_RO's: the one it sorts, BY/GET's.
static SORT_RO_KEYS: &[KeySpec] = &[key_at(1, &["RO", "access"]), BY_GET];

pub static COMMANDS: &[CommandSpec] = commands! { family: Keys, group: "generic";
    "sort", -2, &["write", "denyoom", "movablekeys"], ONE_KEY, "1.0.0", data!(cmd_sort; args), "Sort the elements in a list, set or sorted set", keys: SORT_KEYS;
    "sort_ro", -2, &["readonly", "movablekeys"], ONE_KEY, "7.0.0", data!(cmd_sort_ro; args), "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", keys: SORT_RO_KEYS;
};

/// The options of one SORT.
struct Options {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    by: Option<Bytes>,
    /// BY a pattern without `*`: the elements keep their own order.
    dont_sort: bool,
    gets: Vec<Bytes>,
}

fn parse(args: &[Bytes], read_only: bool) -> Result<Options, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            let start = int_arg(&args[j + 1])?;
            let count = int_arg(&args[j + 2])?;
            o.limit = Some((start, count));
            j += 2;
        } else if !read_only && is(a, "store") && left >= 1 {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let pattern = args[j + 1].clone();
            o.dont_sort = !pattern.contains(&b'*');
            o.by = Some(pattern);
            j += 1;
        } else if is(a, "get") && left >= 1 {
            o.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// What a BY or GET pattern names for `element`: the element itself for
/// `#`; else the string key (or, with `->field`, the hash field) named by
/// the pattern with its first `*` replaced by the element. Nothing for a
/// pattern without `*`, a missing key or one of another kind.
async fn lookup(
    ctx: &mut Ctx<'_>,
    pattern: &[u8],
    element: &Bytes,
) -> Result<Option<Bytes>, CmdError> {
    if pattern == b"#" {
        return Ok(Some(element.clone()));
    }
    let Some(star) = pattern.iter().position(|&b| b == b'*') else {
        return Ok(None);
    };
    let after = &pattern[star + 1..];
    let (postfix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(arrow) if arrow + 2 < after.len() => (&after[..arrow], Some(&after[arrow + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(star + element.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    let Some(meta) = ctx.live(&key).await? else {
        return Ok(None);
    };
    match (field, meta.kind) {
        (Some(field), KeyKind::Hash) => Ok(ctx
            .txn
            .hash_get(ctx.db, &key, &[Bytes::copy_from_slice(field)])
            .await?
            .pop()
            .flatten()),
        (None, KeyKind::String) => Ok(ctx.txn.string_get(ctx.db, &key).await?.map(|(_, v)| v)),
        _ => Ok(None),
    }
}

/// A number as Redis's SORT reads one (strtod over the whole string):
/// `None` when it is not one.
fn sort_score(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if text.is_empty() {
        return Some(0.0);
    }
    text.parse::<f64>().ok().filter(|s| !s.is_nan())
}

/// One element being sorted and what it sorts by.
struct Item {
    element: Bytes,
    score: f64,
    by: Option<Bytes>,
}

/// SORT.
async fn cmd_sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    sort(ctx, args, false).await
}

/// SORT_RO: SORT without STORE.
async fn cmd_sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    sort(ctx, args, true).await
}

/// SORT / SORT_RO (`read_only`).
async fn sort(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult {
    let mut o = parse(args, read_only)?;
    let key = &args[1];
    let kind = match ctx.live(key).await? {
        None => None,
        Some(m) if m.kind.has_members() && m.kind != KeyKind::Stream => Some(m.kind),
        Some(_) => return Err(CmdError::WrongType),
    };
    // A set has no order of its own: stored, it is sorted alphabetically.
    if o.dont_sort && kind == Some(KeyKind::Set) && o.store.is_some() {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = match kind {
        Some(_) => ctx.txn.members_len(ctx.db, key).await?,
        None => 0,
    };
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        len - 1
    } else {
        start.saturating_add(limit_count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);

    // Lists and sorted sets keep their order unsorted: read just the range.
    let ordered = matches!(kind, Some(KeyKind::List | KeyKind::ZSet));
    let elements: Vec<Bytes> = match kind {
        None => Vec::new(),
        Some(kind) if o.dont_sort && ordered => {
            let count = (end - start + 1).max(0) as u64;
            let rows = ctx
                .txn
                .members_range(
                    ctx.db,
                    key,
                    &MemberRange::All,
                    o.desc,
                    start as u64,
                    Some(count),
                )
                .await?;
            end -= start;
            start = 0;
            rows.into_iter().map(|m| element_of(kind, m)).collect()
        }
        Some(kind) => ctx
            .txn
            .members_range(ctx.db, key, &MemberRange::All, false, 0, None)
            .await?
            .into_iter()
            .map(|m| element_of(kind, m))
            .collect(),
    };

    let mut items: Vec<Item> = Vec::with_capacity(elements.len());
    let mut not_a_number = false;
    for element in elements {
        let mut item = Item {
            element,
            score: 0.0,
            by: None,
        };
        if !o.dont_sort {
            let by = match &o.by {
                Some(pattern) => lookup(ctx, pattern, &item.element).await?,
                None => Some(item.element.clone()),
            };
            if let Some(by) = by {
                if o.alpha {
                    if o.by.is_some() {
                        item.by = Some(by);
                    }
                } else {
                    match sort_score(&by) {
                        Some(score) => item.score = score,
                        None => not_a_number = true,
                    }
                }
            }
        }
        items.push(item);
    }
    if !o.dont_sort {
        let by_pattern = o.by.is_some();
        items.sort_by(|a, b| {
            let cmp = if !o.alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.element.cmp(&b.element))
            } else if by_pattern {
                a.by.cmp(&b.by)
            } else {
                a.element.cmp(&b.element)
            };
            if o.desc { cmp.reverse() } else { cmp }
        });
    }
    if not_a_number {
        return Ok(Reply::error(
            "ERR One or more scores can't be converted into double",
        ));
    }

    let picked = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &items[..0]
    };
    let mut out: Vec<Option<Bytes>> = Vec::new();
    for item in picked {
        if o.gets.is_empty() {
            out.push(Some(item.element.clone()));
        }
        for pattern in &o.gets {
            out.push(lookup(ctx, pattern, &item.element).await?);
        }
    }
    let Some(dst) = o.store else {
        return Ok(Reply::Array(out.into_iter().map(Reply::opt_bulk).collect()));
    };
    let stored = out.len() as i64;
    let existed = ctx.for_write(&dst).await?.is_some();
    if existed {
        ctx.txn.delete(ctx.db, &dst).await?;
    }
    if stored > 0 {
        let rows: Vec<Member> = out
            .into_iter()
            .enumerate()
            .map(|(i, v)| Member {
                member: position_member(i as i64),
                score: i as i64,
                value: v.unwrap_or_default(),
            })
            .collect();
        if !existed {
            ctx.notify(b'n', "new", &dst);
        }
        ctx.txn
            .members_put(ctx.db, &dst, KeyKind::List, &rows)
            .await?;
        ctx.notify(b'l', "sortstore", &dst);
    } else if existed {
        ctx.notify(b'g', "del", &dst);
    }
    Ok(Reply::Int(stored))
}

/// The element a member row holds: a list's value, a set's or sorted
/// set's member.
fn element_of(kind: KeyKind, m: Member) -> Bytes {
    match kind {
        KeyKind::List => m.value,
        _ => m.member,
    }
}
