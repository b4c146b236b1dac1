//! The fake [`Admin`] and helpers to start servers and call routers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use admin_api::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use protocol::routing::SlotRange;
use tower::ServiceExt;

/// An in-memory [`Admin`]: answers from a fixed [`ClusterView`], records every call, and can
/// be told to fail every call or to answer slowly.
pub struct FakeAdmin {
    pub view: ClusterView,
    calls: Mutex<Vec<String>>,
    fail: Mutex<Option<ApiError>>,
    delay: Mutex<Option<Duration>>,
}

impl FakeAdmin {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeAdmin {
            view: sample_view(),
            calls: Mutex::new(Vec::new()),
            fail: Mutex::new(None),
            delay: Mutex::new(None),
        })
    }

    /// A fake whose every call fails with `err`.
    pub fn failing(err: ApiError) -> Arc<Self> {
        let fake = FakeAdmin::new();
        *fake.fail.lock().unwrap() = Some(err);
        fake
    }

    /// A fake that waits `delay` before answering.
    pub fn slow(delay: Duration) -> Arc<Self> {
        let fake = FakeAdmin::new();
        *fake.delay.lock().unwrap() = Some(delay);
        fake
    }

    /// The calls so far, e.g. `["cluster", "failover 1 FailoverRequest { … }"]`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    async fn enter(&self, call: String) -> Result<(), ApiError> {
        self.calls.lock().unwrap().push(call);
        let delay = *self.delay.lock().unwrap();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        match self.fail.lock().unwrap().clone() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl Admin for FakeAdmin {
    async fn cluster(&self) -> Result<ClusterView, ApiError> {
        self.enter("cluster".into()).await?;
        Ok(self.view.clone())
    }

    async fn create_cluster(&self, req: CreateClusterRequest) -> Result<ClusterCreated, ApiError> {
        self.enter(format!("create_cluster {req:?}")).await?;
        Ok(ClusterCreated { epoch: self.view.epoch, shards: self.view.shards.clone() })
    }

    async fn nodes(&self) -> Result<Vec<NodeView>, ApiError> {
        self.enter("nodes".into()).await?;
        Ok(self.view.nodes.clone())
    }

    async fn shards(&self) -> Result<Vec<ShardView>, ApiError> {
        self.enter("shards".into()).await?;
        Ok(self.view.shards.clone())
    }

    async fn failover(
        &self,
        shard: u32,
        req: FailoverRequest,
    ) -> Result<FailoverResponse, ApiError> {
        self.enter(format!("failover {shard} {req:?}")).await?;
        Ok(FailoverResponse {
            shard,
            new_master: req.to.unwrap_or(2),
            shard_epoch: 2,
            epoch: self.view.epoch + 1,
            lossy: req.force,
        })
    }

    async fn raft(&self) -> Result<RaftView, ApiError> {
        self.enter("raft".into()).await?;
        Ok(self.view.raft.clone())
    }

    async fn change_members(&self, req: MembersRequest) -> Result<RaftView, ApiError> {
        self.enter(format!("change_members {req:?}")).await?;
        let mut raft = self.view.raft.clone();
        raft.members.retain(|m| !req.remove.contains(&m.id));
        raft.members.extend(req.add.into_iter().map(|m| RaftMember {
            id: m.id,
            addr: m.addr,
            voter: false,
        }));
        Ok(raft)
    }
}

/// Two healthy shards over all slots, four nodes, a proxy, a three-member Raft group.
pub fn sample_view() -> ClusterView {
    let ranges = SlotRange::split_even(2);
    let shards: Vec<ShardView> = ranges
        .iter()
        .enumerate()
        .map(|(i, range)| {
            let (m, r) = (2 * i as u64 + 1, 2 * i as u64 + 2);
            ShardView {
                id: i as u32,
                shard_epoch: 1,
                master: NodeRef { id: m, addr: format!("127.0.0.1:{}", 7000 + m), healthy: true },
                replicas: vec![ReplicaView {
                    id: r,
                    addr: format!("127.0.0.1:{}", 7000 + r),
                    healthy: true,
                    in_sync: true,
                    offset: 100,
                    link_up: true,
                }],
                maxmemory: 2 * GB,
                slots: vec![*range],
                slot_count: range.len(),
                healthy: true,
            }
        })
        .collect();
    let nodes = (1..=4)
        .map(|id| NodeView {
            id,
            addr: format!("127.0.0.1:{}", 7000 + id),
            shard: Some(((id - 1) / 2) as u32),
            role: if id % 2 == 1 { NodeRole::Master } else { NodeRole::Replica },
            healthy: true,
            last_heartbeat_ms_ago: Some(50),
            offset: 100,
            used_memory: 1 << 20,
            keys: 10,
        })
        .collect();
    ClusterView {
        epoch: 3,
        state: ClusterState::Healthy,
        plan: Some("16GB".into()),
        shards,
        nodes,
        proxies: vec![ProxyView {
            id: 0,
            addr: "127.0.0.1:6379".into(),
            healthy: true,
            last_heartbeat_ms_ago: Some(80),
            epoch: 3,
        }],
        raft: RaftView {
            id: 1,
            leader: Some(1),
            term: 2,
            last_log_index: Some(9),
            last_applied: Some(9),
            members: (1..=3)
                .map(|id| RaftMember { id, addr: format!("127.0.0.1:{}", 9000 + id), voter: true })
                .collect(),
        },
    }
}

/// The admin router plus a `/healthz` as the config service would add.
pub fn app(admin: Arc<FakeAdmin>) -> Router {
    router(admin).merge(Router::new().route("/healthz", get(|| async { "ok" })))
}

/// Serves [`app`] over `admin` on 127.0.0.1:0 until the test's runtime ends.
pub async fn start_server(admin: Arc<FakeAdmin>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app(admin)).await });
    addr
}

/// An address where nothing listens (a port just released).
pub fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Calls `app` without a socket; returns the status and the JSON body (`Null` if empty).
/// Panics if a non-empty body is not JSON.
pub async fn must_call(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let resp = app.clone().oneshot(req).await.expect("the router answers");
    let status = resp.status();
    let is_json = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    if bytes.is_empty() {
        return (status, serde_json::Value::Null);
    }
    assert!(is_json, "{method} {uri}: {status} with a non-JSON body {bytes:?}");
    (status, serde_json::from_slice(&bytes).expect("a JSON body"))
}

/// Asserts `value` is an `ErrorBody` with `code` and `field`, and returns it.
pub fn must_error_body(
    value: serde_json::Value,
    code: &str,
    field: Option<&str>,
) -> protocol::error_body::ErrorBody {
    let body: protocol::error_body::ErrorBody =
        serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{value}: {e}"));
    assert_eq!(body.code, code, "{value}");
    assert_eq!(body.field.as_deref(), field, "{value}");
    assert!(!body.error.is_empty(), "{value}");
    body
}
