//! The HTTP server of a config server (axum): every route of DESIGN.md's "HTTP API", split by
//! who calls it.
//!
//! - [`raft`]: the Raft transport between config servers (internal).
//! - [`routing`]: `GET /v1/routing`, the routing long-poll proxies and tools use.
//! - [`heartbeat`]: `POST /v1/heartbeat/partition|proxy`.
//! - [`ops`]: `GET /healthz`, `GET /metrics`.
//! - the admin routes and `/openapi.json` come from the `admin-api` crate's router over
//!   [`crate::admin::AdminService`]; on a follower, [`forward`] relays them to the leader.
//!
//! Every failure is answered as `admin_api::ApiError` (the shared JSON error body); the one
//! mapping from this crate's [`Error`] to a status is [`api_error`].

pub mod forward;
pub mod heartbeat;
pub mod ops;
pub mod raft;
pub mod routing;

use std::sync::Arc;

use admin_api::ApiError;
use axum::Router;

use crate::error::Error;
use crate::node::ConfigNode;

/// The whole HTTP API of `node`.
pub fn router(node: Arc<ConfigNode>) -> Router {
    Router::new()
        .merge(raft::router(node.clone()))
        .merge(routing::router(node.clone()))
        .merge(heartbeat::router(node.clone()))
        .merge(ops::router(node.clone()))
        .merge(
            admin_api::router(Arc::new(crate::admin::AdminService::new(node.clone())))
                .layer(axum::middleware::from_fn_with_state(node, forward::forward)),
        )
}

/// The status and body an error is answered with.
pub fn api_error(e: Error) -> ApiError {
    use crate::map::Rejection;
    match e {
        Error::NotLeader { leader } => ApiError::not_leader(leader),
        Error::NoQuorum(why) => ApiError::no_quorum(why),
        Error::Rejected(Rejection::Invalid { field, reason }) => ApiError::invalid(field, reason),
        Error::Rejected(r @ Rejection::NotFound { .. }) => ApiError::not_found(r.to_string()),
        Error::Rejected(r @ Rejection::Conflict { .. }) => ApiError::conflict(r.to_string()),
        e => ApiError::internal(e.to_string()),
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        api_error(e)
    }
}
