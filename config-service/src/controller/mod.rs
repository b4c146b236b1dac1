//! Leader-only controllers. Each decision is a *policy* — a pure function from a view of the
//! map and the observations to proposed [`Command`](crate::map::Command)s, unit-tested without
//! a network — and this module's loop, which on the leader computes them every half heartbeat
//! interval and commits them through Raft.
//!
//! - [`failover`]: the failure detector and the choice of whom to promote.
//! - [`formation`]: the first layout, from registered servers (`--init-shards`,
//!   `POST /v1/cluster`).
//! - [`in_sync`]: in-sync set changes a master asks for (applied from its heartbeat).

pub mod failover;
pub mod formation;
pub mod in_sync;
#[cfg(test)]
pub(crate) mod testing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::map::{Command, Response, Spec};
use crate::node::ConfigNode;

/// How long a fence is kept after it was set (see `Health::drop_fences_older_than`).
const FENCE_TTL: Duration = Duration::from_secs(60);

/// The failover policy's settings, from the node's config.
pub fn policy(node: &ConfigNode) -> failover::Policy {
    failover::Policy {
        failover_after: node.config.failover_after(),
        healthy_within: node.config.healthy_within(),
        mode: node.config.replication,
    }
}

/// Runs the controllers until `shutdown`.
pub async fn run(node: Arc<ConfigNode>, mut shutdown: watch::Receiver<bool>) {
    let tick = node.config.heartbeat() / 2;
    let mut stuck_logged = Instant::now() - Duration::from_secs(3600);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
        let Some(leader_since) = node.leader_since() else { continue };
        if let Some(shards) = node.config.init_shards {
            form(&node, shards).await;
        }
        let map = node.map();
        let health = node.health.view();
        let view = failover::View { map: &map, health: &health, now: Instant::now(), leader_since };
        for outcome in failover::propose(&policy(&node), &view) {
            match outcome {
                failover::Outcome::Failover {
                    shard,
                    master,
                    shard_epoch,
                    silent_since,
                    command,
                } => {
                    fail_over(&node, shard, master, shard_epoch, silent_since, command).await;
                }
                failover::Outcome::Stuck { shard, reason } => {
                    if stuck_logged.elapsed() > Duration::from_secs(5) {
                        tracing::error!(shard, "{reason}");
                        stuck_logged = Instant::now();
                    }
                }
            }
        }
        node.health.drop_fences_older_than(FENCE_TTL);
    }
}

/// Fences the silent master, then commits its replacement; lifts the fence if the commit is
/// refused or fails.
async fn fail_over(
    node: &ConfigNode,
    shard: u32,
    master: u64,
    shard_epoch: u64,
    silent_since: Instant,
    command: Command,
) {
    if !node.health.fence_if_silent(shard, shard_epoch, master, silent_since) {
        return; // it spoke up meanwhile
    }
    if let Err(e) =
        commit_failover(node, shard, master, shard_epoch, command, "a silent master").await
    {
        tracing::warn!(shard, cause = %e, "failover not committed");
    }
}

/// What a committed failover did.
pub struct FailedOver {
    pub new_master: u64,
    pub shard_epoch: u64,
    pub epoch: u64,
    pub lossy: bool,
}

/// Commits `command`, a failover of `shard` away from the fenced `master` (fenced at
/// `shard_epoch`), counts and logs it; `why` names the cause in the log. When it is not
/// committed the fence is lifted: the master may serve again.
pub async fn commit_failover(
    node: &ConfigNode,
    shard: u32,
    master: u64,
    shard_epoch: u64,
    command: Command,
    why: &str,
) -> crate::Result<FailedOver> {
    match node.propose(command).await {
        Ok(Response::FailedOver { new_master, shard_epoch, epoch, lossy, .. }) => {
            node.metrics.failovers.inc();
            tracing::warn!(
                shard,
                old_master = master,
                new_master,
                shard_epoch,
                epoch,
                lossy,
                "failed over {why}"
            );
            Ok(FailedOver { new_master, shard_epoch, epoch, lossy })
        }
        Ok(other) => {
            node.health.unfence(shard, shard_epoch);
            Err(crate::Error::Fatal(format!("unexpected failover response {other:?}")))
        }
        Err(e) => {
            node.health.unfence(shard, shard_epoch);
            Err(e)
        }
    }
}

/// `--init-shards`: creates the cluster once enough healthy servers have registered.
async fn form(node: &ConfigNode, shards: u32) {
    let map = node.map();
    if !map.shards.is_empty() {
        return;
    }
    let spares =
        formation::spares(&map, &node.health.view(), Instant::now(), node.config.healthy_within());
    if spares.len() < shards as usize * 2 {
        return;
    }
    let plan = node.config.init_plan.as_deref().and_then(admin_api::types::plan);
    let spec =
        Spec { plan: plan.map(|p| p.name.to_string()), proxies: plan.map_or(2, |p| p.proxies) };
    let maxmemory = plan.map_or(0, |p| p.maxmemory);
    match formation::layout(&map, &spares, shards as usize, maxmemory, spec) {
        Ok(layout) => match node.propose(Command::CreateCluster { layout }).await {
            Ok(_) => tracing::info!(shards, "cluster formed (--init-shards)"),
            Err(e) => tracing::warn!(cause = %e, "forming the cluster failed"),
        },
        Err(e) => tracing::warn!(cause = %e, "cannot form the cluster yet"),
    }
}
