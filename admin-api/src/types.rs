//! The request and response bodies of the admin API, and the plans a cluster can be made from.
//!
//! Views (`*View`) are what the config service shows: the replicated map joined with the
//! leader's health observations. Requests (`*Request`) are what an operator sends; they refuse
//! unknown fields, so a typo is a 400 naming the field instead of a silently ignored option,
//! and each has a `validate` for everything that can be checked without the map, which the
//! router runs before the [`crate::Admin`] implementation sees the request.

use std::collections::BTreeSet;

use protocol::routing::{slot_owners, SlotRange, SlotsError};
use protocol::SLOT_COUNT;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// The whole cluster as the config service sees it (`GET /v1/cluster`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClusterView {
    /// The cluster map's epoch: +1 on every change that matters to routing.
    pub epoch: u64,
    pub state: ClusterState,
    /// The plan the cluster was made from; `None` before creation or for an explicit layout.
    pub plan: Option<String>,
    pub shards: Vec<ShardView>,
    pub nodes: Vec<NodeView>,
    pub proxies: Vec<ProxyView>,
    pub raft: RaftView,
}

/// The cluster's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClusterState {
    /// No cluster has been created yet (`POST /v1/cluster` makes one).
    Empty,
    /// Every shard has a healthy master and every replica is healthy and in sync.
    Healthy,
    /// Every slot is served, but some replica is down or out of sync (a further failure may
    /// make a shard unavailable).
    Degraded,
    /// Some slots have no healthy master.
    Unavailable,
}

/// One shard: its master, replicas and slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShardView {
    pub id: u32,
    /// +1 on every failover of the shard.
    pub shard_epoch: u64,
    pub master: NodeRef,
    pub replicas: Vec<ReplicaView>,
    /// `maxmemory` of each partition server of the shard, in bytes (0: no limit).
    pub maxmemory: u64,
    /// The slots the shard owns, as sorted inclusive ranges.
    pub slots: Vec<SlotRange>,
    /// How many slots `slots` holds.
    pub slot_count: usize,
    /// Whether the master is healthy (the shard serves its slots).
    pub healthy: bool,
}

/// A partition server named by a view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeRef {
    pub id: u64,
    /// Its RESP address, `host:port`.
    pub addr: String,
    /// Whether it heartbeats in time.
    pub healthy: bool,
}

/// A replica of a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplicaView {
    pub id: u64,
    /// Its RESP address, `host:port`.
    pub addr: String,
    pub healthy: bool,
    /// Whether it is in the shard's in-sync set: it holds every acknowledged write and may be
    /// promoted without `force`.
    pub in_sync: bool,
    /// The replication offset it last reported.
    pub offset: u64,
    /// Whether its link to the master is up, as it last reported.
    pub link_up: bool,
}

/// A registered partition server (`GET /v1/nodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeView {
    pub id: u64,
    /// Its RESP address, `host:port`.
    pub addr: String,
    /// Its shard; `None` while it is registered but in no shard.
    pub shard: Option<u32>,
    pub role: NodeRole,
    pub healthy: bool,
    /// How long ago the leader last heard from it; `None` if this leader never has.
    pub last_heartbeat_ms_ago: Option<u64>,
    /// The replication offset it last reported.
    pub offset: u64,
    /// Bytes in use, as it last reported.
    pub used_memory: u64,
    /// Keys it holds, as it last reported.
    pub keys: u64,
}

/// The role the cluster map gives a partition server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    Master,
    Replica,
    /// Registered, in no shard yet.
    Unassigned,
}

/// A registered proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProxyView {
    pub id: u64,
    /// Its client-facing address, `host:port`.
    pub addr: String,
    pub healthy: bool,
    pub last_heartbeat_ms_ago: Option<u64>,
    /// The routing epoch it last reported holding.
    pub epoch: u64,
}

/// The config service's Raft group (`GET /v1/raft`), as the answering node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RaftView {
    /// The answering node's Raft id.
    pub id: u64,
    /// The leader's Raft id, when known.
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
    pub members: Vec<RaftMember>,
}

/// A member of the Raft group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RaftMember {
    pub id: u64,
    /// Its HTTP address, `host:port` (API and Raft transport).
    pub addr: String,
    /// Whether it votes (a learner does not).
    pub voter: bool,
}

/// `POST /v1/cluster`: create the cluster, either from a plan or from an explicit layout.
///
/// With a plan the config service picks the nodes among the registered, unassigned ones
/// (a master and a replica per shard) and splits the slots evenly; `shards` and `maxmemory`
/// override the plan's. With a layout, everything is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClusterRequest {
    /// A plan name from the plans table: `16GB`, `32GB`, `64GB`, `128GB`, `256GB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// With a plan: the number of shards instead of the plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    /// With a plan: `maxmemory` per partition server in bytes instead of the plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmemory: Option<u64>,
    /// An explicit layout: shard `i` of the list gets id `i`. Must give every slot to exactly
    /// one shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Vec<ShardLayoutRequest>>,
}

/// One shard of an explicit layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShardLayoutRequest {
    /// The master's node id (nodes get ids when they first heartbeat; see `GET /v1/nodes`).
    pub master: u64,
    #[serde(default)]
    pub replicas: Vec<u64>,
    pub slots: Vec<SlotRange>,
    /// `maxmemory` of the shard's servers in bytes (0 or absent: no limit).
    #[serde(default)]
    pub maxmemory: u64,
}

impl CreateClusterRequest {
    /// A request for `plan`, with no overrides.
    pub fn for_plan(plan: impl Into<String>) -> Self {
        CreateClusterRequest { plan: Some(plan.into()), ..Default::default() }
    }

    /// A request for an explicit layout.
    pub fn for_layout(layout: Vec<ShardLayoutRequest>) -> Self {
        CreateClusterRequest { layout: Some(layout), ..Default::default() }
    }

    /// Checks what can be checked without the cluster map: exactly one of plan and layout; a
    /// known plan and sane overrides; in a layout, no node twice, every slot range in bounds
    /// and no slot given twice or left out. Whether the nodes exist and are free is the
    /// config service's check.
    pub fn validate(&self) -> Result<(), ApiError> {
        match (&self.plan, &self.layout) {
            (Some(_), Some(_)) => {
                Err(ApiError::invalid("plan", "give either a plan or a layout, not both"))
            }
            (None, None) => Err(ApiError::invalid("plan", "give a plan name or a layout")),
            (Some(name), None) => self.validate_plan(name),
            (None, Some(layout)) => self.validate_layout(layout),
        }
    }

    fn validate_plan(&self, name: &str) -> Result<(), ApiError> {
        if plan(name).is_none() {
            let known: Vec<&str> = PLANS.iter().map(|p| p.name).collect();
            return Err(ApiError::invalid(
                "plan",
                format!("unknown plan {name:?}; the plans are {}", known.join(", ")),
            ));
        }
        if let Some(shards) = self.shards {
            if shards == 0 || shards as usize > SLOT_COUNT {
                return Err(ApiError::invalid(
                    "shards",
                    format!("shards must be within 1-{SLOT_COUNT}, not {shards}"),
                ));
            }
        }
        Ok(())
    }

    fn validate_layout(&self, layout: &[ShardLayoutRequest]) -> Result<(), ApiError> {
        // The overrides only mean something for a plan; accepting them here would silently
        // ignore what the operator asked for.
        if self.shards.is_some() {
            return Err(ApiError::invalid("shards", "a layout lists its shards; omit shards"));
        }
        if self.maxmemory.is_some() {
            return Err(ApiError::invalid(
                "maxmemory",
                "a layout gives maxmemory per shard; omit the top-level maxmemory",
            ));
        }
        if layout.is_empty() {
            return Err(ApiError::invalid("layout", "a cluster needs at least one shard"));
        }
        let mut seen = BTreeSet::new();
        for (i, shard) in layout.iter().enumerate() {
            for &node in std::iter::once(&shard.master).chain(&shard.replicas) {
                if !seen.insert(node) {
                    return Err(ApiError::invalid(
                        format!("layout[{i}]"),
                        format!("node {node} appears twice in the layout"),
                    ));
                }
            }
        }
        let owner = slot_owners(layout.iter().map(|s| s.slots.as_slice())).map_err(|e| {
            let reason = match &e {
                SlotsError::Overlap { slot, first, .. } => {
                    format!("slot {slot} is also given to layout[{first}]")
                }
                other => other.to_string(),
            };
            ApiError::invalid(format!("layout[{}].slots", e.index()), reason)
        })?;
        if let Some(slot) = owner.iter().position(Option::is_none) {
            return Err(ApiError::invalid("layout", format!("slot {slot} is given to no shard")));
        }
        Ok(())
    }
}

/// The answer to `POST /v1/cluster` (status 201): the map's epoch after creation and the
/// shards as created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClusterCreated {
    pub epoch: u64,
    pub shards: Vec<ShardView>,
}

/// `POST /v1/shards/{id}/failover`: make a replica the shard's master.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailoverRequest {
    /// The replica to promote; absent: the config service picks the best in-sync replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
    /// Promote even a replica outside the in-sync set (possibly losing acknowledged writes).
    #[serde(default)]
    pub force: bool,
}

/// What a failover did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FailoverResponse {
    pub shard: u32,
    /// The promoted node's id.
    pub new_master: u64,
    /// The shard's epoch after the failover.
    pub shard_epoch: u64,
    /// The cluster map's epoch after the failover.
    pub epoch: u64,
    /// Whether the promoted replica was outside the in-sync set (a forced failover that may
    /// have lost acknowledged writes).
    pub lossy: bool,
}

/// `POST /v1/raft/members`: add and remove config servers. Added members join as learners,
/// catch up, then become voters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersRequest {
    #[serde(default)]
    pub add: Vec<NewMember>,
    /// Raft ids of members to remove.
    #[serde(default)]
    pub remove: Vec<u64>,
}

/// A config server to add to the Raft group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub id: u64,
    /// Its HTTP address, `host:port`.
    pub addr: String,
}

impl MembersRequest {
    /// Checks that the request changes something, names no id twice and gives every added
    /// member an address.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.add.is_empty() && self.remove.is_empty() {
            return Err(ApiError::invalid("add", "nothing to change: give add or remove"));
        }
        let mut seen = BTreeSet::new();
        for (i, member) in self.add.iter().enumerate() {
            if member.addr.trim().is_empty() {
                return Err(ApiError::invalid(format!("add[{i}].addr"), "the address is empty"));
            }
            if !seen.insert(member.id) {
                return Err(ApiError::invalid(
                    format!("add[{i}]"),
                    format!("member {} is added twice", member.id),
                ));
            }
        }
        let mut removed = BTreeSet::new();
        for (i, &id) in self.remove.iter().enumerate() {
            if seen.contains(&id) {
                return Err(ApiError::invalid(
                    format!("remove[{i}]"),
                    format!("member {id} is both added and removed"),
                ));
            }
            if !removed.insert(id) {
                return Err(ApiError::invalid(
                    format!("remove[{i}]"),
                    format!("member {id} is removed twice"),
                ));
            }
        }
        Ok(())
    }
}

/// The query of `GET /v1/routing` (served by the config service, documented here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoutingQuery {
    /// Answer only once the epoch is newer than this (a long-poll); absent: answer at once.
    pub after: Option<u64>,
    /// How long to wait for a newer epoch before answering with the current table.
    pub wait_ms: Option<u64>,
}

/// One gibibyte: plans are sized in GB = 2^30 bytes.
pub const GB: u64 = 1 << 30;

/// A cluster plan (DESIGN.md, "Plans"): how many proxies and shards, and `maxmemory` per
/// shard. Each shard is a master + replica pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The canonical name, e.g. `16GB`.
    pub name: &'static str,
    pub proxies: u32,
    pub shards: u32,
    /// `maxmemory` of each partition server, in bytes.
    pub maxmemory: u64,
}

impl Plan {
    /// The memory the plan offers: shards × memory per shard.
    pub fn capacity(&self) -> u64 {
        u64::from(self.shards) * self.maxmemory
    }
}

/// Every plan, smallest first.
pub const PLANS: [Plan; 5] = [
    Plan { name: "16GB", proxies: 8, shards: 8, maxmemory: 2 * GB },
    Plan { name: "32GB", proxies: 8, shards: 8, maxmemory: 4 * GB },
    Plan { name: "64GB", proxies: 8, shards: 8, maxmemory: 8 * GB },
    Plan { name: "128GB", proxies: 16, shards: 16, maxmemory: 8 * GB },
    Plan { name: "256GB", proxies: 16, shards: 16, maxmemory: 16 * GB },
];

/// The plan called `name` (case-insensitive: `16gb` is `16GB`).
pub fn plan(name: &str) -> Option<Plan> {
    PLANS.iter().copied().find(|p| p.name.eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use protocol::routing::LAST_SLOT;

    fn shard(master: u64, replicas: &[u64], slots: &[(u16, u16)]) -> ShardLayoutRequest {
        ShardLayoutRequest {
            master,
            replicas: replicas.to_vec(),
            slots: slots.iter().map(|&(a, b)| SlotRange::new(a, b)).collect(),
            maxmemory: 0,
        }
    }

    fn must_reject(req: &CreateClusterRequest, field: &str) -> ApiError {
        let err = req.validate().expect_err("the request must be refused");
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.body.code, "invalid");
        assert_eq!(err.body.field.as_deref(), Some(field), "{}", err.body.error);
        err
    }

    #[test]
    fn plans_match_the_design_table() {
        let p = plan("16GB").unwrap();
        assert_eq!((p.proxies, p.shards, p.maxmemory), (8, 8, 2 * GB));
        assert_eq!(p.capacity(), 16 * GB);
        for p in PLANS {
            assert_eq!(format!("{}GB", p.capacity() / GB), p.name);
        }
        assert_eq!(plan("128gb").unwrap().shards, 16);
        assert_eq!(plan(" 256GB ").unwrap().maxmemory, 16 * GB);
        assert_eq!(plan("512GB"), None);
    }

    #[test]
    fn plan_requests() {
        CreateClusterRequest::for_plan("64GB").validate().unwrap();
        let mut req = CreateClusterRequest::for_plan("16GB");
        req.shards = Some(3);
        req.maxmemory = Some(1 << 20);
        req.validate().unwrap();
        let err = must_reject(&CreateClusterRequest::for_plan("1TB"), "plan");
        assert!(err.body.error.contains("16GB"), "{}", err.body.error);
        req.shards = Some(0);
        must_reject(&req, "shards");
        must_reject(&CreateClusterRequest::default(), "plan");
        let mut both = CreateClusterRequest::for_plan("16GB");
        both.layout = Some(vec![shard(1, &[], &[(0, LAST_SLOT)])]);
        must_reject(&both, "plan");
    }

    #[test]
    fn layout_requests() {
        let good = vec![shard(1, &[2], &[(0, 8191)]), shard(3, &[4], &[(8192, LAST_SLOT)])];
        CreateClusterRequest::for_layout(good.clone()).validate().unwrap();

        let mut twice = good.clone();
        twice[1].replicas = vec![1];
        must_reject(&CreateClusterRequest::for_layout(twice), "layout[1]");
        let self_replica = vec![shard(1, &[1], &[(0, LAST_SLOT)])];
        must_reject(&CreateClusterRequest::for_layout(self_replica), "layout[0]");

        let mut out_of_bounds = good.clone();
        out_of_bounds[1].slots = vec![SlotRange::new(8192, 16384)];
        must_reject(&CreateClusterRequest::for_layout(out_of_bounds), "layout[1].slots");
        let mut reversed = good.clone();
        reversed[0].slots = vec![SlotRange::new(8191, 0)];
        must_reject(&CreateClusterRequest::for_layout(reversed), "layout[0].slots");

        let mut overlap = good.clone();
        overlap[1].slots = vec![SlotRange::new(8000, LAST_SLOT)];
        let err = must_reject(&CreateClusterRequest::for_layout(overlap), "layout[1].slots");
        assert!(err.body.error.contains("8000"), "{}", err.body.error);

        let mut gap = good.clone();
        gap[1].slots = vec![SlotRange::new(8193, LAST_SLOT)];
        let err = must_reject(&CreateClusterRequest::for_layout(gap), "layout");
        assert!(err.body.error.contains("8192"), "{}", err.body.error);

        must_reject(&CreateClusterRequest::for_layout(vec![]), "layout");
        let mut with_shards = CreateClusterRequest::for_layout(good);
        with_shards.shards = Some(2);
        must_reject(&with_shards, "shards");
    }

    #[test]
    fn members_requests() {
        let add = |id, addr: &str| NewMember { id, addr: addr.into() };
        MembersRequest { add: vec![add(4, "h:9003")], remove: vec![1] }.validate().unwrap();
        let cases = [
            (MembersRequest::default(), "add"),
            (MembersRequest { add: vec![add(4, " ")], remove: vec![] }, "add[0].addr"),
            (MembersRequest { add: vec![add(4, "a:1"), add(4, "b:1")], remove: vec![] }, "add[1]"),
            (MembersRequest { add: vec![add(4, "a:1")], remove: vec![4] }, "remove[0]"),
            (MembersRequest { add: vec![], remove: vec![2, 2] }, "remove[1]"),
        ];
        for (req, field) in cases {
            let err = req.validate().expect_err(field);
            assert_eq!(err.body.field.as_deref(), Some(field));
        }
    }

    #[test]
    fn the_json_form() {
        let req: CreateClusterRequest = serde_json::from_str(r#"{"plan":"16GB"}"#).unwrap();
        assert_eq!(req, CreateClusterRequest::for_plan("16GB"));
        assert_eq!(serde_json::to_string(&req).unwrap(), r#"{"plan":"16GB"}"#);
        assert!(serde_json::from_str::<CreateClusterRequest>(r#"{"plans":"16GB"}"#).is_err());
        let f: FailoverRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(f, FailoverRequest { to: None, force: false });
        assert_eq!(serde_json::to_value(ClusterState::Unavailable).unwrap(), "unavailable");
        assert_eq!(serde_json::to_value(NodeRole::Unassigned).unwrap(), "unassigned");
    }
}
