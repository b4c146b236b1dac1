//! The HTTP API of a running config group: leader redirects, JSON errors with the right
//! status, validation that leaves nothing half-applied, and an OpenAPI document that lists
//! every route the server really serves.

use std::time::Duration;

use admin_api::types::{ClusterState, CreateClusterRequest, FailoverRequest, ShardLayoutRequest};
use protocol::error_body::ErrorBody;
use protocol::routing::SlotRange;

use crate::util::*;

fn error_of(e: admin_api::ClientError) -> (u16, ErrorBody) {
    match e {
        admin_api::ClientError::Api { status, body } => (status.as_u16(), body),
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_send_writers_to_the_leader_and_errors_are_json() {
    let group = start_group(3, |_| {});
    let leader = group.must_agree_on_leader(Duration::from_secs(10)).await;
    let follower = &group.nodes[(leader + 1) % 3];
    let report =
        serde_json::json!({"addr": "127.0.0.1:7000", "role": {"role": "unassigned"}, "offset": 0});
    let url = format!("{}{}", follower.url(), protocol::heartbeat::PARTITION_PATH);
    let (status, body) = post_json::<_, serde_json::Value>(&url, &report).await.unwrap_err();
    assert_eq!(status, 421);
    let body: ErrorBody = serde_json::from_str(&body).unwrap();
    assert_eq!(body.code, "not_leader");
    assert_eq!(body.leader.as_deref(), Some(group.nodes[leader].addr.as_str()));

    // Malformed heartbeats: 400 with our JSON body, on the leader.
    let url = format!("{}{}", group.nodes[leader].url(), protocol::heartbeat::PARTITION_PATH);
    let (status, body) =
        post_json::<_, serde_json::Value>(&url, &serde_json::json!({"addr": 5})).await.unwrap_err();
    assert_eq!(status, 400);
    assert_eq!(serde_json::from_str::<ErrorBody>(&body).unwrap().code, "invalid");
    let bad_addr =
        serde_json::json!({"addr": "no-port", "role": {"role": "unassigned"}, "offset": 0});
    let (status, body) = post_json::<_, serde_json::Value>(&url, &bad_addr).await.unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert_eq!(serde_json::from_str::<ErrorBody>(&body).unwrap().field.as_deref(), Some("addr"));

    // Admin requests to a follower are forwarded to the leader (an operator may only reach
    // one node, through a load balancer): the answer is the leader's.
    let view: admin_api::types::ClusterView =
        get_json(&format!("{}/v1/cluster", follower.url())).await.expect("forwarded");
    assert_eq!(view.raft.id, group.nodes[leader].id, "answered by the leader");
    // The admin client, pointed at a follower first, ends up on the leader.
    let mut urls = group.urls();
    urls.rotate_left((leader + 1) % 3);
    let view = admin_api::AdminClient::new(urls).cluster().await.expect("the cluster view");
    assert_eq!(view.state, ClusterState::Empty);
    assert_eq!(view.raft.leader, Some(group.nodes[leader].id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cluster_requests_are_refused_and_change_nothing() {
    let (group, fakes) = {
        let group = start_group(1, |_| {});
        group.must_agree_on_leader(Duration::from_secs(10)).await;
        let fakes: Vec<FakePartition> = (0..4)
            .map(|i| FakePartition::spawn(&format!("127.0.0.1:{}", 7000 + i), group.urls()))
            .collect();
        (group, fakes)
    };
    let ids: Vec<u64> = wait_for("registrations", Duration::from_secs(10), || async {
        fakes.iter().map(|f| f.snapshot().node).collect::<Option<Vec<u64>>>()
    })
    .await;
    let admin = group.admin();
    let refuse = |req: CreateClusterRequest| {
        let admin = admin.clone();
        async move { error_of(admin.create_cluster(&req).await.expect_err("must be refused")) }
    };
    let (status, body) = refuse(CreateClusterRequest::for_plan("17GB")).await;
    assert_eq!((status, body.field.as_deref()), (400, Some("plan")), "{body:?}");
    let shard = |master, replicas: Vec<u64>, slots| ShardLayoutRequest {
        master,
        replicas,
        slots,
        maxmemory: 0,
    };
    let two = |a: SlotRange, b: SlotRange, second_master| {
        CreateClusterRequest::for_layout(vec![
            shard(ids[0], vec![ids[1]], vec![a]),
            shard(second_master, vec![ids[3]], vec![b]),
        ])
    };
    let (low, high) = (SlotRange::new(0, 8191), SlotRange::new(8192, 16383));
    let (status, body) = refuse(two(low, high, ids[1])).await;
    assert_eq!(
        (status, body.field.as_deref()),
        (400, Some("layout[1]")),
        "a node in two shards: {body:?}"
    );
    let (status, body) = refuse(two(low, SlotRange::new(8192, 16384), ids[2])).await;
    assert_eq!((status, body.field.as_deref()), (400, Some("layout[1].slots")), "{body:?}");
    let (status, body) = refuse(two(low, SlotRange::new(8191, 16383), ids[2])).await;
    assert_eq!(
        (status, body.field.as_deref()),
        (400, Some("layout[1].slots")),
        "overlap: {body:?}"
    );
    let unknown = CreateClusterRequest::for_layout(vec![shard(
        ids[0],
        vec![99],
        vec![SlotRange::new(0, 16383)],
    )]);
    let (status, body) = refuse(unknown).await;
    assert_eq!(status, 400, "an unregistered node: {body:?}");
    let (status, body) = refuse(CreateClusterRequest {
        plan: Some("16GB".into()),
        shards: Some(3),
        ..Default::default()
    })
    .await;
    assert_eq!(status, 409, "3 shards from 4 servers: {body:?}");
    assert_eq!(admin.cluster().await.unwrap().state, ClusterState::Empty, "nothing was applied");

    admin.create_cluster(&two(low, high, ids[2])).await.expect("a good layout");
    let (status, _) = refuse(CreateClusterRequest::for_plan("16GB")).await;
    assert_eq!(status, 409, "the cluster exists");

    // Failover validation.
    let failover = |shard: u32, req: FailoverRequest| {
        let admin = admin.clone();
        async move { error_of(admin.failover(shard, &req).await.expect_err("must be refused")) }
    };
    let (status, _) = failover(7, FailoverRequest::default()).await;
    assert_eq!(status, 404);
    let (status, body) = failover(0, FailoverRequest { to: Some(ids[3]), force: false }).await;
    assert_eq!(
        (status, body.field.as_deref()),
        (400, Some("new_master")),
        "another shard's replica: {body:?}"
    );
    let (status, _) = failover(0, FailoverRequest { to: Some(ids[0]), force: false }).await;
    assert_eq!(status, 409, "already the master");
    let shards = admin.shards().await.unwrap();
    assert_eq!(shards[0].shard_epoch, 1, "no refused failover changed anything");
    assert_eq!(shards[0].master.id, ids[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_served_route() {
    let group = start_group(1, |_| {});
    group.must_agree_on_leader(Duration::from_secs(10)).await;
    let doc: serde_json::Value =
        get_json(&format!("{}/openapi.json", group.urls()[0])).await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/routing", "get"),
        ("/v1/heartbeat/partition", "post"),
        ("/v1/heartbeat/proxy", "post"),
        ("/v1/cluster", "get"),
        ("/v1/cluster", "post"),
        ("/v1/nodes", "get"),
        ("/v1/shards", "get"),
        ("/v1/shards/{id}/failover", "post"),
        ("/v1/raft", "get"),
        ("/v1/raft/members", "post"),
        ("/healthz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
        // And the server really serves it: no 405, and a 404 only as our JSON "not found"
        // (shard 0 does not exist yet), never an unrouted path.
        let url = format!("{}{}", group.urls()[0], path.replace("{id}", "0"));
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let req = if method == "get" {
            client.get(&url)
        } else {
            client.post(&url).json(&serde_json::json!({}))
        };
        let reply = req.send().await.unwrap();
        let status = reply.status().as_u16();
        let body = reply.text().await.unwrap();
        assert_ne!(status, 405, "{method} {url}");
        if status == 404 {
            let error: ErrorBody = serde_json::from_str(&body)
                .unwrap_or_else(|_| panic!("{method} {url} is not routed"));
            assert_eq!(error.code, "not_found");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_assignment_carries_the_clusters_replication_mode() {
    use config_service::config::ReplicationMode;
    use protocol::heartbeat::Replication;
    for (mode, expected) in
        [(ReplicationMode::Sync, Replication::Sync), (ReplicationMode::Async, Replication::Async)]
    {
        let (_group, fakes) = start_cluster(2, |c| c.replication = mode).await;
        wait_for("every fake to hear the mode", Duration::from_secs(5), || async {
            fakes.iter().all(|f| f.snapshot().replication == Some(expected)).then_some(())
        })
        .await;
    }
}
