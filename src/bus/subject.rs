//! How a PUBLISH travels on NATS: on one of [`BUCKETS`] fixed subjects,
//! chosen by a hash of the channel name, with the exact name carried in
//! the message.
//!
//! A channel is any byte string up to proto-max-bulk-len; a NATS subject is
//! printable ASCII and its whole protocol line must fit the server's
//! `max_control_line` (4 KB): a subject derived from a long name took the
//! link down. A bucket number is short whatever the name, and a name that
//! looks like a NATS wildcard or token (`*`, `>`, `.`) is just bytes in a
//! payload. Each instance subscribes to the buckets of the channels its
//! clients subscribe to (at most [`BUCKETS`] NATS subscriptions, however
//! many channels), and delivers a message to the subscribers of its exact
//! channel only; a message for another channel of the same bucket is
//! dropped on receipt (the traffic an instance receives beyond its own
//! channels is at most the share of buckets it holds).

use bytes::{BufMut, Bytes, BytesMut};

/// Subjects channels are spread over. Every instance of a deployment must
/// agree on it (and on [`bucket`]).
pub const BUCKETS: u32 = 1024;

/// The bucket of a channel: FNV-1a, fixed, so every instance agrees.
pub fn bucket(channel: &[u8]) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in channel {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(BUCKETS)) as u32
}

/// A message as it travels: the channel's length (4 bytes, big-endian),
/// the channel, then the payload.
pub fn frame(channel: &[u8], payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(4 + channel.len() + payload.len());
    out.put_u32(channel.len() as u32);
    out.put_slice(channel);
    out.put_slice(payload);
    out.freeze()
}

/// The channel and payload of a message [`frame`] made; `None` otherwise.
pub fn unframe(mut message: Bytes) -> Option<(Bytes, Bytes)> {
    let len = u32::from_be_bytes(message.get(..4)?.try_into().ok()?) as usize;
    if message.len() < 4 + len {
        return None;
    }
    let _ = message.split_to(4);
    let channel = message.split_to(len);
    Some((channel, message))
}

#[cfg(test)]
mod tests {
    use crate::bus::subject::*;

    #[test]
    fn frames_round_trip_any_bytes() {
        for channel in [
            &b""[..],
            b"news",
            b"a.b c*>",
            b"__keyspace@0__:dc/n1/x",
            &[0, 255, b'~', b'.'],
            &vec![b'x'; 70_000],
        ] {
            let (c, p) = unframe(frame(channel, b"payload")).unwrap();
            assert_eq!((&c[..], &p[..]), (channel, &b"payload"[..]));
            assert!(bucket(channel) < BUCKETS);
        }
        assert_eq!(unframe(Bytes::from_static(b"\0\0\0\x09short")), None);
        assert_eq!(unframe(Bytes::from_static(b"\0\0")), None);
    }

    #[test]
    fn buckets_are_fixed_and_spread() {
        assert_eq!(bucket(b"news"), bucket(b"news"));
        let used: std::collections::HashSet<u32> = (0..10_000)
            .map(|i| bucket(format!("ch:{i}").as_bytes()))
            .collect();
        assert!(used.len() > BUCKETS as usize * 9 / 10, "{}", used.len());
    }
}
