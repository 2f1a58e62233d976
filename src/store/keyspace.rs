//! The keyspace traits: a store opens transactions ([`Keyspace`]); a
//! transaction ([`Txn`]) reads and writes keys, strings and hashes, and
//! through its supertraits members ([`Members`]) and its share of the
//! event log ([`LogWrites`]). The rule for a key that lost fields or
//! members is here, once, for every backend.

use async_trait::async_trait;
use bytes::Bytes;

use super::error::StoreResult;
use super::event_log::LogWrites;
use super::members::Members;
use super::types::{Access, Db, DbCounts, KeyMeta, MemberRange, key_hash};

/// A database's keyspace: where transactions begin.
#[async_trait]
pub trait Keyspace: Send + Sync + 'static {
    /// How many write transactions are worth running at once (group-commit
    /// lanes): SQLite has one writer; a server database takes several.
    fn write_lanes(&self) -> usize {
        1
    }
    /// True when [`Txn::prefetch`] does something: callers skip gathering
    /// keys for a store that reads each key where it is used anyway.
    fn prefetches(&self) -> bool {
        false
    }
    /// Opens a transaction (see [`Access`]).
    async fn begin(&self, access: Access) -> StoreResult<Box<dyn Txn>>;
}

/// What a key lost: a hash's fields, or the members of a list, set or
/// sorted set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elements {
    Fields,
    Members,
}

/// One database transaction. Dropping it without [`Txn::commit`] rolls it back.
#[async_trait]
pub trait Txn: Members + LogWrites + Send {
    /// A hint that the commands about to run touch these keys (sorted,
    /// without duplicates): a store may read them all at once, locking
    /// them in that one order in a write transaction, and answer the
    /// commands' lookups from what it read. The default reads nothing.
    async fn prefetch(&mut self, keys: &[(Db, Bytes)]) -> StoreResult<()> {
        let _ = keys;
        Ok(())
    }
    /// The key's metadata, expired or not.
    async fn meta(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<KeyMeta>>;
    /// A string key's metadata and value in one read.
    async fn string_get(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<(KeyMeta, Bytes)>>;
    /// Creates or replaces a string key (any previous content must already
    /// have been deleted by the caller if it was not a string).
    async fn string_put(
        &mut self,
        db: Db,
        key: &[u8],
        value: &[u8],
        expire_at: Option<i64>,
    ) -> StoreResult<()>;
    /// Removes a key and everything it holds; false if it did not exist.
    async fn delete(&mut self, db: Db, key: &[u8]) -> StoreResult<bool>;
    /// Sets or clears an existing key's deadline.
    async fn set_expire(&mut self, db: Db, key: &[u8], expire_at: Option<i64>) -> StoreResult<()>;
    /// Values of the given fields, in order.
    async fn hash_get(
        &mut self,
        db: Db,
        key: &[u8],
        fields: &[Bytes],
    ) -> StoreResult<Vec<Option<Bytes>>>;
    /// All field/value pairs, ordered by field.
    async fn hash_all(&mut self, db: Db, key: &[u8]) -> StoreResult<Vec<(Bytes, Bytes)>>;
    async fn hash_len(&mut self, db: Db, key: &[u8]) -> StoreResult<i64>;
    /// Sets fields, creating the hash if absent; returns how many were new.
    async fn hash_put(&mut self, db: Db, key: &[u8], pairs: &[(Bytes, Bytes)]) -> StoreResult<i64>;
    /// Removes fields; returns how many existed. The key is left as it is,
    /// even when empty: [`Txn::hash_delete`] applies the rule.
    async fn hash_remove(&mut self, db: Db, key: &[u8], fields: &[Bytes]) -> StoreResult<i64>;
    /// Up to `limit` pairs with field greater than `after`, ordered by field.
    async fn hash_scan(
        &mut self,
        db: Db,
        key: &[u8],
        after: Option<&[u8]>,
        limit: u32,
    ) -> StoreResult<Vec<(Bytes, Bytes)>>;
    /// Gives an existing key a new WATCH version (nothing when absent).
    async fn bump_version(&mut self, db: Db, key: &[u8]) -> StoreResult<()>;
    /// Up to `limit` keys whose [`key_hash`](key_hash) is
    /// greater than `after`, in hash order, each with its hash (expired
    /// ones included; callers filter).
    async fn scan_page(
        &mut self,
        db: Db,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(Bytes, KeyMeta, i64)>>;
    /// Every key with this hash (collisions are rare but possible).
    async fn keys_at_hash(&mut self, db: Db, hash: i64) -> StoreResult<Vec<(Bytes, KeyMeta)>>;
    /// About `limit` keys after `cursor` in hash order, and the cursor to
    /// continue from (0 when done). A page never splits the keys sharing
    /// one hash, so no key is ever skipped.
    async fn scan(
        &mut self,
        db: Db,
        cursor: i64,
        limit: u32,
    ) -> StoreResult<(Vec<(Bytes, KeyMeta)>, i64)> {
        let mut page = self.scan_page(db, cursor, limit).await?;
        if (page.len() as u32) < limit || page.is_empty() {
            return Ok((page.into_iter().map(|(k, m, _)| (k, m)).collect(), 0));
        }
        let last = page[page.len() - 1].2;
        if page[0].2 == last {
            // The whole page is one hash: take every key that has it.
            return Ok((self.keys_at_hash(db, last).await?, last));
        }
        // Leave the last hash's keys to the next page, whole.
        page.retain(|(_, _, h)| *h != last);
        let next = page[page.len() - 1].2;
        Ok((page.into_iter().map(|(k, m, _)| (k, m)).collect(), next))
    }
    /// Every live key matching the glob `pattern` (KEYS), ordered by key:
    /// the keys in [`key_range`](super::sql::key_range) of the pattern that
    /// [`lists`](super::sql::lists) lists.
    async fn keys_matching(
        &mut self,
        db: Db,
        pattern: &[u8],
        now_ms: i64,
    ) -> StoreResult<Vec<Bytes>>;
    /// The first live key whose hash is at least `hash`, in hash order.
    async fn live_key_from_hash(
        &mut self,
        db: Db,
        hash: i64,
        now_ms: i64,
    ) -> StoreResult<Option<Bytes>>;
    /// A random live key, if any: the first after a random hash, wrapping.
    async fn random_key(&mut self, db: Db, now_ms: i64) -> StoreResult<Option<Bytes>> {
        let start = key_hash(&rand::random::<[u8; 8]>());
        match self.live_key_from_hash(db, start, now_ms).await? {
            Some(key) => Ok(Some(key)),
            None => self.live_key_from_hash(db, 0, now_ms).await,
        }
    }
    /// Live keys and live keys with a deadline, per non-empty database.
    async fn counts(&mut self, now_ms: i64) -> StoreResult<Vec<DbCounts>>;
    /// Empties one database, or all of them.
    async fn flush(&mut self, db: Option<Db>) -> StoreResult<()>;
    /// Exchanges the contents of two databases (SWAPDB): every key of `a`,
    /// with all it holds, moves to `b` and every key of `b` to `a`.
    async fn swap_db(&mut self, a: Db, b: Db) -> StoreResult<()>;
    /// Up to `limit` keys whose deadline is at or before `now_ms`.
    async fn expired(&mut self, now_ms: i64, limit: u32) -> StoreResult<Vec<(Db, Bytes)>>;
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    // A key that lost fields or members: its version moves (WATCH sees the
    // change) and, when nothing is left, the key is deleted. Both backends
    // and the commands go through these four.

    /// Removes fields; returns how many existed. Deletes the key when the
    /// hash becomes empty and reports that as the second value; otherwise
    /// the key gets a new version.
    async fn hash_delete(
        &mut self,
        db: Db,
        key: &[u8],
        fields: &[Bytes],
    ) -> StoreResult<(i64, bool)> {
        let removed = self.hash_remove(db, key, fields).await?;
        if removed == 0 {
            return Ok((0, false));
        }
        if self.drop_if_empty(db, key, Elements::Fields).await? {
            return Ok((removed, true));
        }
        self.bump_version(db, key).await?;
        Ok((removed, false))
    }
    /// Removes members; returns how many existed. The key stays (with a
    /// new version when any went), even when empty: the caller deletes it
    /// ([`Txn::drop_if_empty`]; a list knows from its ends when it emptied).
    async fn members_delete(&mut self, db: Db, key: &[u8], members: &[Bytes]) -> StoreResult<i64> {
        let removed = self.members_remove(db, key, members).await?;
        if removed > 0 {
            self.bump_version(db, key).await?;
        }
        Ok(removed)
    }
    /// Removes the members in `range`; returns how many went (the key
    /// stays, as for [`Txn::members_delete`]).
    async fn members_delete_range(
        &mut self,
        db: Db,
        key: &[u8],
        range: &MemberRange,
    ) -> StoreResult<i64> {
        let removed = self.members_remove_range(db, key, range).await?;
        if removed > 0 {
            self.bump_version(db, key).await?;
        }
        Ok(removed)
    }
    /// After `what` was removed from `key`: deletes the key when it has
    /// none left; true when it did.
    async fn drop_if_empty(&mut self, db: Db, key: &[u8], what: Elements) -> StoreResult<bool> {
        let empty = match what {
            Elements::Fields => self.hash_len(db, key).await? == 0,
            // One row of the index is enough to tell (a count reads them all).
            Elements::Members => self
                .members_range(db, key, &MemberRange::All, false, 0, Some(1))
                .await?
                .is_empty(),
        };
        if empty {
            self.delete(db, key).await?;
        }
        Ok(empty)
    }
}
