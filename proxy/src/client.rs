//! One client connection: read, parse every complete command, send each where it goes, then
//! collect the replies in command order and write them with one write.
//!
//! All commands of a batch are sent before the first reply is awaited, so a pipeline spread
//! over shards runs on all of them at once; the replies still go back in the order of the
//! commands. The exceptions are the commands that run on a connection of their own (EXEC,
//! WATCH, blocking commands): they first wait for the replies of everything before them, so
//! they see its effects; a blocking command also writes those replies out before it waits, and
//! watches the client's socket meanwhile. Inside MULTI, commands are queued by
//! [`crate::transaction`] and answered at once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::{ParseLimits, ReplyWriter, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::aggregate;
use crate::clients::ClientHandle;
use crate::command::{self, Plan, Session};
use crate::fanout;
use crate::forward::{self, Attempt, Req};
use crate::metrics::CommandId;
use crate::output_limit::Meter;
use crate::server::Shared;
use crate::split::{self, Split};
use crate::transaction::{self, Transaction};

/// Read-buffer growth step.
const READ_CHUNK: usize = 16 * 1024;
/// Buffers larger than this are released when empty.
const KEEP_BUFFER: usize = 4 * READ_CHUNK;
/// The most commands sent before their replies are collected.
const MAX_BATCH: usize = 1024;
/// While a blocking command waits, the client's further commands are read (to notice it going
/// away) up to this much, then no more until the command returns.
const MAX_READ_WHILE_BLOCKED: usize = 1024 * 1024;

/// A command sent (or answered) whose reply has not been written yet.
enum Pending {
    Done(Bytes),
    Wait(Req, Attempt),
    /// The split, each part's attempt, read-only, the command's arguments.
    Split(Split, Vec<Attempt>, bool, Vec<Bytes>),
    /// A fan-out: how it merges, each shard's attempt, the command's arguments.
    Fanout(fanout::Kind, Vec<(usize, Attempt)>, Vec<Bytes>),
    /// A read-only aggregate across slots: its fetches.
    Aggregate(aggregate::Gather),
}

/// A pending reply with what its metrics need: the command and when it was read.
struct Entry {
    pending: Pending,
    command: CommandId,
    start: Instant,
}

struct Conn<'a> {
    shared: &'a Shared,
    session: Session,
    parser: RequestParser,
    rbuf: BytesMut,
    /// Replies of the batch, written at once.
    out: BytesMut,
    /// Where local replies and merges are encoded (knows the protocol version).
    scratch: ReplyWriter,
    /// Where commands are encoded for backends.
    enc: BytesMut,
    pending: Vec<Entry>,
    /// `--client-output-buffer-limit-normal` against the replies held in `out`.
    meter: Meter,
    /// The limit was passed: the connection closes.
    cut: bool,
}

/// Serves one client until it quits, breaks the protocol or the proxy stops.
pub async fn handle(shared: &Shared, mut socket: TcpStream, peer: SocketAddr) {
    let id = shared.next_client_id();
    debug!(peer = %peer, id, "client connected");
    let laddr = socket.local_addr().unwrap_or(peer);
    #[cfg(unix)]
    let fd = i64::from(std::os::fd::AsRawFd::as_raw_fd(&socket));
    #[cfg(not(unix))]
    let fd = -1;
    let handle = Arc::new(ClientHandle::new(id, peer, laddr, fd));
    let _registered = shared.registry.register(handle.clone());
    let mut conn = Conn {
        shared,
        session: Session {
            id,
            authenticated: shared.config.requirepass.is_empty(),
            resp3: false,
            name: None,
            quit: false,
            tx: Transaction::default(),
            pubsub: crate::pubsub::Subscriptions::new(shared.pubsub.clone(), handle.clone()),
            handle,
        },
        parser: RequestParser::new(ParseLimits::default()),
        rbuf: BytesMut::new(),
        out: BytesMut::new(),
        scratch: ReplyWriter::new(false),
        enc: BytesMut::new(),
        pending: Vec::new(),
        meter: Meter::new(shared.config.client_output_buffer_limit_normal),
        cut: false,
    };
    if let Err(e) = conn.serve(&mut socket).await {
        debug!(peer = %peer, id, cause = %e, "client connection error");
    }
    debug!(peer = %peer, id, "client disconnected");
}

impl Conn<'_> {
    async fn serve(&mut self, socket: &mut TcpStream) -> std::io::Result<()> {
        let mut shutdown = self.shared.shutdown_signal();
        let mut killed = self.session.handle.killed();
        let idle = Duration::from_secs(self.shared.config.timeout);
        let mut more = false;
        loop {
            if !more {
                if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 2 {
                    self.rbuf.reserve(READ_CHUNK);
                }
                if let Some(need) = self.parser.needed(&self.rbuf) {
                    self.rbuf.reserve(need.saturating_sub(self.rbuf.len()));
                }
                // Subscribers are not subject to the idle timeout, as in Redis.
                let subscribed = self.session.pubsub.active();
                let idle_timer = async {
                    if idle.is_zero() || subscribed {
                        std::future::pending::<()>().await
                    }
                    tokio::time::sleep(idle).await
                };
                let sink = self.session.pubsub.sink();
                let messages = async {
                    match &sink {
                        Some(sink) => sink.notified().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    n = socket.read_buf(&mut self.rbuf) => {
                        if n? == 0 {
                            return Ok(());
                        }
                    }
                    // Messages for a subscriber: written below, after any replies.
                    _ = messages => {}
                    _ = idle_timer => return Ok(()),
                    _ = shutdown.wait_for(|s| *s) => return Ok(()),
                    _ = killed.wait_for(|k| *k) => return Ok(()),
                }
            }
            let mut protocol_error = None;
            // Every command of this batch was read now: one clock read per batch for the
            // latency metrics' start, not one per command.
            let read_at = Instant::now();
            more = false;
            loop {
                match self.parser.parse(&mut self.rbuf, self.session.authenticated) {
                    Ok(Some(args)) if args.is_empty() => continue,
                    Ok(Some(args)) => {
                        if !self.dispatch(args, read_at, socket).await? {
                            // The client went away while a blocking command waited.
                            return Ok(());
                        }
                        if self.session.quit {
                            break;
                        }
                        if self.pending.len() >= MAX_BATCH {
                            more = !self.rbuf.is_empty();
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        protocol_error = Some(e);
                        break;
                    }
                }
            }
            self.collect().await;
            if self.cut {
                return Ok(());
            }
            if let Some(e) = &protocol_error {
                self.scratch.error(&format!("ERR {e}"));
                self.out.extend_from_slice(self.scratch.buffer());
                self.scratch.clear();
            }
            self.session.pubsub.set_resp3(self.session.resp3);
            let messages = self.session.pubsub.take_into(&mut self.out);
            if !self.out.is_empty() && !self.write_out(socket).await? {
                return Ok(());
            }
            self.session.pubsub.written(messages);
            if self.session.quit || protocol_error.is_some() {
                return Ok(());
            }
            if self.out.capacity() > KEEP_BUFFER {
                self.out = BytesMut::new();
            }
            if self.rbuf.is_empty() && self.rbuf.capacity() > KEEP_BUFFER {
                self.rbuf = BytesMut::new();
            }
        }
    }

    /// Plans one command read at `start` and sends it (or records its local reply). `false`
    /// when the client went away meanwhile (only a blocking command waits here for its reply).
    async fn dispatch(
        &mut self,
        args: Vec<Bytes>,
        start: Instant,
        socket: &mut TcpStream,
    ) -> std::io::Result<bool> {
        if self.session.tx.in_multi() && !transaction::runs_inside_multi(&args[0]) {
            let command =
                protocol::command::lookup(&args[0]).map_or(CommandId::OTHER, CommandId::of);
            transaction::queue(self.shared, &mut self.session, &args, &mut self.scratch);
            let pending = Pending::Done(self.scratch.buffer_mut().split().freeze());
            self.pending.push(Entry { pending, command, start });
            self.session.handle.session(self.session.resp3, self.session.tx.queued());
            return Ok(true);
        }
        let (plan, command) =
            command::plan(self.shared, &mut self.session, &args, &mut self.scratch);
        let req = |cmd: Bytes, slot: Option<u16>, readonly: bool, session: &Session| Req {
            cmd,
            slot,
            readonly,
            resp3: session.resp3,
            client: session.id,
        };
        let pending = match plan {
            Plan::Local => Pending::Done(self.scratch.buffer_mut().split().freeze()),
            Plan::Slot { slot, readonly } => {
                let cmd = split::encode_command(&mut self.enc, &args);
                let r = req(cmd, Some(slot), readonly, &self.session);
                let attempt = forward::send(self.shared, &r).await;
                Pending::Wait(r, attempt)
            }
            Plan::Any { readonly } => {
                let cmd = split::encode_command(&mut self.enc, &args);
                let r = req(cmd, None, readonly, &self.session);
                let attempt = forward::send(self.shared, &r).await;
                Pending::Wait(r, attempt)
            }
            Plan::Split(kind) => {
                let readonly = kind == split::Kind::Mget;
                let s = {
                    let routes = self.shared.router.routes();
                    split::split(kind, &args, &routes, &mut self.enc)
                };
                let mut attempts = Vec::with_capacity(s.parts.len());
                for part in &s.parts {
                    let r = req(part.cmd.clone(), Some(part.slot), readonly, &self.session);
                    attempts.push(forward::send(self.shared, &r).await);
                }
                Pending::Split(s, attempts, readonly, args)
            }
            Plan::Fanout(kind) => {
                let requests: Vec<_> = {
                    let routes = self.shared.router.routes();
                    if routes.table.shards.is_empty() {
                        Vec::new()
                    } else {
                        fanout::requests(kind, &args, &routes, &mut self.enc)
                            .into_iter()
                            .map(|(shard, cmd)| (shard, routes.shard_pool(shard).clone(), cmd))
                            .collect()
                    }
                };
                if requests.is_empty() && !matches!(kind, fanout::Kind::Scan { .. }) {
                    Pending::Done(forward::error("CLUSTERDOWN the proxy has no routing table yet"))
                } else {
                    let mut attempts = Vec::with_capacity(requests.len());
                    for (shard, pool, cmd) in requests {
                        attempts.push((
                            shard,
                            Ok(pool.send(self.session.resp3, self.session.id, cmd).await),
                        ));
                    }
                    Pending::Fanout(kind, attempts, args)
                }
            }
            Plan::Aggregate(kind) => {
                let (resp3, id) = (self.session.resp3, self.session.id);
                match aggregate::start(self.shared, kind, &args, resp3, id, &mut self.enc).await {
                    Ok(gather) => Pending::Aggregate(gather),
                    Err(text) => Pending::Done(forward::error(&text)),
                }
            }
            // Transactions and blocking commands run on connections of their own: what was
            // sent before them must have been answered first, so that they see its effects.
            Plan::Exec => {
                self.collect().await;
                Pending::Done(transaction::exec(self.shared, &mut self.session).await)
            }
            Plan::Watch { slot } => {
                self.collect().await;
                Pending::Done(transaction::watch(self.shared, &mut self.session, slot, &args).await)
            }
            Plan::PubSub => {
                Pending::Done(crate::pubsub::run(self.shared, &mut self.session, &args).await)
            }
            Plan::Blocking { slot } => {
                self.collect().await;
                // The replies so far go out now: the client may wait long for the next one.
                if !self.out.is_empty() {
                    socket.write_all(&self.out).await?;
                    self.out.clear();
                }
                let cmd = split::encode_command(&mut self.enc, &args);
                let name = command.name();
                let run = crate::blocking::run(self.shared, self.session.resp3, slot, name, &cmd);
                let mut stop = Stop {
                    shutdown: self.shared.shutdown_signal(),
                    killed: self.session.handle.killed(),
                };
                self.session.handle.set_blocked(true);
                let reply = while_connected(socket, &mut self.rbuf, &mut stop, run).await;
                self.session.handle.set_blocked(false);
                match reply {
                    Some(reply) => Pending::Done(reply),
                    None => return Ok(false),
                }
            }
        };
        self.pending.push(Entry { pending, command, start });
        self.session.handle.session(self.session.resp3, self.session.tx.queued());
        Ok(true)
    }

    /// Whether the replies held in `out` are within the normal clients' output-buffer limit;
    /// past it the client is to be disconnected (counted, logged). A subscribed client is of
    /// Redis's `pubsub` class instead, whose limit its message queue applies.
    fn within_limit(&mut self, queued: usize) -> bool {
        if self.cut {
            return false;
        }
        if self.meter.limit().is_none()
            || self.session.pubsub.active()
            || self.meter.check(queued, tokio::time::Instant::now).is_ok()
        {
            return true;
        }
        self.cut = true;
        self.shared.output_cuts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        warn!(
            id = self.session.id,
            peer = %self.session.handle.addr,
            "client disconnected: it passed its output buffer limit"
        );
        false
    }

    /// Writes `out`, watching the client's kill signal (a subscriber past its limit is killed
    /// by whoever queues for it) and the normal clients' soft limit. `false`: close the
    /// connection.
    async fn write_out(&mut self, socket: &mut TcpStream) -> std::io::Result<bool> {
        let mut killed = self.session.handle.killed();
        if self.meter.limit().is_none() {
            // The common case: one write, only watched for the kill signal.
            tokio::select! {
                r = socket.write_all(&self.out) => r?,
                _ = killed.wait_for(|k| *k) => return Ok(false),
            }
            self.out.clear();
            return Ok(true);
        }
        let mut pos = 0;
        while pos < self.out.len() {
            let soft = self.meter.soft_deadline();
            let wake = soft.map_or_else(
                || tokio::time::Instant::now() + Duration::from_secs(3600),
                |d| d + Duration::from_millis(1),
            );
            tokio::select! {
                n = socket.write(&self.out[pos..]) => {
                    let n = n?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    pos += n;
                }
                _ = killed.wait_for(|k| *k) => return Ok(false),
                _ = tokio::time::sleep_until(wake), if soft.is_some() => {}
            }
            if !self.within_limit(self.out.len() - pos) {
                return Ok(false);
            }
        }
        self.out.clear();
        Ok(true)
    }

    fn part_req(&self, part: &split::Part, readonly: bool) -> Req {
        Req {
            cmd: part.cmd.clone(),
            slot: Some(part.slot),
            readonly,
            resp3: self.session.resp3,
            client: self.session.id,
        }
    }

    /// The reply of one part of a split command. A part whose keys the table put on one shard
    /// but that got MOVED is split again by slot, each slot following its own redirection.
    async fn part_reply(
        &mut self,
        kind: split::Kind,
        args: &[Bytes],
        part: &split::Part,
        attempt: Attempt,
        readonly: bool,
    ) -> Bytes {
        let req = self.part_req(part, readonly);
        match forward::first_reply(self.shared, attempt).await {
            Ok(bytes) => bytes,
            Err(forward::Cause::Moved(_)) if part.multi_slot => {
                let s = split::split_by_slot(kind, args, part, &mut self.enc);
                let mut replies = Vec::with_capacity(s.parts.len());
                for p in &s.parts {
                    self.shared.metrics.retry();
                    let r = self.part_req(p, readonly);
                    let attempt = forward::send(self.shared, &r).await;
                    replies.push(forward::complete(self.shared, &r, attempt).await);
                }
                let mut w = ReplyWriter::new(self.session.resp3);
                split::merge(&s, &replies, &mut w);
                w.buffer_mut().split().freeze()
            }
            Err(cause) => forward::retry(self.shared, &req, cause).await,
        }
    }

    /// Waits for every pending reply, in order, into `out`.
    async fn collect(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        for Entry { pending: p, command, start } in pending.drain(..) {
            match p {
                Pending::Done(reply) => self.out.extend_from_slice(&reply),
                Pending::Wait(req, attempt) => {
                    let reply = forward::complete(self.shared, &req, attempt).await;
                    self.out.extend_from_slice(&reply);
                }
                Pending::Fanout(kind, attempts, args) => {
                    let mut replies = Vec::with_capacity(attempts.len());
                    for (shard, attempt) in attempts {
                        let reply = match forward::first_reply(self.shared, attempt).await {
                            Ok(bytes) => bytes,
                            Err(cause) => forward::give_up(cause),
                        };
                        replies.push((shard, reply));
                    }
                    fanout::merge(self.shared, kind, &args, &replies, &mut self.scratch);
                    self.out.extend_from_slice(self.scratch.buffer());
                    self.scratch.clear();
                }
                Pending::Aggregate(gather) => {
                    aggregate::finish(self.shared, gather, &mut self.scratch).await;
                    self.out.extend_from_slice(self.scratch.buffer());
                    self.scratch.clear();
                }
                Pending::Split(s, attempts, readonly, args) => {
                    let mut replies = Vec::with_capacity(attempts.len());
                    for (part, attempt) in s.parts.iter().zip(attempts) {
                        replies.push(self.part_reply(s.kind, &args, part, attempt, readonly).await);
                    }
                    if replies.len() == 1 {
                        // One shard held every key: its reply is the reply.
                        self.out.extend_from_slice(&replies[0]);
                    } else {
                        split::merge(&s, &replies, &mut self.scratch);
                        self.out.extend_from_slice(self.scratch.buffer());
                        self.scratch.clear();
                    }
                }
            }
            self.shared.metrics.command_done(command, start.elapsed());
            if !self.within_limit(self.out.len()) {
                self.out.clear();
                break;
            }
        }
        pending.clear();
        self.pending = pending;
    }
}

/// Waits for `reply` while watching the client's socket: `None` as soon as the client closes
/// its connection (or the proxy stops, or CLIENT KILL names it), which drops `reply` and with it the dedicated backend
/// connection it waits on. What the client sends meanwhile is kept in `rbuf` for later (Redis
/// too runs it after the blocking command), up to [`MAX_READ_WHILE_BLOCKED`].
async fn while_connected(
    socket: &mut TcpStream,
    rbuf: &mut BytesMut,
    stop: &mut Stop,
    reply: impl Future<Output = Bytes>,
) -> Option<Bytes> {
    tokio::pin!(reply);
    loop {
        let room = rbuf.len() < MAX_READ_WHILE_BLOCKED;
        if room && rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
            rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            r = &mut reply => return Some(r),
            n = socket.read_buf(rbuf), if room => match n {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            },
            _ = stop.shutdown.wait_for(|s| *s) => return None,
            _ = stop.killed.wait_for(|k| *k) => return None,
        }
    }
}

/// What ends a client's connection besides the client: the proxy stopping, CLIENT KILL.
struct Stop {
    shutdown: watch::Receiver<bool>,
    killed: watch::Receiver<bool>,
}
