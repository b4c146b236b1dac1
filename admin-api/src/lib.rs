//! `admin-api`: the operator's contract with the config service — the REST types of its admin
//! API, the axum router over the [`Admin`] trait that `config-service` implements, the
//! OpenAPI document, a typed client and the `rcluster admin …` commands.
//!
//! This crate never depends on `config-service` (it is the other way round): the service turns
//! its cluster map and health observations into the views here, and implements [`Admin`].
//!
//! # Layout
//! - [`types`]: request and response bodies (`ClusterView`, `CreateClusterRequest`, …) with
//!   their `validate`s, and the plans table ([`types::plan`]).
//! - [`error`]: [`ApiError`] (status + the shared `protocol::error_body::ErrorBody`, the one
//!   place statuses and codes are mapped), [`ClientError`], [`CliError`].
//! - this file: the [`Admin`] trait and the route paths ([`paths`]).
//! - [`mod@router`]: [`router()`], the axum routes over an `Admin`; validates before calling it.
//! - [`extract`]: JSON body and path extractors that reject with our JSON error, naming the
//!   field.
//! - [`mod@openapi`]: [`openapi()`], the OpenAPI 3 document of the whole config-service API,
//!   generated from the handlers (and stand-ins for the routes the service serves itself).
//! - [`client`]: [`AdminClient`], a reqwest client that tries endpoints in turn and follows
//!   `not_leader` answers to the leader.
//! - [`cli`]: `rcluster admin` — [`cli::AdminArgs`] and [`cli::run`].
//! - [`render`]: the CLI's tables, as pure functions from views to text.

use std::future::Future;

pub mod cli;
pub mod client;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod render;
pub mod router;
pub mod types;

pub use client::AdminClient;
pub use error::{ApiError, CliError, ClientError};
pub use openapi::openapi;
pub use router::router;
pub use types::*;

/// What the config service does for the admin API. The [`router()`] validates every request
/// before calling a method, so an implementation sees only well-formed requests; it answers
/// with the views, or an [`ApiError`] (typically [`ApiError::not_leader`] on a follower for a
/// write, [`ApiError::no_quorum`], or the map's rejection as 400/404/409).
pub trait Admin: Send + Sync + 'static {
    /// `GET /v1/cluster`.
    fn cluster(&self) -> impl Future<Output = Result<ClusterView, ApiError>> + Send;
    /// `POST /v1/cluster` (the request has passed [`CreateClusterRequest::validate`]).
    fn create_cluster(
        &self,
        req: CreateClusterRequest,
    ) -> impl Future<Output = Result<ClusterCreated, ApiError>> + Send;
    /// `GET /v1/nodes`.
    fn nodes(&self) -> impl Future<Output = Result<Vec<NodeView>, ApiError>> + Send;
    /// `GET /v1/shards`.
    fn shards(&self) -> impl Future<Output = Result<Vec<ShardView>, ApiError>> + Send;
    /// `POST /v1/shards/{shard}/failover`.
    fn failover(
        &self,
        shard: u32,
        req: FailoverRequest,
    ) -> impl Future<Output = Result<FailoverResponse, ApiError>> + Send;
    /// `GET /v1/raft`.
    fn raft(&self) -> impl Future<Output = Result<RaftView, ApiError>> + Send;
    /// `POST /v1/raft/members` (the request has passed [`MembersRequest::validate`]).
    fn change_members(
        &self,
        req: MembersRequest,
    ) -> impl Future<Output = Result<RaftView, ApiError>> + Send;
}

/// The paths of the config service's HTTP API, in axum's syntax.
pub mod paths {
    pub const CLUSTER: &str = "/v1/cluster";
    pub const NODES: &str = "/v1/nodes";
    pub const SHARDS: &str = "/v1/shards";
    /// `{id}` is the shard id.
    pub const FAILOVER: &str = "/v1/shards/{id}/failover";
    pub const RAFT: &str = "/v1/raft";
    pub const RAFT_MEMBERS: &str = "/v1/raft/members";
    pub const OPENAPI: &str = "/openapi.json";
    /// Served by `config-service` itself.
    pub const HEALTHZ: &str = "/healthz";
    /// Served by `config-service` itself.
    pub const METRICS: &str = "/metrics";

    /// The failover path of shard `id`.
    pub fn failover(id: u32) -> String {
        format!("/v1/shards/{id}/failover")
    }
}
