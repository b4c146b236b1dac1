//! `GET /healthz` and `GET /metrics`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::node::ConfigNode;

pub fn router(node: Arc<ConfigNode>) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics)).with_state(node)
}

/// The body of `/healthz`.
#[derive(Debug, Serialize)]
struct Healthz {
    status: &'static str,
    id: u64,
    is_leader: bool,
    leader: Option<String>,
    term: u64,
}

/// 200 while Raft runs and a leader is known (this server or another), else 503: what a
/// container healthcheck or a load balancer asks.
async fn healthz(State(node): State<Arc<ConfigNode>>) -> impl IntoResponse {
    let m = node.raft.metrics().borrow().clone();
    let ok = m.running_state.is_ok() && m.current_leader.is_some();
    let body = Healthz {
        status: if ok { "ok" } else { "unavailable" },
        id: node.config.id,
        is_leader: node.is_leader(),
        leader: node.leader_addr(),
        term: m.current_term,
    };
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body))
}

async fn metrics(State(node): State<Arc<ConfigNode>>) -> impl IntoResponse {
    let m = node.raft.metrics().borrow().clone();
    let metrics = &node.metrics;
    metrics.is_leader.set(i64::from(node.is_leader()));
    metrics.term.set(m.current_term as i64);
    metrics.last_applied.set(m.last_applied.map_or(-1, |id| id.index as i64));
    metrics.snapshot_index.set(m.snapshot.map_or(-1, |id| id.index as i64));
    metrics.purged_index.set(m.purged.map_or(-1, |id| id.index as i64));
    let map = node.map();
    metrics.epoch.set(map.epoch as i64);
    metrics.shards.set(map.shards.len() as i64);
    metrics.nodes.set(map.nodes.len() as i64);
    let within = node.config.healthy_within();
    let now = Instant::now();
    let healthy = node
        .health
        .view()
        .nodes
        .values()
        .filter(|h| now.duration_since(h.last_seen) <= within)
        .count();
    metrics.nodes_healthy.set(healthy as i64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render())
}
