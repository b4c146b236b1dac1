//! Helpers for the policies' unit tests: maps with a cluster in them, heartbeats as each node
//! would send them.

use protocol::heartbeat::{PartitionHeartbeat, ReportedRole};

use crate::map::{ClusterMap, Command, Layout, NodeId, Role, ShardLayout, SlotRange, Spec};

/// A map with `shards` master+replica pairs; node `2i` masters shard `i`, node `2i+1` is its
/// replica; addresses `10.0.0.<n>:7000`.
pub fn cluster(shards: usize) -> (ClusterMap, Vec<NodeId>) {
    cluster_with(shards, 2)
}

/// A map with `shards` shards of `copies` nodes each (one master, the rest replicas).
pub fn cluster_with(shards: usize, copies: usize) -> (ClusterMap, Vec<NodeId>) {
    let mut map = ClusterMap::default();
    for i in 0..shards * copies {
        map.apply(Command::RegisterNode { addr: format!("10.0.0.{i}:7000") }).unwrap();
    }
    let ids: Vec<NodeId> = map.nodes.keys().copied().collect();
    let layout = Layout {
        shards: ids
            .chunks(copies)
            .zip(SlotRange::split_even(shards))
            .map(|(group, range)| ShardLayout {
                master: group[0],
                replicas: group[1..].to_vec(),
                maxmemory: 0,
                slots: vec![range],
            })
            .collect(),
        spec: Spec { plan: None, proxies: 1 },
    };
    map.apply(Command::CreateCluster { layout }).unwrap();
    (map, ids)
}

/// The heartbeat node `id` sends when its role is the map's.
pub fn report(map: &ClusterMap, id: NodeId) -> PartitionHeartbeat {
    let node = &map.nodes[&id];
    let role = match (node.role, node.shard) {
        (Role::Master, Some(shard)) => {
            ReportedRole::Master { shard, shard_epoch: map.shards[&shard].shard_epoch }
        }
        (Role::Replica, Some(shard)) => {
            let s = &map.shards[&shard];
            ReportedRole::Replica {
                shard,
                shard_epoch: s.shard_epoch,
                master: map.nodes[&s.master].addr.clone(),
                link_up: true,
            }
        }
        _ => ReportedRole::Unassigned,
    };
    PartitionHeartbeat {
        addr: node.addr.clone(),
        role,
        offset: 0,
        replid: String::new(),
        used_memory: 0,
        keys: 0,
        restarted: false,
        in_sync_request: None,
    }
}
