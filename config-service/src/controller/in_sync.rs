//! In-sync set changes at the master's request (DESIGN.md, point 4). The master knows who
//! acknowledges its writes; the leader checks only that the request is the current master's
//! (its reported shard_epoch is the shard's) and names the shard's replicas, then commits it
//! as [`Command::SetInSync`], which checks the shard_epoch once more when applied.

use std::collections::BTreeSet;

use protocol::heartbeat::{PartitionHeartbeat, ReportedRole};

use crate::map::{ClusterMap, Command, NodeId};

/// The command that `report`'s in-sync request from node `id` calls for, if any: `None` when
/// there is no request, it is not from the shard's current master, or it asks for the set
/// already committed. Addresses that are not replicas of the shard are left out (the map
/// would refuse the whole request otherwise, and the master can only have meant its own
/// replicas).
pub fn command(map: &ClusterMap, id: NodeId, report: &PartitionHeartbeat) -> Option<Command> {
    let requested = report.in_sync_request.as_ref()?;
    let ReportedRole::Master { shard, shard_epoch } = report.role else { return None };
    let current = map.shards.get(&shard)?;
    if current.master != id || current.shard_epoch != shard_epoch {
        return None;
    }
    let members: BTreeSet<NodeId> = requested
        .iter()
        .filter_map(|addr| map.node_by_addr(addr))
        .filter(|node| current.replicas.contains(node))
        .collect();
    (members != current.in_sync).then_some(Command::SetInSync { shard, shard_epoch, members })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::testing::{cluster, report};

    #[test]
    fn a_masters_request_becomes_a_set_in_sync() {
        let (map, ids) = cluster(2);
        let mut hb = report(&map, ids[0]);
        assert_eq!(command(&map, ids[0], &hb), None, "no request");
        hb.in_sync_request = Some(vec![]);
        assert_eq!(
            command(&map, ids[0], &hb),
            Some(Command::SetInSync { shard: 0, shard_epoch: 1, members: BTreeSet::new() })
        );
        hb.in_sync_request = Some(vec!["10.0.0.1:7000".into()]);
        assert_eq!(command(&map, ids[0], &hb), None, "already the committed set");
        // A stranger (another shard's node, an unknown address) is left out.
        hb.in_sync_request = Some(vec!["10.0.0.3:7000".into(), "nowhere:1".into()]);
        assert_eq!(
            command(&map, ids[0], &hb),
            Some(Command::SetInSync { shard: 0, shard_epoch: 1, members: BTreeSet::new() })
        );
    }

    #[test]
    fn only_the_current_master_may_ask() {
        let (map, ids) = cluster(1);
        let mut hb = report(&map, ids[0]);
        hb.in_sync_request = Some(vec![]);
        assert_eq!(command(&map, ids[1], &hb), None, "not the master");
        hb.role = ReportedRole::Master { shard: 0, shard_epoch: 0 };
        assert_eq!(command(&map, ids[0], &hb), None, "a stale shard_epoch");
        hb.role = ReportedRole::Master { shard: 9, shard_epoch: 1 };
        assert_eq!(command(&map, ids[0], &hb), None, "no such shard");
    }
}
