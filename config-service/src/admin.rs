//! The admin API's implementation ([`admin_api::Admin`]): views that join the map with the
//! leader's observations, cluster creation, operator failover and Raft membership changes.
//!
//! Every admin route is answered by the leader (others answer 421 with its address, which
//! `AdminClient` follows): only the leader has the observations that health in the views comes
//! from, and every change is a Raft commit that only the leader can make.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use admin_api::types::{
    plan, ClusterCreated, ClusterState, ClusterView, CreateClusterRequest, FailoverRequest,
    FailoverResponse, MembersRequest, NodeRef, NodeRole, NodeView, ProxyView, RaftMember, RaftView,
    ReplicaView, ShardView,
};
use admin_api::{Admin, ApiError};
use protocol::heartbeat::ReportedRole;

use crate::controller::{commit_failover, failover, formation, policy, FailedOver};
use crate::error::Error;
use crate::health::HealthView;
use crate::map::{ClusterMap, Command, Layout, Response, Role, ShardLayout, Spec};
use crate::node::ConfigNode;
use crate::{RaftNode, RaftNodeId};

/// A proxy heard from within this long counts as healthy: proxies heartbeat about once a
/// second (their `--heartbeat-ms`), ten times less often than partition servers.
const PROXY_HEALTHY_WITHIN: Duration = Duration::from_secs(3);

/// [`admin_api::Admin`] over a config server.
pub struct AdminService {
    node: Arc<ConfigNode>,
}

impl AdminService {
    pub fn new(node: Arc<ConfigNode>) -> Self {
        AdminService { node }
    }
}

/// Joins the map and the observations into the admin views.
struct Views<'a> {
    map: &'a ClusterMap,
    health: &'a HealthView,
    now: Instant,
    healthy_within: Duration,
}

impl Views<'_> {
    fn healthy(&self, id: u64) -> bool {
        self.health
            .last_seen(id)
            .is_some_and(|t| self.now.saturating_duration_since(t) <= self.healthy_within)
    }

    fn addr(&self, id: u64) -> String {
        self.map.nodes.get(&id).map_or_else(String::new, |n| n.addr.clone())
    }

    fn shard(&self, id: u32) -> Option<ShardView> {
        let shard = self.map.shards.get(&id)?;
        let slots = self.map.slots.ranges_of(id);
        let replicas = shard
            .replicas
            .iter()
            .map(|&r| {
                let report = self.health.nodes.get(&r).map(|h| &h.report);
                ReplicaView {
                    id: r,
                    addr: self.addr(r),
                    healthy: self.healthy(r),
                    in_sync: shard.in_sync.contains(&r),
                    offset: report.map_or(0, |r| r.offset),
                    link_up: report.is_some_and(|r| {
                        matches!(r.role, ReportedRole::Replica { link_up: true, .. })
                    }),
                }
            })
            .collect();
        Some(ShardView {
            id,
            shard_epoch: shard.shard_epoch,
            master: NodeRef {
                id: shard.master,
                addr: self.addr(shard.master),
                healthy: self.healthy(shard.master),
            },
            replicas,
            maxmemory: shard.maxmemory,
            slot_count: slots.iter().map(|r| r.len()).sum(),
            slots,
            healthy: self.healthy(shard.master),
        })
    }

    fn shards(&self) -> Vec<ShardView> {
        self.map.shards.keys().filter_map(|&id| self.shard(id)).collect()
    }

    fn nodes(&self) -> Vec<NodeView> {
        self.map
            .nodes
            .iter()
            .map(|(&id, n)| {
                let h = self.health.nodes.get(&id);
                NodeView {
                    id,
                    addr: n.addr.clone(),
                    shard: n.shard,
                    role: match n.role {
                        Role::Master => NodeRole::Master,
                        Role::Replica => NodeRole::Replica,
                        Role::Unassigned => NodeRole::Unassigned,
                    },
                    healthy: self.healthy(id),
                    last_heartbeat_ms_ago: h.map(|h| {
                        self.now.saturating_duration_since(h.last_seen).as_millis() as u64
                    }),
                    offset: h.map_or(0, |h| h.report.offset),
                    used_memory: h.map_or(0, |h| h.report.used_memory),
                    keys: h.map_or(0, |h| h.report.keys),
                }
            })
            .collect()
    }

    fn proxies(&self) -> Vec<ProxyView> {
        self.map
            .proxies
            .iter()
            .map(|(&id, p)| {
                let h = self.health.proxies.get(&id);
                let ago = h.map(|h| self.now.saturating_duration_since(h.last_seen));
                ProxyView {
                    id,
                    addr: p.addr.clone(),
                    healthy: ago.is_some_and(|a| a <= PROXY_HEALTHY_WITHIN),
                    last_heartbeat_ms_ago: ago.map(|a| a.as_millis() as u64),
                    epoch: h.map_or(0, |h| h.report.epoch),
                }
            })
            .collect()
    }

    fn state(&self, shards: &[ShardView]) -> ClusterState {
        if shards.is_empty() {
            ClusterState::Empty
        } else if shards.iter().any(|s| !s.healthy)
            || self.map.slots.assigned() < protocol::SLOT_COUNT
        {
            ClusterState::Unavailable
        } else if shards
            .iter()
            .flat_map(|s| &s.replicas)
            .any(|r| !r.healthy || !r.in_sync || !r.link_up)
        {
            ClusterState::Degraded
        } else {
            ClusterState::Healthy
        }
    }
}

impl AdminService {
    /// The views, after making sure this server leads and its map is current.
    async fn with_views<T>(&self, f: impl FnOnce(&Views) -> T) -> Result<T, ApiError> {
        self.node.require_leader()?;
        self.node.linearizable_read().await?;
        let map = self.node.map();
        let health = self.node.health.view();
        let views = Views {
            map: &map,
            health: &health,
            now: Instant::now(),
            healthy_within: self.node.config.healthy_within(),
        };
        Ok(f(&views))
    }

    fn raft_view(&self) -> RaftView {
        let m = self.node.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<RaftNodeId> = membership.voter_ids().collect();
        let members = membership
            .nodes()
            .map(|(&id, node)| RaftMember {
                id,
                addr: node.addr.clone(),
                voter: voters.contains(&id),
            })
            .collect();
        RaftView {
            id: self.node.config.id,
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index,
            last_applied: m.last_applied.map(|l| l.index),
            members,
        }
    }

    /// The layout a create request asks for.
    fn layout_for(&self, req: &CreateClusterRequest, map: &ClusterMap) -> Result<Layout, ApiError> {
        if let Some(layout) = &req.layout {
            return Ok(Layout {
                shards: layout
                    .iter()
                    .map(|s| ShardLayout {
                        master: s.master,
                        replicas: s.replicas.clone(),
                        maxmemory: s.maxmemory,
                        slots: s.slots.clone(),
                    })
                    .collect(),
                spec: Spec { plan: None, proxies: 2 },
            });
        }
        let name = req.plan.as_deref().unwrap_or_default();
        let plan = plan(name)
            .ok_or_else(|| ApiError::invalid("plan", format!("unknown plan {name:?}")))?;
        let shards = req.shards.unwrap_or(plan.shards) as usize;
        let maxmemory = req.maxmemory.unwrap_or(plan.maxmemory);
        let spares = formation::spares(
            map,
            &self.node.health.view(),
            Instant::now(),
            self.node.config.healthy_within(),
        );
        let spec = Spec { plan: Some(plan.name.to_string()), proxies: plan.proxies };
        formation::layout(map, &spares, shards, maxmemory, spec).map_err(ApiError::conflict)
    }
}

impl Admin for AdminService {
    async fn cluster(&self) -> Result<ClusterView, ApiError> {
        let raft = self.raft_view();
        self.with_views(|v| {
            let shards = v.shards();
            ClusterView {
                epoch: v.map.epoch,
                state: v.state(&shards),
                plan: v.map.spec.as_ref().and_then(|s| s.plan.clone()),
                shards,
                nodes: v.nodes(),
                proxies: v.proxies(),
                raft,
            }
        })
        .await
    }

    async fn create_cluster(&self, req: CreateClusterRequest) -> Result<ClusterCreated, ApiError> {
        self.node.require_leader()?;
        self.node.linearizable_read().await?;
        let map = self.node.map();
        if !map.shards.is_empty() {
            return Err(ApiError::conflict("the cluster already exists"));
        }
        let layout = self.layout_for(&req, &map)?;
        let epoch = match self.node.propose(Command::CreateCluster { layout }).await? {
            Response::ClusterCreated { epoch } => epoch,
            other => return Err(ApiError::internal(format!("unexpected {other:?}"))),
        };
        let shards = self.with_views(|v| v.shards()).await?;
        Ok(ClusterCreated { epoch, shards })
    }

    async fn nodes(&self) -> Result<Vec<NodeView>, ApiError> {
        self.with_views(|v| v.nodes()).await
    }

    async fn shards(&self) -> Result<Vec<ShardView>, ApiError> {
        self.with_views(|v| v.shards()).await
    }

    /// An operator's failover. The current master may still hold a lease, so it is fenced
    /// first (no new lease) and the promotion is committed only once its last lease has run
    /// out: the two are never masters at once.
    async fn failover(
        &self,
        shard_id: u32,
        req: FailoverRequest,
    ) -> Result<FailoverResponse, ApiError> {
        let node = &self.node;
        node.require_leader()?;
        node.linearizable_read().await?;
        let map = node.map();
        let shard = map
            .shards
            .get(&shard_id)
            .ok_or_else(|| ApiError::not_found(format!("shard {shard_id} not found")))?;
        let health = node.health.view();
        let new_master = match req.to {
            Some(to) => to,
            None => {
                let view = failover::View {
                    map: &map,
                    health: &health,
                    now: Instant::now(),
                    leader_since: Instant::now(),
                };
                failover::candidate(&policy(node), &view, shard_id, shard, req.force)
                    .map_err(ApiError::conflict)?
                    .0
            }
        };
        let command = Command::Failover {
            shard: shard_id,
            new_master,
            force: req.force,
            expected_shard_epoch: Some(shard.shard_epoch),
        };
        // Check it against the map before fencing anyone: a failover the map would refuse must
        // not make the master stop serving.
        map.as_ref()
            .clone()
            .apply(command.clone())
            .map_err(|r| ApiError::from(Error::Rejected(r)))?;
        let (master, shard_epoch) = (shard.master, shard.shard_epoch);
        node.health.fence(shard_id, shard_epoch, master);
        // The last lease it can hold was granted for a heartbeat received no later than now.
        tokio::time::sleep(
            node.config.lease() + Duration::from_millis(crate::config::LEASE_MARGIN_MS),
        )
        .await;
        let why = "by an operator";
        let done = commit_failover(node, shard_id, master, shard_epoch, command, why).await?;
        let FailedOver { new_master, shard_epoch, epoch, lossy } = done;
        Ok(FailoverResponse { shard: shard_id, new_master, shard_epoch, epoch, lossy })
    }

    async fn raft(&self) -> Result<RaftView, ApiError> {
        Ok(self.raft_view())
    }

    /// Adds members as learners (waiting until each has caught up), then makes the voter set
    /// the old one plus the added minus the removed, in one joint-consensus change.
    async fn change_members(&self, req: MembersRequest) -> Result<RaftView, ApiError> {
        let node = &self.node;
        node.require_leader()?;
        let current: BTreeSet<RaftNodeId> =
            node.raft.metrics().borrow().membership_config.membership().voter_ids().collect();
        let mut voters = current.clone();
        for id in &req.remove {
            if !voters.remove(id) {
                return Err(ApiError::invalid("remove", format!("{id} is not a voting member")));
            }
        }
        voters.extend(req.add.iter().map(|m| m.id));
        if voters.is_empty() {
            return Err(ApiError::invalid("remove", "the group cannot be left without members"));
        }
        for member in &req.add {
            let added = node
                .raft
                .add_learner(member.id, RaftNode { addr: member.addr.clone() }, true)
                .await;
            added.map_err(|e| raft_error(node, e))?;
        }
        let nodes: BTreeMap<_, _> = voters.iter().map(|&id| (id, ())).collect();
        node.raft
            .change_membership(nodes.into_keys().collect::<BTreeSet<_>>(), false)
            .await
            .map_err(|e| raft_error(node, e))?;
        tracing::info!(?current, ?voters, "raft membership changed");
        Ok(self.raft_view())
    }
}

/// A membership change error as an API error.
fn raft_error<E: std::fmt::Display>(
    node: &ConfigNode,
    e: openraft::error::RaftError<RaftNodeId, E>,
) -> ApiError {
    match e {
        openraft::error::RaftError::APIError(e) => {
            let text = e.to_string();
            if text.contains("forward") || text.contains("leader") {
                ApiError::not_leader(node.leader_addr())
            } else {
                ApiError::conflict(text)
            }
        }
        openraft::error::RaftError::Fatal(e) => ApiError::internal(e.to_string()),
    }
}
