//! The embedded store: SQLite through sqlx, in WAL mode.
//!
//! Writers are serialised in-process by a mutex and open their transaction
//! with `BEGIN IMMEDIATE`, so SQLite never answers SQLITE_BUSY to a writer
//! of this process; readers run concurrently on the pool.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{
    Access, Db, DbCounts, Event, KeyKind, KeyMeta, LoggedEvent, SequencePlan, Session, Store,
    StoreError, StoreResult, StreamId, StreamState, Trimmed, Txn, Unsequenced, new_version,
    stream_state, trim_plan,
};

/// Counts a sequencing step's events into the sequence and their streams.
async fn add_to_streams(
    conn: &mut sqlx::SqliteConnection,
    plan: &SequencePlan,
    ms: i64,
) -> StoreResult<()> {
    let mut q = sqlx::QueryBuilder::<Sqlite>::new(
        "INSERT INTO kv_streams (db, last_seq, last_ms, added, deleted, max_deleted_seq, max_deleted_ms) ",
    );
    q.push_values(&plan.streams, |mut row, (db, added, last)| {
        row.push_bind(*db)
            .push_bind(*last)
            .push_bind(ms)
            .push_bind(*added)
            .push_bind(0i64)
            .push_bind(0i64)
            .push_bind(0i64);
    });
    q.push(
        " ON CONFLICT(db) DO UPDATE SET last_seq = excluded.last_seq, \
         last_ms = excluded.last_ms, added = added + excluded.added",
    );
    q.build().execute(conn).await?;
    Ok(())
}

/// The columns [`logged_event`] reads.
const EVENT_COLUMNS: &str = "id, seq, seq_ms, db, key, name, class";

fn logged_event(r: &sqlx::sqlite::SqliteRow) -> StoreResult<LoggedEvent> {
    Ok(LoggedEvent {
        id: r.try_get(0)?,
        seq: r.try_get(1)?,
        ms: r.try_get(2)?,
        db: r.try_get::<i64, _>(3)? as Db,
        key: Bytes::from(r.try_get::<Vec<u8>, _>(4)?),
        name: r.try_get(5)?,
        class: r.try_get::<i64, _>(6)? as u8,
    })
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    /// One writer at a time, so `BEGIN IMMEDIATE` never waits on SQLite's
    /// busy handler.
    writer: Arc<Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path`
    /// or a plain path) and runs the migrations.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a committed transaction survives the
            // process being killed (not a power cut), at far less cost.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-8192");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        Ok(SqliteStore {
            pool,
            writer: Arc::new(Mutex::new(())),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn numbers_at_commit(&self) -> bool {
        true
    }

    async fn begin(&self, access: Access) -> StoreResult<Box<dyn Txn>> {
        let (tx, writer) = match access {
            Access::Write => {
                let guard = self.writer.clone().lock_owned().await;
                (
                    Session::Tx(self.pool.begin_with("BEGIN IMMEDIATE").await?),
                    Some(guard),
                )
            }
            Access::Snapshot => (Session::Tx(self.pool.begin().await?), None),
            Access::Read => (Session::Auto(self.pool.acquire().await?), None),
        };
        Ok(Box::new(SqliteTxn {
            tx,
            _writer: writer,
        }))
    }

    // Every event is numbered as it is logged (`numbers_at_commit`), so
    // the sequencer never has work here.
    async fn sequence(&self, _limit: u32, _now_ms: i64) -> StoreResult<u32> {
        Ok(0)
    }

    async fn has_unsequenced(&self) -> StoreResult<bool> {
        Ok(false)
    }

    async fn sequenced_after(&self, after: i64, limit: u32) -> StoreResult<Vec<LoggedEvent>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM kv_events WHERE seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(logged_event).collect()
    }

    async fn last_sequence(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT last_seq FROM kv_streams WHERE db = -1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn stream_range(
        &self,
        db: Db,
        from: StreamId,
        to: StreamId,
        rev: bool,
        limit: u32,
    ) -> StoreResult<Vec<LoggedEvent>> {
        let order = if rev { "DESC" } else { "ASC" };
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM kv_events WHERE db = ? AND class <> 33 \
             AND seq_ms >= ? AND (seq_ms > ? OR seq >= ?) \
             AND seq_ms <= ? AND (seq_ms < ? OR seq <= ?) \
             ORDER BY seq_ms {order}, seq {order} LIMIT ?"
        ))
        .bind(db as i64)
        .bind(from.ms)
        .bind(from.ms)
        .bind(from.seq)
        .bind(to.ms)
        .bind(to.ms)
        .bind(to.seq)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(logged_event).collect()
    }

    async fn stream_state(&self, db: Db) -> StoreResult<StreamState> {
        let row: Option<(i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT added, deleted, last_seq, last_ms, max_deleted_seq, max_deleted_ms \
             FROM kv_streams WHERE db = ?",
        )
        .bind(db as i64)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(stream_state).unwrap_or_default())
    }

    async fn last_event_id(&self) -> StoreResult<i64> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM kv_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    async fn relay_position(&self, relay: &str) -> StoreResult<i64> {
        let id: Option<i64> = sqlx::query_scalar("SELECT last_id FROM kv_relay WHERE name = ?")
            .bind(relay)
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    async fn save_relay_position(&self, relay: &str, id: i64) -> StoreResult<()> {
        let _w = self.writer.lock().await;
        sqlx::query("INSERT INTO kv_relay (name, last_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET last_id = excluded.last_id")
            .bind(relay)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn trim_events(&self, before_ms: i64, limit: u32) -> StoreResult<u64> {
        let _w = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let rows: Vec<Trimmed> = sqlx::query_as(
            "SELECT seq, seq_ms, db, class FROM kv_events \
             WHERE seq IS NOT NULL ORDER BY seq LIMIT ?",
        )
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        // The oldest entries, a bounded read; times never decrease along
        // the sequence, so those before the cut are a prefix.
        let rows: Vec<Trimmed> = rows.into_iter().take_while(|r| r.1 < before_ms).collect();
        let Some(last) = rows.last() else {
            return Ok(0);
        };
        sqlx::query("DELETE FROM kv_events WHERE seq IS NOT NULL AND seq <= ?")
            .bind(last.0)
            .execute(&mut *tx)
            .await?;
        for (db, count, max) in trim_plan(&rows) {
            sqlx::query(
                "UPDATE kv_streams SET deleted = deleted + ?, max_deleted_seq = ?, \
                 max_deleted_ms = ? WHERE db = ?",
            )
            .bind(count)
            .bind(max.seq)
            .bind(max.ms)
            .bind(db)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<bool> {
        let _w = self.writer.lock().await;
        let done = sqlx::query(
            "INSERT INTO kv_leases (name, holder, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE kv_leases.holder = excluded.holder OR kv_leases.expires_at < ?",
        )
        .bind(name)
        .bind(holder)
        .bind(now_ms + ttl_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM kv_settings WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

struct SqliteTxn {
    tx: Session<Sqlite>,
    /// Held for the life of a write transaction.
    _writer: Option<OwnedMutexGuard<()>>,
}

fn meta_from(kind: i64, expire_at: Option<i64>, version: i64) -> StoreResult<KeyMeta> {
    Ok(KeyMeta {
        kind: KeyKind::from_code(kind)?,
        expire_at,
        version,
    })
}

#[async_trait]
impl Txn for SqliteTxn {
    async fn meta(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<KeyMeta>> {
        let row =
            sqlx::query("SELECT kind, expire_at, version FROM kv_keys WHERE db = ? AND key = ?")
                .bind(db as i64)
                .bind(key)
                .fetch_optional(self.tx.conn())
                .await?;
        row.map(|r| meta_from(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
            .transpose()
    }

    async fn string_get(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<(KeyMeta, Bytes)>> {
        let row = sqlx::query(
            "SELECT kind, expire_at, version, value FROM kv_keys WHERE db = ? AND key = ?",
        )
        .bind(db as i64)
        .bind(key)
        .fetch_optional(self.tx.conn())
        .await?;
        row.map(|r| {
            let meta = meta_from(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)?;
            let value: Option<Vec<u8>> = r.try_get(3)?;
            Ok((meta, Bytes::from(value.unwrap_or_default())))
        })
        .transpose()
    }

    async fn string_put(
        &mut self,
        db: Db,
        key: &[u8],
        value: &[u8],
        expire_at: Option<i64>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO kv_keys (db, key, kh, kind, expire_at, version, value) VALUES (?, ?, ?, 0, ?, ?, ?) \
             ON CONFLICT(db, key) DO UPDATE SET kind = 0, expire_at = excluded.expire_at, \
             version = excluded.version, value = excluded.value",
        )
        .bind(db as i64)
        .bind(key)
        .bind(super::key_hash(key))
        .bind(expire_at)
        .bind(new_version())
        .bind(value)
        .execute(self.tx.conn())
        .await?;
        Ok(())
    }

    async fn delete(&mut self, db: Db, key: &[u8]) -> StoreResult<bool> {
        let kind: Option<i64> =
            sqlx::query_scalar("DELETE FROM kv_keys WHERE db = ? AND key = ? RETURNING kind")
                .bind(db as i64)
                .bind(key)
                .fetch_optional(self.tx.conn())
                .await?;
        if kind == Some(KeyKind::Hash.code()) {
            sqlx::query("DELETE FROM kv_hash_fields WHERE db = ? AND key = ?")
                .bind(db as i64)
                .bind(key)
                .execute(self.tx.conn())
                .await?;
        }
        Ok(kind.is_some())
    }

    async fn set_expire(&mut self, db: Db, key: &[u8], expire_at: Option<i64>) -> StoreResult<()> {
        sqlx::query("UPDATE kv_keys SET expire_at = ?, version = ? WHERE db = ? AND key = ?")
            .bind(expire_at)
            .bind(new_version())
            .bind(db as i64)
            .bind(key)
            .execute(self.tx.conn())
            .await?;
        Ok(())
    }

    async fn hash_get(
        &mut self,
        db: Db,
        key: &[u8],
        fields: &[Bytes],
    ) -> StoreResult<Vec<Option<Bytes>>> {
        // One statement per chunk, so a plain read sees one instant.
        let mut found = std::collections::HashMap::new();
        for chunk in fields.chunks(500) {
            let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                "SELECT field, value FROM kv_hash_fields WHERE db = ",
            );
            q.push_bind(db as i64)
                .push(" AND key = ")
                .push_bind(key)
                .push(" AND field IN (");
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
        let rows = sqlx::query(
            "SELECT field, value FROM kv_hash_fields WHERE db = ? AND key = ? ORDER BY field",
        )
        .bind(db as i64)
        .bind(key)
        .fetch_all(self.tx.conn())
        .await?;
        pairs(rows)
    }

    async fn hash_len(&mut self, db: Db, key: &[u8]) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM kv_hash_fields WHERE db = ? AND key = ?")
                .bind(db as i64)
                .bind(key)
                .fetch_one(self.tx.conn())
                .await?,
        )
    }

    async fn hash_put(&mut self, db: Db, key: &[u8], pairs: &[(Bytes, Bytes)]) -> StoreResult<i64> {
        sqlx::query(
            "INSERT INTO kv_keys (db, key, kh, kind, expire_at, version, value) VALUES (?, ?, ?, 1, NULL, ?, NULL) \
             ON CONFLICT(db, key) DO UPDATE SET version = excluded.version",
        )
        .bind(db as i64)
        .bind(key)
        .bind(super::key_hash(key))
        .bind(new_version())
        .execute(self.tx.conn())
        .await?;
        let mut added = 0;
        for (field, value) in pairs {
            let existed: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM kv_hash_fields WHERE db = ? AND key = ? AND field = ?",
            )
            .bind(db as i64)
            .bind(key)
            .bind(field.as_ref())
            .fetch_optional(self.tx.conn())
            .await?;
            sqlx::query(
                "INSERT INTO kv_hash_fields (db, key, field, value) VALUES (?, ?, ?, ?) \
                 ON CONFLICT(db, key, field) DO UPDATE SET value = excluded.value",
            )
            .bind(db as i64)
            .bind(key)
            .bind(field.as_ref())
            .bind(value.as_ref())
            .execute(self.tx.conn())
            .await?;
            if existed.is_none() {
                added += 1;
            }
        }
        Ok(added)
    }

    async fn hash_delete(
        &mut self,
        db: Db,
        key: &[u8],
        fields: &[Bytes],
    ) -> StoreResult<(i64, bool)> {
        let mut removed = 0;
        for field in fields {
            let done =
                sqlx::query("DELETE FROM kv_hash_fields WHERE db = ? AND key = ? AND field = ?")
                    .bind(db as i64)
                    .bind(key)
                    .bind(field.as_ref())
                    .execute(self.tx.conn())
                    .await?;
            removed += done.rows_affected() as i64;
        }
        if removed == 0 {
            return Ok((0, false));
        }
        if self.hash_len(db, key).await? == 0 {
            self.delete(db, key).await?;
            return Ok((removed, true));
        }
        sqlx::query("UPDATE kv_keys SET version = ? WHERE db = ? AND key = ?")
            .bind(new_version())
            .bind(db as i64)
            .bind(key)
            .execute(self.tx.conn())
            .await?;
        Ok((removed, false))
    }

    async fn hash_scan(
        &mut self,
        db: Db,
        key: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> StoreResult<Vec<(Bytes, Bytes)>> {
        let sql = match after {
            Some(_) => {
                "SELECT field, value FROM kv_hash_fields WHERE db = ? AND key = ? AND field > ? ORDER BY field LIMIT ?"
            }
            None => {
                "SELECT field, value FROM kv_hash_fields WHERE db = ? AND key = ? ORDER BY field LIMIT ?"
            }
        };
        let mut query = sqlx::query(sql).bind(db as i64).bind(key);
        if let Some(after) = after {
            query = query.bind(after);
        }
        let rows = query.bind(limit as i64).fetch_all(self.tx.conn()).await?;
        pairs(rows)
    }

    async fn scan_page(
        &mut self,
        db: Db,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(Bytes, KeyMeta, i64)>> {
        let rows = sqlx::query(
            "SELECT key, kind, expire_at, version, kh FROM kv_keys WHERE db = ? AND kh > ? ORDER BY kh LIMIT ?",
        )
        .bind(db as i64)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(self.tx.conn())
        .await?;
        let hashes = rows
            .iter()
            .map(|r| r.try_get::<i64, _>(4))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(key_rows(rows)?
            .into_iter()
            .zip(hashes)
            .map(|((k, m), h)| (k, m, h))
            .collect())
    }

    async fn keys_at_hash(&mut self, db: Db, hash: i64) -> StoreResult<Vec<(Bytes, KeyMeta)>> {
        let rows = sqlx::query(
            "SELECT key, kind, expire_at, version FROM kv_keys WHERE db = ? AND kh = ?",
        )
        .bind(db as i64)
        .bind(hash)
        .fetch_all(self.tx.conn())
        .await?;
        key_rows(rows)
    }

    async fn keys_with_prefix(
        &mut self,
        db: Db,
        prefix: &[u8],
    ) -> StoreResult<Vec<(Bytes, KeyMeta)>> {
        let rows = match super::prefix_upper_bound(prefix) {
            Some(upper) if !prefix.is_empty() => sqlx::query(
                "SELECT key, kind, expire_at, version FROM kv_keys WHERE db = ? AND key >= ? AND key < ? ORDER BY key",
            )
            .bind(db as i64)
            .bind(prefix)
            .bind(upper)
            .fetch_all(self.tx.conn())
            .await?,
            _ => sqlx::query("SELECT key, kind, expire_at, version FROM kv_keys WHERE db = ? AND key >= ? ORDER BY key")
                .bind(db as i64)
                .bind(prefix)
                .fetch_all(self.tx.conn())
                .await?,
        };
        key_rows(rows)
    }

    async fn live_key_from_hash(
        &mut self,
        db: Db,
        hash: i64,
        now_ms: i64,
    ) -> StoreResult<Option<Bytes>> {
        let key: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT key FROM kv_keys WHERE db = ? AND kh >= ? AND (expire_at IS NULL OR expire_at > ?) ORDER BY kh LIMIT 1",
        )
        .bind(db as i64)
        .bind(hash)
        .bind(now_ms)
        .fetch_optional(self.tx.conn())
        .await?;
        Ok(key.map(Bytes::from))
    }

    async fn counts(&mut self, now_ms: i64) -> StoreResult<Vec<DbCounts>> {
        let rows = sqlx::query(
            "SELECT db, COUNT(*), COUNT(expire_at) FROM kv_keys WHERE expire_at IS NULL OR expire_at > ? GROUP BY db ORDER BY db",
        )
        .bind(now_ms)
        .fetch_all(self.tx.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DbCounts {
                    db: r.try_get::<i64, _>(0)? as Db,
                    keys: r.try_get(1)?,
                    expires: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn flush(&mut self, db: Option<Db>) -> StoreResult<()> {
        match db {
            Some(db) => {
                for sql in [
                    "DELETE FROM kv_keys WHERE db = ?",
                    "DELETE FROM kv_hash_fields WHERE db = ?",
                ] {
                    sqlx::query(sql)
                        .bind(db as i64)
                        .execute(self.tx.conn())
                        .await?;
                }
            }
            None => {
                for sql in ["DELETE FROM kv_keys", "DELETE FROM kv_hash_fields"] {
                    sqlx::query(sql).execute(self.tx.conn()).await?;
                }
            }
        }
        Ok(())
    }

    async fn expired(&mut self, now_ms: i64, limit: u32) -> StoreResult<Vec<(Db, Bytes)>> {
        let rows = sqlx::query(
            "SELECT db, key FROM kv_keys WHERE expire_at <= ? ORDER BY expire_at LIMIT ?",
        )
        .bind(now_ms)
        .bind(limit as i64)
        .fetch_all(self.tx.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>(0)? as Db,
                    Bytes::from(r.try_get::<Vec<u8>, _>(1)?),
                ))
            })
            .collect()
    }

    async fn log_events(&mut self, events: &[Event], now_ms: i64) -> StoreResult<()> {
        // This transaction is SQLite's one writer, so it numbers its events
        // as it logs them: the next numbers are in commit order by
        // construction, and no sequencer step is needed (they equal the
        // ids, which follow commit order here too).
        let conn = self.tx.conn();
        let (last_seq, last_ms): (i64, i64) =
            sqlx::query_as("SELECT last_seq, last_ms FROM kv_streams WHERE db = -1")
                .fetch_one(&mut *conn)
                .await?;
        let ms = now_ms.max(last_ms);
        let rows: Vec<Unsequenced> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (i as i64, e.db as i64, e.class as i64))
            .collect();
        let plan = SequencePlan::new(&rows, last_seq);
        // One multi-row statement per chunk: a group commit's events cost
        // one round trip to SQLite's thread, not one each.
        for (chunk, numbers) in events.chunks(500).zip(plan.numbers.chunks(500)) {
            let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO kv_events (db, key, name, class, at_ms, seq, seq_ms) ",
            );
            q.push_values(chunk.iter().zip(numbers), |mut row, (e, (_, seq))| {
                row.push_bind(e.db as i64)
                    .push_bind(e.key.as_ref())
                    .push_bind(e.name)
                    .push_bind(e.class as i64)
                    .push_bind(now_ms)
                    .push_bind(*seq)
                    .push_bind(ms);
            });
            q.build().execute(&mut *conn).await?;
        }
        add_to_streams(conn, &plan, ms).await
    }

    async fn put_setting(&mut self, name: &str, value: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO kv_settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value")
            .bind(name)
            .bind(value)
            .execute(self.tx.conn())
            .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await
    }
}

fn pairs(rows: Vec<sqlx::sqlite::SqliteRow>) -> StoreResult<Vec<(Bytes, Bytes)>> {
    rows.iter()
        .map(|r| {
            Ok((
                Bytes::from(r.try_get::<Vec<u8>, _>(0)?),
                Bytes::from(r.try_get::<Vec<u8>, _>(1)?),
            ))
        })
        .collect()
}

fn key_rows(rows: Vec<sqlx::sqlite::SqliteRow>) -> StoreResult<Vec<(Bytes, KeyMeta)>> {
    rows.iter()
        .map(|r| {
            Ok((
                Bytes::from(r.try_get::<Vec<u8>, _>(0)?),
                meta_from(r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)?,
            ))
        })
        .collect()
}
