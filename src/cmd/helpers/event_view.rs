//! The event streams' side of the log: which names are event streams, and
//! the bounded reads behind the stream commands ([`super::stream`]).
//!
//! The sequenced log of logical database `N` is the read-only stream
//! `__events@N__`; `__events@N__:<glob>` is the same stream filtered by key
//! (the glob as in KEYS). Entry `<ms>-<seq>` is the event with sequence
//! number `seq`, sequenced at `ms` (see [`crate::events::sequencer`]), so an
//! id means the same entry on every instance.
//!
//! A filtered view may have to pass over many entries to find one that
//! matches. No call examines more than [`BUDGET`] log entries per stream;
//! a scan that spent it without a match says how far it got, and XREAD
//! remembers that (per instance, in a small LRU, [`ScanMemo`]): entries are
//! immutable once sequenced, so "nothing matches in (a, b]" stays true and
//! the next poll from `a` starts after `b`.

use bytes::Bytes;

use crate::cmd::errors;
use crate::glob;
use crate::instance::scan_memo::ScanMemo;
use crate::store::{Db, LoggedEvent, Store, StoreResult, StreamId};

/// Every name starting with this is reserved for event streams: writes to
/// such a name are refused, whatever follows.
pub const PREFIX: &[u8] = b"__events@";

/// Most log entries one call examines per stream, and most entries one
/// reply carries per stream.
pub const BUDGET: u32 = 10_000;

/// Entries read per store query while scanning a filtered view.
const PAGE: u32 = 1_000;

/// A database's event stream, whole or filtered by key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct View {
    pub db: Db,
    /// The glob keys must match; `None` for the whole stream.
    pub pattern: Option<Bytes>,
}

impl View {
    pub fn matches(&self, key: &[u8]) -> bool {
        self.pattern.as_ref().is_none_or(|p| glob::matches(p, key))
    }
}

/// True for a name reserved for event streams (see [`PREFIX`]).
pub fn is_reserved(name: &[u8]) -> bool {
    name.starts_with(PREFIX)
}

/// True when `name` is an existing event stream (TYPE answers `stream`).
pub fn exists(name: &[u8], databases: u32) -> bool {
    matches!(parse(name, databases), Some(Ok(_)))
}

/// What a stream command's key names: `None` for an ordinary key, the view
/// of an event stream, or the error for a reserved name that names none
/// (malformed, or a database out of range).
pub fn parse(name: &[u8], databases: u32) -> Option<Result<View, Bytes>> {
    let rest = name.strip_prefix(PREFIX)?;
    let invalid = |why: &str| Some(Err(errors::invalid_event_stream(name, why)));
    let Some(end) = rest.windows(2).position(|w| w == b"__") else {
        return invalid("expected __events@<db>__ or __events@<db>__:<pattern>");
    };
    let digits = &rest[..end];
    let canonical = !digits.is_empty()
        && digits.len() <= 10
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] != b'0' || digits.len() == 1);
    let db = std::str::from_utf8(digits)
        .ok()
        .filter(|_| canonical)
        .and_then(|d| d.parse::<u64>().ok());
    let Some(db) = db else {
        return invalid("expected __events@<db>__ or __events@<db>__:<pattern>");
    };
    if db >= databases as u64 {
        return invalid("DB index is out of range");
    }
    let pattern = match &rest[end + 2..] {
        b"" | b":*" => None,
        [b':', glob @ ..] => Some(Bytes::copy_from_slice(glob)),
        _ => return invalid("expected __events@<db>__ or __events@<db>__:<pattern>"),
    };
    Some(Ok(View {
        db: db as Db,
        pattern,
    }))
}

/// The entry id of a logged event.
pub fn id_of(event: &LoggedEvent) -> StreamId {
    StreamId {
        ms: event.ms,
        seq: event.seq,
    }
}

/// The next id after `id`, if any.
pub fn next_id(id: StreamId) -> Option<StreamId> {
    if id.seq < i64::MAX {
        Some(StreamId {
            ms: id.ms,
            seq: id.seq + 1,
        })
    } else if id.ms < i64::MAX {
        Some(StreamId {
            ms: id.ms + 1,
            seq: 0,
        })
    } else {
        None
    }
}

/// The id before `id`, if any.
pub fn previous_id(id: StreamId) -> Option<StreamId> {
    if id.seq > 0 {
        Some(StreamId {
            ms: id.ms,
            seq: id.seq - 1,
        })
    } else if id.ms > 0 {
        Some(StreamId {
            ms: id.ms - 1,
            seq: i64::MAX,
        })
    } else {
        None
    }
}

/// What one bounded scan found.
#[derive(Debug, Default)]
pub struct Scanned {
    /// The matching entries, in scan order.
    pub entries: Vec<LoggedEvent>,
    /// The last entry examined, matching or not.
    pub reached: Option<StreamId>,
    /// Entries examined.
    pub examined: u32,
    /// True when nothing of the range is left beyond `reached` (as opposed
    /// to stopping at `count` or at the budget).
    pub complete: bool,
}

/// The entries of `view` with ids in `[from, to]`, oldest first (newest
/// first when `rev`): at most `count` (1..=[`BUDGET`]), examining at most
/// [`BUDGET`] log entries.
pub async fn scan(
    store: &dyn Store,
    view: &View,
    from: StreamId,
    to: StreamId,
    rev: bool,
    count: u32,
) -> StoreResult<Scanned> {
    let count = count.clamp(1, BUDGET);
    let mut out = Scanned::default();
    let (mut lo, mut hi) = (from, to);
    // A filtered view reads pages that grow while nothing matches.
    let mut page = count.clamp(100, PAGE);
    loop {
        if lo > hi {
            out.complete = true;
            return Ok(out);
        }
        let left = BUDGET - out.examined;
        let want = match view.pattern {
            None => (count - out.entries.len() as u32).min(left),
            Some(_) => page.min(left),
        };
        let batch = store.stream_range(view.db, lo, hi, rev, want).await?;
        out.examined += batch.len() as u32;
        let short = (batch.len() as u32) < want;
        for event in batch {
            out.reached = Some(id_of(&event));
            if view.matches(&event.key) {
                out.entries.push(event);
                if out.entries.len() as u32 == count {
                    return Ok(out);
                }
            }
        }
        if short {
            out.complete = true;
            return Ok(out);
        }
        if out.examined >= BUDGET {
            return Ok(out);
        }
        let Some(reached) = out.reached else {
            out.complete = true;
            return Ok(out);
        };
        let step = if rev {
            previous_id(reached).map(|id| hi = id)
        } else {
            next_id(reached).map(|id| lo = id)
        };
        if step.is_none() {
            out.complete = true;
            return Ok(out);
        }
        page = (page * 2).min(PAGE);
    }
}

/// What an XREAD of one stream found.
pub struct Read {
    pub entries: Vec<LoggedEvent>,
    /// True when a filtered scan stopped at the budget before the log's end
    /// (a blocked reader goes on at once).
    pub behind: bool,
}

/// XREAD of one stream: the entries after `after`, at most `count` (0: up
/// to the budget). `scanned` is the reader's own position: nothing of the
/// view lies in `(after, scanned]`; a fruitless scan moves it on, here and
/// in `memo` (so a poll from the same `after` resumes there).
pub async fn read_after(
    store: &dyn Store,
    memo: &ScanMemo,
    view: &View,
    after: StreamId,
    scanned: &mut StreamId,
    count: u32,
) -> StoreResult<Read> {
    if view.pattern.is_some()
        && let Some(known) = memo.get(view.db, view.pattern.as_ref(), after)
    {
        *scanned = (*scanned).max(known);
    }
    let start = (*scanned).max(after);
    let Some(from) = next_id(start) else {
        return Ok(Read {
            entries: Vec::new(),
            behind: false,
        });
    };
    let count = if count == 0 { BUDGET } else { count };
    let found = scan(store, view, from, StreamId::MAX, false, count).await?;
    if found.entries.is_empty()
        && let Some(reached) = found.reached
    {
        *scanned = reached;
        if view.pattern.is_some() {
            memo.put(view.db, view.pattern.as_ref(), after, reached);
        }
    }
    Ok(Read {
        behind: found.entries.is_empty() && !found.complete,
        entries: found.entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(db: Db, pattern: Option<&str>) -> View {
        View {
            db,
            pattern: pattern.map(|p| Bytes::copy_from_slice(p.as_bytes())),
        }
    }

    #[test]
    fn names() {
        assert_eq!(parse(b"k", 16), None);
        assert_eq!(parse(b"__events@0__", 16), Some(Ok(view(0, None))));
        assert_eq!(parse(b"__events@15__", 16), Some(Ok(view(15, None))));
        assert_eq!(parse(b"__events@3__:*", 16), Some(Ok(view(3, None))));
        assert_eq!(
            parse(b"__events@3__:dev:*", 16),
            Some(Ok(view(3, Some("dev:*"))))
        );
        assert_eq!(parse(b"__events@0__:", 16), Some(Ok(view(0, Some("")))));
        for bad in [
            &b"__events@16__"[..],
            b"__events@01__",
            b"__events@__",
            b"__events@x__",
            b"__events@0",
            b"__events@0__x",
            b"__events@-1__",
            b"__events@99999999999__",
        ] {
            assert!(matches!(parse(bad, 16), Some(Err(_))), "{bad:?}");
            assert!(is_reserved(bad));
            assert!(!exists(bad, 16));
        }
        assert!(exists(b"__events@0__:a*", 16));
        assert!(!is_reserved(b"__event@0__"));
    }

    #[test]
    fn ids_step() {
        let id = |ms, seq| StreamId { ms, seq };
        assert_eq!(next_id(id(1, 5)), Some(id(1, 6)));
        assert_eq!(next_id(id(1, i64::MAX)), Some(id(2, 0)));
        assert_eq!(next_id(StreamId::MAX), None);
        assert_eq!(previous_id(id(1, 5)), Some(id(1, 4)));
        assert_eq!(previous_id(id(2, 0)), Some(id(1, i64::MAX)));
        assert_eq!(previous_id(StreamId::MIN), None);
    }

    #[test]
    fn memo_is_bounded_and_keeps_the_furthest() {
        let memo = ScanMemo::default();
        let v = view(0, Some("dev:*"));
        let at = |seq| StreamId { ms: 1, seq };
        memo.put(v.db, v.pattern.as_ref(), at(1), at(100));
        memo.put(v.db, v.pattern.as_ref(), at(1), at(50));
        assert_eq!(memo.get(v.db, v.pattern.as_ref(), at(1)), Some(at(100)));
        assert_eq!(memo.get(0, None, at(1)), None);
        for i in 0..(ScanMemo::CAPACITY as i64 + 10) {
            memo.put(v.db, v.pattern.as_ref(), at(1000 + i), at(5000 + i));
        }
        assert_eq!(memo.len(), ScanMemo::CAPACITY);
        // The oldest went first.
        assert_eq!(memo.get(v.db, v.pattern.as_ref(), at(1)), None);
        let long = view(0, Some(&"x".repeat(ScanMemo::MAX_PATTERN + 1)));
        memo.put(long.db, long.pattern.as_ref(), at(1), at(2));
        assert_eq!(memo.get(long.db, long.pattern.as_ref(), at(1)), None);
    }
}
