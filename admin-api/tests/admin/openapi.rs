//! The OpenAPI document lists every route of the config service.

use std::collections::BTreeSet;

use crate::util::{app, must_call, FakeAdmin};

#[tokio::test]
async fn the_document_lists_every_route() {
    let text = admin_api::openapi().to_pretty_json().expect("the document serialises");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("the document is JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);

    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                routes.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let expected: BTreeSet<String> = [
        "GET /v1/cluster",
        "POST /v1/cluster",
        "GET /v1/nodes",
        "GET /v1/shards",
        "POST /v1/shards/{id}/failover",
        "GET /v1/raft",
        "POST /v1/raft/members",
        "GET /openapi.json",
        "GET /v1/routing",
        "POST /v1/heartbeat/partition",
        "POST /v1/heartbeat/proxy",
        "GET /healthz",
        "GET /metrics",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(routes, expected);

    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in ["ClusterView", "CreateClusterRequest", "ErrorBody", "SlotRange", "RoutingTable"] {
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    assert_eq!(
        schemas["ClusterState"]["enum"],
        serde_json::json!(["empty", "healthy", "degraded", "unavailable"])
    );
    let params: BTreeSet<&str> = doc["paths"]["/v1/routing"]["get"]["parameters"]
        .as_array()
        .expect("routing parameters")
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, BTreeSet::from(["after", "wait_ms"]));
    let failover = &doc["paths"]["/v1/shards/{id}/failover"]["post"];
    assert_eq!(failover["parameters"][0]["name"], "id");
    assert_eq!(failover["parameters"][0]["in"], "path");
}

#[tokio::test]
async fn the_served_document_is_the_generated_one() {
    let (_, served) = must_call(&app(FakeAdmin::new()), "GET", "/openapi.json", None).await;
    assert_eq!(served, serde_json::to_value(admin_api::openapi()).unwrap());
}
