//! What a data command runs with: its open transaction, database, clock
//! and the events it produces.

use bytes::Bytes;

use crate::cmd::errors::CmdError;
use crate::cmd::helpers::event_view;
use crate::instance::state::Instance;
use crate::store::{Db, Event, KeyKind, KeyMeta, Txn};

/// The execution context of a data command: its transaction, the selected
/// database, one `now` for the whole command, and the events it produced.
pub struct Ctx<'a> {
    pub txn: &'a mut dyn Txn,
    pub db: Db,
    /// Unix milliseconds, fixed for the command (Redis's command time
    /// snapshot), so one command sees one consistent clock.
    pub now: i64,
    /// Events to append to the log in this transaction.
    pub events: Vec<Event>,
    pub instance: &'a Instance,
    pub resp3: bool,
    /// The client is not in CLIENT NO-TOUCH mode: the keys it names count
    /// as accessed (OBJECT IDLETIME).
    pub touches: bool,
    /// The attempt of a blocking command that has already waited
    /// (XREADGROUP then answers Redis's texts for a stream or group that
    /// went away meanwhile).
    pub blocked: bool,
}

impl Ctx<'_> {
    /// The key's metadata if it exists and has not expired. The event
    /// streams (`__events@<db>__`) exist without a row: a key of kind
    /// stream that never expires.
    pub async fn live(&mut self, key: &[u8]) -> Result<Option<KeyMeta>, CmdError> {
        if let Some(meta) = self.event_stream(key) {
            return Ok(Some(meta));
        }
        let now = self.now;
        Ok(self
            .txn
            .meta(self.db, key)
            .await?
            .filter(|m| m.is_live(now)))
    }

    /// The metadata of an event stream's name (see [`event_view`]).
    pub fn event_stream(&self, key: &[u8]) -> Option<KeyMeta> {
        event_view::exists(key, self.instance.config.databases).then_some(KeyMeta {
            kind: KeyKind::Stream,
            expire_at: None,
            version: 0,
        })
    }

    /// Like [`Ctx::live`], but a key of another kind is a WRONGTYPE error.
    pub async fn live_of(
        &mut self,
        key: &[u8],
        kind: KeyKind,
    ) -> Result<Option<KeyMeta>, CmdError> {
        match self.live(key).await? {
            Some(m) if m.kind != kind => Err(CmdError::WrongType),
            other => Ok(other),
        }
    }

    /// Looks a key up for writing: an expired key is deleted now (with its
    /// `expired` event, as Redis's lazy expiry does) and reported absent.
    pub async fn for_write(&mut self, key: &Bytes) -> Result<Option<KeyMeta>, CmdError> {
        match self.txn.meta(self.db, key).await? {
            Some(m) if !m.is_live(self.now) => {
                self.txn.delete(self.db, key).await?;
                self.notify(b'x', "expired", key);
                Ok(None)
            }
            other => Ok(other),
        }
    }

    /// [`Ctx::for_write`] with a WRONGTYPE check.
    pub async fn for_write_of(
        &mut self,
        key: &Bytes,
        kind: KeyKind,
    ) -> Result<Option<KeyMeta>, CmdError> {
        match self.for_write(key).await? {
            Some(m) if m.kind != kind => Err(CmdError::WrongType),
            other => Ok(other),
        }
    }

    /// Records a keyspace event of `class` (a notify-keyspace-events
    /// character) for `key`.
    pub fn notify(&mut self, class: u8, name: &'static str, key: &Bytes) {
        self.events.push(Event {
            db: self.db,
            key: key.clone(),
            name,
            class,
        });
    }

    /// Records a keyspace event for `key` in another database (MOVE, COPY).
    pub fn notify_in(&mut self, db: Db, class: u8, name: &'static str, key: &Bytes) {
        self.events.push(Event {
            db,
            key: key.clone(),
            name,
            class,
        });
    }

    /// Counts a read hit or miss for INFO stats.
    pub fn count_lookup(&self, hit: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = &self.instance.metrics;
        if hit {
            &stats.keyspace_hits
        } else {
            &stats.keyspace_misses
        }
        .fetch_add(1, Relaxed);
    }
}
