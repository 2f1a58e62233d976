//! Members on SQLite: the rows of lists, sets and sorted sets, keyed by
//! (db, key, member) and ordered by the (score, member) index.

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{Row, params};

use super::conn::{bytes_at, collect, first, run};
use super::txn::SqliteTxn;
use crate::store::error::StoreResult;
use crate::store::members::Members;
use crate::store::sql::{SqlArg, limit_sql, range_sql};
use crate::store::types::{Db, KeyKind, Member, MemberRange, key_hash, new_version};

fn member_row(r: &Row<'_>) -> StoreResult<Member> {
    Ok(Member {
        member: bytes_at(r, 0)?,
        score: r.get(1)?,
        value: bytes_at(r, 2)?,
    })
}

/// The parameters of a members statement: the key, the range's
/// arguments and, for a read, its LIMIT and OFFSET.
fn member_params(
    db: Db,
    key: &[u8],
    args: Vec<SqlArg>,
    limit: Option<(i64, i64)>,
) -> rusqlite::ParamsFromIter<Vec<rusqlite::types::Value>> {
    use rusqlite::types::Value;
    let mut values = vec![Value::Integer(db as i64), Value::Blob(key.to_vec())];
    values.extend(args.into_iter().map(|a| match a {
        SqlArg::Int(i) => Value::Integer(i),
        SqlArg::Bytes(b) => Value::Blob(b.to_vec()),
    }));
    if let Some((limit, offset)) = limit {
        values.push(Value::Integer(limit));
        values.push(Value::Integer(offset));
    }
    rusqlite::params_from_iter(values)
}

impl SqliteTxn {
    /// Writes members, creating the key as `kind` if it does not exist;
    /// `touch` gives an existing key a new WATCH version.
    fn put_members(
        &mut self,
        db: Db,
        key: &[u8],
        kind: KeyKind,
        rows: &[Member],
        touch: bool,
    ) -> StoreResult<()> {
        let c = self.c();
        let on_conflict = if touch {
            "DO UPDATE SET version = excluded.version"
        } else {
            "DO NOTHING"
        };
        run(
            c,
            &format!(
                "INSERT INTO kv_keys (db, key, kh, kind, expire_at, version, value) VALUES (?, ?, ?, ?, NULL, ?, NULL) \
                 ON CONFLICT(db, key) {on_conflict}"
            ),
            params![db as i64, key, key_hash(key), kind.code(), new_version()],
        )?;
        let mut upsert = c.prepare_cached(
            "INSERT INTO kv_members (db, key, member, score, value) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT(db, key, member) DO UPDATE SET score = excluded.score, value = excluded.value",
        )?;
        for m in rows {
            upsert.execute(params![
                db as i64,
                key,
                m.member.as_ref(),
                m.score,
                m.value.as_ref()
            ])?;
        }
        Ok(())
    }
}

#[async_trait]
impl Members for SqliteTxn {
    async fn members_get(
        &mut self,
        db: Db,
        key: &[u8],
        members: &[Bytes],
    ) -> StoreResult<Vec<Option<Member>>> {
        let mut statement = self.c().prepare_cached(
            "SELECT member, score, value FROM kv_members WHERE db = ? AND key = ? AND member = ?",
        )?;
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            let mut rows = statement.query(params![db as i64, key, m.as_ref()])?;
            out.push(match rows.next()? {
                Some(r) => Some(member_row(r)?),
                None => None,
            });
        }
        Ok(out)
    }

    async fn members_put(
        &mut self,
        db: Db,
        key: &[u8],
        kind: KeyKind,
        rows: &[Member],
    ) -> StoreResult<()> {
        self.put_members(db, key, kind, rows, true)
    }

    async fn members_put_quiet(
        &mut self,
        db: Db,
        key: &[u8],
        kind: KeyKind,
        rows: &[Member],
    ) -> StoreResult<()> {
        self.put_members(db, key, kind, rows, false)
    }

    async fn members_remove(&mut self, db: Db, key: &[u8], members: &[Bytes]) -> StoreResult<i64> {
        let mut removed = 0;
        {
            let mut delete = self
                .c()
                .prepare_cached("DELETE FROM kv_members WHERE db = ? AND key = ? AND member = ?")?;
            for m in members {
                removed += delete.execute(params![db as i64, key, m.as_ref()])? as i64;
            }
        }
        Ok(removed)
    }

    async fn members_remove_range(
        &mut self,
        db: Db,
        key: &[u8],
        range: &MemberRange,
    ) -> StoreResult<i64> {
        let (cond, args, _) = range_sql(range, false);
        let sql = format!("DELETE FROM kv_members WHERE db = ? AND key = ?{cond}");
        let removed = run(self.c(), &sql, member_params(db, key, args, None))? as i64;
        Ok(removed)
    }

    async fn members_span(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<(i64, i64)>> {
        let span: Option<(Option<i64>, Option<i64>)> = first(
            self.c(),
            "SELECT (SELECT score FROM kv_members WHERE db = ?1 AND key = ?2 ORDER BY score LIMIT 1), \
             (SELECT score FROM kv_members WHERE db = ?1 AND key = ?2 ORDER BY score DESC LIMIT 1)",
            params![db as i64, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(span.and_then(|(lo, hi)| lo.zip(hi)))
    }

    async fn members_count(&mut self, db: Db, key: &[u8], range: &MemberRange) -> StoreResult<i64> {
        let (cond, args, _) = range_sql(range, false);
        let sql = format!("SELECT COUNT(*) FROM kv_members WHERE db = ? AND key = ?{cond}");
        Ok(
            first(self.c(), &sql, member_params(db, key, args, None), |r| {
                Ok(r.get(0)?)
            })?
            .unwrap_or(0),
        )
    }

    async fn members_rank(
        &mut self,
        db: Db,
        key: &[u8],
        score: i64,
        member: &[u8],
    ) -> StoreResult<i64> {
        // Two index ranges: an OR of them would not use the index.
        Ok(first(
            self.c(),
            "SELECT (SELECT COUNT(*) FROM kv_members WHERE db = ?1 AND key = ?2 AND score < ?3) \
             + (SELECT COUNT(*) FROM kv_members WHERE db = ?1 AND key = ?2 AND score = ?3 AND member < ?4)",
            params![db as i64, key, score, member],
            |r| Ok(r.get(0)?),
        )?
        .unwrap_or(0))
    }

    async fn members_range(
        &mut self,
        db: Db,
        key: &[u8],
        range: &MemberRange,
        rev: bool,
        offset: u64,
        limit: Option<u64>,
    ) -> StoreResult<Vec<Member>> {
        let (cond, args, order) = range_sql(range, rev);
        let sql = format!(
            "SELECT member, score, value FROM kv_members WHERE db = ? AND key = ?{cond}{order} \
             LIMIT ? OFFSET ?"
        );
        collect(
            self.c(),
            &sql,
            member_params(db, key, args, Some(limit_sql(offset, limit))),
            member_row,
        )
    }
}
