//! The replica's side: the link to the master, kept up by one task until REPLICAOF changes
//! it.
//!
//! 1. Handshake as Redis's replicas do: `PING`, `AUTH` (`masterauth`), `REPLCONF
//!    listening-port`, `REPLCONF ip-address` (when announcing one, see [`announced`]),
//!    `REPLCONF capa eof capa psync2`, then `PSYNC <replid> <offset+1>` with
//!    the history this server holds (`? -1` when it holds none).
//! 2. `+FULLRESYNC`: the snapshot is received into a file (bounded memory), the dataset is
//!    replaced by it, the write log restarts at the master's offset. A former master
//!    that took writes its successor never got counts them as discarded.
//!    `+CONTINUE`: the stream continues where this server's log ends.
//! 3. The stream is applied in batches of whole commands, by a client the server obeys, with
//!    expiry paused (the master sends a `DEL` when a key expires); the bytes applied are
//!    appended unchanged to this server's own write log, so its offset is the master's.
//!    `REPLCONF ACK <offset>` goes back after every applied batch and every 100 ms.
//! 4. A broken link (or `repl-timeout` of silence) is retried every second, with a partial
//!    resync when the master still has the history.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::{ParseLimits, ReplyWriter, RequestParser};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::{info, warn};

use super::{Ids, LinkState, Upstream};
use crate::client::Client;
use crate::cmd::{self, Ctx};
use crate::keyspace::ExpiryMode;
use crate::server::Server;

/// Becomes a replica of `host:port` and starts the link task. The caller holds the command
/// lock (`state`).
pub fn start(server: &Server, state: &mut crate::state::State, host: String, port: u16) {
    let (cancel, cancelled) = watch::channel(false);
    let upstream = Upstream {
        host: host.clone(),
        port,
        link: LinkState::Connecting,
        last_io: Instant::now(),
        cancel,
    };
    server.replication.set_replica_of(upstream);
    // A replica neither expires nor evicts on its own: it hides expired keys until its
    // master's DEL arrives.
    state.keyspace.expiry = ExpiryMode::Hide;
    tokio::spawn(link(server.arc(), host, port, cancelled));
}

/// Stops replicating: this server becomes a master and continues the same history. The
/// caller holds the command lock (`state`).
pub fn stop(server: &Server, state: &mut crate::state::State) -> bool {
    let offset = server.write_log.end();
    if !server.replication.set_master(offset) {
        return false;
    }
    state.keyspace.expiry = ExpiryMode::Delete;
    crate::replication::master::ensure_backlog_locked(server, state);
    true
}

/// Keeps the link up until cancelled.
async fn link(server: Arc<Server>, host: String, port: u16, mut cancelled: watch::Receiver<bool>) {
    let mut shutdown = server.shutdown_signal();
    loop {
        server.replication.set_link(LinkState::Connecting);
        let result = tokio::select! {
            r = sync_and_apply(&server, &host, port) => r,
            _ = cancelled.wait_for(|c| *c) => return,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        if let Err(e) = result {
            warn!(master = %format!("{host}:{port}"), cause = %e, "replication link down");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = cancelled.wait_for(|c| *c) => return,
        }
    }
}

type Lines = BufReader<TcpStream>;

/// Sends one command and reads its one-line reply.
async fn command(conn: &mut Lines, args: &[&str]) -> std::io::Result<String> {
    let mut out = BytesMut::new();
    crate::propagate::encode(&mut out, args);
    conn.get_mut().write_all(&out).await?;
    read_line(conn).await
}

async fn read_line(conn: &mut Lines) -> std::io::Result<String> {
    let mut line = String::new();
    if conn.read_line(&mut line).await? == 0 {
        return Err(std::io::Error::other("the master closed the connection"));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn refused(what: &str, reply: &str) -> std::io::Error {
    std::io::Error::other(format!("{what}: master replied '{reply}'"))
}

/// The address and port this replica names itself by to its master (REPLCONF ip-address and
/// listening-port): `replica-announce-ip` / `replica-announce-port` as in Redis; under a
/// control plane (`config-endpoints`) otherwise its `announce-addr`, the identity the config
/// service knows it by, so that the in-sync set names it the same way on both sides.
fn announced(c: &crate::config::Config, bound_port: u16) -> (Option<String>, u16) {
    let ip = c.get("replica-announce-ip").filter(|ip| !ip.is_empty());
    let port = c.get_i64("replica-announce-port").filter(|&p| p > 0).map(|p| p as u16);
    if c.config_endpoints().is_empty() {
        return (ip, port.unwrap_or(bound_port));
    }
    let addr = c.announce_addr(bound_port);
    let (host, announce_port) =
        crate::heartbeat::split_host_port(&addr).unwrap_or(("127.0.0.1", bound_port));
    (ip.or(Some(host.to_string())), port.unwrap_or(announce_port))
}

/// One life of the link: connect, handshake, sync, apply until it breaks.
async fn sync_and_apply(server: &Arc<Server>, host: &str, port: u16) -> std::io::Result<()> {
    let (timeout, auth, user, (announce_ip, announce_port)) = {
        let c = server.config();
        (
            Duration::from_secs(c.get_i64("repl-timeout").unwrap_or(60).max(1) as u64),
            c.get("masterauth").unwrap_or_default(),
            c.get("masteruser").unwrap_or_default(),
            announced(&c, server.port),
        )
    };
    let socket = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect((host, port)))
        .await
        .map_err(|_| std::io::Error::other("timed out connecting to the master"))??;
    let _ = socket.set_nodelay(true);
    let mut conn = BufReader::new(socket);
    let pong = command(&mut conn, &["PING"]).await?;
    if !pong.starts_with('+') && !pong.starts_with("-NOAUTH") {
        return Err(refused("PING", &pong));
    }
    if !auth.is_empty() {
        let args: Vec<&str> =
            if user.is_empty() { vec!["AUTH", &auth] } else { vec!["AUTH", &user, &auth] };
        let ok = command(&mut conn, &args).await?;
        if ok != "+OK" {
            return Err(refused("AUTH", &ok));
        }
    }
    let port_text = announce_port.to_string();
    let ok = command(&mut conn, &["REPLCONF", "listening-port", &port_text]).await?;
    if ok != "+OK" {
        return Err(refused("REPLCONF listening-port", &ok));
    }
    if let Some(ip) = &announce_ip {
        let ok = command(&mut conn, &["REPLCONF", "ip-address", ip]).await?;
        if ok != "+OK" {
            return Err(refused("REPLCONF ip-address", &ok));
        }
    }
    let ok = command(&mut conn, &["REPLCONF", "capa", "eof", "capa", "psync2"]).await?;
    if ok != "+OK" {
        return Err(refused("REPLCONF capa", &ok));
    }
    let ids = server.replication.ids();
    let ours = server.write_log.end();
    // With no history at all, ask for a full resync as Redis's replicas do (`? -1`).
    let (replid, offset_text) = if ours == 0 {
        ("?".to_string(), "-1".to_string())
    } else {
        (ids.replid.clone(), (ours + 1).to_string())
    };
    let reply = command(&mut conn, &["PSYNC", &replid, &offset_text]).await?;
    let words: Vec<&str> = reply.split_ascii_whitespace().collect();
    match words.as_slice() {
        ["+FULLRESYNC", replid, offset, rest @ ..] => {
            let offset: u64 = offset.parse().map_err(|_| refused("PSYNC", &reply))?;
            let shared: i64 = rest.first().and_then(|s| s.parse().ok()).unwrap_or(-1);
            server.replication.set_link(LinkState::Sync);
            let path = receive_snapshot(server, &mut conn, timeout).await?;
            let loaded = install_snapshot(server, &path, replid, offset, shared, ours, &ids);
            let _ = std::fs::remove_file(&path);
            loaded?;
        }
        ["+CONTINUE", rest @ ..] => {
            if let Some(new_id) = rest.first().filter(|id| **id != ids.replid) {
                // The master was promoted since: its old history is ours.
                server.replication.set_ids(Ids {
                    replid: new_id.to_string(),
                    replid2: ids.replid.clone(),
                    second_offset: Some(ours),
                });
            }
            info!(offset = ours, "partial resync with the master");
        }
        _ => return Err(refused("PSYNC", &reply)),
    }
    server.replication.set_link(LinkState::Connected);
    apply_stream(server, conn, timeout).await
}

/// Receives `$<len>\r\n<bytes>` into a file in `dir`, skipping the newlines the master
/// sends while its child works.
async fn receive_snapshot(
    server: &Server,
    conn: &mut Lines,
    timeout: Duration,
) -> std::io::Result<std::path::PathBuf> {
    let header = loop {
        let line = tokio::time::timeout(timeout, read_line(conn))
            .await
            .map_err(|_| std::io::Error::other("timeout waiting for the snapshot"))??;
        server.replication.touch_link();
        if !line.is_empty() {
            break line;
        }
    };
    let len: u64 = header
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| refused("the snapshot header", &header))?;
    let path = server.config().dir.join(format!("temp-sync-{}.snap", std::process::id()));
    let mut file = tokio::fs::File::create(&path).await?;
    let mut left = len;
    let mut buf = vec![0u8; 1 << 16];
    while left > 0 {
        let want = (left as usize).min(buf.len());
        let n = tokio::time::timeout(timeout, conn.read(&mut buf[..want]))
            .await
            .map_err(|_| std::io::Error::other("timeout receiving the snapshot"))??;
        if n == 0 {
            return Err(std::io::Error::other("the master closed during the snapshot"));
        }
        file.write_all(&buf[..n]).await?;
        left -= n as u64;
        server.replication.touch_link();
    }
    file.sync_all().await?;
    Ok(path)
}

/// Replaces the dataset by the snapshot at `path`, taken by master `replid` at `offset`.
fn install_snapshot(
    server: &Server,
    path: &std::path::Path,
    replid: &str,
    offset: u64,
    shared: i64,
    our_offset: u64,
    our_ids: &Ids,
) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let mut state = server.lock();
    // Writes this server took as a master that its successor never had are gone now.
    if shared >= 0 && our_offset > shared as u64 && our_ids.replid != replid {
        let discarded = our_offset - shared as u64;
        warn!(bytes = discarded, "discarding writes no in-sync replica acknowledged");
        server.replication.add_discarded(discarded);
    }
    state.signal_flush();
    state.keyspace.clear();
    let encodings = state.encodings;
    state.keyspace.expiry = ExpiryMode::Paused;
    let loaded = crate::persist::snapshot::load(
        &mut r,
        &mut state.keyspace,
        &encodings,
        crate::time::unix_ms(),
        false,
    );
    state.keyspace.expiry = ExpiryMode::Hide;
    if let Err(e) = loaded {
        state.keyspace.clear();
        return Err(std::io::Error::other(format!("loading the master's snapshot: {e}")));
    }
    state.invalidate_memory_estimate();
    server.write_log.reset(offset);
    server.replication.set_ids(Ids {
        replid: replid.to_string(),
        replid2: super::NO_ID.into(),
        second_offset: None,
    });
    server
        .persistence
        .rebase(server, &state)
        .map_err(|e| std::io::Error::other(format!("rebuilding the AOF: {e}")))?;
    info!(keys = state.keyspace.len(), offset, "full resync: loaded the master's snapshot");
    Ok(())
}

/// Applies the master's stream until the link breaks.
async fn apply_stream(server: &Arc<Server>, conn: Lines, timeout: Duration) -> std::io::Result<()> {
    // What the BufReader already holds belongs to the stream.
    let mut buf = BytesMut::from(conn.buffer());
    let mut socket = conn.into_inner();
    let mut parser =
        RequestParser::new(ParseLimits { max_bulk_len: usize::MAX / 2, ..ParseLimits::default() });
    let mut client = Client::internal();
    let mut out = ReplyWriter::default();
    let mut ack_tick = tokio::time::interval(Duration::from_millis(100));
    let mut last_io = Instant::now();
    let mut acked = u64::MAX;
    // Stream bytes received, and how many of them ended a complete command.
    let mut fed = buf.len() as u64;
    let mut completed = 0u64;
    loop {
        let mut batch: Vec<Vec<Bytes>> = Vec::new();
        let batch_start = completed;
        while let Some(args) = parser
            .parse(&mut buf, true)
            .map_err(|e| std::io::Error::other(format!("bad stream: {e}")))?
        {
            completed = fed - buf.len() as u64;
            if !args.is_empty() {
                batch.push(args);
            }
        }
        if !batch.is_empty() {
            // The stream is re-encoded for this server's own log; offsets must stay the
            // master's, so the encoding must be the one the master used.
            let mut raw = BytesMut::new();
            for args in &batch {
                crate::propagate::encode(&mut raw, args);
            }
            if raw.len() as u64 != completed - batch_start {
                return Err(std::io::Error::other("the stream is not in canonical RESP form"));
            }
            apply(server, &mut client, &mut out, &batch, raw.freeze());
        }
        let offset = server.write_log.end();
        if offset != acked {
            send_ack(&mut socket, offset).await?;
            acked = offset;
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        tokio::select! {
            n = socket.read_buf(&mut buf) => {
                let n = n?;
                if n == 0 {
                    return Err(std::io::Error::other("the master closed the connection"));
                }
                fed += n as u64;
                last_io = Instant::now();
                server.replication.touch_link();
            }
            _ = ack_tick.tick() => {
                if last_io.elapsed() > timeout {
                    return Err(std::io::Error::other("timeout: the master went silent"));
                }
                send_ack(&mut socket, server.write_log.end()).await?;
            }
        }
    }
}

/// Runs a batch of the master's commands under one acquisition of the command lock and
/// appends their bytes to this server's log.
fn apply(
    server: &Server,
    client: &mut Client,
    out: &mut ReplyWriter,
    batch: &[Vec<Bytes>],
    raw: Bytes,
) {
    let mut state = server.lock();
    state.keyspace.expiry = ExpiryMode::Paused;
    // The master's stream is this server's stream: appended as received, not re-propagated.
    let propagating = std::mem::replace(&mut state.propagation.enabled, false);
    let now_ms = crate::time::unix_ms();
    let mut started = Instant::now();
    for args in batch {
        if cmd::is(&args[0], "replconf") {
            // REPLCONF GETACK: answered by the ACK sent after this batch.
            continue;
        }
        let mut ctx = Ctx { server, state: &mut state, client, out, now_ms };
        started = cmd::dispatch(&mut ctx, args, started).finished;
        out.clear();
    }
    state.propagation.enabled = propagating;
    state.keyspace.expiry = ExpiryMode::Hide;
    server.write_log.append(raw);
}

async fn send_ack(socket: &mut TcpStream, offset: u64) -> std::io::Result<()> {
    let mut out = BytesMut::new();
    crate::propagate::encode(&mut out, &["REPLCONF", "ACK", &offset.to_string()]);
    socket.write_all(&out).await
}
