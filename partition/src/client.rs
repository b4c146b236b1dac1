//! Clients as other connections see them: the registry behind CLIENT LIST / CLIENT KILL /
//! INFO clients. Each connection owns its [`Client`] (touched on every command, never shared)
//! and publishes what others may read through a shared [`ClientHandle`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

/// What CLIENT LIST shows of a connection, updated by its owner once per batch of commands.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub name: String,
    pub lib_name: String,
    pub lib_ver: String,
    /// Last command name (lower case), as CLIENT LIST's `cmd=`.
    pub last_cmd: String,
    pub resp: u8,
    pub no_evict: bool,
    pub no_touch: bool,
}

/// The shared half of a client.
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub created: Instant,
    /// Milliseconds since `created` of the last command (CLIENT LIST's `idle=`).
    pub last_interaction_ms: AtomicU64,
    pub info: Mutex<ClientInfo>,
    killed: AtomicBool,
    kill_signal: Notify,
}

impl ClientHandle {
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

    pub fn touch(&self) {
        self.last_interaction_ms
            .store(self.created.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        let last = self.last_interaction_ms.load(Ordering::Relaxed);
        (self.created.elapsed().as_millis() as u64).saturating_sub(last) / 1000
    }
}

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
}

impl ClientRegistry {
    /// Registers a new connection; `None` when `maxclients` are already connected.
    pub fn register(
        &self,
        addr: SocketAddr,
        local_addr: SocketAddr,
        maxclients: usize,
    ) -> Option<Arc<ClientHandle>> {
        let mut clients = self.clients.lock().expect("client registry poisoned");
        if clients.len() >= maxclients {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            local_addr,
            created: Instant::now(),
            last_interaction_ms: AtomicU64::new(0),
            info: Mutex::new(ClientInfo { resp: 2, ..Default::default() }),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        });
        clients.insert(id, handle.clone());
        Some(handle)
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().expect("client registry poisoned").remove(&id);
    }

    pub fn len(&self) -> usize {
        self.clients.lock().expect("client registry poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of all clients, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().expect("client registry poisoned").values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().expect("client registry poisoned").get(&id).cloned()
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
    pub reply_mode: ReplyMode,
}

impl Client {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        Client { handle, authenticated, close_after_reply: false, reply_mode: ReplyMode::On }
    }

    pub fn id(&self) -> u64 {
        self.handle.id
    }
}
