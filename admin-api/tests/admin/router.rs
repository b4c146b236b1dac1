//! The router over the fake, without a socket.

use admin_api::*;
use axum::http::StatusCode;
use serde_json::json;

use crate::util::{app, must_call, must_error_body, sample_view, FakeAdmin};

#[tokio::test]
async fn reads() {
    let fake = FakeAdmin::new();
    let app = app(fake.clone());
    let view = sample_view();

    let (status, body) = must_call(&app, "GET", "/v1/cluster", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_value::<ClusterView>(body).unwrap(), view);
    let (status, body) = must_call(&app, "GET", "/v1/nodes", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_value::<Vec<NodeView>>(body).unwrap(), view.nodes);
    let (status, body) = must_call(&app, "GET", "/v1/shards", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_value::<Vec<ShardView>>(body).unwrap(), view.shards);
    let (status, body) = must_call(&app, "GET", "/v1/raft", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_value::<RaftView>(body).unwrap(), view.raft);
    assert_eq!(fake.calls(), ["cluster", "nodes", "shards", "raft"]);

    let (status, body) = must_call(&app, "GET", "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["openapi"].as_str().unwrap().starts_with("3."), "{body}");
}

#[tokio::test]
async fn writes() {
    let fake = FakeAdmin::new();
    let app = app(fake.clone());

    let (status, body) =
        must_call(&app, "POST", "/v1/cluster", Some(r#"{"plan":"32GB","shards":4}"#)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created: ClusterCreated = serde_json::from_value(body).unwrap();
    assert_eq!(created.shards, sample_view().shards);

    let (status, body) =
        must_call(&app, "POST", "/v1/shards/1/failover", Some(r#"{"to":4,"force":true}"#)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resp: FailoverResponse = serde_json::from_value(body).unwrap();
    assert_eq!((resp.shard, resp.new_master, resp.lossy), (1, 4, true));
    // All of a failover's fields have defaults: no body at all is fine.
    let (status, _) = must_call(&app, "POST", "/v1/shards/0/failover", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = must_call(&app, "POST", "/v1/shards/0/failover", Some("null")).await;
    assert_eq!(status, StatusCode::OK);

    let members = json!({"add": [{"id": 4, "addr": "127.0.0.1:9004"}], "remove": [3]});
    let (status, body) =
        must_call(&app, "POST", "/v1/raft/members", Some(&members.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let raft: RaftView = serde_json::from_value(body).unwrap();
    let ids: Vec<u64> = raft.members.iter().map(|m| m.id).collect();
    assert_eq!(ids, [1, 2, 4]);

    let calls = fake.calls();
    assert_eq!(calls.len(), 5, "{calls:?}");
    assert!(calls[0].starts_with("create_cluster") && calls[0].contains("32GB"), "{calls:?}");
    assert_eq!(calls[1], "failover 1 FailoverRequest { to: Some(4), force: true }");
    assert_eq!(calls[2], "failover 0 FailoverRequest { to: None, force: false }");
    assert_eq!(calls[3], calls[2]);
    assert!(calls[4].starts_with("change_members"), "{calls:?}");
}

/// Requests the router must refuse with a 400 before the implementation sees them.
#[tokio::test]
async fn invalid_requests_never_reach_the_implementation() {
    let node_twice = json!({"layout": [
        {"master": 1, "replicas": [2], "slots": [{"start": 0, "end": 8191}]},
        {"master": 3, "replicas": [1], "slots": [{"start": 8192, "end": 16383}]},
    ]});
    let out_of_bounds = json!({"layout": [
        {"master": 1, "slots": [{"start": 0, "end": 16384}]},
    ]});
    let overlap = json!({"layout": [
        {"master": 1, "slots": [{"start": 0, "end": 9000}]},
        {"master": 2, "slots": [{"start": 8192, "end": 16383}]},
    ]});
    let cases: Vec<(&str, &str, String, Option<&str>)> = vec![
        ("POST", "/v1/cluster", r#"{"plan":"3GB"}"#.into(), Some("plan")),
        ("POST", "/v1/cluster", node_twice.to_string(), Some("layout[1]")),
        ("POST", "/v1/cluster", out_of_bounds.to_string(), Some("layout[0].slots")),
        ("POST", "/v1/cluster", overlap.to_string(), Some("layout[1].slots")),
        ("POST", "/v1/cluster", r#"{"plan":"16GB","layout":[]}"#.into(), Some("plan")),
        ("POST", "/v1/cluster", "{}".into(), Some("plan")),
        ("POST", "/v1/cluster", r#"{"plan":"16GB""#.into(), None),
        ("POST", "/v1/cluster", "plan=16GB".into(), None),
        ("POST", "/v1/cluster", r#"{"plan":"16GB","shard":2}"#.into(), Some("shard")),
        ("POST", "/v1/cluster", r#"{"plan":"16GB","shards":"two"}"#.into(), Some("shards")),
        (
            "POST",
            "/v1/cluster",
            r#"{"layout":[{"master":1,"slots":[{"start":0,"end":-1}]}]}"#.into(),
            Some("layout[0].slots[0].end"),
        ),
        ("POST", "/v1/shards/abc/failover", "{}".into(), Some("id")),
        ("POST", "/v1/shards/-1/failover", "{}".into(), Some("id")),
        ("POST", "/v1/shards/0/failover", r#"{"to":"x"}"#.into(), Some("to")),
        ("POST", "/v1/shards/0/failover", r#"{"forced":true}"#.into(), Some("forced")),
        ("POST", "/v1/raft/members", "{}".into(), Some("add")),
        ("POST", "/v1/raft/members", r#"{"add":[{"id":1}]}"#.into(), Some("add[0].addr")),
    ];
    for (method, uri, body, field) in cases {
        let fake = FakeAdmin::new();
        let app = app(fake.clone());
        let (status, json) = must_call(&app, method, uri, Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri} {body}: {json}");
        must_error_body(json, "invalid", field);
        assert_eq!(fake.calls(), Vec::<String>::new(), "{uri} {body} reached the implementation");
    }
}

/// The implementation's errors reach the client with their status and JSON body.
#[tokio::test]
async fn implementation_errors_pass_through() {
    let cases = [
        (ApiError::conflict("the cluster already exists"), StatusCode::CONFLICT, "conflict"),
        (ApiError::not_found("shard 9"), StatusCode::NOT_FOUND, "not_found"),
        (
            ApiError::not_leader(Some("10.0.0.2:9000".into())),
            StatusCode::MISDIRECTED_REQUEST,
            "not_leader",
        ),
        (ApiError::no_quorum("no quorum"), StatusCode::SERVICE_UNAVAILABLE, "no_quorum"),
        (ApiError::internal("disk on fire"), StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    ];
    for (err, status, code) in cases {
        let app = app(FakeAdmin::failing(err.clone()));
        for (method, uri, body) in [
            ("GET", "/v1/cluster", None),
            ("POST", "/v1/cluster", Some(r#"{"plan":"16GB"}"#)),
            ("POST", "/v1/shards/9/failover", Some("{}")),
        ] {
            let (got, json) = must_call(&app, method, uri, body).await;
            assert_eq!(got, status, "{uri}: {json}");
            let body = must_error_body(json, code, None);
            assert_eq!(body, err.body);
        }
    }
    let (_, json) = must_call(
        &app(FakeAdmin::failing(ApiError::not_leader(Some("10.0.0.2:9000".into())))),
        "GET",
        "/v1/raft",
        None,
    )
    .await;
    assert_eq!(json["leader"], "10.0.0.2:9000");
}
