//! Pub/Sub through the proxy: SUBSCRIBE/UNSUBSCRIBE/PUBLISH by the channel's hash slot,
//! PSUBSCRIBE/PUNSUBSCRIBE on every shard master, SSUBSCRIBE/SUNSUBSCRIBE/SPUBLISH by slot, and
//! PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB merged over the shards.
//!
//! # One shared subscriber per backend ([`Hub`])
//! The proxy does not open a backend connection per subscribed client: one [`Hub`] per proxy
//! holds, per backend master, one subscriber connection (a *link*) that carries the union of
//! what the proxy's clients subscribe to — each channel, pattern or shard channel subscribed
//! once however many clients want it. 10 000 subscribers of one channel cost one backend
//! subscription and one copy of each message off the backend; the proxy copies it into each
//! subscriber's queue, as Redis itself does. A dedicated connection per client would have
//! cost a socket and a backend client per subscriber and per shard (a PSUBSCRIBE on N
//! shards: N connections per client).
//!
//! Per-client semantics stay exactly Redis's because the proxy answers the client itself:
//! - **Confirmations** (`subscribe`, `unsubscribe` … with the client's own count: channels plus
//!   patterns, or shard channels alone) are written by the proxy from the client's own
//!   subscription sets ([`Subscriptions`]); the link's confirmations are never relayed. A
//!   client's `subscribe` confirmation is held until every backend the subscription needs has
//!   confirmed it (a channel already subscribed for another client: at once), so a message
//!   published after the client saw its confirmation reaches it. If a backend does not confirm
//!   within `--retry-deadline-ms` (it is down, the slot is moving), the client gets its
//!   confirmation anyway and the hub keeps placing the subscription, as after a failover.
//! - **Ordering**: every message for a client goes through one queue ([`Sink`]), in the order the
//!   links delivered them; messages of one channel come from one link, so they keep the
//!   backend's order. A message is queued for a client only while it is subscribed, and an
//!   UNSUBSCRIBE first stops deliveries, then writes out what was queued, then its
//!   confirmation — no message of a channel follows its `unsubscribe` confirmation.
//! - **Exactly once**: a channel (and a shard channel) is subscribed on one backend, the
//!   master of its slot; a pattern on every master. A PUBLISH goes to one master (the slot's),
//!   so only that master emits the `message` and the `pmessage`s: each arrives once. (Keyspace
//!   notifications come from the key's shard and are placed accordingly.) The hub
//!   also drops a message from a backend the subscription is not placed on at the moment (a
//!   demoted master whose replication still carries PUBLISH), so a move never doubles one.
//!
//! # Following the routing table and lost connections
//! A background task ([`maintain`]) re-places every subscription when the routing table in
//! force changes (the epoch moved: a new master for a slot, a failover) and when a link
//! breaks: it unsubscribes where a subscription should no longer be, subscribes where it
//! should, and reconnects. Clients notice nothing (no confirmation is sent to them again).
//! Messages published while a subscription moves may be lost, as in Redis Cluster during a
//! failover. A link left with no subscription is closed at once, so unsubscribing from
//! everything releases the backend's resources.
//!
//! # Memory
//! Each subscriber's queue is bounded by `--client-output-buffer-limit-pubsub`
//! ([`crate::output_limit`], Redis's `32mb 8mb 60` by default): a subscriber that does not read
//! is disconnected when its queued bytes (queued and being written) pass the limit, so it never
//! grows the proxy's memory without bound. INFO's `proxy` section shows the bytes queued and
//! the largest any one subscriber reached.
//!
//! # Counts the shards cannot know
//! A backend counts each proxy's link as one subscriber. NUMSUB and SHARDNUMSUB therefore sum
//! the shards' counts, take this proxy's link out and put its clients in: exact for clients of
//! this proxy and of the shards themselves, while other proxies' subscribers count once per
//! proxy. Every pattern is subscribed on every master, so summing NUMPAT over shards would
//! count each pattern once per shard; a single Redis counts distinct patterns, which is what
//! the largest shard count (and this proxy's own) gives. PUBLISH's reply is the receiving
//! master's count, in which each subscribed proxy is one receiver (in Redis Cluster it is the
//! receiving node's clients only).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::command::{flags, CommandSpec};
use protocol::frame::{Frame, FrameLimits};
use protocol::{key_hash_slot, ReplyWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::clients::ClientHandle;
use crate::command::{Plan, Refusal, Session};
use crate::metrics::ErrorKind;
use crate::output_limit::{Limit, Meter};
use crate::router::Routes;
use crate::server::Shared;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const READ_CHUNK: usize = 16 * 1024;
/// Commands written to a link in one write at most.
const MAX_WRITE: usize = 64 * 1024;
/// The re-placing task's rounds: at least this far apart (a backend that refuses connections
/// is retried at this pace), and at most [`RECHECK`] apart.
const MIN_ROUND: Duration = Duration::from_millis(100);
const RECHECK: Duration = Duration::from_secs(1);
/// A link sends PING this often; after [`MAX_UNANSWERED`] PINGs without a `pong` it is taken
/// for dead (a backend gone silently, without closing the connection) and replaced.
const PING_EVERY: Duration = Duration::from_secs(2);
const MAX_UNANSWERED: u32 = 2;

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Channel = 0,
    Pattern = 1,
    Shard = 2,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Channel, Kind::Pattern, Kind::Shard];

    fn subscribe(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }

    fn unsubscribe(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }

    /// The kind and direction of a (un)subscribe command or confirmation.
    fn of_verb(verb: &[u8]) -> Option<(Kind, bool)> {
        Kind::ALL.into_iter().find_map(|k| {
            if verb.eq_ignore_ascii_case(k.subscribe().as_bytes()) {
                Some((k, true))
            } else if verb.eq_ignore_ascii_case(k.unsubscribe().as_bytes()) {
                Some((k, false))
            } else {
                None
            }
        })
    }
}

/// What the hub counts, for INFO.
#[derive(Debug, Default)]
pub struct Stats {
    /// Bytes queued for (or being written to) subscribers, over all of them.
    pub queued: AtomicUsize,
    /// The most bytes one subscriber ever had queued.
    pub peak: AtomicUsize,
    /// Subscribers disconnected at their output-buffer limit.
    pub cut: AtomicU64,
}

/// What one subscribed client is sent: messages in delivery order, bounded by its limit.
pub struct Sink {
    resp3: AtomicBool,
    inner: Mutex<SinkInner>,
    ready: Notify,
    handle: Arc<ClientHandle>,
    stats: Arc<Stats>,
}

struct SinkInner {
    queue: BytesMut,
    /// Taken by the client's connection and not written yet.
    writing: usize,
    meter: Meter,
    cut: bool,
}

impl Sink {
    fn lock(&self) -> MutexGuard<'_, SinkInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues one encoded message; past the limit the client is cut instead (disconnected,
    /// its queue dropped), as Redis's `closeClientOnOutputBufferLimitReached`.
    fn push(&self, bytes: &[u8]) {
        let mut inner = self.lock();
        if inner.cut {
            return;
        }
        let total = inner.queue.len() + inner.writing + bytes.len();
        if inner.meter.check(total, Instant::now).is_err() {
            inner.cut = true;
            let dropped = inner.queue.len();
            inner.queue = BytesMut::new();
            drop(inner);
            self.stats.queued.fetch_sub(dropped, Ordering::Relaxed);
            self.stats.cut.fetch_add(1, Ordering::Relaxed);
            warn!(
                id = self.handle.id,
                peer = %self.handle.addr,
                "subscriber disconnected: it passed its output buffer limit"
            );
            self.handle.kill();
            return;
        }
        let was_empty = inner.queue.is_empty();
        inner.queue.extend_from_slice(bytes);
        drop(inner);
        self.stats.queued.fetch_add(bytes.len(), Ordering::Relaxed);
        self.stats.peak.fetch_max(total, Ordering::Relaxed);
        if was_empty {
            self.ready.notify_one();
        }
    }

    /// Completes when messages were queued (since the last call).
    pub async fn notified(&self) {
        self.ready.notified().await
    }

    /// Moves what is queued to `out`; it counts as being written until [`Sink::written`].
    fn take_into(&self, out: &mut BytesMut) -> usize {
        let mut inner = self.lock();
        let n = inner.queue.len();
        if n > 0 {
            out.extend_from_slice(&inner.queue);
            inner.queue.clear();
            if inner.queue.capacity() > 4 * READ_CHUNK {
                inner.queue = BytesMut::new();
            }
            inner.writing += n;
        }
        n
    }

    fn written(&self, n: usize) {
        let mut inner = self.lock();
        let n = n.min(inner.writing);
        inner.writing -= n;
        drop(inner);
        self.stats.queued.fetch_sub(n, Ordering::Relaxed);
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let inner = self.lock();
        let held = inner.queue.len() + inner.writing;
        drop(inner);
        self.stats.queued.fetch_sub(held, Ordering::Relaxed);
    }
}

/// One subscription of the proxy: the clients that want it, and where it is subscribed.
#[derive(Default)]
struct Topic {
    clients: HashMap<u64, Arc<Sink>>,
    /// The backends it is subscribed on, and whether each confirmed it.
    placed: Vec<(String, bool)>,
}

/// A (un)subscribe sent on a link, awaiting its confirmation (or error).
struct Expect {
    kind: Kind,
    name: Bytes,
    subscribe: bool,
}

type Expected = Arc<Mutex<VecDeque<Expect>>>;

/// The proxy's subscriber connection to one backend.
struct Link {
    id: u64,
    tx: mpsc::UnboundedSender<Bytes>,
    expected: Expected,
    /// Topics placed on it; at 0 it is closed.
    topics: usize,
}

impl Link {
    /// Queues `verb name` (one subscription per command: one confirmation each).
    fn send(&self, kind: Kind, subscribe: bool, name: &Bytes) {
        let verb = if subscribe { kind.subscribe() } else { kind.unsubscribe() };
        let mut cmd = BytesMut::new();
        let cmd = crate::split::encode_command(
            &mut cmd,
            &[Bytes::from_static(verb.as_bytes()), name.clone()],
        );
        lock(&self.expected).push_back(Expect { kind, name: name.clone(), subscribe });
        // A closed channel means the link's task ended; it reports that itself.
        let _ = self.tx.send(cmd);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
struct State {
    topics: [HashMap<Bytes, Topic>; 3],
    links: HashMap<String, Link>,
    next_link: u64,
}

/// Every subscription of the proxy's clients and the backend links that carry them.
pub struct Hub {
    state: Mutex<State>,
    /// The re-placing task should run (a link broke, a backend refused a subscription).
    wake: Notify,
    /// A backend answered MOVED: the routing table is stale.
    stale: AtomicBool,
    /// Bumped whenever a placement is confirmed or lost (clients wait on it).
    changed: watch::Sender<u64>,
    limit: Limit,
    /// `--backend-password`: links send AUTH first.
    password: Option<Arc<str>>,
    pub stats: Arc<Stats>,
}

/// Where a channel's messages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The master of this slot.
    Slot(u16),
    /// Every master.
    Everywhere,
}

/// Where `kind name` is published. A pattern may match a channel of any slot. Keyspace
/// notifications are published by the shard that holds the key, not where the channel's name
/// hashes: `__keyspace@<db>__:<key>` comes from the key's slot, `__keyevent@<db>__:<event>` from
/// every master (each reports its own keys' events, so each event still arrives once).
fn source(kind: Kind, name: &[u8]) -> Source {
    if kind == Kind::Pattern {
        return Source::Everywhere;
    }
    if kind == Kind::Channel {
        if let Some(rest) = name.strip_prefix(b"__keyspace@") {
            if let Some(at) = rest.windows(3).position(|w| w == b"__:") {
                return Source::Slot(key_hash_slot(&rest[at + 3..]));
            }
        }
        if name.starts_with(b"__keyevent@") {
            return Source::Everywhere;
        }
    }
    Source::Slot(key_hash_slot(name))
}

/// The backends `kind name` belongs on under `routes`.
fn desired(routes: &Routes, kind: Kind, name: &[u8]) -> Vec<String> {
    match source(kind, name) {
        Source::Everywhere => {
            let mut all: Vec<String> = (0..routes.table.shards.len())
                .map(|i| routes.shard_pool(i).addr().to_string())
                .collect();
            all.sort();
            all.dedup();
            all
        }
        Source::Slot(slot) => {
            routes.pool_for_slot(slot).map(|p| p.addr().to_string()).into_iter().collect()
        }
    }
}

impl Hub {
    pub fn new(limit: Limit, password: Option<Arc<str>>) -> Arc<Hub> {
        Arc::new(Hub {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            stale: AtomicBool::new(false),
            changed: watch::channel(0).0,
            limit,
            password,
            stats: Arc::new(Stats::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Subscriptions and links, for INFO: channels, patterns, shard channels, links.
    pub fn counts(&self) -> [usize; 4] {
        let s = self.state();
        [s.topics[0].len(), s.topics[1].len(), s.topics[2].len(), s.links.len()]
    }

    /// Adds `sink`'s client to the subscribers of `kind name`, subscribing on the backends
    /// if it is the first.
    fn join(self: &Arc<Self>, routes: &Routes, kind: Kind, name: &Bytes, sink: &Arc<Sink>) {
        let mut s = self.state();
        let topic = s.topics[kind as usize].entry(name.clone()).or_default();
        topic.clients.insert(sink.handle.id, sink.clone());
        place(self, &mut s, routes, kind, name);
    }

    /// Removes client `id` from the subscribers of `kind name`; the last one unsubscribes.
    fn leave(self: &Arc<Self>, routes: &Routes, kind: Kind, name: &Bytes, id: u64) {
        let mut s = self.state();
        if let Some(topic) = s.topics[kind as usize].get_mut(name) {
            topic.clients.remove(&id);
            if topic.clients.is_empty() {
                place(self, &mut s, routes, kind, name);
            }
        }
    }

    /// Whether `kind name` is subscribed and confirmed everywhere it should be.
    fn ready(&self, routes: &Routes, kind: Kind, name: &Bytes) -> bool {
        let s = self.state();
        let Some(topic) = s.topics[kind as usize].get(name) else { return false };
        // No master for it yet (no routing table, an unowned slot): not ready either.
        let want = desired(routes, kind, name);
        !want.is_empty() && want.iter().all(|a| topic.placed.iter().any(|(p, ok)| p == a && *ok))
    }

    /// Re-places every subscription under `routes` (the task of [`maintain`]).
    fn place_all(self: &Arc<Self>, routes: &Routes) {
        let mut s = self.state();
        for kind in Kind::ALL {
            let names: Vec<Bytes> = s.topics[kind as usize].keys().cloned().collect();
            for name in &names {
                place(self, &mut s, routes, kind, name);
            }
        }
    }

    /// A link ended (it could not connect, broke, or was closed): its placements are gone.
    fn link_lost(&self, addr: &str, id: u64, why: &str) {
        let mut s = self.state();
        if s.links.get(addr).map(|l| l.id) != Some(id) {
            return;
        }
        debug!(backend = %addr, cause = %why, "pub/sub link lost");
        s.links.remove(addr);
        for topics in &mut s.topics {
            for topic in topics.values_mut() {
                topic.placed.retain(|(a, _)| a != addr);
            }
        }
        drop(s);
        self.bump();
        self.wake.notify_one();
    }

    /// One frame from link `id` to `addr`.
    fn on_frame(&self, addr: &str, id: u64, expected: &Expected, frame: Frame) {
        let items = match frame {
            Frame::Array(items) | Frame::Push(items) => items,
            Frame::Error(text) => {
                let Some(head) = lock(expected).pop_front() else { return };
                if head.subscribe {
                    if text.starts_with(b"MOVED") || text.starts_with(b"ASK") {
                        self.stale.store(true, Ordering::Relaxed);
                    }
                    debug!(backend = %addr, cause = %String::from_utf8_lossy(&text), "subscription refused");
                    self.unplace(addr, id, head.kind, &head.name);
                }
                return;
            }
            _ => return,
        };
        let bulk = |i: usize| match items.get(i) {
            Some(Frame::Bulk(b)) => Some(b.clone()),
            _ => None,
        };
        let Some(verb) = bulk(0) else { return };
        match (&verb[..], items.len()) {
            (b"message", 3) | (b"smessage", 3) => {
                let kind = if &verb[..] == b"message" { Kind::Channel } else { Kind::Shard };
                if let (Some(ch), Some(msg)) = (bulk(1), bulk(2)) {
                    self.deliver(addr, id, kind, &ch, |w| {
                        w.push(3);
                        w.bulk(&verb);
                        w.bulk(&ch);
                        w.bulk(&msg);
                    });
                }
            }
            (b"pmessage", 4) => {
                if let (Some(pat), Some(ch), Some(msg)) = (bulk(1), bulk(2), bulk(3)) {
                    self.deliver(addr, id, Kind::Pattern, &pat, |w| {
                        w.push(4);
                        w.bulk(b"pmessage");
                        w.bulk(&pat);
                        w.bulk(&ch);
                        w.bulk(&msg);
                    });
                }
            }
            _ => {
                let Some((kind, subscribe)) = Kind::of_verb(&verb) else { return };
                let name = bulk(1).unwrap_or_default();
                let mut q = lock(expected);
                let matches = q
                    .front()
                    .is_some_and(|e| e.kind == kind && e.subscribe == subscribe && e.name == name);
                if matches {
                    q.pop_front();
                    drop(q);
                    if subscribe {
                        self.confirm(addr, id, kind, &name);
                    }
                } else if !subscribe {
                    drop(q);
                    // The backend dropped the subscription itself (a slot moved away).
                    self.unplace(addr, id, kind, &name);
                }
            }
        }
    }

    fn confirm(&self, addr: &str, id: u64, kind: Kind, name: &Bytes) {
        let mut s = self.state();
        if s.links.get(addr).map(|l| l.id) != Some(id) {
            return;
        }
        if let Some(topic) = s.topics[kind as usize].get_mut(name) {
            for (a, ok) in &mut topic.placed {
                if a == addr {
                    *ok = true;
                }
            }
        }
        drop(s);
        self.bump();
    }

    /// `kind name` is not subscribed on `addr` after all: the re-placing task tries again.
    fn unplace(&self, addr: &str, id: u64, kind: Kind, name: &Bytes) {
        let mut s = self.state();
        let State { topics, links, .. } = &mut *s;
        let Some(link) = links.get_mut(addr).filter(|l| l.id == id) else { return };
        if let Some(topic) = topics[kind as usize].get_mut(name) {
            let before = topic.placed.len();
            topic.placed.retain(|(a, _)| a != addr);
            if topic.placed.len() < before {
                link.topics -= 1;
                if link.topics == 0 {
                    links.remove(addr);
                }
            }
            if topic.clients.is_empty() && topic.placed.is_empty() {
                topics[kind as usize].remove(name);
            }
        }
        drop(s);
        self.bump();
        self.wake.notify_one();
    }

    /// Queues a message from link `id` to `addr` for every client of `kind key` (the channel,
    /// or the pattern), encoded once per protocol version.
    fn deliver(
        &self,
        addr: &str,
        id: u64,
        kind: Kind,
        key: &Bytes,
        write: impl Fn(&mut ReplyWriter),
    ) {
        let s = self.state();
        let Some(topic) = s.topics[kind as usize].get(key) else { return };
        if s.links.get(addr).map(|l| l.id) != Some(id)
            || !topic.placed.iter().any(|(a, _)| a == addr)
        {
            return;
        }
        let mut encoded: [Option<ReplyWriter>; 2] = [None, None];
        for sink in topic.clients.values() {
            let resp3 = sink.resp3.load(Ordering::Relaxed);
            let w = encoded[resp3 as usize].get_or_insert_with(|| {
                let mut w = ReplyWriter::new(resp3);
                write(&mut w);
                w
            });
            sink.push(w.buffer());
        }
    }
}

/// Makes `kind name`'s placement match `routes` (none once it has no clients): unsubscribes
/// where it should not be, subscribes where it should, opening and closing links.
fn place(hub: &Arc<Hub>, s: &mut State, routes: &Routes, kind: Kind, name: &Bytes) {
    let State { topics, links, next_link } = s;
    let Some(topic) = topics[kind as usize].get_mut(name) else { return };
    let want = if topic.clients.is_empty() { Vec::new() } else { desired(routes, kind, name) };
    let mut removed = Vec::new();
    topic.placed.retain(|(a, _)| {
        let keep = want.contains(a);
        if !keep {
            removed.push(a.clone());
        }
        keep
    });
    let mut added = Vec::new();
    for a in want {
        if !topic.placed.iter().any(|(p, _)| *p == a) {
            topic.placed.push((a.clone(), false));
            added.push(a);
        }
    }
    if topic.clients.is_empty() && topic.placed.is_empty() {
        topics[kind as usize].remove(name);
    }
    for a in removed {
        if let Some(link) = links.get_mut(&a) {
            link.send(kind, false, name);
            link.topics -= 1;
            if link.topics == 0 {
                // Dropping the sender lets the link write what is queued, then close.
                links.remove(&a);
            }
        }
    }
    for a in added {
        let link = links.entry(a.clone()).or_insert_with(|| {
            *next_link += 1;
            open_link(hub, a.clone(), *next_link)
        });
        link.send(kind, true, name);
        link.topics += 1;
    }
}

fn open_link(hub: &Arc<Hub>, addr: String, id: u64) -> Link {
    let (tx, rx) = mpsc::unbounded_channel();
    let expected: Expected = Arc::default();
    let password = hub.password.clone();
    tokio::spawn(run_link(Arc::downgrade(hub), addr, id, password, rx, expected.clone()));
    Link { id, tx, expected, topics: 0 }
}

async fn run_link(
    hub: Weak<Hub>,
    addr: String,
    id: u64,
    password: Option<Arc<str>>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    expected: Expected,
) {
    let why = match serve_link(&hub, &addr, id, password.as_deref(), &mut rx, &expected).await {
        Ok(()) => "closed".to_string(),
        Err(e) => e.to_string(),
    };
    if let Some(hub) = hub.upgrade() {
        hub.link_lost(&addr, id, &why);
    }
}

async fn serve_link(
    hub: &Weak<Hub>,
    addr: &str,
    id: u64,
    password: Option<&str>,
    rx: &mut mpsc::UnboundedReceiver<Bytes>,
    expected: &Expected,
) -> std::io::Result<()> {
    let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::other(format!("connecting to {addr} timed out")))??;
    let _ = stream.set_nodelay(true);
    if let Some(password) = password {
        // Before any subscription: a refused password fails the link, which is retried.
        crate::backend::authenticate(&mut stream, addr, password).await.map_err(|why| {
            warn!(backend = %addr, cause = %why, "pub/sub link authentication failed");
            std::io::Error::other(why)
        })?;
    }
    let (mut rd, mut wr) = stream.into_split();
    // PINGs sent and not answered. Their `pong`s are told apart from confirmations by name, so
    // they take no place among the expected confirmations.
    let unanswered = std::sync::atomic::AtomicU32::new(0);
    let writer = async {
        let mut buf = BytesMut::new();
        let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        loop {
            tokio::select! {
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { return Ok(()) };
                    buf.extend_from_slice(&cmd);
                    while buf.len() < MAX_WRITE {
                        match rx.try_recv() {
                            Ok(more) => buf.extend_from_slice(&more),
                            Err(_) => break,
                        }
                    }
                }
                _ = ping.tick() => {
                    if unanswered.fetch_add(1, Ordering::Relaxed) >= MAX_UNANSWERED {
                        return Err(std::io::Error::other(format!("{addr} does not answer PING")));
                    }
                    buf.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
                }
            }
            wr.write_all(&buf).await?;
            buf.clear();
        }
    };
    let reader = async {
        let limits = FrameLimits::default();
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
                rbuf.reserve(READ_CHUNK);
            }
            if rd.read_buf(&mut rbuf).await? == 0 {
                return Err(std::io::Error::other(format!("{addr} closed the connection")));
            }
            while let Some(frame) = Frame::parse(&mut rbuf, &limits)
                .map_err(|e| std::io::Error::other(e.to_string()))?
            {
                let Some(hub) = hub.upgrade() else { return Ok(()) };
                if is_pong(&frame) {
                    unanswered.store(0, Ordering::Relaxed);
                    continue;
                }
                hub.on_frame(addr, id, expected, frame);
            }
        }
    };
    tokio::select! {
        r = writer => r,
        r = reader => r,
    }
}

/// The reply to PING on a subscribed connection: `["pong", ""]` (`+PONG` from a server that
/// answers it as outside Pub/Sub mode).
fn is_pong(frame: &Frame) -> bool {
    match frame {
        Frame::Array(items) | Frame::Push(items) => {
            matches!(items.first(), Some(Frame::Bulk(b)) if b.eq_ignore_ascii_case(b"pong"))
        }
        Frame::Simple(s) => s.eq_ignore_ascii_case(b"pong"),
        _ => false,
    }
}

/// Re-places subscriptions when the routing table changes or a link is lost, for as long as
/// the proxy runs.
pub async fn maintain(shared: Arc<Shared>) {
    let hub = shared.pubsub.clone();
    loop {
        let epoch = shared.router.epoch();
        tokio::select! {
            _ = shared.router.wait_newer(epoch, RECHECK) => {}
            _ = hub.wake.notified() => {}
        }
        if hub.stale.swap(false, Ordering::Relaxed) {
            shared.router.request_refresh();
        }
        let routes = shared.router.routes();
        hub.place_all(&routes);
        drop(routes);
        tokio::time::sleep(MIN_ROUND).await;
    }
}

/// One client's subscriptions: what its confirmations count and what it leaves on
/// disconnection.
pub struct Subscriptions {
    hub: Arc<Hub>,
    handle: Arc<ClientHandle>,
    names: [HashSet<Bytes>; 3],
    /// Present while the client is subscribed to anything.
    sink: Option<Arc<Sink>>,
}

impl std::fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriptions").field("names", &self.names).finish()
    }
}

impl Subscriptions {
    pub fn new(hub: Arc<Hub>, handle: Arc<ClientHandle>) -> Subscriptions {
        Subscriptions { hub, handle, names: Default::default(), sink: None }
    }

    /// Subscribed to anything: RESP2 clients are in Pub/Sub mode.
    pub fn active(&self) -> bool {
        self.names.iter().any(|n| !n.is_empty())
    }

    /// Tells CLIENT LIST the counts (after every change).
    fn publish_counts(&self) {
        self.handle.set_subscriptions(self.names.each_ref().map(HashSet::len));
    }

    /// The count a confirmation carries: channels + patterns, or shard channels alone.
    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.names[2].len(),
            _ => self.names[0].len() + self.names[1].len(),
        }
    }

    /// The signal that messages are queued (pending for ever while not subscribed).
    pub fn sink(&self) -> Option<Arc<Sink>> {
        self.sink.clone()
    }

    /// The client's protocol, for encoding its messages.
    pub fn set_resp3(&self, resp3: bool) {
        if let Some(s) = &self.sink {
            s.resp3.store(resp3, Ordering::Relaxed);
        }
    }

    /// Moves the queued messages to `out`; give the count to [`Subscriptions::written`] once
    /// written.
    pub fn take_into(&self, out: &mut BytesMut) -> usize {
        self.sink.as_ref().map_or(0, |s| s.take_into(out))
    }

    pub fn written(&self, n: usize) {
        if let Some(s) = &self.sink {
            s.written(n);
        }
    }

    /// Leaves everything (RESET): no confirmations. Queued messages go to `out`.
    fn clear(&mut self, routes: &Routes, out: &mut BytesMut) {
        for kind in Kind::ALL {
            for name in std::mem::take(&mut self.names[kind as usize]) {
                self.hub.leave(routes, kind, &name, self.handle.id);
            }
        }
        if let Some(sink) = self.sink.take() {
            let n = sink.take_into(out);
            sink.written(n);
        }
        self.publish_counts();
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        if !self.active() {
            return;
        }
        let mut s = self.hub.state();
        for kind in Kind::ALL {
            for name in &self.names[kind as usize] {
                if let Some(topic) = s.topics[kind as usize].get_mut(name) {
                    topic.clients.remove(&self.handle.id);
                }
            }
        }
        drop(s);
        // The re-placing task unsubscribes what no client wants any more.
        self.hub.wake.notify_one();
    }
}

/// The Pub/Sub and output-buffer gauges and counters for `/metrics`.
pub fn sample(shared: &Shared) -> crate::metrics::PubSubSample {
    let [channels, patterns, shard, links] = shared.pubsub.counts();
    let s = &shared.pubsub.stats;
    crate::metrics::PubSubSample {
        subscriptions: [channels, patterns, shard],
        links,
        queued: s.queued.load(Ordering::Relaxed),
        cuts: [shared.output_cuts.load(Ordering::Relaxed), s.cut.load(Ordering::Relaxed)],
    }
}

/// The Pub/Sub and output-buffer fields of INFO's `proxy` section.
pub fn info(shared: &Shared) -> Vec<(String, String)> {
    let hub = &shared.pubsub;
    let [channels, patterns, shard, links] = hub.counts();
    let s = &hub.stats;
    [
        ("pubsub_channels", channels as u64),
        ("pubsub_patterns", patterns as u64),
        ("pubsub_shard_channels", shard as u64),
        ("pubsub_backend_connections", links as u64),
        ("pubsub_queued_bytes", s.queued.load(Ordering::Relaxed) as u64),
        ("pubsub_queued_bytes_peak", s.peak.load(Ordering::Relaxed) as u64),
        ("pubsub_output_limit_disconnections", s.cut.load(Ordering::Relaxed)),
        ("normal_output_limit_disconnections", shared.output_cuts.load(Ordering::Relaxed)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Redis's refusal of other commands in RESP2 Pub/Sub mode.
fn refused_in_subscribed_mode(name: &str) -> String {
    format!(
        "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET \
         are allowed in this context"
    )
}

/// The Pub/Sub part of planning a command (called before anything else plans it): RESP2
/// Pub/Sub mode's restrictions and its PING, where the Pub/Sub commands go, and RESET leaving
/// every subscription. `Ok(None)`: not the proxy's Pub/Sub business, plan it as usual.
pub fn intercept(
    shared: &Shared,
    session: &mut Session,
    spec: &'static CommandSpec,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<Option<Plan>, Refusal> {
    let active = session.pubsub.active();
    // The hot path: most commands are none of this module's business.
    if !active && !spec.has(flags::PUBSUB) && !matches!(spec.name, "reset" | "pubsub|help") {
        return Ok(None);
    }
    if active && !session.resp3 {
        match spec.name {
            "ping" => {
                if args.len() > 2 {
                    return Err((ErrorKind::Other, crate::command::wrong_arity("ping")));
                }
                // In RESP2 Pub/Sub mode Redis answers PING with a message-like array.
                out.array(2);
                out.bulk(b"pong");
                out.bulk(args.get(1).map_or(&b""[..], |a| &a[..]));
                return Ok(Some(Plan::Local));
            }
            "subscribe" | "ssubscribe" | "psubscribe" | "unsubscribe" | "sunsubscribe"
            | "punsubscribe" | "quit" | "reset" => {}
            name => return Err((ErrorKind::Other, refused_in_subscribed_mode(name))),
        }
    }
    Ok(match spec.name {
        "subscribe" | "ssubscribe" | "psubscribe" | "unsubscribe" | "sunsubscribe"
        | "punsubscribe" => Some(Plan::PubSub),
        "pubsub|channels" | "pubsub|shardchannels" if args.len() > 3 => {
            // Redis's own check (the command table allows any number).
            return Err((
                ErrorKind::Other,
                format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                    String::from_utf8_lossy(&args[1])
                ),
            ));
        }
        "pubsub|channels"
        | "pubsub|shardchannels"
        | "pubsub|numsub"
        | "pubsub|shardnumsub"
        | "pubsub|numpat" => Some(Plan::PubSub),
        "pubsub|help" => Some(Plan::Any { readonly: true }),
        // The channel's slot decides, as in Redis Cluster; a PUBLISH is never sent twice.
        "publish" | "spublish" => {
            Some(Plan::Slot { slot: key_hash_slot(&args[1]), readonly: false })
        }
        "reset" => {
            if active {
                let routes = shared.router.routes();
                let mut queued = BytesMut::new();
                session.pubsub.clear(&routes, &mut queued);
                out.raw(&queued);
            }
            None
        }
        _ => None,
    })
}

/// Runs a [`Plan::PubSub`] command; its reply.
pub async fn run(shared: &Shared, session: &mut Session, args: &[Bytes]) -> Bytes {
    let mut w = ReplyWriter::new(session.resp3);
    let verb = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    if let Some((kind, subscribe)) = Kind::of_verb(verb.as_bytes()) {
        if subscribe {
            subscribe_cmd(shared, session, kind, &args[1..], &mut w).await;
        } else {
            unsubscribe_cmd(shared, session, kind, &args[1..], &mut w);
        }
    } else {
        introspect(shared, session, args, &mut w).await;
    }
    w.buffer_mut().split().freeze()
}

async fn subscribe_cmd(
    shared: &Shared,
    session: &mut Session,
    kind: Kind,
    names: &[Bytes],
    w: &mut ReplyWriter,
) {
    let resp3 = session.resp3;
    let subs = &mut session.pubsub;
    let (hub, handle) = (subs.hub.clone(), subs.handle.clone());
    let sink = subs
        .sink
        .get_or_insert_with(|| {
            Arc::new(Sink {
                resp3: AtomicBool::new(resp3),
                inner: Mutex::new(SinkInner {
                    queue: BytesMut::new(),
                    writing: 0,
                    meter: Meter::new(hub.limit),
                    cut: false,
                }),
                ready: Notify::new(),
                handle,
                stats: hub.stats.clone(),
            })
        })
        .clone();
    let mut fresh = Vec::new();
    {
        let routes = shared.router.routes();
        for name in names {
            if !subs.names[kind as usize].contains(name) {
                // A copy: the argument is a slice of the client's read buffer, which a kept
                // name would pin for as long as the subscription lasts.
                let name = Bytes::copy_from_slice(name);
                subs.names[kind as usize].insert(name.clone());
                subs.hub.join(&routes, kind, &name, &sink);
                fresh.push(name);
            }
            w.push(3);
            w.bulk(kind.subscribe().as_bytes());
            w.bulk(name);
            w.integer(subs.count(kind) as i64);
        }
    }
    subs.publish_counts();
    // The confirmations wait until the backends have the subscriptions (or the deadline).
    let deadline = Instant::now() + shared.config.retry_deadline();
    let mut changed = hub.changed.subscribe();
    for name in &fresh {
        loop {
            changed.mark_unchanged();
            if hub.ready(&shared.router.routes(), kind, name) {
                break;
            }
            if tokio::time::timeout_at(deadline, changed.changed()).await.is_err() {
                debug!(channel = %String::from_utf8_lossy(name), "subscription not confirmed in time");
                break;
            }
        }
    }
}

fn unsubscribe_cmd(
    shared: &Shared,
    session: &mut Session,
    kind: Kind,
    names: &[Bytes],
    w: &mut ReplyWriter,
) {
    let subs = &mut session.pubsub;
    let routes = shared.router.routes();
    let all: Vec<Bytes>;
    let names = if names.is_empty() {
        all = subs.names[kind as usize].iter().cloned().collect();
        &all[..]
    } else {
        names
    };
    let mut left = Vec::with_capacity(names.len());
    for name in names {
        let was = subs.names[kind as usize].remove(name);
        if was {
            subs.hub.leave(&routes, kind, name, subs.handle.id);
        }
        left.push(subs.count(kind));
    }
    // No more deliveries for these: what was queued goes out before the confirmations.
    if let Some(sink) = &subs.sink {
        let mut queued = BytesMut::new();
        let n = sink.take_into(&mut queued);
        sink.written(n);
        w.raw(&queued);
    }
    if names.is_empty() {
        w.push(3);
        w.bulk(kind.unsubscribe().as_bytes());
        w.null();
        w.integer(subs.count(kind) as i64);
    }
    for (name, count) in names.iter().zip(left) {
        w.push(3);
        w.bulk(kind.unsubscribe().as_bytes());
        w.bulk(name);
        w.integer(count as i64);
    }
    if !subs.active() {
        subs.sink = None;
    }
    subs.publish_counts();
}

/// PUBSUB CHANNELS/SHARDCHANNELS/NUMSUB/SHARDNUMSUB/NUMPAT over every shard master.
async fn introspect(shared: &Shared, session: &Session, args: &[Bytes], w: &mut ReplyWriter) {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let mut cmd = BytesMut::new();
    let cmd = crate::split::encode_command(&mut cmd, args);
    let pools: Vec<_> = {
        let routes = shared.router.routes();
        let mut seen = HashSet::new();
        (0..routes.table.shards.len())
            .map(|i| routes.shard_pool(i).clone())
            .filter(|p| seen.insert(p.addr().to_string()))
            .collect()
    };
    let mut receivers = Vec::with_capacity(pools.len());
    for pool in &pools {
        receivers.push((pool.addr().to_string(), pool.send(false, session.id, cmd.clone()).await));
    }
    let mut replies = Vec::with_capacity(receivers.len());
    for (addr, rx) in receivers {
        let reply = match rx.await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(
                crate::backend::Failure::NotSent(why) | crate::backend::Failure::Unknown(why),
            )) => {
                w.error(&format!("TRYAGAIN the backend {addr} did not answer: {why}"));
                return;
            }
            Err(_) => {
                w.error(&format!("TRYAGAIN the backend {addr} did not answer"));
                return;
            }
        };
        let mut buf = BytesMut::from(&reply[..]);
        match Frame::parse(&mut buf, &FrameLimits::default()) {
            Ok(Some(Frame::Error(text))) => {
                w.error(&String::from_utf8_lossy(&text));
                return;
            }
            Ok(Some(frame)) => replies.push((addr, frame)),
            _ => {
                w.error(&format!("ERR the backend {addr} sent a reply the proxy cannot read"));
                return;
            }
        }
    }
    let hub = &session.pubsub.hub;
    match sub.as_str() {
        "channels" | "shardchannels" => {
            let mut seen = HashSet::new();
            let mut all = Vec::new();
            for (_, frame) in &replies {
                if let Frame::Array(items) = frame {
                    for item in items {
                        if let Frame::Bulk(c) = item {
                            if seen.insert(c.clone()) {
                                all.push(c.clone());
                            }
                        }
                    }
                }
            }
            w.array(all.len());
            for c in &all {
                w.bulk(c);
            }
        }
        "numsub" | "shardnumsub" => {
            let kind = if sub == "numsub" { Kind::Channel } else { Kind::Shard };
            let names = &args[2..];
            let mut totals = vec![0i64; names.len()];
            for (_, frame) in &replies {
                if let Frame::Array(items) = frame {
                    for (i, pair) in items.chunks(2).enumerate().take(names.len()) {
                        if let [_, Frame::Integer(n)] = pair {
                            totals[i] += n;
                        }
                    }
                }
            }
            // This proxy's link counts once where it is placed; its clients count each.
            // An array of pairs, as Redis 7 sends it in RESP3 too.
            let s = hub.state();
            w.array(names.len() * 2);
            for (name, total) in names.iter().zip(totals) {
                let (links, clients) = s.topics[kind as usize].get(name).map_or((0, 0), |t| {
                    (t.placed.iter().filter(|(_, ok)| *ok).count(), t.clients.len())
                });
                w.bulk(name);
                w.integer((total - links as i64).max(0) + clients as i64);
            }
        }
        "numpat" => {
            let most = replies
                .iter()
                .filter_map(|(_, f)| match f {
                    Frame::Integer(n) => Some(*n),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            let own = hub.state().topics[Kind::Pattern as usize].len() as i64;
            w.integer(most.max(own));
        }
        _ => w.error(&protocol::redis_text::unknown_subcommand("pubsub", &args[1])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pongs_are_told_from_confirmations() {
        let pong = Frame::Array(vec![Frame::Bulk("pong".into()), Frame::Bulk("".into())]);
        assert!(is_pong(&pong));
        let sub = Frame::Array(vec![
            Frame::Bulk("subscribe".into()),
            Frame::Bulk("pong".into()),
            Frame::Integer(1),
        ]);
        assert!(!is_pong(&sub));
    }

    #[test]
    fn keyspace_notifications_come_from_the_keys_shard() {
        let slot = |n: &str| key_hash_slot(n.as_bytes());
        assert_eq!(source(Kind::Channel, b"news"), Source::Slot(slot("news")));
        assert_eq!(source(Kind::Shard, b"{t}x"), Source::Slot(slot("t")));
        assert_eq!(source(Kind::Pattern, b"news.*"), Source::Everywhere);
        assert_eq!(source(Kind::Channel, b"__keyspace@0__:foo"), Source::Slot(slot("foo")));
        assert_eq!(source(Kind::Channel, b"__keyspace@0__:{u}:1"), Source::Slot(slot("u")));
        assert_eq!(source(Kind::Channel, b"__keyevent@0__:del"), Source::Everywhere);
        // Only ordinary channels are keyspace notifications.
        let shard = b"__keyspace@0__:foo";
        assert_eq!(source(Kind::Shard, shard), Source::Slot(key_hash_slot(shard)));
    }

    #[test]
    fn verbs_name_their_kind_and_direction() {
        assert_eq!(Kind::of_verb(b"SUBSCRIBE"), Some((Kind::Channel, true)));
        assert_eq!(Kind::of_verb(b"punsubscribe"), Some((Kind::Pattern, false)));
        assert_eq!(Kind::of_verb(b"ssubscribe"), Some((Kind::Shard, true)));
        assert_eq!(Kind::of_verb(b"message"), None);
    }
}
