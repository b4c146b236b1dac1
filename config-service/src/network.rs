//! The Raft transport, outbound: openraft's [`RaftNetworkFactory`] over HTTP/JSON to the
//! peers' `POST /raft/append|vote|snapshot` (served by [`crate::http::raft`]).
//!
//! A peer that cannot be reached is reported as `Unreachable` (openraft backs off); an answer
//! that is not a valid response is a `Network` error; a Raft error the peer returned travels
//! back as a `RemoteError`, as openraft expects.

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{RaftNode, RaftNodeId, TypeConfig};

/// Paths of the Raft transport.
pub const APPEND_PATH: &str = "/raft/append";
pub const VOTE_PATH: &str = "/raft/vote";
pub const SNAPSHOT_PATH: &str = "/raft/snapshot";
/// Internal: the leader confirms its leadership and answers the log index a linearizable
/// read must wait for (a follower's read-index).
pub const READ_INDEX_PATH: &str = "/raft/read_index";

/// Makes one [`PeerClient`] per peer; all share one HTTP connection pool.
#[derive(Clone)]
pub struct HttpNetwork {
    http: reqwest::Client,
}

impl HttpNetwork {
    pub fn new(http: reqwest::Client) -> Self {
        HttpNetwork { http }
    }
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: RaftNodeId, node: &RaftNode) -> PeerClient {
        PeerClient { http: self.http.clone(), target, base: format!("http://{}", node.addr) }
    }
}

/// The transport to one peer.
pub struct PeerClient {
    http: reqwest::Client,
    target: RaftNodeId,
    base: String,
}

type RpcResult<T, E> = Result<T, RPCError<RaftNodeId, RaftNode, E>>;

impl PeerClient {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .timeout(option.hard_ttl())
            .json(req)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() || e.is_timeout() {
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            let e = std::io::Error::other(format!("{path}: HTTP {status}: {body}"));
            return Err(RPCError::Network(NetworkError::new(&e)));
        }
        let result: Result<Resp, E> =
            response.json().await.map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<RaftNodeId>, RaftError<RaftNodeId>> {
        self.call(APPEND_PATH, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<RaftNodeId>, RaftError<RaftNodeId, InstallSnapshotError>>
    {
        self.call(SNAPSHOT_PATH, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<RaftNodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<RaftNodeId>, RaftError<RaftNodeId>> {
        self.call(VOTE_PATH, &rpc, &option).await
    }
}
