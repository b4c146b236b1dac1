//! The proxy's shared state, the accept loop and graceful shutdown; [`run`] is the entry point
//! of the binary and of in-process tests.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::backend::Settings;
use crate::clients::Registry;
use crate::config::Config;
use crate::dedicated::Idle;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::router::Router;

/// What every connection of the proxy shares.
pub struct Shared {
    pub config: Config,
    pub router: Router,
    /// The address clients know the proxy by (`host:port`).
    pub announce: String,
    /// Its CLUSTER node id: 40 hex digits derived from `announce`, stable across restarts.
    pub node_id: String,
    /// Connected clients.
    pub clients: AtomicUsize,
    pub metrics: Metrics,
    /// Dedicated connections kept for the next transaction.
    pub idle: Idle,
    /// Every connected client, for CLIENT LIST/INFO/KILL.
    pub registry: Arc<Registry>,
    /// One permit per dedicated connection of a blocking command (`--max-blocking-connections`).
    pub blocking: Semaphore,
    /// Every subscription of the proxy's clients and the backend links carrying them.
    pub pubsub: Arc<crate::pubsub::Hub>,
    /// Ordinary clients disconnected at `--client-output-buffer-limit-normal`.
    pub output_cuts: AtomicU64,
    /// When the proxy started (INFO's uptime).
    pub started: Instant,
    next_client_id: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub fn new(config: Config, announce: String) -> Arc<Shared> {
        let settings = Settings {
            connections: config.backend_connections,
            max_in_flight: config.backend_max_in_flight,
            password: config.backend_password.as_deref().map(Arc::from),
            readonly: false,
        };
        let idle = Idle::new(config.backend_password.clone());
        Arc::new(Shared {
            blocking: Semaphore::new(config.max_blocking_connections),
            pubsub: crate::pubsub::Hub::new(
                config.client_output_buffer_limit_pubsub,
                settings.password.clone(),
            ),
            router: Router::new(settings),
            node_id: node_id(&announce),
            announce,
            config,
            clients: AtomicUsize::new(0),
            metrics: Metrics::new(),
            registry: Arc::new(Registry::default()),
            idle,
            output_cuts: AtomicU64::new(0),
            started: Instant::now(),
            next_client_id: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
        })
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Clients blocked in a blocking command (dedicated connections in use).
    pub fn blocked_clients(&self) -> usize {
        self.config.max_blocking_connections - self.blocking.available_permits()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// 40 hex digits from an address (FNV-1a, widened): Redis Cluster node ids are that long.
fn node_id(addr: &str) -> String {
    let mut out = String::with_capacity(40);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for round in 0u8..3 {
        for &b in addr.as_bytes().iter().chain(std::iter::once(&round)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out.truncate(40);
    out
}

/// How long connections get to finish after the shutdown signal.
const GRACE: Duration = Duration::from_secs(2);

/// Serves clients on `listener` until `shutdown` completes: loads the routing file or starts
/// following the config service, serves `/metrics` on `--metrics-port` if set, then accepts.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    config.validate().map_err(Error::Config)?;
    let metrics = match config.metrics_addr() {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
            Error::Config(format!("cannot listen on {}:{} for metrics: {e}", addr.0, addr.1))
        })?),
        None => None,
    };
    run_with(listener, metrics, config, shutdown).await
}

/// [`run`] with the `/metrics` listener given (bound by the caller, e.g. on port 0 in tests)
/// instead of bound from `--metrics-port`.
pub async fn run_with(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    config.validate().map_err(Error::Config)?;
    let local = listener.local_addr()?;
    let announce = config.announce.clone().unwrap_or_else(|| local.to_string());
    let shared = Shared::new(config, announce);
    let mut background = JoinSet::new();
    if let Some(path) = &shared.config.routing_file {
        let table = crate::control::load_routing_file(path)?;
        shared.router.install(table).map_err(|e| Error::Config(e.to_string()))?;
    } else {
        let http = crate::control::http_client()?;
        let endpoints = shared.config.config_endpoints.clone();
        background.spawn(crate::control::poll_routing(
            shared.clone(),
            http.clone(),
            endpoints.clone(),
        ));
        background.spawn(crate::control::heartbeat(shared.clone(), http, endpoints));
    }
    background.spawn(crate::pubsub::maintain(shared.clone()));
    if let Some(metrics) = metrics {
        info!(addr = %metrics.local_addr()?, "metrics listening");
        background.spawn(crate::ops::serve(shared.clone(), metrics));
    }
    info!(addr = %local, announce = %shared.announce, "proxy listening");
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (mut socket, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors and the like: pause instead of spinning.
                        warn!(cause = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = socket.set_nodelay(true);
                if shared.clients.fetch_add(1, Ordering::Relaxed) >= shared.config.maxclients {
                    shared.clients.fetch_sub(1, Ordering::Relaxed);
                    tokio::spawn(async move {
                        let _ = socket.write_all(b"-ERR max number of clients reached\r\n").await;
                    });
                    continue;
                }
                let s = shared.clone();
                connections.spawn(async move {
                    crate::client::handle(&s, socket, peer).await;
                    s.clients.fetch_sub(1, Ordering::Relaxed);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    info!("proxy shutting down");
    drop(listener);
    shared.shutdown.send_replace(true);
    let _ = tokio::time::timeout(GRACE, async { while connections.join_next().await.is_some() {} })
        .await;
    connections.abort_all();
    background.abort_all();
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_ids_are_40_hex_digits_and_differ() {
        let a = super::node_id("127.0.0.1:6379");
        assert_eq!(a.len(), 40);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, super::node_id("127.0.0.1:6380"));
    }
}
