//! Reading a command's arguments as Redis does.

use std::time::Duration;

use crate::cmd::errors::{self, CmdError};
use crate::cmd::helpers::long_double;

/// Parses an integer argument (Redis's `string2ll` rules).
pub fn int_arg(arg: &[u8]) -> Result<i64, CmdError> {
    crate::protocol::parse_i64(arg).ok_or_else(|| CmdError::Reply(errors::NOT_INTEGER.into()))
}

/// Case-insensitive comparison of an argument with an option name.
pub fn is(arg: &[u8], option: &str) -> bool {
    arg.eq_ignore_ascii_case(option.as_bytes())
}

/// Parses a timeout in seconds as Redis 7.0 does: a `long double`, times
/// 1000, truncated to milliseconds (out of range counts as negative, as
/// the C cast gives); `None` for 0, which waits forever.
pub fn timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let value =
        long_double::parse(arg).ok_or_else(|| CmdError::Reply(errors::TIMEOUT_NOT_FLOAT.into()))?;
    let ms = long_double::millis(value).unwrap_or(i64::MIN);
    if ms < 0 {
        return Err(CmdError::Reply(errors::TIMEOUT_NEGATIVE.into()));
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// A blocking timeout in milliseconds (XREAD's BLOCK): Redis's
/// `getTimeoutFromObjectOrReply` with `UNIT_MILLISECONDS`; 0 waits
/// forever (`None`).
pub fn timeout_ms(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let ms = crate::protocol::parse_i64(arg)
        .ok_or_else(|| CmdError::Reply(errors::TIMEOUT_NOT_INTEGER.into()))?;
    if ms < 0 {
        return Err(CmdError::Reply(errors::TIMEOUT_NEGATIVE.into()));
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

#[cfg(test)]
mod tests {
    use super::timeout;

    #[test]
    fn timeouts_parse_as_redis_7_0() {
        let ms = |s: &str| timeout(s.as_bytes()).map(|d| d.map(|d| d.as_millis()));
        assert_eq!(ms("0").unwrap(), None);
        assert_eq!(ms("0.01").unwrap(), Some(10));
        assert_eq!(ms("1.5e-3").unwrap(), Some(2));
        assert_eq!(ms("0.001").unwrap(), Some(1));
        assert_eq!(ms("1").unwrap(), Some(1000));
        assert_eq!(ms("0x10").unwrap(), Some(16000));
        // Rounded up (ceill), as Redis 7.0: a positive fraction of a
        // millisecond waits one; a negative one is 0, forever.
        assert_eq!(ms("0.0001").unwrap(), Some(1));
        assert_eq!(ms("1e-300").unwrap(), Some(1));
        assert_eq!(ms("-0.0001").unwrap(), None);
        assert_eq!(ms("-0").unwrap(), None);
        assert!(ms("-1").is_err());
        assert!(ms("inf").is_err());
        assert!(ms("1e400").is_err());
        assert!(ms("9223372036854776").is_err());
        assert!(ms("9223372036854775").is_ok());
        assert!(ms("nan").is_err());
        assert!(ms(" 1").is_err());
        assert!(ms("x").is_err());
    }
}
