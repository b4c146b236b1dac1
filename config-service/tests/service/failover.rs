//! Failover as the config service decides it, driven by fake partition servers that heartbeat
//! over HTTP (the real partition servers are in the root crate's tests).

use std::time::{Duration, Instant};

use admin_api::types::{ClusterState, FailoverRequest};
use protocol::heartbeat::ReportedRole;
use protocol::routing::RoutingTable;

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_master_is_replaced_by_its_in_sync_replica_and_rejoins_as_a_replica() {
    let (group, fakes) = start_cluster(4, |_| {}).await;
    let before = routing(&group).await;
    let shard0 = before.shards[0].clone();
    let (old, new) = (fake_at(&fakes, &shard0.master), fake_at(&fakes, &shard0.replicas[0]));

    // A long-poll waiting for the next epoch, started before the failure.
    let poll_url = format!(
        "{}{}?after={}&wait_ms=10000",
        group.urls()[1],
        protocol::routing::PATH,
        before.epoch
    );
    let poll = tokio::spawn(async move { get_json::<RoutingTable>(&poll_url).await });

    let silenced = Instant::now();
    fakes[old].set_alive(false);
    let after = wait_for("shard 0 to fail over", Duration::from_secs(10), || async {
        let t = routing(&group).await;
        (t.shards[0].master == shard0.replicas[0]).then_some(t)
    })
    .await;
    let took = silenced.elapsed();
    // Not before failover_after_ms of silence (the last heartbeat was at most 100 ms before
    // the fake went quiet), and not much after.
    assert!(took >= Duration::from_millis(1400), "failed over after only {took:?}");
    assert!(took <= Duration::from_millis(3000), "failed over after {took:?}");
    assert_eq!(after.epoch, before.epoch + 1);
    assert_eq!(after.shards[0].shard_epoch, shard0.shard_epoch + 1);
    assert_eq!(after.shards[0].replicas, vec![shard0.master.clone()]);
    assert_eq!(after.shards[1], before.shards[1], "the other shard is untouched");

    let polled = poll.await.unwrap().expect("the long-poll answers");
    assert!(polled.epoch > before.epoch, "the long-poll returned the new table: {polled:?}");
    assert_eq!(polled.shards[0].master, shard0.replicas[0]);

    // The new master gets a lease; the old one, back, is told to follow it.
    wait_for("the new master's lease", Duration::from_secs(5), || async {
        (fakes[new].snapshot().lease_ms > 0).then_some(())
    })
    .await;
    fakes[old].set_alive(true);
    wait_for("the old master to become a replica", Duration::from_secs(5), || async {
        match fakes[old].snapshot().role {
            ReportedRole::Replica { master, shard_epoch, .. } => {
                assert_eq!(master, shard0.replicas[0]);
                assert_eq!(shard_epoch, shard0.shard_epoch + 1);
                Some(())
            }
            _ => None,
        }
    })
    .await;
    assert_eq!(fakes[old].snapshot().lease_ms, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_leader_killed_while_a_master_is_failing_promotes_exactly_once() {
    let (mut group, fakes) = start_cluster(4, |_| {}).await;
    let before = routing(&group).await;
    let shard0 = before.shards[0].clone();
    let old = fake_at(&fakes, &shard0.master);
    let leader = group.must_agree_on_leader(Duration::from_secs(5)).await;

    let silenced = Instant::now();
    fakes[old].set_alive(false);
    // Part-way through the silence, the leader dies: the new one must wait a full
    // failover_after_ms after its election, then promote once.
    tokio::time::sleep(Duration::from_millis(700)).await;
    group.nodes[leader].kill();
    let elected = {
        group.must_agree_on_leader(Duration::from_secs(10)).await;
        silenced.elapsed()
    };
    let after = wait_for("shard 0 to fail over", Duration::from_secs(10), || async {
        let t = routing(&group).await;
        (t.shards[0].master != shard0.master).then_some(t)
    })
    .await;
    let took = silenced.elapsed();
    assert!(
        took >= elapsed_at_least(elected),
        "the new leader failed over {took:?} after the silence began, elected at {elected:?}"
    );
    assert_eq!(after.shards[0].master, shard0.replicas[0]);
    assert_eq!(after.shards[0].shard_epoch, shard0.shard_epoch + 1, "exactly one promotion");
    // And no second one later (the old master is still silent, the new one heartbeats).
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        let t = routing(&group).await;
        assert_eq!(t.shards[0].shard_epoch, shard0.shard_epoch + 1, "a second promotion: {t:?}");
        assert_eq!(t.shards[1].shard_epoch, before.shards[1].shard_epoch);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A new leader elected `elected` into the silence may fail over no sooner than
/// `failover_after_ms` after its election.
fn elapsed_at_least(elected: Duration) -> Duration {
    // The election was noticed up to a poll interval after it happened.
    (elected + Duration::from_millis(1500)).saturating_sub(Duration::from_millis(100))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_in_sync_replica_the_shard_waits_and_an_operator_may_force() {
    let (group, fakes) = start_cluster(2, |_| {}).await;
    let shard0 = routing(&group).await.shards[0].clone();
    let (master, replica) = (fake_at(&fakes, &shard0.master), fake_at(&fakes, &shard0.replicas[0]));
    // The master asks for its replica to leave the in-sync set (it stopped acknowledging).
    fakes[master].state.lock().unwrap().in_sync_request = Some(vec![]);
    wait_for("the in-sync set to shrink", Duration::from_secs(5), || async {
        let shards = group.admin().shards().await.ok()?;
        (!shards[0].replicas[0].in_sync).then_some(())
    })
    .await;
    fakes[master].set_alive(false);
    // Well past failover_after_ms, the shard is still on its old master: promoting the replica
    // could lose acknowledged writes.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let t = routing(&group).await;
    assert_eq!(t.shards[0].master, shard0.master);
    assert_eq!(group.admin().cluster().await.unwrap().state, ClusterState::Unavailable);

    let refused =
        group.admin().failover(0, &FailoverRequest { to: None, force: false }).await.unwrap_err();
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(409), "{refused}");
    let forced = group
        .admin()
        .failover(0, &FailoverRequest { to: None, force: true })
        .await
        .expect("forced");
    assert!(forced.lossy);
    assert_eq!(Some(forced.new_master), fakes[replica].snapshot().node);
    assert_eq!(routing(&group).await.shards[0].master, shard0.replicas[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_failover_waits_out_the_old_masters_lease() {
    let (group, fakes) = start_cluster(2, |_| {}).await;
    let shard0 = routing(&group).await.shards[0].clone();
    let master = fake_at(&fakes, &shard0.master);
    let started = Instant::now();
    let done = group.admin().failover(0, &FailoverRequest::default()).await.expect("failover");
    assert!(!done.lossy);
    // The old master was fenced at once and its last lease (1000 ms) had to run out first.
    assert!(started.elapsed() >= Duration::from_millis(1000), "took only {:?}", started.elapsed());
    let t = routing(&group).await;
    assert_eq!(t.shards[0].master, shard0.replicas[0]);
    wait_for("the old master to follow the new one", Duration::from_secs(5), || async {
        matches!(fakes[master].snapshot().role, ReportedRole::Replica { .. }).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_that_restarted_is_replaced_by_its_in_sync_replica_at_once() {
    let (group, fakes) = start_cluster(2, |_| {}).await;
    let shard0 = routing(&group).await.shards[0].clone();
    let master = fake_at(&fakes, &shard0.master);
    // It comes back from a restart before anyone noticed it was gone: its data may lack what
    // its in-sync replica acknowledged, so it must not simply serve again.
    let restarted = Instant::now();
    fakes[master].state.lock().unwrap().restarted = true;
    let after = wait_for("the replica to be promoted", Duration::from_secs(5), || async {
        let t = routing(&group).await;
        (t.shards[0].master == shard0.replicas[0]).then_some(t)
    })
    .await;
    assert!(
        restarted.elapsed() < Duration::from_millis(1000),
        "took {:?}: not at once",
        restarted.elapsed()
    );
    assert_eq!(after.shards[0].shard_epoch, shard0.shard_epoch + 1);
    wait_for("the restarted master to follow", Duration::from_secs(5), || async {
        matches!(fakes[master].snapshot().role, ReportedRole::Replica { .. }).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_master_without_an_in_sync_replica_serves_again() {
    let (group, fakes) = start_cluster(2, |_| {}).await;
    let shard0 = routing(&group).await.shards[0].clone();
    let master = fake_at(&fakes, &shard0.master);
    fakes[master].state.lock().unwrap().in_sync_request = Some(vec![]);
    wait_for("the in-sync set to shrink", Duration::from_secs(5), || async {
        let shards = group.admin().shards().await.ok()?;
        (!shards[0].replicas[0].in_sync).then_some(())
    })
    .await;
    {
        let mut s = fakes[master].state.lock().unwrap();
        s.restarted = true;
        s.lease_ms = 0;
    }
    wait_for("a lease for the restarted master", Duration::from_secs(5), || async {
        (fakes[master].snapshot().lease_ms > 0).then_some(())
    })
    .await;
    assert_eq!(routing(&group).await.shards[0].master, shard0.master);
}
