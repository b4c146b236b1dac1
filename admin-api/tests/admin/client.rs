//! The client and the CLI against real servers on 127.0.0.1:0.

use std::time::Duration;

use admin_api::cli::{execute, AdminArgs, AdminCommand};
use admin_api::*;
use axum::http::StatusCode;

use crate::util::{refused_addr, sample_view, start_server, FakeAdmin};

fn client(addrs: &[String]) -> AdminClient {
    AdminClient::new(addrs.to_vec()).timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn typed_round_trips() {
    let fake = FakeAdmin::new();
    let addr = start_server(fake.clone()).await;
    // Both endpoint spellings work.
    for endpoint in [addr.to_string(), format!("http://{addr}/")] {
        let c = client(&[endpoint]);
        let view = sample_view();
        assert_eq!(c.cluster().await.unwrap(), view);
        assert_eq!(c.nodes().await.unwrap(), view.nodes);
        assert_eq!(c.shards().await.unwrap(), view.shards);
        assert_eq!(c.raft().await.unwrap(), view.raft);
        let created = c.create_cluster(&CreateClusterRequest::for_plan("16GB")).await.unwrap();
        assert_eq!(created.epoch, view.epoch);
        let resp = c.failover(1, &FailoverRequest { to: Some(4), force: false }).await.unwrap();
        assert_eq!((resp.shard, resp.new_master, resp.lossy), (1, 4, false));
        let req = MembersRequest {
            add: vec![NewMember { id: 4, addr: "127.0.0.1:9004".into() }],
            remove: vec![],
        };
        assert_eq!(c.change_members(&req).await.unwrap().members.len(), 4);
        assert_eq!(c.healthz().await.unwrap(), "ok");
    }
}

#[tokio::test]
async fn a_refused_endpoint_is_skipped() {
    let fake = FakeAdmin::new();
    let good = start_server(fake.clone()).await;
    let c = client(&[refused_addr().to_string(), good.to_string()]);
    assert_eq!(c.cluster().await.unwrap().epoch, 3);
    // A write that could not even connect was never sent: moving on is safe.
    c.failover(0, &FailoverRequest::default()).await.unwrap();
    assert_eq!(fake.calls().len(), 2);

    let dead = [refused_addr().to_string(), refused_addr().to_string()];
    match client(&dead).cluster().await.unwrap_err() {
        ClientError::Unreachable { tried, .. } => assert_eq!(tried.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn not_leader_redirects_to_the_leader() {
    let leader = FakeAdmin::new();
    let leader_addr = start_server(leader.clone()).await;
    let follower = FakeAdmin::failing(ApiError::not_leader(Some(leader_addr.to_string())));
    let follower_addr = start_server(follower.clone()).await;

    let c = client(&[follower_addr.to_string()]);
    let resp = c.failover(1, &FailoverRequest { to: Some(2), force: false }).await.unwrap();
    assert_eq!(resp.new_master, 2);
    assert_eq!(c.cluster().await.unwrap(), sample_view());
    assert_eq!(follower.calls().len(), 2);
    assert_eq!(
        leader.calls(),
        ["failover 1 FailoverRequest { to: Some(2), force: false }", "cluster"]
    );

    // A node that knows no leader: the next endpoint is asked.
    let lost = start_server(FakeAdmin::failing(ApiError::not_leader(None))).await;
    let c = client(&[lost.to_string(), leader_addr.to_string()]);
    assert_eq!(c.raft().await.unwrap().term, 2);
    // Only nodes that know no leader: their answer is the error.
    let err = client(&[lost.to_string()]).raft().await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::MISDIRECTED_REQUEST), "{err}");
}

#[tokio::test]
async fn redirect_loops_end() {
    // A node that names itself as the leader (a broken config service).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = FakeAdmin::failing(ApiError::not_leader(Some(addr.to_string())));
    tokio::spawn(async move { axum::serve(listener, crate::util::app(fake)).await });
    let err = client(&[addr.to_string()]).cluster().await.unwrap_err();
    assert!(matches!(err, ClientError::TooManyRedirects { hops: 3, .. }), "{err:?}");
}

#[tokio::test]
async fn api_errors_carry_the_body() {
    let addr = start_server(FakeAdmin::failing(ApiError::conflict("the cluster exists"))).await;
    let c = client(&[addr.to_string()]);
    match c.create_cluster(&CreateClusterRequest::for_plan("16GB")).await.unwrap_err() {
        ClientError::Api { status, body } => {
            assert_eq!(status, StatusCode::CONFLICT);
            assert_eq!(body.code, "conflict");
            assert_eq!(body.error, "the cluster exists");
        }
        other => panic!("{other:?}"),
    }
    // The router's own validation, through the client.
    let ok = start_server(FakeAdmin::new()).await;
    let err = client(&[ok.to_string()])
        .create_cluster(&CreateClusterRequest::for_plan("7GB"))
        .await
        .unwrap_err();
    match &err {
        ClientError::Api { status, body } => {
            assert_eq!(*status, StatusCode::BAD_REQUEST);
            assert_eq!(body.field.as_deref(), Some("plan"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("unknown plan"), "{err}");
}

#[tokio::test]
async fn timeouts_move_reads_on_but_not_writes() {
    let slow = FakeAdmin::slow(Duration::from_secs(30));
    let slow_addr = start_server(slow.clone()).await;
    let fast = FakeAdmin::new();
    let fast_addr = start_server(fast.clone()).await;
    let c = AdminClient::new(vec![slow_addr.to_string(), fast_addr.to_string()])
        .timeout(Duration::from_millis(300));

    assert_eq!(c.cluster().await.unwrap().epoch, 3);
    let err = c.failover(0, &FailoverRequest::default()).await.unwrap_err();
    assert!(matches!(err, ClientError::OutcomeUnknown { .. }), "{err:?}");
    // The write went to the slow node only: it may yet be applied there.
    assert_eq!(fast.calls(), ["cluster"]);
    assert_eq!(slow.calls().len(), 2);
}

fn args(endpoints: Vec<String>, json: bool, command: AdminCommand) -> AdminArgs {
    AdminArgs { endpoints, json, timeout: 5.0, command }
}

#[tokio::test]
async fn cli_commands() {
    let fake = FakeAdmin::new();
    let addr = start_server(fake.clone()).await.to_string();

    let text = execute(&args(vec![addr.clone()], false, AdminCommand::Status)).await.unwrap();
    assert!(text.starts_with("cluster: healthy   epoch: 3   plan: 16GB"), "{text}");
    assert!(text.contains("#2 127.0.0.1:7002 [in-sync]"), "{text}");
    let json = execute(&args(vec![addr.clone()], true, AdminCommand::Status)).await.unwrap();
    assert_eq!(serde_json::from_str::<ClusterView>(&json).unwrap(), sample_view());

    let text = execute(&args(vec![addr.clone()], false, AdminCommand::Slots)).await.unwrap();
    assert!(text.lines().nth(1).unwrap().starts_with("0-8191"), "{text}");
    let failover = AdminCommand::Failover { shard: 1, to: Some(4), force: false };
    let text = execute(&args(vec![addr.clone()], false, failover)).await.unwrap();
    assert!(text.contains("shard 1: node 4 is now the master"), "{text}");
    let init = AdminCommand::Init { plan: "64GB".into(), shards: Some(2), maxmemory: None };
    let text = execute(&args(vec![addr.clone()], false, init)).await.unwrap();
    assert!(text.starts_with("cluster created: 2 shards"), "{text}");
    let health = execute(&args(vec![addr.clone()], false, AdminCommand::Health)).await.unwrap();
    assert_eq!(health, "ok\n");

    let refused = vec![refused_addr().to_string()];
    let err = execute(&args(refused, false, AdminCommand::Health)).await.unwrap_err();
    assert!(matches!(err, CliError::Unhealthy(_)), "{err:?}");

    let conflict = start_server(FakeAdmin::failing(ApiError::conflict("no in-sync replica")))
        .await
        .to_string();
    let failover = AdminCommand::Failover { shard: 0, to: None, force: false };
    let err = execute(&args(vec![conflict], false, failover)).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no in-sync replica") && message.contains("409"), "{message}");
}
