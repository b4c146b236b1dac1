//! What the leader has *observed* — heartbeats, offsets, memory — as opposed to what the
//! cluster has *decided* (the map). Kept in the leader's memory only: putting observations in
//! Raft would commit on every heartbeat, and a new leader rebuilds them within one heartbeat
//! interval (it waits a full `failover_after_ms` before acting on their absence anyway).
//!
//! It also holds the **fences**: masters the failure detector has started to replace. The
//! heartbeat handler grants no lease to a fenced master, and both sides take the one lock, so
//! once the detector has decided that a master is silent no heartbeat of it that arrives later
//! can earn a lease that outlives the failover (see `grant_lease`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Instant;

use protocol::heartbeat::{PartitionHeartbeat, ProxyHeartbeat};

use crate::map::{NodeId, ProxyId, ShardId};

/// The last heartbeat of one partition server.
#[derive(Debug, Clone)]
pub struct NodeHealth {
    /// When the leader received it.
    pub last_seen: Instant,
    pub report: PartitionHeartbeat,
}

/// The last heartbeat of one proxy.
#[derive(Debug, Clone)]
pub struct ProxyHealth {
    pub last_seen: Instant,
    pub report: ProxyHeartbeat,
}

/// A copy of the observations, for the controllers' policies and the admin view.
#[derive(Debug, Clone, Default)]
pub struct HealthView {
    pub nodes: BTreeMap<NodeId, NodeHealth>,
    pub proxies: BTreeMap<ProxyId, ProxyHealth>,
}

impl HealthView {
    pub fn last_seen(&self, node: NodeId) -> Option<Instant> {
        self.nodes.get(&node).map(|h| h.last_seen)
    }
}

#[derive(Default)]
struct Inner {
    view: HealthView,
    /// (shard, shard_epoch) → the master being replaced at that shard_epoch, and since when.
    fences: BTreeMap<(ShardId, u64), (NodeId, Instant)>,
}

/// The leader's observations and fences. See the module docs.
#[derive(Default)]
pub struct Health {
    inner: Mutex<Inner>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a partition server's heartbeat, received at `at`.
    pub fn observe_node(&self, node: NodeId, report: PartitionHeartbeat, at: Instant) {
        let mut inner = self.lock();
        let entry = inner
            .view
            .nodes
            .entry(node)
            .or_insert(NodeHealth { last_seen: at, report: report.clone() });
        entry.last_seen = entry.last_seen.max(at);
        entry.report = report;
    }

    /// Records a proxy's heartbeat, received at `at`.
    pub fn observe_proxy(&self, proxy: ProxyId, report: ProxyHeartbeat, at: Instant) {
        self.lock().view.proxies.insert(proxy, ProxyHealth { last_seen: at, report });
    }

    pub fn view(&self) -> HealthView {
        self.lock().view.clone()
    }

    /// Forgets everything: this server is no longer the leader, and what it saw will be stale
    /// by the time it leads again.
    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    /// Fences `master` of `shard` at `shard_epoch` if it has been silent since before
    /// `silent_since`: from now on it gets no lease at that shard_epoch. Returns false (and
    /// fences nothing) when a heartbeat newer than that has arrived meanwhile — the check and
    /// the fence are one step under the lock the heartbeat handler takes.
    pub fn fence_if_silent(
        &self,
        shard: ShardId,
        shard_epoch: u64,
        master: NodeId,
        silent_since: Instant,
    ) -> bool {
        let mut inner = self.lock();
        if inner.view.last_seen(master).is_some_and(|seen| seen >= silent_since) {
            return false;
        }
        inner.fences.insert((shard, shard_epoch), (master, Instant::now()));
        true
    }

    /// Fences `master` of `shard` at `shard_epoch` unconditionally (an operator's failover, a
    /// restarted master).
    pub fn fence(&self, shard: ShardId, shard_epoch: u64, master: NodeId) {
        self.lock().fences.insert((shard, shard_epoch), (master, Instant::now()));
    }

    /// Lifts a fence whose failover was not committed (the master may serve again once it
    /// heartbeats).
    pub fn unfence(&self, shard: ShardId, shard_epoch: u64) {
        self.lock().fences.remove(&(shard, shard_epoch));
    }

    /// Whether `master` of `shard` may get a lease at `shard_epoch`.
    pub fn grant_lease(&self, shard: ShardId, shard_epoch: u64, master: NodeId) -> bool {
        self.lock().fences.get(&(shard, shard_epoch)).is_none_or(|(fenced, _)| *fenced != master)
    }

    /// Drops fences set more than `age` ago. A fence must outlive every heartbeat handler that
    /// read the map before its failover committed (those take well under a second); after
    /// that the map itself says the node is no longer master at that shard_epoch. Dropping
    /// them by age rather than by "the shard_epoch moved on" keeps a slow handler holding an
    /// old map from finding the fence already gone.
    pub fn drop_fences_older_than(&self, age: std::time::Duration) {
        self.lock().fences.retain(|_, (_, since)| since.elapsed() < age);
    }

    /// The fenced masters, for the admin view and tests.
    pub fn fenced(&self) -> BTreeSet<NodeId> {
        self.lock().fences.values().map(|(node, _)| *node).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::heartbeat::ReportedRole;
    use std::time::Duration;

    fn report() -> PartitionHeartbeat {
        PartitionHeartbeat {
            addr: "h:1".into(),
            role: ReportedRole::Master { shard: 0, shard_epoch: 1 },
            offset: 0,
            replid: String::new(),
            used_memory: 0,
            keys: 0,
            restarted: false,
            in_sync_request: None,
        }
    }

    #[test]
    fn a_fenced_master_gets_no_lease_at_that_shard_epoch() {
        let health = Health::default();
        let t0 = Instant::now();
        health.observe_node(7, report(), t0);
        assert!(health.grant_lease(0, 1, 7));
        // A heartbeat newer than the silence bound: not fenced.
        assert!(!health.fence_if_silent(0, 1, 7, t0));
        assert!(health.fence_if_silent(0, 1, 7, t0 + Duration::from_millis(1)));
        assert!(!health.grant_lease(0, 1, 7), "fenced");
        // A heartbeat arriving after the fence does not lift it.
        health.observe_node(7, report(), t0 + Duration::from_secs(5));
        assert!(!health.grant_lease(0, 1, 7));
        assert!(health.grant_lease(1, 1, 7), "other shards are unaffected");
        assert!(health.grant_lease(0, 2, 8), "the next shard_epoch is unaffected");
        assert!(!health.grant_lease(0, 1, 7), "asking for a newer epoch keeps the old fence");
        health.drop_fences_older_than(Duration::from_secs(60));
        assert_eq!(health.fenced(), BTreeSet::from([7]));
        health.drop_fences_older_than(Duration::ZERO);
        assert!(health.fenced().is_empty());
    }

    #[test]
    fn an_uncommitted_failover_lifts_its_fence() {
        let health = Health::default();
        assert!(health.fence_if_silent(0, 3, 1, Instant::now()));
        health.unfence(0, 3);
        assert!(health.grant_lease(0, 3, 1));
    }
}
