//! `GET /v1/routing?after=EPOCH&wait_ms=N`: the routing table, as a long-poll. It answers as
//! soon as the applied map's epoch is newer than `after` (at once without `after`), or with
//! the current table when `wait_ms` has passed. Every answer is a linearizable read (a quorum
//! round on the leader, the leader's read index on a follower), so a proxy never receives a
//! table older than one already committed when it asked; without a quorum the answer is 503.

use std::sync::Arc;
use std::time::Duration;

use admin_api::types::RoutingQuery;
use admin_api::ApiError;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use protocol::routing::RoutingTable;

use crate::node::ConfigNode;

/// The longest a long-poll waits, whatever `wait_ms` asks.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

pub fn router(node: Arc<ConfigNode>) -> Router {
    Router::new().route(protocol::routing::PATH, get(routing)).with_state(node)
}

async fn routing(
    State(node): State<Arc<ConfigNode>>,
    query: Result<Query<RoutingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RoutingTable>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    node.metrics.routing_requests.inc();
    if let Some(after) = query.after {
        let wait = Duration::from_millis(query.wait_ms.unwrap_or(0)).min(MAX_WAIT);
        let mut maps = node.subscribe_map();
        let mut stopping = node.stopping();
        let newer = async {
            while maps.borrow_and_update().epoch <= after {
                if maps.changed().await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            _ = tokio::time::timeout(wait, newer) => {}
            _ = stopping.changed() => {}
        }
    }
    node.linearizable_read().await?;
    Ok(Json(node.map().routing_table()))
}
