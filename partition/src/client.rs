//! Clients as other connections see them: the registry behind CLIENT LIST / CLIENT KILL /
//! INFO clients. Each connection owns its [`Client`] (touched on every command, never shared)
//! and publishes what others may read through a shared [`ClientHandle`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

/// What CLIENT LIST shows of a connection. The owning connection updates it: the name and
/// protocol when commands change them, the last command and buffer sizes once per command or
/// batch. Other command families set their flags here (pub/sub counts, MULTI, replica...).
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub name: String,
    /// CLIENT SETINFO LIB-NAME / LIB-VER (Redis 7.2).
    pub lib_name: String,
    pub lib_ver: String,
    /// CLIENT NO-TOUCH (mirrors [`Client::no_touch`] for CLIENT LIST's `T` flag).
    pub no_touch: bool,
    /// Full name of the last command (`client|list`), `NULL` before the first, as Redis.
    pub last_cmd: &'static str,
    /// Protocol version (2 or 3).
    pub resp: u8,
    /// CLIENT NO-EVICT ON.
    pub no_evict: bool,
    /// Subscribed channels, patterns and shard channels (`sub=`, `psub=`, `ssub=`).
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    /// Commands queued in MULTI, or -1 outside a transaction (`multi=`).
    pub multi: i64,
    /// Blocked in a blocking command (`b` flag; exempt from the idle timeout).
    pub blocked: bool,
    /// A replica's connection (`S` flag, type `replica`; exempt from the idle timeout).
    pub replica: bool,
    /// The connection to our master (`M` flag, type `master`).
    pub master: bool,
    /// In MONITOR mode (`O` flag).
    pub monitor: bool,
    /// READONLY mode (`r` flag).
    pub readonly: bool,
    /// Bytes in the query buffer and free space after them (`qbuf=`, `qbuf-free=`).
    pub qbuf: usize,
    pub qbuf_free: usize,
    /// Bytes of the arguments of the command being run (`argv-mem=`).
    pub argv_mem: usize,
    /// Reply buffer capacity and peak use (`rbs=`, `rbp=`), pending reply bytes (`omem=`).
    pub rbs: usize,
    pub rbp: usize,
    pub omem: usize,
}

impl Default for ClientInfo {
    fn default() -> Self {
        ClientInfo {
            name: String::new(),
            lib_name: String::new(),
            lib_ver: String::new(),
            no_touch: false,
            last_cmd: "NULL",
            resp: 2,
            no_evict: false,
            sub: 0,
            psub: 0,
            ssub: 0,
            multi: -1,
            blocked: false,
            replica: false,
            master: false,
            monitor: false,
            readonly: false,
            qbuf: 0,
            qbuf_free: 0,
            argv_mem: 0,
            rbs: 0,
            rbp: 0,
            omem: 0,
        }
    }
}

/// Client classes of CLIENT LIST TYPE / CLIENT KILL TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

impl ClientType {
    /// Parses a type name as Redis does (`slave` and `replica` are the same).
    pub fn parse(name: &[u8]) -> Option<ClientType> {
        let n = name.to_ascii_lowercase();
        Some(match n.as_slice() {
            b"normal" => ClientType::Normal,
            b"slave" | b"replica" => ClientType::Replica,
            b"pubsub" => ClientType::PubSub,
            b"master" => ClientType::Master,
            _ => return None,
        })
    }
}

impl ClientInfo {
    /// The client's class, as Redis's `getClientType`.
    pub fn client_type(&self) -> ClientType {
        if self.replica && !self.monitor {
            ClientType::Replica
        } else if self.master {
            ClientType::Master
        } else if self.sub + self.psub + self.ssub > 0 {
            ClientType::PubSub
        } else {
            ClientType::Normal
        }
    }

    /// Whether the idle `timeout` applies: Redis spares replicas, masters, blocked clients and
    /// subscribers.
    pub fn timeout_applies(&self) -> bool {
        !self.replica && !self.master && !self.blocked && self.sub + self.psub + self.ssub == 0
    }
}

/// The shared half of a client.
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    /// The socket's file descriptor (`fd=`), -1 where there is none.
    pub fd: i64,
    pub created: Instant,
    /// Milliseconds since `created` of the last command (CLIENT LIST's `idle=`).
    pub last_interaction_ms: AtomicU64,
    pub info: Mutex<ClientInfo>,
    /// Output produced for this client by other connections (Pub/Sub messages, the reply to
    /// a blocking command served by someone else's write).
    pub outbox: Outbox,
    killed: AtomicBool,
    kill_signal: Notify,
}

/// Output buffer limits of one client class (`client-output-buffer-limit`): past `hard` bytes
/// the client is disconnected at once, past `soft` bytes for `soft_secs` seconds too. Zero
/// disables a limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferLimit {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

impl BufferLimit {
    /// The limits of `class` (`normal`, `replica`, `pubsub`) in a `client-output-buffer-limit`
    /// value as the config prints it (`normal 0 0 0 slave 268435456 67108864 60 pubsub …`).
    pub fn parse(value: &str, class: &str) -> BufferLimit {
        let words: Vec<&str> = value.split_whitespace().collect();
        let class = if class == "replica" { "slave" } else { class };
        words
            .chunks(4)
            .find(|c| c.len() == 4 && c[0] == class)
            .map(|c| BufferLimit {
                hard: c[1].parse().unwrap_or(0),
                soft: c[2].parse().unwrap_or(0),
                soft_secs: c[3].parse().unwrap_or(0),
            })
            .unwrap_or_default()
    }
}

/// Bytes other connections queued for a client, bounded by its output buffer limit. The
/// client's connection drains it into its socket; a client that does not read is
/// disconnected at the limit instead of growing the server's memory without bound.
#[derive(Debug, Default)]
pub struct Outbox {
    inner: Mutex<OutboxInner>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct OutboxInner {
    buf: bytes::BytesMut,
    /// Since when the soft limit has been exceeded without a break.
    over_soft_since: Option<Instant>,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, OutboxInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `bytes`. Returns false, queuing nothing, when that would break `limit`: the
    /// caller then disconnects the client, as Redis's `closeClientOnOutputBufferLimitReached`.
    /// `pending` is what the client's connection still holds unsent beyond the outbox.
    pub fn push(&self, bytes: &[u8], limit: BufferLimit, pending: usize) -> bool {
        let mut inner = self.lock();
        let total = inner.buf.len() + bytes.len() + pending;
        if limit.hard > 0 && total > limit.hard {
            return false;
        }
        if limit.soft > 0 && total > limit.soft {
            let since = *inner.over_soft_since.get_or_insert_with(Instant::now);
            if since.elapsed().as_secs() >= limit.soft_secs {
                return false;
            }
        } else {
            inner.over_soft_since = None;
        }
        let was_empty = inner.buf.is_empty();
        inner.buf.extend_from_slice(bytes);
        drop(inner);
        if was_empty {
            self.ready.notify_one();
        }
        true
    }

    /// Takes everything queued.
    pub fn take(&self) -> bytes::BytesMut {
        let mut inner = self.lock();
        let taken = inner.buf.split();
        if inner.buf.capacity() > 64 * 1024 {
            inner.buf = bytes::BytesMut::new();
        }
        taken
    }

    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.lock().buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Completes when something was queued since the last [`Outbox::take`] (or is queued).
    pub async fn ready(&self) {
        self.ready.notified().await
    }
}

/// The approximate fixed memory of a connection beyond its buffers (task, parser, handle),
/// counted in `tot-mem=`.
const CLIENT_BASE_MEM: usize = 2048;

impl ClientHandle {
    fn new(id: u64, addr: SocketAddr, local_addr: SocketAddr, fd: i64) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            local_addr,
            fd,
            created: Instant::now(),
            last_interaction_ms: AtomicU64::new(0),
            info: Mutex::new(ClientInfo::default()),
            outbox: Outbox::default(),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        }
    }

    /// Asks the connection to close (CLIENT KILL, idle timeout, shutdown).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_signal.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Completes when [`ClientHandle::kill`] is called.
    pub async fn killed(&self) {
        if self.is_killed() {
            return;
        }
        self.kill_signal.notified().await
    }

    /// The published state; a poisoned lock is recovered (it only holds plain data).
    pub fn info(&self) -> MutexGuard<'_, ClientInfo> {
        self.info.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client's name (empty when none).
    pub fn name(&self) -> String {
        self.info().name.clone()
    }

    pub fn touch(&self) {
        self.last_interaction_ms
            .store(self.created.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Milliseconds since the last command.
    pub fn idle_ms(&self) -> u64 {
        let last = self.last_interaction_ms.load(Ordering::Relaxed);
        (self.created.elapsed().as_millis() as u64).saturating_sub(last)
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        self.idle_ms() / 1000
    }

    /// Seconds since the connection was accepted.
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// Appends this client's CLIENT LIST / CLIENT INFO line (with its trailing `\n`), with
    /// Redis 7.0's fields in Redis's order.
    pub fn write_info_line(&self, out: &mut String) {
        let i = self.info().clone();
        let mut flags = String::new();
        if i.replica {
            flags.push(if i.monitor { 'O' } else { 'S' });
        }
        if i.master {
            flags.push('M');
        }
        if i.sub + i.psub + i.ssub > 0 {
            flags.push('P');
        }
        if i.multi >= 0 {
            flags.push('x');
        }
        if i.blocked {
            flags.push('b');
        }
        if self.is_killed() {
            flags.push('A');
        }
        if i.readonly {
            flags.push('r');
        }
        if i.no_evict {
            flags.push('e');
        }
        if i.no_touch {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let tot_mem = CLIENT_BASE_MEM + i.qbuf + i.qbuf_free + i.argv_mem + i.rbs + i.omem;
        let _ = writeln!(
            out,
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub={} psub={} \
             ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp={} obl={} \
             oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} \
             lib-ver={}",
            self.id,
            self.addr,
            self.local_addr,
            self.fd,
            i.name,
            self.age_secs(),
            self.idle_secs(),
            flags,
            i.sub,
            i.psub,
            i.ssub,
            i.multi,
            i.qbuf,
            i.qbuf_free,
            i.argv_mem,
            i.rbs,
            i.rbp,
            0,
            i.omem,
            tot_mem,
            i.last_cmd,
            i.resp,
            i.lib_name,
            i.lib_ver,
        );
    }
}

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    /// Signalled whenever the last client leaves (graceful shutdown waits on it).
    emptied: Notify,
}

impl ClientRegistry {
    fn map(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<ClientHandle>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection; `None` when `maxclients` are already connected.
    pub fn register(
        &self,
        addr: SocketAddr,
        local_addr: SocketAddr,
        fd: i64,
        maxclients: usize,
    ) -> Option<Arc<ClientHandle>> {
        let mut clients = self.map();
        if clients.len() >= maxclients {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle::new(id, addr, local_addr, fd));
        clients.insert(id, handle.clone());
        Some(handle)
    }

    pub fn unregister(&self, id: u64) {
        let mut clients = self.map();
        clients.remove(&id);
        if clients.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Completes once no client is registered.
    pub async fn wait_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            // Register interest before checking, so an unregister in between is not missed.
            emptied.as_mut().enable();
            if self.is_empty() {
                return;
            }
            emptied.await;
        }
    }

    /// A snapshot of all clients, in id order (connection order, as Redis lists them).
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.map().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.map().get(&id).cloned()
    }
}

/// How replies are sent (CLIENT REPLY ON|OFF|SKIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skip the reply of the command being executed (SKIP became active).
    Skip,
}

/// The connection-local half of a client: state only its own connection touches.
#[derive(Debug)]
pub struct Client {
    pub handle: Arc<ClientHandle>,
    /// False while `requirepass` is set and the client has not authenticated.
    pub authenticated: bool,
    /// Close the connection once pending replies are written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Close the connection at once, without sending what is pending (SHUTDOWN).
    pub close_now: bool,
    pub reply_mode: ReplyMode,
    /// CLIENT NO-TOUCH ON: reads by this client leave keys' LRU/LFU as they were (TOUCH
    /// still touches). Kept here, not only in [`ClientInfo`], because every read consults it.
    pub no_touch: bool,
    /// Set by a blocking command that found nothing to pop: the connection parks the client
    /// on these keys (see [`crate::blocking`]).
    pub block: Option<crate::blocking::BlockRequest>,
    /// True while EXEC runs the queued commands: blocking commands then time out at once.
    pub in_exec: bool,
    /// The open transaction (MULTI … EXEC).
    pub multi: Option<Multi>,
    /// Keys this client WATCHes.
    pub watching: Vec<Vec<u8>>,
    /// Pub/Sub subscriptions.
    pub subscriptions: Subscriptions,
    /// The write-log offset this client's pending replies must wait for while replies are
    /// gated (see [`crate::in_flight`]); 0: none.
    pub reply_needs: u64,
    /// Authenticated with the cluster's secret (RCLUSTER AUTH): the control plane.
    pub internal: bool,
    /// READONLY (cluster mode): a replica serves this connection's reads instead of
    /// redirecting them to its master.
    pub readonly: bool,
    /// REPLCONF listening-port: the port a replica serves on.
    pub repl_listening_port: Option<u16>,
    /// REPLCONF ip-address: the address a replica announced.
    pub repl_ip_address: Option<String>,
    /// Set by PSYNC: once the batch is done, the connection becomes this replica's stream.
    pub psync: Option<crate::replication::master::PsyncRequest>,
    /// Set by WAIT: the connection waits for replicas before going on.
    pub wait: Option<crate::replication::WaitRequest>,
    /// Commands come from a source the server must follow, not judge (the AOF being loaded,
    /// a replica's master): no OOM or disk-error refusal, as Redis's `mustObeyClient`.
    pub obey: bool,
}

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct Multi {
    pub queue: Vec<Vec<bytes::Bytes>>,
    /// A command was refused while queuing: EXEC will answer EXECABORT.
    pub failed: bool,
}

/// One client's channels, patterns and shard channels.
#[derive(Debug, Default)]
pub struct Subscriptions {
    pub channels: std::collections::HashSet<bytes::Bytes, ahash::RandomState>,
    pub patterns: std::collections::HashSet<bytes::Bytes, ahash::RandomState>,
    pub shard: std::collections::HashSet<bytes::Bytes, ahash::RandomState>,
}

impl Subscriptions {
    /// True in Pub/Sub mode (any subscription at all).
    pub fn active(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shard.is_empty()
    }
}

impl Client {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        Client {
            handle,
            authenticated,
            close_after_reply: false,
            no_touch: false,
            close_now: false,
            reply_mode: ReplyMode::On,
            block: None,
            in_exec: false,
            multi: None,
            watching: Vec::new(),
            subscriptions: Subscriptions::default(),
            reply_needs: 0,
            internal: false,
            readonly: false,
            repl_listening_port: None,
            repl_ip_address: None,
            psync: None,
            wait: None,
            obey: false,
        }
    }

    /// A client that is not a connection: the AOF loader, a replica's link to its master.
    /// It is not registered, so CLIENT LIST does not show it.
    pub fn internal() -> Self {
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        let handle = Arc::new(ClientHandle::new(0, unspecified, unspecified, -1));
        let mut client = Client::new(handle, true);
        client.obey = true;
        client
    }

    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// RESET: back to a fresh connection's state (Redis's `clearClientConnectionState`):
    /// RESP2, no name, replies on, authenticated only if no password is required. Families
    /// with per-connection state (MULTI, subscriptions, READONLY) clear theirs here too.
    pub fn reset(&mut self, password_required: bool) {
        self.authenticated = !password_required;
        self.reply_mode = ReplyMode::On;
        self.no_touch = false;
        self.readonly = false;
        let mut info = self.handle.info();
        info.name.clear();
        info.no_touch = false;
        info.resp = 2;
        info.readonly = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn registry_refuses_beyond_maxclients_and_reuses_no_ids() {
        let r = ClientRegistry::default();
        let a = r.register(addr(1), addr(2), 5, 2).unwrap();
        let b = r.register(addr(3), addr(2), 6, 2).unwrap();
        assert!(r.register(addr(4), addr(2), 7, 2).is_none());
        r.unregister(a.id);
        let c = r.register(addr(4), addr(2), 7, 2).unwrap();
        assert!(c.id > b.id);
    }

    #[test]
    fn info_line_has_redis_fields_in_order() {
        let r = ClientRegistry::default();
        let h = r.register(addr(5000), addr(7000), 9, 10).unwrap();
        h.info().name = "app".into();
        let mut line = String::new();
        h.write_info_line(&mut line);
        let keys: Vec<&str> =
            line.trim_end().split(' ').map(|kv| kv.split('=').next().unwrap()).collect();
        assert_eq!(
            keys.join(" "),
            "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free \
             argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp \
             lib-name lib-ver"
        );
        assert!(line.starts_with(&format!(
            "id={} addr=127.0.0.1:5000 laddr=127.0.0.1:7000 fd=9 name=app ",
            h.id
        )));
        assert!(line.ends_with(" cmd=NULL user=default redir=-1 resp=2 lib-name= lib-ver=\n"));
    }

    #[tokio::test]
    async fn wait_empty_wakes_when_the_last_client_leaves() {
        let r = Arc::new(ClientRegistry::default());
        let h = r.register(addr(1), addr(2), 3, 10).unwrap();
        let waiter = tokio::spawn({
            let r = r.clone();
            async move { r.wait_empty().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        r.unregister(h.id);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap();
    }
}
