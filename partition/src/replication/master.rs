//! The master's side of one replica: after PSYNC the connection stops being a client and
//! carries the stream.
//!
//! - **Partial resync** (`+CONTINUE <replid>`): the replica's history is ours (its replid is
//!   ours, or our former master's up to where we took over) and the write log still holds
//!   everything after its offset.
//! - **Full resync** (`+FULLRESYNC <replid> <offset> <shared>`): a forked child snapshots the
//!   dataset at `offset`; the file is sent as `$<len>\r\n<bytes>`, then the stream from
//!   `offset`. The log keeps every write since the fork for this replica meanwhile. `shared`
//!   is rcluster's addition to Redis's reply: where the replica's history and ours part (when
//!   the replica is a former master that took writes we never got), so that it can report how
//!   much it discards; -1 when there is nothing to discard.
//!
//! While streaming, the replica's `REPLCONF ACK <offset>` lines update what it acknowledged,
//! which sync-mode writes and WAIT wait on. A replica that stops acknowledging for
//! `repl-timeout` seconds, or falls further behind than its output buffer limit
//! (`client-output-buffer-limit replica`), is disconnected; it reconnects and resyncs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::{ParseLimits, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{info, warn};

use super::ReplicaInfo;
use crate::client::BufferLimit;
use crate::server::Server;
use crate::write_log::ReaderId;

/// What a replica asked for with PSYNC: the history it has and the first byte it needs
/// (Redis counts offsets from 1 here: `offset` is one past what it holds).
#[derive(Debug, Clone)]
pub struct PsyncRequest {
    pub replid: String,
    pub offset: i64,
    /// The port the replica listens on (REPLCONF listening-port).
    pub listening_port: Option<u16>,
    /// The address it announced (REPLCONF ip-address).
    pub ip_address: Option<String>,
}

/// Makes sure writes are propagated and kept for partial resyncs (the backlog), as Redis
/// creates its backlog when the first replica attaches.
pub fn ensure_backlog(server: &Server) {
    if !server.replication.backlog_active() {
        ensure_backlog_locked(server, &mut server.lock());
    }
}

/// [`ensure_backlog`] for a caller that holds the command lock.
pub fn ensure_backlog_locked(server: &Server, state: &mut crate::state::State) {
    if server.replication.backlog_active() {
        return;
    }
    let size = server.config().get_i64("repl-backlog-size").unwrap_or(1 << 20).max(1) as u64;
    server.write_log.set_retain(size);
    state.set_propagation(true);
    server.replication.set_backlog_active();
}

/// Serves replica connection `socket` (whose client sent `request`) until it closes.
pub async fn serve(server: Arc<Server>, socket: TcpStream, client_id: u64, request: PsyncRequest) {
    let addr = match socket.peer_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    ensure_backlog(&server);
    let info = ReplicaInfo {
        addr,
        listening_port: request.listening_port.unwrap_or(addr.port()),
        announced_ip: request.ip_address.clone(),
        state: "wait_bgsave",
        acked: 0,
        last_ack: Instant::now(),
        ack_seen: false,
    };
    server.replication.add_replica(client_id, info);
    let result = sync_and_stream(&server, socket, client_id, &request).await;
    server.replication.remove_replica(client_id);
    match result {
        Ok(()) => info!(replica = %addr, "replica connection closed"),
        Err(e) => warn!(replica = %addr, cause = %e, "replica connection lost"),
    }
}

async fn sync_and_stream(
    server: &Arc<Server>,
    mut socket: TcpStream,
    id: u64,
    request: &PsyncRequest,
) -> std::io::Result<()> {
    let ids = server.replication.ids();
    let log = &server.write_log;
    let wanted = u64::try_from(request.offset - 1).ok();
    let our_history = request.replid == ids.replid
        || (request.replid == ids.replid2
            && wanted.zip(ids.second_offset).is_some_and(|(w, s)| w <= s));
    let partial = if our_history { wanted.and_then(|w| log.add_reader(w)) } else { None };
    let counter = match (&partial, request.replid.as_str()) {
        (Some(_), _) => &server.replication.sync_partial_ok,
        // `?`: the replica asked for a full resync; anything else was a partial one refused.
        (None, "?") => &server.replication.sync_full,
        (None, _) => {
            server.replication.sync_full.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            &server.replication.sync_partial_err
        }
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let reader = match partial {
        Some(reader) => {
            info!(replica = %socket.peer_addr()?, offset = wanted, "partial resync");
            socket.write_all(format!("+CONTINUE {}\r\n", ids.replid).as_bytes()).await?;
            server.replication.update_replica(id, |r| {
                r.state = "online";
                r.acked = wanted.unwrap_or(0);
            });
            reader
        }
        None => full_sync(server, &mut socket, id, request).await?,
    };
    let result = stream(server, socket, id, reader).await;
    log.remove_reader(reader);
    result
}

/// Sends a snapshot and returns the log reader positioned where it was taken.
async fn full_sync(
    server: &Arc<Server>,
    socket: &mut TcpStream,
    id: u64,
    request: &PsyncRequest,
) -> std::io::Result<ReaderId> {
    let dir = server.config().dir.clone();
    let tmp = dir.join(format!("temp-replica-{}-{id}.snap", std::process::id()));
    // One child at a time (a BGSAVE or rewrite may be running): wait for our turn.
    let (offset, reader, done) = loop {
        {
            let mut state = server.lock();
            if !server.persistence.child_running() {
                server.publish(&mut state);
                let offset = server.write_log.end();
                let reader = server.write_log.add_reader(offset).expect("the log's end is held");
                match server.persistence.fork_for_replica(server, &state, &tmp) {
                    Ok(done) => break (offset, reader, done),
                    Err(e) => {
                        server.write_log.remove_reader(reader);
                        return Err(e);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ids = server.replication.ids();
    let wanted = u64::try_from(request.offset - 1).ok();
    // A former master that got ahead of us: it discards what it has beyond our shared past.
    let shared = match (wanted, ids.second_offset) {
        (Some(w), Some(s)) if request.replid == ids.replid2 && w > s => s as i64,
        _ => -1,
    };
    info!(replica = %socket.peer_addr()?, offset, "full resync");
    let reply = format!("+FULLRESYNC {} {offset} {shared}\r\n", ids.replid);
    let result = async {
        socket.write_all(reply.as_bytes()).await?;
        // Newlines keep the replica's read timeout from firing while the child works, as
        // Redis does.
        let mut done = done;
        let ok = loop {
            tokio::select! {
                r = &mut done => break r.unwrap_or(false),
                _ = tokio::time::sleep(Duration::from_secs(1)) => socket.write_all(b"\n").await?,
            }
        };
        if !ok {
            return Err(std::io::Error::other("the snapshot for the replica failed"));
        }
        server.replication.update_replica(id, |r| r.state = "send_bulk");
        let mut file = tokio::fs::File::open(&tmp).await?;
        let len = file.metadata().await?.len();
        socket.write_all(format!("${len}\r\n").as_bytes()).await?;
        let copied = tokio::io::copy(&mut file, socket).await?;
        if copied != len {
            return Err(std::io::Error::other("the snapshot file changed while being sent"));
        }
        // Online, but what it acknowledged is only what it says (its first ACK comes once it
        // has loaded the snapshot): the bytes sent may still be in flight, or lost with this
        // machine, so they must not release a sync-mode write (as in Redis, `repl_ack_off`
        // only moves on REPLCONF ACK).
        server.replication.update_replica(id, |r| {
            r.state = "online";
            r.last_ack = Instant::now();
        });
        Ok(())
    }
    .await;
    let _ = tokio::fs::remove_file(&tmp).await;
    if let Err(e) = result {
        server.write_log.remove_reader(reader);
        return Err(e);
    }
    Ok(reader)
}

/// Streams the log to the replica and reads its acknowledgements, until either side fails.
/// The acknowledgements are read by a task of their own: under a steady stream of writes the
/// sender is never idle, and acknowledgements read only between sends would arrive late —
/// holding every sync-mode client for that long.
async fn stream(
    server: &Arc<Server>,
    socket: TcpStream,
    id: u64,
    reader: ReaderId,
) -> std::io::Result<()> {
    let (rd, mut wr) = socket.into_split();
    let log = &server.write_log;
    let mut appended = log.subscribe();
    let mut shutdown = server.shutdown_signal();
    let (timeout, limit) = {
        let c = server.config();
        let limits = c.get("client-output-buffer-limit").unwrap_or_default();
        (
            Duration::from_secs(c.get_i64("repl-timeout").unwrap_or(60).max(1) as u64),
            BufferLimit::parse(&limits, "slave"),
        )
    };
    let last_ack = Arc::new(std::sync::Mutex::new(Instant::now()));
    let mut acks = tokio::spawn(read_acks(server.clone(), rd, id, last_ack.clone()));
    let result = async {
        let mut check = tokio::time::interval(Duration::from_millis(100));
        // What the log holds is sent in writes of up to this many bytes, not one per chunk
        // (a chunk is one client batch's writes).
        const WRITE_MAX: usize = 256 * 1024;
        let mut out = BytesMut::new();
        loop {
            let (parts, until) = log.read(reader, u64::MAX);
            if !parts.is_empty() {
                for part in &parts {
                    if out.len() + part.len() > WRITE_MAX && !out.is_empty() {
                        wr.write_all(&out).await?;
                        out.clear();
                    }
                    if part.len() >= WRITE_MAX {
                        wr.write_all(part).await?;
                    } else {
                        out.extend_from_slice(part);
                    }
                }
                if !out.is_empty() {
                    wr.write_all(&out).await?;
                    out.clear();
                }
                log.consume(reader, until);
                continue;
            }
            tokio::select! {
                _ = appended.changed() => {}
                ended = &mut acks => {
                    return match ended {
                        Ok(result) => result,
                        Err(e) => Err(std::io::Error::other(e.to_string())),
                    };
                }
                _ = check.tick() => {
                    let quiet = last_ack.lock().unwrap_or_else(|e| e.into_inner()).elapsed();
                    if quiet > timeout {
                        return Err(std::io::Error::other("timeout: no REPLCONF ACK"));
                    }
                    let behind = log.end().saturating_sub(log.position(reader).unwrap_or(0));
                    if limit.hard > 0 && behind > limit.hard as u64 {
                        return Err(std::io::Error::other(format!(
                            "the replica is {behind} bytes behind, past its output buffer limit"
                        )));
                    }
                }
                _ = shutdown.wait_for(|s| *s) => return Ok(()),
            }
        }
    }
    .await;
    acks.abort();
    result
}

/// Reads the replica's `REPLCONF ACK <offset>` lines until it closes.
async fn read_acks(
    server: Arc<Server>,
    mut rd: tokio::net::tcp::OwnedReadHalf,
    id: u64,
    last_ack: Arc<std::sync::Mutex<Instant>>,
) -> std::io::Result<()> {
    let mut parser = RequestParser::new(ParseLimits::default());
    let mut input = BytesMut::with_capacity(1024);
    loop {
        if rd.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
        let mut newest = None;
        while let Some(args) =
            parser.parse(&mut input, true).map_err(|e| std::io::Error::other(e.to_string()))?
        {
            if let Some(offset) = ack_offset(&args) {
                newest = Some(newest.map_or(offset, |n: u64| n.max(offset)));
            }
        }
        if let Some(offset) = newest {
            let now = Instant::now();
            *last_ack.lock().unwrap_or_else(|e| e.into_inner()) = now;
            server.replication.update_replica(id, |r| {
                r.acked = r.acked.max(offset);
                r.last_ack = now;
                r.ack_seen = true;
            });
        }
    }
}

/// The offset of `REPLCONF ACK <offset>`.
fn ack_offset(args: &[bytes::Bytes]) -> Option<u64> {
    if args.len() >= 3 && crate::cmd::is(&args[0], "replconf") && crate::cmd::is(&args[1], "ack") {
        protocol::number::parse_i64(&args[2]).and_then(|o| u64::try_from(o).ok())
    } else {
        None
    }
}

/// Sends a PING down the stream every `repl-ping-replica-period` seconds while replicas are
/// attached, so they can tell a silent master from a dead one.
pub async fn ping_replicas(server: Arc<Server>) {
    let mut last = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let period = server.config().get_i64("repl-ping-replica-period").unwrap_or(10).max(1);
        if last.elapsed() < Duration::from_secs(period as u64) {
            continue;
        }
        last = Instant::now();
        if server.replication.is_replica() || server.replication.replicas().is_empty() {
            continue;
        }
        let mut state = server.lock();
        state.propagation.push(&["PING"]);
        server.publish(&mut state);
    }
}
