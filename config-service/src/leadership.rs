//! Confirmed leadership: "a quorum still followed me at some instant after T".
//!
//! A lease handed to a master is only safe if the one handing it out is still the leader
//! (DESIGN.md, point 3): a deposed leader that has not noticed yet must not grant leases while
//! the new one is counting down to a failover. So before granting a lease for a heartbeat
//! received at `T`, the heartbeat handler waits for a quorum round (openraft's
//! `ensure_linearizable`, the read-index heartbeat) that *started* at or after `T`. The new
//! leader's election needs a vote from that quorum, so it happened after `T`, and its failover
//! waits `failover_after_ms` more: the lease, which ends `lease_ms` after the heartbeat was
//! *sent* (before `T`), is over by then.
//!
//! Rounds are coalesced: one round in flight at a time serves every heartbeat that arrived
//! before it started, so the cost is one quorum round per batch of heartbeats, not per
//! heartbeat.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use crate::Raft;

/// The outcome of the last quorum round.
#[derive(Debug, Clone, Copy)]
struct Round {
    started: Instant,
    confirmed: bool,
}

/// See the module docs.
pub struct Leadership {
    rounds: watch::Sender<Option<Round>>,
    demand: Notify,
}

/// How long one quorum round may take before it counts as failed.
const ROUND_TIMEOUT: Duration = Duration::from_millis(1000);

impl Leadership {
    /// Starts the round loop for `raft`; it ends when `shutdown` fires.
    pub fn start(raft: Raft, mut shutdown: watch::Receiver<bool>) -> Arc<Self> {
        let (rounds, _) = watch::channel(None);
        let leadership = Arc::new(Leadership { rounds, demand: Notify::new() });
        let this = leadership.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = this.demand.notified() => {}
                    _ = shutdown.changed() => return,
                }
                let started = Instant::now();
                let confirmed = matches!(
                    tokio::time::timeout(ROUND_TIMEOUT, raft.ensure_linearizable()).await,
                    Ok(Ok(_))
                );
                this.rounds.send_replace(Some(Round { started, confirmed }));
            }
        });
        leadership
    }

    /// Waits for a quorum round that started at or after `at`; true if it confirmed this
    /// server as the leader, false if it failed or none completed within `timeout`.
    pub async fn confirmed_after(&self, at: Instant, timeout: Duration) -> bool {
        let mut rounds = self.rounds.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(round) = *rounds.borrow_and_update() {
                if round.started >= at {
                    return round.confirmed;
                }
            }
            // A stored permit: a round already in flight is followed by one more.
            self.demand.notify_one();
            match tokio::time::timeout_at(deadline, rounds.changed()).await {
                Ok(Ok(())) => {}
                _ => return false,
            }
        }
    }
}
