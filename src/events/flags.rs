//! The `notify-keyspace-events` setting, as a bit set.

pub const GENERIC: u32 = 1 << 0;
pub const STRING: u32 = 1 << 1;
pub const LIST: u32 = 1 << 2;
pub const SET: u32 = 1 << 3;
pub const HASH: u32 = 1 << 4;
pub const ZSET: u32 = 1 << 5;
pub const EXPIRED: u32 = 1 << 6;
pub const EVICTED: u32 = 1 << 7;
pub const STREAM: u32 = 1 << 8;
pub const MODULE: u32 = 1 << 9;
pub const KEYSPACE: u32 = 1 << 10;
pub const KEYEVENT: u32 = 1 << 11;
pub const KEY_MISS: u32 = 1 << 12;
pub const NEW: u32 = 1 << 13;
/// What `A` stands for (every class but `m` and `n`).
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The class characters in the order Redis prints them when not all set.
const CLASSES: [(u8, u32); 10] = [
    (b'g', GENERIC),
    (b'$', STRING),
    (b'l', LIST),
    (b's', SET),
    (b'h', HASH),
    (b'z', ZSET),
    (b'x', EXPIRED),
    (b'e', EVICTED),
    (b't', STREAM),
    (b'd', MODULE),
];

/// Parses a flags string; `None` when it holds an unknown character.
pub fn parse(text: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for &c in text {
        flags |= match c {
            b'A' => ALL,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b'm' => KEY_MISS,
            b'n' => NEW,
            other => CLASSES.iter().find(|(ch, _)| *ch == other)?.1,
        };
    }
    Some(flags)
}

/// Formats flags as CONFIG GET shows them.
pub fn format(flags: u32) -> String {
    // Redis 7.0 prints `n` among the classes, so `A` hides it.
    let mut out = String::new();
    if flags & ALL == ALL {
        out.push('A');
    } else {
        for (ch, bit) in CLASSES.iter().chain(&[(b'n', NEW)]) {
            if flags & bit != 0 {
                out.push(*ch as char);
            }
        }
    }
    for (ch, bit) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
        if flags & bit != 0 {
            out.push(ch);
        }
    }
    out
}

/// Formats flags without losing any bit (`n` with `A`), for storage.
pub fn format_lossless(flags: u32) -> String {
    let mut out = format(flags);
    if flags & ALL == ALL && flags & NEW != 0 {
        out.push('n');
    }
    out
}

/// The bit of an event's class character.
pub fn class_bit(class: u8) -> u32 {
    match class {
        b'n' => NEW,
        b'm' => KEY_MISS,
        other => CLASSES
            .iter()
            .find(|(ch, _)| *ch == other)
            .map_or(0, |c| c.1),
    }
}

/// True when an event of `class` is published under `flags` at all.
pub fn wanted(flags: u32, class: u8) -> bool {
    flags & (KEYSPACE | KEYEVENT) != 0 && flags & class_bit(class) != 0
}

#[cfg(test)]
mod tests {
    use crate::events::flags::*;

    #[test]
    fn round_trip() {
        assert_eq!(format(parse(b"AKE").unwrap()), "AKE");
        assert_eq!(format(parse(b"Kh$g").unwrap()), "g$hK");
        assert_eq!(format(parse(b"KEA").unwrap()), "AKE");
        assert_eq!(format(parse(b"nEx").unwrap()), "xnE");
        assert_eq!(format(parse(b"KEAn").unwrap()), "AKE");
        assert_eq!(
            parse(format_lossless(parse(b"KEAn").unwrap()).as_bytes()),
            parse(b"KEAn")
        );
        assert_eq!(parse(b"KQ"), None);
        assert_eq!(format(0), "");
    }
}
