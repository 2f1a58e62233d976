//! The event log on MySQL: events logged without a number, numbered by the
//! sequencer's step in commit order, read back by sequence and by stream,
//! trimmed; relay positions, leases and settings.

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::mysql::{MySql, MySqlRow};
use sqlx::{Executor, QueryBuilder, Row};

use super::open::MySqlStore;
use super::staged::CHUNK;
use super::txn::MySqlTxn;
use crate::store::error::{StoreError, StoreResult};
use crate::store::event::{Event, LoggedEvent, StreamId, StreamState};
use crate::store::event_log::{EventLog, LogWrites, ScriptKind};
use crate::store::plans::{SequencePlan, Trimmed, Unsequenced, stream_state, trim_plan};
use crate::store::types::Db;

/// The columns [`logged_event`] reads.
const EVENT_COLUMNS: &str = "id, seq, seq_ms, db, `key`, name, class";

fn logged_event(r: &MySqlRow) -> StoreResult<LoggedEvent> {
    Ok(LoggedEvent {
        id: r.try_get(0)?,
        seq: r.try_get(1)?,
        ms: r.try_get(2)?,
        db: r.try_get::<i32, _>(3)? as Db,
        key: Bytes::from(r.try_get::<Vec<u8>, _>(4)?),
        name: r.try_get(5)?,
        class: r.try_get::<i32, _>(6)? as u8,
    })
}

#[async_trait]
impl EventLog for MySqlStore {
    async fn sequence(&self, limit: u32, now_ms: i64) -> StoreResult<u32> {
        self.check_ready()?;
        let mut tx = self.pool.begin().await?;
        // The sequence's row lock: one step at a time, whoever runs it.
        let (last_seq, last_ms): (i64, i64) =
            sqlx::query_as("SELECT last_seq, last_ms FROM kv_streams WHERE db = -1 FOR UPDATE")
                .fetch_one(&mut *tx)
                .await?;
        // READ COMMITTED: this sees every event committed before it ran.
        let rows: Vec<(i64, i32, i32)> = sqlx::query_as(
            "SELECT id, db, class FROM kv_events WHERE seq IS NULL ORDER BY id LIMIT ?",
        )
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let rows: Vec<Unsequenced> = rows
            .into_iter()
            .map(|(id, db, class)| (id, db as i64, class as i64))
            .collect();
        let ms = now_ms.max(last_ms);
        let plan = SequencePlan::new(&rows, last_seq);
        // Both writes in one round trip and unprepared (their text changes
        // with every batch): every value is an integer, written as such.
        use std::fmt::Write as _;
        let mut sql = format!("UPDATE kv_events SET seq_ms = {ms}, seq = CASE id");
        for (id, seq) in &plan.numbers {
            let _ = write!(sql, " WHEN {id} THEN {seq}");
        }
        sql.push_str(" END WHERE id IN (");
        for (i, (id, _)) in plan.numbers.iter().enumerate() {
            let _ = write!(sql, "{}{id}", if i == 0 { "" } else { ", " });
        }
        sql.push_str(
            "); INSERT INTO kv_streams (db, last_seq, last_ms, added, deleted, \
             max_deleted_seq, max_deleted_ms) VALUES ",
        );
        for (i, (db, added, last)) in plan.streams.iter().enumerate() {
            let _ = write!(
                sql,
                "{}({db}, {last}, {ms}, {added}, 0, 0, 0)",
                if i == 0 { "" } else { ", " }
            );
        }
        sql.push_str(
            " ON DUPLICATE KEY UPDATE last_seq = VALUES(last_seq), \
             last_ms = VALUES(last_ms), added = added + VALUES(added)",
        );
        tx.execute(sql.as_str()).await?;
        tx.commit().await?;
        Ok(plan.numbers.len() as u32)
    }

    async fn has_unsequenced(&self) -> StoreResult<bool> {
        self.check_ready()?;
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM kv_events WHERE seq IS NULL LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn sequenced_after(&self, after: i64, limit: u32) -> StoreResult<Vec<LoggedEvent>> {
        self.check_ready()?;
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
        self.check_ready()?;
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
        self.check_ready()?;
        let order = if rev { "DESC" } else { "ASC" };
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM kv_events WHERE db = ? AND class <> 33 \
             AND seq_ms >= ? AND (seq_ms > ? OR seq >= ?) \
             AND seq_ms <= ? AND (seq_ms < ? OR seq <= ?) \
             ORDER BY seq_ms {order}, seq {order} LIMIT ?"
        ))
        .bind(db as i32)
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
        self.check_ready()?;
        let row: Option<(i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT added, deleted, last_seq, last_ms, max_deleted_seq, max_deleted_ms \
             FROM kv_streams WHERE db = ?",
        )
        .bind(db as i32)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(stream_state).unwrap_or_default())
    }

    async fn last_event_id(&self) -> StoreResult<i64> {
        self.check_ready()?;
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM kv_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    async fn relay_position(&self, relay: &str) -> StoreResult<i64> {
        self.check_ready()?;
        let id: Option<i64> = sqlx::query_scalar("SELECT last_id FROM kv_relay WHERE name = ?")
            .bind(relay)
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    async fn save_relay_position(&self, relay: &str, id: i64) -> StoreResult<()> {
        self.check_ready()?;
        sqlx::query("INSERT INTO kv_relay (name, last_id) VALUES (?, ?) ON DUPLICATE KEY UPDATE last_id = VALUES(last_id)")
            .bind(relay)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn trim_events(&self, before_ms: i64, limit: u32) -> StoreResult<u64> {
        self.check_ready()?;
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(i64, i64, i32, i32)> = sqlx::query_as(
            "SELECT seq, seq_ms, db, class FROM kv_events \
             WHERE seq IS NOT NULL ORDER BY seq LIMIT ?",
        )
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        // The oldest entries, a bounded read; times never decrease along
        // the sequence, so those before the cut are a prefix.
        let rows: Vec<Trimmed> = rows
            .into_iter()
            .map(|(seq, ms, db, class)| (seq, ms, db as i64, class as i64))
            .take_while(|r| r.1 < before_ms)
            .collect();
        let Some(last) = rows.last() else {
            return Ok(0);
        };
        let done = sqlx::query("DELETE FROM kv_events WHERE seq IS NOT NULL AND seq <= ?")
            .bind(last.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != rows.len() as u64 {
            // Another trim ran at the same time: count nothing twice.
            return Err(StoreError::Conflict("events trimmed concurrently".into()));
        }
        for (db, count, max) in trim_plan(&rows) {
            sqlx::query(
                "UPDATE kv_streams SET deleted = deleted + ?, max_deleted_seq = ?, \
                 max_deleted_ms = ? WHERE db = ?",
            )
            .bind(count)
            .bind(max.seq)
            .bind(max.ms)
            .bind(db as i32)
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
        self.check_ready()?;
        sqlx::query("INSERT IGNORE INTO kv_leases (name, holder, expires_at) VALUES (?, ?, 0)")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE kv_leases SET holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at < ?)")
            .bind(holder)
            .bind(now_ms + ttl_ms)
            .bind(name)
            .bind(holder)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT holder FROM kv_leases WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(current.as_deref() == Some(holder))
    }

    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
        self.check_ready()?;
        Ok(
            sqlx::query_scalar("SELECT value FROM kv_settings WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn get_script(&self, kind: ScriptKind, name: &str) -> StoreResult<Option<Bytes>> {
        self.check_ready()?;
        let body: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT body FROM kv_scripts WHERE kind = ? AND name = ?")
                .bind(kind as i32)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(body.map(Bytes::from))
    }

    async fn scripts(&self, kind: ScriptKind) -> StoreResult<Vec<(String, Bytes)>> {
        self.check_ready()?;
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT name, body FROM kv_scripts WHERE kind = ? ORDER BY name")
                .bind(kind as i32)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(n, b)| (n, Bytes::from(b))).collect())
    }
}

#[async_trait]
impl LogWrites for MySqlTxn {
    async fn log_events(&mut self, events: &[Event], now_ms: i64) -> StoreResult<()> {
        self.flush_staged().await?;
        for chunk in events.chunks(CHUNK) {
            let mut q = QueryBuilder::<MySql>::new(
                "INSERT INTO kv_events (db, `key`, name, class, at_ms) ",
            );
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.db as i32)
                    .push_bind(e.key.as_ref())
                    .push_bind(e.name)
                    .push_bind(e.class as i32)
                    .push_bind(now_ms);
            });
            q.build().execute(self.tx.conn()).await?;
        }
        Ok(())
    }

    async fn put_setting(&mut self, name: &str, value: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO kv_settings (name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)")
            .bind(name)
            .bind(value)
            .execute(self.tx.conn())
            .await?;
        Ok(())
    }

    async fn put_script(&mut self, kind: ScriptKind, name: &str, body: &[u8]) -> StoreResult<()> {
        self.flush_staged().await?;
        sqlx::query("INSERT INTO kv_scripts (kind, name, body) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE body = VALUES(body)")
            .bind(kind as i32)
            .bind(name)
            .bind(body)
            .execute(self.tx.conn())
            .await?;
        Ok(())
    }

    async fn delete_scripts(&mut self, kind: ScriptKind, name: Option<&str>) -> StoreResult<u64> {
        self.flush_staged().await?;
        let done = match name {
            Some(name) => {
                sqlx::query("DELETE FROM kv_scripts WHERE kind = ? AND name = ?")
                    .bind(kind as i32)
                    .bind(name)
                    .execute(self.tx.conn())
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM kv_scripts WHERE kind = ?")
                    .bind(kind as i32)
                    .execute(self.tx.conn())
                    .await?
            }
        };
        Ok(done.rows_affected())
    }
}
