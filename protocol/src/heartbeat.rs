//! Heartbeats: what partition servers and proxies tell the config leader every `heartbeat_ms`,
//! and what it answers (DESIGN.md, "Roles, leases and failover").
//!
//! A partition server's heartbeat reports what is in force on it; the reply says what it must
//! be. For a master the reply carries a **lease** of `lease_ms`, which the server counts from
//! the instant it *sent* the heartbeat — never from when the reply arrived — so that the
//! config leader, which counts its failover timeout from when it *received* the heartbeat, can
//! only ever replace a master whose lease has run out.

use serde::{Deserialize, Serialize};

use crate::routing::{RoutingTable, SlotRange};

/// Where partition servers send heartbeats.
pub const PARTITION_PATH: &str = "/v1/heartbeat/partition";
/// Where proxies send heartbeats.
pub const PROXY_PATH: &str = "/v1/heartbeat/proxy";

/// A partition server's report.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionHeartbeat {
    /// Its RESP address as the rest of the cluster reaches it (`host:port`): its identity. The
    /// first heartbeat from a new address registers the server.
    pub addr: String,
    /// The role in force on the server.
    pub role: ReportedRole,
    /// Its replication offset: for a master the end of its write stream, for a replica how far
    /// it has applied its master's stream.
    pub offset: u64,
    /// The replication id its offset belongs to (offsets of different histories do not
    /// compare).
    #[serde(default)]
    pub replid: String,
    #[serde(default)]
    pub used_memory: u64,
    #[serde(default)]
    pub keys: u64,
    /// A master that came back from a restart: it found its master role on disk and has been
    /// granted no lease since it started. Its data may lack the tail its in-sync replica
    /// acknowledged (an AOF synced every second loses up to a second), so the config service
    /// replaces it with a healthy in-sync replica if it has one (DESIGN.md, point 5), and only
    /// otherwise lets it serve again.
    #[serde(default)]
    pub restarted: bool,
    /// A master's request for a new in-sync set (addresses), when the one in force no longer
    /// fits: a replica that stopped acknowledging is left out, one that caught up is added
    /// (and already waited for). `None`: no change wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_sync_request: Option<Vec<String>>,
}

/// The role in force on a partition server, as it reports it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum ReportedRole {
    /// No control plane has given it a role yet.
    Unassigned,
    Master {
        shard: u32,
        shard_epoch: u64,
    },
    Replica {
        shard: u32,
        shard_epoch: u64,
        /// The master it follows, `host:port`.
        master: String,
        /// Whether its link to that master is up and streaming.
        link_up: bool,
    },
}

/// The config leader's answer: what the server must be.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionHeartbeatReply {
    /// The id the cluster map gave the server.
    pub node: u64,
    /// Its place in the cluster; `None` while it is registered but in no shard.
    pub assignment: Option<Assignment>,
    /// Where every slot is, for `-MOVED` replies.
    pub routing: RoutingTable,
}

/// A partition server's place in the cluster.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub shard: u32,
    /// Instructions with a lower `shard_epoch` than the one in force are ignored.
    pub shard_epoch: u64,
    pub role: AssignedRole,
    /// The slots the shard owns.
    pub slots: Vec<SlotRange>,
    /// `maxmemory` for the server, in bytes (0: no limit).
    pub maxmemory: u64,
    /// The cluster's replication mode. The config service decides it, because it is what makes
    /// a failover safe: in `sync` mode it promotes only in-sync replicas, which is sound only if
    /// every master also waits for them before acknowledging a write.
    #[serde(default)]
    pub replication: Replication,
}

/// Whether a master waits for its in-sync replicas before acknowledging a write.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replication {
    /// A write is acknowledged once every in-sync replica has it: no acknowledged write is
    /// lost by a failover.
    #[default]
    Sync,
    /// A write is acknowledged at once, as Redis does; a failover may lose the replica's lag.
    Async,
}

impl Replication {
    /// The partition server's `replication` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Replication::Sync => "sync",
            Replication::Async => "async",
        }
    }
}

/// The role the config service assigns.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum AssignedRole {
    Master {
        /// The lease, counted from when the heartbeat was sent.
        lease_ms: u64,
        /// The committed in-sync set (addresses of replicas).
        in_sync: Vec<String>,
    },
    Replica {
        /// The master to follow, `host:port`.
        master: String,
    },
}

/// A proxy's report.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyHeartbeat {
    /// Its client-facing address, `host:port`: its identity.
    pub addr: String,
    /// The routing epoch it holds.
    pub epoch: u64,
    #[serde(default)]
    pub clients: u64,
}

/// The answer to a proxy.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyHeartbeatReply {
    /// The id the cluster map gave the proxy.
    pub proxy: u64,
    /// The current routing epoch: a proxy behind it refreshes its table.
    pub epoch: u64,
}

/// The config service's endpoints and which one is asked: the configured ones in turn, moving
/// to the leader when a 421 answer names one of them.
///
/// Only configured endpoints are ever asked. A leader hint names the address the config
/// servers know each other by, which the client (partition server or proxy) may not be able to use (it may reach the
/// config service through a relay, a NAT or a load balancer): a hint that is not configured
/// moves on to the next configured endpoint instead, which finds the leader within one round.
#[derive(Debug, Clone)]
pub struct Endpoints {
    list: Vec<String>,
    index: usize,
}

impl Endpoints {
    /// `list` holds base URLs (`http://host:port`); it must not be empty.
    pub fn new(list: Vec<String>) -> Endpoints {
        assert!(!list.is_empty(), "no config endpoint");
        let list = list.into_iter().map(|e| e.trim_end_matches('/').to_string()).collect();
        Endpoints { list, index: 0 }
    }

    /// The base URL to ask now.
    pub fn current(&self) -> &str {
        &self.list[self.index]
    }

    /// The current endpoint failed: the next configured one is tried.
    pub fn rotate(&mut self) {
        self.index = (self.index + 1) % self.list.len();
    }

    /// A 421 answer named `leader` (`host:port`, or a URL).
    pub fn redirect(&mut self, leader: &str) {
        let url = if leader.contains("://") {
            leader.trim_end_matches('/').to_string()
        } else {
            format!("http://{leader}")
        };
        match self.list.iter().position(|e| *e == url) {
            Some(i) => self.index = i,
            None => self.rotate(),
        }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_tagged_in_json() {
        let hb = PartitionHeartbeat {
            addr: "h:7000".into(),
            role: ReportedRole::Replica {
                shard: 1,
                shard_epoch: 2,
                master: "m:7000".into(),
                link_up: true,
            },
            offset: 9,
            replid: String::new(),
            used_memory: 0,
            keys: 0,
            restarted: false,
            in_sync_request: None,
        };
        let json = serde_json::to_value(&hb).unwrap();
        assert_eq!(json["role"]["role"], "replica");
        assert_eq!(json["role"]["master"], "m:7000");
        assert!(json.get("in_sync_request").is_none());
        let back: PartitionHeartbeat = serde_json::from_value(json).unwrap();
        assert_eq!(back, hb);
        let role: AssignedRole =
            serde_json::from_str(r#"{"role":"master","lease_ms":1000,"in_sync":["r:1"]}"#).unwrap();
        assert_eq!(role, AssignedRole::Master { lease_ms: 1000, in_sync: vec!["r:1".into()] });
    }

    #[test]
    fn endpoints_rotate_and_follow_the_leader() {
        let mut e = Endpoints::new(vec!["http://a:1/".into(), "http://b:1".into()]);
        assert_eq!(e.current(), "http://a:1");
        e.rotate();
        assert_eq!(e.current(), "http://b:1");
        e.rotate();
        assert_eq!(e.current(), "http://a:1");
        // A leader among the configured ones is asked from then on.
        e.redirect("b:1");
        assert_eq!(e.current(), "http://b:1");
        e.rotate();
        assert_eq!(e.current(), "http://a:1");
        // A leader that is not configured (reached through a relay here, say) is not asked:
        // the next configured endpoint is.
        e.redirect("c:9");
        assert_eq!(e.current(), "http://b:1");
        e.redirect("http://d:9/");
        assert_eq!(e.current(), "http://a:1");
    }
}
