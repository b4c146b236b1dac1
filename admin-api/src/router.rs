//! The axum router of the admin API over an [`Admin`] implementation.
//!
//! Handlers are thin: extract (with JSON rejections, see [`crate::extract`]), validate, call
//! the trait, serialise. Validation happens here, before the call, so an implementation only
//! ever sees well-formed requests and nothing is half-applied.

use std::sync::{Arc, LazyLock};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::error_body::ErrorBody;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::paths;
use crate::types::{
    ClusterCreated, ClusterView, CreateClusterRequest, FailoverRequest, FailoverResponse,
    MembersRequest, NodeView, RaftView, ShardView,
};
use crate::Admin;

/// The admin routes (and `GET /openapi.json`) over `admin`, with the state applied, so that
/// the config service can `.merge()` it into its own router.
pub fn router<A: Admin>(admin: Arc<A>) -> Router {
    Router::new()
        .route(paths::CLUSTER, get(get_cluster::<A>).post(create_cluster::<A>))
        .route(paths::NODES, get(get_nodes::<A>))
        .route(paths::SHARDS, get(get_shards::<A>))
        .route(paths::FAILOVER, post(failover::<A>))
        .route(paths::RAFT, get(get_raft::<A>))
        .route(paths::RAFT_MEMBERS, post(change_members::<A>))
        .route(paths::OPENAPI, get(openapi_json))
        .with_state(admin)
}

/// The admin API's OpenAPI tag.
pub(crate) const ADMIN: &str = "admin";

/// The shard id in `/v1/shards/{id}/…`.
#[derive(Debug, Deserialize)]
pub(crate) struct ShardPath {
    id: u32,
}

/// The cluster: map, health, Raft.
#[utoipa::path(get, path = "/v1/cluster", tag = ADMIN,
    responses(
        (status = 200, description = "The cluster map joined with health", body = ClusterView),
        (status = 503, description = "No quorum", body = ErrorBody),
    ))]
pub(crate) async fn get_cluster<A: Admin>(
    State(admin): State<Arc<A>>,
) -> Result<Json<ClusterView>, ApiError> {
    admin.cluster().await.map(Json)
}

/// Creates the cluster from a plan or an explicit layout.
#[utoipa::path(post, path = "/v1/cluster", tag = ADMIN,
    request_body = CreateClusterRequest,
    responses(
        (status = 201, description = "Created", body = ClusterCreated),
        (status = 400, description = "Invalid request; `field` names the part at fault", body = ErrorBody),
        (status = 409, description = "The cluster already exists, or the nodes are not free", body = ErrorBody),
        (status = 421, description = "Not the leader; `leader` is where to retry", body = ErrorBody),
        (status = 503, description = "No quorum", body = ErrorBody),
    ))]
pub(crate) async fn create_cluster<A: Admin>(
    State(admin): State<Arc<A>>,
    ApiJson(req): ApiJson<CreateClusterRequest>,
) -> Result<(StatusCode, Json<ClusterCreated>), ApiError> {
    req.validate()?;
    let created = admin.create_cluster(req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Every registered partition server.
#[utoipa::path(get, path = "/v1/nodes", tag = ADMIN,
    responses(
        (status = 200, body = Vec<NodeView>),
        (status = 503, description = "No quorum", body = ErrorBody),
    ))]
pub(crate) async fn get_nodes<A: Admin>(
    State(admin): State<Arc<A>>,
) -> Result<Json<Vec<NodeView>>, ApiError> {
    admin.nodes().await.map(Json)
}

/// Every shard.
#[utoipa::path(get, path = "/v1/shards", tag = ADMIN,
    responses(
        (status = 200, body = Vec<ShardView>),
        (status = 503, description = "No quorum", body = ErrorBody),
    ))]
pub(crate) async fn get_shards<A: Admin>(
    State(admin): State<Arc<A>>,
) -> Result<Json<Vec<ShardView>>, ApiError> {
    admin.shards().await.map(Json)
}

/// Makes a replica the master of shard `id`. The body may be empty (`{}`): the config
/// service then picks the best in-sync replica.
#[utoipa::path(post, path = "/v1/shards/{id}/failover", tag = ADMIN,
    params(("id" = u32, Path, description = "The shard id")),
    request_body(content = Option<FailoverRequest>, description = "May be empty or `null`: every field has a default"),
    responses(
        (status = 200, body = FailoverResponse),
        (status = 400, description = "Invalid request (e.g. `to` is not a replica of the shard)", body = ErrorBody),
        (status = 404, description = "No such shard", body = ErrorBody),
        (status = 409, description = "No in-sync replica to promote without force, or a concurrent failover", body = ErrorBody),
        (status = 421, description = "Not the leader; `leader` is where to retry", body = ErrorBody),
        (status = 503, description = "No quorum", body = ErrorBody),
    ))]
pub(crate) async fn failover<A: Admin>(
    State(admin): State<Arc<A>>,
    ApiPath(ShardPath { id }): ApiPath<ShardPath>,
    ApiJson(req): ApiJson<Option<FailoverRequest>>,
) -> Result<Json<FailoverResponse>, ApiError> {
    admin.failover(id, req.unwrap_or_default()).await.map(Json)
}

/// The config service's Raft group as the answering node sees it.
#[utoipa::path(get, path = "/v1/raft", tag = ADMIN,
    responses((status = 200, body = RaftView)))]
pub(crate) async fn get_raft<A: Admin>(
    State(admin): State<Arc<A>>,
) -> Result<Json<RaftView>, ApiError> {
    admin.raft().await.map(Json)
}

/// Adds and removes config servers; answers with the group after the change.
#[utoipa::path(post, path = "/v1/raft/members", tag = ADMIN,
    request_body = MembersRequest,
    responses(
        (status = 200, body = RaftView),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 409, description = "Conflicts with the membership (e.g. removing the last voter)", body = ErrorBody),
        (status = 421, description = "Not the leader; `leader` is where to retry", body = ErrorBody),
        (status = 503, description = "No quorum", body = ErrorBody),
    ))]
pub(crate) async fn change_members<A: Admin>(
    State(admin): State<Arc<A>>,
    ApiJson(req): ApiJson<MembersRequest>,
) -> Result<Json<RaftView>, ApiError> {
    req.validate()?;
    admin.change_members(req).await.map(Json)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = ADMIN,
    responses((status = 200, description = "The OpenAPI 3 document of the config service's HTTP API", body = Object)))]
pub(crate) async fn openapi_json() -> Json<&'static serde_json::Value> {
    // Built once: the document is a constant of the build.
    static DOC: LazyLock<serde_json::Value> = LazyLock::new(|| {
        serde_json::to_value(crate::openapi()).expect("the OpenAPI document serialises")
    });
    Json(&DOC)
}
