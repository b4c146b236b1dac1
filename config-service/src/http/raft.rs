//! The Raft transport, inbound: peers' append-entries, vote and snapshot chunks, answered
//! with openraft's `Result` as JSON (the outbound side is [`crate::network`]), plus the
//! leader's read index for followers' linearizable reads.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use crate::network::{APPEND_PATH, READ_INDEX_PATH, SNAPSHOT_PATH, VOTE_PATH};
use crate::node::{ConfigNode, ReadIndex};
use crate::{RaftNodeId, TypeConfig};

pub fn router(node: Arc<ConfigNode>) -> axum::Router {
    Router::new()
        .route(APPEND_PATH, post(append))
        .route(VOTE_PATH, post(vote))
        .route(SNAPSHOT_PATH, post(snapshot))
        .route(READ_INDEX_PATH, get(read_index))
        .with_state(node)
}

async fn append(
    State(node): State<Arc<ConfigNode>>,
    Json(req): Json<AppendEntriesRequest<TypeConfig>>,
) -> Json<Result<AppendEntriesResponse<RaftNodeId>, RaftError<RaftNodeId>>> {
    Json(node.raft.append_entries(req).await)
}

async fn vote(
    State(node): State<Arc<ConfigNode>>,
    Json(req): Json<VoteRequest<RaftNodeId>>,
) -> Json<Result<VoteResponse<RaftNodeId>, RaftError<RaftNodeId>>> {
    Json(node.raft.vote(req).await)
}

async fn snapshot(
    State(node): State<Arc<ConfigNode>>,
    Json(req): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Json<Result<InstallSnapshotResponse<RaftNodeId>, RaftError<RaftNodeId, InstallSnapshotError>>>
{
    Json(node.raft.install_snapshot(req).await)
}

async fn read_index(
    State(node): State<Arc<ConfigNode>>,
) -> Result<Json<ReadIndex>, admin_api::ApiError> {
    Ok(Json(ReadIndex { index: node.read_index().await? }))
}
