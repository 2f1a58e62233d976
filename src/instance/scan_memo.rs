//! How far this instance's fruitless scans of filtered event streams got,
//! so repeated XREAD polls move on instead of rescanning (see
//! `cmd::helpers::event_view`).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

use crate::store::{Db, StreamId};

/// How far fruitless scans of filtered views got, per instance: (db,
/// pattern, the id read after) → the last entry examined. Small and
/// bounded (least recently used entries go first); long patterns are not
/// remembered: at most [`ScanMemo::CAPACITY`] entries of a pattern of up
/// to [`ScanMemo::MAX_PATTERN`] bytes and a few words, under 1 MB.
#[derive(Default)]
pub struct ScanMemo {
    inner: Mutex<MemoInner>,
}

#[derive(Default)]
struct MemoInner {
    /// Position and last use.
    map: HashMap<MemoKey, (StreamId, u64)>,
    clock: u64,
}

type MemoKey = (Db, Bytes, StreamId);

impl ScanMemo {
    /// Positions remembered at most.
    pub const CAPACITY: usize = 1024;
    /// Longest pattern remembered.
    pub const MAX_PATTERN: usize = 512;

    fn key(db: Db, pattern: Option<&Bytes>, after: StreamId) -> Option<MemoKey> {
        let pattern = pattern?;
        (pattern.len() <= Self::MAX_PATTERN).then(|| (db, pattern.clone(), after))
    }

    /// Where a fruitless scan of the view of `db` filtered by `pattern`
    /// (unfiltered views are not remembered) after `after` got to, if known.
    pub fn get(&self, db: Db, pattern: Option<&Bytes>, after: StreamId) -> Option<StreamId> {
        let key = Self::key(db, pattern, after)?;
        let mut inner = self.inner.lock().unwrap();
        inner.clock += 1;
        let now = inner.clock;
        let slot = inner.map.get_mut(&key)?;
        slot.1 = now;
        Some(slot.0)
    }

    /// Records that nothing of that view lies in `(after, reached]`.
    pub fn put(&self, db: Db, pattern: Option<&Bytes>, after: StreamId, reached: StreamId) {
        let Some(key) = Self::key(db, pattern, after) else {
            return;
        };
        let mut inner = self.inner.lock().unwrap();
        inner.clock += 1;
        let now = inner.clock;
        if !inner.map.contains_key(&key) && inner.map.len() >= Self::CAPACITY {
            let oldest = inner
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.map.remove(&oldest);
            }
        }
        let slot = inner.map.entry(key).or_insert((reached, now));
        slot.0 = slot.0.max(reached);
        slot.1 = now;
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
