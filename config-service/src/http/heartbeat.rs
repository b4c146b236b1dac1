//! `POST /v1/heartbeat/partition` and `POST /v1/heartbeat/proxy`, answered by the leader only
//! (others answer 421 with the leader's address): the observations live on the leader, and a
//! lease may only come from it.
//!
//! A partition server's heartbeat, in order:
//! 1. registers it (a Raft commit) the first time its address is seen;
//! 2. is recorded as an observation, stamped with when it was *received*;
//! 3. commits the in-sync set its master asks for, if that differs from the committed one;
//!    a master that reports a restart is replaced by a healthy in-sync replica if it has one;
//! 4. is answered with its assignment from the map as now applied. A master's lease is
//!    granted only after a quorum round that started after step 2 confirmed this server still
//!    leads, and only if the failure detector has not fenced it (see [`crate::health`] and
//!    [`crate::leadership`] for why both are needed).

use std::sync::Arc;
use std::time::Instant;

use admin_api::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use protocol::heartbeat::{
    AssignedRole, Assignment, PartitionHeartbeat, PartitionHeartbeatReply, ProxyHeartbeat,
    ProxyHeartbeatReply, PARTITION_PATH, PROXY_PATH,
};

use crate::controller::in_sync;
use crate::error::{Error, Result};
use crate::map::{ClusterMap, Command, NodeId, Response};
use crate::node::{ConfigNode, READ_TIMEOUT};

pub fn router(node: Arc<ConfigNode>) -> Router {
    Router::new()
        .route(PARTITION_PATH, post(partition_heartbeat))
        .route(PROXY_PATH, post(proxy_heartbeat))
        .with_state(node)
}

fn body<T>(json: std::result::Result<Json<T>, JsonRejection>) -> std::result::Result<T, ApiError> {
    json.map(|Json(t)| t).map_err(|e| ApiError::invalid("body", e.body_text()))
}

async fn partition_heartbeat(
    State(node): State<Arc<ConfigNode>>,
    report: std::result::Result<Json<PartitionHeartbeat>, JsonRejection>,
) -> std::result::Result<Json<PartitionHeartbeatReply>, ApiError> {
    let received = Instant::now();
    let report = body(report)?;
    node.metrics.partition_heartbeats.inc();
    Ok(Json(partition(&node, report, received).await?))
}

async fn proxy_heartbeat(
    State(node): State<Arc<ConfigNode>>,
    report: std::result::Result<Json<ProxyHeartbeat>, JsonRejection>,
) -> std::result::Result<Json<ProxyHeartbeatReply>, ApiError> {
    let received = Instant::now();
    let report = body(report)?;
    node.metrics.proxy_heartbeats.inc();
    node.require_leader()?;
    let map = node.map();
    let proxy = match map.proxies.iter().find(|(_, p)| p.addr == report.addr) {
        Some((&id, _)) => id,
        None => match node.propose(Command::RegisterProxy { addr: report.addr.clone() }).await? {
            Response::ProxyRegistered { proxy, .. } => proxy,
            other => return Err(Error::Fatal(format!("unexpected {other:?}")).into()),
        },
    };
    node.health.observe_proxy(proxy, report, received);
    Ok(Json(ProxyHeartbeatReply { proxy, epoch: node.map().epoch }))
}

/// Handles one partition server heartbeat received at `received`; see the module docs.
pub async fn partition(
    node: &ConfigNode,
    report: PartitionHeartbeat,
    received: Instant,
) -> Result<PartitionHeartbeatReply> {
    node.require_leader()?;
    let id = match node.map().node_by_addr(&report.addr) {
        Some(id) => id,
        None => match node.propose(Command::RegisterNode { addr: report.addr.clone() }).await? {
            Response::NodeRegistered { node: id, new } => {
                if new {
                    tracing::info!(node = id, addr = %report.addr, "partition server registered");
                }
                id
            }
            other => return Err(Error::Fatal(format!("unexpected {other:?}"))),
        },
    };
    let request = in_sync::command(&node.map(), id, &report);
    let restarted = report.restarted;
    node.health.observe_node(id, report, received);
    if let Some(cmd) = request {
        match node.propose(cmd.clone()).await {
            Ok(_) => {
                node.metrics.in_sync_changes.inc();
                tracing::info!(node = id, change = ?cmd, "in-sync set changed at the master's request")
            }
            // A stale request (the master was deposed meanwhile): the reply tells it.
            Err(Error::Rejected(r)) => {
                tracing::info!(node = id, cause = %r, "in-sync request refused")
            }
            Err(e) => return Err(e),
        }
    }
    if restarted {
        replace_restarted_master(node, id).await;
    }
    let map = node.map();
    let assignment = assignment(node, &map, id, received).await?;
    Ok(PartitionHeartbeatReply { node: id, assignment, routing: map.routing_table() })
}

/// A master that restarted (`PartitionHeartbeat::restarted`) is replaced by a healthy in-sync
/// replica when there is one: its own data may lack what that replica acknowledged. The
/// restarted process holds no lease (a restart loses it), so the promotion is safe at once.
/// Without such a replica it stays master and gets a lease as usual.
async fn replace_restarted_master(node: &ConfigNode, id: NodeId) {
    let map = node.map();
    let Some((&shard_id, shard)) = map.shards.iter().find(|(_, s)| s.master == id) else { return };
    let health = node.health.view();
    let now = Instant::now();
    let view =
        crate::controller::failover::View { map: &map, health: &health, now, leader_since: now };
    let policy = crate::controller::policy(node);
    let Ok((new_master, false)) =
        crate::controller::failover::candidate(&policy, &view, shard_id, shard, false)
    else {
        tracing::warn!(
            node = id,
            shard = shard_id,
            "a master restarted with no healthy in-sync replica to replace it: it serves again"
        );
        return;
    };
    let command = Command::Failover {
        shard: shard_id,
        new_master,
        force: false,
        expected_shard_epoch: Some(shard.shard_epoch),
    };
    node.health.fence(shard_id, shard.shard_epoch, id);
    let why = "a restarted master (its in-sync replica has every acknowledged write)";
    if let Err(e) =
        crate::controller::commit_failover(node, shard_id, id, shard.shard_epoch, command, why)
            .await
    {
        tracing::warn!(node = id, shard = shard_id, cause = %e, "replacing a restarted master failed");
    }
}

/// What node `id` must be, per `map`; a master's lease as the module docs say.
async fn assignment(
    node: &ConfigNode,
    map: &ClusterMap,
    id: NodeId,
    received: Instant,
) -> Result<Option<Assignment>> {
    let Some(shard_id) = map.nodes.get(&id).and_then(|n| n.shard) else {
        return Ok(None);
    };
    let shard = &map.shards[&shard_id];
    let role = if shard.master == id {
        if !node.leadership.confirmed_after(received, READ_TIMEOUT).await {
            return Err(Error::NoQuorum("could not confirm leadership to grant a lease".into()));
        }
        let lease_ms = if node.health.grant_lease(shard_id, shard.shard_epoch, id) {
            node.config.lease_ms
        } else {
            0
        };
        AssignedRole::Master { lease_ms, in_sync: map.addrs(&shard.in_sync) }
    } else {
        let master = map.nodes.get(&shard.master).map_or_else(String::new, |n| n.addr.clone());
        AssignedRole::Replica { master }
    };
    Ok(Some(Assignment {
        shard: shard_id,
        shard_epoch: shard.shard_epoch,
        role,
        slots: map.slots.ranges_of(shard_id),
        maxmemory: shard.maxmemory,
        replication: node.config.replication.into(),
    }))
}
