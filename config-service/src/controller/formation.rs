//! Cluster formation: turning registered, healthy partition servers into a [`Layout`] — pairs
//! of master and replica over evenly split slots — for `POST /v1/cluster` and `--init-shards`.
//!
//! Pairing keeps a shard's two copies on different hosts whenever the servers are on more than
//! one host: the servers are dealt round-robin over hosts, each master takes the first
//! remaining server on another host as its replica, and pairs left on one host swap replicas
//! with a pair where that separates both.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::health::HealthView;
use crate::map::{ClusterMap, Layout, NodeId, Role, ShardLayout, SlotRange, Spec};

/// The host part of `host:port`.
fn host(addr: &str) -> &str {
    protocol::addr::split_host_port(addr).map_or(addr, |(h, _)| h)
}

/// Registered servers in no shard, heard from within `healthy_within` of `now`, in id order.
pub fn spares(
    map: &ClusterMap,
    health: &HealthView,
    now: Instant,
    healthy_within: Duration,
) -> Vec<NodeId> {
    map.nodes
        .iter()
        .filter(|(_, n)| n.role == Role::Unassigned)
        .filter(|(id, _)| {
            health
                .last_seen(**id)
                .is_some_and(|t| now.saturating_duration_since(t) <= healthy_within)
        })
        .map(|(&id, _)| id)
        .collect()
}

/// A layout of `shards` master+replica pairs from `spares`, each server with `maxmemory`.
pub fn layout(
    map: &ClusterMap,
    spares: &[NodeId],
    shards: usize,
    maxmemory: u64,
    spec: Spec,
) -> Result<Layout, String> {
    if shards == 0 || shards > protocol::SLOT_COUNT {
        return Err(format!("a cluster needs 1 to {} shards, not {shards}", protocol::SLOT_COUNT));
    }
    if spares.len() < shards * 2 {
        return Err(format!(
            "{shards} shards need {} healthy unassigned partition servers; {} are registered and healthy",
            shards * 2,
            spares.len()
        ));
    }
    let addr = |id: NodeId| map.nodes.get(&id).map_or("", |n| n.addr.as_str());
    // Deal round-robin over hosts, so that consecutive servers are on different hosts.
    let mut by_host: BTreeMap<&str, Vec<NodeId>> = BTreeMap::new();
    for &id in spares {
        by_host.entry(host(addr(id))).or_default().push(id);
    }
    let mut dealt = Vec::with_capacity(spares.len());
    for round in 0.. {
        let before = dealt.len();
        dealt.extend(by_host.values().filter_map(|ids| ids.get(round)));
        if dealt.len() == before {
            break;
        }
    }
    dealt.truncate(shards * 2);
    let (masters, mut rest) = (dealt[..shards].to_vec(), dealt[shards..].to_vec());
    let mut replicas = Vec::with_capacity(shards);
    for &master in &masters {
        let pick = rest.iter().position(|&r| host(addr(r)) != host(addr(master))).unwrap_or(0);
        replicas.push(rest.remove(pick));
    }
    // The greedy pass can leave a pair on one host when another pairing avoids it: swap
    // replicas between such a pair and any pair where the swap separates both.
    let same = |m: NodeId, r: NodeId| host(addr(m)) == host(addr(r));
    for i in 0..shards {
        if !same(masters[i], replicas[i]) {
            continue;
        }
        let swap =
            (0..shards).find(|&j| !same(masters[i], replicas[j]) && !same(masters[j], replicas[i]));
        if let Some(j) = swap {
            replicas.swap(i, j);
        }
    }
    let ranges = SlotRange::split_even(shards);
    let layout = masters
        .into_iter()
        .zip(replicas)
        .zip(ranges)
        .map(|((master, replica), range)| ShardLayout {
            master,
            replicas: vec![replica],
            maxmemory,
            slots: vec![range],
        })
        .collect();
    Ok(Layout { shards: layout, spec })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::Command;
    use protocol::SLOT_COUNT;

    fn registered(addrs: &[&str]) -> (ClusterMap, Vec<NodeId>) {
        let mut map = ClusterMap::default();
        for addr in addrs {
            map.apply(Command::RegisterNode { addr: addr.to_string() }).unwrap();
        }
        let ids = map.nodes.keys().copied().collect();
        (map, ids)
    }

    fn spec() -> Spec {
        Spec { plan: None, proxies: 2 }
    }

    #[test]
    fn pairs_never_share_a_host_when_hosts_differ() {
        let (map, ids) = registered(&["a:1", "a:2", "b:1", "b:2", "c:1", "c:2"]);
        let layout = layout(&map, &ids, 3, 7, spec()).unwrap();
        assert_eq!(layout.shards.len(), 3);
        for shard in &layout.shards {
            let m = host(&map.nodes[&shard.master].addr);
            let r = host(&map.nodes[&shard.replicas[0]].addr);
            assert_ne!(m, r, "{shard:?}");
            assert_eq!(shard.maxmemory, 7);
        }
        let slots: usize = layout.shards.iter().flat_map(|s| &s.slots).map(|r| r.len()).sum();
        assert_eq!(slots, SLOT_COUNT);
        // The map accepts it.
        let mut map = map;
        map.apply(Command::CreateCluster { layout }).unwrap();
        assert_eq!(map.slots.assigned(), SLOT_COUNT);
    }

    #[test]
    fn two_hosts_with_uneven_counts() {
        let (map, ids) = registered(&["a:1", "a:2", "a:3", "b:1"]);
        let layout = layout(&map, &ids, 2, 0, spec()).unwrap();
        let hosts: Vec<(String, String)> = layout
            .shards
            .iter()
            .map(|s| {
                (
                    host(&map.nodes[&s.master].addr).into(),
                    host(&map.nodes[&s.replicas[0]].addr).into(),
                )
            })
            .collect();
        // Four servers, three on one host: one pair must share it, the other must not.
        assert_eq!(hosts.iter().filter(|(m, r)| m != r).count(), 1, "{hosts:?}");
    }

    #[test]
    fn one_host_is_fine_and_too_few_servers_is_an_error() {
        let (map, ids) = registered(&["h:1", "h:2", "h:3", "h:4"]);
        assert_eq!(layout(&map, &ids, 2, 0, spec()).unwrap().shards.len(), 2);
        let e = layout(&map, &ids, 3, 0, spec()).unwrap_err();
        assert!(e.contains("need 6"), "{e}");
    }

    #[test]
    fn spares_are_healthy_and_unassigned() {
        let (map, ids) = registered(&["h:1", "h:2", "h:3"]);
        let now = Instant::now();
        let mut health = HealthView::default();
        for (i, &id) in ids.iter().enumerate() {
            let report = crate::controller::testing::report(&map, id);
            let last_seen = now - Duration::from_millis(300 * i as u64);
            health.nodes.insert(id, crate::health::NodeHealth { last_seen, report });
        }
        assert_eq!(spares(&map, &health, now, Duration::from_millis(500)), ids[..2].to_vec());
    }
}
