//! The keyspace on MySQL: beginning transactions on the commands'
//! connections, and a transaction's prefetch, keys, strings, hashes, scans
//! and whole-database operations.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::mysql::{MySql, MySqlRow};
use sqlx::{QueryBuilder, Row};

use super::held::Begin;
use super::open::MySqlStore;
use super::staged::{CHUNK, KeyRow, Known, KnownKeys, Staged};
use super::txn::{MAX_KEY_LEN, MySqlTxn, check_key, key_row};
use crate::store::error::StoreResult;
use crate::store::keyspace::{Keyspace, Txn};
use crate::store::sql::{key_range, lists};
use crate::store::types::{Access, Db, DbCounts, KeyKind, KeyMeta, new_version};

/// Longest string value a prefetch brings back; longer ones are read when
/// a command asks for them.
const PREFETCH_VALUE: usize = 64 * 1024;

fn pairs(rows: Vec<MySqlRow>) -> StoreResult<Vec<(Bytes, Bytes)>> {
    rows.iter()
        .map(|r| {
            Ok((
                Bytes::from(r.try_get::<Vec<u8>, _>(0)?),
                Bytes::from(r.try_get::<Vec<u8>, _>(1)?),
            ))
        })
        .collect()
}

fn key_rows(rows: &[MySqlRow]) -> StoreResult<Vec<(Bytes, KeyMeta)>> {
    rows.iter()
        .map(|r| {
            Ok((
                Bytes::from(r.try_get::<Vec<u8>, _>(0)?),
                KeyMeta {
                    kind: KeyKind::from_code(r.try_get::<i8, _>(1)? as i64)?,
                    expire_at: r.try_get(2)?,
                    version: r.try_get(3)?,
                },
            ))
        })
        .collect()
}

#[async_trait]
impl Keyspace for MySqlStore {
    fn write_lanes(&self) -> usize {
        // A batch costs a few statements whatever its size, so fewer,
        // fuller batches beat many small ones: eight lanes (of the
        // 32-connection pool, leaving room for reads) measured as fast as
        // four for SET and INCR at 50 clients and faster for HSET, whose
        // field count is a statement per command; 24 was 2x slower.
        8
    }

    fn prefetches(&self) -> bool {
        true
    }

    async fn begin(&self, access: Access) -> StoreResult<Box<dyn Txn>> {
        self.check_ready()?;
        let tx = match access {
            Access::Write => self.conns.take(Begin::Locking).await?,
            Access::Snapshot => self.conns.take(Begin::Snapshot).await?,
            Access::Read => self.conns.take(Begin::None).await?,
        };
        Ok(Box::new(MySqlTxn {
            tx,
            write: access == Access::Write,
            known: KnownKeys::new(),
            staged: Staged::default(),
            max_value: self.max_packet.load(Ordering::Relaxed) - 64 * 1024,
        }))
    }
}

#[async_trait]
impl Txn for MySqlTxn {
    /// One read of every key not known yet (`FOR UPDATE` in a write
    /// transaction: the keys are locked in their sorted order), per
    /// database and chunk.
    async fn prefetch(&mut self, keys: &[(Db, Bytes)]) -> StoreResult<()> {
        let wanted: Vec<&(Db, Bytes)> = keys
            .iter()
            .filter(|k| k.1.len() <= MAX_KEY_LEN && !self.known.contains_key(*k))
            .collect();
        for same_db in wanted.chunk_by(|a, b| a.0 == b.0) {
            let db = same_db[0].0;
            for chunk in same_db.chunks(CHUNK) {
                let mut q = QueryBuilder::<MySql>::new(format!(
                    "SELECT `key`, kind, expire_at, version, kid, \
                     CASE WHEN LENGTH(value) <= {PREFETCH_VALUE} THEN value END \
                     FROM kv_keys WHERE db = "
                ));
                q.push_bind(db as i32).push(" AND `key` IN (");
                let mut list = q.separated(", ");
                for (_, key) in chunk {
                    list.push_bind(key.as_ref());
                }
                // Lists padded (with the last key again) to a power of two:
                // a few statement shapes, each prepared once per connection,
                // rather than one per batch size.
                let last = &chunk[chunk.len() - 1].1;
                for _ in chunk.len()..chunk.len().next_power_of_two().min(CHUNK) {
                    list.push_bind(last.as_ref());
                }
                q.push(if self.write { ") FOR UPDATE" } else { ")" });
                let rows = q.build().fetch_all(self.tx.conn()).await?;
                for (_, key) in chunk {
                    self.known.insert((db, key.clone()), Known::Absent);
                }
                for r in &rows {
                    let key = Bytes::from(r.try_get::<Vec<u8>, _>(0)?);
                    self.known
                        .insert((db, key), Known::Row(key_row(r, 1, true)?));
                }
            }
        }
        Ok(())
    }

    async fn meta(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<KeyMeta>> {
        Ok(self.row(db, key, false).await?.map(|r| r.meta))
    }

    async fn string_get(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<(KeyMeta, Bytes)>> {
        let row = self.row(db, key, true).await?;
        Ok(row.map(|r| (r.meta, r.value.unwrap_or_default())))
    }

    async fn string_put(
        &mut self,
        db: Db,
        key: &[u8],
        value: &[u8],
        expire_at: Option<i64>,
    ) -> StoreResult<()> {
        self.check_value(value.len())?;
        let kid = match self.kid(db, key).await? {
            Some(kid) => kid,
            None => new_version(),
        };
        let row = KeyRow {
            meta: KeyMeta {
                kind: KeyKind::String,
                expire_at,
                version: new_version(),
            },
            kid,
            value: Some(Bytes::copy_from_slice(value)),
        };
        self.stage(db, key, row, &[]);
        Ok(())
    }

    async fn delete(&mut self, db: Db, key: &[u8]) -> StoreResult<bool> {
        let Some(KeyRow { meta, kid, .. }) = self.row(db, key, false).await? else {
            return Ok(false);
        };
        // Members are written at once, under the kid, even for a key
        // whose row is still staged.
        if meta.kind.has_members() {
            sqlx::query("DELETE FROM kv_members WHERE kid = ?")
                .bind(kid)
                .execute(self.tx.conn())
                .await?;
        }
        if self.staged.discard(db, key) {
            // Created by this transaction and never written: nothing to delete.
            self.learn(db, key, Known::Absent);
            return Ok(true);
        }
        sqlx::query("DELETE FROM kv_keys WHERE db = ? AND `key` = ?")
            .bind(db as i32)
            .bind(key)
            .execute(self.tx.conn())
            .await?;
        if meta.kind == KeyKind::Hash {
            sqlx::query("DELETE FROM kv_hash_fields WHERE kid = ?")
                .bind(kid)
                .execute(self.tx.conn())
                .await?;
        }
        self.learn(db, key, Known::Absent);
        Ok(true)
    }

    async fn set_expire(&mut self, db: Db, key: &[u8], expire_at: Option<i64>) -> StoreResult<()> {
        check_key("key", key)?;
        if let Some(Known::Row(row)) = self.known(db, key)
            && row.complete()
        {
            let row = KeyRow {
                meta: KeyMeta {
                    expire_at,
                    version: new_version(),
                    ..row.meta
                },
                ..row.clone()
            };
            self.stage(db, key, row, &[]);
            return Ok(());
        }
        self.settle(db, key).await?;
        sqlx::query("UPDATE kv_keys SET expire_at = ?, version = ? WHERE db = ? AND `key` = ?")
            .bind(expire_at)
            .bind(new_version())
            .bind(db as i32)
            .bind(key)
            .execute(self.tx.conn())
            .await?;
        // Whatever was known of its row is stale now; its kid still holds.
        match self.known(db, key).and_then(Known::kid) {
            Some(kid) => self.learn(db, key, Known::Kid(kid)),
            None => {
                self.known.remove(&(db, Bytes::copy_from_slice(key)));
            }
        }
        Ok(())
    }

    async fn hash_get(
        &mut self,
        db: Db,
        key: &[u8],
        fields: &[Bytes],
    ) -> StoreResult<Vec<Option<Bytes>>> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(vec![None; fields.len()]);
        };
        let mut found: HashMap<Bytes, Bytes> = HashMap::new();
        for chunk in fields.chunks(CHUNK) {
            let mut q =
                QueryBuilder::<MySql>::new("SELECT field, value FROM kv_hash_fields WHERE kid = ");
            q.push_bind(kid).push(" AND field IN (");
            let mut list = q.separated(", ");
            for f in chunk {
                list.push_bind(f.as_ref());
            }
            q.push(")");
            found.extend(pairs(q.build().fetch_all(self.tx.conn()).await?)?);
        }
        Ok(fields.iter().map(|f| found.get(f).cloned()).collect())
    }

    async fn hash_all(&mut self, db: Db, key: &[u8]) -> StoreResult<Vec<(Bytes, Bytes)>> {
        check_key("key", key)?;
        self.settle(db, key).await?;
        let rows = sqlx::query(
            "SELECT f.field, f.value FROM kv_keys k JOIN kv_hash_fields f ON f.kid = k.kid \
             WHERE k.db = ? AND k.`key` = ? ORDER BY f.field",
        )
        .bind(db as i32)
        .bind(key)
        .fetch_all(self.tx.conn())
        .await?;
        pairs(rows)
    }

    async fn hash_len(&mut self, db: Db, key: &[u8]) -> StoreResult<i64> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(0);
        };
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM kv_hash_fields WHERE kid = ?")
                .bind(kid)
                .fetch_one(self.tx.conn())
                .await?,
        )
    }

    async fn hash_put(
        &mut self,
        db: Db,
        key: &[u8],
        pairs_in: &[(Bytes, Bytes)],
    ) -> StoreResult<i64> {
        for (field, value) in pairs_in {
            check_key("hash field", field)?;
            self.check_value(value.len())?;
        }
        // Earlier staged fields of this key must be seen by the count.
        self.settle(db, key).await?;
        let existing = self.row(db, key, true).await?;
        let distinct: HashSet<&Bytes> = pairs_in.iter().map(|(f, _)| f).collect();
        let mut present = 0i64;
        if let Some(row) = &existing {
            let fields: Vec<&Bytes> = distinct.iter().copied().collect();
            for chunk in fields.chunks(CHUNK) {
                let mut q =
                    QueryBuilder::<MySql>::new("SELECT COUNT(*) FROM kv_hash_fields WHERE kid = ");
                q.push_bind(row.kid).push(" AND field IN (");
                let mut list = q.separated(", ");
                for f in chunk {
                    list.push_bind(f.as_ref());
                }
                q.push(")");
                let n: i64 = q.build_query_scalar().fetch_one(self.tx.conn()).await?;
                present += n;
            }
        }
        let version = new_version();
        let row = match existing {
            Some(row) => KeyRow {
                meta: KeyMeta {
                    version,
                    ..row.meta
                },
                ..row
            },
            None => KeyRow {
                meta: KeyMeta {
                    kind: KeyKind::Hash,
                    expire_at: None,
                    version,
                },
                kid: new_version(),
                value: None,
            },
        };
        self.stage(db, key, row, pairs_in);
        Ok(distinct.len() as i64 - present)
    }

    async fn hash_remove(&mut self, db: Db, key: &[u8], fields: &[Bytes]) -> StoreResult<i64> {
        self.delete_named(db, key, "kv_hash_fields", "field", fields)
            .await
    }

    async fn hash_scan(
        &mut self,
        db: Db,
        key: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> StoreResult<Vec<(Bytes, Bytes)>> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(Vec::new());
        };
        let rows = match after {
            Some(after) => {
                sqlx::query("SELECT field, value FROM kv_hash_fields WHERE kid = ? AND field > ? ORDER BY field LIMIT ?")
                    .bind(kid)
                    .bind(after)
                    .bind(limit as i64)
                    .fetch_all(self.tx.conn())
                    .await?
            }
            None => {
                sqlx::query("SELECT field, value FROM kv_hash_fields WHERE kid = ? ORDER BY field LIMIT ?")
                    .bind(kid)
                    .bind(limit as i64)
                    .fetch_all(self.tx.conn())
                    .await?
            }
        };
        pairs(rows)
    }

    /// A new WATCH version for an existing key.
    async fn bump_version(&mut self, db: Db, key: &[u8]) -> StoreResult<()> {
        if let Some(row) = self.row(db, key, true).await? {
            let version = new_version();
            self.stage(
                db,
                key,
                KeyRow {
                    meta: KeyMeta {
                        version,
                        ..row.meta
                    },
                    ..row
                },
                &[],
            );
        }
        Ok(())
    }

    async fn scan_page(
        &mut self,
        db: Db,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(Bytes, KeyMeta, i64)>> {
        self.flush_staged().await?;
        let rows = sqlx::query(
            "SELECT `key`, kind, expire_at, version, kh FROM kv_keys WHERE db = ? AND kh > ? ORDER BY kh LIMIT ?",
        )
        .bind(db as i32)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(self.tx.conn())
        .await?;
        let hashes = rows
            .iter()
            .map(|r| r.try_get::<i64, _>(4))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(key_rows(&rows)?
            .into_iter()
            .zip(hashes)
            .map(|((k, m), h)| (k, m, h))
            .collect())
    }

    async fn keys_at_hash(&mut self, db: Db, hash: i64) -> StoreResult<Vec<(Bytes, KeyMeta)>> {
        self.flush_staged().await?;
        let rows = sqlx::query(
            "SELECT `key`, kind, expire_at, version FROM kv_keys WHERE db = ? AND kh = ?",
        )
        .bind(db as i32)
        .bind(hash)
        .fetch_all(self.tx.conn())
        .await?;
        key_rows(&rows)
    }

    async fn keys_matching(
        &mut self,
        db: Db,
        pattern: &[u8],
        now_ms: i64,
    ) -> StoreResult<Vec<Bytes>> {
        self.flush_staged().await?;
        let (prefix, upper) = key_range(pattern);
        let rows = match upper {
            Some(upper) => sqlx::query(
                "SELECT `key`, expire_at FROM kv_keys WHERE db = ? AND `key` >= ? AND `key` < ? ORDER BY `key`",
            )
            .bind(db as i32)
            .bind(prefix)
            .bind(upper)
            .fetch_all(self.tx.conn())
            .await?,
            None => sqlx::query("SELECT `key`, expire_at FROM kv_keys WHERE db = ? AND `key` >= ? ORDER BY `key`")
                .bind(db as i32)
                .bind(prefix)
                .fetch_all(self.tx.conn())
                .await?,
        };
        let mut out = Vec::new();
        for r in &rows {
            let key: &[u8] = r.try_get(0)?;
            if lists(pattern, key, r.try_get(1)?, now_ms) {
                out.push(Bytes::copy_from_slice(key));
            }
        }
        Ok(out)
    }

    async fn live_key_from_hash(
        &mut self,
        db: Db,
        hash: i64,
        now_ms: i64,
    ) -> StoreResult<Option<Bytes>> {
        self.flush_staged().await?;
        let key: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT `key` FROM kv_keys WHERE db = ? AND kh >= ? AND (expire_at IS NULL OR expire_at > ?) ORDER BY kh LIMIT 1",
        )
        .bind(db as i32)
        .bind(hash)
        .bind(now_ms)
        .fetch_optional(self.tx.conn())
        .await?;
        Ok(key.map(Bytes::from))
    }

    async fn counts(&mut self, now_ms: i64) -> StoreResult<Vec<DbCounts>> {
        self.flush_staged().await?;
        let rows = sqlx::query(
            "SELECT db, COUNT(*), COUNT(expire_at) FROM kv_keys WHERE expire_at IS NULL OR expire_at > ? GROUP BY db ORDER BY db",
        )
        .bind(now_ms)
        .fetch_all(self.tx.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DbCounts {
                    db: r.try_get::<i32, _>(0)? as Db,
                    keys: r.try_get(1)?,
                    expires: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn flush(&mut self, db: Option<Db>) -> StoreResult<()> {
        self.flush_staged().await?;
        match db {
            Some(db) => {
                sqlx::query(
                    // A join, not `IN (SELECT ...)`, which MariaDB runs row by row.
                    "DELETE f FROM kv_hash_fields f JOIN kv_keys k ON f.kid = k.kid WHERE k.db = ?",
                )
                .bind(db as i32)
                .execute(self.tx.conn())
                .await?;
                sqlx::query(
                    "DELETE m FROM kv_members m JOIN kv_keys k ON m.kid = k.kid WHERE k.db = ?",
                )
                .bind(db as i32)
                .execute(self.tx.conn())
                .await?;
                sqlx::query("DELETE FROM kv_keys WHERE db = ?")
                    .bind(db as i32)
                    .execute(self.tx.conn())
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM kv_hash_fields")
                    .execute(self.tx.conn())
                    .await?;
                sqlx::query("DELETE FROM kv_members")
                    .execute(self.tx.conn())
                    .await?;
                sqlx::query("DELETE FROM kv_keys")
                    .execute(self.tx.conn())
                    .await?;
            }
        }
        self.known.clear();
        Ok(())
    }

    async fn swap_db(&mut self, a: Db, b: Db) -> StoreResult<()> {
        self.flush_staged().await?;
        // Hash fields and members follow their key's kid; only the keys' rows move,
        // through a database number no key uses, so none ever collides.
        for (to, from) in [(-1, a as i32), (a as i32, b as i32), (b as i32, -1)] {
            sqlx::query("UPDATE kv_keys SET db = ? WHERE db = ?")
                .bind(to)
                .bind(from)
                .execute(self.tx.conn())
                .await?;
        }
        self.known.clear();
        Ok(())
    }

    async fn expired(&mut self, now_ms: i64, limit: u32) -> StoreResult<Vec<(Db, Bytes)>> {
        self.flush_staged().await?;
        let sql = if self.write {
            "SELECT db, `key` FROM kv_keys WHERE expire_at <= ? ORDER BY expire_at LIMIT ? FOR UPDATE"
        } else {
            "SELECT db, `key` FROM kv_keys WHERE expire_at <= ? ORDER BY expire_at LIMIT ?"
        };
        let rows = sqlx::query(sql)
            .bind(now_ms)
            .bind(limit as i64)
            .fetch_all(self.tx.conn())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<i32, _>(0)? as Db,
                    Bytes::from(r.try_get::<Vec<u8>, _>(1)?),
                ))
            })
            .collect()
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.flush_staged().await?;
        self.tx.commit().await
    }
}
