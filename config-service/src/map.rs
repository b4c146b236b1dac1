//! The cluster map: the replicated state machine of the config service.
//!
//! Everything the cluster has *decided* lives here — which node masters which shard, who may be
//! promoted (`in_sync`), which shard owns each slot — and changes only through a [`Command`]
//! committed by Raft and applied by [`ClusterMap::apply`]. Health observations (heartbeats,
//! offsets, memory) are deliberately not in the map: they would put a Raft commit on every
//! heartbeat, and only the leader's controllers need them.
//!
//! `apply` must be deterministic and all-or-nothing: every replica applies the same log and must
//! reach the same map, so validation happens first and a command that fails any check returns a
//! [`Rejection`] (carried back to the proposer as the Raft response) without touching the map.
//! A rejection is a normal outcome, not a storage error: the entry stays in the log and every
//! replica rejects it the same way.
//!
//! Version numbers, as DESIGN.md's safety argument needs them:
//! - `epoch` +1 on every change that matters to routing (cluster creation, failover, a node
//!   leaving a shard). Proxies and long-polls compare it.
//! - `shard_epoch` +1 on every failover of that shard. A master's lease and its requests carry
//!   it, so a deposed master's request (e.g. to shrink the in-sync set) is refused, and a
//!   failover proposal computed from a stale view is refused instead of promoting twice.

use std::collections::{BTreeMap, BTreeSet};

pub use protocol::routing::SlotRange;
use protocol::routing::{slot_owners, RoutingTable, ShardRoute, SlotsError};
use serde::{Deserialize, Serialize};

/// A partition server's id, assigned by the map when it registers.
pub type NodeId = u64;
/// A shard's id: its position in the layout the cluster was created from.
pub type ShardId = u32;
/// A proxy's id, assigned by the map when it registers.
pub type ProxyId = u64;

/// The replicated cluster map. See the module docs for the rules it keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMap {
    /// +1 on every change that matters to routing.
    pub epoch: u64,
    pub shards: BTreeMap<ShardId, Shard>,
    pub nodes: BTreeMap<NodeId, Node>,
    pub slots: SlotTable,
    pub proxies: BTreeMap<ProxyId, Proxy>,
    /// The plan the cluster was made from; `None` until `CreateCluster`.
    pub spec: Option<Spec>,
    /// The next id `RegisterNode` hands out; ids are never reused, so a removed node's id
    /// cannot be mistaken for a new node in a stale view.
    pub next_node_id: NodeId,
    /// The next id `RegisterProxy` hands out; never reused either.
    pub next_proxy_id: ProxyId,
}

/// One shard: a master and its replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub master: NodeId,
    pub replicas: BTreeSet<NodeId>,
    /// The replicas that hold every acknowledged write: the only ones a failover may promote
    /// without `force`. Always a subset of `replicas`.
    pub in_sync: BTreeSet<NodeId>,
    /// +1 on every failover of this shard.
    pub shard_epoch: u64,
    /// `maxmemory` of every partition server of the shard, in bytes (0: no limit).
    pub maxmemory: u64,
}

/// A registered partition server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Its RESP address, `host:port`.
    pub addr: String,
    pub shard: Option<ShardId>,
    pub role: Role,
}

/// The role the map assigns to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Registered, in no shard yet.
    Unassigned,
    Master,
    Replica,
}

/// A registered proxy (for the admin view only; nothing routes through the map to a proxy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proxy {
    pub addr: String,
}

/// What the cluster was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The plan name ("16GB", …) or `None` for an explicit layout.
    pub plan: Option<String>,
    /// How many proxies the plan asks for.
    pub proxies: u32,
}

/// Which shard owns each of the 16384 slots, kept as sorted, non-overlapping runs of
/// consecutive slots with one owner: a cluster has a handful of runs, not 16384 entries, so the
/// snapshot stays small and a lookup is a binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotTable {
    runs: Vec<SlotRun>,
}

/// One run of consecutive slots owned by one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRun {
    pub range: SlotRange,
    pub shard: ShardId,
}

impl SlotTable {
    /// The shard that owns `slot`, or `None` before the cluster is created.
    pub fn shard_of(&self, slot: u16) -> Option<ShardId> {
        let i = self.runs.partition_point(|run| run.range.end < slot);
        self.runs.get(i).filter(|run| run.range.start <= slot).map(|run| run.shard)
    }

    /// The runs in slot order.
    pub fn runs(&self) -> &[SlotRun] {
        &self.runs
    }

    /// The ranges `shard` owns, in slot order.
    pub fn ranges_of(&self, shard: ShardId) -> Vec<SlotRange> {
        self.runs.iter().filter(|run| run.shard == shard).map(|run| run.range).collect()
    }

    /// How many slots have an owner.
    pub fn assigned(&self) -> usize {
        self.runs.iter().map(|run| run.range.len()).sum()
    }

    /// Builds the table from per-shard ranges that the caller has checked to be in bounds and
    /// non-overlapping; adjacent runs of the same shard are merged.
    fn from_ranges(ranges: impl IntoIterator<Item = (SlotRange, ShardId)>) -> Self {
        let mut runs: Vec<SlotRun> =
            ranges.into_iter().map(|(range, shard)| SlotRun { range, shard }).collect();
        runs.sort_by_key(|run| run.range.start);
        let mut merged: Vec<SlotRun> = Vec::with_capacity(runs.len());
        for run in runs {
            match merged.last_mut() {
                Some(last) if last.shard == run.shard && last.range.end + 1 == run.range.start => {
                    last.range.end = run.range.end;
                }
                _ => merged.push(run),
            }
        }
        SlotTable { runs: merged }
    }
}

/// The explicit layout `CreateCluster` installs. Turning a plan name and the registered nodes
/// into a layout is the proposer's job (a policy on the leader), so that the replicated command
/// is explicit and `apply` stays deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Shard `i` of the list gets id `i`.
    pub shards: Vec<ShardLayout>,
    pub spec: Spec,
}

/// One shard of a [`Layout`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardLayout {
    pub master: NodeId,
    pub replicas: Vec<NodeId>,
    pub maxmemory: u64,
    pub slots: Vec<SlotRange>,
}

/// A decision, replicated through Raft. Each variant is applied all-or-nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// A partition server announces itself. Idempotent by address: a node that registers again
    /// (after a restart, or because a reply was lost) gets its old id back.
    RegisterNode { addr: String },
    /// Installs the first layout: shards, roles and all 16384 slots.
    CreateCluster { layout: Layout },
    /// Makes `new_master` the master of `shard`; the old master becomes a replica that must
    /// resync, so it leaves the in-sync set. Only an in-sync replica may be promoted unless
    /// `force` (possibly lossy, for operators). `expected_shard_epoch`, when given, must match:
    /// a proposal computed from a view that another failover has since changed is refused.
    Failover {
        shard: ShardId,
        new_master: NodeId,
        #[serde(default)]
        force: bool,
        #[serde(default)]
        expected_shard_epoch: Option<u64>,
    },
    /// Replaces the in-sync set of `shard`, as its master asks. `shard_epoch` is the master's:
    /// a deposed master's request is refused.
    SetInSync { shard: ShardId, shard_epoch: u64, members: BTreeSet<NodeId> },
    /// Forgets a node. A master must be failed over first.
    RemoveNode { node: NodeId },
    /// A proxy announces itself. Idempotent by address, like `RegisterNode`.
    RegisterProxy { addr: String },
    /// Forgets a proxy.
    RemoveProxy { proxy: ProxyId },
}

/// What an applied command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// For log entries that carry no command (blank entries, membership changes).
    None,
    NodeRegistered {
        node: NodeId,
        new: bool,
    },
    ClusterCreated {
        epoch: u64,
    },
    FailedOver {
        shard: ShardId,
        new_master: NodeId,
        shard_epoch: u64,
        epoch: u64,
        lossy: bool,
    },
    InSyncSet {
        shard: ShardId,
        changed: bool,
    },
    NodeRemoved {
        node: NodeId,
        epoch: u64,
    },
    ProxyRegistered {
        proxy: ProxyId,
        new: bool,
    },
    ProxyRemoved {
        proxy: ProxyId,
    },
}

/// Why a command was not applied. The map is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rejection {
    /// The command itself is wrong (HTTP 400); `field` names the part at fault.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// It names something the map does not have (HTTP 404).
    #[error("{what} not found")]
    NotFound { what: String },
    /// It is well-formed but conflicts with the current map (HTTP 409).
    #[error("conflict: {reason}")]
    Conflict { reason: String },
}

impl Rejection {
    /// A stable machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Invalid { .. } => "invalid",
            Rejection::NotFound { .. } => "not_found",
            Rejection::Conflict { .. } => "conflict",
        }
    }

    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Rejection::Invalid { field: field.into(), reason: reason.into() }
    }

    fn not_found(what: impl Into<String>) -> Self {
        Rejection::NotFound { what: what.into() }
    }

    fn conflict(reason: impl Into<String>) -> Self {
        Rejection::Conflict { reason: reason.into() }
    }
}

/// The outcome of applying one command: the Raft response type.
pub type Applied = Result<Response, Rejection>;

impl ClusterMap {
    /// Applies `cmd`, or rejects it and leaves the map as it was.
    pub fn apply(&mut self, cmd: Command) -> Applied {
        match cmd {
            Command::RegisterNode { addr } => self.register_node(addr),
            Command::CreateCluster { layout } => self.create_cluster(layout),
            Command::Failover { shard, new_master, force, expected_shard_epoch } => {
                self.failover(shard, new_master, force, expected_shard_epoch)
            }
            Command::SetInSync { shard, shard_epoch, members } => {
                self.set_in_sync(shard, shard_epoch, members)
            }
            Command::RemoveNode { node } => self.remove_node(node),
            Command::RegisterProxy { addr } => self.register_proxy(addr),
            Command::RemoveProxy { proxy } => self.remove_proxy(proxy),
        }
    }

    /// The shard that owns `slot`, with its current master.
    pub fn route(&self, slot: u16) -> Option<(ShardId, &Node)> {
        let shard = self.slots.shard_of(slot)?;
        let master = self.shards.get(&shard)?.master;
        Some((shard, self.nodes.get(&master)?))
    }

    /// The routing table at this map's epoch: every shard's master, replicas and slots.
    pub fn routing_table(&self) -> RoutingTable {
        let addr = |id: &NodeId| self.nodes.get(id).map_or_else(String::new, |n| n.addr.clone());
        let shards = self
            .shards
            .iter()
            .map(|(&id, shard)| ShardRoute {
                id,
                shard_epoch: shard.shard_epoch,
                master: addr(&shard.master),
                replicas: shard.replicas.iter().map(addr).collect(),
                slots: self.slots.ranges_of(id),
            })
            .collect();
        RoutingTable { epoch: self.epoch, shards }
    }

    /// The node registered with RESP address `addr`.
    pub fn node_by_addr(&self, addr: &str) -> Option<NodeId> {
        self.nodes.iter().find(|(_, n)| n.addr == addr).map(|(&id, _)| id)
    }

    /// The addresses of `ids` (unknown ids are skipped).
    pub fn addrs<'a>(&self, ids: impl IntoIterator<Item = &'a NodeId>) -> Vec<String> {
        ids.into_iter().filter_map(|id| self.nodes.get(id)).map(|n| n.addr.clone()).collect()
    }

    fn register_node(&mut self, addr: String) -> Applied {
        check_addr("addr", &addr)?;
        if let Some((&node, _)) = self.nodes.iter().find(|(_, n)| n.addr == addr) {
            return Ok(Response::NodeRegistered { node, new: false });
        }
        let node = self.next_node_id;
        self.next_node_id += 1;
        self.nodes.insert(node, Node { addr, shard: None, role: Role::Unassigned });
        Ok(Response::NodeRegistered { node, new: true })
    }

    fn create_cluster(&mut self, layout: Layout) -> Applied {
        if !self.shards.is_empty() {
            return Err(Rejection::conflict("the cluster already exists"));
        }
        if layout.shards.is_empty() {
            return Err(Rejection::invalid("shards", "a cluster needs at least one shard"));
        }
        let mut seen = BTreeSet::new();
        for (i, shard) in layout.shards.iter().enumerate() {
            for &node in std::iter::once(&shard.master).chain(&shard.replicas) {
                if !self.nodes.contains_key(&node) {
                    return Err(Rejection::invalid(
                        format!("shards[{i}]"),
                        format!("node {node} is not registered"),
                    ));
                }
                if !seen.insert(node) {
                    return Err(Rejection::invalid(
                        format!("shards[{i}]"),
                        format!("node {node} appears twice in the layout"),
                    ));
                }
            }
        }
        let owner = slot_owners(layout.shards.iter().map(|s| s.slots.as_slice())).map_err(|e| {
            let reason = match &e {
                SlotsError::Overlap { slot, first, .. } => {
                    format!("slot {slot} is also given to shards[{first}]")
                }
                other => other.to_string(),
            };
            Rejection::invalid(format!("shards[{}].slots", e.index()), reason)
        })?;
        if let Some(slot) = owner.iter().position(Option::is_none) {
            return Err(Rejection::invalid("slots", format!("slot {slot} has no shard")));
        }

        // Validated: from here on nothing can fail.
        let mut ranges = Vec::new();
        for (i, shard) in layout.shards.into_iter().enumerate() {
            let id = i as ShardId;
            let replicas: BTreeSet<NodeId> = shard.replicas.into_iter().collect();
            self.set_node(shard.master, id, Role::Master);
            for &replica in &replicas {
                self.set_node(replica, id, Role::Replica);
            }
            ranges.extend(shard.slots.into_iter().map(|range| (range, id)));
            // A new shard holds no data yet, so every replica trivially has every acknowledged
            // write: all of them start in sync.
            self.shards.insert(
                id,
                Shard {
                    master: shard.master,
                    in_sync: replicas.clone(),
                    replicas,
                    shard_epoch: 1,
                    maxmemory: shard.maxmemory,
                },
            );
        }
        self.slots = SlotTable::from_ranges(ranges);
        self.spec = Some(layout.spec);
        self.epoch += 1;
        Ok(Response::ClusterCreated { epoch: self.epoch })
    }

    fn failover(
        &mut self,
        shard_id: ShardId,
        new_master: NodeId,
        force: bool,
        expected_shard_epoch: Option<u64>,
    ) -> Applied {
        let shard = self.shard(shard_id)?;
        if let Some(expected) = expected_shard_epoch {
            if expected != shard.shard_epoch {
                return Err(Rejection::conflict(format!(
                    "shard {shard_id} is at shard_epoch {}, not {expected}",
                    shard.shard_epoch
                )));
            }
        }
        if shard.master == new_master {
            return Err(Rejection::conflict(format!(
                "node {new_master} is already the master of shard {shard_id}"
            )));
        }
        if !shard.replicas.contains(&new_master) {
            return Err(Rejection::invalid(
                "new_master",
                format!("node {new_master} is not a replica of shard {shard_id}"),
            ));
        }
        let in_sync = shard.in_sync.contains(&new_master);
        if !in_sync && !force {
            return Err(Rejection::conflict(format!(
                "node {new_master} is not in the in-sync set of shard {shard_id}; \
                 promoting it could lose acknowledged writes (force to override)"
            )));
        }

        let shard = self.shards.get_mut(&shard_id).expect("checked above");
        let old_master = std::mem::replace(&mut shard.master, new_master);
        shard.replicas.remove(&new_master);
        shard.replicas.insert(old_master);
        // The old master must resync from the new one (its unacknowledged writes are
        // discarded), so it is not in sync; the other in-sync replicas still hold every
        // acknowledged write and stay.
        shard.in_sync.remove(&new_master);
        shard.shard_epoch += 1;
        let shard_epoch = shard.shard_epoch;
        self.set_node(new_master, shard_id, Role::Master);
        self.set_node(old_master, shard_id, Role::Replica);
        self.epoch += 1;
        Ok(Response::FailedOver {
            shard: shard_id,
            new_master,
            shard_epoch,
            epoch: self.epoch,
            lossy: !in_sync,
        })
    }

    fn set_in_sync(
        &mut self,
        shard_id: ShardId,
        shard_epoch: u64,
        members: BTreeSet<NodeId>,
    ) -> Applied {
        let shard = self.shard(shard_id)?;
        if shard_epoch != shard.shard_epoch {
            return Err(Rejection::conflict(format!(
                "shard {shard_id} is at shard_epoch {}, the request is for {shard_epoch}",
                shard.shard_epoch
            )));
        }
        if let Some(stranger) = members.iter().find(|m| !shard.replicas.contains(m)) {
            return Err(Rejection::invalid(
                "members",
                format!("node {stranger} is not a replica of shard {shard_id}"),
            ));
        }
        let shard = self.shards.get_mut(&shard_id).expect("checked above");
        let changed = shard.in_sync != members;
        // Not an epoch change: routing goes to masters, and the in-sync set only decides who
        // may be promoted and whose acks the master waits for.
        shard.in_sync = members;
        Ok(Response::InSyncSet { shard: shard_id, changed })
    }

    fn remove_node(&mut self, id: NodeId) -> Applied {
        let node = self.nodes.get(&id).ok_or_else(|| Rejection::not_found(format!("node {id}")))?;
        if let Some(shard_id) = node.shard {
            let shard = self.shards.get_mut(&shard_id).expect("a node's shard exists");
            if shard.master == id {
                return Err(Rejection::conflict(format!(
                    "node {id} is the master of shard {shard_id}; fail it over first"
                )));
            }
            shard.replicas.remove(&id);
            shard.in_sync.remove(&id);
            self.epoch += 1;
        }
        self.nodes.remove(&id);
        Ok(Response::NodeRemoved { node: id, epoch: self.epoch })
    }

    fn register_proxy(&mut self, addr: String) -> Applied {
        check_addr("addr", &addr)?;
        if let Some((&proxy, _)) = self.proxies.iter().find(|(_, p)| p.addr == addr) {
            return Ok(Response::ProxyRegistered { proxy, new: false });
        }
        let proxy = self.next_proxy_id;
        self.next_proxy_id += 1;
        self.proxies.insert(proxy, Proxy { addr });
        Ok(Response::ProxyRegistered { proxy, new: true })
    }

    fn remove_proxy(&mut self, proxy: ProxyId) -> Applied {
        self.proxies
            .remove(&proxy)
            .ok_or_else(|| Rejection::not_found(format!("proxy {proxy}")))?;
        Ok(Response::ProxyRemoved { proxy })
    }

    fn shard(&self, id: ShardId) -> Result<&Shard, Rejection> {
        self.shards.get(&id).ok_or_else(|| Rejection::not_found(format!("shard {id}")))
    }

    fn set_node(&mut self, id: NodeId, shard: ShardId, role: Role) {
        let node = self.nodes.get_mut(&id).expect("validated: the node is registered");
        node.shard = Some(shard);
        node.role = role;
    }
}

/// Addresses are checked for shape only (`host:port` with a numeric port): the map cannot
/// resolve names, and a name that resolves differently later is still the same node.
fn check_addr(field: &str, addr: &str) -> Result<(), Rejection> {
    match protocol::addr::split_host_port(addr) {
        Some(_) => Ok(()),
        None => Err(Rejection::invalid(field, format!("{addr:?} is not host:port"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::SLOT_COUNT;

    fn must_register(map: &mut ClusterMap, addr: &str) -> NodeId {
        match map.apply(Command::RegisterNode { addr: addr.into() }) {
            Ok(Response::NodeRegistered { node, .. }) => node,
            other => panic!("register {addr}: {other:?}"),
        }
    }

    /// A map with `n` registered nodes and no cluster.
    fn registered(n: usize) -> (ClusterMap, Vec<NodeId>) {
        let mut map = ClusterMap::default();
        let ids = (0..n).map(|i| must_register(&mut map, &format!("10.0.0.{i}:7000"))).collect();
        (map, ids)
    }

    /// Pairs `nodes` into shards (master, replica) over evenly split slots.
    fn pairs_layout(nodes: &[NodeId]) -> Layout {
        let ranges = SlotRange::split_even(nodes.len() / 2);
        Layout {
            shards: nodes
                .chunks(2)
                .zip(ranges)
                .map(|(pair, range)| ShardLayout {
                    master: pair[0],
                    replicas: vec![pair[1]],
                    maxmemory: 1 << 30,
                    slots: vec![range],
                })
                .collect(),
            spec: Spec { plan: None, proxies: 2 },
        }
    }

    /// A map with a cluster of `shards` master+replica pairs.
    fn cluster(shards: usize) -> (ClusterMap, Vec<NodeId>) {
        let (mut map, ids) = registered(shards * 2);
        map.apply(Command::CreateCluster { layout: pairs_layout(&ids) }).unwrap();
        (map, ids)
    }

    fn must_reject(map: &mut ClusterMap, cmd: Command) -> Rejection {
        let before = map.clone();
        let rejection = map.apply(cmd).expect_err("the command should be rejected");
        assert_eq!(*map, before, "a rejected command changed the map");
        rejection
    }

    #[test]
    fn register_node_assigns_ids_and_is_idempotent_by_address() {
        let mut map = ClusterMap::default();
        let a = map.apply(Command::RegisterNode { addr: "h:7000".into() }).unwrap();
        let b = map.apply(Command::RegisterNode { addr: "h:7001".into() }).unwrap();
        let again = map.apply(Command::RegisterNode { addr: "h:7000".into() }).unwrap();
        assert_eq!(a, Response::NodeRegistered { node: 0, new: true });
        assert_eq!(b, Response::NodeRegistered { node: 1, new: true });
        assert_eq!(again, Response::NodeRegistered { node: 0, new: false });
        assert_eq!(map.nodes[&0].role, Role::Unassigned);
        assert_eq!(map.epoch, 0, "registering is not a routing change");
    }

    #[test]
    fn register_rejects_a_malformed_address() {
        let mut map = ClusterMap::default();
        for addr in ["", "h", "h:", ":7000", "h:99999"] {
            let r = must_reject(&mut map, Command::RegisterNode { addr: addr.into() });
            assert!(matches!(r, Rejection::Invalid { ref field, .. } if field == "addr"), "{r}");
            let r = must_reject(&mut map, Command::RegisterProxy { addr: addr.into() });
            assert_eq!(r.code(), "invalid");
        }
    }

    #[test]
    fn node_ids_are_not_reused_after_removal() {
        let (mut map, ids) = registered(2);
        map.apply(Command::RemoveNode { node: ids[1] }).unwrap();
        let id = must_register(&mut map, "10.0.0.9:7000");
        assert_eq!(id, 2);
    }

    #[test]
    fn create_cluster_installs_shards_roles_and_slots() {
        let (map, ids) = cluster(3);
        assert_eq!(map.epoch, 1);
        assert_eq!(map.shards.len(), 3);
        let shard = &map.shards[&1];
        assert_eq!(shard.master, ids[2]);
        assert_eq!(shard.replicas, BTreeSet::from([ids[3]]));
        assert_eq!(shard.in_sync, shard.replicas, "a fresh shard's replicas start in sync");
        assert_eq!(shard.shard_epoch, 1);
        assert_eq!(shard.maxmemory, 1 << 30);
        assert_eq!(map.nodes[&ids[2]].role, Role::Master);
        assert_eq!(map.nodes[&ids[3]].role, Role::Replica);
        assert_eq!(map.nodes[&ids[3]].shard, Some(1));
        assert_eq!(map.slots.assigned(), SLOT_COUNT);
        assert_eq!(map.slots.runs().len(), 3);
        assert_eq!(map.slots.shard_of(0), Some(0));
        assert_eq!(map.slots.shard_of(5461), Some(0));
        assert_eq!(map.slots.shard_of(5462), Some(1));
        assert_eq!(map.slots.shard_of(16383), Some(2));
        let (shard, master) = map.route(16383).unwrap();
        assert_eq!((shard, master.addr.as_str()), (2, "10.0.0.4:7000"));
        assert_eq!(map.spec, Some(Spec { plan: None, proxies: 2 }));
        let table = map.routing_table();
        table.validate().unwrap();
        assert_eq!(table.epoch, 1);
        assert_eq!(table.assigned_slots(), SLOT_COUNT);
        assert_eq!(table.shards[1].master, "10.0.0.2:7000");
        assert_eq!(table.shards[1].replicas, vec!["10.0.0.3:7000".to_string()]);
        assert_eq!(table.shard_for_slot(16383).unwrap().id, 2);
        assert_eq!(map.node_by_addr("10.0.0.3:7000"), Some(ids[3]));
    }

    #[test]
    fn create_cluster_merges_adjacent_ranges_of_one_shard() {
        let (mut map, ids) = registered(2);
        let layout = Layout {
            shards: vec![ShardLayout {
                master: ids[0],
                replicas: vec![ids[1]],
                maxmemory: 0,
                slots: vec![SlotRange { start: 100, end: 16383 }, SlotRange { start: 0, end: 99 }],
            }],
            spec: Spec { plan: Some("standard".into()), proxies: 1 },
        };
        map.apply(Command::CreateCluster { layout }).unwrap();
        assert_eq!(
            map.slots.runs(),
            &[SlotRun { range: SlotRange { start: 0, end: 16383 }, shard: 0 }]
        );
    }

    #[test]
    fn create_cluster_rejections_leave_the_map_unchanged() {
        let (mut map, ids) = registered(4);
        let good = pairs_layout(&ids);
        let with = |edit: &dyn Fn(&mut Layout)| {
            let mut layout = good.clone();
            edit(&mut layout);
            Command::CreateCluster { layout }
        };
        let cases: Vec<(Command, &str)> = vec![
            (with(&|l| l.shards.clear()), "shards"),
            (with(&|l| l.shards[0].replicas = vec![42]), "shards[0]"),
            (with(&|l| l.shards[1].replicas = vec![ids[0]]), "shards[1]"),
            (with(&|l| l.shards[0].replicas = vec![ids[0]]), "shards[0]"),
            (
                with(&|l| l.shards[0].slots = vec![SlotRange { start: 0, end: 16384 }]),
                "shards[0].slots",
            ),
            (
                with(&|l| l.shards[0].slots = vec![SlotRange { start: 9, end: 8 }]),
                "shards[0].slots",
            ),
            (with(&|l| l.shards[1].slots[0].start -= 1), "shards[1].slots"),
            (with(&|l| l.shards[1].slots[0].start += 1), "slots"),
        ];
        for (cmd, field) in cases {
            let r = must_reject(&mut map, cmd.clone());
            assert!(
                matches!(r, Rejection::Invalid { field: ref f, .. } if f == field),
                "{cmd:?}: expected invalid {field}, got {r}"
            );
        }
        map.apply(Command::CreateCluster { layout: good.clone() }).unwrap();
        let r = must_reject(&mut map, Command::CreateCluster { layout: good });
        assert_eq!(r.code(), "conflict");
    }

    #[test]
    fn failover_promotes_an_in_sync_replica() {
        let (mut map, ids) = cluster(2);
        let (old, new) = (ids[0], ids[1]);
        let r = map
            .apply(Command::Failover {
                shard: 0,
                new_master: new,
                force: false,
                expected_shard_epoch: Some(1),
            })
            .unwrap();
        assert_eq!(
            r,
            Response::FailedOver {
                shard: 0,
                new_master: new,
                shard_epoch: 2,
                epoch: 2,
                lossy: false
            }
        );
        let shard = &map.shards[&0];
        assert_eq!(shard.master, new);
        assert_eq!(shard.replicas, BTreeSet::from([old]));
        assert!(shard.in_sync.is_empty(), "the old master must resync before it is in sync");
        assert_eq!(map.nodes[&new].role, Role::Master);
        assert_eq!(map.nodes[&old].role, Role::Replica);
        assert_eq!(map.shards[&1].shard_epoch, 1, "other shards keep their shard_epoch");
        assert_eq!(map.route(0).unwrap().1.addr, "10.0.0.1:7000");
    }

    #[test]
    fn failover_keeps_the_other_in_sync_replicas() {
        let (mut map, ids) = registered(3);
        let layout = Layout {
            shards: vec![ShardLayout {
                master: ids[0],
                replicas: vec![ids[1], ids[2]],
                maxmemory: 0,
                slots: SlotRange::split_even(1),
            }],
            spec: Spec { plan: None, proxies: 1 },
        };
        map.apply(Command::CreateCluster { layout }).unwrap();
        map.apply(Command::Failover {
            shard: 0,
            new_master: ids[1],
            force: false,
            expected_shard_epoch: None,
        })
        .unwrap();
        let shard = &map.shards[&0];
        assert_eq!(shard.in_sync, BTreeSet::from([ids[2]]));
        assert_eq!(shard.replicas, BTreeSet::from([ids[0], ids[2]]));
    }

    #[test]
    fn failover_outside_the_in_sync_set_needs_force() {
        let (mut map, ids) = cluster(1);
        map.apply(Command::SetInSync { shard: 0, shard_epoch: 1, members: BTreeSet::new() })
            .unwrap();
        let failover = |force| Command::Failover {
            shard: 0,
            new_master: ids[1],
            force,
            expected_shard_epoch: None,
        };
        assert_eq!(must_reject(&mut map, failover(false)).code(), "conflict");
        let r = map.apply(failover(true)).unwrap();
        assert!(matches!(r, Response::FailedOver { lossy: true, shard_epoch: 2, .. }), "{r:?}");
    }

    #[test]
    fn failover_rejections() {
        let (mut map, ids) = cluster(2);
        let failover = |shard, new_master, expected_shard_epoch| Command::Failover {
            shard,
            new_master,
            force: true,
            expected_shard_epoch,
        };
        let r = must_reject(&mut map, failover(7, ids[1], None));
        assert_eq!(r, Rejection::NotFound { what: "shard 7".into() });
        assert_eq!(must_reject(&mut map, failover(0, ids[0], None)).code(), "conflict");
        let r = must_reject(&mut map, failover(0, ids[2], None));
        assert!(matches!(r, Rejection::Invalid { ref field, .. } if field == "new_master"));
        let r = must_reject(&mut map, failover(0, 99, None));
        assert_eq!(r.code(), "invalid");
        assert_eq!(must_reject(&mut map, failover(0, ids[1], Some(5))).code(), "conflict");
    }

    #[test]
    fn a_stale_failover_proposal_cannot_promote_twice() {
        let (mut map, ids) = cluster(1);
        let proposal = Command::Failover {
            shard: 0,
            new_master: ids[1],
            force: false,
            expected_shard_epoch: Some(1),
        };
        map.apply(proposal.clone()).unwrap();
        map.apply(Command::SetInSync {
            shard: 0,
            shard_epoch: 2,
            members: BTreeSet::from([ids[0]]),
        })
        .unwrap();
        // A second leader computed a failover from the same old view; it must not move the
        // master back.
        let back = Command::Failover {
            shard: 0,
            new_master: ids[0],
            force: false,
            expected_shard_epoch: Some(1),
        };
        assert_eq!(must_reject(&mut map, back).code(), "conflict");
        assert_eq!(map.shards[&0].master, ids[1]);
    }

    #[test]
    fn set_in_sync_replaces_the_set_without_an_epoch_change() {
        let (mut map, ids) = cluster(1);
        let r = map
            .apply(Command::SetInSync { shard: 0, shard_epoch: 1, members: BTreeSet::new() })
            .unwrap();
        assert_eq!(r, Response::InSyncSet { shard: 0, changed: true });
        assert!(map.shards[&0].in_sync.is_empty());
        let members = BTreeSet::from([ids[1]]);
        let r =
            map.apply(Command::SetInSync { shard: 0, shard_epoch: 1, members: members.clone() });
        assert_eq!(r, Ok(Response::InSyncSet { shard: 0, changed: true }));
        let r =
            map.apply(Command::SetInSync { shard: 0, shard_epoch: 1, members: members.clone() });
        assert_eq!(r, Ok(Response::InSyncSet { shard: 0, changed: false }));
        assert_eq!(map.epoch, 1);
        assert_eq!(map.shards[&0].shard_epoch, 1);
    }

    #[test]
    fn set_in_sync_rejections() {
        let (mut map, ids) = cluster(2);
        let set = |shard, shard_epoch, members: &[NodeId]| Command::SetInSync {
            shard,
            shard_epoch,
            members: members.iter().copied().collect(),
        };
        assert_eq!(must_reject(&mut map, set(9, 1, &[])).code(), "not_found");
        assert_eq!(must_reject(&mut map, set(0, 0, &[ids[1]])).code(), "conflict");
        let r = must_reject(&mut map, set(0, 1, &[ids[0]]));
        assert!(
            matches!(r, Rejection::Invalid { ref field, .. } if field == "members"),
            "the master"
        );
        assert_eq!(
            must_reject(&mut map, set(0, 1, &[ids[3]])).code(),
            "invalid",
            "another shard's"
        );
    }

    #[test]
    fn remove_node() {
        let (mut map, ids) = cluster(1);
        let spare = must_register(&mut map, "10.0.0.8:7000");
        let r = map.apply(Command::RemoveNode { node: spare }).unwrap();
        assert_eq!(r, Response::NodeRemoved { node: spare, epoch: 1 }, "an unassigned node");

        let r = must_reject(&mut map, Command::RemoveNode { node: ids[0] });
        assert_eq!(r.code(), "conflict", "a master must be failed over first");
        assert_eq!(must_reject(&mut map, Command::RemoveNode { node: 77 }).code(), "not_found");

        let r = map.apply(Command::RemoveNode { node: ids[1] }).unwrap();
        assert_eq!(
            r,
            Response::NodeRemoved { node: ids[1], epoch: 2 },
            "a replica is a routing change"
        );
        assert!(map.shards[&0].replicas.is_empty());
        assert!(map.shards[&0].in_sync.is_empty());
        assert!(!map.nodes.contains_key(&ids[1]));
    }

    #[test]
    fn proxies_register_idempotently_and_are_removed() {
        let mut map = ClusterMap::default();
        let r = map.apply(Command::RegisterProxy { addr: "p:6379".into() });
        assert_eq!(r, Ok(Response::ProxyRegistered { proxy: 0, new: true }));
        let r = map.apply(Command::RegisterProxy { addr: "p:6379".into() });
        assert_eq!(r, Ok(Response::ProxyRegistered { proxy: 0, new: false }));
        assert_eq!(
            map.apply(Command::RemoveProxy { proxy: 0 }),
            Ok(Response::ProxyRemoved { proxy: 0 })
        );
        assert_eq!(must_reject(&mut map, Command::RemoveProxy { proxy: 0 }).code(), "not_found");
        assert_eq!(map.epoch, 0);
    }

    #[test]
    fn the_map_round_trips_through_json() {
        let (mut map, ids) = cluster(3);
        map.apply(Command::RegisterProxy { addr: "p:6379".into() }).unwrap();
        map.apply(Command::Failover {
            shard: 2,
            new_master: ids[5],
            force: false,
            expected_shard_epoch: None,
        })
        .unwrap();
        let json = serde_json::to_vec(&map).unwrap();
        let back: ClusterMap = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, map);
        assert!(json.len() < 2048, "slots are stored as runs, not 16384 entries: {}", json.len());
    }
}
