//! [`AdminClient`]: a typed client of the admin API over reqwest (plain HTTP, no TLS).
//!
//! A request tries the endpoints in order. An endpoint that cannot be reached is skipped; a
//! node that is not the leader answers 421 with the leader's address, and the request goes
//! there (a bounded number of hops, since leadership can move during an election); any other
//! error answer is returned as [`ClientError::Api`].
//!
//! Moving on is always safe for a read. A write moves on only when it was provably never sent
//! (the connection could not be made): a write whose answer timed out may have been applied,
//! and sending it again elsewhere could, say, fail a shard over twice — so that is
//! [`ClientError::OutcomeUnknown`] instead (DESIGN.md: never retry blindly what is not
//! idempotent).

use std::time::Duration;

use axum::http::StatusCode;
use protocol::error_body::{ErrorBody, NOT_LEADER};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ClientError, Result};
use crate::paths;
use crate::types::{
    ClusterCreated, ClusterView, CreateClusterRequest, FailoverRequest, FailoverResponse,
    MembersRequest, NodeView, RaftView, ShardView,
};

/// The per-request timeout unless [`AdminClient::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a TCP connection before moving on to the next endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How many `not_leader` redirects one request follows.
pub const MAX_REDIRECTS: usize = 3;

/// A client of the config service's admin API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    endpoints: Vec<String>,
    http: reqwest::Client,
    timeout: Duration,
}

impl AdminClient {
    /// A client of the config servers at `endpoints` (`http://host:port` or `host:port`), tried
    /// in this order.
    pub fn new(endpoints: Vec<String>) -> Self {
        let http = reqwest::Client::builder()
            // The cluster's HTTP is on a private network: an operator's HTTP_PROXY must not
            // capture it.
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .expect("a plain-HTTP reqwest client builds");
        let endpoints = endpoints.iter().map(|e| base_url(e)).filter(|e| !e.is_empty()).collect();
        AdminClient { endpoints, http, timeout: DEFAULT_TIMEOUT }
    }

    /// Sets the per-request timeout (the whole exchange with one endpoint).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The endpoints as base URLs, in the order they are tried.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// `GET /v1/cluster`.
    pub async fn cluster(&self) -> Result<ClusterView> {
        self.get(paths::CLUSTER).await
    }

    /// `POST /v1/cluster`.
    pub async fn create_cluster(&self, req: &CreateClusterRequest) -> Result<ClusterCreated> {
        self.post(paths::CLUSTER, req).await
    }

    /// `GET /v1/nodes`.
    pub async fn nodes(&self) -> Result<Vec<NodeView>> {
        self.get(paths::NODES).await
    }

    /// `GET /v1/shards`.
    pub async fn shards(&self) -> Result<Vec<ShardView>> {
        self.get(paths::SHARDS).await
    }

    /// `POST /v1/shards/{shard}/failover`.
    pub async fn failover(&self, shard: u32, req: &FailoverRequest) -> Result<FailoverResponse> {
        self.post(&paths::failover(shard), req).await
    }

    /// `GET /v1/raft`.
    pub async fn raft(&self) -> Result<RaftView> {
        self.get(paths::RAFT).await
    }

    /// `POST /v1/raft/members`.
    pub async fn change_members(&self, req: &MembersRequest) -> Result<RaftView> {
        self.post(paths::RAFT_MEMBERS, req).await
    }

    /// `GET /healthz` of the first endpoint that answers: `Ok` with the body text when it is
    /// 2xx. Not redirected: the health of *that* node is the question.
    pub async fn healthz(&self) -> Result<String> {
        let mut tried = Vec::new();
        let mut last = String::new();
        for base in &self.endpoints {
            let url = format!("{base}{}", paths::HEALTHZ);
            match self.http.get(&url).timeout(self.timeout).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let bytes = resp.bytes().await.unwrap_or_default();
                    if status.is_success() {
                        return Ok(String::from_utf8_lossy(&bytes).trim().to_string());
                    }
                    return Err(error_answer(&url, status, &bytes));
                }
                Err(err) => {
                    tried.push(base.clone());
                    last = format!("{url}: {}", describe(&err));
                }
            }
        }
        Err(unreachable(tried, last))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        let body = serde_json::to_vec(body).expect("request types serialise");
        self.call(Method::POST, path, Some(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T> {
        if self.endpoints.is_empty() {
            return Err(ClientError::NoEndpoints);
        }
        let idempotent = method == Method::GET;
        let mut tried = Vec::new();
        // A `not_leader` answer without a leader says more than "unreachable" when every
        // endpoint fails, so it wins.
        let mut last: Option<ClientError> = None;
        let mut last_reason = String::new();
        let mut hops = 0;
        for endpoint in &self.endpoints {
            let mut base = endpoint.clone();
            loop {
                let url = format!("{base}{path}");
                let mut req = self.http.request(method.clone(), &url).timeout(self.timeout);
                if let Some(body) = &body {
                    req = req.header("content-type", "application/json").body(body.clone());
                }
                let outcome = match req.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        resp.bytes().await.map(|bytes| (status, bytes))
                    }
                    Err(err) => Err(err),
                };
                let (status, bytes) = match outcome {
                    Ok(answer) => answer,
                    Err(err) if err.is_connect() || idempotent => {
                        tracing::debug!(%url, cause = %err, "config service endpoint unreachable");
                        tried.push(base.clone());
                        last_reason = format!("{url}: {}", describe(&err));
                        break;
                    }
                    Err(err) => {
                        return Err(ClientError::OutcomeUnknown { method, url, source: err })
                    }
                };
                if status.is_success() {
                    return serde_json::from_slice(&bytes).map_err(|err| {
                        ClientError::UnexpectedBody { url, status, reason: err.to_string() }
                    });
                }
                let err = error_answer(&url, status, &bytes);
                let leader = match &err {
                    ClientError::Api { body, .. } if is_not_leader(status, body) => {
                        body.leader.clone()
                    }
                    _ => return Err(err),
                };
                match leader {
                    Some(leader) if hops < MAX_REDIRECTS => {
                        hops += 1;
                        tracing::debug!(%url, %leader, "not the leader; retrying at the leader");
                        base = base_url(&leader);
                    }
                    Some(_) => {
                        return Err(ClientError::TooManyRedirects { hops, last: base.clone() })
                    }
                    // No leader known there (an election): another node may know one.
                    None => {
                        tried.push(base.clone());
                        last = Some(err);
                        break;
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| unreachable(tried, last_reason)))
    }
}

fn is_not_leader(status: StatusCode, body: &ErrorBody) -> bool {
    status == StatusCode::MISDIRECTED_REQUEST || body.code == NOT_LEADER
}

/// An error answer: our JSON body, or — from something that is not the config service, or a
/// route it does not have — whatever it said.
fn error_answer(url: &str, status: StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::Api { status, body },
        Err(_) => ClientError::UnexpectedBody {
            url: url.to_string(),
            status,
            reason: String::from_utf8_lossy(bytes).trim().chars().take(200).collect(),
        },
    }
}

fn unreachable(tried: Vec<String>, last: String) -> ClientError {
    ClientError::Unreachable { tried, last }
}

/// reqwest's messages wrap the cause in layers ("error sending request for url (…): client
/// error (Connect): tcp connect error: …"); the innermost one is what an operator needs.
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".to_string();
    }
    let mut cause: &dyn std::error::Error = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `host:port` or `http://host:port/` as a base URL without a trailing slash.
fn base_url(endpoint: &str) -> String {
    let endpoint = endpoint.trim().trim_end_matches('/');
    if endpoint.is_empty() || endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_become_base_urls() {
        assert_eq!(base_url("127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(base_url(" http://h:9000/ "), "http://h:9000");
        assert_eq!(base_url("https://h"), "https://h");
        let client = AdminClient::new(vec!["a:1".into(), "".into(), "http://b:2/".into()]);
        assert_eq!(client.endpoints(), ["http://a:1", "http://b:2"]);
    }

    #[test]
    fn error_answers_keep_the_body() {
        let body = br#"{"error":"no such shard","code":"not_found"}"#;
        match error_answer("u", StatusCode::NOT_FOUND, body) {
            ClientError::Api { status, body } => {
                assert_eq!(status, StatusCode::NOT_FOUND);
                assert_eq!(body.code, "not_found");
            }
            other => panic!("{other:?}"),
        }
        let err = error_answer("u", StatusCode::METHOD_NOT_ALLOWED, b"");
        assert!(matches!(err, ClientError::UnexpectedBody { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn no_endpoints_is_an_error() {
        let err = AdminClient::new(vec![]).cluster().await.unwrap_err();
        assert!(matches!(err, ClientError::NoEndpoints), "{err:?}");
    }
}
