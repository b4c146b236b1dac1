//! The config service's settings: command-line flags (clap) and their checks.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::RaftNodeId;

/// How partition servers replicate, as far as failover is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationMode {
    /// Promote only from the in-sync set: no acknowledged write is ever lost.
    Sync,
    /// Redis's behaviour: promote the healthy replica with the highest offset (may lose the
    /// replica's lag).
    Async,
}

impl From<ReplicationMode> for protocol::heartbeat::Replication {
    fn from(mode: ReplicationMode) -> Self {
        match mode {
            ReplicationMode::Sync => protocol::heartbeat::Replication::Sync,
            ReplicationMode::Async => protocol::heartbeat::Replication::Async,
        }
    }
}

/// `rcluster config-service …`
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// This server's id in the Raft group; must be one of `--peers`.
    #[arg(long)]
    pub id: RaftNodeId,
    /// The address to serve HTTP on (API and Raft transport).
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: String,
    /// The Raft group as `id=host:port,…` (this server included). With only itself, or none:
    /// a single-node service for development. The address is the one the others reach it at.
    #[arg(long, value_delimiter = ',', value_parser = parse_peer)]
    pub peers: Vec<(RaftNodeId, String)>,
    /// The data directory (Raft log, vote, snapshots).
    #[arg(long, default_value = "./data/config")]
    pub dir: PathBuf,
    /// Join an existing group instead of forming one: start empty and wait to be added
    /// through `POST /v1/raft/members`.
    #[arg(long)]
    pub join: bool,
    /// Form the cluster automatically once this many shards' worth (×2) of partition
    /// servers have registered.
    #[arg(long)]
    pub init_shards: Option<u32>,
    /// The plan `--init-shards` forms the cluster from (its per-shard maxmemory); the shard
    /// count is still `--init-shards`.
    #[arg(long)]
    pub init_plan: Option<String>,
    /// How often partition servers and proxies heartbeat (told to them only through their own
    /// flags; used here to judge health).
    #[arg(long, default_value_t = 100)]
    pub heartbeat_ms: u64,
    /// A master's lease, counted from when it sent the heartbeat that earned it.
    #[arg(long, default_value_t = 1000)]
    pub lease_ms: u64,
    /// A master silent for this long is failed over. Must exceed the lease with margin.
    #[arg(long, default_value_t = 1500)]
    pub failover_after_ms: u64,
    /// The cluster's replication mode: which replicas a failover may promote, and — sent to
    /// every partition server with its assignment — whether masters wait for their in-sync
    /// replicas before acknowledging a write.
    #[arg(long, value_enum, default_value = "sync")]
    pub replication: ReplicationMode,
    /// Raft's election timeout, lower bound (the upper bound is twice it).
    #[arg(long, default_value_t = 300)]
    pub election_timeout_ms: u64,
    /// Log entries kept after a snapshot; a snapshot is taken every this many entries.
    #[arg(long, default_value_t = 1000)]
    pub snapshot_every: u64,
}

fn parse_peer(text: &str) -> Result<(RaftNodeId, String), String> {
    let (id, addr) = text.split_once('=').ok_or_else(|| format!("{text:?} is not id=host:port"))?;
    let id = id.parse().map_err(|_| format!("{id:?} is not a node id"))?;
    match protocol::addr::split_host_port(addr) {
        Some(_) => Ok((id, addr.to_string())),
        None => Err(format!("{addr:?} is not host:port")),
    }
}

/// How much faster a partition server's clock may run than the leader's before the lease
/// argument breaks: leases must expire before `failover_after_ms` even then.
pub const CLOCK_RATE_SLACK: f64 = 0.05;
/// Margin on top of the lease, for scheduling delays between noticing silence and committing.
pub const LEASE_MARGIN_MS: u64 = 100;

impl Config {
    /// A config for tests and `rcluster local`: every default, the given identity.
    pub fn new(
        id: RaftNodeId,
        listen: String,
        peers: Vec<(RaftNodeId, String)>,
        dir: PathBuf,
    ) -> Self {
        Config {
            id,
            listen,
            peers,
            dir,
            join: false,
            init_shards: None,
            init_plan: None,
            heartbeat_ms: 100,
            lease_ms: 1000,
            failover_after_ms: 1500,
            replication: ReplicationMode::Sync,
            election_timeout_ms: 300,
            snapshot_every: 1000,
        }
    }

    /// Checks what clap cannot: the safety inequality of DESIGN.md (`failover_after_ms >
    /// lease_ms × (1 + slack) + margin`), the peers list, the timings.
    pub fn validate(&self) -> Result<(), String> {
        let floor = (self.lease_ms as f64 * (1.0 + CLOCK_RATE_SLACK)) as u64 + LEASE_MARGIN_MS;
        if self.failover_after_ms <= floor {
            return Err(format!(
                "--failover-after-ms {} must exceed --lease-ms {} × {} + {LEASE_MARGIN_MS} = {floor}: \
                 otherwise a cut-off master could still hold a lease when it is replaced",
                self.failover_after_ms,
                self.lease_ms,
                1.0 + CLOCK_RATE_SLACK
            ));
        }
        if self.heartbeat_ms == 0 || self.heartbeat_ms * 2 > self.lease_ms {
            return Err(format!(
                "--heartbeat-ms {} must be positive and at most half of --lease-ms {}",
                self.heartbeat_ms, self.lease_ms
            ));
        }
        if self.election_timeout_ms < 50 {
            return Err("--election-timeout-ms must be at least 50".into());
        }
        let mut seen = BTreeMap::new();
        for (id, addr) in &self.peers {
            if seen.insert(*id, addr).is_some() {
                return Err(format!("--peers lists id {id} twice"));
            }
        }
        if !self.join && !self.peers.is_empty() && !seen.contains_key(&self.id) {
            return Err(format!("--peers must include this server's --id {}", self.id));
        }
        if self.init_shards == Some(0) {
            return Err("--init-shards must be at least 1".into());
        }
        Ok(())
    }

    /// The members a fresh group forms with: `--peers`, or this server alone at `--listen`.
    pub fn initial_members(&self) -> Vec<(RaftNodeId, String)> {
        if self.peers.is_empty() {
            vec![(self.id, self.listen.clone())]
        } else {
            self.peers.clone()
        }
    }

    /// The address the other members reach this server at: its entry in `--peers`, else
    /// `--listen`.
    pub fn advertised(&self) -> String {
        self.peers
            .iter()
            .find(|(id, _)| *id == self.id)
            .map_or_else(|| self.listen.clone(), |(_, addr)| addr.clone())
    }

    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    pub fn failover_after(&self) -> Duration {
        Duration::from_millis(self.failover_after_ms)
    }

    /// A server heard from within this long counts as healthy (five heartbeats, at most
    /// `failover_after_ms`).
    pub fn healthy_within(&self) -> Duration {
        Duration::from_millis((self.heartbeat_ms * 5).min(self.failover_after_ms))
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    /// openraft's settings derived from ours.
    pub fn raft(&self) -> openraft::Config {
        openraft::Config {
            cluster_name: "rcluster-config".into(),
            heartbeat_interval: (self.election_timeout_ms / 3).max(10),
            election_timeout_min: self.election_timeout_ms,
            election_timeout_max: self.election_timeout_ms * 2,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.snapshot_every,
            install_snapshot_timeout: 2000,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::new(1, "127.0.0.1:9000".into(), vec![(1, "127.0.0.1:9000".into())], "d".into())
    }

    #[test]
    fn the_defaults_are_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn failover_must_wait_out_the_lease() {
        let mut c = config();
        c.failover_after_ms = 1100;
        let e = c.validate().unwrap_err();
        assert!(e.contains("must exceed"), "{e}");
        c.failover_after_ms = 1151;
        c.validate().unwrap();
    }

    #[test]
    fn peers_are_checked() {
        let mut c = config();
        c.peers = vec![];
        c.validate().unwrap();
        assert_eq!(c.initial_members(), vec![(1, "127.0.0.1:9000".to_string())]);
        c.peers = vec![(2, "h:1".into())];
        assert!(c.validate().unwrap_err().contains("must include"));
        c.join = true;
        c.validate().unwrap();
        c.peers = vec![(1, "h:1".into()), (1, "h:2".into())];
        assert!(c.validate().unwrap_err().contains("twice"));
        assert_eq!(parse_peer("3=h:9002"), Ok((3, "h:9002".into())));
        assert!(parse_peer("h:9002").is_err());
        assert!(parse_peer("x=h:1").is_err());
        assert!(parse_peer("1=h").is_err());
    }
}
