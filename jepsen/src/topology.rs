//! Who is who right now: each shard's master and replicas, and the config service's leader, as
//! the cluster map says, named by compose service (`partition-3`, `config-1`). Nemeses read it
//! to pick their targets.

use admin_api::AdminClient;
use protocol::addr::split_host_port;

use crate::error::{Error, Result};

/// One shard's servers, by service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardServers {
    pub id: u32,
    pub master: String,
    pub replicas: Vec<String>,
}

/// The roles of the cluster's services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub shards: Vec<ShardServers>,
    /// The config service's leader, when one is known.
    pub config_leader: Option<String>,
}

impl Topology {
    /// Every shard master.
    pub fn masters(&self) -> Vec<String> {
        self.shards.iter().map(|s| s.master.clone()).collect()
    }

    /// Every replica.
    pub fn replicas(&self) -> Vec<String> {
        self.shards.iter().flat_map(|s| s.replicas.iter().cloned()).collect()
    }
}

/// Reads the topology from the config service.
pub async fn read(admin: &AdminClient) -> Result<Topology> {
    let view = admin.cluster().await.map_err(|e| Error::Cluster(format!("admin API: {e}")))?;
    let shards = view
        .shards
        .iter()
        .map(|s| ShardServers {
            id: s.id,
            master: service_of(&s.master.addr),
            replicas: s.replicas.iter().map(|r| service_of(&r.addr)).collect(),
        })
        .collect();
    let config_leader = view.raft.leader.and_then(|leader| {
        view.raft.members.iter().find(|m| m.id == leader).map(|m| service_of(&m.addr))
    });
    Ok(Topology { shards, config_leader })
}

/// The compose service behind an announced `host:port` (the host is the service name).
fn service_of(addr: &str) -> String {
    split_host_port(addr).map_or_else(|| addr.to_string(), |(host, _)| host.to_string())
}
