//! Prometheus metrics of a config server (`GET /metrics`, text exposition format). Counters
//! count events as they happen; gauges are read from Raft and the map when scraped.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The metrics; see [`Metrics::render`].
pub struct Metrics {
    registry: Registry,
    pub partition_heartbeats: Counter,
    pub proxy_heartbeats: Counter,
    pub routing_requests: Counter,
    pub failovers: Counter,
    pub in_sync_changes: Counter,
    pub is_leader: Gauge,
    pub term: Gauge,
    pub last_applied: Gauge,
    pub snapshot_index: Gauge,
    pub purged_index: Gauge,
    pub epoch: Gauge,
    pub shards: Gauge,
    pub nodes: Gauge,
    pub nodes_healthy: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("rcluster_config"),
            partition_heartbeats: Counter::default(),
            proxy_heartbeats: Counter::default(),
            routing_requests: Counter::default(),
            failovers: Counter::default(),
            in_sync_changes: Counter::default(),
            is_leader: Gauge::default(),
            term: Gauge::default(),
            last_applied: Gauge::default(),
            snapshot_index: Gauge::default(),
            purged_index: Gauge::default(),
            epoch: Gauge::default(),
            shards: Gauge::default(),
            nodes: Gauge::default(),
            nodes_healthy: Gauge::default(),
        };
        let r = &mut m.registry;
        r.register(
            "partition_heartbeats",
            "Partition server heartbeats received",
            m.partition_heartbeats.clone(),
        );
        r.register("proxy_heartbeats", "Proxy heartbeats received", m.proxy_heartbeats.clone());
        r.register(
            "routing_requests",
            "Routing table requests (GET /v1/routing)",
            m.routing_requests.clone(),
        );
        r.register("failovers", "Failovers this server committed as leader", m.failovers.clone());
        r.register(
            "in_sync_changes",
            "In-sync set changes committed at a master's request",
            m.in_sync_changes.clone(),
        );
        r.register("is_leader", "1 when this server leads the Raft group", m.is_leader.clone());
        r.register("raft_term", "The current Raft term", m.term.clone());
        r.register(
            "raft_last_applied",
            "The index of the last applied log entry",
            m.last_applied.clone(),
        );
        r.register(
            "raft_snapshot_index",
            "The last log index in this server's snapshot",
            m.snapshot_index.clone(),
        );
        r.register(
            "raft_purged_index",
            "The last log index purged from this server's log",
            m.purged_index.clone(),
        );
        r.register("cluster_epoch", "The cluster map's epoch", m.epoch.clone());
        r.register("shards", "Shards in the cluster map", m.shards.clone());
        r.register("nodes", "Partition servers in the cluster map", m.nodes.clone());
        r.register(
            "nodes_healthy",
            "Partition servers heard from recently (leader only)",
            m.nodes_healthy.clone(),
        );
        m
    }
}

impl Metrics {
    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
