//! A MySQL transaction: the connection it holds, what it knows of the keys
//! it touched (their rows, locked in a write transaction), and the key
//! writes it stages to send together.

use bytes::Bytes;
use sqlx::mysql::{MySql, MySqlRow};
use sqlx::{QueryBuilder, Row};

use super::held::Held;
use super::staged::{CHUNK, KeyRow, Known, KnownKeys, Staged};
use crate::store::error::{StoreError, StoreResult};
use crate::store::types::{Db, KeyKind, KeyMeta};

/// Longest key or hash field the schema's indexes hold.
pub const MAX_KEY_LEN: usize = 3000;

pub(super) struct MySqlTxn {
    pub(super) tx: Held,
    pub(super) write: bool,
    /// Keys this transaction has looked up (locked, in a write
    /// transaction) and what it knows of each: the prefetch and the
    /// lookups fill it, and the commands' reads are answered from it.
    pub(super) known: KnownKeys,
    /// Key writes held back to leave together (write-behind).
    pub(super) staged: Staged,
    /// Largest value the database accepts in one statement.
    pub(super) max_value: i64,
}

pub(super) fn check_key(what: &str, b: &[u8]) -> StoreResult<()> {
    if b.len() > MAX_KEY_LEN {
        return Err(StoreError::TooLarge(format!(
            "{what} is too long for the database ({} bytes; at most {MAX_KEY_LEN})",
            b.len()
        )));
    }
    Ok(())
}

/// A key row read from kv_keys: kind, expire_at, version, kid and
/// (optionally) the value, from column `at` on.
pub(super) fn key_row(r: &MySqlRow, at: usize, with_value: bool) -> StoreResult<KeyRow> {
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
    pub(super) fn check_value(&self, len: usize) -> StoreResult<()> {
        if len as i64 > self.max_value {
            return Err(StoreError::TooLarge(format!(
                "value is too large for the database ({len} bytes; max_allowed_packet allows {})",
                self.max_value
            )));
        }
        Ok(())
    }

    pub(super) fn known(&self, db: Db, key: &[u8]) -> Option<&Known> {
        self.known.get(&(db, Bytes::copy_from_slice(key)))
    }

    pub(super) fn learn(&mut self, db: Db, key: &[u8], known: Known) {
        self.known.insert((db, Bytes::copy_from_slice(key)), known);
    }

    /// Sends every staged write.
    pub(super) async fn flush_staged(&mut self) -> StoreResult<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let budget = self.max_value.max(0) as usize;
        self.staged.flush(self.tx.conn(), budget).await
    }

    /// Before a statement reads or changes the key in the database: its
    /// staged write goes first (with the others, in one go).
    pub(super) async fn settle(&mut self, db: Db, key: &[u8]) -> StoreResult<()> {
        if self.staged.holds(db, key) {
            self.flush_staged().await?;
        }
        Ok(())
    }

    /// The key's row (locked in a write transaction): its metadata, kid
    /// and, when asked for, its string value. Answered from what the
    /// transaction knows when it can, else read and remembered.
    pub(super) async fn row(
        &mut self,
        db: Db,
        key: &[u8],
        with_value: bool,
    ) -> StoreResult<Option<KeyRow>> {
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
    pub(super) async fn kid(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<i64>> {
        match self.known(db, key) {
            Some(known) => Ok(known.kid()),
            None => Ok(self.row(db, key, false).await?.map(|r| r.kid)),
        }
    }

    /// Deletes the rows of an existing key's `table` (`kv_hash_fields` or
    /// `kv_members`) whose `column` is one of `names`, a statement per
    /// chunk; how many went. A key absent from the database has none.
    pub(super) async fn delete_named(
        &mut self,
        db: Db,
        key: &[u8],
        table: &str,
        column: &str,
        names: &[Bytes],
    ) -> StoreResult<i64> {
        self.settle(db, key).await?;
        let Some(kid) = self.kid(db, key).await? else {
            return Ok(0);
        };
        let mut removed = 0i64;
        for chunk in names.chunks(CHUNK) {
            let mut q = QueryBuilder::<MySql>::new(format!("DELETE FROM {table} WHERE kid = "));
            q.push_bind(kid).push(format!(" AND {column} IN ("));
            let mut list = q.separated(", ");
            for name in chunk {
                list.push_bind(name.as_ref());
            }
            q.push(")");
            removed += q.build().execute(self.tx.conn()).await?.rows_affected() as i64;
        }
        Ok(removed)
    }

    /// Stages the key's new row (and hash fields): it reaches the database
    /// at the next flush, and the transaction reads it from what it knows.
    pub(super) fn stage(&mut self, db: Db, key: &[u8], row: KeyRow, fields: &[(Bytes, Bytes)]) {
        let existed = self.known(db, key).and_then(Known::kid).is_some();
        self.staged.stage(db, key, row.clone(), fields, existed);
        self.learn(db, key, Known::Row(row));
    }
}
