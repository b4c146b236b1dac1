//! A client connection for the workloads: one TCP connection speaking RESP2, one request at a
//! time, every exchange bounded by the operation timeout.
//!
//! What a failure means matters more than anything else here, because the history records it:
//! [`CallError::Reply`] is the server's own error reply (the request was answered), while
//! [`CallError::Timeout`] and [`CallError::Io`] leave the outcome unknown — the request may
//! have been applied — and the connection is then unusable (a late reply would be mistaken for
//! the next request's), so the caller drops it.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::frame::{Frame, FrameLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why a call did not return a reply frame.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The server answered with an error reply (`-CODE text`).
    #[error("{0}")]
    Reply(String),
    /// No complete reply within the timeout.
    #[error("timeout")]
    Timeout,
    /// The connection failed or the reply was not RESP.
    #[error("{0}")]
    Io(String),
}

impl CallError {
    /// Whether the request certainly was not applied: only errors that the proxy and the
    /// partition servers return *instead of* running a command. Anything else — a timeout, a
    /// broken connection, an `ERR` that may follow a write (the proxy's "outcome is unknown")
    /// — may have been applied.
    pub fn certainly_not_applied(&self) -> bool {
        const DEFINITE: [&str; 8] = [
            "TRYAGAIN",
            "CLUSTERDOWN",
            "READONLY",
            "LOADING",
            "MOVED",
            "CROSSSLOT",
            "MASTERDOWN",
            "EXECABORT",
        ];
        match self {
            CallError::Reply(text) => {
                let code = text.split(' ').next().unwrap_or("");
                DEFINITE.contains(&code)
            }
            CallError::Timeout | CallError::Io(_) => false,
        }
    }
}

/// One client connection.
pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl Conn {
    /// Connects within `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Conn, CallError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| CallError::Timeout)?
            .map_err(|e| CallError::Io(format!("connect {addr}: {e}")))?;
        stream.set_nodelay(true).map_err(|e| CallError::Io(e.to_string()))?;
        Ok(Conn { stream, buf: BytesMut::with_capacity(4096), timeout })
    }

    /// Sends one command and reads its reply. An error reply is `Err(CallError::Reply)`.
    pub async fn call(&mut self, args: &[&str]) -> Result<Frame, CallError> {
        let frame = Frame::command(args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())));
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange(&frame)).await {
            Err(_) => Err(CallError::Timeout),
            Ok(Ok(Frame::Error(text))) => {
                Err(CallError::Reply(String::from_utf8_lossy(&text).into_owned()))
            }
            Ok(reply) => reply,
        }
    }

    async fn exchange(&mut self, frame: &Frame) -> Result<Frame, CallError> {
        let bytes = frame.to_bytes();
        self.stream.write_all(&bytes).await.map_err(|e| CallError::Io(e.to_string()))?;
        let limits = FrameLimits::default();
        loop {
            if let Some(reply) =
                Frame::parse(&mut self.buf, &limits).map_err(|e| CallError::Io(e.to_string()))?
            {
                return Ok(reply);
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| CallError::Io(e.to_string()))?;
            if n == 0 {
                return Err(CallError::Io("connection closed by the server".into()));
            }
        }
    }
}

/// An integer reply, or the text of what came instead.
pub fn as_int(frame: &Frame) -> Result<Option<i64>, String> {
    match frame {
        Frame::Integer(n) => Ok(Some(*n)),
        Frame::Bulk(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("not an integer: {frame:?}")),
        Frame::NullBulk | Frame::Null => Ok(None),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// An array of integers (SMEMBERS, LRANGE), or the text of what came instead.
pub fn as_ints(frame: &Frame) -> Result<Vec<i64>, String> {
    match frame {
        Frame::Array(items) | Frame::Set(items) => items
            .iter()
            .map(|item| as_int(item)?.ok_or_else(|| "nil element".to_string()))
            .collect(),
        Frame::NullArray | Frame::Null => Ok(Vec::new()),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_returned_instead_of_running_are_definite() {
        for text in ["TRYAGAIN no lease", "CLUSTERDOWN no master", "MOVED 1 a:1", "READONLY x"] {
            assert!(CallError::Reply(text.into()).certainly_not_applied(), "{text}");
        }
        for text in [
            "ERR the connection to the backend broke after the command was sent (x): its \
             outcome is unknown",
            "ERR anything",
            "OOM command not allowed",
        ] {
            assert!(!CallError::Reply(text.into()).certainly_not_applied(), "{text}");
        }
        assert!(!CallError::Timeout.certainly_not_applied());
        assert!(!CallError::Io("reset".into()).certainly_not_applied());
    }

    #[test]
    fn integer_replies_parse_from_integers_and_bulks() {
        assert_eq!(as_int(&Frame::Integer(-3)), Ok(Some(-3)));
        assert_eq!(as_int(&Frame::Bulk(Bytes::from_static(b"42"))), Ok(Some(42)));
        assert_eq!(as_int(&Frame::NullBulk), Ok(None));
        assert!(as_int(&Frame::Bulk(Bytes::from_static(b"x"))).is_err());
        let list = Frame::Array(vec![Frame::Bulk(Bytes::from_static(b"1")), Frame::Integer(2)]);
        assert_eq!(as_ints(&list), Ok(vec![1, 2]));
    }
}
