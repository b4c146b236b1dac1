//! One client connection: read, parse every complete command, run the batch under one
//! acquisition of the command lock, write all replies with one write.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::{ParseLimits, ReplyWriter, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::debug;

use crate::client::Client;
use crate::cmd::{self, Ctx};
use crate::server::Server;

/// Read-buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// Serves one client until it quits, is killed, breaks the protocol, or the server stops.
pub async fn handle(server: Arc<Server>, mut socket: TcpStream, addr: SocketAddr) {
    let local = socket.local_addr().unwrap_or(addr);
    let (maxclients, needs_auth, limits, timeout) = {
        let c = server.config();
        let limits = ParseLimits { max_bulk_len: c.proto_max_bulk_len, ..ParseLimits::default() };
        (c.maxclients, !c.requirepass.is_empty(), limits, c.timeout)
    };
    let Some(handle) = server.clients.register(addr, local, maxclients) else {
        server.net.rejected_connections.fetch_add(1, Ordering::Relaxed);
        let _ = socket.write_all(b"-ERR max number of clients reached\r\n").await;
        return;
    };
    debug!(peer = %addr, id = handle.id, "client connected");
    let mut client = Client::new(handle.clone(), !needs_auth);
    let mut conn = Connection {
        server: &server,
        parser: RequestParser::new(limits),
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        out: ReplyWriter::new(false),
        batch: Vec::new(),
        batch_was_cut: false,
    };
    let result = conn.serve(&mut socket, &mut client, timeout).await;
    if let Err(e) = result {
        debug!(peer = %addr, cause = %e, "client connection error");
    }
    server.clients.unregister(handle.id);
    debug!(peer = %addr, id = handle.id, "client disconnected");
}

struct Connection<'a> {
    server: &'a Arc<Server>,
    parser: RequestParser,
    rbuf: BytesMut,
    out: ReplyWriter,
    batch: Vec<Vec<Bytes>>,
    /// The last parse stopped with complete commands possibly left in the buffer.
    batch_was_cut: bool,
}

/// Most commands run under one acquisition of the command lock: bounds how long one pipelining
/// client holds it and how large one write gets.
const MAX_BATCH: usize = 1024;

impl Connection<'_> {
    /// Moves complete commands from the read buffer into `batch`; returns the protocol error
    /// that ended parsing, if any (the commands before it still run).
    fn parse_batch(&mut self, client: &Client) -> Option<protocol::Error> {
        self.batch_was_cut = false;
        loop {
            match self.parser.parse(&mut self.rbuf, client.authenticated) {
                Ok(Some(args)) if args.is_empty() => continue,
                Ok(Some(args)) => {
                    // AUTH and HELLO change how the following commands are parsed (the
                    // unauthenticated limits): run the batch before parsing further.
                    let changes_auth = cmd::is(&args[0], "auth") || cmd::is(&args[0], "hello");
                    self.batch.push(args);
                    if changes_auth || self.batch.len() >= MAX_BATCH {
                        self.batch_was_cut = !self.rbuf.is_empty();
                        return None;
                    }
                }
                Ok(None) => return None,
                Err(e) => return Some(e),
            }
        }
    }

    /// Runs the parsed commands under one acquisition of the command lock.
    fn run_batch(&mut self, client: &mut Client) {
        let mut last_cmd = None;
        {
            let mut state = self.server.lock();
            for args in self.batch.drain(..) {
                let mut ctx = Ctx {
                    server: self.server,
                    state: &mut state,
                    client: &mut *client,
                    out: &mut self.out,
                    now_ms: crate::time::unix_ms(),
                };
                cmd::dispatch(&mut ctx, &args);
                last_cmd = Some(args[0].clone());
                if client.close_after_reply {
                    break;
                }
            }
        }
        self.batch.clear();
        client.handle.touch();
        if let Some(name) = last_cmd {
            if let Ok(mut info) = client.handle.info.lock() {
                info.last_cmd.clear();
                info.last_cmd.push_str(&String::from_utf8_lossy(&name).to_ascii_lowercase());
            }
        }
    }

    async fn serve(
        &mut self,
        socket: &mut TcpStream,
        client: &mut Client,
        timeout: u64,
    ) -> std::io::Result<()> {
        let mut shutdown = self.server.shutdown_signal();
        loop {
            // Parse and run everything already received, then flush the replies.
            loop {
                let protocol_error = self.parse_batch(client);
                if !self.batch.is_empty() {
                    self.run_batch(client);
                }
                if let Some(err) = protocol_error {
                    self.out.error(&format!("ERR {err}"));
                    client.close_after_reply = true;
                }
                if !self.out.is_empty() {
                    socket.write_all(self.out.buffer()).await?;
                    self.server
                        .net
                        .net_output_bytes
                        .fetch_add(self.out.len() as u64, Ordering::Relaxed);
                    self.out.clear();
                }
                if client.close_after_reply {
                    return Ok(());
                }
                // A batch stops early after AUTH/HELLO; go on if complete commands remain.
                if !self.batch_was_cut {
                    break;
                }
            }
            if let Some(need) = self.parser.needed(&self.rbuf) {
                self.rbuf.reserve(need.saturating_sub(self.rbuf.len()));
            } else if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 2 {
                self.rbuf.reserve(READ_CHUNK);
            }
            let idle = async {
                if timeout == 0 {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep(Duration::from_secs(timeout)).await
                }
            };
            tokio::select! {
                read = socket.read_buf(&mut self.rbuf) => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    self.server.net.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                _ = client.handle.killed() => return Ok(()),
                _ = shutdown.wait_for(|s| *s) => return Ok(()),
                _ = idle => return Ok(()),
            }
        }
    }
}
