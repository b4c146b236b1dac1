//! The failure detector and failover policy (DESIGN.md, point 3): which shards' masters have
//! been silent too long, and whom to promote. Pure: it reads a [`View`] and proposes; the loop
//! in [`super`] fences, commits and logs.
//!
//! The rules, each of which the safety argument needs:
//! - a master is silent when the leader has not *received* a heartbeat from it for
//!   `failover_after_ms`, which exceeds the lease a master counts from *sending* one;
//! - a leader that has led for less than `failover_after_ms` fails nothing over: a lease
//!   granted by its predecessor may still be running, and it has not heard anyone yet;
//! - in sync mode only a healthy member of the in-sync set may be promoted (they hold every
//!   acknowledged write); with none, the shard stays unavailable rather than lose writes;
//! - in async mode (Redis's behaviour) the healthy replica with the highest offset is
//!   promoted, possibly losing its lag (the commit is marked lossy);
//! - every proposal carries the shard_epoch it was computed at, so a proposal computed from a
//!   view another failover has overtaken is refused by the map.

use std::time::{Duration, Instant};

use protocol::heartbeat::ReportedRole;

use crate::config::ReplicationMode;
use crate::health::HealthView;
use crate::map::{ClusterMap, Command, NodeId, Shard, ShardId};

/// The settings the policy needs.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub failover_after: Duration,
    /// A replica heard from within this long counts as healthy.
    pub healthy_within: Duration,
    pub mode: ReplicationMode,
}

/// What the policy looks at.
pub struct View<'a> {
    pub map: &'a ClusterMap,
    pub health: &'a HealthView,
    pub now: Instant,
    /// Since when this server has led.
    pub leader_since: Instant,
}

/// What the policy concluded for one shard whose master is silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Promote: fence `master` at `shard_epoch` (if still silent since `silent_since`), then
    /// commit `command`.
    Failover {
        shard: ShardId,
        master: NodeId,
        shard_epoch: u64,
        silent_since: Instant,
        command: Command,
    },
    /// The master is silent but nobody may replace it.
    Stuck { shard: ShardId, reason: String },
}

/// The outcomes for every shard whose master is silent.
pub fn propose(policy: &Policy, view: &View) -> Vec<Outcome> {
    let Some(bound) = view.now.checked_sub(policy.failover_after) else { return Vec::new() };
    if view.leader_since > bound {
        return Vec::new();
    }
    let mut outcomes = Vec::new();
    for (&shard_id, shard) in &view.map.shards {
        // Never heard since this server began to lead: silent since then.
        let last = view.health.last_seen(shard.master).unwrap_or(view.leader_since);
        if last >= bound {
            continue;
        }
        outcomes.push(match candidate(policy, view, shard_id, shard, false) {
            Ok((new_master, force)) => Outcome::Failover {
                shard: shard_id,
                master: shard.master,
                shard_epoch: shard.shard_epoch,
                silent_since: bound,
                command: Command::Failover {
                    shard: shard_id,
                    new_master,
                    force,
                    expected_shard_epoch: Some(shard.shard_epoch),
                },
            },
            Err(reason) => Outcome::Stuck { shard: shard_id, reason },
        });
    }
    outcomes
}

/// The replica to promote in `shard` and whether the promotion needs `force` (async mode
/// outside the in-sync set). `force` asks for the best healthy replica even outside the
/// in-sync set (an operator's possibly lossy promotion).
pub fn candidate(
    policy: &Policy,
    view: &View,
    shard_id: ShardId,
    shard: &Shard,
    force: bool,
) -> Result<(NodeId, bool), String> {
    let healthy = |node: &NodeId| {
        view.health.nodes.get(node).is_some_and(|h| {
            view.now.saturating_duration_since(h.last_seen) <= policy.healthy_within
                && matches!(h.report.role, ReportedRole::Replica { shard, .. } if shard == shard_id)
        })
    };
    let offset = |node: &NodeId| view.health.nodes.get(node).map_or(0, |h| h.report.offset);
    let lossy_allowed = force || policy.mode == ReplicationMode::Async;
    let pool: Vec<NodeId> = if lossy_allowed {
        shard.replicas.iter().copied().filter(healthy).collect()
    } else {
        shard.in_sync.iter().copied().filter(healthy).collect()
    };
    // Highest offset first; the lowest id breaks ties, so the choice is deterministic.
    let best = pool.into_iter().max_by(|a, b| offset(a).cmp(&offset(b)).then(b.cmp(a)));
    match best {
        Some(node) => Ok((node, !shard.in_sync.contains(&node))),
        None if lossy_allowed => Err(format!("shard {shard_id} has no healthy replica")),
        None => Err(format!(
            "shard {shard_id} has no healthy replica in its in-sync set {:?}; it stays unavailable \
             rather than lose acknowledged writes (an operator may force a promotion)",
            shard.in_sync
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::testing::{cluster, report};
    use crate::health::NodeHealth;
    use std::collections::BTreeSet;

    const POLICY: Policy = Policy {
        failover_after: Duration::from_millis(1500),
        healthy_within: Duration::from_millis(500),
        mode: ReplicationMode::Sync,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Health where every node was last heard at `t0 + heard[i]`.
    fn health(map: &ClusterMap, ids: &[NodeId], t0: Instant, heard: &[u64]) -> HealthView {
        let mut h = HealthView::default();
        for (&id, &at) in ids.iter().zip(heard) {
            h.nodes.insert(id, NodeHealth { last_seen: t0 + ms(at), report: report(map, id) });
        }
        h
    }

    #[test]
    fn a_silent_master_is_replaced_by_its_in_sync_replica() {
        let (map, ids) = cluster(2);
        let t0 = Instant::now();
        let h = health(&map, &ids, t0, &[1000, 2900, 2900, 2900]);
        let view = View { map: &map, health: &h, now: t0 + ms(2500), leader_since: t0 };
        assert_eq!(propose(&POLICY, &view), vec![], "1500 ms of silence is not yet too long");
        let now = t0 + ms(2501);
        let h = health(&map, &ids, t0, &[1000, 2400, 2400, 2400]);
        let view = View { map: &map, health: &h, now, leader_since: t0 };
        assert_eq!(
            propose(&POLICY, &view),
            vec![Outcome::Failover {
                shard: 0,
                master: ids[0],
                shard_epoch: 1,
                silent_since: now - ms(1500),
                command: Command::Failover {
                    shard: 0,
                    new_master: ids[1],
                    force: false,
                    expected_shard_epoch: Some(1)
                },
            }]
        );
    }

    #[test]
    fn a_new_leader_waits_a_full_failover_timeout() {
        let (map, ids) = cluster(1);
        let t0 = Instant::now();
        // Nothing heard at all since it began to lead at t0.
        let h = HealthView::default();
        let view = View { map: &map, health: &h, now: t0 + ms(1499), leader_since: t0 };
        assert_eq!(propose(&POLICY, &view), vec![]);
        let h = health(&map, &ids[1..], t0, &[1500]);
        let view = View { map: &map, health: &h, now: t0 + ms(1501), leader_since: t0 };
        assert!(matches!(propose(&POLICY, &view)[..], [Outcome::Failover { .. }]));
    }

    #[test]
    fn without_a_healthy_in_sync_replica_the_shard_is_stuck() {
        let (mut map, ids) = cluster(1);
        let t0 = Instant::now();
        // The replica is healthy but out of the in-sync set.
        map.apply(Command::SetInSync { shard: 0, shard_epoch: 1, members: BTreeSet::new() })
            .unwrap();
        let h = health(&map, &ids, t0, &[0, 2000]);
        let view = View { map: &map, health: &h, now: t0 + ms(2000), leader_since: t0 };
        assert!(matches!(&propose(&POLICY, &view)[..], [Outcome::Stuck { shard: 0, .. }]));
        // In sync but silent itself.
        let (map, ids) = cluster(1);
        let h = health(&map, &ids, t0, &[0, 0]);
        let view = View { map: &map, health: &h, now: t0 + ms(2000), leader_since: t0 };
        assert!(matches!(&propose(&POLICY, &view)[..], [Outcome::Stuck { .. }]));
    }

    #[test]
    fn async_mode_promotes_the_highest_offset_even_outside_the_in_sync_set() {
        let (mut map, ids) = crate::controller::testing::cluster_with(1, 3);
        map.apply(Command::SetInSync {
            shard: 0,
            shard_epoch: 1,
            members: BTreeSet::from([ids[1]]),
        })
        .unwrap();
        let t0 = Instant::now();
        let mut h = health(&map, &ids, t0, &[0, 2000, 2000]);
        h.nodes.get_mut(&ids[1]).unwrap().report.offset = 10;
        h.nodes.get_mut(&ids[2]).unwrap().report.offset = 20;
        let view = View { map: &map, health: &h, now: t0 + ms(2000), leader_since: t0 };
        let policy = Policy { mode: ReplicationMode::Async, ..POLICY };
        let outcomes = propose(&policy, &view);
        let [Outcome::Failover { command: Command::Failover { new_master, force, .. }, .. }] =
            &outcomes[..]
        else {
            panic!("{outcomes:?}")
        };
        assert_eq!((*new_master, *force), (ids[2], true));
        // Sync mode picks the in-sync one, whatever the offsets.
        let outcomes = propose(&POLICY, &view);
        let [Outcome::Failover { command: Command::Failover { new_master, force, .. }, .. }] =
            &outcomes[..]
        else {
            panic!("{outcomes:?}")
        };
        assert_eq!((*new_master, *force), (ids[1], false));
    }

    #[test]
    fn a_replica_reporting_another_role_is_not_a_candidate() {
        let (map, ids) = cluster(1);
        let t0 = Instant::now();
        let mut h = health(&map, &ids, t0, &[0, 2000]);
        h.nodes.get_mut(&ids[1]).unwrap().report.role = ReportedRole::Unassigned;
        let view = View { map: &map, health: &h, now: t0 + ms(2000), leader_since: t0 };
        assert!(matches!(&propose(&POLICY, &view)[..], [Outcome::Stuck { .. }]));
    }
}
