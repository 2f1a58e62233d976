//! The event log on SQLite: events numbered as they are logged (the one
//! writer commits in order), read back by sequence and by stream, trimmed;
//! relay positions, leases and settings.

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{Row, params};

use super::conn::{bytes_at, collect, first, run};
use super::open::SqliteStore;
use super::txn::SqliteTxn;
use crate::store::error::{StoreError, StoreResult};
use crate::store::event::{Event, LoggedEvent, StreamId, StreamState};
use crate::store::event_log::{EventLog, LogWrites, ScriptKind};
use crate::store::plans::{SequencePlan, Trimmed, Unsequenced, stream_state, trim_plan};
use crate::store::types::Db;

/// The columns [`logged_event`] reads.
const EVENT_COLUMNS: &str = "id, seq, seq_ms, db, key, name, class";

fn logged_event(r: &Row<'_>) -> StoreResult<LoggedEvent> {
    Ok(LoggedEvent {
        id: r.get(0)?,
        seq: r.get(1)?,
        ms: r.get(2)?,
        db: r.get::<_, i64>(3)? as Db,
        key: bytes_at(r, 4)?,
        name: r.get(5)?,
        class: r.get::<_, i64>(6)? as u8,
    })
}

#[async_trait]
impl EventLog for SqliteStore {
    fn numbers_at_commit(&self) -> bool {
        true
    }

    async fn sequence(&self, _limit: u32, _now_ms: i64) -> StoreResult<u32> {
        Ok(0)
    }

    async fn has_unsequenced(&self) -> StoreResult<bool> {
        Ok(false)
    }

    async fn sequenced_after(&self, after: i64, limit: u32) -> StoreResult<Vec<LoggedEvent>> {
        self.read(|c| {
            collect(
                c,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM kv_events WHERE seq > ? ORDER BY seq LIMIT ?"
                ),
                params![after, limit as i64],
                logged_event,
            )
        })
    }

    async fn last_sequence(&self) -> StoreResult<i64> {
        self.read(|c| {
            Ok(first(
                c,
                "SELECT last_seq FROM kv_streams WHERE db = -1",
                [],
                |r| Ok(r.get(0)?),
            )?
            .unwrap_or(0))
        })
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
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM kv_events WHERE db = ? AND class <> 33 \
             AND seq_ms >= ? AND (seq_ms > ? OR seq >= ?) \
             AND seq_ms <= ? AND (seq_ms < ? OR seq <= ?) \
             ORDER BY seq_ms {order}, seq {order} LIMIT ?"
        );
        self.read(|c| {
            collect(
                c,
                &sql,
                params![
                    db as i64,
                    from.ms,
                    from.ms,
                    from.seq,
                    to.ms,
                    to.ms,
                    to.seq,
                    limit as i64
                ],
                logged_event,
            )
        })
    }

    async fn stream_state(&self, db: Db) -> StoreResult<StreamState> {
        self.read(|c| {
            let row = first(
                c,
                "SELECT added, deleted, last_seq, last_ms, max_deleted_seq, max_deleted_ms \
                 FROM kv_streams WHERE db = ?",
                [db as i64],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )?;
            Ok(row.map(stream_state).unwrap_or_default())
        })
    }

    async fn last_event_id(&self) -> StoreResult<i64> {
        self.read(|c| {
            let id = first(c, "SELECT MAX(id) FROM kv_events", [], |r| {
                Ok(r.get::<_, Option<i64>>(0)?)
            })?;
            Ok(id.flatten().unwrap_or(0))
        })
    }

    async fn relay_position(&self, relay: &str) -> StoreResult<i64> {
        self.read(|c| {
            Ok(first(
                c,
                "SELECT last_id FROM kv_relay WHERE name = ?",
                [relay],
                |r| Ok(r.get(0)?),
            )?
            .unwrap_or(0))
        })
    }

    async fn save_relay_position(&self, relay: &str, id: i64) -> StoreResult<()> {
        let w = self.writer().await?;
        run(
            &w,
            "INSERT INTO kv_relay (name, last_id) VALUES (?, ?) \
             ON CONFLICT(name) DO UPDATE SET last_id = excluded.last_id",
            params![relay, id],
        )?;
        Ok(())
    }

    async fn trim_events(&self, before_ms: i64, limit: u32) -> StoreResult<u64> {
        let mut txn = self.write_txn().await?;
        let w = txn.c();
        // The oldest entries, a bounded read; times never decrease along
        // the sequence, so those before the cut are a prefix.
        let rows: Vec<Trimmed> = collect(
            w,
            "SELECT seq, seq_ms, db, class FROM kv_events \
             WHERE seq IS NOT NULL ORDER BY seq LIMIT ?",
            [limit as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let rows: Vec<Trimmed> = rows.into_iter().take_while(|r| r.1 < before_ms).collect();
        let Some(last) = rows.last() else {
            return Ok(0);
        };
        run(
            w,
            "DELETE FROM kv_events WHERE seq IS NOT NULL AND seq <= ?",
            [last.0],
        )?;
        for (db, count, max) in trim_plan(&rows) {
            run(
                w,
                "UPDATE kv_streams SET deleted = deleted + ?, max_deleted_seq = ?, \
                 max_deleted_ms = ? WHERE db = ?",
                params![count, max.seq, max.ms, db],
            )?;
        }
        txn.finish()?;
        Ok(rows.len() as u64)
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<bool> {
        let w = self.writer().await?;
        let changed = run(
            &w,
            "INSERT INTO kv_leases (name, holder, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE kv_leases.holder = excluded.holder OR kv_leases.expires_at < ?",
            params![name, holder, now_ms + ttl_ms, now_ms],
        )?;
        Ok(changed == 1)
    }

    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
        self.read(|c| {
            first(
                c,
                "SELECT value FROM kv_settings WHERE name = ?",
                [name],
                |r| Ok(r.get(0)?),
            )
        })
    }

    async fn get_script(&self, kind: ScriptKind, name: &str) -> StoreResult<Option<Bytes>> {
        self.read(|c| {
            first(
                c,
                "SELECT body FROM kv_scripts WHERE kind = ? AND name = ?",
                params![kind as i64, name],
                |r| Ok(Bytes::from(r.get::<_, Vec<u8>>(0)?)),
            )
        })
    }

    async fn scripts(&self, kind: ScriptKind) -> StoreResult<Vec<(String, Bytes)>> {
        self.read(|c| {
            collect(
                c,
                "SELECT name, body FROM kv_scripts WHERE kind = ? ORDER BY name",
                [kind as i64],
                |r| Ok((r.get(0)?, Bytes::from(r.get::<_, Vec<u8>>(1)?))),
            )
        })
    }
}

#[async_trait]
impl LogWrites for SqliteTxn {
    async fn log_events(&mut self, events: &[Event], now_ms: i64) -> StoreResult<()> {
        // This transaction is SQLite's one writer, so it numbers its events
        // as it logs them: the next numbers are in commit order by
        // construction, and no sequencer step is needed (they equal the
        // ids, which follow commit order here too).
        let c = self.c();
        let (last_seq, last_ms): (i64, i64) = first(
            c,
            "SELECT last_seq, last_ms FROM kv_streams WHERE db = -1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .ok_or_else(|| StoreError::Other("the sequence's row is missing".into()))?;
        let ms = now_ms.max(last_ms);
        let rows: Vec<Unsequenced> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (i as i64, e.db as i64, e.class as i64))
            .collect();
        let plan = SequencePlan::new(&rows, last_seq);
        let mut insert = c.prepare_cached(
            "INSERT INTO kv_events (db, key, name, class, at_ms, seq, seq_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )?;
        for (e, (_, seq)) in events.iter().zip(&plan.numbers) {
            insert.execute(params![
                e.db as i64,
                e.key.as_ref(),
                e.name,
                e.class as i64,
                now_ms,
                seq,
                ms
            ])?;
        }
        // Count them into the sequence and their streams.
        let mut count = c.prepare_cached(
            "INSERT INTO kv_streams (db, last_seq, last_ms, added, deleted, max_deleted_seq, \
             max_deleted_ms) VALUES (?, ?, ?, ?, 0, 0, 0) \
             ON CONFLICT(db) DO UPDATE SET last_seq = excluded.last_seq, \
             last_ms = excluded.last_ms, added = added + excluded.added",
        )?;
        for (db, added, last) in &plan.streams {
            count.execute(params![db, last, ms, added])?;
        }
        Ok(())
    }

    async fn put_setting(&mut self, name: &str, value: &str) -> StoreResult<()> {
        run(
            self.c(),
            "INSERT INTO kv_settings (name, value) VALUES (?, ?) \
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    async fn put_script(&mut self, kind: ScriptKind, name: &str, body: &[u8]) -> StoreResult<()> {
        run(
            self.c(),
            "INSERT INTO kv_scripts (kind, name, body) VALUES (?, ?, ?) \
             ON CONFLICT(kind, name) DO UPDATE SET body = excluded.body",
            params![kind as i64, name, body],
        )?;
        Ok(())
    }

    async fn delete_scripts(&mut self, kind: ScriptKind, name: Option<&str>) -> StoreResult<u64> {
        let gone = match name {
            Some(name) => run(
                self.c(),
                "DELETE FROM kv_scripts WHERE kind = ? AND name = ?",
                params![kind as i64, name],
            )?,
            None => run(
                self.c(),
                "DELETE FROM kv_scripts WHERE kind = ?",
                [kind as i64],
            )?,
        };
        Ok(gone as u64)
    }
}
