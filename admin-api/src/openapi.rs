//! The OpenAPI 3 document of the config service's HTTP API, generated from the code: the
//! admin routes from their handlers in [`mod@crate::router`], the config service's other routes
//! (routing long-poll, heartbeats, health, metrics) from the stand-in functions below — they
//! are served by `config-service`, but an operator reads one document for the whole API.

use protocol::error_body::ErrorBody;
use protocol::heartbeat::{
    AssignedRole, Assignment, PartitionHeartbeat, PartitionHeartbeatReply, ProxyHeartbeat,
    ProxyHeartbeatReply, ReportedRole,
};
use protocol::routing::{RoutingTable, ShardRoute, SlotRange};
use utoipa::OpenApi;

use crate::router;
use crate::types::{
    ClusterCreated, ClusterState, ClusterView, CreateClusterRequest, FailoverRequest,
    FailoverResponse, MembersRequest, NewMember, NodeRef, NodeRole, NodeView, ProxyView,
    RaftMember, RaftView, ReplicaView, RoutingQuery, ShardLayoutRequest, ShardView,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rcluster config service",
        description = "The HTTP API of the rcluster config service. Any node answers reads; \
            writes go to the Raft leader, and a follower answers 421 `not_leader` with the \
            leader's address in `leader`. Every error is a JSON `ErrorBody`.",
        license(name = "Apache-2.0"),
    ),
    paths(
        router::get_cluster,
        router::create_cluster,
        router::get_nodes,
        router::get_shards,
        router::failover,
        router::get_raft,
        router::change_members,
        router::openapi_json,
        routing,
        partition_heartbeat,
        proxy_heartbeat,
        healthz,
        metrics,
    ),
    components(schemas(
        ClusterView, ClusterState, ShardView, NodeRef, ReplicaView, NodeView, NodeRole,
        ProxyView, RaftView, RaftMember, CreateClusterRequest, ShardLayoutRequest,
        ClusterCreated, FailoverRequest, FailoverResponse, MembersRequest, NewMember,
        ErrorBody, SlotRange, RoutingTable, ShardRoute, PartitionHeartbeat, ReportedRole,
        PartitionHeartbeatReply, Assignment, AssignedRole, ProxyHeartbeat, ProxyHeartbeatReply,
    )),
    tags(
        (name = "admin", description = "Operating the cluster (the `rcluster admin` CLI)"),
        (name = "cluster", description = "What partition servers and proxies call"),
        (name = "ops", description = "Health and metrics"),
    ),
)]
struct ApiDoc;

/// The OpenAPI 3 document (also served at `GET /openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

// Stand-ins for the routes `config-service` serves itself: never called, they only carry the
// `#[utoipa::path]` documentation.

/// The routing table; long-polls until the epoch is newer than `after` or `wait_ms` passes.
/// Followers answer from a linearizable read.
#[utoipa::path(get, path = "/v1/routing", tag = "cluster",
    params(RoutingQuery),
    responses(
        (status = 200, body = RoutingTable),
        (status = 400, description = "A bad query", body = ErrorBody),
        (status = 503, description = "No quorum", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn routing() {}

/// A partition server's heartbeat (`protocol::heartbeat::PartitionHeartbeat`); the answer
/// (`protocol::heartbeat::PartitionHeartbeatReply`) is the role it must take, with its lease.
#[utoipa::path(post, path = "/v1/heartbeat/partition", tag = "cluster",
    request_body(content = PartitionHeartbeat),
    responses(
        (status = 200, description = "The role to take, with its lease", body = PartitionHeartbeatReply),
        (status = 400, description = "A malformed heartbeat", body = ErrorBody),
        (status = 421, description = "Not the leader; `leader` is where to send it", body = ErrorBody),
        (status = 503, description = "No quorum", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn partition_heartbeat() {}

/// A proxy's heartbeat (`protocol::heartbeat::ProxyHeartbeat`); the answer
/// (`protocol::heartbeat::ProxyHeartbeatReply`) carries the current routing epoch.
#[utoipa::path(post, path = "/v1/heartbeat/proxy", tag = "cluster",
    request_body(content = ProxyHeartbeat),
    responses(
        (status = 200, description = "The current routing epoch", body = ProxyHeartbeatReply),
        (status = 400, description = "A malformed heartbeat", body = ErrorBody),
        (status = 421, description = "Not the leader; `leader` is where to send it", body = ErrorBody),
        (status = 503, description = "No quorum", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn proxy_heartbeat() {}

/// Whether this config server is up and serving (a Docker healthcheck target).
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses(
        (status = 200, description = "Healthy", body = String, content_type = "text/plain"),
        (status = 503, description = "Unhealthy", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn healthz() {}

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, body = String, content_type = "text/plain; version=0.0.4")))]
#[allow(dead_code)]
fn metrics() {}
