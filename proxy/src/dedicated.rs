//! A backend connection owned by one client for a while: a transaction (WATCH … EXEC) or one
//! blocking command. Unlike the shared pipelined connections of [`crate::backend`], what runs on
//! it may change the connection's state (MULTI, WATCH) or hold it for a long time (BLPOP), so it
//! must never carry another client's commands. It is closed when dropped: the backend then
//! forgets its watched keys, its open MULTI and its blocked pop, which is what releasing it
//! means when the client goes away.
//!
//! A connection whose transaction ended with EXEC is back in its initial state (EXEC ends the
//! MULTI and forgets the watched keys), so [`Idle`] keeps a few per backend for the next
//! transaction instead of a connect per EXEC. A kept connection may have been closed by the
//! backend meanwhile; transactions only take them where a failure is known not to have run
//! anything (at WATCH or at MULTI), and then go again on a new connection.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::frame::{check, Check, FrameLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backend::Failure;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const READ_CHUNK: usize = 16 * 1024;
/// Idle connections kept per backend and protocol version.
const MAX_IDLE: usize = 16;

/// One client's own connection to one backend.
#[derive(Debug)]
pub struct Dedicated {
    addr: String,
    resp3: bool,
    stream: TcpStream,
    rbuf: BytesMut,
    /// Taken from [`Idle`]: it may have been closed by the backend since.
    reused: bool,
}

/// Dedicated connections in their initial state, kept for reuse, by backend and protocol.
#[derive(Debug, Default)]
pub struct Idle {
    conns: Mutex<HashMap<(String, bool), Vec<Dedicated>>>,
    /// `--backend-password`, for the new connections.
    password: Option<String>,
}

impl Idle {
    /// Keeps connections that authenticate with `password` (if any) when they are new.
    pub fn new(password: Option<String>) -> Idle {
        Idle { conns: Mutex::default(), password }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, bool), Vec<Dedicated>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A kept connection to `addr` that still looks open, else a new one.
    pub async fn take(&self, addr: &str, resp3: bool) -> Result<Dedicated, Failure> {
        let key = (addr.to_string(), resp3);
        loop {
            let kept = self.map().get_mut(&key).and_then(Vec::pop);
            match kept {
                Some(conn) if conn.looks_open() => return Ok(Dedicated { reused: true, ..conn }),
                Some(_) => continue,
                None => return Dedicated::connect(addr, resp3, self.password.as_deref()).await,
            }
        }
    }

    /// Keeps `conn` for reuse. Only give back a connection in its initial state: nothing
    /// unread, no MULTI open, no key watched, no command blocked.
    pub fn give_back(&self, conn: Dedicated) {
        if !conn.rbuf.is_empty() {
            return;
        }
        let mut map = self.map();
        let kept = map.entry((conn.addr.clone(), conn.resp3)).or_default();
        if kept.len() < MAX_IDLE {
            kept.push(conn);
        }
    }
}

impl Dedicated {
    /// Connects to `addr`, authenticates with `password` (`--backend-password`) if given, and
    /// switches to RESP3 if `resp3` (the client's protocol, so replies relay as they are).
    pub async fn connect(
        addr: &str,
        resp3: bool,
        password: Option<&str>,
    ) -> Result<Dedicated, Failure> {
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Failure::NotSent(format!("cannot connect to {addr}: {e}"))),
            Err(_) => return Err(Failure::NotSent(format!("connecting to {addr} timed out"))),
        };
        let _ = stream.set_nodelay(true);
        let mut conn = Dedicated {
            addr: addr.to_string(),
            resp3,
            stream,
            rbuf: BytesMut::new(),
            reused: false,
        };
        if let Some(password) = password {
            // Nothing of the client's was sent yet: a failure here is still "not sent".
            match conn.request(&crate::backend::auth_command(password)).await {
                Ok(reply) if reply.first() == Some(&b'+') => {}
                Ok(reply) => {
                    return Err(Failure::NotSent(crate::backend::auth_refused(addr, &reply)))
                }
                Err(Failure::Unknown(why) | Failure::NotSent(why)) => {
                    return Err(Failure::NotSent(why))
                }
            }
        }
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

    /// It came from [`Idle`]: a failure on its first use may only mean the backend had closed
    /// it while it was kept.
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// Nothing to read and not closed by the peer, as far as a non-blocking read can tell.
    fn looks_open(&self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
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
