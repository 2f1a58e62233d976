//! The production store: TiDB, MySQL 8 or MariaDB through sqlx's MySQL
//! driver.
//!
//! Transactions run at READ COMMITTED; every write locks its key's row
//! first (`SELECT ... FOR UPDATE`), so writers of one key serialise and
//! their events enter the log in commit order. A key seen absent is created
//! with a plain INSERT, so two instances racing to create it (SET NX) cannot
//! both succeed: the loser gets a duplicate-key error, reported as a
//! conflict, and its command is retried from the start.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::{Connection, Executor, MySqlPool, QueryBuilder, Row};
use tracing::{info, warn};

mod held;
mod staged;

use held::{Conns, Held, IDLE_CHECK};
use staged::{CHUNK, KeyRow, Known, KnownKeys, Staged, chunks};

use super::{
    Access, Db, DbCounts, Event, KeyKind, KeyMeta, LoggedEvent, Member, MemberRange, PoolUse,
    SequencePlan, SqlArg, Store, StoreError, StoreResult, StreamId, StreamState, Trimmed, Txn,
    Unsequenced, limit_sql, new_version, range_sql, stream_state, trim_plan,
};

/// Longest key or hash field the schema's indexes hold.
pub const MAX_KEY_LEN: usize = 3000;
/// Connections commands run on (see `held`), and the pool's own for the
/// background work: 32 per instance in all.
const COMMAND_CONNECTIONS: usize = 24;
const POOL_CONNECTIONS: u32 = 8;

pub struct MySqlStore {
    /// For the store's own background work (sequencer, relays, leases);
    /// commands run on `conns`.
    pool: MySqlPool,
    conns: Arc<Conns>,
    /// Set once the database answered and the migrations ran.
    ready: Arc<AtomicBool>,
    /// The server's max_allowed_packet: larger values are refused up front.
    max_packet: Arc<AtomicI64>,
}

impl MySqlStore {
    /// Prepares the pool without waiting for the database: a background task
    /// creates the database if missing and runs the migrations, retrying
    /// with backoff; until then data commands answer TRYAGAIN.
    pub fn open(url: &str) -> StoreResult<MySqlStore> {
        let url = url.replacen("mariadb://", "mysql://", 1);
        let options = MySqlConnectOptions::from_str(&url)?;
        let pool = MySqlPoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            // A connection is checked (PING) only after sitting idle: under
            // load each command saves a round trip, which across
            // datacenters is a whole network round trip per command.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > IDLE_CHECK {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options.clone());
        let store = MySqlStore {
            conns: Conns::new(pool.clone(), COMMAND_CONNECTIONS),
            pool: pool.clone(),
            ready: Arc::new(AtomicBool::new(false)),
            max_packet: Arc::new(AtomicI64::new(16 * 1024 * 1024)),
        };
        tokio::spawn(prepare(
            options,
            pool,
            store.ready.clone(),
            store.max_packet.clone(),
        ));
        Ok(store)
    }

    /// Runs the migrations alone (for `respire migrate`), waiting for them.
    pub async fn migrate(url: &str) -> StoreResult<()> {
        let url = url.replacen("mariadb://", "mysql://", 1);
        let options = MySqlConnectOptions::from_str(&url)?;
        create_database(&options).await?;
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        run_migrations(&pool).await?;
        pool.close().await;
        Ok(())
    }

    /// Whether the database is reachable and migrated.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.ready.load(Ordering::Acquire) {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    fn check_ready(&self) -> StoreResult<()> {
        if self.ready.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(StoreError::Loading)
        }
    }
}

async fn create_database(options: &MySqlConnectOptions) -> StoreResult<()> {
    let Some(name) = options.get_database() else {
        return Ok(());
    };
    if name.contains('`') {
        return Err(StoreError::Other(format!("invalid database name {name:?}")));
    }
    let mut conn = sqlx::MySqlConnection::connect_with(&options.clone().database("")).await?;
    conn.execute(format!("CREATE DATABASE IF NOT EXISTS `{name}`").as_str())
        .await?;
    conn.close().await?;
    Ok(())
}

/// Runs the migrations holding an advisory lock named after the database,
/// so instances starting together take turns (sqlx's own lock is not
/// checked on MariaDB).
async fn run_migrations(pool: &MySqlPool) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    let locked: Option<i64> =
        sqlx::query_scalar("SELECT GET_LOCK(CONCAT('respire_migrations:', DATABASE()), 60)")
            .fetch_one(&mut *conn)
            .await?;
    if locked != Some(1) {
        return Err(StoreError::Unavailable(
            "another instance holds the migration lock".into(),
        ));
    }
    let mut migrator = sqlx::migrate!("src/store/migrations/mysql");
    migrator.set_locking(false);
    // The lock is held by `conn`; the migrations may run on any connection.
    let result = migrator.run(pool).await;
    let _ = sqlx::query("SELECT RELEASE_LOCK(CONCAT('respire_migrations:', DATABASE()))")
        .execute(&mut *conn)
        .await;
    result.map_err(|e| StoreError::Other(format!("migration failed: {e}")))
}

/// Brings the database up to date, retrying with backoff until it answers.
async fn prepare(
    options: MySqlConnectOptions,
    pool: MySqlPool,
    ready: Arc<AtomicBool>,
    max_packet: Arc<AtomicI64>,
) {
    let mut delay = Duration::from_millis(200);
    loop {
        let attempt = async {
            create_database(&options).await?;
            run_migrations(&pool).await?;
            let packet: i64 = sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS SIGNED)")
                .fetch_one(&pool)
                .await?;
            StoreResult::Ok(packet)
        };
        match attempt.await {
            Ok(packet) => {
                max_packet.store(packet, Ordering::Relaxed);
                ready.store(true, Ordering::Release);
                info!("database ready");
                return;
            }
            Err(e) => {
                warn!(error = %e, retry_in = ?delay, "database unavailable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[async_trait]
impl Store for MySqlStore {
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

    fn pools(&self) -> Vec<PoolUse> {
        let (in_use, idle, max) = self.conns.usage();
        let background_idle = self.pool.num_idle();
        vec![
            PoolUse {
                pool: "commands",
                in_use,
                idle,
                max,
            },
            PoolUse {
                pool: "background",
                in_use: (self.pool.size() as usize).saturating_sub(background_idle),
                idle: background_idle,
                max: POOL_CONNECTIONS as usize,
            },
        ]
    }

    async fn begin(&self, access: Access) -> StoreResult<Box<dyn Txn>> {
        self.check_ready()?;
        let tx = match access {
            Access::Write | Access::Snapshot => self.conns.take(true).await?,
            Access::Read => self.conns.take(false).await?,
        };
        Ok(Box::new(MySqlTxn {
            tx,
            write: access == Access::Write,
            known: KnownKeys::new(),
            staged: Staged::default(),
            max_value: self.max_packet.load(Ordering::Relaxed) - 64 * 1024,
        }))
    }

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

    async fn close(&self) {
        self.conns.close().await;
        self.pool.close().await;
    }
}

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

struct MySqlTxn {
    tx: Held,
    write: bool,
    /// Keys this transaction has looked up (locked, in a write
    /// transaction) and what it knows of each: the prefetch and the
    /// lookups fill it, and the commands' reads are answered from it.
    known: KnownKeys,
    /// Key writes held back to leave together (write-behind).
    staged: Staged,
    /// Largest value the database accepts in one statement.
    max_value: i64,
}

fn check_key(what: &str, b: &[u8]) -> StoreResult<()> {
    if b.len() > MAX_KEY_LEN {
        return Err(StoreError::TooLarge(format!(
            "{what} is too long for the database ({} bytes; at most {MAX_KEY_LEN})",
            b.len()
        )));
    }
    Ok(())
}

/// Longest string value a prefetch brings back; longer ones are read when
/// a command asks for them.
const PREFETCH_VALUE: usize = 64 * 1024;

/// A key row read from kv_keys: kind, expire_at, version, kid and
/// (optionally) the value, from column `at` on.
fn key_row(r: &MySqlRow, at: usize, with_value: bool) -> StoreResult<KeyRow> {
    Ok(KeyRow {
        meta: KeyMeta {
            kind: KeyKind::from_code(r.try_get::<i8, _>(at)? as i64)?,
            expire_at: r.try_get(at + 1)?,
            version: r.try_get(at + 2)?,
        },
        kid: r.try_get(at + 3)?,
        value: if with_value {
            r.try_get::<Option<Vec<u8>>, _>(at + 4)?.map(Bytes::from)
        } else {
            None
        },
    })
}

impl MySqlTxn {
    fn check_value(&self, len: usize) -> StoreResult<()> {
        if len as i64 > self.max_value {
            return Err(StoreError::TooLarge(format!(
                "value is too large for the database ({len} bytes; max_allowed_packet allows {})",
                self.max_value
            )));
        }
        Ok(())
    }

    fn known(&self, db: Db, key: &[u8]) -> Option<&Known> {
        self.known.get(&(db, Bytes::copy_from_slice(key)))
    }

    fn learn(&mut self, db: Db, key: &[u8], known: Known) {
        self.known.insert((db, Bytes::copy_from_slice(key)), known);
    }

    /// Sends every staged write.
    async fn flush_staged(&mut self) -> StoreResult<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let budget = self.max_value.max(0) as usize;
        self.staged.flush(self.tx.conn(), budget).await
    }

    /// Before a statement reads or changes the key in the database: its
    /// staged write goes first (with the others, in one go).
    async fn settle(&mut self, db: Db, key: &[u8]) -> StoreResult<()> {
        if self.staged.holds(db, key) {
            self.flush_staged().await?;
        }
        Ok(())
    }

    /// The key's row (locked in a write transaction): its metadata, kid
    /// and, when asked for, its string value. Answered from what the
    /// transaction knows when it can, else read and remembered.
    async fn row(&mut self, db: Db, key: &[u8], with_value: bool) -> StoreResult<Option<KeyRow>> {
        check_key("key", key)?;
        match self.known(db, key) {
            Some(Known::Absent) => return Ok(None),
            Some(Known::Row(row)) if !with_value || row.complete() => return Ok(Some(row.clone())),
            _ => {}
        }
        self.settle(db, key).await?;
        const SQL: [[&str; 2]; 2] = [
            [
                "SELECT kind, expire_at, version, kid FROM kv_keys WHERE db = ? AND `key` = ?",
                "SELECT kind, expire_at, version, kid FROM kv_keys WHERE db = ? AND `key` = ? FOR UPDATE",
            ],
            [
                "SELECT kind, expire_at, version, kid, value FROM kv_keys WHERE db = ? AND `key` = ?",
                "SELECT kind, expire_at, version, kid, value FROM kv_keys WHERE db = ? AND `key` = ? FOR UPDATE",
            ],
        ];
        let sql = SQL[with_value as usize][self.write as usize];
        let found = sqlx::query(sql)
            .bind(db as i32)
            .bind(key)
            .fetch_optional(self.tx.conn())
            .await?
            .map(|r| key_row(&r, 0, with_value))
            .transpose()?;
        self.learn(db, key, found.clone().map_or(Known::Absent, Known::Row));
        Ok(found)
    }

    /// The kid of an existing key, looking it up if this transaction has not.
    async fn kid(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<i64>> {
        match self.known(db, key) {
            Some(known) => Ok(known.kid()),
            None => Ok(self.row(db, key, false).await?.map(|r| r.kid)),
        }
    }

    /// Stages the key's new row (and hash fields): it reaches the database
    /// at the next flush, and the transaction reads it from what it knows.
    fn stage(&mut self, db: Db, key: &[u8], row: KeyRow, fields: &[(Bytes, Bytes)]) {
        let existed = self.known(db, key).and_then(Known::kid).is_some();
        self.staged.stage(db, key, row.clone(), fields, existed);
        self.learn(db, key, Known::Row(row));
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
}

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

    async fn hash_delete(
        &mut self,
        db: Db,
        key: &[u8],
        fields: &[Bytes],
    ) -> StoreResult<(i64, bool)> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok((0, false));
        };
        let mut removed = 0i64;
        for chunk in fields.chunks(CHUNK) {
            let mut q = QueryBuilder::<MySql>::new("DELETE FROM kv_hash_fields WHERE kid = ");
            q.push_bind(kid).push(" AND field IN (");
            let mut list = q.separated(", ");
            for f in chunk {
                list.push_bind(f.as_ref());
            }
            q.push(")");
            removed += q.build().execute(self.tx.conn()).await?.rows_affected() as i64;
        }
        if removed == 0 {
            return Ok((0, false));
        }
        if self.hash_len(db, key).await? == 0 {
            self.delete(db, key).await?;
            return Ok((removed, true));
        }
        self.bump_version(db, key).await?;
        Ok((removed, false))
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
        for m in rows {
            check_key("member", &m.member)?;
            self.check_value(m.value.len())?;
        }
        let version = new_version();
        let row = match self.row(db, key, true).await? {
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

    async fn members_delete(&mut self, db: Db, key: &[u8], members: &[Bytes]) -> StoreResult<i64> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(0);
        };
        let mut removed = 0i64;
        for chunk in members.chunks(CHUNK) {
            let mut q = QueryBuilder::<MySql>::new("DELETE FROM kv_members WHERE kid = ");
            q.push_bind(kid).push(" AND member IN (");
            let mut list = q.separated(", ");
            for m in chunk {
                list.push_bind(m.as_ref());
            }
            q.push(")");
            removed += q.build().execute(self.tx.conn()).await?.rows_affected() as i64;
        }
        if removed > 0 {
            self.bump_version(db, key).await?;
        }
        Ok(removed)
    }

    async fn members_delete_range(
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
        if removed > 0 {
            self.bump_version(db, key).await?;
        }
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
        let (prefix, upper) = super::key_range(pattern);
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
            if super::lists(pattern, key, r.try_get(1)?, now_ms) {
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

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.flush_staged().await?;
        self.tx.commit().await
    }
}
