//! What one MySQL transaction knows of the keys it touched, and the key
//! writes it holds back so that they leave together: a group commit's
//! SETs become one multi-row statement per table instead of one statement
//! each.
//!
//! Every key a write transaction knows is locked (read `FOR UPDATE`) or
//! was seen absent, so what it knows stays true until it commits; writes
//! staged here reach the database before anything else reads or changes
//! their keys (see `MySqlTxn::settle`), before the events are logged and
//! before the commit.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use sqlx::mysql::MySql;
use sqlx::{MySqlConnection, QueryBuilder};

use crate::store::error::StoreResult;
use crate::store::types::{Db, KeyKind, KeyMeta, key_hash};

/// Rows per multi-row statement (well under the 65,535 placeholder limit).
pub(super) const CHUNK: usize = 1000;

/// A key's row as a transaction knows it.
#[derive(Clone, Debug)]
pub(super) struct KeyRow {
    pub meta: KeyMeta,
    pub kid: i64,
    /// A string's value when the transaction has it (a prefetch leaves big
    /// values in the database); unused for other kinds.
    pub value: Option<Bytes>,
}

impl KeyRow {
    /// True when the whole row is known, so that a write of it can be
    /// staged without reading the value again.
    pub fn complete(&self) -> bool {
        self.meta.kind != KeyKind::String || self.value.is_some()
    }
}

/// What a transaction knows of one key.
#[derive(Clone, Debug)]
pub(super) enum Known {
    /// It does not exist (seen so, or deleted by this transaction).
    Absent,
    /// It exists with this kid; its other columns are not known here.
    Kid(i64),
    /// It exists and this is its row, the transaction's own writes included.
    Row(KeyRow),
}

impl Known {
    pub fn kid(&self) -> Option<i64> {
        match self {
            Known::Absent => None,
            Known::Kid(kid) => Some(*kid),
            Known::Row(row) => Some(row.kid),
        }
    }
}

/// The keys a transaction looked up, by database and key.
pub(super) type KnownKeys = HashMap<(Db, Bytes), Known>;

/// A key row (and hash fields) waiting for the next flush.
struct Pending {
    row: KeyRow,
    /// The database has no row for the key: it is created with a plain
    /// INSERT, so a concurrent creator makes one of them fail as a
    /// conflict instead of overwriting the other.
    insert: bool,
    /// Hash fields to set under `row.kid`.
    fields: Vec<(Bytes, Bytes)>,
}

/// Key writes held back until [`Staged::flush`].
#[derive(Default)]
pub(super) struct Staged {
    /// Ordered by key, so the rows are written (and new keys locked) in
    /// one order whoever writes them.
    pending: BTreeMap<(Db, Bytes), Pending>,
}

impl Staged {
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn holds(&self, db: Db, key: &[u8]) -> bool {
        !self.pending.is_empty()
            && self
                .pending
                .contains_key(&(db, Bytes::copy_from_slice(key)))
    }

    /// Stages the key's row as `row` plus `fields`; `existed` says whether
    /// the database had the key before this write (ignored when the key is
    /// already staged: its first write decided).
    pub fn stage(
        &mut self,
        db: Db,
        key: &[u8],
        row: KeyRow,
        fields: &[(Bytes, Bytes)],
        existed: bool,
    ) {
        let pending = self
            .pending
            .entry((db, Bytes::copy_from_slice(key)))
            .or_insert_with(|| Pending {
                row: row.clone(),
                insert: !existed,
                fields: Vec::new(),
            });
        pending.row = row;
        pending.fields.extend_from_slice(fields);
    }

    /// Forgets the key's staged write (the key is being deleted); true
    /// when the database never had it, so there is nothing to delete.
    pub fn discard(&mut self, db: Db, key: &[u8]) -> bool {
        self.pending
            .remove(&(db, Bytes::copy_from_slice(key)))
            .is_some_and(|p| p.insert)
    }

    /// Writes everything staged: new keys with one multi-row INSERT,
    /// existing ones with one multi-row upsert, hash fields with another
    /// (each chunked to stay under `budget` bytes and [`CHUNK`] rows).
    pub async fn flush(&mut self, conn: &mut MySqlConnection, budget: usize) -> StoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let (inserts, updates): (Vec<_>, Vec<_>) = pending.iter().partition(|(_, p)| p.insert);
        write_keys(conn, &inserts, false, budget).await?;
        write_keys(conn, &updates, true, budget).await?;
        let fields: Vec<(i64, &Bytes, &Bytes)> = pending
            .values()
            .flat_map(|p| p.fields.iter().map(|(f, v)| (p.row.kid, f, v)))
            .collect();
        for chunk in chunks(&fields, budget, |(_, f, v)| f.len() + v.len()) {
            let mut q =
                QueryBuilder::<MySql>::new("INSERT INTO kv_hash_fields (kid, field, value) ");
            q.push_values(chunk, |mut row, (kid, field, value)| {
                row.push_bind(*kid)
                    .push_bind(field.as_ref())
                    .push_bind(value.as_ref());
            });
            q.push(" ON DUPLICATE KEY UPDATE value = VALUES(value)");
            q.build().execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// Writes key rows: plain INSERTs, or (`upsert`) updates of rows this
/// transaction holds locked, as one multi-row upsert.
async fn write_keys(
    conn: &mut MySqlConnection,
    rows: &[(&(Db, Bytes), &Pending)],
    upsert: bool,
    budget: usize,
) -> StoreResult<()> {
    let size = |(key, p): &(&(Db, Bytes), &Pending)| {
        key.1.len() + p.row.value.as_ref().map_or(0, |v| v.len())
    };
    for chunk in chunks(rows, budget, size) {
        let mut q = QueryBuilder::<MySql>::new(
            "INSERT INTO kv_keys (db, `key`, kh, kid, kind, expire_at, version, value) ",
        );
        q.push_values(chunk, |mut b, ((db, key), p)| {
            let value = match p.row.meta.kind {
                KeyKind::String => Some(p.row.value.as_deref().unwrap_or_default()),
                _ => None,
            };
            b.push_bind(*db as i32)
                .push_bind(key.as_ref())
                .push_bind(key_hash(key))
                .push_bind(p.row.kid)
                .push_bind(p.row.meta.kind.code() as i8)
                .push_bind(p.row.meta.expire_at)
                .push_bind(p.row.meta.version)
                .push_bind(value);
        });
        if upsert {
            q.push(
                " ON DUPLICATE KEY UPDATE kind = VALUES(kind), expire_at = VALUES(expire_at), \
                 version = VALUES(version), value = VALUES(value)",
            );
        }
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Splits `items` into runs of at most [`CHUNK`] items whose `size`s add
/// up to at most `budget` (an item larger than that goes alone).
pub(super) fn chunks<T>(
    items: &[T],
    budget: usize,
    size: impl Fn(&T) -> usize,
) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut total = 0;
        let mut n = 0;
        while n < rest.len() && n < CHUNK {
            // Room for the statement's text and each row's other columns.
            let more = size(&rest[n]) + 64;
            if n > 0 && total + more > budget {
                break;
            }
            total += more;
            n += 1;
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

#[cfg(test)]
mod tests {
    use crate::store::mysql::staged::chunks;

    #[test]
    fn chunks_respect_rows_and_bytes() {
        let items: Vec<usize> = vec![10; 2500];
        let sizes: Vec<usize> = chunks(&items, usize::MAX, |s| *s)
            .map(|c| c.len())
            .collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        let big = [100, 100, 1000, 5, 5];
        let sizes: Vec<usize> = chunks(&big, 400, |s| *s).map(|c| c.len()).collect();
        assert_eq!(sizes, [2, 1, 2]);
    }
}
