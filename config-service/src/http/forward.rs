//! Followers forward admin requests to the leader and relay its answer, so that an operator
//! can reach the service through any node — including through a load balancer, or from a
//! host where the leader's address (a container name, say) does not resolve. Only admin
//! routes are forwarded: heartbeats must reach the leader itself and get 421 elsewhere (their
//! senders follow it), and routing reads are served by every node.
//!
//! A forwarded request carries [`FORWARDED`]; a node that receives one and does not lead
//! answers it itself (421) instead of forwarding again, so two nodes that each think the other
//! leads cannot bounce a request between them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::node::ConfigNode;

/// The header marking a request one node forwarded to another.
pub const FORWARDED: &str = "x-rcluster-forwarded";
/// The largest admin request body forwarded.
const MAX_BODY: usize = 1 << 20;
/// Long enough for an operator's failover, which waits out a lease.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `method path` is answered by the leader only (and so forwarded by the others).
fn leader_only(method: &Method, path: &str) -> bool {
    let local = path == admin_api::paths::OPENAPI
        || (method == Method::GET && path == admin_api::paths::RAFT);
    path.starts_with("/v1/") && !local
}

/// The middleware: forwards when this node does not lead and knows who does.
pub async fn forward(State(node): State<Arc<ConfigNode>>, req: Request, next: Next) -> Response {
    let forwarded = req.headers().contains_key(FORWARDED);
    if node.is_leader() || forwarded || !leader_only(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let Some(leader) = node.leader_addr() else { return next.run(req).await };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return admin_api::ApiError::invalid("body", format!("larger than {MAX_BODY} bytes"))
                .into_response();
        }
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = node
        .http
        .request(parts.method.clone(), format!("http://{leader}{path}"))
        .header(FORWARDED, "1")
        .timeout(FORWARD_TIMEOUT)
        .body(body);
    if let Some(kind) = parts.headers.get(header::CONTENT_TYPE) {
        request = request.header(header::CONTENT_TYPE, kind);
    }
    match request.send().await {
        Ok(reply) => relay(reply).await,
        // The leader went away meanwhile: say so the usual way (421 naming whom we believed).
        Err(e) => {
            tracing::debug!(leader = %leader, cause = %e, "forwarding to the leader failed");
            admin_api::ApiError::not_leader(Some(leader)).into_response()
        }
    }
}

async fn relay(reply: reqwest::Response) -> Response {
    let status = StatusCode::from_u16(reply.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let kind = reply.headers().get(header::CONTENT_TYPE).cloned();
    let body: Bytes = match reply.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return admin_api::ApiError::no_quorum(format!("the leader's answer was cut: {e}"))
                .into_response()
        }
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Some(kind) = kind {
        response.headers_mut().insert(header::CONTENT_TYPE, kind);
    } else {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_routes_are_forwarded_the_rest_is_local() {
        assert!(leader_only(&Method::GET, "/v1/cluster"));
        assert!(leader_only(&Method::POST, "/v1/shards/0/failover"));
        assert!(leader_only(&Method::POST, "/v1/raft/members"));
        assert!(!leader_only(&Method::GET, "/v1/raft"));
        assert!(!leader_only(&Method::GET, "/openapi.json"));
        assert!(!leader_only(&Method::GET, "/healthz"));
    }
}
