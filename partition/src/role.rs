//! Applying the control plane's decisions: one place that takes a [`Decision`] through the
//! fence and makes the rest of the server follow it (replication started or stopped, the
//! in-sync set, the decision stored next to the data). Both ways a decision arrives use it:
//! `RCLUSTER ROLE` ([`crate::cmd::rcluster`]) and the heartbeat loop ([`crate::heartbeat`]).
//!
//! Every function here runs under the command lock (`state`), so a decision takes effect
//! between two batches of commands, never in the middle of one.

use std::time::Instant;

use tracing::info;

use crate::fence::{self, Applied, Assigned, Decision};
use crate::server::Server;
use crate::state::State;

/// Takes `decision` (with a lease until `lease_until`, for a master) and makes the server
/// follow it: a promoted replica stops replicating and continues its history as a master; a
/// master told to follow another one starts replicating from it (withholding any reply that
/// still waits, see [`crate::replication::Replication::generation`]); the in-sync set becomes
/// the decision's. The decision is stored in `dir` so that it survives a restart. An older
/// decision than the one in force changes nothing ([`Applied::Stale`]).
pub fn apply(
    server: &Server,
    state: &mut State,
    decision: Decision,
    lease_until: Option<Instant>,
) -> Result<Applied, String> {
    let (shard, shard_epoch, role) = (decision.shard, decision.shard_epoch, decision.role.clone());
    let in_sync = decision.in_sync.clone();
    let applied = state.fence.apply(decision, lease_until);
    let Applied::Taken { role_changed } = applied else { return Ok(applied) };
    match role {
        Assigned::Master => {
            if server.replication.is_replica() {
                info!(shard, shard_epoch, "promoted to master by the control plane");
                crate::replication::replica::stop(server, state);
            }
            server.replication.set_in_sync(in_sync);
        }
        Assigned::Replica { host, port } => {
            // Demoted first, so that no write waiting for the old in-sync set is acknowledged
            // when the set empties.
            if role_changed {
                info!(shard, shard_epoch, master = %format!("{host}:{port}"), "following a new master");
                crate::replication::replica::start(server, state, host, port);
            }
            server.replication.set_in_sync(Vec::new());
        }
    }
    persist(server, state)?;
    Ok(applied)
}

/// What [`follow`] did with a decision a heartbeat reply carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// The decision in force: only the lease was renewed (a master).
    Renewed,
    /// The decision in force with a new in-sync set (and the lease renewed).
    InSyncChanged,
    /// A new decision, applied as [`apply`] does.
    Applied { role_changed: bool },
    /// Older than the one in force: ignored.
    Stale { current: u64 },
}

/// Follows the decision a heartbeat reply carries. Most replies repeat the decision in force;
/// then only the lease is renewed (and the in-sync set replaced when it changed), without
/// storing the role file again every heartbeat. Anything else is [`apply`]'d.
pub fn follow(
    server: &Server,
    state: &mut State,
    decision: Decision,
    lease_until: Option<Instant>,
) -> Result<Followed, String> {
    if let Some(current) = state.fence.decision() {
        let same_role = current.shard == decision.shard
            && current.shard_epoch == decision.shard_epoch
            && current.role == decision.role
            && current.slots == decision.slots;
        if same_role {
            let in_sync_changed = current.in_sync != decision.in_sync;
            if let Some(until) = lease_until {
                state.fence.renew(decision.shard_epoch, until);
            }
            if !in_sync_changed {
                return Ok(Followed::Renewed);
            }
            set_in_sync(server, state, decision.shard_epoch, decision.in_sync)?;
            return Ok(Followed::InSyncChanged);
        }
    }
    Ok(match apply(server, state, decision, lease_until)? {
        Applied::Taken { role_changed } => Followed::Applied { role_changed },
        Applied::Stale { current } => Followed::Stale { current },
    })
}

/// Replaces the in-sync set of the decision in force (at `shard_epoch`), for replication and
/// in the stored decision. False when `shard_epoch` is not the one in force.
pub fn set_in_sync(
    server: &Server,
    state: &mut State,
    shard_epoch: u64,
    members: Vec<String>,
) -> Result<bool, String> {
    if !state.fence.set_in_sync(shard_epoch, members.clone()) {
        return Ok(false);
    }
    let master = state.fence.decision().is_some_and(|d| d.role == Assigned::Master);
    server.replication.set_in_sync(if master { members } else { Vec::new() });
    persist(server, state)?;
    Ok(true)
}

/// Takes the decision stored in `dir` at start-up, without a lease: a restarted master waits
/// for the control plane to renew it, a replica reconnects to its master.
pub fn restore(server: &Server, state: &mut State) -> Result<(), String> {
    let dir = server.config().dir.clone();
    let Some(decision) = fence::load(&dir)? else { return Ok(()) };
    info!(shard = decision.shard, shard_epoch = decision.shard_epoch, role = ?decision.role, "fenced role restored, waiting for the control plane");
    state.fence.apply(decision.clone(), None);
    match decision.role {
        Assigned::Master => server.replication.set_in_sync(decision.in_sync),
        Assigned::Replica { host, port } => {
            crate::replication::replica::start(server, state, host, port)
        }
    }
    Ok(())
}

/// Stores the decision in force next to the data.
fn persist(server: &Server, state: &State) -> Result<(), String> {
    let Some(decision) = state.fence.decision() else { return Ok(()) };
    let dir = server.config().dir.clone();
    fence::store(&dir, decision).map_err(|e| format!("storing the role: {e}"))
}

/// Applies the cluster's replication mode from the config service, which decides it: its
/// failover rule (promote only in-sync replicas) is sound only if masters wait for them.
pub fn set_replication(server: &Server, mode: protocol::heartbeat::Replication) {
    if server.config().get("replication").as_deref() == Some(mode.as_str()) {
        return;
    }
    match server.update_config(|c| c.set("replication", mode.as_str())) {
        Ok(()) => info!(mode = mode.as_str(), "replication mode set by the control plane"),
        Err(e) => tracing::warn!(cause = %e, "the control plane's replication mode was refused"),
    }
}

/// Sets `maxmemory` as CONFIG SET would (the control plane sizes the shard); 0 or the value
/// in force changes nothing.
pub fn set_maxmemory(server: &Server, state: &mut State, bytes: u64) {
    let current = server.config().get("maxmemory").and_then(|v| v.parse::<u64>().ok());
    if bytes == 0 || current == Some(bytes) {
        return;
    }
    let set = server.update_config(|c| c.set("maxmemory", &bytes.to_string()));
    match set {
        Ok(()) => {
            info!(bytes, "maxmemory set by the control plane");
            state.configure(&server.config());
        }
        Err(e) => tracing::warn!(bytes, cause = %e, "the control plane's maxmemory was refused"),
    }
}
