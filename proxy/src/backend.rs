//! Backend connections: a small pool of pipelined, multiplexed connections per backend
//! address, shared by every client of the proxy.
//!
//! Each connection is one task owning the socket and a bounded queue of requests. Requests are
//! written in the order they were queued, many per `write` (one syscall per batch, however many
//! clients contributed), and replies are matched to them first-in first-out — RESP servers
//! answer in order. A client always uses the same connection of a backend
//! ([`Pool::send`] picks it by client id), so its own commands to one backend keep their
//! order. Replies are relayed as the raw bytes the backend sent: the frame parser only finds
//! where each reply ends.
//!
//! A request that never reached the socket fails with [`Failure::NotSent`] (safe to retry); one
//! written to a connection that then broke fails with [`Failure::Unknown`]: the backend may or
//! may not have applied it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use protocol::frame::{check, Check, FrameLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};
use tracing::{debug, warn};

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It was never written to a backend (not connected, connection refused): retrying it
    /// cannot apply it twice.
    NotSent(String),
    /// It was written, then the connection broke before its reply: its outcome is unknown.
    Unknown(String),
}

/// A backend's answer: the raw RESP bytes of one reply.
pub type Reply = Result<Bytes, Failure>;

/// What a client waits on for one request.
pub type ReplyReceiver = oneshot::Receiver<Reply>;

struct Request {
    /// The encoded command.
    cmd: Bytes,
    tx: oneshot::Sender<Reply>,
}

/// How backend connections behave (from the proxy's config).
#[derive(Debug, Clone)]
pub struct Settings {
    pub connections: usize,
    pub max_in_flight: usize,
    /// `--backend-password`: sent with AUTH first on every connection.
    pub password: Option<Arc<str>>,
    /// A pool of replica reads (`--read-from`): its connections say READONLY first, the only
    /// way a replica serves a read instead of redirecting it to its master. Never set on the
    /// pools of masters: a demoted master would then go on answering their reads.
    pub readonly: bool,
}

/// The connections to one backend address: `connections` for RESP2 clients and as many for
/// RESP3 clients (those speak `HELLO 3` first), each set opened on first use.
pub struct Pool {
    addr: String,
    settings: Settings,
    conns: [OnceLock<Box<[Conn]>>; 2],
}

/// One connection of a pool: its queue and what its task reports for metrics.
struct Conn {
    tx: mpsc::Sender<Request>,
    stats: Arc<ConnStats>,
}

/// A connection's state and requests awaiting replies, kept by its task for `/metrics` (two
/// relaxed stores per batch, never read on the request path).
#[derive(Default)]
struct ConnStats {
    state: AtomicU8,
    awaited: AtomicU64,
}

const CONNECTING: u8 = 0;
const CONNECTED: u8 = 1;
const DOWN: u8 = 2;

/// What a pool's connections are doing, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub connected: u64,
    pub connecting: u64,
    pub down: u64,
    /// Requests queued on its connections or written and awaiting their replies.
    pub in_flight: u64,
}

/// Writes larger than this are split (bounds the write buffer under a flood).
const MAX_WRITE: usize = 256 * 1024;
const READ_CHUNK: usize = 16 * 1024;
/// How long a backend that refused a connection is answered "not sent" before trying again.
const REFUSED_FOR: Duration = Duration::from_millis(100);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl Pool {
    pub fn new(addr: String, settings: Settings) -> Pool {
        Pool { addr, settings, conns: [OnceLock::new(), OnceLock::new()] }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn conns(&self, resp3: bool) -> &[Conn] {
        self.conns[resp3 as usize].get_or_init(|| {
            (0..self.settings.connections)
                .map(|_| {
                    let (tx, rx) = mpsc::channel(self.settings.max_in_flight);
                    let stats = Arc::new(ConnStats::default());
                    tokio::spawn(supervise(
                        self.addr.clone(),
                        resp3,
                        rx,
                        self.settings.clone(),
                        stats.clone(),
                    ));
                    Conn { tx, stats }
                })
                .collect()
        })
    }

    /// Its connections' states and in-flight requests (connections not opened yet: none).
    pub fn stats(&self) -> PoolStats {
        let mut s = PoolStats::default();
        for conn in self.conns.iter().filter_map(OnceLock::get).flat_map(|c| c.iter()) {
            match conn.stats.state.load(Ordering::Relaxed) {
                CONNECTED => s.connected += 1,
                CONNECTING => s.connecting += 1,
                _ => s.down += 1,
            }
            let queued = conn.tx.max_capacity() - conn.tx.capacity();
            s.in_flight += queued as u64 + conn.stats.awaited.load(Ordering::Relaxed);
        }
        s
    }

    /// Whether every connection of the protocol version's set was opened and is down (its
    /// backend refused or timed out): a replica to avoid for `--read-from replica-preferred`.
    pub fn is_down(&self, resp3: bool) -> bool {
        self.conns[resp3 as usize]
            .get()
            .is_some_and(|c| c.iter().all(|c| c.stats.state.load(Ordering::Relaxed) == DOWN))
    }

    /// Queues `cmd` (one encoded command) on the connection of client `client`; waits while
    /// that connection's queue is full.
    pub async fn send(&self, resp3: bool, client: u64, cmd: Bytes) -> ReplyReceiver {
        let conns = self.conns(resp3);
        let conn = &conns[(client % conns.len() as u64) as usize].tx;
        let (tx, rx) = oneshot::channel();
        let req = Request { cmd, tx };
        let req = match conn.try_send(req) {
            Ok(()) => return rx,
            Err(mpsc::error::TrySendError::Full(req)) => req,
            Err(mpsc::error::TrySendError::Closed(req)) => {
                let _ = req.tx.send(Err(Failure::NotSent("backend connection closed".into())));
                return rx;
            }
        };
        if let Err(mpsc::error::SendError(req)) = conn.send(req).await {
            let _ = req.tx.send(Err(Failure::NotSent("backend connection closed".into())));
        }
        rx
    }
}

/// Keeps one backend connection up for as long as the pool exists.
async fn supervise(
    addr: String,
    resp3: bool,
    mut rx: mpsc::Receiver<Request>,
    settings: Settings,
    stats: Arc<ConnStats>,
) {
    let max_in_flight = settings.max_in_flight;
    loop {
        stats.state.store(CONNECTING, Ordering::Relaxed);
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await;
        match connected {
            Ok(Ok(mut stream)) => {
                let _ = stream.set_nodelay(true);
                // Nothing of any client's is written before the backend accepted the password:
                // a refusal leaves every request "not sent", and clients get the reason.
                if let Some(password) = &settings.password {
                    if let Err(why) = authenticate(&mut stream, &addr, password).await {
                        warn!(backend = %addr, cause = %why, "backend authentication failed");
                        stats.state.store(DOWN, Ordering::Relaxed);
                        refuse(&mut rx, &why).await;
                        if rx.is_closed() && rx.is_empty() {
                            return;
                        }
                        continue;
                    }
                }
                debug!(backend = %addr, resp3, "backend connected");
                stats.state.store(CONNECTED, Ordering::Relaxed);
                let served = serve(
                    stream,
                    &mut rx,
                    (resp3, settings.readonly),
                    max_in_flight,
                    &stats.awaited,
                )
                .await;
                stats.awaited.store(0, Ordering::Relaxed);
                match served {
                    Ok(()) => return,
                    Err(e) => warn!(backend = %addr, cause = %e, "backend connection lost"),
                }
            }
            Ok(Err(e)) => {
                stats.state.store(DOWN, Ordering::Relaxed);
                refuse(&mut rx, &format!("cannot connect to {addr}: {e}")).await
            }
            Err(_) => {
                stats.state.store(DOWN, Ordering::Relaxed);
                refuse(&mut rx, &format!("connecting to {addr} timed out")).await
            }
        }
        if rx.is_closed() && rx.is_empty() {
            return;
        }
    }
}

/// `AUTH <password>`, encoded.
pub fn auth_command(password: &str) -> Vec<u8> {
    let mut enc = BytesMut::new();
    crate::split::encode_into(&mut enc, &[&b"AUTH"[..], password.as_bytes()]);
    enc.to_vec()
}

/// Why a backend is unusable when it answers the proxy's AUTH with `reply`.
pub fn auth_refused(addr: &str, reply: &[u8]) -> String {
    format!(
        "{addr} refused the proxy's password (--backend-password / RCLUSTER_BACKEND_PASSWORD): {}",
        String::from_utf8_lossy(reply).trim_end()
    )
}

/// Sends AUTH on a new connection and reads its reply (within the connect timeout, 2 s).
pub async fn authenticate(
    stream: &mut TcpStream,
    addr: &str,
    password: &str,
) -> Result<(), String> {
    let exchange = async {
        stream.write_all(&auth_command(password)).await?;
        let limits = FrameLimits::default();
        let mut buf = BytesMut::with_capacity(256);
        loop {
            if let Ok(Check::Complete(len)) = check(&buf, &limits) {
                return Ok::<_, std::io::Error>(buf.split_to(len));
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the backend closed the connection",
                ));
            }
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, exchange).await {
        Ok(Ok(reply)) if reply.first() == Some(&b'+') => Ok(()),
        Ok(Ok(reply)) => Err(auth_refused(addr, &reply)),
        Ok(Err(e)) => Err(format!("authenticating to {addr}: {e}")),
        Err(_) => Err(format!("authenticating to {addr} timed out")),
    }
}

/// Answers every request queued during [`REFUSED_FOR`] as not sent.
async fn refuse(rx: &mut mpsc::Receiver<Request>, why: &str) {
    let until = tokio::time::Instant::now() + REFUSED_FOR;
    while let Ok(Some(req)) = tokio::time::timeout_at(until, rx.recv()).await {
        let _ = req.tx.send(Err(Failure::NotSent(why.to_string())));
    }
}

/// The replies awaited on one connection, in the order their requests were written. `None`
/// is a reply the proxy itself asked for (the `HELLO 3` of a RESP3 connection).
type Awaited = Mutex<VecDeque<Option<oneshot::Sender<Reply>>>>;

/// Runs one connection until it breaks (`Err`) or the pool is gone (`Ok`). Whatever was
/// written and not answered fails as unknown; what was not yet taken from the queue stays.
async fn serve(
    stream: TcpStream,
    rx: &mut mpsc::Receiver<Request>,
    (resp3, readonly): (bool, bool),
    max_in_flight: usize,
    awaited_gauge: &AtomicU64,
) -> std::io::Result<()> {
    let (mut rd, mut wr) = stream.into_split();
    let awaited: Awaited = Mutex::new(VecDeque::with_capacity(256));
    let room = Notify::new();
    let writer = async {
        let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut txs = Vec::with_capacity(64);
        if resp3 {
            wbuf.put_slice(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n");
            awaited.lock().expect("awaited").push_back(None);
        }
        if readonly {
            wbuf.put_slice(b"*1\r\n$8\r\nREADONLY\r\n");
            awaited.lock().expect("awaited").push_back(None);
        }
        loop {
            if !wbuf.is_empty() {
                wr.write_all(&wbuf).await?;
                wbuf.clear();
            }
            // The in-flight cap: wait for replies before taking more.
            loop {
                let in_flight = awaited.lock().expect("awaited").len();
                if in_flight < max_in_flight {
                    break;
                }
                room.notified().await;
            }
            let Some(first) = rx.recv().await else { return Ok(()) };
            // The first client to queue a request woke this task, and tokio runs a task woken
            // by another next on the same thread: without this yield every request would go
            // out in a write of its own. Yielding lets the clients whose sockets are ready now
            // run first and queue theirs, so one write (and one read on the backend) carries
            // them all — measured in bench/RESULTS.md ("Proxy").
            tokio::task::yield_now().await;
            let mut room_left = max_in_flight - awaited.lock().expect("awaited").len();
            wbuf.extend_from_slice(&first.cmd);
            txs.push(Some(first.tx));
            room_left -= 1;
            while room_left > 0 && wbuf.len() < MAX_WRITE {
                match rx.try_recv() {
                    Ok(req) => {
                        wbuf.extend_from_slice(&req.cmd);
                        txs.push(Some(req.tx));
                        room_left -= 1;
                    }
                    Err(_) => break,
                }
            }
            // Registered before the bytes leave, so the reader always finds the sender.
            {
                let mut a = awaited.lock().expect("awaited");
                a.extend(txs.drain(..));
                awaited_gauge.store(a.len() as u64, Ordering::Relaxed);
            }
        }
    };
    let reader = async {
        let limits = FrameLimits::default();
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut replies: Vec<Bytes> = Vec::with_capacity(64);
        let mut txs = Vec::with_capacity(64);
        loop {
            if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
                rbuf.reserve(READ_CHUNK);
            }
            if rd.read_buf(&mut rbuf).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the backend closed the connection",
                ));
            }
            loop {
                match check(&rbuf, &limits) {
                    Ok(Check::Complete(len)) => {
                        let reply = rbuf.split_to(len).freeze();
                        // Out-of-band pushes (RESP3) answer no request.
                        if reply[0] != b'>' {
                            replies.push(reply);
                        }
                    }
                    Ok(Check::Incomplete { min_len }) => {
                        rbuf.reserve(min_len.saturating_sub(rbuf.len()));
                        break;
                    }
                    Err(e) => return Err(std::io::Error::other(format!("bad reply: {e}"))),
                }
            }
            if replies.is_empty() {
                continue;
            }
            {
                let mut awaited = awaited.lock().expect("awaited");
                if awaited.len() < replies.len() {
                    return Err(std::io::Error::other("a reply no request was waiting for"));
                }
                txs.extend(awaited.drain(..replies.len()));
                awaited_gauge.store(awaited.len() as u64, Ordering::Relaxed);
            }
            room.notify_one();
            for (tx, reply) in txs.drain(..).zip(replies.drain(..)) {
                if let Some(tx) = tx {
                    let _ = tx.send(Ok(reply));
                }
            }
        }
    };
    let result = tokio::select! {
        r = writer => r,
        r = reader => r,
    };
    let lost = std::mem::take(&mut *awaited.lock().expect("awaited"));
    let why = match &result {
        Ok(()) => "the proxy is stopping".to_string(),
        Err(e) => e.to_string(),
    };
    for tx in lost.into_iter().flatten() {
        let _ = tx.send(Err(Failure::Unknown(why.clone())));
    }
    result
}
