//! One config server: the composition root that ties the Raft node, its storage, the
//! observations and the controllers together, and the entry point [`run`] that the binary and
//! the tests use.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::error::{ClientWriteError, RaftError};
use openraft::ServerState;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::health::Health;
use crate::leadership::Leadership;
use crate::map::{ClusterMap, Command, Response};
use crate::metrics::Metrics;
use crate::network::{HttpNetwork, READ_INDEX_PATH};
use crate::{store, Raft, RaftNode, RaftNodeId};

/// How long a proposal may wait for a quorum before the caller is told "no quorum" (the
/// change may still be applied later: the outcome is unknown).
pub const PROPOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a linearizable read may wait for its quorum round.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// A running config server. Shared by the HTTP handlers and the controllers.
pub struct ConfigNode {
    pub config: Config,
    pub raft: Raft,
    map: watch::Receiver<Arc<ClusterMap>>,
    /// What the leader observed (empty on followers).
    pub health: Health,
    pub leadership: Arc<Leadership>,
    pub metrics: Metrics,
    /// The HTTP client for peers (Raft transport, read-index, health probes).
    pub http: reqwest::Client,
    /// Since when this server leads, and in which term (`None`: it does not lead).
    leading: Mutex<Option<(u64, Instant)>>,
    shutdown: watch::Sender<bool>,
}

impl ConfigNode {
    /// Opens the storage, starts Raft (forming the group on a first start, unless `--join`)
    /// and the background loops.
    pub async fn start(config: Config) -> Result<Arc<ConfigNode>> {
        config.validate().map_err(Error::Config)?;
        std::fs::create_dir_all(&config.dir)?;
        let (log, state_machine) = store::open(&config.dir)?;
        let map = state_machine.subscribe();
        // No proxy: the cluster's HTTP is on a private network, and an operator's HTTP_PROXY
        // must not capture it.
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::Config(format!("http client: {e}")))?;
        let raft_config = config.raft().validate().map_err(|e| Error::Config(e.to_string()))?;
        let raft = Raft::new(
            config.id,
            Arc::new(raft_config),
            HttpNetwork::new(http.clone()),
            log,
            state_machine,
        )
        .await
        .map_err(|e| Error::Fatal(e.to_string()))?;

        if !config.join && !raft.is_initialized().await.map_err(|e| Error::Fatal(e.to_string()))? {
            let members: BTreeMap<RaftNodeId, RaftNode> = config
                .initial_members()
                .iter()
                .map(|(id, addr)| (*id, RaftNode { addr: addr.clone() }))
                .collect();
            // Every member of a fresh group calls this with the same membership, which
            // openraft makes safe; "not allowed" means the group already formed.
            match raft.initialize(members).await {
                Ok(()) => {
                    tracing::info!(peers = ?config.initial_members(), "formed a new Raft group")
                }
                Err(RaftError::APIError(e)) => tracing::debug!(cause = %e, "already initialized"),
                Err(e) => return Err(Error::Fatal(e.to_string())),
            }
        }

        let (shutdown, shutdown_rx) = watch::channel(false);
        let leadership = Leadership::start(raft.clone(), shutdown_rx.clone());
        let node = Arc::new(ConfigNode {
            config,
            raft,
            map,
            health: Health::default(),
            leadership,
            metrics: Metrics::default(),
            http,
            leading: Mutex::new(None),
            shutdown,
        });
        tokio::spawn(track_leadership(node.clone(), shutdown_rx.clone()));
        tokio::spawn(crate::controller::run(node.clone(), shutdown_rx));
        Ok(node)
    }

    /// Stops the background loops and Raft.
    pub async fn stop(&self) {
        self.shutdown.send_replace(true);
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(cause = %e, "raft did not shut down cleanly");
        }
    }

    /// A receiver that turns true when this server stops (long-polls end early).
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// The map as applied on this server (not necessarily the latest committed one: see
    /// [`ConfigNode::linearizable_read`]).
    pub fn map(&self) -> Arc<ClusterMap> {
        self.map.borrow().clone()
    }

    /// A receiver marked changed whenever an applied entry changed the map.
    pub fn subscribe_map(&self) -> watch::Receiver<Arc<ClusterMap>> {
        self.map.clone()
    }

    pub fn is_leader(&self) -> bool {
        self.leading.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Since when this server has led, if it leads.
    pub fn leader_since(&self) -> Option<Instant> {
        self.leading.lock().unwrap_or_else(|e| e.into_inner()).map(|(_, at)| at)
    }

    /// The leader's HTTP address, as Raft's membership knows it.
    pub fn leader_addr(&self) -> Option<String> {
        let metrics = self.raft.metrics().borrow().clone();
        let leader = metrics.current_leader?;
        metrics.membership_config.membership().get_node(&leader).map(|n| n.addr.clone())
    }

    /// `Err(NotLeader)` unless this server leads.
    pub fn require_leader(&self) -> Result<()> {
        if self.is_leader() {
            Ok(())
        } else {
            Err(Error::NotLeader { leader: self.leader_addr() })
        }
    }

    /// Commits `cmd` through Raft and returns what applying it did. A rejection by the map
    /// is `Err(Rejected)`; the map is then unchanged.
    pub async fn propose(&self, cmd: Command) -> Result<Response> {
        match tokio::time::timeout(PROPOSE_TIMEOUT, self.raft.client_write(cmd)).await {
            Err(_) => Err(Error::NoQuorum(
                "the change was not committed in time; it may still be applied".into(),
            )),
            Ok(Ok(written)) => written.data.map_err(Error::Rejected),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Err(Error::NotLeader { leader: f.leader_node.map(|n| n.addr) })
            }
            Ok(Err(e)) => Err(Error::Fatal(e.to_string())),
        }
    }

    /// Makes the next read of [`ConfigNode::map`] linearizable: on the leader by a quorum
    /// round, on a follower by the leader's read index (asked over HTTP) and waiting until
    /// this server has applied up to it.
    pub async fn linearizable_read(&self) -> Result<()> {
        let index = if self.is_leader() {
            self.read_index().await?
        } else {
            let leader = self.leader_addr().ok_or_else(|| Error::NoQuorum("no leader".into()))?;
            let reply = self
                .http
                .get(format!("http://{leader}{READ_INDEX_PATH}"))
                .timeout(READ_TIMEOUT)
                .send()
                .await
                .map_err(|e| Error::NoQuorum(format!("leader {leader}: {e}")))?;
            if !reply.status().is_success() {
                return Err(Error::NoQuorum(format!("leader {leader}: HTTP {}", reply.status())));
            }
            let index: ReadIndex =
                reply.json().await.map_err(|e| Error::NoQuorum(format!("leader {leader}: {e}")))?;
            index.index
        };
        if let Some(index) = index {
            self.raft
                .wait(Some(READ_TIMEOUT))
                .applied_index_at_least(Some(index), "linearizable read")
                .await
                .map_err(|e| Error::NoQuorum(format!("catching up to index {index}: {e}")))?;
        }
        Ok(())
    }

    /// The leader's side of a read index: confirms leadership with a quorum round and answers
    /// the log index a read must wait for.
    pub async fn read_index(&self) -> Result<Option<u64>> {
        match tokio::time::timeout(READ_TIMEOUT, self.raft.get_read_log_id()).await {
            Err(_) => Err(Error::NoQuorum("no quorum answered the read-index round".into())),
            Ok(Ok((read, _applied))) => Ok(read.map(|id| id.index)),
            Ok(Err(RaftError::APIError(_))) => Err(Error::NotLeader { leader: self.leader_addr() }),
            Ok(Err(e)) => Err(Error::Fatal(e.to_string())),
        }
    }
}

/// The body of `GET /raft/read_index`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReadIndex {
    pub index: Option<u64>,
}

/// Follows Raft's metrics: notes when this server starts leading (a new term counts as a new
/// start: the failover wait restarts) and forgets observations when it stops.
async fn track_leadership(node: Arc<ConfigNode>, mut shutdown: watch::Receiver<bool>) {
    let mut metrics = node.raft.metrics();
    loop {
        let (state, term) = {
            let m = metrics.borrow_and_update();
            (m.state, m.current_term)
        };
        let lead = state == ServerState::Leader;
        {
            let mut leading = node.leading.lock().unwrap_or_else(|e| e.into_inner());
            match (*leading, lead) {
                (Some((t, _)), true) if t == term => {}
                (_, true) => {
                    tracing::info!(term, "leading the config service");
                    node.health.clear();
                    *leading = Some((term, Instant::now()));
                }
                (Some(_), false) => {
                    tracing::info!(term, "no longer leading");
                    node.health.clear();
                    *leading = None;
                }
                (None, false) => {}
            }
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

/// Serves one config server on `listener` until `shutdown` completes: the entry point of
/// `rcluster config-service` and of in-process tests.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let node = ConfigNode::start(config).await?;
    tracing::info!(addr = %listener.local_addr()?, id = node.config.id, "config service listening");
    let app = crate::http::router(node.clone());
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    node.stop().await;
    served?;
    Ok(())
}
