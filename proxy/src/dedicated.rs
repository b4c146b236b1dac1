//! A backend connection owned by one client for a while: a transaction (WATCH … EXEC) or one
//! blocking command. Unlike the shared pipelined connections of [`crate::backend`], what runs on
//! it may change the connection's state (MULTI, WATCH) or hold it for a long time (BLPOP), so it
//! must never carry another client's commands. It is closed when dropped: the backend then
//! forgets its watched keys, its open MULTI and its blocked pop, which is what releasing it
//! means when the client goes away.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::frame::{check, Check, FrameLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backend::Failure;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const READ_CHUNK: usize = 16 * 1024;

/// One client's own connection to one backend.
#[derive(Debug)]
pub struct Dedicated {
    addr: String,
    stream: TcpStream,
    rbuf: BytesMut,
}

impl Dedicated {
    /// Connects to `addr`, in RESP3 if `resp3` (the client's protocol, so replies relay as
    /// they are).
    pub async fn connect(addr: &str, resp3: bool) -> Result<Dedicated, Failure> {
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Failure::NotSent(format!("cannot connect to {addr}: {e}"))),
            Err(_) => return Err(Failure::NotSent(format!("connecting to {addr} timed out"))),
        };
        let _ = stream.set_nodelay(true);
        let mut conn = Dedicated { addr: addr.to_string(), stream, rbuf: BytesMut::new() };
        if resp3 {
            // Nothing of the client's was sent yet: a failure here is still "not sent".
            let hello = conn.request(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n").await;
            match hello {
                Ok(reply) if reply.first() != Some(&b'-') => {}
                Ok(reply) => {
                    return Err(Failure::NotSent(format!(
                        "{addr} refused HELLO 3: {}",
                        String::from_utf8_lossy(&reply).trim_end()
                    )))
                }
                Err(Failure::Unknown(why) | Failure::NotSent(why)) => {
                    return Err(Failure::NotSent(why))
                }
            }
        }
        Ok(conn)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Writes `bytes` (one or more encoded commands) in one write. A failed write may have
    /// delivered part of them: its outcome is unknown.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| Failure::Unknown(format!("writing to {}: {e}", self.addr)))
    }

    /// Reads the next reply (its raw bytes), skipping RESP3 out-of-band pushes.
    pub async fn read_reply(&mut self) -> Result<Bytes, Failure> {
        let limits = FrameLimits::default();
        loop {
            match check(&self.rbuf, &limits) {
                Ok(Check::Complete(len)) => {
                    let reply = self.rbuf.split_to(len).freeze();
                    if reply[0] == b'>' {
                        continue;
                    }
                    return Ok(reply);
                }
                Ok(Check::Incomplete { min_len }) => {
                    self.rbuf.reserve(min_len.saturating_sub(self.rbuf.len()).max(READ_CHUNK));
                }
                Err(e) => {
                    return Err(Failure::Unknown(format!("bad reply from {}: {e}", self.addr)))
                }
            }
            match self.stream.read_buf(&mut self.rbuf).await {
                Ok(0) => {
                    return Err(Failure::Unknown(format!("{} closed the connection", self.addr)))
                }
                Ok(_) => {}
                Err(e) => return Err(Failure::Unknown(format!("reading from {}: {e}", self.addr))),
            }
        }
    }

    /// Sends one command and reads its reply.
    pub async fn request(&mut self, cmd: &[u8]) -> Result<Bytes, Failure> {
        self.send(cmd).await?;
        self.read_reply().await
    }
}
