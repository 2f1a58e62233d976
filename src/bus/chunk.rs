//! Messages larger than the NATS server's `max_payload`: split into chunks
//! on the publishing side and put back together on the receiving side.
//!
//! A chunked message is a run of NATS messages on the channel's subject,
//! published in order from one connection (which NATS keeps in order), each
//! carrying headers: the message id, the chunk's index, the chunk count and
//! the message's total size. Messages without these headers are whole.
//!
//! Reassembly memory is bounded: every message in progress reserves its
//! declared size from a per-instance [`Budget`] up front (and is dropped,
//! with a warning, when the budget cannot hold it), at most
//! [`MAX_PARTIALS`] messages are in progress per subscription, and a
//! message whose next chunk does not come within [`IDLE_TIMEOUT`] is
//! dropped. A lost, repeated or out-of-order chunk drops its message.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::{Bytes, BytesMut};
use tokio::time::Instant;
use tracing::{debug, warn};

pub const H_ID: &str = "Respire-Msg-Id";
pub const H_INDEX: &str = "Respire-Chunk";
pub const H_COUNT: &str = "Respire-Chunks";
pub const H_SIZE: &str = "Respire-Size";

/// Room left for the chunk headers in each NATS message.
pub const HEADER_ROOM: usize = 256;
/// Longest wait for the next chunk of a message in progress.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Most messages in progress at once on one subscription.
pub const MAX_PARTIALS: usize = 1024;

/// The headers of one chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkHeader {
    pub id: String,
    pub index: usize,
    pub count: usize,
    pub total: usize,
}

impl ChunkHeader {
    /// `None`: not a chunk (a whole message). `Some(Err)`: chunk headers
    /// that do not parse.
    pub fn parse(headers: Option<&HeaderMap>) -> Option<Result<ChunkHeader, ()>> {
        let headers = headers?;
        let id = headers.get(H_ID)?.as_str().to_string();
        let num = |name| {
            headers
                .get(name)
                .and_then(|v| v.as_str().parse::<usize>().ok())
                .ok_or(())
        };
        Some((|| {
            Ok(ChunkHeader {
                id,
                index: num(H_INDEX)?,
                count: num(H_COUNT)?,
                total: num(H_SIZE)?,
            })
        })())
    }

    pub fn to_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(H_ID, self.id.as_str());
        h.insert(H_INDEX, self.index.to_string().as_str());
        h.insert(H_COUNT, self.count.to_string().as_str());
        h.insert(H_SIZE, self.total.to_string().as_str());
        h
    }
}

/// Bytes reserved by messages in progress across one instance.
#[derive(Debug)]
pub struct Budget {
    used: AtomicUsize,
    pub limit: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            used: AtomicUsize::new(0),
            limit,
        })
    }

    fn reserve(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&t| t <= self.limit)
            })
            .is_ok()
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

struct Partial {
    next: usize,
    count: usize,
    total: usize,
    buf: BytesMut,
    last: Instant,
}

/// Puts chunked messages back together for one subscription.
pub struct Reassembler {
    partial: HashMap<String, Partial>,
    budget: Arc<Budget>,
}

impl Reassembler {
    pub fn new(budget: Arc<Budget>) -> Reassembler {
        Reassembler {
            partial: HashMap::new(),
            budget,
        }
    }

    /// Feeds one NATS message; returns a complete message when there is one.
    pub fn feed(
        &mut self,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        now: Instant,
    ) -> Option<Bytes> {
        match ChunkHeader::parse(headers) {
            None => Some(payload),
            Some(Ok(h)) => self.feed_chunk(h, payload, now),
            Some(Err(())) => {
                warn!("dropping a NATS message with malformed chunk headers");
                None
            }
        }
    }

    pub fn feed_chunk(&mut self, h: ChunkHeader, payload: Bytes, now: Instant) -> Option<Bytes> {
        self.expire(now);
        if h.index == 0 {
            if self.partial.contains_key(&h.id) {
                self.drop_partial(&h.id, "restarted");
            }
            if h.count == 0 || h.total < h.count || payload.is_empty() {
                warn!(id = %h.id, "dropping a chunked message with inconsistent headers");
                return None;
            }
            if h.total > self.budget.limit {
                warn!(
                    id = %h.id, size = h.total, limit = self.budget.limit,
                    "dropping a chunked message larger than the reassembly limit"
                );
                return None;
            }
            if self.partial.len() >= MAX_PARTIALS || !self.budget.reserve(h.total) {
                warn!(
                    id = %h.id, size = h.total, in_progress = self.budget.used(),
                    "dropping a chunked message: reassembly memory limit reached"
                );
                return None;
            }
            self.partial.insert(
                h.id.clone(),
                Partial {
                    next: 0,
                    count: h.count,
                    total: h.total,
                    buf: BytesMut::with_capacity(h.total),
                    last: now,
                },
            );
        }
        let Some(p) = self.partial.get_mut(&h.id) else {
            // The rest of a message already dropped (or never started here).
            debug!(id = %h.id, index = h.index, "dropping an orphan chunk");
            return None;
        };
        if h.index != p.next
            || h.count != p.count
            || h.total != p.total
            || payload.is_empty()
            || p.buf.len() + payload.len() > p.total
        {
            self.drop_partial(&h.id, "lost, repeated or inconsistent chunk");
            return None;
        }
        p.buf.extend_from_slice(&payload);
        p.next += 1;
        p.last = now;
        if p.next < p.count {
            return None;
        }
        let p = self.partial.remove(&h.id).expect("present");
        self.budget.release(p.total);
        if p.buf.len() != p.total {
            warn!(id = %h.id, "dropping a chunked message shorter than declared");
            return None;
        }
        Some(p.buf.freeze())
    }

    /// Drops messages whose next chunk is overdue.
    pub fn expire(&mut self, now: Instant) {
        let overdue: Vec<String> = self
            .partial
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last) >= IDLE_TIMEOUT)
            .map(|(id, _)| id.clone())
            .collect();
        for id in overdue {
            self.drop_partial(&id, "timed out waiting for its next chunk");
        }
    }

    /// When the oldest message in progress times out, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.partial.values().map(|p| p.last + IDLE_TIMEOUT).min()
    }

    pub fn in_progress(&self) -> usize {
        self.partial.len()
    }

    fn drop_partial(&mut self, id: &str, why: &str) {
        if let Some(p) = self.partial.remove(id) {
            self.budget.release(p.total);
            warn!(
                id,
                received = p.buf.len(),
                size = p.total,
                "dropping an incomplete chunked message: {why}"
            );
        }
    }
}

impl Drop for Reassembler {
    fn drop(&mut self) {
        for p in self.partial.values() {
            self.budget.release(p.total);
        }
    }
}

/// Splits `payload` into chunks of at most `chunk` bytes, with headers.
pub fn split(id: &str, payload: &Bytes, chunk: usize) -> Vec<(HeaderMap, Bytes)> {
    assert!(chunk > 0);
    let count = payload.len().div_ceil(chunk);
    (0..count)
        .map(|index| {
            let start = index * chunk;
            let end = (start + chunk).min(payload.len());
            let h = ChunkHeader {
                id: id.to_string(),
                index,
                count,
                total: payload.len(),
            };
            (h.to_headers(), payload.slice(start..end))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::bus::chunk::*;

    fn payload(n: usize) -> Bytes {
        (0..n)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn split_then_reassemble_is_exact() {
        let budget = Budget::new(1 << 20);
        let mut r = Reassembler::new(budget.clone());
        let now = Instant::now();
        for len in [1, 99, 100, 101, 1000, 12345] {
            let p = payload(len);
            let chunks = split("m", &p, 100);
            assert_eq!(chunks.len(), len.div_ceil(100));
            let mut out = Vec::new();
            for (h, c) in chunks {
                out.extend(r.feed(Some(&h), c, now));
            }
            assert_eq!(out, vec![p]);
            assert_eq!(budget.used(), 0);
        }
        // A message without headers passes through.
        assert_eq!(r.feed(None, payload(5), now), Some(payload(5)));
    }

    #[test]
    fn interleaved_messages_reassemble_separately() {
        let budget = Budget::new(1 << 20);
        let mut r = Reassembler::new(budget.clone());
        let now = Instant::now();
        let (a, b) = (payload(250), payload(330).slice(1..));
        let (ca, cb) = (split("a", &a, 100), split("b", &b, 100));
        let mut out = Vec::new();
        let mut ia = ca.into_iter();
        let mut ib = cb.into_iter();
        loop {
            let (x, y) = (ia.next(), ib.next());
            if x.is_none() && y.is_none() {
                break;
            }
            for (h, c) in x.into_iter().chain(y) {
                out.extend(r.feed(Some(&h), c, now));
            }
        }
        assert_eq!(out, vec![a, b]);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn lost_or_repeated_chunk_drops_the_message_and_its_memory() {
        let budget = Budget::new(1 << 20);
        let mut r = Reassembler::new(budget.clone());
        let now = Instant::now();
        let p = payload(500);
        let chunks = split("m", &p, 100);
        // Chunk 2 lost.
        for (i, (h, c)) in chunks.iter().cloned().enumerate() {
            if i != 2 {
                assert_eq!(r.feed(Some(&h), c, now), None);
            }
        }
        assert_eq!(r.in_progress(), 0);
        assert_eq!(budget.used(), 0);
        // Chunk 1 repeated.
        for (i, (h, c)) in chunks.iter().cloned().enumerate() {
            assert_eq!(r.feed(Some(&h), c.clone(), now), None, "chunk {i}");
            if i == 1 {
                assert_eq!(r.feed(Some(&h), c, now), None);
            }
        }
        assert_eq!((r.in_progress(), budget.used()), (0, 0));
        // The next message still arrives whole.
        let got: Vec<Bytes> = split("n", &p, 100)
            .into_iter()
            .filter_map(|(h, c)| r.feed(Some(&h), c, now))
            .collect();
        assert_eq!(got, vec![p]);
    }

    #[test]
    fn memory_is_bounded_and_incomplete_messages_time_out() {
        let budget = Budget::new(1000);
        let mut r = Reassembler::new(budget.clone());
        let mut other = Reassembler::new(budget.clone());
        let now = Instant::now();
        // Over the limit by itself: refused.
        let (h, c) = split("big", &payload(1001), 100).remove(0);
        assert_eq!(r.feed(Some(&h), c, now), None);
        assert_eq!(budget.used(), 0);
        // Two starts of 600 bytes: the second does not fit, on either side.
        let (h, c) = split("a", &payload(600), 100).remove(0);
        assert_eq!(r.feed(Some(&h), c, now), None);
        assert_eq!(budget.used(), 600);
        let (h, c) = split("b", &payload(600), 100).remove(0);
        assert_eq!(other.feed(Some(&h), c, now), None);
        assert_eq!(other.in_progress(), 0);
        assert_eq!(budget.used(), 600);
        // A declared size the chunks overrun: dropped.
        let mut h = ChunkHeader::parse(Some(&split("c", &payload(300), 100)[0].0))
            .unwrap()
            .unwrap();
        h.total = 150;
        assert_eq!(other.feed_chunk(h.clone(), payload(100), now), None);
        h.index = 1;
        assert_eq!(other.feed_chunk(h, payload(100), now), None);
        assert_eq!((other.in_progress(), budget.used()), (0, 600));
        // "a" never completes: it times out and gives its memory back.
        assert_eq!(r.next_deadline(), Some(now + IDLE_TIMEOUT));
        r.expire(now + IDLE_TIMEOUT - Duration::from_millis(1));
        assert_eq!(r.in_progress(), 1);
        r.expire(now + IDLE_TIMEOUT);
        assert_eq!((r.in_progress(), budget.used()), (0, 0));
        // Dropping a reassembler mid-message gives its memory back too.
        let (h, c) = split("d", &payload(600), 100).remove(0);
        assert_eq!(other.feed(Some(&h), c, now), None);
        assert_eq!(budget.used(), 600);
        drop(other);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn malformed_headers_are_dropped() {
        let mut r = Reassembler::new(Budget::new(1000));
        let now = Instant::now();
        let mut h = HeaderMap::new();
        h.insert(H_ID, "x");
        h.insert(H_INDEX, "zero");
        assert_eq!(r.feed(Some(&h), payload(3), now), None);
        // Other headers, no chunk id: a whole message.
        let mut h = HeaderMap::new();
        h.insert("Other", "1");
        assert_eq!(r.feed(Some(&h), payload(3), now), Some(payload(3)));
        // Count zero, or empty chunks: dropped.
        let bad = ChunkHeader {
            id: "y".into(),
            index: 0,
            count: 0,
            total: 0,
        };
        assert_eq!(r.feed_chunk(bad, payload(1), now), None);
        assert_eq!(r.in_progress(), 0);
    }
}
