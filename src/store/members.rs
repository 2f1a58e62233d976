//! The members trait: a transaction's typed operations on the member rows
//! of lists, sets and sorted sets (see [`Member`]).

use async_trait::async_trait;
use bytes::Bytes;

use super::error::StoreResult;
use super::types::{Db, KeyKind, Member, MemberRange};

/// A transaction's members operations (a supertrait of
/// [`Txn`](super::keyspace::Txn), which adds the version and emptiness
/// rule on top of the removals).
#[async_trait]
pub trait Members: Send {
    /// The members with these `member` values, in order (each with its
    /// score and value), `None` where absent.
    async fn members_get(
        &mut self,
        db: Db,
        key: &[u8],
        members: &[Bytes],
    ) -> StoreResult<Vec<Option<Member>>>;
    /// Writes members (inserted or replaced by `member`), creating the key
    /// as `kind` if it does not exist; gives the key a new WATCH version.
    /// The caller checked the key's kind.
    async fn members_put(
        &mut self,
        db: Db,
        key: &[u8],
        kind: KeyKind,
        rows: &[Member],
    ) -> StoreResult<()>;
    /// [`Members::members_put`], but a key that exists keeps its WATCH
    /// version: a stream's group bookkeeping, which Redis does not
    /// signal to WATCH.
    async fn members_put_quiet(
        &mut self,
        db: Db,
        key: &[u8],
        kind: KeyKind,
        rows: &[Member],
    ) -> StoreResult<()>;
    /// Removes members; returns how many existed. Touches nothing else
    /// (see [`Txn::members_delete`](super::keyspace::Txn::members_delete)).
    async fn members_remove(&mut self, db: Db, key: &[u8], members: &[Bytes]) -> StoreResult<i64>;
    /// Removes the members in `range`; returns how many went (touches
    /// nothing else, as [`Members::members_remove`]).
    async fn members_remove_range(
        &mut self,
        db: Db,
        key: &[u8],
        range: &MemberRange,
    ) -> StoreResult<i64>;
    /// How many members the key has.
    async fn members_len(&mut self, db: Db, key: &[u8]) -> StoreResult<i64> {
        self.members_count(db, key, &MemberRange::All).await
    }
    /// The lowest and highest scores of the key's members (a list's head
    /// and tail positions), read from the two ends of the score index in
    /// one statement; `None` when it has none.
    async fn members_span(&mut self, db: Db, key: &[u8]) -> StoreResult<Option<(i64, i64)>>;
    /// How many members lie in `range`.
    async fn members_count(&mut self, db: Db, key: &[u8], range: &MemberRange) -> StoreResult<i64>;
    /// How many members come before (`score`, `member`) in (score,
    /// member) order: a sorted-set member's rank (ZRANK), counted on the
    /// index.
    async fn members_rank(
        &mut self,
        db: Db,
        key: &[u8],
        score: i64,
        member: &[u8],
    ) -> StoreResult<i64>;
    /// The members in `range`, in its order (reversed when `rev`), skipping
    /// `offset` of them, at most `limit`.
    async fn members_range(
        &mut self,
        db: Db,
        key: &[u8],
        range: &MemberRange,
        rev: bool,
        offset: u64,
        limit: Option<u64>,
    ) -> StoreResult<Vec<Member>>;
}
