//! Redis channel names as NATS subject tokens, reversibly.
//!
//! A channel is any byte string (dots, spaces, `*`, `>`, empty); a NATS
//! token is a non-empty run of printable ASCII without `.`, `*`, `>` or
//! space. Letters, digits, `-` and `_` stay as they are; every other byte
//! becomes `~` and two hex digits; the empty channel is `~`.

/// The subject token for a channel.
pub fn encode(channel: &[u8]) -> String {
    if channel.is_empty() {
        return "~".into();
    }
    let mut out = String::with_capacity(channel.len());
    for &b in channel {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push('~');
            out.push_str(&format!("{b:02x}"));
        }
    }
    out
}

/// The channel a token encodes; `None` for a token this module did not make.
pub fn decode(token: &str) -> Option<Vec<u8>> {
    if token == "~" {
        return Some(Vec::new());
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'~' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use crate::bus::subject::*;

    #[test]
    fn round_trips_any_bytes() {
        for channel in [
            &b""[..],
            b"news",
            b"a.b c*>",
            b"__keyspace@0__:dc/n1/x",
            &[0, 255, b'~', b'.'],
        ] {
            let token = encode(channel);
            assert!(!token.is_empty());
            assert!(!token.contains(['.', '*', '>', ' ']));
            assert_eq!(decode(&token).as_deref(), Some(channel));
        }
        assert_eq!(decode("~zz"), None);
    }
}
