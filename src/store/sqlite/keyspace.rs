//! The keyspace on SQLite: beginning transactions, and a transaction's
//! keys, strings, hashes, scans and whole-database operations.

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::types::ValueRef;
use rusqlite::{Row, params};

use super::conn::{bytes_at, collect, first, meta_at, run};
use super::open::SqliteStore;
use super::txn::{Conn, SqliteTxn};
use crate::store::error::StoreResult;
use crate::store::keyspace::{Keyspace, Txn};
use crate::store::sql::{key_range, lists};
use crate::store::types::{Access, Db, DbCounts, KeyKind, KeyMeta, key_hash, new_version};

/// The database number rows pass through while SWAPDB exchanges two.
const SWAP_DB: i64 = -1;

const KEY_ROW: &str = "SELECT key, kind, expire_at, version";

fn key_row(r: &Row<'_>) -> StoreResult<(Bytes, KeyMeta)> {
    Ok((bytes_at(r, 0)?, meta_at(r, 1)?))
}

fn pair(r: &Row<'_>) -> StoreResult<(Bytes, Bytes)> {
    Ok((bytes_at(r, 0)?, bytes_at(r, 1)?))
}

#[async_trait]
impl Keyspace for SqliteStore {
    async fn begin(&self, access: Access) -> StoreResult<Box<dyn Txn>> {
        let conn = match access {
            Access::Write => return Ok(Box::new(self.write_txn().await?)),
            // Plain reads get a snapshot too: here it costs no round trip,
            // and a command's several statements then agree.
            Access::Snapshot | Access::Read => {
                self.check_open()?;
                let reader = self.readers.take()?;
                run(&reader, "BEGIN DEFERRED", [])?;
                Conn::Reader(Some(reader), self.readers.clone())
            }
        };
        Ok(Box::new(SqliteTxn { conn, open: true }))
    }
}

#[async_trait]
impl Txn for SqliteTxn {
    async fn meta(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<KeyMeta>> {
        first(
            self.c(),
            "SELECT kind, expire_at, version FROM kv_keys WHERE db = ? AND key = ?",
            params![db as i64, key],
            |r| meta_at(r, 0),
        )
    }

    async fn string_get(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<(KeyMeta, Bytes)>> {
        first(
            self.c(),
            "SELECT kind, expire_at, version, value FROM kv_keys WHERE db = ? AND key = ?",
            params![db as i64, key],
            |r| Ok((meta_at(r, 0)?, bytes_at(r, 3)?)),
        )
    }

    async fn string_put(
        &mut self,
        db: Db,
        key: &[u8],
        value: &[u8],
        expire_at: Option<i64>,
    ) -> StoreResult<()> {
        run(
            self.c(),
            "INSERT INTO kv_keys (db, key, kh, kind, expire_at, version, value) VALUES (?, ?, ?, 0, ?, ?, ?) \
             ON CONFLICT(db, key) DO UPDATE SET kind = 0, expire_at = excluded.expire_at, \
             version = excluded.version, value = excluded.value",
            params![
                db as i64,
                key,
                key_hash(key),
                expire_at,
                new_version(),
                value
            ],
        )?;
        Ok(())
    }

    async fn delete(&mut self, db: Db, key: &[u8]) -> StoreResult<bool> {
        let c = self.c();
        let kind: Option<i64> = first(
            c,
            "DELETE FROM kv_keys WHERE db = ? AND key = ? RETURNING kind",
            params![db as i64, key],
            |r| Ok(r.get(0)?),
        )?;
        match kind.map(KeyKind::from_code).transpose()? {
            Some(KeyKind::Hash) => {
                run(
                    c,
                    "DELETE FROM kv_hash_fields WHERE db = ? AND key = ?",
                    params![db as i64, key],
                )?;
            }
            Some(kind) if kind.has_members() => {
                run(
                    c,
                    "DELETE FROM kv_members WHERE db = ? AND key = ?",
                    params![db as i64, key],
                )?;
            }
            _ => {}
        }
        Ok(kind.is_some())
    }

    async fn set_expire(&mut self, db: Db, key: &[u8], expire_at: Option<i64>) -> StoreResult<()> {
        run(
            self.c(),
            "UPDATE kv_keys SET expire_at = ?, version = ? WHERE db = ? AND key = ?",
            params![expire_at, new_version(), db as i64, key],
        )?;
        Ok(())
    }

    async fn hash_get(
        &mut self,
        db: Db,
        key: &[u8],
        fields: &[Bytes],
    ) -> StoreResult<Vec<Option<Bytes>>> {
        let c = self.c();
        let mut statement = c.prepare_cached(
            "SELECT value FROM kv_hash_fields WHERE db = ? AND key = ? AND field = ?",
        )?;
        let mut out = Vec::with_capacity(fields.len());
        for field in fields {
            let mut rows = statement.query(params![db as i64, key, field.as_ref()])?;
            out.push(match rows.next()? {
                Some(r) => Some(bytes_at(r, 0)?),
                None => None,
            });
        }
        Ok(out)
    }

    async fn hash_all(&mut self, db: Db, key: &[u8]) -> StoreResult<Vec<(Bytes, Bytes)>> {
        collect(
            self.c(),
            "SELECT field, value FROM kv_hash_fields WHERE db = ? AND key = ? ORDER BY field",
            params![db as i64, key],
            pair,
        )
    }

    async fn hash_len(&mut self, db: Db, key: &[u8]) -> StoreResult<i64> {
        Ok(first(
            self.c(),
            "SELECT COUNT(*) FROM kv_hash_fields WHERE db = ? AND key = ?",
            params![db as i64, key],
            |r| Ok(r.get(0)?),
        )?
        .unwrap_or(0))
    }

    async fn hash_put(&mut self, db: Db, key: &[u8], pairs: &[(Bytes, Bytes)]) -> StoreResult<i64> {
        let c = self.c();
        run(
            c,
            "INSERT INTO kv_keys (db, key, kh, kind, expire_at, version, value) VALUES (?, ?, ?, 1, NULL, ?, NULL) \
             ON CONFLICT(db, key) DO UPDATE SET version = excluded.version",
            params![db as i64, key, key_hash(key), new_version()],
        )?;
        let mut update = c.prepare_cached(
            "UPDATE kv_hash_fields SET value = ? WHERE db = ? AND key = ? AND field = ?",
        )?;
        let mut insert = c.prepare_cached(
            "INSERT INTO kv_hash_fields (db, key, field, value) VALUES (?, ?, ?, ?)",
        )?;
        let mut added = 0;
        for (field, value) in pairs {
            // SQLite counts a matched row as changed, equal value or not.
            if update.execute(params![value.as_ref(), db as i64, key, field.as_ref()])? == 0 {
                insert.execute(params![db as i64, key, field.as_ref(), value.as_ref()])?;
                added += 1;
            }
        }
        Ok(added)
    }

    async fn hash_remove(&mut self, db: Db, key: &[u8], fields: &[Bytes]) -> StoreResult<i64> {
        let mut delete = self
            .c()
            .prepare_cached("DELETE FROM kv_hash_fields WHERE db = ? AND key = ? AND field = ?")?;
        let mut removed = 0;
        for field in fields {
            removed += delete.execute(params![db as i64, key, field.as_ref()])? as i64;
        }
        Ok(removed)
    }

    async fn hash_scan(
        &mut self,
        db: Db,
        key: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> StoreResult<Vec<(Bytes, Bytes)>> {
        match after {
            Some(after) => collect(
                self.c(),
                "SELECT field, value FROM kv_hash_fields WHERE db = ? AND key = ? AND field > ? \
                 ORDER BY field LIMIT ?",
                params![db as i64, key, after, limit as i64],
                pair,
            ),
            None => collect(
                self.c(),
                "SELECT field, value FROM kv_hash_fields WHERE db = ? AND key = ? \
                 ORDER BY field LIMIT ?",
                params![db as i64, key, limit as i64],
                pair,
            ),
        }
    }

    async fn bump_version(&mut self, db: Db, key: &[u8]) -> StoreResult<()> {
        run(
            self.c(),
            "UPDATE kv_keys SET version = ? WHERE db = ? AND key = ?",
            params![new_version(), db as i64, key],
        )?;
        Ok(())
    }

    async fn scan_page(
        &mut self,
        db: Db,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(Bytes, KeyMeta, i64)>> {
        collect(
            self.c(),
            "SELECT key, kind, expire_at, version, kh FROM kv_keys WHERE db = ? AND kh > ? \
             ORDER BY kh LIMIT ?",
            params![db as i64, after, limit as i64],
            |r| {
                let (key, meta) = key_row(r)?;
                Ok((key, meta, r.get(4)?))
            },
        )
    }

    async fn keys_at_hash(&mut self, db: Db, hash: i64) -> StoreResult<Vec<(Bytes, KeyMeta)>> {
        collect(
            self.c(),
            &format!("{KEY_ROW} FROM kv_keys WHERE db = ? AND kh = ?"),
            params![db as i64, hash],
            key_row,
        )
    }

    async fn keys_matching(
        &mut self,
        db: Db,
        pattern: &[u8],
        now_ms: i64,
    ) -> StoreResult<Vec<Bytes>> {
        // Matched on the row, in place: only the keys listed are copied.
        let (prefix, upper) = key_range(pattern);
        let c = self.c();
        let mut statement = match upper {
            Some(_) => c.prepare_cached(
                "SELECT key, expire_at FROM kv_keys WHERE db = ? AND key >= ? AND key < ? ORDER BY key",
            )?,
            None => c.prepare_cached(
                "SELECT key, expire_at FROM kv_keys WHERE db = ? AND key >= ? ORDER BY key",
            )?,
        };
        let mut rows = match &upper {
            Some(upper) => statement.query(params![db as i64, prefix, upper])?,
            None => statement.query(params![db as i64, prefix])?,
        };
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let key = match r.get_ref(0)? {
                ValueRef::Blob(b) | ValueRef::Text(b) => b,
                _ => continue,
            };
            if lists(pattern, key, r.get(1)?, now_ms) {
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
        first(
            self.c(),
            "SELECT key FROM kv_keys WHERE db = ? AND kh >= ? \
             AND (expire_at IS NULL OR expire_at > ?) ORDER BY kh LIMIT 1",
            params![db as i64, hash, now_ms],
            |r| bytes_at(r, 0),
        )
    }

    async fn counts(&mut self, now_ms: i64) -> StoreResult<Vec<DbCounts>> {
        collect(
            self.c(),
            "SELECT db, COUNT(*), COUNT(expire_at) FROM kv_keys \
             WHERE expire_at IS NULL OR expire_at > ? GROUP BY db ORDER BY db",
            [now_ms],
            |r| {
                Ok(DbCounts {
                    db: r.get::<_, i64>(0)? as Db,
                    keys: r.get(1)?,
                    expires: r.get(2)?,
                })
            },
        )
    }

    async fn flush(&mut self, db: Option<Db>) -> StoreResult<()> {
        let c = self.c();
        match db {
            Some(db) => {
                run(c, "DELETE FROM kv_keys WHERE db = ?", [db as i64])?;
                run(c, "DELETE FROM kv_hash_fields WHERE db = ?", [db as i64])?;
                run(c, "DELETE FROM kv_members WHERE db = ?", [db as i64])?;
            }
            None => {
                run(c, "DELETE FROM kv_keys", [])?;
                run(c, "DELETE FROM kv_hash_fields", [])?;
                run(c, "DELETE FROM kv_members", [])?;
            }
        }
        Ok(())
    }

    async fn swap_db(&mut self, a: Db, b: Db) -> StoreResult<()> {
        // Through a database number no key uses, so no row ever collides.
        let c = self.c();
        for table in ["kv_keys", "kv_hash_fields", "kv_members"] {
            let sql = format!("UPDATE {table} SET db = ? WHERE db = ?");
            run(c, &sql, [SWAP_DB, a as i64])?;
            run(c, &sql, [a as i64, b as i64])?;
            run(c, &sql, [b as i64, SWAP_DB])?;
        }
        Ok(())
    }

    async fn expired(&mut self, now_ms: i64, limit: u32) -> StoreResult<Vec<(Db, Bytes)>> {
        collect(
            self.c(),
            "SELECT db, key FROM kv_keys WHERE expire_at <= ? ORDER BY expire_at LIMIT ?",
            params![now_ms, limit as i64],
            |r| Ok((r.get::<_, i64>(0)? as Db, bytes_at(r, 1)?)),
        )
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::store::keyspace::Keyspace;
    use crate::store::sqlite::open::SqliteStore;
    use crate::store::types::Access;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        (dir, SqliteStore::open(&url).await.unwrap())
    }

    #[tokio::test]
    async fn a_dropped_write_rolls_back_and_frees_the_writer() {
        let (_dir, store) = store().await;
        let mut txn = store.begin(Access::Write).await.unwrap();
        txn.string_put(0, b"k", b"v", None).await.unwrap();
        drop(txn);
        let mut txn = store.begin(Access::Write).await.unwrap();
        assert_eq!(txn.meta(0, b"k").await.unwrap(), None);
        txn.string_put(0, b"k", b"w", None).await.unwrap();
        txn.commit().await.unwrap();
        let mut txn = store.begin(Access::Read).await.unwrap();
        let (_, value) = txn.string_get(0, b"k").await.unwrap().unwrap();
        assert_eq!(value, Bytes::from_static(b"w"));
    }

    #[tokio::test]
    async fn a_reader_sees_one_snapshot_and_no_uncommitted_write() {
        let (_dir, store) = store().await;
        let mut w = store.begin(Access::Write).await.unwrap();
        w.string_put(0, b"k", b"1", None).await.unwrap();
        w.commit().await.unwrap();
        let mut r = store.begin(Access::Read).await.unwrap();
        assert!(r.meta(0, b"k").await.unwrap().is_some());
        let mut w = store.begin(Access::Write).await.unwrap();
        w.delete(0, b"k").await.unwrap();
        // Not committed yet, then committed: the open reader keeps its view.
        assert!(r.meta(0, b"k").await.unwrap().is_some());
        w.commit().await.unwrap();
        assert!(r.string_get(0, b"k").await.unwrap().is_some());
        r.commit().await.unwrap();
        let mut r = store.begin(Access::Read).await.unwrap();
        assert!(r.meta(0, b"k").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn hash_put_counts_new_fields_only() {
        let (_dir, store) = store().await;
        let mut w = store.begin(Access::Write).await.unwrap();
        let f = |s: &'static str| Bytes::from_static(s.as_bytes());
        assert_eq!(
            w.hash_put(0, b"h", &[(f("a"), f("1")), (f("b"), f("2"))])
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            w.hash_put(0, b"h", &[(f("a"), f("1")), (f("c"), f("3"))])
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            w.hash_get(0, b"h", &[f("a"), f("x"), f("c")])
                .await
                .unwrap(),
            [Some(f("1")), None, Some(f("3"))]
        );
        w.commit().await.unwrap();
    }
}
