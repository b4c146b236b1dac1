//! The server: shared state, the accept loop, background tasks and graceful shutdown.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::client::ClientRegistry;
use crate::config::Config;
use crate::connection;
use crate::error::Result;
use crate::state::State;

/// How long connections get to finish after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Connection-level counters (outside the command lock).
#[derive(Debug, Default)]
pub struct NetStats {
    pub connections_received: std::sync::atomic::AtomicU64,
    pub rejected_connections: std::sync::atomic::AtomicU64,
    pub net_input_bytes: std::sync::atomic::AtomicU64,
    pub net_output_bytes: std::sync::atomic::AtomicU64,
}

/// State shared by every connection and background task.
pub struct Server {
    state: Mutex<State>,
    config: RwLock<Config>,
    pub clients: ClientRegistry,
    pub net: NetStats,
    pub started: Instant,
    /// A random 40-hex-digit id of this process run (INFO `run_id`).
    pub run_id: String,
    /// The port actually bound (INFO `tcp_port`, CLUSTER answers).
    pub port: u16,
    shutdown: watch::Sender<bool>,
}

impl Server {
    pub fn new(config: Config, port: u16) -> Arc<Server> {
        let (shutdown, _) = watch::channel(false);
        let run_id = (0..40).map(|_| format!("{:x}", rand::random::<u8>() & 0xf)).collect();
        Arc::new(Server {
            state: Mutex::new(State::new()),
            config: RwLock::new(config),
            clients: ClientRegistry::default(),
            net: NetStats::default(),
            started: Instant::now(),
            run_id,
            port,
            shutdown,
        })
    }

    /// Takes the command lock. A panic inside a command must not wedge the server, so a
    /// poisoned lock is recovered (the panicking command's partial effects are what Redis would
    /// also have left after an assertion, but Redis would have exited).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> RwLockReadGuard<'_, Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn update_config<T>(&self, f: impl FnOnce(&mut Config) -> T) -> T {
        f(&mut self.config.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// Begins a graceful shutdown (SHUTDOWN, signals).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Serves clients on `listeners` until `shutdown` completes or a client sends SHUTDOWN.
/// This is the entry point of the binary and of in-process tests alike.
pub async fn run(
    listeners: Vec<TcpListener>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let port =
        listeners.first().and_then(|l| l.local_addr().ok()).map_or(config.port, |a| a.port());
    let server = Server::new(config, port);
    serve(server, listeners, shutdown).await
}

/// Like [`run`], with a server made by the caller (tests inspect it).
pub async fn serve(
    server: Arc<Server>,
    listeners: Vec<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    for l in &listeners {
        info!(addr = %l.local_addr()?, "partition server listening");
    }
    let mut tasks = JoinSet::new();
    tasks.spawn(crate::expire::active_expiry(server.clone()));
    let mut stop = server.shutdown_signal();
    let mut accepts = JoinSet::new();
    for listener in listeners {
        accepts.spawn(accept_loop(server.clone(), listener));
    }
    tokio::pin!(shutdown);
    tokio::select! {
        _ = &mut shutdown => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    info!("shutting down");
    server.shutdown();
    accepts.abort_all();
    for client in server.clients.all() {
        client.kill();
    }
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while !server.clients.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if !server.clients.is_empty() {
        warn!(
            clients = server.clients.len(),
            "connections still open at the end of the grace period"
        );
    }
    tasks.abort_all();
    Ok(())
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    loop {
        let (socket, addr) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!(cause = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        server.net.connections_received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(connection::handle(server.clone(), socket, addr));
    }
}
