//! The Raft group itself: leader loss, full restarts, membership changes, catching up from a
//! snapshot.

use std::time::{Duration, Instant};

use protocol::routing::RoutingTable;

use crate::util::*;

/// Registers `n` partition servers (one heartbeat each) through the leader; the commits that
/// must survive what the tests do.
async fn must_register(group: &TestGroup, leader: usize, first_port: u16, n: u16) {
    for port in first_port..first_port + n {
        let report = serde_json::json!({
            "addr": format!("127.0.0.1:{port}"), "role": {"role": "unassigned"}, "offset": 0
        });
        let url = format!("{}{}", group.nodes[leader].url(), protocol::heartbeat::PARTITION_PATH);
        let _: serde_json::Value = post_json(&url, &report).await.expect("heartbeat");
    }
}

async fn node_addrs(group: &TestGroup) -> Vec<String> {
    let mut addrs: Vec<String> =
        group.admin().nodes().await.unwrap().into_iter().map(|n| n.addr).collect();
    addrs.sort();
    addrs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_within_two_election_timeouts_and_nothing_committed_is_lost() {
    let mut group = start_group(3, |_| {});
    let leader = group.must_agree_on_leader(Duration::from_secs(10)).await;
    must_register(&group, leader, 7000, 5).await;
    let before = node_addrs(&group).await;
    assert_eq!(before.len(), 5);

    let killed_at = Instant::now();
    group.nodes[leader].kill();
    let new_leader = group.must_agree_on_leader(Duration::from_secs(10)).await;
    let took = killed_at.elapsed();
    assert_ne!(new_leader, leader);
    // Two election timeouts, each at most 2 × ELECTION_MS (openraft randomizes in [min, 2·min)).
    let bound = Duration::from_millis(2 * 2 * ELECTION_MS);
    assert!(took <= bound, "a new leader took {took:?} (bound {bound:?})");
    assert_eq!(node_addrs(&group).await, before, "a committed change was lost");

    // The old leader comes back as a follower and catches up with what it missed.
    must_register(&group, new_leader, 7100, 1).await;
    group.nodes[leader].restart();
    let url = format!("{}{}", group.nodes[leader].url(), protocol::routing::PATH);
    wait_for("the restarted node to answer", Duration::from_secs(10), || async {
        get_json::<RoutingTable>(&url).await.ok()
    })
    .await;
    assert_eq!(group.must_agree_on_leader(Duration::from_secs(10)).await, new_leader);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_every_server_recovers_the_map() {
    let mut group = start_group(3, |_| {});
    let leader = group.must_agree_on_leader(Duration::from_secs(10)).await;
    must_register(&group, leader, 7000, 4).await;
    let created = group
        .admin()
        .create_cluster(&admin_api::types::CreateClusterRequest {
            plan: Some("16GB".into()),
            shards: Some(2),
            ..Default::default()
        })
        .await
        .expect("create the cluster");
    let table: RoutingTable =
        get_json(&format!("{}{}", group.nodes[leader].url(), protocol::routing::PATH))
            .await
            .unwrap();
    assert_eq!(table.epoch, created.epoch);
    assert_eq!(table.shards.len(), 2);

    for node in &mut group.nodes {
        node.kill();
    }
    for node in &mut group.nodes {
        node.restart();
    }
    group.must_agree_on_leader(Duration::from_secs(15)).await;
    for node in &group.nodes {
        let url = format!("{}{}", node.url(), protocol::routing::PATH);
        let got =
            wait_for("the routing table after the restart", Duration::from_secs(10), || async {
                get_json::<RoutingTable>(&url).await.ok()
            })
            .await;
        assert_eq!(got, table, "node {} recovered a different map", node.id);
    }
    assert_eq!(node_addrs(&group).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_added_and_removed_through_the_api() {
    let mut group = start_group(3, |_| {});
    let leader = group.must_agree_on_leader(Duration::from_secs(10)).await;
    must_register(&group, leader, 7000, 2).await;
    let fourth = start_joining(&group, 4);
    let removed = (leader + 1) % 3;
    let removed_id = group.nodes[removed].id;
    let view = group
        .admin()
        .change_members(&admin_api::types::MembersRequest {
            add: vec![admin_api::types::NewMember { id: 4, addr: fourth.addr.clone() }],
            remove: vec![removed_id],
        })
        .await
        .expect("change members");
    let mut voters: Vec<u64> = view.members.iter().filter(|m| m.voter).map(|m| m.id).collect();
    voters.sort();
    let mut expected: Vec<u64> = [1, 2, 3, 4].into_iter().filter(|&id| id != removed_id).collect();
    expected.sort();
    assert_eq!(voters, expected);

    // The removed server leaves; the group of three (with the new one) keeps committing, and
    // the new member serves linearizable reads of everything.
    group.nodes[removed].kill();
    group.nodes.push(fourth);
    let leader = group.must_agree_on_leader(Duration::from_secs(10)).await;
    must_register(&group, leader, 7200, 1).await;
    let url = format!("{}{}", group.nodes[3].url(), "/v1/routing");
    let _: RoutingTable = get_json(&url).await.expect("the new member answers");
    let nodes =
        wait_for("the new member to see every registration", Duration::from_secs(10), || async {
            let raft: admin_api::types::RaftView =
                get_json(&format!("{}/v1/raft", group.nodes[3].url())).await.ok()?;
            (raft.last_applied >= Some(3)).then_some(raft)
        })
        .await;
    assert!(nodes.members.iter().any(|m| m.id == 4 && m.voter));
    assert_eq!(node_addrs(&group).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_lags_past_compaction_catches_up_from_a_snapshot() {
    let mut group = start_group(3, |c| c.snapshot_every = 5);
    let leader = group.must_agree_on_leader(Duration::from_secs(10)).await;
    let lagging = (leader + 1) % 3;
    group.nodes[lagging].kill();
    must_register(&group, leader, 7000, 30).await;
    // The leader has compacted its log past what the lagging node has: only a snapshot can
    // bring it up to date.
    let leader_metrics = format!("{}/metrics", group.nodes[leader].url());
    wait_for("the leader to purge its log", Duration::from_secs(10), || async {
        (metric(&leader_metrics, "rcluster_config_raft_purged_index").await? >= 20).then_some(())
    })
    .await;
    group.nodes[lagging].restart();
    let url = format!("{}/metrics", group.nodes[lagging].url());
    wait_for("the lagging node to apply everything", Duration::from_secs(15), || async {
        (metric(&url, "rcluster_config_nodes").await? == 30).then_some(())
    })
    .await;
    assert!(metric(&url, "rcluster_config_raft_snapshot_index").await.unwrap() >= 20);
}

/// The value of one gauge from a `/metrics` page.
async fn metric(url: &str, name: &str) -> Option<i64> {
    let text = reqwest::get(url).await.ok()?.text().await.ok()?;
    let line = text.lines().find(|l| l.split(' ').next() == Some(name))?;
    line.rsplit(' ').next()?.parse().ok()
}
