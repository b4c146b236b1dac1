//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, BLMPOP …): what a handler asks for when it finds
//! nothing to pop, and how long it waits.
//!
//! A blocking handler first tries to serve the command at once. When every key is empty it calls
//! [`crate::cmd::Ctx::block`] instead of replying. The client is then parked on its keys; when a
//! write signals one of them ([`crate::cmd::Ctx::signal_modified`]), the server runs the same
//! handler again with the same arguments for the parked clients, first come first served, right
//! after the write — before any other client's command — so an element pushed for a waiting
//! client cannot be taken by a client that arrived later. A handler that still finds nothing
//! calls `block` again and the client keeps its place. Inside MULTI/EXEC a client cannot wait:
//! `block` then writes the timeout reply at once, as Redis does.

use bytes::Bytes;

use crate::error::CmdError;

/// The reply a blocked client gets when its timeout passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReply {
    /// A null bulk string (BLMOVE, BRPOPLPUSH).
    Null,
    /// A null array (BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP).
    NullArray,
}

/// A handler's request to wait for one of `keys`.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    /// Unix milliseconds; `None` waits forever.
    pub deadline_ms: Option<u64>,
    pub on_timeout: TimeoutReply,
}

/// Redis's `getTimeoutFromObjectOrReply` for timeouts in seconds (fractions allowed; 0 waits
/// forever): the deadline in Unix milliseconds, or `None` for no deadline.
pub fn parse_timeout(arg: &[u8], now_ms: u64) -> Result<Option<u64>, CmdError> {
    let secs = protocol::number::parse_f64(arg)
        .ok_or_else(|| CmdError::err("timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    // C's conversion of an out-of-range double yields i64::MIN on x86: "negative".
    let ms = if ms.is_finite() && ms < i64::MAX as f64 { ms as i64 } else { i64::MIN };
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - now_ms as i64 {
        return Err(CmdError::err("timeout is out of range"));
    }
    Ok(Some(now_ms + ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_as_redis_reads_them() {
        assert_eq!(parse_timeout(b"0", 1000).unwrap(), None);
        assert_eq!(parse_timeout(b"1.5", 1000).unwrap(), Some(2500));
        assert_eq!(parse_timeout(b"0.0001", 1000).unwrap(), None);
        assert_eq!(parse_timeout(b"-1", 0).unwrap_err().to_string(), "ERR timeout is negative");
        assert_eq!(
            parse_timeout(b"abc", 0).unwrap_err().to_string(),
            "ERR timeout is not a float or out of range"
        );
        assert_eq!(parse_timeout(b"inf", 0).unwrap_err().to_string(), "ERR timeout is negative");
        assert_eq!(
            parse_timeout(b"10", (i64::MAX - 5000) as u64).unwrap_err().to_string(),
            "ERR timeout is out of range"
        );
    }
}
