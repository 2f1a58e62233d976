//! The embedded store: SQLite in WAL mode, called synchronously.
//!
//! SQLite runs in this process, so a statement on a cached page costs a
//! few microseconds: far less than handing it to another thread and waking
//! back up. Every call here therefore runs on the calling task's thread,
//! through rusqlite with prepared, cached statements, and a whole group
//! commit costs no hop at all. (sqlx still runs the migrations, so
//! databases made by earlier versions keep their migration history.)
//!
//! Writers are serialised in-process by an async mutex around the one
//! writing connection and open their transaction with `BEGIN IMMEDIATE`, so
//! SQLite never makes a writer of this process wait; another process on the
//! same file waits in SQLite's busy handler. Readers take a connection of
//! their own from a small pool and read a snapshot (WAL readers never wait
//! for the writer).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, Row, params};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{
    Access, Db, DbCounts, Event, KeyKind, KeyMeta, LoggedEvent, Member, MemberRange, SequencePlan,
    SqlArg, Store, StoreError, StoreResult, StreamId, StreamState, Trimmed, Txn, Unsequenced,
    limit_sql, new_version, range_sql, stream_state, trim_plan,
};

/// How long a writer of another process may keep this one waiting.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle reading connections kept open.
const IDLE_READERS: usize = 4;
/// Page cache of the writing connection, and of each reading one, in KiB
/// (the operating system caches the file too; these only spare the copy).
const WRITER_CACHE_KIB: u32 = 8192;
const READER_CACHE_KIB: u32 = 2048;
/// How often a thread of its own copies the WAL into the database file
/// (SQLite's "checkpoint"), so that a writer never waits for it.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL pages after which the writer checkpoints by itself (only if the
/// checkpointer thread fell that far behind). SQLite's default is 1,000;
/// a rarer checkpoint copies a hot page once for many commits.
const WRITER_CHECKPOINT_PAGES: u32 = 20_000;
/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 64;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        crate::metrics::STORE_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match e.sqlite_error_code() {
            Some(ErrorCode::TooBig) => {
                StoreError::TooLarge(format!("value too large for the database: {e}"))
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Conflict(e.to_string())
            }
            Some(ErrorCode::CannotOpen | ErrorCode::DiskFull | ErrorCode::SystemIoFailure) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// A blob (or text) column as bytes; NULL as empty.
fn bytes_at(row: &Row<'_>, i: usize) -> StoreResult<Bytes> {
    match row.get_ref(i)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => Ok(Bytes::copy_from_slice(b)),
        ValueRef::Null => Ok(Bytes::new()),
        other => Err(StoreError::Other(format!(
            "unexpected {:?} where bytes were stored",
            other.data_type()
        ))),
    }
}

/// The metadata in columns `i` (kind), `i + 1` (expire_at), `i + 2` (version).
fn meta_at(row: &Row<'_>, i: usize) -> StoreResult<KeyMeta> {
    Ok(KeyMeta {
        kind: KeyKind::from_code(row.get(i)?)?,
        expire_at: row.get(i + 1)?,
        version: row.get(i + 2)?,
    })
}

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

/// Runs a prepared query and converts every row.
fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    mut each: impl FnMut(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(each(row)?);
    }
    Ok(out)
}

/// Runs a prepared query and converts its first row, if any.
fn first<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    each: impl FnOnce(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    match rows.next()? {
        Some(row) => Ok(Some(each(row)?)),
        None => Ok(None),
    }
}

/// Runs a prepared statement (cached, like every statement here, BEGIN and
/// COMMIT included); returns the rows it changed.
fn run(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// The database number rows pass through while SWAPDB exchanges two.
const SWAP_DB: i64 = -1;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

/// Opens one connection with the store's settings.
fn connect(path: &Path, cache_kib: u32) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // NORMAL in WAL mode: a committed transaction survives the process
    // being killed (not a power cut), at far less cost.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{cache_kib};"
    ))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Idle reading connections.
struct Readers {
    path: PathBuf,
    idle: SyncMutex<Vec<Connection>>,
}

impl Readers {
    fn take(&self) -> StoreResult<Connection> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => connect(&self.path, READER_CACHE_KIB),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_READERS
        {
            idle.push(conn);
        }
    }

    /// Runs `f` on a reading connection (autocommit: one statement, one
    /// instant).
    fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.take()?;
        let out = f(&conn);
        self.give_back(conn);
        out
    }
}

pub struct SqliteStore {
    /// The one writing connection: one writer at a time, so `BEGIN
    /// IMMEDIATE` never waits on SQLite's busy handler within this process.
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Readers>,
    /// Set by `close` (or when dropped): the checkpointer stops too.
    closed: Arc<AtomicBool>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

/// Copies the WAL into the database every [`CHECKPOINT_EVERY`], without
/// blocking writers or readers (a PASSIVE checkpoint), until `closed`.
fn start_checkpointer(path: &Path, closed: Arc<AtomicBool>) -> StoreResult<()> {
    let conn = connect(path, 256)?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while !closed.load(Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(error = %e, "WAL checkpoint failed; retrying later");
                }
            }
        })
        .map_err(|e| StoreError::Other(format!("cannot start the checkpointer: {e}")))?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path`
    /// or a plain path) and runs the migrations.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(|e| StoreError::Other(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .page_size(1024);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let migrated = MIGRATOR.run(&pool).await;
        pool.close().await;
        migrated.map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        let path = PathBuf::from(path);
        let writer = connect(&path, WRITER_CACHE_KIB)?;
        writer.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES};"
        ))?;
        let closed = Arc::new(AtomicBool::new(false));
        start_checkpointer(&path, closed.clone())?;
        Ok(SqliteStore {
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(Readers {
                path,
                idle: SyncMutex::new(Vec::new()),
            }),
            closed,
        })
    }

    fn check_open(&self) -> StoreResult<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(StoreError::Unavailable("the store is closed".into()));
        }
        Ok(())
    }

    /// The writing connection, once the writer before has finished.
    async fn writer(&self) -> StoreResult<OwnedMutexGuard<Connection>> {
        self.check_open()?;
        Ok(self.writer.clone().lock_owned().await)
    }

    /// A write transaction, once the writer before has finished.
    async fn write_txn(&self) -> StoreResult<SqliteTxn> {
        let writer = self.writer().await?;
        run(&writer, "BEGIN IMMEDIATE", [])?;
        Ok(SqliteTxn {
            conn: Conn::Writer(writer),
            open: true,
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.check_open()?;
        self.readers.with(f)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn numbers_at_commit(&self) -> bool {
        true
    }

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

    // Every event is numbered as it is logged (`numbers_at_commit`), so
    // the sequencer never has work here.
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

    async fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        // Wait for the writer in flight; idle readers close now.
        drop(self.writer.lock().await);
        if let Ok(mut idle) = self.readers.idle.lock() {
            idle.clear();
        }
    }
}

/// The connection a transaction runs on.
enum Conn {
    Writer(OwnedMutexGuard<Connection>),
    /// A reading connection, given back to its pool when the transaction ends.
    Reader(Option<Connection>, Arc<Readers>),
}

struct SqliteTxn {
    conn: Conn,
    /// Until commit: dropping an open transaction rolls it back.
    open: bool,
}

impl SqliteTxn {
    fn c(&self) -> &Connection {
        match &self.conn {
            Conn::Writer(w) => w,
            Conn::Reader(r, _) => r.as_ref().expect("a reader until the transaction ends"),
        }
    }

    /// Commits (or, if COMMIT fails, rolls back): the transaction is over.
    fn finish(&mut self) -> StoreResult<()> {
        self.open = false;
        let conn = self.c();
        run(conn, "COMMIT", []).map(|_| ()).inspect_err(|_| {
            if !conn.is_autocommit() {
                let _ = run(conn, "ROLLBACK", []);
            }
        })
    }
}

impl Drop for SqliteTxn {
    fn drop(&mut self) {
        if self.open {
            let _ = run(self.c(), "ROLLBACK", []);
        }
        if let Conn::Reader(reader, pool) = &mut self.conn
            && let Some(conn) = reader.take()
            && conn.is_autocommit()
        {
            pool.give_back(conn);
        }
    }
}

const KEY_ROW: &str = "SELECT key, kind, expire_at, version";

fn key_row(r: &Row<'_>) -> StoreResult<(Bytes, KeyMeta)> {
    Ok((bytes_at(r, 0)?, meta_at(r, 1)?))
}

fn pair(r: &Row<'_>) -> StoreResult<(Bytes, Bytes)> {
    Ok((bytes_at(r, 0)?, bytes_at(r, 1)?))
}

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
    /// A new WATCH version for the key.
    fn bump_version(&self, db: Db, key: &[u8]) -> StoreResult<()> {
        run(
            self.c(),
            "UPDATE kv_keys SET version = ? WHERE db = ? AND key = ?",
            params![new_version(), db as i64, key],
        )?;
        Ok(())
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
                super::key_hash(key),
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
            params![db as i64, key, super::key_hash(key), new_version()],
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

    async fn hash_delete(
        &mut self,
        db: Db,
        key: &[u8],
        fields: &[Bytes],
    ) -> StoreResult<(i64, bool)> {
        let mut removed = 0;
        {
            let mut delete = self.c().prepare_cached(
                "DELETE FROM kv_hash_fields WHERE db = ? AND key = ? AND field = ?",
            )?;
            for field in fields {
                removed += delete.execute(params![db as i64, key, field.as_ref()])? as i64;
            }
        }
        if removed == 0 {
            return Ok((0, false));
        }
        if self.hash_len(db, key).await? == 0 {
            self.delete(db, key).await?;
            return Ok((removed, true));
        }
        self.bump_version(db, key)?;
        Ok((removed, false))
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
        let c = self.c();
        run(
            c,
            "INSERT INTO kv_keys (db, key, kh, kind, expire_at, version, value) VALUES (?, ?, ?, ?, NULL, ?, NULL) \
             ON CONFLICT(db, key) DO UPDATE SET version = excluded.version",
            params![
                db as i64,
                key,
                super::key_hash(key),
                kind.code(),
                new_version()
            ],
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

    async fn members_delete(&mut self, db: Db, key: &[u8], members: &[Bytes]) -> StoreResult<i64> {
        let mut removed = 0;
        {
            let mut delete = self
                .c()
                .prepare_cached("DELETE FROM kv_members WHERE db = ? AND key = ? AND member = ?")?;
            for m in members {
                removed += delete.execute(params![db as i64, key, m.as_ref()])? as i64;
            }
        }
        if removed > 0 {
            self.bump_version(db, key)?;
        }
        Ok(removed)
    }

    async fn members_delete_range(
        &mut self,
        db: Db,
        key: &[u8],
        range: &MemberRange,
    ) -> StoreResult<i64> {
        let (cond, args, _) = range_sql(range, false);
        let sql = format!("DELETE FROM kv_members WHERE db = ? AND key = ?{cond}");
        let removed = run(self.c(), &sql, member_params(db, key, args, None))? as i64;
        if removed > 0 {
            self.bump_version(db, key)?;
        }
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
        let (prefix, upper) = super::key_range(pattern);
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
            if super::lists(pattern, key, r.get(1)?, now_ms) {
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

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
