//! Members on MySQL: the rows of lists, sets and sorted sets, under their
//! key's kid, written at once (never staged) and read in chunks.

use std::collections::HashMap;

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::mysql::{MySql, MySqlRow};
use sqlx::{QueryBuilder, Row};

use super::staged::{CHUNK, KeyRow, chunks};
use super::txn::{MySqlTxn, check_key};
use crate::store::error::StoreResult;
use crate::store::members::Members;
use crate::store::sql::{SqlArg, limit_sql, range_sql};
use crate::store::types::{Db, KeyKind, KeyMeta, Member, MemberRange, new_version};

fn member_row(r: &MySqlRow) -> StoreResult<Member> {
    Ok(Member {
        member: Bytes::from(r.try_get::<Vec<u8>, _>(0)?),
        score: r.try_get(1)?,
        value: Bytes::from(r.try_get::<Vec<u8>, _>(2)?),
    })
}

type MySqlQuery<'q> = sqlx::query::Query<'q, MySql, sqlx::mysql::MySqlArguments>;

/// Binds a members range's arguments, in order.
fn bind_args(mut q: MySqlQuery<'_>, args: Vec<SqlArg>) -> MySqlQuery<'_> {
    for a in args {
        q = match a {
            SqlArg::Int(i) => q.bind(i),
            SqlArg::Bytes(b) => q.bind(b.to_vec()),
        };
    }
    q
}

impl MySqlTxn {
    /// Writes members, creating the key as `kind` if it does not exist;
    /// `touch` gives an existing key a new WATCH version.
    async fn put_members(
        &mut self,
        db: Db,
        key: &[u8],
        kind: KeyKind,
        rows: &[Member],
        touch: bool,
    ) -> StoreResult<()> {
        for m in rows {
            check_key("member", &m.member)?;
            self.check_value(m.value.len())?;
        }
        let version = new_version();
        let row = match self.row(db, key, true).await? {
            Some(row) if !touch => row,
            Some(row) => KeyRow {
                meta: KeyMeta {
                    version,
                    ..row.meta
                },
                ..row
            },
            None => KeyRow {
                meta: KeyMeta {
                    kind,
                    expire_at: None,
                    version,
                },
                kid: new_version(),
                value: None,
            },
        };
        let kid = row.kid;
        self.stage(db, key, row, &[]);
        let budget = self.max_value.max(0) as usize;
        for chunk in chunks(rows, budget, |m| m.member.len() + m.value.len()) {
            let mut q =
                QueryBuilder::<MySql>::new("INSERT INTO kv_members (kid, member, score, value) ");
            q.push_values(chunk, |mut b, m| {
                b.push_bind(kid)
                    .push_bind(m.member.as_ref())
                    .push_bind(m.score)
                    .push_bind(m.value.as_ref());
            });
            q.push(" ON DUPLICATE KEY UPDATE score = VALUES(score), value = VALUES(value)");
            q.build().execute(self.tx.conn()).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Members for MySqlTxn {
    async fn members_get(
        &mut self,
        db: Db,
        key: &[u8],
        members: &[Bytes],
    ) -> StoreResult<Vec<Option<Member>>> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(vec![None; members.len()]);
        };
        let mut found: HashMap<Bytes, Member> = HashMap::new();
        for chunk in members.chunks(CHUNK) {
            let mut q = QueryBuilder::<MySql>::new(
                "SELECT member, score, value FROM kv_members WHERE kid = ",
            );
            q.push_bind(kid).push(" AND member IN (");
            let mut list = q.separated(", ");
            for m in chunk {
                list.push_bind(m.as_ref());
            }
            q.push(")");
            for r in q.build().fetch_all(self.tx.conn()).await? {
                let m = member_row(&r)?;
                found.insert(m.member.clone(), m);
            }
        }
        Ok(members.iter().map(|m| found.get(m).cloned()).collect())
    }

    async fn members_put(
        &mut self,
        db: Db,
        key: &[u8],
        kind: KeyKind,
        rows: &[Member],
    ) -> StoreResult<()> {
        self.put_members(db, key, kind, rows, true).await
    }

    async fn members_put_quiet(
        &mut self,
        db: Db,
        key: &[u8],
        kind: KeyKind,
        rows: &[Member],
    ) -> StoreResult<()> {
        self.put_members(db, key, kind, rows, false).await
    }

    async fn members_remove(&mut self, db: Db, key: &[u8], members: &[Bytes]) -> StoreResult<i64> {
        self.delete_named(db, key, "kv_members", "member", members)
            .await
    }

    async fn members_remove_range(
        &mut self,
        db: Db,
        key: &[u8],
        range: &MemberRange,
    ) -> StoreResult<i64> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(0);
        };
        let (cond, args, _) = range_sql(range, false);
        let sql = format!("DELETE FROM kv_members WHERE kid = ?{cond}");
        let removed = bind_args(sqlx::query(&sql).bind(kid), args)
            .execute(self.tx.conn())
            .await?
            .rows_affected() as i64;
        Ok(removed)
    }

    async fn members_span(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<(i64, i64)>> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(None);
        };
        let (lo, hi): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT score FROM kv_members WHERE kid = ? ORDER BY score LIMIT 1), \
             (SELECT score FROM kv_members WHERE kid = ? ORDER BY score DESC LIMIT 1)",
        )
        .bind(kid)
        .bind(kid)
        .fetch_one(self.tx.conn())
        .await?;
        Ok(lo.zip(hi))
    }

    async fn members_count(&mut self, db: Db, key: &[u8], range: &MemberRange) -> StoreResult<i64> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(0);
        };
        let (cond, args, _) = range_sql(range, false);
        let sql = format!("SELECT COUNT(*) FROM kv_members WHERE kid = ?{cond}");
        let row = bind_args(sqlx::query(&sql).bind(kid), args)
            .fetch_one(self.tx.conn())
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn members_rank(
        &mut self,
        db: Db,
        key: &[u8],
        score: i64,
        member: &[u8],
    ) -> StoreResult<i64> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(0);
        };
        // Two index ranges: an OR of them would not use the index.
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM kv_members WHERE kid = ? AND score < ?) \
             + (SELECT COUNT(*) FROM kv_members WHERE kid = ? AND score = ? AND member < ?)",
        )
        .bind(kid)
        .bind(score)
        .bind(kid)
        .bind(score)
        .bind(member)
        .fetch_one(self.tx.conn())
        .await?;
        Ok(row.try_get(0)?)
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
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(Vec::new());
        };
        let (cond, args, order) = range_sql(range, rev);
        let (limit, offset) = limit_sql(offset, limit);
        let sql = format!(
            "SELECT member, score, value FROM kv_members WHERE kid = ?{cond}{order} LIMIT ? OFFSET ?"
        );
        bind_args(sqlx::query(&sql).bind(kid), args)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.tx.conn())
            .await?
            .iter()
            .map(member_row)
            .collect()
    }
}
