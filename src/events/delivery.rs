//! Handing one sequenced event on to this instance: its setting put in
//! force, or its keyspace notifications published and its key's first
//! blocked client woken. The relay and the stream consumer both end here.

use std::sync::atomic::Ordering;

use bytes::{BufMut, Bytes, BytesMut};

use super::flags;
use super::settings;
use super::state::Events;
use super::tracking;
use crate::store::LoggedEvent;

/// Hands one sequenced event on to this instance's subscribers, in log
/// order: a setting event puts its value in force for the events after it;
/// a keyspace event is notified as the flags in force allow, tagged with
/// its id (each subscription drops those logged before it took effect).
/// Blocked readers of the event streams are woken, and the first client
/// blocked on the event's key.
pub fn hand_on(events: &Events, event: &LoggedEvent) {
    events
        .delivered_event
        .fetch_max(event.id, Ordering::Relaxed);
    events.stream_tip.send_if_modified(|tip| {
        let newer = event.seq > *tip;
        if newer {
            *tip = event.seq;
        }
        newer
    });
    if event.is_setting() {
        settings::apply(events, &event.name, &event.key);
        return;
    }
    events.waiters.wake(event.db, &event.key);
    if tracking::invalidates(event.class) {
        events.tracking.invalidate(&event.key);
    }
    deliver(events, events.notify_flags(), event);
}

/// Publishes one event as `__keyspace@<db>__:<key>` and
/// `__keyevent@<db>__:<event>` to this instance's subscribers, as the
/// flags allow.
fn deliver(events: &Events, flags: u32, event: &LoggedEvent) {
    if !flags::wanted(flags, event.class) || !events.bus.has_subscribers() {
        return;
    }
    let mut db = itoa::Buffer::new();
    let db = db.format(event.db).as_bytes();
    if flags & flags::KEYSPACE != 0 {
        let channel = channel_name(b"__keyspace@", db, &event.key);
        events.bus.publish_event(
            &channel,
            &Bytes::copy_from_slice(event.name.as_bytes()),
            event.id,
        );
    }
    if flags & flags::KEYEVENT != 0 {
        let channel = channel_name(b"__keyevent@", db, event.name.as_bytes());
        events.bus.publish_event(&channel, &event.key, event.id);
    }
}

fn channel_name(prefix: &[u8], db: &[u8], suffix: &[u8]) -> Bytes {
    let mut name = BytesMut::with_capacity(prefix.len() + db.len() + 3 + suffix.len());
    name.put_slice(prefix);
    name.put_slice(db);
    name.put_slice(b"__:");
    name.put_slice(suffix);
    name.freeze()
}
